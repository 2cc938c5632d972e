#!/usr/bin/env bash
# COPY floors for the sync benchmark: the same rows as CSV through psql's
# \copy, into an unindexed UNLOGGED table, into tables with the target's
# indexes, and the bulk load: into tables shaped like the targets (logged,
# ids generated) without indexes, then the targets' indexes built (PK,
# unique external ids, (patient_external_id, id), partial (payments_total,
# id)). Prints "floor <name> <seconds>" lines.
# usage: bench-floor.sh DATABASE_URL DIR   (DIR holds patients.csv, payments.csv)
# BENCH_FLOORS picks the floors (default: unindexed indexed bulk).
set -euo pipefail
url=$1 dir=$2
q() { psql -X -q -v ON_ERROR_STOP=1 "$url" "$@"; }
q -c "DROP TABLE IF EXISTS floor_patients_unindexed, floor_payments_unindexed, floor_patients_indexed, floor_payments_indexed" \
  -c "CREATE UNLOGGED TABLE floor_patients_unindexed (external_id text, first_name text, last_name text, middle_name text, date_of_birth date)" \
  -c "CREATE UNLOGGED TABLE floor_payments_unindexed (external_id text, amount numeric(14,2), patient_external_id text)" \
  -c "CREATE TABLE floor_patients_indexed (LIKE patients INCLUDING ALL)" \
  -c "CREATE TABLE floor_payments_indexed (LIKE payments INCLUDING ALL)" \
  -c "DROP TABLE IF EXISTS floor_patients_bulk, floor_payments_bulk" \
  -c "CREATE TABLE floor_patients_bulk (LIKE patients INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) WITH (fillfactor = 90)" \
  -c "CREATE TABLE floor_payments_bulk (LIKE payments INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) WITH (fillfactor = 90)" \
  -c "CHECKPOINT"
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  q -c "$*"
  t1=$(date +%s%N)
  echo "floor $name $(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')"
}
floors=" ${BENCH_FLOORS:-unindexed indexed bulk} "
if [[ $floors == *" unindexed "* ]]; then
  timed patients_unindexed "\\copy floor_patients_unindexed FROM '$dir/patients.csv' WITH (FORMAT csv)"
  timed payments_unindexed "\\copy floor_payments_unindexed FROM '$dir/payments.csv' WITH (FORMAT csv)"
  q -c "CHECKPOINT"
fi
if [[ $floors == *" indexed "* ]]; then
  timed patients_indexed "\\copy floor_patients_indexed (external_id, first_name, last_name, middle_name, date_of_birth) FROM '$dir/patients.csv' WITH (FORMAT csv)"
  timed payments_indexed "\\copy floor_payments_indexed (external_id, amount, patient_external_id) FROM '$dir/payments.csv' WITH (FORMAT csv)"
  q -c "CHECKPOINT"
fi
timedn() { # name, then psql -c arguments
  local name=$1; shift
  local t0 t1 args=()
  for c in "$@"; do args+=(-c "$c"); done
  t0=$(date +%s%N)
  q "${args[@]}"
  t1=$(date +%s%N)
  echo "floor $name $(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')"
}
[[ $floors == *" bulk "* ]] && timedn patients_bulk "\\copy floor_patients_bulk (external_id, first_name, last_name, middle_name, date_of_birth) FROM '$dir/patients.csv' WITH (FORMAT csv)" \
  "CREATE UNIQUE INDEX ON floor_patients_bulk (id)" "CREATE UNIQUE INDEX ON floor_patients_bulk (external_id)" \
  "CREATE INDEX ON floor_patients_bulk (payments_total, id) WHERE deleted IS NULL"
[[ $floors == *" bulk "* ]] && timedn payments_bulk "\\copy floor_payments_bulk (external_id, amount, patient_external_id) FROM '$dir/payments.csv' WITH (FORMAT csv)" \
  "CREATE UNIQUE INDEX ON floor_payments_bulk (id)" "CREATE UNIQUE INDEX ON floor_payments_bulk (external_id)" \
  "CREATE INDEX ON floor_payments_bulk (patient_external_id, id)"
q -c "DROP TABLE floor_patients_unindexed, floor_payments_unindexed, floor_patients_indexed, floor_payments_indexed, floor_patients_bulk, floor_payments_bulk"
