# replcheck — see README.md. Every target works on a fresh machine with Go.
GO       ?= go
PKGS     ?= ./...
BIN      ?= bin/replcheck
BENCHTIME ?= 1s
export TESTCONTAINERS_RYUK_DISABLED ?= true
SHELL := bash
.SHELLFLAGS := -eo pipefail -c

.PHONY: all build test test-short calibrate calibrate-containers suites suites-flaws bench lint fuzz clean engines engines-minio engines-ceph engines-swift test-engines

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/replcheck

# The CI gate: vet, every test with the race detector (the containers
# target's too, where a Docker engine answers; they skip saying why where
# none does), then the verifier against every flaw of the reference
# engine, and against the flaws that need real processes on containers.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)
	$(MAKE) --no-print-directory calibrate
	$(MAKE) --no-print-directory calibrate-containers

# Every flaw must be found, and the correct engine found clean, on each
# seed; fast settings (halved workloads) by default.
CALIBRATE_FLAGS ?= --quick --seeds 1,2 --parallel 6
calibrate:
	out=$$(mktemp -d); $(GO) run ./cmd/replcheck calibrate $(CALIBRATE_FLAGS) --out $$out; rm -rf $$out

# On containers, the flaws whose faults differ most from the embedded
# target: a crash is a SIGKILL of the site's process, a clock skew goes
# through its internal API. `replcheck calibrate --target containers` runs
# them all.
CALIBRATE_CONTAINERS_FLAGS ?= --quick --seeds 1 --parallel 2 --flaw volatile-queue --flaw wallclock-lww --flaw drop-delete-while-peer-down
calibrate-containers:
	@if ! docker info >/dev/null 2>&1; then echo "calibrate-containers: skipped: no Docker engine answers (docker info failed)"; exit 0; fi; \
	out=$$(mktemp -d); $(GO) run ./cmd/replcheck calibrate --target containers $(CALIBRATE_CONTAINERS_FLAGS) --out $$out; rm -rf $$out

# The Ginkgo suites against a target: TARGET=embedded (default),
# containers, external with SITES=sites.yaml (credentials from the
# environment variables the file names), or minio, ceph or swift (each
# suite starts that engine's topology here; `make engines` installs
# them; specs needing what the engine lacks skip). LABELS filters specs, e.g.
# LABELS='conformance && !slow'; FLAW turns on a reference-engine flaw.
# JUnit and JSON reports go to SUITES_OUT.
TARGET     ?= embedded
SITES      ?=
FLAW       ?=
LABELS     ?=
SUITES_OUT ?= suites-report
suites:
	@mkdir -p $(SUITES_OUT)
	REPLCHECK_TARGET=$(TARGET) REPLCHECK_SITES=$(SITES) REPLCHECK_FLAWS=$(FLAW) \
	  $(GO) tool ginkgo -r --keep-going --timeout 30m --junit-report junit.xml --json-report report.json \
	  --output-dir $(SUITES_OUT) $(if $(LABELS),--label-filter '$(LABELS)') ./suites

# The suites on the embedded engine with each flaw turned on in turn: each
# run must fail exactly in the specs labelled flaw:<name>.
FLAWS ?= sse-multipart-flatten sse-reencrypt-echo sse-plaintext-replica skip-encrypted wallclock-lww drop-delete-while-peer-down volatile-queue no-retry serial-large-objects
suites-flaws:
	@mkdir -p $(SUITES_OUT); rc=0; for f in $(FLAWS); do \
	  REPLCHECK_TARGET=embedded REPLCHECK_FLAWS=$$f $(GO) tool ginkgo -r --keep-going --timeout 30m --silence-skips \
	    --json-report flaw-$$f.json --output-dir $(SUITES_OUT) ./suites >$(SUITES_OUT)/flaw-$$f.log 2>&1 || true; \
	  $(GO) run ./tools/flawmatrix -flaw $$f $(SUITES_OUT)/flaw-$$f.json || rc=1; \
	done; exit $$rc

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

# docs/report-quickstart.png: a quickstart run's report.html in headless
# chromium, 1280 pixels wide (with fonts-liberation installed, the plots'
# text is drawn in the font they were laid out with).
report-screenshot:
	out=$$(mktemp -d); trap 'rm -rf $$out' EXIT; \
	$(GO) run ./cmd/replcheck run quickstart --out $$out >/dev/null || echo "quickstart did not pass: its report is taken all the same"; \
	REPLCHECK_REQUIRE_BROWSER=1 REPLCHECK_SCREENSHOT_RUN="$$(ls -d $$out/quickstart-* | head -1)" \
	  REPLCHECK_SCREENSHOT=$(CURDIR)/docs/report-quickstart.png \
	  $(GO) test -count=1 -run '^TestReportScreenshot$$' -v ./reports

# Real engines as targets (--target minio|ceph|swift; docs/engines/).
# MinIO's server and client are built from their Go modules into
# replcheck's engines directory (about 6 minutes on 2 cores, once);
# Ceph and Swift come from Debian's packages (root).
ENGINES_BIN   ?= $${XDG_CACHE_HOME:-$$HOME/.cache}/replcheck/engines/bin
MINIO_VERSION ?= v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION    ?= v0.0.0-20250313080218-cf909e1063a9
engines: engines-minio engines-ceph engines-swift
engines-minio:
	@bin=$(ENGINES_BIN); mkdir -p "$$bin"; \
	if [ -x "$$bin/minio" ] && [ -x "$$bin/mc" ]; then echo "minio and mc already in $$bin"; exit 0; fi; \
	echo "building minio and mc into $$bin"; \
	GOBIN="$$bin" $(GO) install github.com/minio/minio@$(MINIO_VERSION); \
	GOBIN="$$bin" $(GO) install github.com/minio/mc@$(MC_VERSION)
engines-ceph:
	command -v radosgw >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common >/dev/null; }
engines-swift:
	command -v swift-proxy-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends swift swift-proxy swift-account swift-container swift-object memcached python3-swiftclient >/dev/null; }

# The CI-sized engine job: MinIO's adapter tests (site replication through
# the WAN proxies, partitions, crash, proxied reads) and the quickstart
# scenario against it, missing binaries an error rather than a skip.
test-engines: engines-minio
	REPLCHECK_ENGINES=minio REPLCHECK_REQUIRE_ENGINES=minio $(GO) test -count=1 -timeout 10m ./harness/engines/minio
	out=$$(mktemp -d); $(GO) run ./cmd/replcheck run quickstart --target minio --out $$out; rc=$$?; rm -rf $$out; exit $$rc
