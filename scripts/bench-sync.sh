#!/usr/bin/env bash
# make bench: the sync through the real CLI path on generated snapshots
# (default 1M patients, 3M payments), against COPY floors measured in the
# same run. Prints time, rows/s, peak RSS, rows written and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${BENCH_PATIENTS:-1000000}
M=${BENCH_PAYMENTS:-3000000}
dir=${BENCH_DIR:-/tmp/patientsync-bench}
db=${BENCH_DB:-patientsync_bench}
admin=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
cli=bin/patientsync

echo "== generating $P patients, $M payments in $dir"
$cli gen -patients "$P" -payments "$M" -csv -out "$dir/base" >/dev/null
$cli gen -patients "$P" -payments "$M" -drift 0.01 -out "$dir/drift" >/dev/null
ls -l "$dir"/base/*.json "$dir"/drift/*.json | awk '{printf "   %s %d MB\n", $NF, $5/1048576}'

psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
DATABASE_URL=$url $cli migrate >/dev/null

echo "== COPY floors (psql \\copy of the same rows as CSV)"
declare -A floor
while read -r _ name secs; do floor[$name]=$secs; echo "   $name ${secs}s"; done < <(bash scripts/bench-floor.sh "$url" "$dir/base" 2>/dev/null)

written() { # rows inserted+updated+deleted in the target tables so far
  psql -X -At "$url" -c "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('patients', 'payments')"
}

declare -A took
sync_one() { # phase file -> prints a result line
  local phase=$1 file=$2 name out secs rss w0 w1 rows
  name=$(basename "$file" .json)
  w0=$(written)
  psql -X -q "$url" -c "CHECKPOINT"
  out=$(DATABASE_URL=$url $cli sync "$file" 2>/dev/null)
  secs=$(sed -n 's/.* in \([0-9.]*\)s$/\1/p' <<<"$out" | head -1)
  rss=$(sed -n 's/^peak RSS \(.*\) MB$/\1/p' <<<"$out")
  rows=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$out" | head -1)
  sleep 1 # let the statistics collector catch up
  w1=$(written)
  took[$phase/$name]=$secs
  printf "   %-8s %-9s %7.2fs %10.0f rows/s  peak RSS %6s MB  rows written %s\n" "$phase" "$name" "$secs" \
    "$(echo "$rows / $secs" | awk '{print $1/$3}')" "$rss" "$((w1 - w0))"
  grep -q "succeeded" <<<"$out" || { echo "$out"; exit 1; }
}

echo "== sync (real path: patientsync sync FILE)"
sync_one initial "$dir/base/patients.json"
sync_one initial "$dir/base/payments.json"
sync_one noop "$dir/base/patients.json"
sync_one noop "$dir/base/payments.json"
sync_one drift "$dir/drift/patients.json"
sync_one drift "$dir/drift/payments.json"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
idx=$(sum "${floor[patients_indexed]}" "${floor[payments_indexed]}")
unidx=$(sum "${floor[patients_unindexed]}" "${floor[payments_unindexed]}")
init=$(sum "${took[initial/patients]}" "${took[initial/payments]}")
noop=$(sum "${took[noop/patients]}" "${took[noop/payments]}")
drift=$(sum "${took[drift/patients]}" "${took[drift/payments]}")
echo "== ratios (both files)"
echo "   initial load ${init}s vs indexed COPY floor ${idx}s:   $(ratio "$init" "$idx")  (target <= 1.5x)"
echo "   no-op re-sync ${noop}s vs unindexed COPY floor ${unidx}s: $(ratio "$noop" "$unidx")  (target <= 4x)"
echo "   drift re-sync ${drift}s vs unindexed COPY floor ${unidx}s: $(ratio "$drift" "$unidx")  (target <= 5x)"
