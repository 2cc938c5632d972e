#!/usr/bin/env bash
# Builds runner/Dockerfile for RUNNER_PLATFORM, pushes it to the ECR
# repository RUNNER_REPOSITORY of the current AWS account in AWS_REGION
# (created on first use, with immutable tags and scan on push), and prints
# the image by digest, the value of template.yaml's RunnerImageUri.
# `make runner-push` runs it. Needs docker (with buildx) and the aws CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

platform=${RUNNER_PLATFORM:-linux/arm64}
repo=${RUNNER_REPOSITORY:-patientsync-runner}
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [ -z "$region" ]; then
  echo "runner-push: set AWS_REGION to the stack's region" >&2
  exit 2
fi
tag=${RUNNER_TAG:-}
if [ -z "$tag" ]; then
  tag=$(git rev-parse --short=12 HEAD)
  # Tags are immutable: a build of uncommitted changes gets its own.
  if [ -n "$(git status --porcelain)" ]; then
    tag="$tag-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
fi

account=$(aws sts get-caller-identity --query Account --output text)
registry="$account.dkr.ecr.$region.amazonaws.com"
if ! aws ecr describe-repositories --region "$region" --repository-names "$repo" >/dev/null 2>&1; then
  echo "creating ECR repository $repo in $region"
  aws ecr create-repository --region "$region" --repository-name "$repo" \
    --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true >/dev/null
fi
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker buildx build --platform "$platform" -f runner/Dockerfile -t "$registry/$repo:$tag" --push .
digest=$(aws ecr describe-images --region "$region" --repository-name "$repo" \
  --image-ids imageTag="$tag" --query 'imageDetails[0].imageDigest' --output text)
echo "RunnerImageUri=$registry/$repo@$digest"
