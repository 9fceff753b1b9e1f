#!/usr/bin/env bash
# Side-by-side throughput of xdpflow and its peers on the merged public capture (big10.pcap).
#
#   bench/peers.sh                      # everything: install peers, build, make the pcap, measure
#   RUNS=5 WORK=/tmp/xbench bench/peers.sh
#
# Environment:
#   WORK      directory for big10.pcap and scratch files (default: a new mktemp -d; an existing
#             WORK/big10.pcap is reused)
#   RUNS      timed runs per tool (default 5); the table shows medians
#   COPIES    passes of the public set in the capture (default 10 -> big10.pcap, 515,880 pkts)
#   XDPFLOW   the binary (default: target/release/xdpflow of this workspace, built if missing)
#   NO_INSTALL=1  do not apt-get / pip install missing peers (skip them instead)
#   ONLY      regex: time only the tools whose name matches (e.g. 'xdpflow|ndpiReader')
#
# Measures, each RUNS times with hyperfine (the first, untimed pass of every tool warms the
# page cache and collects flow counts):
#   xdpflow pcap big10.pcap --workers 1 --tcp-end off --json /dev/null -q --progress never   (DPI on)
#   the same with --n-dissections 0                                                         (DPI off)
#   nfstream NFStreamer(statistical_analysis=False, n_dissections=20), iterated  (DPI on)
#   nfstream ... n_dissections=0                                                (no DPI)
#   ndpiReader -q -i big10.pcap                                                 (DPI on)
#   tcpdump -r big10.pcap -w /dev/null                                          (I/O floor)
# and the same commands on a 1-packet capture (start-up cost, reported in its own column;
# the main figures INCLUDE start-up, the "net" column subtracts it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
RUNS="${RUNS:-5}"
COPIES="${COPIES:-10}"
WORK="${WORK:-$(mktemp -d /tmp/xdpflow-peers.XXXXXX)}"
XDPFLOW="${XDPFLOW:-$ROOT/target/release/xdpflow}"
mkdir -p "$WORK"
PCAP="$WORK/big${COPIES}.pcap"
ONE="$WORK/one.pcap"

log() { printf '%s\n' "$*" >&2; }

# --- peers -------------------------------------------------------------------------------------
need_apt=()
command -v hyperfine >/dev/null || need_apt+=(hyperfine)
command -v ndpiReader >/dev/null || need_apt+=(libndpi-bin)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v editcap >/dev/null || need_apt+=(wireshark-common)
if ((${#need_apt[@]})) && [[ "${NO_INSTALL:-0}" != 1 ]]; then
    log "installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi
if ! python3 -c 'import nfstream' 2>/dev/null && [[ "${NO_INSTALL:-0}" != 1 ]]; then
    log "installing nfstream"
    python3 -m pip install -q nfstream >&2
fi
command -v hyperfine >/dev/null || { log "hyperfine is required"; exit 1; }

if [[ ! -x "$XDPFLOW" ]]; then
    log "building xdpflow"
    (cd "$ROOT" && cargo build --release -p appliance >&2)
fi

# --- the capture ---------------------------------------------------------------------------------
if [[ ! -s "$PCAP" ]]; then
    log "making $PCAP"
    python3 "$SHARED/bench/make_bench_pcap.py" "$SHARED/pcaps/public" "$WORK" "$COPIES" >&2
fi
[[ -s "$ONE" ]] || editcap -r "$PCAP" "$ONE" 1
PACKETS="$(capinfos -M -c -T "$PCAP" | awk -F'\t' 'NR==2 {print $2}')"
log "$PCAP: $PACKETS packets"

cat >"$WORK/nfs.py" <<'EOF'
import sys, time
t0 = time.perf_counter()
from nfstream import NFStreamer
t1 = time.perf_counter()
flows = packets = 0
for f in NFStreamer(source=sys.argv[1], statistical_analysis=False,
                    n_dissections=int(sys.argv[2])):
    flows += 1
    packets += f.bidirectional_packets
t2 = time.perf_counter()
print(f"flows={flows} packets_in_flows={packets} import_s={t1 - t0:.3f} iterate_s={t2 - t1:.3f}")
EOF

# name|command with {} for the capture|available?
tools=()
tools+=("xdpflow (1 worker, DPI on: --n-dissections 20, the default)|$XDPFLOW pcap {} --workers 1 --tcp-end off --json /dev/null -q --progress never|1")
tools+=("xdpflow (1 worker, DPI off: --n-dissections 0)|$XDPFLOW pcap {} --workers 1 --tcp-end off --n-dissections 0 --json /dev/null -q --progress never|1")
have_nfs=0; python3 -c 'import nfstream' 2>/dev/null && have_nfs=1
nfv="$(python3 -c 'import nfstream; print(nfstream.__version__)' 2>/dev/null || true)"
tools+=("nfstream $nfv (n_dissections=20, DPI)|python3 $WORK/nfs.py {} 20|$have_nfs")
tools+=("nfstream $nfv (n_dissections=0, no DPI)|python3 $WORK/nfs.py {} 0|$have_nfs")
have=0; command -v ndpiReader >/dev/null && have=1
tools+=("ndpiReader $(ndpiReader -h 2>/dev/null | sed -n 's/.*nDPI \([0-9.]*\).*/\1/p' | head -1) (DPI)|ndpiReader -q -i {}|$have")
have=0; command -v tcpdump >/dev/null && have=1
tools+=("tcpdump -r -w /dev/null (I/O floor)|tcpdump -r {} -w /dev/null|$have")

# ONLY=regex keeps the tools whose name matches (e.g. ONLY='xdpflow|ndpiReader'); the first
# kept tool is the reference of the "faster by" column.
if [[ -n "${ONLY:-}" ]]; then
    kept=()
    for t in "${tools[@]}"; do [[ "${t%%|*}" =~ $ONLY ]] && kept+=("$t"); done
    tools=("${kept[@]}")
fi

# --- untimed pass: warm the page cache, count flows --------------------------------------------
cat "$PCAP" >/dev/null
notes=()
for t in "${tools[@]}"; do
    IFS='|' read -r name cmd ok <<<"$t"
    [[ "$ok" == 1 ]] || { notes+=("-"); continue; }
    case "$name" in
    xdpflow*)
        c="${cmd//\{\}/$PCAP}"
        ${c//\/dev\/null/$WORK/xdpflow.json}
        notes+=("$(wc -l <"$WORK/xdpflow.json") flows")
        rm -f "$WORK/xdpflow.json" ;;
    nfstream*)
        out="$(${cmd//\{\}/$PCAP})"
        notes+=("$(sed -E 's/flows=([0-9]+).*iterate_s=([0-9.]+)/\1 flows; in-Python loop \2 s/' <<<"$out")") ;;
    ndpiReader*)
        out="$(ndpiReader -i "$PCAP" 2>&1)"
        flows="$(awk '/Unique flows:/ {print $3}' <<<"$out")"
        ppt="$(awk '/Packet Processing Time:/ {print $4, $5}' <<<"$out")"
        notes+=("$flows flows; own packet time $ppt") ;;
    *)
        ${cmd//\{\}/$PCAP} 2>/dev/null
        notes+=("-") ;;
    esac
done

# --- timed runs ----------------------------------------------------------------------------------
median_of() { # hyperfine json -> median seconds
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"
}
declare -a med one
i=0
for t in "${tools[@]}"; do
    IFS='|' read -r name cmd ok <<<"$t"
    if [[ "$ok" != 1 ]]; then med[i]=""; one[i]=""; i=$((i + 1)); continue; fi
    log "timing: $name"
    hyperfine -N -r "$RUNS" --export-json "$WORK/h$i.json" "${cmd//\{\}/$PCAP}" >&2
    hyperfine -N -r "$RUNS" -w 1 --export-json "$WORK/h${i}one.json" "${cmd//\{\}/$ONE}" >&2
    med[i]="$(median_of "$WORK/h$i.json")"
    one[i]="$(median_of "$WORK/h${i}one.json")"
    i=$((i + 1))
done

# --- table -----------------------------------------------------------------------------------------
echo
echo "### peers: $(basename "$PCAP"), $PACKETS packets, median of $RUNS, $(date -u +%F), $(nproc) cores"
echo
echo "| tool | packets | median s | packets/s | 1-packet run s | net packets/s | xdpflow faster by | notes |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
x="${med[0]}"
i=0
for t in "${tools[@]}"; do
    IFS='|' read -r name cmd ok <<<"$t"
    if [[ -z "${med[i]}" ]]; then
        echo "| $name | - | - | - | - | - | - | not installed |"
    else
        python3 - "$name" "$PACKETS" "${med[i]}" "${one[i]}" "$x" "${notes[i]}" <<'EOF'
import sys
name, n, m, o, x, note = sys.argv[1:]
n, m, o, x = int(n), float(m), float(o), float(x)
def rate(p):
    return f"{p / 1e6:.2f} M" if p >= 1e6 else f"{p / 1e3:.1f} k"
net = rate(n / (m - o)) if m > o else "-"
print(f"| {name} | {n} | {m:.3f} | {rate(n / m)} | {o:.3f} | {net} | {m / x:.1f}× | {note} |")
EOF
    fi
    i=$((i + 1))
done
echo
echo "(packets/s = packets in the file / median wall time, start-up included; net subtracts the"
echo " median wall time of the same command on a 1-packet capture; xdpflow faster by = this"
echo " tool's median time / xdpflow's)"
