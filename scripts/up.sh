#!/usr/bin/env bash
# make up / make down: the pinned VictoriaMetrics, VictoriaLogs and Jaeger
# for one's own use, every listener on loopback, data kept under the state
# directory across restarts. Idempotent: `up` starts what is not running and
# prints the variables to export; `down` stops what runs.
#   scripts/up.sh up|down|status
# Ports (change with the variables): VictoriaMetrics 8428, VictoriaLogs 9428,
# Jaeger OTLP/HTTP 4318, UI/API 16686 (and its other listeners, all loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.bin
STATE=${GTRUN_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/gtrun}
DATA=${GTRUN_BACKENDS_DIR:-$STATE/backends}
VM_PORT=${GTRUN_VM_PORT:-8428}
VL_PORT=${GTRUN_VL_PORT:-9428}
J_OTLP=${GTRUN_JAEGER_OTLP_PORT:-4318}
J_UI=${GTRUN_JAEGER_UI_PORT:-16686}
# Jaeger's other listeners, loopback too (by default they bind every interface).
J_GRPC=${GTRUN_JAEGER_OTLP_GRPC_PORT:-4317}
J_CHTTP=${GTRUN_JAEGER_COLLECTOR_HTTP_PORT:-14268}
J_CGRPC=${GTRUN_JAEGER_COLLECTOR_GRPC_PORT:-14250}
J_QGRPC=${GTRUN_JAEGER_QUERY_GRPC_PORT:-16685}
J_ADMIN=${GTRUN_JAEGER_ADMIN_PORT:-14269}

running() { # name: its pid file names a live process of that binary
  local pid
  pid=$(cat "$DATA/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$BIN/$1" ]
}

start() { # name health-url args...
  local name=$1 health=$2
  shift 2
  if running "$name"; then
    echo "up: $name already running (pid $(cat "$DATA/$name.pid"))"
    return
  fi
  [ -x "$BIN/$name" ] || { echo "up: $BIN/$name missing: run make backends" >&2; exit 1; }
  mkdir -p "$DATA/$name"
  setsid "$BIN/$name" "$@" >>"$DATA/$name.log" 2>&1 </dev/null &
  echo $! >"$DATA/$name.pid"
  for _ in $(seq 300); do
    if curl -fsS "$health" >/dev/null 2>&1; then
      echo "up: $name started (pid $!, data $DATA/$name, log $DATA/$name.log)"
      return
    fi
    running "$name" || break
    sleep 0.1
  done
  echo "up: $name did not come up; its log ($DATA/$name.log):" >&2
  tail -5 "$DATA/$name.log" >&2
  exit 1
}

up() {
  mkdir -p "$DATA"
  chmod 700 "$STATE" "$DATA" 2>/dev/null || true
  start victoria-metrics "http://127.0.0.1:$VM_PORT/health" -httpListenAddr="127.0.0.1:$VM_PORT" \
    -storageDataPath="$DATA/victoria-metrics" -retentionPeriod=100y -loggerLevel=ERROR
  start victoria-logs "http://127.0.0.1:$VL_PORT/health" -httpListenAddr="127.0.0.1:$VL_PORT" \
    -storageDataPath="$DATA/victoria-logs" -retentionPeriod=100y -loggerLevel=ERROR
  # Jaeger traces itself to its own OTLP gRPC port (the default, 4317 —
  # another program's when moved): kept on its own, and its last export at
  # exit, to a receiver already closed, given 1 s instead of 10.
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$J_GRPC" OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=1000 \
  SPAN_STORAGE_TYPE=badger start jaeger "http://127.0.0.1:$J_UI/api/services" \
    --badger.ephemeral=false --badger.directory-key="$DATA/jaeger/key" --badger.directory-value="$DATA/jaeger/data" \
    --collector.otlp.http.host-port="127.0.0.1:$J_OTLP" --collector.otlp.grpc.host-port="127.0.0.1:$J_GRPC" \
    --collector.http-server.host-port="127.0.0.1:$J_CHTTP" --collector.grpc-server.host-port="127.0.0.1:$J_CGRPC" \
    --query.http-server.host-port="127.0.0.1:$J_UI" --query.grpc-server.host-port="127.0.0.1:$J_QGRPC" \
    --admin.http.host-port="127.0.0.1:$J_ADMIN" --log-level=error
  cat <<EOF
# the backends run; for gtrun (and gt's own telemetry) export:
export GT_OTEL_LOGS_URL=http://127.0.0.1:$VL_PORT/insert/opentelemetry/v1/logs
export GT_OTEL_METRICS_URL=http://127.0.0.1:$VM_PORT/opentelemetry/api/v1/push
export GT_OTEL_TRACES_URL=http://127.0.0.1:$J_OTLP/v1/traces
# VictoriaLogs UI http://127.0.0.1:$VL_PORT/select/vmui · VictoriaMetrics UI http://127.0.0.1:$VM_PORT/vmui · Jaeger API http://127.0.0.1:$J_UI/api/services
EOF
}

down() {
  local name pid stopping=()
  # All asked at once: each takes ~2 s to flush and exit.
  for name in jaeger victoria-logs victoria-metrics; do
    if running "$name"; then
      kill "$(cat "$DATA/$name.pid")" && stopping+=("$name")
    else
      rm -f "$DATA/$name.pid"
    fi
  done
  for name in "${stopping[@]}"; do
    pid=$(cat "$DATA/$name.pid")
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$DATA/$name.pid"
    echo "down: $name stopped (data kept in $DATA/$name)"
  done
}

status() {
  local name
  for name in victoria-metrics victoria-logs jaeger; do
    if running "$name"; then echo "$name: running (pid $(cat "$DATA/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
