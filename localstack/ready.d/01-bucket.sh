#!/bin/bash
# Snapshot bucket with versioning: every upload is kept and evented, and the
# sync reads the exact version its event names.
set -euo pipefail
# LocalStack 4 gives init hooks no default credentials.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
bucket="${PATIENTSYNC_BUCKET:-patientsync-snapshots}"

if ! awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  awslocal s3api create-bucket --bucket "$bucket"
fi
awslocal s3api put-bucket-versioning --bucket "$bucket" \
  --versioning-configuration Status=Enabled
echo "bucket $bucket ready (versioning on)"
