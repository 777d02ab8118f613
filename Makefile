# Reliquary — build, run, test.
#
#   make run     start the service on the embedded default (./reliquary-data, 127.0.0.1:8080)
#   make test    install the test tools when missing, then vet, staticcheck and go test -race
#   make tools   only install the test tools
#
# Tools are built once from the Go module proxy into the Go build cache
# ($(go env GOCACHE)/reliquary-tools/<tool>-<version>) and reused from there.

GO      ?= go
TOOLS   := $(shell $(GO) env GOCACHE)/reliquary-tools

MINIO_VERSION       := v0.0.0-20260212201848-7aac2a2c5b7c
COSIGN_VERSION      := v2.6.5
STATICCHECK_VERSION := v0.8.2

MINIO       := $(TOOLS)/minio-$(MINIO_VERSION)/minio
COSIGN      := $(TOOLS)/cosign-$(COSIGN_VERSION)/cosign
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)/staticcheck

export RELIQUARY_MINIO  := $(MINIO)
export RELIQUARY_COSIGN := $(COSIGN)

TEST_FLAGS ?= -race -timeout 30m

.PHONY: all build run test tools vet lint unit fuzz fuzz-short clean

all: build

build:
	$(GO) build -o bin/reliquary ./cmd/reliquary

run:
	$(GO) run ./cmd/reliquary serve

tools: $(MINIO) $(COSIGN) $(STATICCHECK)

$(MINIO):
	@echo "building MinIO $(MINIO_VERSION) once into $(@D) (several minutes)"
	GOBIN=$(@D) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

$(COSIGN):
	@echo "building cosign $(COSIGN_VERSION) once into $(@D) (several minutes)"
	GOBIN=$(@D) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

$(STATICCHECK):
	GOBIN=$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

vet:
	$(GO) vet ./...

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

unit:
	$(GO) test $(TEST_FLAGS) ./...

test: tools vet lint unit fuzz-short

# Every fuzz target (their seed corpora also run in `unit`): a few seconds
# each in `make test`, longer with `make fuzz` (FUZZTIME=5m make fuzz).
FUZZ_TARGETS := ./api:FuzzParseExpectedDigest ./api:FuzzParseRange ./api:FuzzNames ./api:FuzzJSONBodies \
	./internal/index:FuzzVersionKey ./internal/signing:FuzzCanonical ./internal/signing:FuzzParseReleaseManifest
FUZZTIME ?= 1m

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=4s

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

clean:
	rm -rf bin
