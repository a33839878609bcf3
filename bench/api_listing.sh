#!/bin/bash
# Streams a 1M-route Loc-RIB through the gRPC API and checks that the event loop stays
# responsive: bgp_blaster feeds tandemd 1,000,000 routes inside a private network
# namespace, then `tandemctl rib` and `tandemctl --json rib` list them while
# `tandemctl neighbor` probes the daemon every 50 ms. Prints times, tandemd's RSS
# (the table must not be copied) and the probe latencies. Needs root.
#   bench/api_listing.sh [BUILD_DIR]      (default: build)
set -eu
B=$(realpath "${1:-build}")
NS=tdlist$$
D=$(mktemp -d /tmp/tandem-listing.XXXXXX)
TD=; BL=; PR=
cleanup() {
  for p in $PR $BL $TD; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 10.0.0.1/32 dev lo
ip -n "$NS" addr add 10.0.0.2/32 dev lo
cat > "$D/tandemd.toml" <<EOT
[global]
router_id = "10.0.0.1"
local_as = 4200000100
listen = ["10.0.0.1"]
[api]
socket = "$D/api.sock"
[[peer]]
address = "10.0.0.2"
remote_as = 65001
passive = true
families = ["ipv4-unicast"]
EOT
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ip netns exec "$NS" "$B/apps/tandemd/tandemd" --config "$D/tandemd.toml" --log-level warn 2> "$D/tandemd.log" &
TD=$!
sleep 0.5
ip netns exec "$NS" "$B/bench/ingest/bgp_blaster" --connect 10.0.0.1 --bind 10.0.0.2 --no-stdin > "$D/blaster.log" 2>&1 &
BL=$!
CTL="ip netns exec $NS $B/apps/tandemctl/tandemctl --socket $D/api.sock"
n=0
for _ in $(seq 1 240); do
  n=$($CTL --json rib summary 2>/dev/null | python3 -c \
      'import json,sys; print(sum(int(f.get("prefixes",0)) for f in json.load(sys.stdin).get("families",[])))' \
      2>/dev/null || echo 0)
  [ "$n" -ge 1000000 ] && break
  sleep 0.5
done
echo "Loc-RIB prefixes: $n; tandemd $(grep VmRSS /proc/$TD/status | tr -s ' \t' ' ')"
( while :; do s=$(date +%s%N); $CTL neighbor > /dev/null; ms "$s"; sleep 0.05; done ) > "$D/probe.txt" &
PR=$!
sleep 1
s=$(date +%s%N); lines=$($CTL rib | wc -l); echo "tandemctl rib:        $lines lines in $(ms "$s") ms"
s=$(date +%s%N); lines=$($CTL --json rib | wc -l); echo "tandemctl --json rib: $lines lines in $(ms "$s") ms"
kill "$PR"; wait "$PR" 2>/dev/null || true; PR=
echo "tandemd $(grep VmHWM /proc/$TD/status | tr -s ' \t' ' ') (peak)"
python3 - "$D/probe.txt" <<'PY'
import statistics, sys
v = sorted(int(x) for x in open(sys.argv[1]) if x.strip())
print(f"neighbor probe while listing: n={len(v)} median={statistics.median(v)} ms max={v[-1]} ms")
PY
idle=$(for _ in $(seq 1 20); do s=$(date +%s%N); $CTL neighbor > /dev/null; ms "$s"; done | sort -n)
echo "neighbor probe idle: median $(echo "$idle" | sed -n 10p) ms max $(echo "$idle" | tail -1) ms"
