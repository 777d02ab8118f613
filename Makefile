# Reliquary — build, run, test.
#
#   make run     start the service on the embedded default (./reliquary-data, 127.0.0.1:8080)
#   make test    install the test tools when missing, then vet, staticcheck and go test -race
#   make tools   only install the test tools
#   make bench   throughput, memory and latency vs direct MinIO and a peer registry (BENCHMARKS.md)
#   make screenshots  regenerate docs/screenshots/ (the web UI, in headless Chromium)
#
# Tools are built once from the Go module proxy into the Go build cache
# ($(go env GOCACHE)/reliquary-tools/<tool>-<version>) and reused from there.

GO      ?= go
TOOLS   := $(shell $(GO) env GOCACHE)/reliquary-tools

MINIO_VERSION       := v0.0.0-20260212201848-7aac2a2c5b7c
COSIGN_VERSION      := v2.6.5
STATICCHECK_VERSION := v0.8.2
REGISTRY_VERSION    := v3.1.2
REDOCLY_VERSION     := 2.77.0

MINIO       := $(TOOLS)/minio-$(MINIO_VERSION)/minio
COSIGN      := $(TOOLS)/cosign-$(COSIGN_VERSION)/cosign
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
REGISTRY    := $(TOOLS)/registry-$(REGISTRY_VERSION)/registry
REDOCLY     := $(TOOLS)/redocly-$(REDOCLY_VERSION)/node_modules/.bin/redocly

export RELIQUARY_MINIO  := $(MINIO)
export RELIQUARY_COSIGN := $(COSIGN)

TEST_FLAGS ?= -race -timeout 30m

.PHONY: all build run test tools vet lint unit fuzz fuzz-short clean bench bench-go apt-tools openapi-lint

all: build

build:
	$(GO) build -o bin/reliquary ./cmd/reliquary

run:
	$(GO) run ./cmd/reliquary serve

tools: $(MINIO) $(COSIGN) $(STATICCHECK) $(REDOCLY) apt-tools chromium

# The web UI's browser tests drive Debian's Chromium (internal/ui); CI
# starts from a clean machine, so install it when it is missing, with one
# font (recommended packages are left out, fonts among them).
.PHONY: chromium
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the web UI tests"; \
		apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
	fi

$(MINIO):
	@echo "building MinIO $(MINIO_VERSION) once into $(@D) (several minutes)"
	GOBIN=$(@D) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

$(COSIGN):
	@echo "building cosign $(COSIGN_VERSION) once into $(@D) (several minutes)"
	GOBIN=$(@D) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

$(STATICCHECK):
	GOBIN=$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The peer `make bench` compares against: the CNCF distribution registry.
$(REGISTRY):
	@echo "building distribution registry $(REGISTRY_VERSION) once into $(@D)"
	GOBIN=$(@D) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)

# Starts its own MinIO, `reliquary serve --storage s3` and the registry on
# free 127.0.0.1 ports; BENCH_* variables size it (bench/main.go, BENCHMARKS.md).
bench: $(MINIO) $(REGISTRY) bench-ui
	BENCH_MINIO=$(MINIO) BENCH_REGISTRY=$(REGISTRY) $(GO) run ./bench
	$(MAKE) --no-print-directory bench-go

# Benchmarks of one component each (BENCHMARKS.md, "Component benchmarks").
bench-go:
	$(GO) test -run '^$$' -bench 'Retention100k' -benchtime 1x ./internal/library/
	$(GO) test -run '^$$' -bench 'Resolve100k|InclusionProof100k|ConsistencyProof100k|LogAppend' -benchtime 2000x ./internal/index/
	$(GO) test -run '^$$' -bench 'SignCheckpoint' ./internal/transparency/
	$(GO) test -run '^$$' -bench 'Resolve1M' -benchtime 2000x -timeout 30m ./internal/index/

# Web UI: p95 of every page with 100,000 releases in one product (§6, §10).
.PHONY: bench-ui
bench-ui:
	$(GO) test ./internal/ui -run '^$$' -bench BenchmarkUIPages -benchtime 200x -timeout 30m

# Screenshots of every page into docs/screenshots/ (shown in the README),
# taken by the browser test in a real Chromium.
.PHONY: screenshots
screenshots: chromium
	RELIQUARY_SCREENSHOTS=1 $(GO) test ./internal/ui -run 'TestReleaseManagerStory|TestUIPhoneAndKeyboard' -count=1

vet:
	$(GO) vet ./...

# The download clients the redirect tests run for real (api TestRedirectClients),
# installed with apt-get when missing (sudo unless root).
APT_TOOLS := wget:wget aria2c:aria2 curl:curl
apt-tools:
	@missing=""; for t in $(APT_TOOLS); do \
		command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing$$missing with apt-get"; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# An independent check of openapi.yaml: Redocly's recommended rules (the
# deliberate exceptions are in .redocly.lint-ignore.yaml), with npm's
# @redocly/cli pinned and installed under the tools cache.
$(REDOCLY):
	@echo "installing @redocly/cli $(REDOCLY_VERSION) into $(TOOLS)/redocly-$(REDOCLY_VERSION)"
	npm install --no-audit --no-fund --prefix $(TOOLS)/redocly-$(REDOCLY_VERSION) @redocly/cli@$(REDOCLY_VERSION)

openapi-lint: $(REDOCLY)
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint --extends=recommended openapi.yaml

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

unit:
	$(GO) test $(TEST_FLAGS) ./...

test: tools vet lint openapi-lint unit fuzz-short

# Every fuzz target (their seed corpora also run in `unit`): a fixed number
# of inputs each in `make test`, longer with `make fuzz` (FUZZTIME=5m make
# fuzz). A count, not a duration: a short -fuzztime duration can end while
# the fuzzer is minimising an input, which Go reports as a failure
# ("context deadline exceeded") although nothing failed.
FUZZ_TARGETS := ./api:FuzzParseExpectedDigest ./api:FuzzParseRange ./api:FuzzNames ./api:FuzzJSONBodies ./api:FuzzOIDCExchange \
	./internal/index:FuzzVersionKey ./internal/canonjson:FuzzCanonical ./internal/manifest:FuzzParseReleaseManifest ./internal/oidc:FuzzVerify \
	./internal/ui:FuzzSafeNext ./internal/ui:FuzzReleaseFilter \
	./internal/transparency:FuzzParseCheckpoint ./internal/transparency:FuzzVerifyStatement \
	./internal/journal:FuzzRedact ./internal/journal:FuzzWebhookTarget ./api:FuzzParseTicket
FUZZ_TARGETS += ./internal/evidence:FuzzParse
FUZZ_TARGETS += ./internal/library:FuzzRolloutPlan
FUZZ_TARGETS += ./internal/snapshot:FuzzSnapshotStatement
FUZZ_TARGETS += ./internal/journal:FuzzDecodeObject
FUZZ_TARGETS += ./internal/secrets:FuzzOpen
FUZZTIME ?= 1m

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3000x

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

clean:
	rm -rf bin

# Fault tests at full length (a few minutes): the binary SIGKILLed 20 times
# under a mixed workload on the filesystem store (5 more on MinIO), and
# while 8 clients upload, on both stores. `make test` runs the same tests
# with 2-3 kills each. Then the 3-node cluster (internal/cluster) for 150 s
# with 15 kills and a partition (`make test`: 40 s, 4 kills).
.PHONY: chaos
chaos: $(MINIO)
	RELIQUARY_CHAOS_KILLS=20 $(GO) test -race -count=1 -timeout 30m -v ./internal/chaos/
	RELIQUARY_CLUSTER_SECONDS=150 RELIQUARY_CLUSTER_KILLS=15 $(GO) test -race -count=1 -timeout 30m -v -run TestClusterKillsAndPartition ./internal/cluster/
