#!/bin/bash
# Usage: [UPL=LOGS_URL UPM=METRICS_URL] blackhole.sh GT GTRUN_DIR [N]
# The real gt's exit-time flush against a hanging backend, with and without
# gtrun (issue 19). GT is a real gt with its in-process telemetry (built by
# ../shared/gastown-real/scripts/build.sh), GTRUN_DIR holds gtrun and
# gtrun-shipper. `gt version` timed N times each, interleaved:
#   off      bare gt, GT_OTEL_* unset
#   bare-bh  bare gt, GT_OTEL_* -> a loopback listener that never answers
#   gtrun-bh gt through the gtrun shim, GT_OTEL_* -> the same black hole (gt exports to gtrun's receiver)
#   gtrun-off gt through the gtrun shim, GT_OTEL_* unset
#   bare-up, gtrun-up (with UPL/UPM): the same with a real backend up
set -eu
GT=$1; TOOLS=$2; N=${3:-15}
W=$(mktemp -d); trap 'kill $BH 2>/dev/null; GTRUN_STATE_DIR=$W/st $TOOLS/gtrun shipper stop >/dev/null 2>&1; rm -rf $W' EXIT
python3 -c '
import socket,time,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",0)); s.listen(512)
print(s.getsockname()[1]); sys.stdout.flush()
held=[]
while True:
    c,_=s.accept(); held.append(c)
' > $W/port & BH=$!
for _ in $(seq 50); do [ -s $W/port ] && break; sleep 0.1; done
P=$(cat $W/port)
mkdir -p $W/shims $W/real; ln -s "$GT" $W/real/gt
GTRUN_STATE_DIR=$W/st $TOOLS/gtrun shim install $W/shims gt >/dev/null
export HOME=$W GTRUN_STATE_DIR=$W/st
BHL=http://127.0.0.1:$P/insert/opentelemetry/v1/logs; BHM=http://127.0.0.1:$P/opentelemetry/api/v1/push
t() { local s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 )); }
declare -A sum; declare -A all
for i in $(seq $N); do
  for mode in off bare-bh gtrun-bh gtrun-off ${UPL:+bare-up gtrun-up}; do
    case $mode in
      off) ms=$(env -u GT_OTEL_LOGS_URL -u GT_OTEL_METRICS_URL PATH=$W/real:$PATH bash -c "$(declare -f t); t gt version");;
      bare-bh) ms=$(GT_OTEL_LOGS_URL=$BHL GT_OTEL_METRICS_URL=$BHM PATH=$W/real:$PATH bash -c "$(declare -f t); t gt version");;
      gtrun-bh) ms=$(GT_OTEL_LOGS_URL=$BHL GT_OTEL_METRICS_URL=$BHM PATH=$W/shims:$W/real:$PATH bash -c "$(declare -f t); t gt version");;
      gtrun-off) ms=$(env -u GT_OTEL_LOGS_URL -u GT_OTEL_METRICS_URL PATH=$W/shims:$W/real:$PATH bash -c "$(declare -f t); t gt version");;
      bare-up) ms=$(GT_OTEL_LOGS_URL=$UPL GT_OTEL_METRICS_URL=$UPM PATH=$W/real:$PATH bash -c "$(declare -f t); t gt version");;
      gtrun-up) ms=$(GT_OTEL_LOGS_URL=$UPL GT_OTEL_METRICS_URL=$UPM PATH=$W/shims:$W/real:$PATH bash -c "$(declare -f t); t gt version");;
    esac
    all[$mode]+="$ms "
  done
done
for mode in off bare-bh gtrun-bh gtrun-off ${UPL:+bare-up gtrun-up}; do
  echo "$mode: $(echo ${all[$mode]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "median %d ms, min %d, max %d (n=%d)", a[int((NR+1)/2)], a[1], a[NR], NR}')"
done
echo "receiver journal: $($TOOLS/gtrun shipper status 2>/dev/null | head -3 | tr '\n' ' ')"
