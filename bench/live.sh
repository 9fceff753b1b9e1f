#!/usr/bin/env bash
# Zero-drop receive rate on a veth in copy mode: `xdpflow run` (XDP + AF_XDP) side by side with
# `tcpdump -w /dev/null` (AF_PACKET), fed by the same AF_XDP generator, in one run; plus the
# generator's own ceiling. Needs root. See bench/README.md ("Live capture").
#
#   REPS=3 SECS=3 FLOWS=10000 LEN=64 bench/live.sh
#   XDPFLOW_ARGS="--n-dissections 0" bench/live.sh      # extra options for `xdpflow run`
#
# A rate "holds" when every frame the generator sent was received (xdpflow: frames counted by
# the workers; tcpdump: "packets captured") and the generator actually reached the rate (within
# 5 %). When the generator cannot reach a rate while the receiver runs, the search stops there:
# the figure is then a lower bound set by the generator, and the log says so. The
# search doubles the rate until it fails, then bisects 4 times. Each tool's zero-drop rate is
# the median over REPS searches.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
SECS=${SECS:-3}
FLOWS=${FLOWS:-10000}
LEN=${LEN:-64}
START=${START:-100000}
# Time between the generator's last frame and stopping the receiver: tcpdump's TPACKET_V3
# blocks retire after up to 1 s (libpcap's default timeout); frames still in an unretired
# block when it exits are lost to it, which is not what we measure.
SETTLE=${SETTLE:-2}
[ "$(id -u)" = 0 ] || { echo "bench/live.sh needs root (netns, XDP)"; exit 2; }
command -v tcpdump >/dev/null || apt-get install -y -qq tcpdump >/dev/null
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
cargo build --release -q -p appliance --bin xdpflow -p appliance-tests --bin xdpflow-replay
XDPFLOW=$PWD/target/release/xdpflow
REPLAY=$PWD/target/release/xdpflow-replay

NS=xfbench-$$
WORK=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link add xfcap numtxqueues 2 numrxqueues 2 type veth peer name xfgen \
  numtxqueues 2 numrxqueues 2
for i in xfcap xfgen; do
  ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
  ip -n "$NS" link set "$i" mtu 1500 up
done

# gen RATE → prints "sent pps"
gen() {
  local rate=$1 n=$(( $1 * SECS ))
  "$REPLAY" --netns "$NS" --iface xfgen --queues 2 --rate "$rate" \
    --synthetic "$FLOWS:$n:$LEN" | jq -r '"\(.frames) \(.pps)"'
}

# try_xdpflow RATE → 0 when every frame arrived
try_xdpflow() {
  local rate=$1 log=$WORK/x.log sum=$WORK/x.json
  rm -f "$sum"
  # shellcheck disable=SC2086 # XDPFLOW_ARGS is a list of options
  ip netns exec "$NS" "$XDPFLOW" run -i xfcap --json /dev/null --summary-json "$sum" -q \
    --progress never ${XDPFLOW_ARGS:-} 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -q "Capture started." "$log" && break; sleep 0.1; done
  read -r sent pps < <(gen "$rate")
  sleep "$SETTLE"
  kill -TERM "$pid"; wait "$pid" || true
  local got; got=$(jq -r '.frames' "$sum")
  echo "  xdpflow  rate $rate: sent $sent at ${pps%.*} pps, received $got" >&2
  [ "$got" = "$sent" ] && [ "${pps%.*}" -ge $(( rate * 95 / 100 )) ]
}

# try_tcpdump RATE → 0 when every frame was captured
try_tcpdump() {
  local rate=$1 log=$WORK/t.log
  ip netns exec "$NS" tcpdump -i xfcap -n -q -B 65536 -w /dev/null 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  read -r sent pps < <(gen "$rate")
  sleep "$SETTLE"
  kill -INT "$pid"; wait "$pid" || true
  local got; got=$(awk '/packets captured/ {print $1}' "$log")
  echo "  tcpdump  rate $rate: sent $sent at ${pps%.*} pps, captured $got" >&2
  [ "$got" = "$sent" ] && [ "${pps%.*}" -ge $(( rate * 95 / 100 )) ]
}

# search TOOL → the highest rate that holds
search() {
  local tool=$1 ok=0 bad=0 rate=$START
  while "try_$tool" "$rate"; do ok=$rate; rate=$(( rate * 2 )); [ $rate -gt 8000000 ] && break; done
  bad=$rate
  for _ in 1 2 3 4; do
    local mid=$(( (ok + bad) / 2 ))
    if "try_$tool" "$mid"; then ok=$mid; else bad=$mid; fi
  done
  echo "$ok"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "generator ceiling (nothing attached to xfcap, $FLOWS flows, $LEN-byte frames):" >&2
ceil=$(for _ in $(seq "$REPS"); do
  "$REPLAY" --netns "$NS" --iface xfgen --queues 2 --synthetic "$FLOWS:2000000:$LEN" | jq -r '.pps'
done | median)

x=(); t=()
for r in $(seq "$REPS"); do
  echo "repetition $r" >&2
  x+=("$(search xdpflow)")
  t+=("$(search tcpdump)")
done
xm=$(printf '%s\n' "${x[@]}" | median)
tm=$(printf '%s\n' "${t[@]}" | median)
echo
echo "| measure ($FLOWS flows, $LEN-byte frames, veth copy mode, ${SECS}s per step, median of $REPS) | packets/s |"
echo "|---|---:|"
echo "| generator ceiling (AF_XDP TX, nothing receiving) | ${ceil%.*} |"
echo "| xdpflow run, zero-drop receive rate (runs: ${x[*]}) | $xm |"
echo "| tcpdump -w /dev/null, zero-drop receive rate (runs: ${t[*]}) | $tm |"
awk -v a="$xm" -v b="$tm" 'BEGIN { if (b > 0) printf "| ratio xdpflow / tcpdump | %.2f× |\n", a / b }'
