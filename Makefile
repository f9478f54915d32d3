# hotpath: the gateway, its load generator and its benchmark upstream.
GO        ?= go
BIN       := bin
PKGS      := ./...
# Fuzz targets run for FUZZTIME each by `make fuzz`.
FUZZTIME  ?= 30s
# Upstream and gateway addresses used by `make run` (match the embedded default config).
ECHO_ADDR ?= 127.0.0.1:9001
# What `-version` prints (cmd/internal/buildinfo): stamped into each binary by
# `make build`, because the toolchain's VCS stamp is "(devel)" and is absent
# with -buildvcs=false. Override for a release: make build VERSION=v1.2.0
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: all build run run-h2 test test-short bench bench-fleet microbench fuzz lint vet fmt clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# The gateway on its embedded default config, in front of a real upstream
# process (hotecho). Ctrl-C stops both.
run: build
	@echo "starting hotecho on $(ECHO_ADDR) and hotpath on its embedded default config"
	@set -e; \
	$(BIN)/hotecho -addr $(ECHO_ADDR) & echo_pid=$$!; \
	trap 'kill $$echo_pid 2>/dev/null; wait $$echo_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/hotpath

# make run with the upstream over HTTP/2: hotecho --h2c, config/h2c-upstream.yaml.
run-h2: build
	@echo "starting hotecho --h2c on $(ECHO_ADDR) and hotpath on config/h2c-upstream.yaml"
	@set -e; \
	$(BIN)/hotecho -addr $(ECHO_ADDR) --h2c & echo_pid=$$!; \
	trap 'kill $$echo_pid 2>/dev/null; wait $$echo_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/hotpath -config config/h2c-upstream.yaml

# The whole test suite, race detector on.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -race -count=1 -tags purego ./parser
	# The zero-allocation claims: the end-to-end ones skip under -race
	# (the race runtime allocates), so they run again without it.
	$(GO) test -count=1 -run 'Alloc|DoesNotAllocate' $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Micro-benchmarks of the hot-path packages (no peers needed), compared with
# the committed baseline by benchstat. One package at a time (-p 1) so that
# two benchmarks never share the two cores. `make microbench-baseline`
# refreshes the baseline (commit it with the change that moved it).
MICROBENCH_PKGS     ?= ./parser ./trie ./limiter ./cache ./compression ./metrics ./loadgen ./pool ./h2 ./iplist ./cors
MICROBENCH_COUNT    ?= 6
MICROBENCH_TIME     ?= 200ms
MICROBENCH_BASELINE := bench/baseline/microbench.txt
MICROBENCH_OUT      ?= bench/results/microbench.txt
MICROBENCH_RUN       = $(GO) test -p 1 -vet=off -run '^$$' -bench . -benchmem -count $(MICROBENCH_COUNT) -benchtime $(MICROBENCH_TIME) $(MICROBENCH_PKGS)

microbench:
	@mkdir -p $(dir $(MICROBENCH_OUT))
	$(MICROBENCH_RUN) | tee $(MICROBENCH_OUT)
	@! grep -Eq '^(FAIL|panic:|--- FAIL)' $(MICROBENCH_OUT) || (echo "microbench: a benchmark failed"; exit 1)
	@echo; echo "== benchstat $(MICROBENCH_BASELINE) (old) vs $(MICROBENCH_OUT) (new)"
	$(GO) tool benchstat $(MICROBENCH_BASELINE) $(MICROBENCH_OUT)

.PHONY: microbench-baseline
microbench-baseline:
	@mkdir -p $(dir $(MICROBENCH_BASELINE))
	$(MICROBENCH_RUN) | tee $(MICROBENCH_BASELINE).tmp
	@! grep -Eq '^(FAIL|panic:|--- FAIL)' $(MICROBENCH_BASELINE).tmp || (echo "microbench: a benchmark failed; baseline kept"; exit 1)
	mv $(MICROBENCH_BASELINE).tmp $(MICROBENCH_BASELINE)

# hotpath beside nginx and HAProxy (bench/README.md): installs the peers with
# apt-get when root and they are missing, writes bench/results/<date>_<time>/
# {results.md,results.json,latency.html}. Options go in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="-rounds 2 -d 5s -scenarios passthrough_small,gzip"
#   make bench BENCH_ARGS=-quick
BENCH_ARGS ?=

bench: build
	$(GO) build -o $(BIN)/ ./bench/cmd/grpcstream
	$(GO) run ./bench/cmd/harness -bin $(BIN) $(BENCH_ARGS)

# The fleet's figures (docs/fleet.md): two gateways sharing a 1000 req/s
# limit through Redis for 10 s (admitted rate, Redis commands per admitted
# request), and the hotpath process's CPU per rate-limited request with
# scope global vs local, interleaved. Needs redis-server (apt-get install
# redis-server). Options: FLEET_ARGS="-fleet.sync=400ms -fleet.duration=30s".
FLEET_ARGS ?=

bench-fleet: build
	$(GO) test -count=1 -run 'TestFleetFigure' -v -timeout 20m ./gateway -args -fleet.long -fleet.bin=$(abspath $(BIN))/hotpath $(FLEET_ARGS)

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

vet:
	$(GO) vet $(PKGS)

# The import direction (STYLE.md §1: imports point down) is checked by
# internal/importcheck; its test runs the same check, so make test does too.
lint: vet
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) run ./internal/importcheck
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w .

clean:
	rm -rf $(BIN)

# A load run with hotpath's pprof profiles captured over exactly the measured
# window (profiles/GUIDE.md). Needs hotpath running with its admin listener.
#   make profile NAME=before; hotload profile baseline save main runs/<dir>
#   make profile NAME=after BASE=main     # diffs the new run against `main`
PROFILE_URL ?= http://127.0.0.1:8080/
ADMIN       ?= http://127.0.0.1:9901
PROFILE_DIR ?= runs
NAME        ?= run
LOAD        ?= -c 64 --warmup 5s -d 30s
.PHONY: profile
profile: build
	$(BIN)/hotload $(LOAD) --pprof $(ADMIN) --profile-dir $(PROFILE_DIR) --name $(NAME) $(PROFILE_URL)
	@if [ -n "$(BASE)" ]; then $(BIN)/hotload profile diff $(BASE) $$(ls -d $(PROFILE_DIR)/2* | tail -1); fi
