# vsphere-conformance: build, run and test. Everything it needs comes from the
# Go module proxy; pinned upstream binaries are cached in _build/ (ignored).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
BIN       := $(CURDIR)/_build/bin
VSCONFORM := $(BIN)/vsconform
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_TEST_TIMEOUT ?= 60m
SOAK_RUNS ?= 20
SOAK_FLAGS ?=

SELFTEST_FLAGS ?=

.PHONY: all tools build run soak selftest test unit lint sim-up sim-down sim-status clean

all: build

## tools: build the pinned upstream binaries of the hermetic target (once; seconds when nothing changed)
tools:
	@scripts/install-node-packages.sh
	@scripts/build-tools.sh
	@scripts/copy-crds.sh

## build: build vsconform into _build/bin
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(VSCONFORM) ./cmd/runner
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(BIN)/pause ./sim/node/pause

## run: hermetic conformance run of all suites; prints where the report is
run: tools build
	$(VSCONFORM) run

## soak: run the hermetic suite SOAK_RUNS times, some runs interrupted or under transient faults; prints where the soak report is
soak: tools build
	$(VSCONFORM) soak --runs $(SOAK_RUNS) $(SOAK_FLAGS)

## selftest: every defect profile against its catcher specs, then a clean run; prints where the detection matrix is
selftest: tools build
	$(VSCONFORM) selftest $(SELFTEST_FLAGS)

## test: unit tests, then the integration tests on the hermetic target
test: tools build
	go vet ./...
	VSCONFORM_BIN_DIR=$(BIN) go test -p 1 -timeout $(GO_TEST_TIMEOUT) ./...

## unit: unit tests only (no hermetic target)
unit:
	go test -short ./...

## lint: gofmt, go vet and staticcheck (pinned; config in staticcheck.conf)
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

sim-up: tools build
	$(VSCONFORM) sim up

sim-down: build
	$(VSCONFORM) sim down

sim-status: build
	$(VSCONFORM) sim status

clean:
	-$(VSCONFORM) sim down 2>/dev/null
	rm -rf _build results
