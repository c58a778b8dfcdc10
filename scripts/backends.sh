#!/usr/bin/env bash
# Build the pinned backend servers, and the test OpenTelemetry Collector,
# into .bin/ (once; gitignored).
#   scripts/backends.sh ensure   build whichever is missing
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=v1.151.0
VL_VERSION=v1.52.1
JAEGER_VERSION=v1.76.0
# The collector's modules are pinned in scripts/otelcol/go.mod (all at one
# release: v0.165.0 / v1.71.0), its own module so they never enter gtrun's.
mkdir -p .bin
build() { # name module
  if [ -x ".bin/$1" ]; then return; fi
  echo "backends: building $1 from $2 (once, cached in .bin/)"
  GOBIN="$PWD/.bin" GOFLAGS=-mod=mod go install "$2"
  [ -x ".bin/$1" ] || { echo "backends: $1 was not built" >&2; exit 1; }
}
case "${1:-ensure}" in
  ensure)
    build victoria-metrics "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@$VM_VERSION"
    build victoria-logs "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VL_VERSION"
    # Jaeger has replace directives, so `go install` refuses it: download the
    # module and build its all-in-one binary inside the module directory.
    if [ ! -x .bin/jaeger ]; then
      echo "backends: building jaeger all-in-one $JAEGER_VERSION (once, ~2-5 min)"
      dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      [ -n "$dir" ] || { echo "backends: jaeger download failed" >&2; exit 1; }
      (cd "$dir" && GOFLAGS=-mod=mod go build -o "$OLDPWD/.bin/jaeger" ./cmd/all-in-one)
      [ -x .bin/jaeger ] || { echo "backends: jaeger was not built" >&2; exit 1; }
    fi
    if [ ! -x .bin/otelcol ]; then
      echo "backends: building the OpenTelemetry Collector from scripts/otelcol (once, ~3-6 min)"
      (cd scripts/otelcol && GOEXPERIMENT= GOFLAGS=-mod=readonly go build -trimpath -o "$OLDPWD/.bin/otelcol" .)
      [ -x .bin/otelcol ] || { echo "backends: otelcol was not built" >&2; exit 1; }
    fi
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac
