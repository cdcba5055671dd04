# Ensemble's build. `make help` lists the targets.
SHELL      := bash
.SHELLFLAGS := -euo pipefail -c
GO         ?= go
CACHE      ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ensemble
BIN        ?= $(CURDIR)/bin
FUZZTIME   ?= 30s
BENCHTIME  ?= 1s
SOAK_DURATION ?= 10m
SOAK_SEED  ?=
SOAK_RATE  ?= 15
GOTEST_FLAGS ?= -race -shuffle=on -timeout 20m
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -X github.com/prometheus/common/version.Version=$(VERSION) \
              -X github.com/prometheus/common/version.Revision=$(shell git rev-parse --short HEAD 2>/dev/null) \
              -X github.com/prometheus/common/version.Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null) \
              -X github.com/prometheus/common/version.BuildUser=$(shell id -un)@$(shell hostname) \
              -X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
export ENSEMBLE_CONSUL ?= $(CACHE)/consul-v1.16.3
export ENSEMBLE_TOFU ?= $(CACHE)/tofu-v1.12.6
export PATH := $(CACHE)/bin:$(PATH)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install Debian packages, Consul and Go tools (idempotent).
	@scripts/install-deps.sh

.PHONY: build
build: ## Build every command into ./bin.
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	@# The node agents again, without inlining in the packages they run only at start-up
	@# (scripts/agent-gcflags.sh): 0.8 MiB less RSS each.
	CGO_ENABLED=0 $(GO) build -trimpath $$(scripts/agent-gcflags.sh) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ensemble-sidecar ./cmd/ensemble-exporter

.PHONY: demo
demo: ## Run a whole fleet on this machine (Consul, Prometheus, 5 nodes, 2 selectors) until Ctrl-C.
	@scripts/install-deps.sh --demo
	@$(MAKE) --no-print-directory build
	@echo "Grafana dashboards: import deploy/grafana/fleet.json and deploy/grafana/node.json"
	@echo "  (Grafana > Dashboards > New > Import, pick a Prometheus data source pointing at the demo's Prometheus URL printed below)."
	$(BIN)/ensemble-demo --bin-dir=$(BIN) $(DEMO_FLAGS)

.PHONY: test
test: deps lint tidy-check ## Install deps, lint, and run every test (unit, real-service, e2e, images, infra).
	$(GO) test $(GOTEST_FLAGS) $$($(GO) list ./... | grep -v '/infra/')
	@$(MAKE) --no-print-directory check-metrics
	@$(MAKE) --no-print-directory test-infra
	@$(MAKE) --no-print-directory test-images

.PHONY: e2e
e2e: ## Run only the end-to-end fleet scenarios.
	$(GO) test -count=1 -v -timeout 15m ./e2e/...

.PHONY: soak
soak: ## Chaos soak: fleet under load while seeded faults hit every part (SOAK_DURATION=10m, SOAK_SEED=, SOAK_RATE=15).
	@mkdir -p $(BIN)
	SOAK_DURATION=$(SOAK_DURATION) SOAK_SEED=$(SOAK_SEED) SOAK_RATE=$(SOAK_RATE) SOAK_REPORT=$(BIN)/soak-report.json \
	  $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 45m ./e2e/

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); if [[ -n $$out ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...
	@scripts/check-imports.sh

.PHONY: tidy-check
tidy-check: ## Fail if go.mod/go.sum are not tidy.
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

.PHONY: check-metrics
check-metrics: ## promtool check metrics on the golden exposition file.
	promtool check metrics < exporter/testdata/e2e-metrics.txt

.PHONY: docs
docs: ## Regenerate README.md's flag tables from the binaries' flags (docs/flags_test.go checks them).
	$(GO) test ./docs/ -run '^TestREADMEFlagTables$$' -count=1 -update

.PHONY: dashboards
dashboards: ## Regenerate deploy/grafana/*.json from internal/dashboards.
	$(GO) run ./cmd/tools/ensemble-dashboards --out-dir=deploy/grafana

.PHONY: test-images
test-images: ## Lint, converge, idempotence-check and boot the Ansible/Packer images.
	scripts/test-images.sh

.PHONY: test-infra
test-infra: ## OpenTofu module: the stand-in provider's checks, tofu fmt/validate/test, plans, pg backend.
	@out=$$(cd tools/tofu-scaleway && gofmt -l .); if [[ -n $$out ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd tools/tofu-scaleway && $(GO) mod tidy -diff && $(GO) vet ./... && staticcheck ./... && $(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test $(GOTEST_FLAGS) ./infra/...

.PHONY: bench
bench: ## Run the Go benchmarks.
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

.PHONY: bench-exporters
bench-exporters: build ## Our exporter and sidecar vs node_exporter + nginx-exporter: CPU and RSS ratios.
	scripts/bench-exporters.sh $(BIN)

.PHONY: bench-selector
bench-selector: build ## wrk against the selector vs a bare handler: throughput ratio and p99.
	scripts/bench-selector.sh $(BIN)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 30s) each.
	scripts/fuzz.sh $(FUZZTIME)

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(BIN)
