#!/bin/bash
# The sync function from bin/localstack/sync.zip (make localstack-package),
# its failure queue and async retry settings, then wait until it is Active.
set -euo pipefail
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
fn="${PATIENTSYNC_FUNCTION:-patientsync-sync}"
zip=/opt/patientsync/sync.zip
db="${PATIENTSYNC_DATABASE_URL:?set PATIENTSYNC_DATABASE_URL in compose.yaml}"

if [ ! -s "$zip" ]; then
  echo "missing $zip: run 'make localstack-package' on the host first" >&2
  exit 1
fi

# The zip holds a bootstrap for the Docker host's architecture.
case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  *) arch=x86_64 ;;
esac

# JSON, not shorthand: the URL contains '=' and '?'.
env_json=$(printf '{"Variables":{"DATABASE_URL":"%s","AWS_S3_USE_PATH_STYLE":"true","SYNC_MAX_INVALID_SHARE":"%s","SYNC_MAX_DELETE_SHARE":"%s","SYNC_MIN_DELETES":"%s","SYNC_ALLOW_MASS_DELETE":"%s"}}' \
  "$db" "${SYNC_MAX_INVALID_SHARE:-0.01}" "${SYNC_MAX_DELETE_SHARE:-0.5}" \
  "${SYNC_MIN_DELETES:-10}" "${SYNC_ALLOW_MASS_DELETE:-false}")

if awslocal lambda get-function --function-name "$fn" >/dev/null 2>&1; then
  awslocal lambda update-function-code --function-name "$fn" --zip-file "fileb://$zip" >/dev/null
  awslocal lambda wait function-updated-v2 --function-name "$fn"
else
  awslocal lambda create-function \
    --function-name "$fn" \
    --runtime provided.al2023 \
    --handler bootstrap \
    --architectures "$arch" \
    --role "arn:aws:iam::000000000000:role/$fn" \
    --zip-file "fileb://$zip" \
    --timeout 900 \
    --memory-size 1024 \
    --logging-config LogFormat=JSON \
    --environment "$env_json" >/dev/null
fi
awslocal lambda wait function-active-v2 --function-name "$fn"

# As in template.yaml: 2 retries, then the event goes to the failure queue.
queue_url=$(awslocal sqs create-queue --queue-name "$fn-failures" --query QueueUrl --output text)
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "$queue_url" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)
awslocal lambda put-function-event-invoke-config \
  --function-name "$fn" \
  --maximum-retry-attempts 2 \
  --maximum-event-age-in-seconds 21600 \
  --destination-config "{\"OnFailure\":{\"Destination\":\"$queue_arn\"}}" >/dev/null
echo "function $fn active ($arch), failures to $queue_arn"
