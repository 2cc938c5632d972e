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
GOARCH_LAMBDA ?= arm64

.PHONY: all build test vet unit fuzz bench bench-api db migrate clean

all: build

build: ## CLI and the three Lambda binaries for this machine
	$(GO) build -o $(BIN)/patientsync ./cmd/patientsync
	for f in sync patients payments; do \
	  CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o $(BIN)/lambda/$$f/bootstrap ./functions/$$f || exit 1; \
	done

db: ## make sure PostgreSQL answers on 127.0.0.1:5432
	bash scripts/postgres.sh

migrate: build db
	$(BIN)/patientsync migrate

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

test: vet db ## everything: vet, unit, integration (real PostgreSQL), Lambda handlers, fuzz seeds
	$(GO) test -count=1 -timeout 20m ./...

fuzz: ## run the snapshot decoder fuzzer for a while (FUZZTIME=1m)
	$(GO) test ./internal/snapshot -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-1m}

bench: build db ## sync benchmark on 1M patients / 3M payments (BENCH_PATIENTS, BENCH_PAYMENTS to change)
	bash scripts/bench-sync.sh

clean:
	rm -rf $(BIN)
