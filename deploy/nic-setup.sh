#!/usr/bin/env bash
# Steers a capture NIC for xdpflow, once, as root (CAP_NET_ADMIN):
#   - N combined channels (or N RX + N TX on drivers without combined channels),
#   - the symmetric RSS key (0x6d5a repeated, as long as the NIC's key) spread over the N queues,
#   - TCP and UDP over IPv4 and IPv6 hashed on addresses and ports (`sdfn`),
#   - each queue's IRQ pinned to one CPU, round-robin over the online CPUs.
# With the symmetric key both directions of a flow hash to the same queue, hence the same
# xdpflow worker (`xdpflow run` warns when the key is not symmetric). Nothing is made
# persistent: run it again after a reboot or driver reload (e.g. from a systemd unit).
set -euo pipefail

readonly PROG=nic-setup.sh

usage() {
    cat <<EOF
usage: $PROG [--dry-run] IF N

Sets N channels, a symmetric RSS key over N queues, TCP/UDP flow hashing on addresses and
ports, and pins each queue's IRQ to one CPU on interface IF, for xdpflow with N workers.

  --dry-run   print the commands instead of running them (reads the NIC, changes nothing)
  -h, --help  this text

Needs ethtool and root. Exits non-zero, naming the command, at the first step the driver
refuses; veth and most virtual NICs have no RSS (use \`--capture af_packet\` with a fanout
group there: the kernel's fanout hash is symmetric by itself).
EOF
}

dry_run=0
args=()
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=1 ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "$PROG: unknown option \`$arg'" >&2; usage >&2; exit 2 ;;
        *) args+=("$arg") ;;
    esac
done
if [ "${#args[@]}" -ne 2 ]; then
    usage >&2
    exit 2
fi
readonly IF="${args[0]}" N="${args[1]}"

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
warn() {
    echo "$PROG: warning: $*" >&2
}

[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number of channels, not \`$N'"
command -v ethtool >/dev/null || die "ethtool not found (Debian: apt-get install ethtool)"
[ -e "/sys/class/net/$IF" ] || die "interface \`$IF' does not exist (list them with \`ip link')"
if [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "changing NIC settings needs root (CAP_NET_ADMIN); try --dry-run to see the commands"
fi

# run HINT CMD...: prints CMD, runs it unless --dry-run, and stops with HINT when it fails.
# ethtool 6.1 exits 0 after some refusals ("Cannot change RX network flow hashing options:
# Operation not supported"), so its output is checked too.
run() {
    local hint="$1"
    shift
    echo "+ $*"
    [ "$dry_run" -eq 1 ] && return 0
    local out status=0
    out="$("$@" 2>&1)" || status=$?
    if [ "$status" -ne 0 ] || grep -qiE '^(cannot|netlink error)|not supported' <<<"$out"; then
        echo "$out" >&2
        die "\`$*' failed (exit $status): $hint"
    fi
    [ -z "$out" ] || echo "$out"
}

# 1. Channels. `ethtool -l` prints "Pre-set maximums:" then "Current hardware settings:",
# each with RX/TX/Other/Combined lines (a number or n/a).
channels="$(ethtool -l "$IF" 2>&1)" ||
    die "\`ethtool -l $IF' failed: the driver does not report channels ($channels)"
max_of() { # max_of RX|TX|Combined: the pre-set maximum, or empty for n/a
    awk -v k="$1:" '/^Current/ { exit } $1 == k && $2 ~ /^[0-9]+$/ { print $2 }' <<<"$channels"
}
max_combined="$(max_of Combined)"
max_rx="$(max_of RX)"
max_tx="$(max_of TX)"
if [ -n "$max_combined" ] && [ "$max_combined" -gt 0 ]; then
    [ "$N" -le "$max_combined" ] ||
        die "$IF supports at most $max_combined combined channels; $N asked"
    run "the driver refused the channel count (is an XDP program attached? detach it first)" \
        ethtool -L "$IF" combined "$N"
elif [ -n "$max_rx" ] && [ "$max_rx" -gt 0 ]; then
    # Separate RX and TX channels (e.g. veth): as many RX as asked, TX as many as allowed.
    [ "$N" -le "$max_rx" ] || die "$IF supports at most $max_rx RX channels; $N asked"
    tx="$N"
    if [ -n "$max_tx" ] && [ "$max_tx" -lt "$N" ]; then tx="$max_tx"; fi
    run "the driver refused the channel counts" ethtool -L "$IF" rx "$N" tx "$tx"
else
    die "$IF reports no settable channels (\`ethtool -l $IF'); it has a single queue: run xdpflow with 1 worker"
fi

# 2. Symmetric RSS key. `ethtool -x` prints "RSS hash key:" followed by the key as
# colon-separated hex bytes, or by "Operation not supported".
no_rss_hint="the driver of $IF has no settable RSS; there, use \`--capture af_packet' with a fanout group (the kernel's fanout hash is symmetric)"
rss="$(ethtool -x "$IF" 2>&1)" || rss_status=$?
key_len="$(awk '/^RSS hash key:/ { k = 1; next } k && /^[0-9a-fA-F][0-9a-fA-F](:[0-9a-fA-F][0-9a-fA-F])*$/ { n += split($0, b, ":"); next } k { exit } END { print n + 0 }' <<<"$rss")"
if [ "${rss_status:-0}" -ne 0 ] || [ "$key_len" -eq 0 ]; then
    if [ "$dry_run" -eq 1 ]; then
        why="$(awk '/^RSS hash key:/ { getline; print; exit }' <<<"$rss")"
        warn "\`ethtool -x $IF' shows no RSS hash key (${why:-$(head -n 1 <<<"$rss")}): the real run stops here; showing a 40-byte key"
        key_len=40
    else
        echo "$rss" >&2
        die "\`ethtool -x $IF' shows no RSS hash key: $no_rss_hint"
    fi
fi
key=""
for ((i = 0; i < key_len; i++)); do
    if ((i % 2 == 0)); then byte=6d; else byte=5a; fi
    key+="${key:+:}$byte"
done
run "$no_rss_hint" ethtool -X "$IF" hkey "$key" equal "$N"

# 3. Hash TCP and UDP on source/destination address and port. With the key above this stays
# symmetric; without ports (the default for UDP on many NICs) all UDP between two hosts would
# land on one queue.
for flow_type in tcp4 udp4 tcp6 udp6; do
    run "the driver does not let $flow_type hashing be set; check \`ethtool -n $IF rx-flow-hash $flow_type' (addresses only is still symmetric, but spreads less)" \
        ethtool -N "$IF" rx-flow-hash "$flow_type" sdfn
done

# 4. Pin each queue's IRQ to one CPU, round-robin. Most drivers name their queue IRQs after the
# interface in /proc/interrupts (e.g. "eth1-TxRx-0"); others (mlx5: "mlx5_comp0@pci:...") do
# not, and then all MSI vectors of the device are used.
cpus=()
while IFS=- read -r lo hi; do
    for ((c = lo; c <= ${hi:-$lo}; c++)); do cpus+=("$c"); done
done < <(tr ',' '\n' </sys/devices/system/cpu/online)
mapfile -t irqs < <(awk -v dev="$IF" '$NF == dev || index($NF, dev "-") == 1 || index($NF, dev "_") == 1 || index($NF, dev "@") == 1 { sub(":", "", $1); print $1 }' /proc/interrupts)
irq_source="/proc/interrupts entries named after $IF"
if [ "${#irqs[@]}" -eq 0 ] && [ -d "/sys/class/net/$IF/device/msi_irqs" ]; then
    for vector in "/sys/class/net/$IF/device/msi_irqs"/*; do
        [ -e "$vector" ] && irqs+=("${vector##*/}")
    done
    irq_source="the MSI vectors of $IF's device"
fi
if [ "${#irqs[@]}" -eq 0 ]; then
    warn "found no IRQ of $IF (none named after it in /proc/interrupts, no MSI vectors); IRQs not pinned"
else
    i=0
    for irq in "${irqs[@]}"; do
        cpu="${cpus[i % ${#cpus[@]}]}"
        i=$((i + 1))
        echo "+ echo $cpu > /proc/irq/$irq/smp_affinity_list"
        [ "$dry_run" -eq 1 ] && continue
        echo "$cpu" >"/proc/irq/$irq/smp_affinity_list" 2>/dev/null ||
            die "pinning IRQ $irq to CPU $cpu failed (\`echo $cpu > /proc/irq/$irq/smp_affinity_list'): its affinity may be managed by the kernel"
    done
    if command -v pidof >/dev/null && pidof irqbalance >/dev/null; then
        warn "irqbalance is running and will move these IRQs again: stop it, or set IRQBALANCE_BANNED_CPULIST"
    fi
fi

verb="set"
[ "$dry_run" -eq 0 ] || verb="would set"
echo "$PROG: $verb $IF: channels $N; symmetric RSS key (0x6d5a x $((key_len / 2)), $key_len bytes) over $N queues; TCP/UDP over IPv4/IPv6 hashed on addresses and ports; ${#irqs[@]} IRQs ($irq_source) pinned over CPUs ${cpus[*]}"
echo "$PROG: note: for \`--capture af_packet', also consider \`ethtool -K $IF gro off lro off': AF_PACKET sees frames after GRO/LRO merged them, so packet counts shrink (XDP sees every frame)"
