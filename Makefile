# patientsync — see README.md.
SHELL := /bin/bash
GO ?= go
# AWS's Lambda runtime interface emulator, pinned; built from the Go module proxy.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
BIN := $(CURDIR)/bin
export GOBIN := $(BIN)
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/patientsync?sslmode=disable
export DATABASE_URL

# Lambda builds: static, no RPC shim (provided.al2023), reproducible paths.
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
# The tests create their databases on this server; set it to use another
# one, and the local cluster is left alone.
TEST_DATABASE_URL ?=

.PHONY: all build test vet lint-template lint-openapi unit fuzz bench bench-scale bench-api db migrate clean

all: build

build: ## CLI and the Lambda binaries for this machine
	$(GO) build -o $(BIN)/patientsync ./cmd/patientsync
	for f in sync patients payments syncs push uploads migrate; do \
	  CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o $(BIN)/lambda/$$f/bootstrap ./functions/$$f || exit 1; \
	done

db: ## make sure the server of DATABASE_URL answers (the local one is started, or installed)
	bash scripts/postgres.sh "$(DATABASE_URL)"

migrate: build db
	$(BIN)/patientsync migrate

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# cfn-lint and the AWS SAM translator on template.yaml (python3 tools, no
# network): skipped with a message where they are missing, failed in CI.
lint-template: ## cfn-lint and the SAM translator on template.yaml
	bash scripts/lint-template.sh

# openapi-spec-validator (python3, no network) on internal/api/openapi.json:
# skipped with a message where it is missing, failed in CI.
lint-openapi: ## openapi-spec-validator on the API's OpenAPI document
	bash scripts/lint-openapi.sh

test: vet lint-template lint-openapi ## everything: vet, template lint, unit, integration (real PostgreSQL), Lambda handlers, fuzz seeds
	bash scripts/postgres.sh "$(or $(TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres)"
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(GO) test -count=1 -timeout 20m ./...
	@echo "internal/syncer again, every sync in bulk (build and swap):"
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" SYNC_TEST_BULK=all $(GO) test -count=1 -timeout 10m ./internal/syncer

fuzz: ## fuzz the snapshot decoder and the API handler for a while each (FUZZTIME=1m)
	$(GO) test ./internal/snapshot -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-1m}
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzHandler -fuzztime $${FUZZTIME:-1m}

bench: build db ## sync benchmark on 1M patients / 3M payments (BENCH_PATIENTS, BENCH_PAYMENTS to change)
	bash scripts/bench-sync.sh

bench-scale: build db ## the sync benchmark at 1x and BENCH_SCALE x (default 10: 10M patients / 30M payments, ~30 min), with growth factors
	bash scripts/bench-scale.sh

bench-api: build db ## query API under wrk vs. the same SQL under pgbench, 1M patients / 3M payments (BENCH_PATIENTS, BENCH_PAYMENTS, BENCH_DURATION, BENCH_CONCURRENCY)
	bash scripts/bench-api.sh

clean:
	rm -rf $(BIN)

# ---------------------------------------------------------------------------
# AWS SAM and LocalStack (issue 4). template.yaml uses BuildMethod: makefile,
# so `sam build` runs `make build-<LogicalId> ARTIFACTS_DIR=...` here.
# Architecture matches Architectures: [arm64] in template.yaml.
# ---------------------------------------------------------------------------
ARTIFACTS_DIR ?= $(CURDIR)/.aws-sam/manual
SAM_LAMBDA_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
sam_lambda = $(SAM_LAMBDA_ENV) $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)

.PHONY: build-SyncFunction build-PatientsFunction build-PaymentsFunction build-SyncsFunction \
	build-PushFunction build-UploadsFunction build-MigrateFunction \
	sam-build sam-api localstack-package localstack-up localstack-down

build-SyncFunction:
	$(call sam_lambda,sync)

build-PatientsFunction:
	$(call sam_lambda,patients)

build-PaymentsFunction:
	$(call sam_lambda,payments)

build-SyncsFunction:
	$(call sam_lambda,syncs)

build-PushFunction:
	$(call sam_lambda,push)

build-UploadsFunction:
	$(call sam_lambda,uploads)

build-MigrateFunction:
	$(call sam_lambda,migrate)

sam-build: ## sam build (needs the AWS SAM CLI)
	sam build --template-file template.yaml

# The query functions on :3000 in SAM's containers, against the LocalStack
# compose PostgreSQL (see localstack/README.md). Needs Docker and the SAM CLI.
SAM_DOCKER_NETWORK ?= patientsync-localstack
sam-api: sam-build
	sam local start-api --port 3000 --docker-network $(SAM_DOCKER_NETWORK) \
	  --env-vars localstack/env.json \
	  --parameter-overrides ApiAuthorization=NONE

# The sync function for LocalStack: Linux, this machine's architecture (the
# Lambda containers run natively on the Docker host), zipped with an
# executable bootstrap.
LOCALSTACK_DIST ?= $(BIN)/localstack
LOCALSTACK_GOARCH ?= $(shell $(GO) env GOARCH)
localstack-package:
	rm -rf $(LOCALSTACK_DIST)/sync && mkdir -p $(LOCALSTACK_DIST)/sync
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LOCALSTACK_GOARCH) $(GO) build $(LAMBDA_GOFLAGS) \
	  -o $(LOCALSTACK_DIST)/sync/bootstrap ./functions/sync
	chmod 0755 $(LOCALSTACK_DIST)/sync/bootstrap
	rm -f $(LOCALSTACK_DIST)/sync.zip
	cd $(LOCALSTACK_DIST)/sync && zip -q -X $(LOCALSTACK_DIST)/sync.zip bootstrap

localstack-up: localstack-package ## LocalStack + PostgreSQL in Docker (see localstack/README.md)
	docker compose -f localstack/compose.yaml up -d --wait

localstack-down:
	docker compose -f localstack/compose.yaml down -v

# ---------------------------------------------------------------------------
# Docker-free local stack (issue 4): `make up` runs S3 on :4566, the HTTP API
# on :3000 and the three Lambda binaries under AWS's runtime interface
# emulator, against DATABASE_URL. Ctrl-C stops everything. `make reset`
# empties that database and, while `make up` runs, its bucket.
# ---------------------------------------------------------------------------
.PHONY: rie up reset

# Listen addresses of `make up` (the defaults of `patientsync up`, checked by
# a test); UP_FLAGS and RESET_FLAGS pass any other flags.
S3_ADDR ?= 127.0.0.1:4566
API_ADDR ?= 127.0.0.1:3000
UP_FLAGS ?=
RESET_FLAGS ?=

rie: ## the pinned Lambda runtime interface emulator, bin/aws-lambda-rie (from the Go module proxy)
	CGO_ENABLED=0 $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

up: build rie db ## the local stack in the foreground; S3_ADDR=127.0.0.1:4566 API_ADDR=127.0.0.1:3000 UP_FLAGS='-retry-delay 5s ...' (patientsync up -h)
	$(BIN)/patientsync up -bin-dir $(BIN) -rie $(BIN)/aws-lambda-rie -s3-addr '$(S3_ADDR)' -api-addr '$(API_ADDR)' $(UP_FLAGS)


reset: build ## empty DATABASE_URL's patients, payments and sync_runs, and the bucket of a running `make up` (S3_ADDR); RESET_FLAGS=-force for a database elsewhere
	$(BIN)/patientsync reset -s3-addr '$(S3_ADDR)' $(RESET_FLAGS)

# ---------------------------------------------------------------------------
# The ECS runner's image (template.yaml: RunnerImageUri): the CLI, static,
# for the Lambdas' architecture, on distroless (runner/Dockerfile). Needs
# Docker with buildx, and for runner-push the AWS CLI with credentials for
# the stack's account and region; make test runs neither.
#   make runner-push AWS_REGION=eu-west-1   # prints RunnerImageUri=...@sha256:...
#   sam deploy --parameter-overrides RunnerImageUri=<that> SubnetIds=... SecurityGroupIds=...
# ---------------------------------------------------------------------------
.PHONY: runner-image runner-push

# The task definition's RuntimePlatform: the same architecture as SAM_LAMBDA_ENV.
RUNNER_PLATFORM := linux/arm64
RUNNER_REPOSITORY ?= patientsync-runner
RUNNER_TAG ?=

runner-image: ## build the runner image locally as $(RUNNER_REPOSITORY):dev (Docker buildx)
	docker buildx build --platform $(RUNNER_PLATFORM) -f runner/Dockerfile -t $(RUNNER_REPOSITORY):dev --load .

runner-push: ## build the runner image, push it to this account's ECR (AWS_REGION; RUNNER_REPOSITORY, RUNNER_TAG), print its RunnerImageUri
	RUNNER_PLATFORM=$(RUNNER_PLATFORM) RUNNER_REPOSITORY=$(RUNNER_REPOSITORY) RUNNER_TAG=$(RUNNER_TAG) bash scripts/runner-push.sh
