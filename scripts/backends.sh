#!/usr/bin/env bash
# Build the pinned backend servers into .bin/ (once; gitignored).
#   scripts/backends.sh ensure   build whichever is missing
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=v1.151.0
VL_VERSION=v1.52.1
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
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac
