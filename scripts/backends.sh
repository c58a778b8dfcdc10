#!/usr/bin/env bash
# Build the pinned backend servers, and the test OpenTelemetry Collector,
# into .bin/ (once; gitignored).
#   scripts/backends.sh ensure [NAME...]   build whichever is missing (of the
#   named: victoria-metrics victoria-logs jaeger otelcol; default all four)
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=v1.151.0
VL_VERSION=v1.52.1
JAEGER_VERSION=v1.76.0
# The collector's modules are pinned in scripts/otelcol/go.mod (all at one
# release: v0.165.0 / v1.71.0), its own module so they never enter gtrun's.
mkdir -p .bin
# Measured cold on the 2-core machine (module downloads included): each
# build says what it builds, and how long it took.
# Measured cold (empty Go caches) on 2 cores: idle machine … loaded one.
declare -A estimate=([victoria-metrics]="1.5–3 min" [victoria-logs]="0.5–1.5 min" [jaeger]="4–12 min" [otelcol]="3–8 min")
building() { # name
  echo "backends: building $1 (once, cached in .bin/; ${estimate[$1]:-a few min} cold on 2 cores)"
  start=$SECONDS
}
built() { # name
  [ -x ".bin/$1" ] || { echo "backends: $1 was not built" >&2; exit 1; }
  echo "backends: $1 built in $((SECONDS - start)) s"
}
ensure() { # name
  [ -x ".bin/$1" ] && return
  building "$1"
  case "$1" in
    victoria-metrics) GOBIN="$PWD/.bin" GOFLAGS=-mod=mod go install "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@$VM_VERSION" ;;
    victoria-logs) GOBIN="$PWD/.bin" GOFLAGS=-mod=mod go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VL_VERSION" ;;
    jaeger)
      # Jaeger has replace directives, so `go install` refuses it: download
      # the module and build its all-in-one binary inside the module directory.
      dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      [ -n "$dir" ] || { echo "backends: jaeger download failed" >&2; exit 1; }
      (cd "$dir" && GOFLAGS=-mod=mod go build -o "$OLDPWD/.bin/jaeger" ./cmd/all-in-one) ;;
    otelcol) (cd scripts/otelcol && GOEXPERIMENT= GOFLAGS=-mod=readonly go build -trimpath -o "$OLDPWD/.bin/otelcol" .) ;;
    *) echo "backends: unknown server $1" >&2; exit 2 ;;
  esac
  built "$1"
}
case "${1:-ensure}" in
  ensure)
    shift || true
    [ $# -gt 0 ] || set -- victoria-metrics victoria-logs jaeger otelcol
    for n in "$@"; do ensure "$n"; done ;;
  *) echo "usage: $0 ensure [victoria-metrics|victoria-logs|jaeger|otelcol ...]" >&2; exit 2 ;;
esac
