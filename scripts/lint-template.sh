#!/usr/bin/env bash
# Lints template.yaml (`make lint-template`, part of `make test`):
#   1. the AWS SAM translator turns it into plain CloudFormation for each
#      value of the parameters that change what SAM generates, and checks
#      what each value produces (scripts/translate-template.py);
#   2. cfn-lint checks template.yaml and those translations. Errors and
#      warnings fail; informational findings are printed and do not.
# Needs python3 with cfn-lint and aws-sam-translator, nothing else: no AWS
# account, no network, no state. Without them it says so and skips, except
# in CI (CI set), where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/missing.sh

# One python3 start (pyenv's shim alone takes a good fraction of a second)
# tells the interpreter, which of the two distributions it lacks, and the
# versions of those it has.
missing=()
py="" lacks="" versions=""
if ! command -v python3 >/dev/null; then
  missing+=(python3)
elif ! info=$(python3 -c '
import importlib.metadata as md, importlib.util, sys
print(sys.executable)
dists = {"cfn-lint": "cfnlint", "aws-sam-translator": "samtranslator"}
print(" ".join(d for d, m in dists.items() if importlib.util.find_spec(m) is None))
print(", ".join(f"{d} {md.version(d)}" for d, m in dists.items() if importlib.util.find_spec(m)))
' 2>&1); then
  missing+=("a working python3 ($info)")
else
  mapfile -t lines <<<"$info"
  py=${lines[0]} lacks=${lines[1]:-} versions=${lines[2]:-}
  [ -z "$lacks" ] || missing+=("python3 packages: $lacks")
fi
command -v cfn-lint >/dev/null || missing+=("the cfn-lint command")
if [ ${#missing[@]} -gt 0 ]; then
  msg=$(printf '%s; ' "${missing[@]}")
  tool_missing "template lint: missing ${msg%; }" "pip install cfn-lint, which brings aws-sam-translator"
fi
echo "template lint with $versions"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$py" scripts/translate-template.py template.yaml "$out"

# One cfn-lint run for all (it takes seconds to start). -c I adds the
# informational rules, which --non-zero-exit-code keeps from failing.
echo "cfn-lint: template.yaml and its translations"
cfn-lint --include-checks I --non-zero-exit-code warning -- template.yaml "$out"/*.json
