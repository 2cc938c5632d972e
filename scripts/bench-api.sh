#!/usr/bin/env bash
# Query API benchmark (make bench-api): loads BENCH_PATIENTS patients and
# BENCH_PAYMENTS payments with the real gen + sync (once; the database is kept
# for the next run), starts `patientsync serve`, drives it with wrk from a
# separate process over loopback, and runs the identical SQL through pgbench
# as the floor. Prints requests/s, p50 and p99 per query shape.
#
# Environment: BENCH_PATIENTS (1000000), BENCH_PAYMENTS (3000000),
# BENCH_DURATION seconds per measurement (10), BENCH_CONCURRENCY (16),
# BENCH_MAX_CONNS server pool size (2 per CPU, see below), BENCH_ADDR (127.0.0.1:3099),
# BENCH_DIR work directory (/tmp/patientsync-bench-api), BENCH_RELOAD=1 to
# reload the data, BENCH_LOG_LEVEL of the server (WARN: per-request logs off).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

P=${BENCH_PATIENTS:-1000000}
M=${BENCH_PAYMENTS:-3000000}
DUR=${BENCH_DURATION:-10}
CONC=${BENCH_CONCURRENCY:-16}
# 2 connections per CPU: the database shares this machine's cores with the
# server and wrk, and more active backends than that only queue queries in
# the kernel's run queue, where one preempted mid-query waits behind all the
# others (pool 8 vs 4 on 2 cores: p99 22-32 ms vs 9-11 ms for /patients, the
# same requests/s); queued in the pool instead, requests wait their turn.
MAXCONNS=${BENCH_MAX_CONNS:-$(( $(nproc) * 2 ))}
ADDR=${BENCH_ADDR:-127.0.0.1:3099}
WORK=${BENCH_DIR:-/tmp/patientsync-bench-api}
BIN=./bin/patientsync
SQLDIR=scripts/bench-api
DBNAME=patientsync_bench_api_${P}_${M}
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DBNAME}?sslmode=disable"
PGB=(-h 127.0.0.1 -p 5432 -U postgres)

for tool in wrk pgbench psql curl jq; do
  command -v "$tool" >/dev/null || { echo "bench-api: $tool not found (Debian: apt-get install -y wrk postgresql-client curl jq)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench-api: $BIN missing; run make build" >&2; exit 1; }
mkdir -p "$WORK"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

# --- data -------------------------------------------------------------------
loaded=$(q -c "SELECT (SELECT count(*) FROM patients) = $P AND (SELECT count(*) FROM payments) = $M" 2>/dev/null || echo f)
if [ "$loaded" != t ] || [ "${BENCH_RELOAD:-0}" = 1 ]; then
  echo "== loading $P patients / $M payments into $DBNAME"
  psql -X -q "${PGB[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)"
  $BIN migrate >/dev/null
  $BIN gen -patients "$P" -payments "$M" -out "$WORK/data" >/dev/null
  t0=$(date +%s)
  $BIN sync "$WORK/data/patients.json" "$WORK/data/payments.json"
  echo "loaded in $(( $(date +%s) - t0 ))s"
  rm -rf "$WORK/data"
  q -c "VACUUM (ANALYZE) patients" -c "VACUUM (ANALYZE) payments"
fi

# Flush what loading (or anything else) left dirty, so that no checkpoint
# runs during the measurements.
q -c "CHECKPOINT"

# --- parameters from the data, so that every scale has the same shapes --------
live=$(q -c "SELECT count(*) FROM patients WHERE deleted IS NULL")
# narrow: 0.1% of patients around the median total; wide: the middle 90%.
read -r nmin nmax wmin wmax < <(q -F ' ' -c "
  SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY payments_total),
         percentile_disc(0.501) WITHIN GROUP (ORDER BY payments_total),
         percentile_disc(0.05) WITHIN GROUP (ORDER BY payments_total),
         percentile_disc(0.95) WITHIN GROUP (ORDER BY payments_total)
  FROM patients WHERE deleted IS NULL")
ext=$(q -c "SELECT patient_external_id FROM payments WHERE deleted IS NULL AND patient_id IS NOT NULL ORDER BY id OFFSET (SELECT count(*) / 2 FROM payments) LIMIT 1")
# Page 1,000 needs 1,000 pages: at small scales pages get smaller.
plimit=$(( live / 1000 < 100 ? live / 1000 : 100 ))
[ "$plimit" -ge 1 ] || { echo "bench-api: need at least 1000 live patients" >&2; exit 1; }

# --- server -------------------------------------------------------------------
LOG_LEVEL=${BENCH_LOG_LEVEL:-WARN} $BIN serve -addr "$ADDR" -max-conns "$MAXCONNS" -statement-timeout 5s >"$WORK/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://$ADDR/payments?limit=1" >/dev/null && break; sleep 0.1; done
curl -fs "http://$ADDR/payments?limit=1" >/dev/null || { echo "bench-api: server did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }

# Walk to page 1,000 through the next links; keep the keyset of page 999's
# last row for pgbench.
echo "== walking to page 1000 (limit $plimit)"
url="/patients?limit=$plimit"
for _ in $(seq 999); do
  page=$(curl -fs "http://$ADDR$url")
  url=$(jq -r .next <<<"$page")
done
after_total=$(jq -r '.items[-1].paymentsTotal' <<<"$page")
after_id=$(jq -r '.items[-1].id' <<<"$page")
page1000=$url

# name | API path | pgbench script | pgbench variables
shapes=(
  "patients: no filter|/patients|patients-all.sql|-D limit1=101"
  "patients: narrow range|/patients?payment_min=$nmin&payment_max=$nmax|patients-range.sql|-D min=$nmin -D max=$nmax -D limit1=101"
  "patients: wide range|/patients?payment_min=$wmin&payment_max=$wmax|patients-range.sql|-D min=$wmin -D max=$wmax -D limit1=101"
  "payments: external_id|/payments?external_id=$ext|payments-external-id.sql|-D external_id=$ext -D limit1=101"
  "patients: page 1000|$page1000|patients-after.sql|-D after_total=$after_total -D after_id=$after_id -D limit1=$((plimit + 1))"
  "payments: no filter|/payments|payments-all.sql|-D limit1=101"
)

# to_ms converts wrk's "1.23ms" / "850.00us" / "1.02s".
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }

echo "== $live live patients, $(q -c "SELECT count(*) FROM payments WHERE deleted IS NULL") live payments; concurrency $CONC, ${DUR}s each; server pool $MAXCONNS connections; pgbench -M extended"
echo "   narrow [$nmin, $nmax] = $(q -c "SELECT count(*) FROM patients WHERE deleted IS NULL AND payments_total BETWEEN $nmin AND $nmax") patients; wide [$wmin, $wmax] = $(q -c "SELECT count(*) FROM patients WHERE deleted IS NULL AND payments_total BETWEEN $wmin AND $wmax"); external_id $ext has $(q -c "SELECT count(*) FROM payments WHERE patient_external_id = '$ext'") payments"
# Warm the caches and the server's pool once.
wrk -t2 -c"$CONC" -d2s "http://$ADDR/patients" >/dev/null

# pgbench runs one script: tps, p50 and p99 (ms) from the per-transaction log.
pgb() {
  local file=$1; shift
  rm -f "$WORK"/pgbench_log.*
  local out
  out=$(cd "$WORK" && pgbench "${PGB[@]}" -n -M extended -c "$CONC" -j 2 -T "$DUR" -l --log-prefix=pgbench_log -f "$file" "$@" "$DBNAME" 2>&1)
  grep -q '^tps = ' <<<"$out" || { echo "bench-api: pgbench failed: $out" >&2; exit 1; }
  printf '%s ' "$(awk '/^tps = / {print $3}' <<<"$out")"
  cat "$WORK"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000}'
}

results="$WORK/results.txt"
{
  echo "API: patientsync serve under wrk -t2 -c$CONC. floor: the query alone under pgbench -c$CONC -M extended."
  echo "floor+s: what the API sends, its session statement (statement_timeout, TimeZone, asOf) and the query in one pipeline."
  printf '%-24s %9s %7s %7s | %9s %7s %7s %6s | %9s %6s\n' "shape" "API req/s" "p50 ms" "p99 ms" "floor tps" "p50 ms" "p99 ms" "share" "floor+s" "share"
  for s in "${shapes[@]}"; do
    IFS='|' read -r name path script vars <<<"$s"
    # The API, from wrk (a separate process) over loopback.
    out=$(wrk -t2 -c"$CONC" -d"${DUR}s" --latency "http://$ADDR$path")
    if grep -q 'Non-2xx' <<<"$out"; then echo "bench-api: $name: $(grep Non-2xx <<<"$out")" >&2; exit 1; fi
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    # The floors: the same SQL through pgbench, as many clients.
    # shellcheck disable=SC2086 # $vars is a list of -D options
    pgb "$ROOT/$SQLDIR/$script" $vars >"$WORK/pgb.out"
    read -r tps g50 g99 <"$WORK/pgb.out"
    pipe="$WORK/pipeline-$script"
    { printf '%s\n' '\startpipeline'; grep -v '^--' "$SQLDIR/session.sql"; grep -v '^--' "$SQLDIR/$script"; printf '%s\n' '\endpipeline'; } >"$pipe"
    # shellcheck disable=SC2086
    pgb "$pipe" $vars >"$WORK/pgb.out"
    read -r ttps _ _ <"$WORK/pgb.out"
    printf '%-24s %9.0f %7s %7s | %9.0f %7s %7s %6s | %9.0f %6s\n' "$name" "$rps" "$p50" "$p99" "$tps" "$g50" "$g99" \
      "$(awk -v a="$rps" -v b="$tps" 'BEGIN {printf "%.0f%%", 100*a/b}')" "$ttps" "$(awk -v a="$rps" -v b="$ttps" 'BEGIN {printf "%.0f%%", 100*a/b}')"
  done
} | tee "$results"
rm -f "$WORK"/pgbench_log.*
echo "== results in $results; server log in $WORK/serve.log"
