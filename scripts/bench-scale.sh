#!/usr/bin/env bash
# make bench-scale: the sync benchmark (scripts/bench-sync.sh) at 1x (1M
# patients / 3M payments) and at BENCH_SCALE times that (default 10: 10M /
# 30M, 3.2 GB of JSON; about half an hour here), then each phase's growth
# factor (seconds at the scale / seconds at 1x; linear is the scale). The
# scaled run skips the COPY-into-indexed-tables floor, which alone takes
# many minutes there. Targets at 10x: initial load of both files < 450 s
# (half of Lambda's cap), 1% drift < 120 s, peak RSS < 100 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${BENCH_SCALE:-10}
base_p=${BENCH_PATIENTS:-1000000}
base_m=${BENCH_PAYMENTS:-3000000}
work=${BENCH_WORK:-/tmp}
one="$work/patientsync-bench-scale-1x.txt"
big="$work/patientsync-bench-scale-${scale}x.txt"
: >"$one"
: >"$big"

echo "=== 1x: $base_p patients, $base_m payments"
BENCH_SUMMARY=$one bash scripts/bench-sync.sh
echo
echo "=== ${scale}x: $((base_p * scale)) patients, $((base_m * scale)) payments"
BENCH_PATIENTS=$((base_p * scale)) BENCH_PAYMENTS=$((base_m * scale)) BENCH_FLOORS="unindexed bulk" \
  BENCH_DB=patientsync_bench_scale BENCH_SUMMARY=$big bash scripts/bench-sync.sh
echo
echo "=== growth factors (seconds at ${scale}x / seconds at 1x; linear = ${scale})"
while read -r phase secs; do
  base=$(awk -v p="$phase" '$1 == p {print $2}' "$one")
  [ -n "$base" ] && printf "   %-18s %9.2fs %9.2fs  %6.1fx\n" "$phase" "$base" "$secs" "$(awk -v a="$secs" -v b="$base" 'BEGIN {print a / b}')"
done <"$big"
init=$(awk '$1 == "initial" {print $2}' "$big")
drift=$(awk '$1 == "drift" {print $2}' "$big")
echo "   initial load at ${scale}x: ${init}s (target < 450 s); 1% drift: ${drift}s (target < 120 s)"
