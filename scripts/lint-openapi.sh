#!/usr/bin/env bash
# Validates internal/api/openapi.json, the API's OpenAPI 3.1 document
# (`make lint-openapi`, part of `make test`), with openapi-spec-validator:
# the document against the OpenAPI 3.1 schema, its references, and its
# schemas as JSON Schema 2020-12. (That it matches the handler is
# internal/api's TestOpenAPI* tests' job.) Needs python3 with
# openapi-spec-validator, nothing else: no network. Without it it says so and
# skips, except in CI (CI set), where it fails. Another file may be given:
#   scripts/lint-openapi.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/missing.sh
doc=${1:-internal/api/openapi.json}

# One python3 start tells whether the package is there, and its version.
version=""
if ! command -v python3 >/dev/null; then
  missing="python3"
elif ! version=$(python3 -c '
import importlib.metadata as md
print(md.version("openapi-spec-validator"))' 2>/dev/null); then
  missing="the python3 package openapi-spec-validator"
else
  missing=""
fi
[ -z "$missing" ] || tool_missing "OpenAPI lint: missing $missing" "pip install openapi-spec-validator"
echo "OpenAPI lint of $doc with openapi-spec-validator $version"
# The module rather than the console script: the same interpreter that
# was asked for the version.
python3 -m openapi_spec_validator --schema 3.1 "$doc"

# The validator must also fail: a copy with an operation whose response
# lacks its required description is refused, or this lint proves nothing.
broken=$(mktemp --suffix=.json)
trap 'rm -f "$broken"' EXIT
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["paths"]["/lint-openapi-self-check"] = {"get": {"responses": {"200": {}}}}
json.dump(d, open(sys.argv[2], "w"))' "$doc" "$broken"
if python3 -m openapi_spec_validator --schema 3.1 "$broken" >/dev/null 2>&1; then
  echo "OpenAPI lint: openapi-spec-validator accepted a broken document: FAILED" >&2
  exit 1
fi
echo "openapi-spec-validator refuses a broken copy, as it must"
