#!/usr/bin/env bash
# make demo: start real VictoriaMetrics and VictoriaLogs on free loopback
# ports with temporary data, run a short Gas Town scenario through gtrun,
# show what landed, and stop the servers (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GTRUN=$ROOT/bin/gtrun
work=$(mktemp -d "${TMPDIR:-/tmp}/gtrun-demo.XXXXXX")
pids=()
cleanup() {
  [ -x "$GTRUN" ] && GTRUN_STATE_DIR="$work/state" "$GTRUN" shipper stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { # a loopback port nothing answers on
  local p
  while :; do
    p=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_up() { # url
  for _ in $(seq 300); do
    curl -fsS "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "demo: $1 did not come up" >&2; exit 1
}
VM_PORT=$(free_port); VL_PORT=$(free_port)
"$ROOT/.bin/victoria-metrics" -httpListenAddr=127.0.0.1:$VM_PORT -storageDataPath="$work/vm" \
  -search.latencyOffset=0s -retentionPeriod=100y -loggerLevel=ERROR >"$work/vm.log" 2>&1 & pids+=($!)
"$ROOT/.bin/victoria-logs" -httpListenAddr=127.0.0.1:$VL_PORT -storageDataPath="$work/vl" \
  -retentionPeriod=100y -loggerLevel=ERROR >"$work/vl.log" 2>&1 & pids+=($!)
J_OTLP=$(free_port); J_QUERY=$(free_port)
"$ROOT/.bin/jaeger" --collector.otlp.http.host-port=127.0.0.1:$J_OTLP --collector.otlp.grpc.host-port=127.0.0.1:$(free_port) \
  --collector.http-server.host-port=127.0.0.1:$(free_port) --collector.grpc-server.host-port=127.0.0.1:$(free_port) \
  --query.http-server.host-port=127.0.0.1:$J_QUERY --query.grpc-server.host-port=127.0.0.1:$(free_port) \
  --admin.http.host-port=127.0.0.1:$(free_port) --log-level=error >"$work/jaeger.log" 2>&1 & pids+=($!)
VM=http://127.0.0.1:$VM_PORT; VL=http://127.0.0.1:$VL_PORT; JQ=http://127.0.0.1:$J_QUERY
wait_up "$VM"; wait_up "$VL"
for _ in $(seq 300); do curl -fsS "$JQ/api/services" >/dev/null 2>&1 && break; sleep 0.1; done
echo "== VictoriaMetrics $VM   VictoriaLogs $VL   Jaeger $JQ"

export GTRUN_STATE_DIR=$work/state
export GT_OTEL_METRICS_URL=$VM/opentelemetry/api/v1/push
export GT_OTEL_LOGS_URL=$VL/insert/opentelemetry/v1/logs
export GT_OTEL_TRACES_URL=http://127.0.0.1:$J_OTLP/v1/traces
export GT_ROLE=gastown/polecats/Toast GT_RIG=gastown GT_POLECAT=Toast GT_SESSION=gt-gastown-Toast
export GT_WORK_RIG=gastown GT_WORK_BEAD=gt-demo
export GT_RUN=$(cat /proc/sys/kernel/random/uuid)
# the shim: `bd` on PATH is gtrun, the real bd (here a stand-in printing bd 1.0.5's bytes) comes after it
"$GTRUN" shim install "$work/shim" bd >/dev/null
export PATH="$work/shim:$ROOT/testdata/bd:$PATH"

echo "== scenario (run $GT_RUN)"
# Echo each command as a shell would take it (quotes kept), then run it.
quote() { case "$1" in *[!A-Za-z0-9_./=:@%+,-]*|'') printf "'%s'" "${1//\'/\'\\\'\'}" ;; *) printf '%s' "$1" ;; esac; }
run() { printf '$'; for a in "$@"; do printf ' '; quote "$a"; done; echo; "$@" || echo "  (exit $?)"; }
run bd create "Fix login"
run bd create "Write the test" --silent
run bd list
run bd show gt-nope
run bd mol wisp mol-patrol --json
run bd close gt-nope
run "$GTRUN" emit sling bead=gt-demo target=gastown/polecats/Toast
run "$GTRUN" emit mol.squash mol_id=gt-wisp-9hx done_steps=2 total_steps=2 digest_created=true
run "$GTRUN" emit done exit_type=COMPLETED
run "$GTRUN" sh -c 'echo "an ad-hoc command"; exit 3'
# an agent's transcript: a real Claude Code session (fixture), read into agent.event / agent.usage
export CLAUDE_CONFIG_DIR=$work/claude
mkdir -p "$CLAUDE_CONFIG_DIR/projects/-src-deep-manifest"
cp "$ROOT/internal/parse/testdata/transcripts/claude/ccl_v2.0.55_a7da6a22_main.jsonl" "$CLAUDE_CONFIG_DIR/projects/-src-deep-manifest/a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl"
touch -d '1 minute ago' "$CLAUDE_CONFIG_DIR/projects/-src-deep-manifest/"*.jsonl
AGENT_RUN=$(cat /proc/sys/kernel/random/uuid)
run env GT_RUN="$AGENT_RUN" "$GTRUN" agent-log --session gt-gastown-Toast --work-dir /src/deep-manifest --once

# Every call above only appended to the journal and returned; the delivery
# agent (gtrun-shipper, started by the first call) ships it. Wait for it:
echo; echo "== gtrun flush   (wait for the delivery agent to ship what the calls recorded)"
"$GTRUN" flush | sed 's/^/  /'
"$GTRUN" shipper status | sed 's/^/  /'
curl -fsS "$VL/internal/force_flush" >/dev/null; curl -fsS "$VM/internal/force_flush" >/dev/null
echo
echo "== VictoriaLogs: records of run $GT_RUN  (LogsQL: \"run.id\":=\"$GT_RUN\" | sort by (_time))"
for _ in $(seq 50); do
  n=$(curl -fsS "$VL/select/logsql/query" --data-urlencode "query=\"run.id\":=\"$GT_RUN\" | count()" | sed -n 's/.*"count(\*)":"\([0-9]*\)".*/\1/p')
  [ "${n:-0}" -ge 10 ] && break; sleep 0.2
done
curl -fsS "$VL/select/logsql/query" --data-urlencode \
  "query=\"run.id\":=\"$GT_RUN\" AND NOT _msg:agent.* | sort by (_time) | fields _time, _msg, status, subcommand, command, exit_code, duration_ms, bead_id, wisp_root_id, error" \
  | sed 's/^/  /'
echo
echo "== VictoriaLogs: tokens of the agent's run $AGENT_RUN, one agent.usage per API response"
curl -fsS "$VL/select/logsql/query" --data-urlencode \
  "query=_msg:agent.usage AND \"run.id\":=\"$AGENT_RUN\" | stats count() responses, sum(input_tokens) input, sum(output_tokens) output, sum(cache_read_tokens) cache_read, sum(cache_creation_tokens) cache_creation" | sed 's/^/  /'
echo
echo "== VictoriaMetrics: sum by (subcommand, status) (increase(gastown.bd.calls.total[1h]))"
# A sample is searchable about a second after VictoriaMetrics took it: wait
# for all six bd calls.
for _ in $(seq 100); do
  curl -fsS "$VM/internal/force_flush" >/dev/null
  total=$(curl -fsS "$VM/api/v1/query" --data-urlencode 'query=sum(increase(gastown.bd.calls.total[1h]))' --data-urlencode nocache=1 | grep -o '"value":\[[^]]*\]' || true)
  case "$total" in *'"6"]') break ;; esac
  sleep 0.1
done
out=$(curl -fsS "$VM/api/v1/query" --data-urlencode 'query=sum by (subcommand, status) (increase(gastown.bd.calls.total[1h]))' --data-urlencode nocache=1)
echo "$out" | grep -o '{"metric":{[^}]*},"value":\[[^]]*\]}' | sed 's/^/  /' || true
for q in 'sum(increase(gastown.bd.calls.total[1h]))' 'sum(increase(gastown.cmd.calls.total[1h]))' \
         'sum(increase(gastown.sling.dispatches.total[1h]))' 'histogram_quantile(0.95, sum by (le) (increase(gastown.bd.duration_ms_bucket[1h])))'; do
  v=$(curl -fsS "$VM/api/v1/query" --data-urlencode "query=$q" --data-urlencode nocache=1 | grep -o '"value":\[[^]]*\]' | head -1 || true)
  echo "  $q = ${v:-none}"
done
TRACE_ID=$(echo "$GT_RUN" | tr -d -)
echo; echo "== Jaeger: the run is one trace, id $TRACE_ID (from GT_RUN)"
for _ in $(seq 50); do
  spans=$(curl -fsS "$JQ/api/traces/$TRACE_ID" 2>/dev/null | grep -o '"operationName":"[^"]*"' | sort | uniq -c | sed 's/"operationName"://')
  [ -n "$spans" ] && break; sleep 0.2
done
echo "$spans" | sed 's/^/  /'
echo "  trace API: $JQ/api/traces/$TRACE_ID"
echo "  Jaeger UI: $JQ/trace/$TRACE_ID   (the UI's web assets are not in the Go module; a Jaeger built with them shows the waterfall there)"
echo; echo "== gtrun runs --since 1h"
"$GTRUN" runs --since 1h --width "${COLUMNS:-120}"
echo; echo "== gtrun trace   (the run as a waterfall, read back from VictoriaLogs)"
"$GTRUN" trace "$GT_RUN" --width "${COLUMNS:-120}"
mkdir -p "$ROOT/.demo"
"$GTRUN" trace "$GT_RUN" --html "$ROOT/.demo/run.html" >/dev/null
echo; echo "== the run in a browser: $ROOT/.demo/run.html   (gtrun trace $GT_RUN --serve follows a live run)"
echo; echo "== gtrun cost --by bead --run $AGENT_RUN --since 10000h   (what the agent's run cost, and which bead it went to)"
"$GTRUN" cost --by bead --run "$AGENT_RUN" --since 10000h --width "${COLUMNS:-120}" || true
echo; echo "demo done; these servers stop now (the URLs above die with them)."
echo "To keep servers for your own town: make up   (loopback, data kept; prints the GT_OTEL_* exports; make down stops them)"
