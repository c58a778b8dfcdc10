# gtrun — see README.md. `make demo` and `make test` are the two commands.
GO      ?= go
BIN     := .bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gastown/gtrun/internal/cli.Version=$(VERSION)
# encoding/json on the v2 engine: same API and behaviour (the suite runs
# with it), about twice the decoding speed, which agent-log needs.
export GOEXPERIMENT := jsonv2

.PHONY: build backends test test-short demo bench vet fmt clean

build: ## build ./bin/gtrun
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/gtrun ./cmd/gtrun

backends: ## build VictoriaMetrics and VictoriaLogs (pinned) into .bin/ once
	bash scripts/backends.sh ensure

test: backends build ## the whole suite, end-to-end tests against the real servers included
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	GTRUN_BIN=$(CURDIR)/bin/gtrun $(GO) test -race -count=1 -timeout 20m ./...

test-short: build
	GTRUN_BIN=$(CURDIR)/bin/gtrun $(GO) test -short -count=1 ./...

demo: backends build ## start real VictoriaMetrics + VictoriaLogs and run a Gas Town scenario through gtrun
	bash scripts/demo.sh

bench: backends build ## wrapped vs bare overhead (backend up / refusing / black-holed) and agent-log throughput
	$(GO) run ./internal/bench/cmd

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .demo
