# gtrun — see README.md. `make demo` and `make test` are the two commands.
GO      ?= go
BIN     := .bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gastown/gtrun/internal/cli.Version=$(VERSION) -X github.com/gastown/gtrun/internal/cli/shipcli.Version=$(VERSION)
# Optimisations only, never a behaviour difference (the e2e suite runs
# against a plain `go install ./cmd/...` build):
#  - encoding/json on the v2 engine: same API, about twice the decoding
#    speed, which agent-log needs;
#  - CGO_ENABLED=0: a static binary, no dynamic loader at start-up (about
#    1 ms of every wrapped call on these machines).
export GOEXPERIMENT := jsonv2
# The binaries e2e tests run: installed the way a user would, no flags.
PLAIN   := $(CURDIR)/$(BIN)/plain

.PHONY: install preflight up down build backends test demo bench vet fmt clean cross tidy plain soak

install: ## go install ./cmd/...: gtrun and gtrun-shipper side by side in $(go env GOPATH)/bin (or $GOBIN)
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/...

build: ## build ./bin/gtrun and ./bin/gtrun-shipper (the delivery agent, beside it)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/gtrun ./cmd/gtrun-shipper

backends: ## build VictoriaMetrics, VictoriaLogs, Jaeger (and a test collector), pinned, into .bin/ once
	bash scripts/backends.sh ensure

plain: ## go install ./cmd/... with no Makefile flags, into .bin/plain
	GOEXPERIMENT= CGO_ENABLED= GOBIN=$(PLAIN) $(GO) install ./cmd/...

cross: ## gtrun builds and vets for macOS
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=darwin GOARCH=amd64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/gtrun ./cmd/gtrun-shipper
	GOOS=darwin GOARCH=amd64 $(GO) build -o /dev/null ./cmd/gtrun ./cmd/gtrun-shipper

tidy: ## go.mod lists what is used, direct dependencies as direct
	$(GO) mod tidy -diff

preflight: ## every tool make test needs, checked before anything is built
	@bash scripts/preflight.sh

test: preflight backends build plain vet cross tidy ## the whole suite, end-to-end tests against the real servers included
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	GTRUN_BIN=$(PLAIN) $(GO) test -race -count=1 -timeout 25m ./...

up: ## run the pinned VictoriaMetrics, VictoriaLogs and Jaeger for your own use (loopback, data under the state dir); prints the exports
	@bash scripts/backends.sh ensure victoria-metrics victoria-logs jaeger
	@bash scripts/up.sh up

down: ## stop what make up started (data kept)
	@bash scripts/up.sh down

# SOAK is how long the soak's writers run (make soak SOAK=1h); make test runs
# the same scenario with 24 s of writers.
SOAK    ?= 10m
soak: backends plain ## 10 min (SOAK=…) of four writers on two agents against a backend cycling through 500, 429, 400, 413, partial success, down, up
	GTRUN_SOAK=$(SOAK) GTRUN_BIN=$(PLAIN) $(GO) test -race -count=1 -timeout 2h -run '^TestSoak$$' -v ./internal/e2e/

demo: build ## start real VictoriaMetrics + VictoriaLogs + Jaeger and run a Gas Town scenario through gtrun
	bash scripts/backends.sh ensure victoria-metrics victoria-logs jaeger
	bash scripts/demo.sh

bench: backends build ## wrapped vs bare overhead (no backend / up / refusing / black-holed), delivery latency, agent-log throughput
	$(GO) run ./internal/bench/cmd

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .demo $(PLAIN)
