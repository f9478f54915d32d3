# hotpath: the gateway, its load generator and its benchmark upstream.
GO        ?= go
BIN       := bin
PKGS      := ./...
# Fuzz targets run for FUZZTIME each by `make fuzz`.
FUZZTIME  ?= 30s
# Upstream and gateway addresses used by `make run` (match the embedded default config).
ECHO_ADDR ?= 127.0.0.1:9001

.PHONY: all build run test test-short bench microbench fuzz lint vet fmt clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# The gateway on its embedded default config, in front of a real upstream
# process (hotecho). Ctrl-C stops both.
run: build
	@echo "starting hotecho on $(ECHO_ADDR) and hotpath on its embedded default config"
	@set -e; \
	$(BIN)/hotecho -addr $(ECHO_ADDR) & echo_pid=$$!; \
	trap 'kill $$echo_pid 2>/dev/null; wait $$echo_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/hotpath

# The whole test suite, race detector on.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Micro-benchmarks of every package (no peers needed).
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 $(PKGS) | tee $(BIN)/microbench.txt

# End-to-end benchmarks against peers (installs nginx, haproxy, wrk when it can).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 60m ./bench/... ./parser/... ./trie/... ./limiter/... ./cache/...

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

vet:
	$(GO) vet $(PKGS)

lint: vet
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w .

clean:
	rm -rf $(BIN)
