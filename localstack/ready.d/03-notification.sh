#!/bin/bash
# Subscribe the sync function to s3:ObjectCreated:* for *.json and *.json.gz,
# as template.yaml does (one suffix per rule, so two configurations).
set -euo pipefail
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
bucket="${PATIENTSYNC_BUCKET:-patientsync-snapshots}"
fn="${PATIENTSYNC_FUNCTION:-patientsync-sync}"

# Fails (and so marks the hook ERROR) if 02-function.sh did not create it.
fn_arn=$(awslocal lambda get-function --function-name "$fn" \
  --query Configuration.FunctionArn --output text)

# Already present when the hooks run again on a kept container.
awslocal lambda add-permission \
  --function-name "$fn" \
  --statement-id s3-invoke \
  --action lambda:InvokeFunction \
  --principal s3.amazonaws.com \
  --source-arn "arn:aws:s3:::$bucket" >/dev/null 2>&1 || true

rule() { # id suffix
  printf '{"Id":"%s","LambdaFunctionArn":"%s","Events":["s3:ObjectCreated:*"],"Filter":{"Key":{"FilterRules":[{"Name":"suffix","Value":"%s"}]}}}' \
    "$1" "$fn_arn" "$2"
}
awslocal s3api put-bucket-notification-configuration \
  --bucket "$bucket" \
  --notification-configuration "{\"LambdaFunctionConfigurations\":[$(rule snapshot-json .json),$(rule snapshot-json-gz .json.gz)]}"
echo "bucket $bucket notifies $fn on *.json and *.json.gz"
