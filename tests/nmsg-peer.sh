#!/bin/sh
# Installs Go and Debian's go-nmsg, then builds the NMSG interop peer that tests/nmsg.rs uses
# (../shared/peers/nmsg). No network beyond Debian's archive. For CI:
#   sh tests/nmsg-peer.sh /tmp/nmsgpeer && export NMSG_PEER=/tmp/nmsgpeer/nmsgpeer
# With NMSG_PEER set, the NMSG interop tests fail (rather than skip) if the peer is missing.
set -eu
OUT=${1:-/tmp/nmsgpeer}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v go >/dev/null 2>&1 ||
    [ ! -d /usr/share/gocode/src/github.com/farsightsec/go-nmsg ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq golang-go golang-github-farsightsec-go-nmsg-dev
fi
sh "$ROOT/../shared/peers/nmsg/build.sh" "$OUT"
