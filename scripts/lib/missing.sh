# shellcheck shell=bash
# Sourced by the lint scripts. tool_missing MSG HINT: a tool the lint needs is
# missing. In CI (CI set) that fails the run; elsewhere the lint says so
# and is skipped, with HINT on how to get the tool.
tool_missing() {
  if [ -n "${CI:-}" ]; then
    echo "$1. Required in CI: FAILED" >&2
    exit 1
  fi
  echo "$1. SKIPPED ($2)" >&2
  exit 0
}
