//! The crate's one error enum. Messages are for the operator: they name the interface, queue or
//! setting at fault and, where there is one, the fix.
//!
//! Variants are grouped by the module that returns them; keep each group together.

use std::io;

/// Everything that can go wrong loading the steering program or opening a ring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- shared ---
    /// The interface name does not exist in this network namespace.
    #[error("interface `{iface}` does not exist (list interfaces with `ip link`)")]
    NoSuchInterface {
        /// The name given.
        iface: String,
    },
    /// A capability the operation needs is missing from the effective set.
    #[error(
        "{what} needs {cap}; run as root or grant it (systemd: AmbientCapabilities={cap}; \
         file: setcap {cap_lower}+ep)"
    )]
    MissingCapability {
        /// What was being done.
        what: String,
        /// The capability, e.g. `CAP_BPF`.
        cap: &'static str,
        /// The same in lower case, for setcap.
        cap_lower: &'static str,
    },
    /// A setting is out of range; the message says which and what is allowed.
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting, as the operator spells it.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    // --- loader (XDP program) ---
    /// An IP prefix (allow/deny list) did not parse or is out of range.
    #[error(
        "invalid IP prefix `{text}`: {reason} (write ADDRESS or ADDRESS/LENGTH, e.g. \
         `198.18.0.0/15` or `2001:db8::/32`)"
    )]
    InvalidPrefix {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The kernel refused the steering program or one of its maps; the source carries the
    /// verifier log when there is one.
    #[error("loading the XDP steering program failed")]
    LoadProgram {
        /// aya's error, boxed: it is large and this path is cold.
        #[source]
        source: Box<aya::EbpfError>,
    },
    /// Attaching the loaded program to the interface failed for a reason other than another
    /// XDP program being there ([`Error::XdpBusy`]).
    #[error(
        "attaching XDP to `{iface}` in {mode} mode failed (try another mode: `skb` works on \
         every interface)"
    )]
    Attach {
        /// The interface.
        iface: String,
        /// The mode tried.
        mode: crate::loader::XdpMode,
        /// aya's error.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// The interface already carries an XDP program that is not ours to remove.
    #[error("interface `{iface}` already carries XDP program {existing}; {fix}")]
    XdpBusy {
        /// The interface.
        iface: String,
        /// The program found there: id, name, mode and how it is attached, as far as known.
        existing: String,
        /// What the operator can do about it.
        fix: String,
    },
    /// Removing another XDP program (`--xdp-replace`) failed.
    #[error("detaching XDP program {existing} from `{iface}` failed (`{command}`): {reason}")]
    Detach {
        /// The interface.
        iface: String,
        /// The program that was to be removed.
        existing: String,
        /// The command that was run.
        command: String,
        /// What it said.
        reason: String,
    },
    /// Reading or writing one of the steering program's maps failed.
    #[error("BPF map `{map}`: {what}")]
    Map {
        /// The map's name in bpf/common.h.
        map: &'static str,
        /// What failed, naming interface and queue, and the fix when known.
        what: String,
        /// aya's error.
        #[source]
        source: aya::maps::MapError,
    },

    // --- ring: AF_XDP ---
    /// The kernel would not lock the UMEM in memory (`XDP_UMEM_REG`): the process lacks
    /// CAP_IPC_LOCK and the UMEM exceeds RLIMIT_MEMLOCK, or memory ran out.
    #[error(
        "registering a {bytes}-byte AF_XDP UMEM for `{iface}` queue {queue} failed: the kernel \
         locks UMEM pages in memory, which needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK of at least \
         {bytes} bytes (systemd: LimitMEMLOCK=infinity or AmbientCapabilities=CAP_IPC_LOCK; \
         shell: ulimit -l unlimited), or a smaller frame_count"
    )]
    UmemLocked {
        /// The interface.
        iface: String,
        /// The queue.
        queue: u32,
        /// UMEM size: `frame_size * frame_count`.
        bytes: u64,
        /// The kernel's answer (EPERM, ENOMEM or ENOBUFS).
        #[source]
        source: io::Error,
    },
    /// The queue does not exist on the interface.
    #[error(
        "interface `{iface}` has {available} queue(s), numbered from 0: AF_XDP cannot bind to \
         queue {queue}"
    )]
    XskNoSuchQueue {
        /// The interface.
        iface: String,
        /// The queue asked for.
        queue: u32,
        /// Queues the interface has (RX queues for a receiver, TX queues for a transmitter).
        available: u32,
    },
    /// Binding the AF_XDP socket to the queue failed.
    #[error("binding an AF_XDP socket to `{iface}` queue {queue} in {mode} mode failed{hint}")]
    XskBind {
        /// The interface.
        iface: String,
        /// The queue.
        queue: u32,
        /// `zero-copy` or `copy`: the last mode tried.
        mode: &'static str,
        /// The likely cause, when the errno tells (`; ...`), else empty.
        hint: &'static str,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A frame handed to `XskSocket::send` is empty or longer than a frame holds.
    #[error(
        "cannot send a {len}-byte frame: AF_XDP TX frames hold 1 to {max} bytes (frame_size \
         minus 256 bytes of headroom; raise frame_size for longer frames)"
    )]
    XskFrameLength {
        /// The frame's length.
        len: usize,
        /// The most a frame holds.
        max: u32,
    },
    /// The operation needs a ring the socket was opened without.
    #[error("the AF_XDP socket on `{iface}` queue {queue} has no {ring} ring ({setting} = 0)")]
    XskNoRing {
        /// The interface.
        iface: String,
        /// The queue.
        queue: u32,
        /// `RX` or `TX`.
        ring: &'static str,
        /// The setting that would create it.
        setting: &'static str,
    },

    // --- ring: AF_PACKET ---
    /// The kernel refused to add the socket to its fanout group.
    #[error(
        "joining AF_PACKET fanout group {group} on `{iface}` failed (the group id is per network \
         namespace: another socket may use {group} on another interface or in another mode; \
         pick another id)"
    )]
    FanoutGroup {
        /// The interface the socket is bound to.
        iface: String,
        /// The group id asked for.
        group: u16,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A frame header in the AF_PACKET ring points outside its block. The kernel never writes
    /// such a ring; this means memory corruption or a TPACKET layout this code does not know.
    #[error(
        "AF_PACKET ring on `{iface}` is corrupt: block {block} has a frame at offset {offset} \
         that runs past the end of the block"
    )]
    PacketRingCorrupt {
        /// The interface of the ring.
        iface: String,
        /// Index of the block.
        block: u32,
        /// Offset of the bad frame header inside the block.
        offset: u32,
    },

    // --- nic ---
    /// A file under `/proc` did not have the layout this code parses.
    #[error("cannot read {what} from {path}: unexpected line `{line}`")]
    ProcFormat {
        /// The file, e.g. `/proc/self/status`.
        path: &'static str,
        /// What was being read, e.g. `CapEff`.
        what: &'static str,
        /// The line that did not parse (empty when the line was missing).
        line: String,
    },
    /// Any other failed system call, with what was being attempted.
    #[error("{what}: {source}")]
    Io {
        /// What was being attempted, naming interface and queue.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}
