#!/usr/bin/env bash
# All benchmarks in one go: builds, makes big10.pcap (via peers.sh), runs the engine
# benchmarks and the side-by-side peer comparison. Markdown tables on stdout; progress on stderr.
#
#   bench/run.sh                   # WORK defaults to /tmp/xdpflow-bench (big10.pcap is reused)
#   RUNS=5 WORK=/tmp/xbench bench/run.sh | tee results.md
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export WORK="${WORK:-/tmp/xdpflow-bench}"
export RUNS="${RUNS:-5}"
mkdir -p "$WORK"
(cd "$ROOT" && cargo build --release -p appliance -p appliance-bench >&2)
ENGINE="$ROOT/target/release/engine"

echo "## xdpflow benchmarks, $(date -u +%F), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
# peers.sh makes the capture if needed, then times xdpflow and its peers.
"$HERE/peers.sh"
"$ENGINE" file "$WORK/big${COPIES:-10}.pcap" --runs "$RUNS"
"$ENGINE" synthetic --flows 10000 --flows 1000000 --runs "$RUNS"
# The same 10 k flows in a table sized for the CLI's default --max-flows (2 M).
"$ENGINE" synthetic --flows 10000 --max-flows 2000000 --only full --runs "$RUNS"
# 1 M flows with glibc's malloc asking for transparent huge pages (THP is madvise-only here).
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 "$ENGINE" synthetic --flows 1000000 --only full --runs "$RUNS"
"$ENGINE" memory --flows 1000000
