#!/bin/sh
# Builds the XDP steering program: bpf/xdp_steer.bpf.c -> bpf/xdp_steer.bpf.o (or OUTPUT).
#
#   bpf/build.sh [OUTPUT]
#
# The output is byte-identical whatever directory the checkout lives in: clang runs inside
# bpf/ on the relative file name and records "." as the compilation directory, so no absolute
# path of the checkout ends up in the DWARF/BTF. It still depends on the compiler: the committed
# object is built with Debian 12's clang 14 (what .ci/run installs and compares against).
# xdp-prog/build.rs calls this script too, so cargo and CI build with the same flags.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
out=${1:-$here/xdp_steer.bpf.o}
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac
cd "$here"
exec "${CLANG:-clang}" -O2 -g -target bpf \
	-I/usr/include/x86_64-linux-gnu \
	-Wall -Wextra -Werror \
	-fdebug-compilation-dir=. -fdebug-prefix-map="$here"=. \
	-c xdp_steer.bpf.c -o "$out"
