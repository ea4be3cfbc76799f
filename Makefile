# replcheck — see README.md. Every target works on a fresh machine with Go.
GO       ?= go
PKGS     ?= ./...
BIN      ?= bin/replcheck
BENCHTIME ?= 1s
export TESTCONTAINERS_RYUK_DISABLED ?= true
SHELL := bash
.SHELLFLAGS := -eo pipefail -c

.PHONY: all build test test-short bench lint fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/replcheck

# The CI gate: vet, then every test with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Engine benchmarks; those run against a peer in the same run are also
# printed as ratios (replcheck / peer, >1 means replcheck is better).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./engine/... | tee bench.out
	@echo; $(GO) run ./tools/benchratio < bench.out

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Short fuzzing passes over the request parsers.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./engine/s3api/sigv4/
	$(GO) test -run '^$$' -fuzz FuzzS3Request -fuzztime $(FUZZTIME) ./engine/s3api/
	$(GO) test -run '^$$' -fuzz FuzzSwiftRequest -fuzztime $(FUZZTIME) ./engine/swiftapi/

clean:
	rm -rf bin
