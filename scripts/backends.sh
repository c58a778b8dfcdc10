#!/usr/bin/env bash
# Build the pinned backend servers into .bin/ (once; gitignored).
#   scripts/backends.sh ensure   build whichever is missing
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=v1.151.0
VL_VERSION=v1.52.1
JAEGER_VERSION=v1.76.0
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
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac
