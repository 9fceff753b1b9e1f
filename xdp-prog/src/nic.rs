//! What xdpflow asks about the NIC and about its own privileges before it captures: interface
//! index, RX queue count, the RSS hash key (and whether it is symmetric), the capabilities in
//! the effective set and the locked-memory limit.
//!
//! It only reads. Setting channels, the RSS key, flow hashing and IRQ affinity is
//! `deploy/nic-setup.sh`'s job, done once by the operator; `xdpflow run` only warns. The
//! `ioctl`s behind this module are in `ring/ethtool.rs`; this module has no `unsafe`.
//!
//! Lookups happen in the calling thread's network namespace (see `ring/ethtool.rs` for why
//! `ioctl` and not sysfs), except the queue-count fallback, which reads sysfs.
//!
//! # Capabilities
//!
//! The minimal effective set, per capture mode (everything else can be dropped; root has all):
//!
//! | capability | needed for | missing gives |
//! |---|---|---|
//! | `CAP_NET_RAW` | opening AF_XDP and AF_PACKET sockets | [`Error::MissingCapability`] from the socket call |
//! | `CAP_NET_ADMIN` | attaching the XDP program, updating its maps | (AF_XDP mode only) |
//! | `CAP_BPF` | loading the XDP program and creating its maps (kernel ≥ 5.8) | (AF_XDP mode only) |
//! | `CAP_PERFMON` | loading the XDP program without root: the verifier's Spectre v1 checks refuse its pointer arithmetic otherwise ("prohibited for !root") | (AF_XDP mode only) |
//! | `CAP_IPC_LOCK` | a UMEM larger than `RLIMIT_MEMLOCK` (see [`memlock_limit`]) | (AF_XDP mode only) |
//! | `CAP_SYS_NICE` | optional: real-time priority for pinned workers | |
//!
//! So `--capture af_packet` needs `CAP_NET_RAW` alone, and AF_XDP needs `CAP_NET_RAW`,
//! `CAP_NET_ADMIN`, `CAP_BPF` and `CAP_PERFMON`, plus `CAP_IPC_LOCK` when the UMEM exceeds the
//! memlock limit (`deploy/systemd/xdpflow.service` grants exactly these; `tests/service.rs`
//! checks that capture works with them as a non-root user, and fails naming each one left out).
//! The read-only queries of this module need none. Check up front with [`require`], which names
//! the first missing capability and how to grant it.

use std::fs;

use crate::Error;
use crate::ring::ethtool;

/// Index of `iface` in the calling thread's network namespace.
///
/// # Errors
///
/// [`Error::NoSuchInterface`] when there is no such interface.
pub fn if_index(iface: &str) -> Result<u32, Error> {
    ethtool::if_index(iface)
}

/// How many RX queues `iface` has: its combined plus RX-only channels (`ethtool -l`), or, for
/// drivers that do not report channels, the count of `/sys/class/net/IF/queues/rx-*`. At
/// least 1.
///
/// The sysfs fallback shows the network namespace `/sys` was mounted in, which differs from the
/// calling thread's after `setns` (`ip netns exec` remounts it; a thread that only entered a
/// namespace does not).
///
/// # Errors
///
/// [`Error::NoSuchInterface`] when there is no such interface; [`Error::Io`] when neither
/// source can be read.
pub fn rx_queue_count(iface: &str) -> Result<u32, Error> {
    if let Some(ch) = ethtool::channels(iface)? {
        let n = ch.combined.saturating_add(ch.rx);
        if n > 0 {
            return Ok(n);
        }
    }
    // `channels` already proved the interface exists in this namespace.
    let dir = format!("/sys/class/net/{iface}/queues");
    let entries = fs::read_dir(&dir).map_err(|source| Error::Io {
        what: format!("counting the RX queues of `{iface}` in {dir}"),
        source,
    })?;
    let n = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Ok(u32::try_from(n).unwrap_or(u32::MAX).max(1))
}

/// The RSS hash key of `iface` (`ethtool -x`), or `None` when the NIC has no RSS or does not
/// report its key (veth and most virtual NICs).
///
/// # Errors
///
/// [`Error::NoSuchInterface`]; [`Error::Io`] when the query fails otherwise.
pub fn rss_key(iface: &str) -> Result<Option<Vec<u8>>, Error> {
    ethtool::rss_key(iface)
}

/// Whether a Toeplitz RSS `key` hashes both directions of every TCP/UDP flow to the same queue,
/// which xdpflow needs because a flow's state lives on one worker.
///
/// Toeplitz (Microsoft RSS spec) XORs, for every set bit `i` of the input, the 32-bit window of
/// the key that starts at bit `i`. The input is `src addr | dst addr | src port | dst port`, so
/// swapping the directions moves each address bit by ±32 (IPv4) or ±128 (IPv6) positions and
/// each port bit by ±16. If the key repeats with a 16-bit period, the window at `i` equals the
/// window at `i ± 16k`, the same windows get XORed, and the hash is the same both ways (Woo and
/// Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling", 2012). The
/// classic key is `0x6d5a` repeated, which `deploy/nic-setup.sh` installs.
///
/// This checks exactly that sufficient condition: every byte equals the byte two before it.
/// It answers only the symmetry question: an all-zero key is symmetric too, but sends every
/// flow to one queue. It says nothing about NICs that hash with XOR or CRC32 instead of Toeplitz,
/// or that symmetrise the input themselves (`ethtool -X IF xfrm symmetric-xor`).
pub fn is_symmetric_rss_key(key: &[u8]) -> bool {
    key.len() >= 2
        && key
            .iter()
            .skip(2)
            .zip(key)
            .all(|(b, two_before)| b == two_before)
}

/// A Linux capability xdpflow may need (see the module docs for which mode needs which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `CAP_NET_ADMIN`: attach the XDP program, change NIC settings.
    NetAdmin,
    /// `CAP_NET_RAW`: open AF_XDP and AF_PACKET sockets.
    NetRaw,
    /// `CAP_BPF`: load BPF programs and create maps (kernel ≥ 5.8).
    Bpf,
    /// `CAP_IPC_LOCK`: lock more memory than `RLIMIT_MEMLOCK` allows (large UMEMs).
    IpcLock,
    /// `CAP_SYS_NICE`: real-time scheduling priority for workers.
    SysNice,
    /// `CAP_PERFMON`: lets the verifier accept the XDP program from a non-root process.
    Perfmon,
}

impl Capability {
    /// Every capability xdpflow knows, in bit order.
    pub const ALL: [Capability; 6] = [
        Capability::NetAdmin,
        Capability::NetRaw,
        Capability::IpcLock,
        Capability::SysNice,
        Capability::Perfmon,
        Capability::Bpf,
    ];

    /// The kernel's name, e.g. `"CAP_NET_ADMIN"`.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::Bpf => "CAP_BPF",
            Capability::IpcLock => "CAP_IPC_LOCK",
            Capability::SysNice => "CAP_SYS_NICE",
            Capability::Perfmon => "CAP_PERFMON",
        }
    }

    /// The bit number in the capability sets (`include/uapi/linux/capability.h`).
    pub const fn bit(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
            Capability::IpcLock => 14,
            Capability::SysNice => 23,
            Capability::Perfmon => 38,
            Capability::Bpf => 39,
        }
    }

    /// The error for an operation (`what`) that failed for want of this capability.
    pub(crate) fn missing(self, what: String) -> Error {
        Error::MissingCapability {
            what,
            cap: self.name(),
            cap_lower: self.lower_name(),
        }
    }

    /// The lower-case name `setcap` and `capsh` take.
    const fn lower_name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "cap_net_admin",
            Capability::NetRaw => "cap_net_raw",
            Capability::Bpf => "cap_bpf",
            Capability::IpcLock => "cap_ipc_lock",
            Capability::SysNice => "cap_sys_nice",
            Capability::Perfmon => "cap_perfmon",
        }
    }
}

/// The capabilities of `needed` that are not in the calling thread's effective set, in the
/// order given. Empty when all are there (always, for root).
///
/// # Errors
///
/// [`Error::Io`] when `/proc/thread-self/status` cannot be read; [`Error::ProcFormat`] when
/// it has no parsable `CapEff` line.
pub fn missing_capabilities(needed: &[Capability]) -> Result<Vec<Capability>, Error> {
    let status = read_status()?;
    missing_in(&status, needed)
}

/// `Ok` when every capability of `needed` is effective; otherwise
/// [`Error::MissingCapability`] naming the first missing one, `what` (e.g. "capturing on
/// `eth1` with AF_PACKET") and how to grant it.
///
/// # Errors
///
/// As described, plus those of [`missing_capabilities`].
pub fn require(what: &str, needed: &[Capability]) -> Result<(), Error> {
    let status = read_status()?;
    require_in(&status, what, needed)
}

/// The soft `RLIMIT_MEMLOCK` in bytes (`ulimit -l` × 1024), or `None` when unlimited. An AF_XDP
/// UMEM counts against it unless the process has `CAP_IPC_LOCK`.
///
/// # Errors
///
/// [`Error::Io`] when `/proc/self/limits` cannot be read; [`Error::ProcFormat`] when it has no
/// parsable "Max locked memory" line.
pub fn memlock_limit() -> Result<Option<u64>, Error> {
    const PATH: &str = "/proc/self/limits";
    let limits = fs::read_to_string(PATH).map_err(|source| Error::Io {
        what: format!("reading {PATH}"),
        source,
    })?;
    parse_memlock(&limits)
}

/// Capabilities are per thread, so prefer the calling thread's view.
fn read_status() -> Result<String, Error> {
    fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| fs::read_to_string("/proc/self/status"))
        .map_err(|source| Error::Io {
            what: "reading /proc/thread-self/status for the effective capabilities".to_owned(),
            source,
        })
}

/// The `CapEff:` mask of a `/proc/PID/status` text (16 hex digits).
fn parse_cap_eff(status: &str) -> Result<u64, Error> {
    let bad = |line: &str| Error::ProcFormat {
        path: "/proc/thread-self/status",
        what: "CapEff",
        line: line.to_owned(),
    };
    let line = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .ok_or_else(|| bad(""))?;
    let hex = line["CapEff:".len()..].trim();
    u64::from_str_radix(hex, 16).map_err(|_| bad(line))
}

fn missing_in(status: &str, needed: &[Capability]) -> Result<Vec<Capability>, Error> {
    let eff = parse_cap_eff(status)?;
    Ok(needed
        .iter()
        .copied()
        .filter(|c| eff & (1u64 << c.bit()) == 0)
        .collect())
}

fn require_in(status: &str, what: &str, needed: &[Capability]) -> Result<(), Error> {
    match missing_in(status, needed)?.first() {
        None => Ok(()),
        Some(cap) => Err(cap.missing(what.to_owned())),
    }
}

/// The soft limit on the "Max locked memory" line of `/proc/PID/limits`: the name, then the
/// soft and hard limits (a number or `unlimited`), then the unit.
fn parse_memlock(limits: &str) -> Result<Option<u64>, Error> {
    const NAME: &str = "Max locked memory";
    let bad = |line: &str| Error::ProcFormat {
        path: "/proc/self/limits",
        what: "Max locked memory",
        line: line.to_owned(),
    };
    let line = limits
        .lines()
        .find(|l| l.starts_with(NAME))
        .ok_or_else(|| bad(""))?;
    match line[NAME.len()..].split_whitespace().next() {
        Some("unlimited") => Ok(None),
        Some(soft) => soft.parse().map(Some).map_err(|_| bad(line)),
        None => Err(bad(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Microsoft RSS specification's sample key, the default of many drivers.
    const MICROSOFT_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// Toeplitz hash of `input` with `key`, straight from the RSS specification.
    fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
        let bit = |i: usize| (key[i / 8] >> (7 - i % 8)) & 1;
        let window = |i: usize| (0..32).fold(0u32, |w, j| (w << 1) | u32::from(bit(i + j)));
        let mut hash = 0;
        for (n, byte) in input.iter().enumerate() {
            for b in 0..8 {
                if byte & (0x80 >> b) != 0 {
                    hash ^= window(n * 8 + b);
                }
            }
        }
        hash
    }

    /// IPv4 + ports input: src addr, dst addr, src port, dst port (RSS spec order).
    fn v4_input(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        [&src[..], &dst, &sport.to_be_bytes(), &dport.to_be_bytes()].concat()
    }

    #[test]
    fn repeated_6d5a_key_is_symmetric() {
        let key: Vec<u8> = [0x6d, 0x5a].repeat(20);
        assert!(is_symmetric_rss_key(&key));
        // And the claim behind it holds for the hash itself.
        let fwd = v4_input([198, 18, 0, 2], [198, 18, 0, 1], 40_000, 443);
        let rev = v4_input([198, 18, 0, 1], [198, 18, 0, 2], 443, 40_000);
        assert_eq!(toeplitz(&key, &fwd), toeplitz(&key, &rev));
    }

    #[test]
    fn microsoft_default_key_is_not_symmetric() {
        assert!(!is_symmetric_rss_key(&MICROSOFT_KEY));
        let fwd = v4_input([198, 18, 0, 2], [198, 18, 0, 1], 40_000, 443);
        let rev = v4_input([198, 18, 0, 1], [198, 18, 0, 2], 443, 40_000);
        assert_ne!(
            toeplitz(&MICROSOFT_KEY, &fwd),
            toeplitz(&MICROSOFT_KEY, &rev)
        );
        // The verification vector of the RSS spec (66.9.149.187:2794 → 161.142.100.80:1766).
        let spec = v4_input([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766);
        assert_eq!(toeplitz(&MICROSOFT_KEY, &spec), 0x51cc_c178);
    }

    #[test]
    fn short_or_broken_keys_are_not_symmetric() {
        assert!(!is_symmetric_rss_key(&[]));
        assert!(!is_symmetric_rss_key(&[0x6d]));
        let mut key = [0x6d, 0x5a].repeat(26);
        key[51] = 0x5b; // one bit off in the last byte of a 52-byte key
        assert!(!is_symmetric_rss_key(&key));
    }

    const STATUS_ROOT: &str = "Name:\tcargo\nUmask:\t0022\nCapInh:\t0000000000000000\n\
        CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n";
    /// CAP_NET_ADMIN (bit 12) and CAP_BPF (bit 39) only: 0x80_0000_1000.
    const STATUS_NO_RAW: &str = "Name:\txdpflow\nCapPrm:\t0000008000001000\n\
        CapEff:\t0000008000001000\n";

    #[test]
    fn cap_eff_is_parsed_from_status() {
        assert_eq!(parse_cap_eff(STATUS_ROOT).unwrap(), 0x1ff_ffff_ffff);
        assert_eq!(parse_cap_eff(STATUS_NO_RAW).unwrap(), 0x80_0000_1000);
        assert!(matches!(
            parse_cap_eff("Name:\tx\n"),
            Err(Error::ProcFormat { what: "CapEff", .. })
        ));
        assert!(matches!(
            parse_cap_eff("CapEff:\tzz\n"),
            Err(Error::ProcFormat { line, .. }) if line == "CapEff:\tzz"
        ));
    }

    #[test]
    fn missing_capabilities_keep_the_order_asked() {
        assert_eq!(missing_in(STATUS_ROOT, &Capability::ALL).unwrap(), vec![]);
        assert_eq!(
            missing_in(STATUS_NO_RAW, &Capability::ALL).unwrap(),
            vec![
                Capability::NetRaw,
                Capability::IpcLock,
                Capability::SysNice,
                Capability::Perfmon
            ]
        );
    }

    #[test]
    fn require_names_the_first_missing_capability_and_the_fix() {
        require_in(STATUS_ROOT, "capturing", &Capability::ALL).unwrap();
        let err = require_in(
            STATUS_NO_RAW,
            "capturing on `eth1` with AF_PACKET",
            &[
                Capability::NetAdmin,
                Capability::NetRaw,
                Capability::IpcLock,
            ],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            Error::MissingCapability {
                cap: "CAP_NET_RAW",
                cap_lower: "cap_net_raw",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "capturing on `eth1` with AF_PACKET needs CAP_NET_RAW; run as root or grant it \
             (systemd: AmbientCapabilities=CAP_NET_RAW; file: setcap cap_net_raw+ep)"
        );
    }

    #[test]
    fn capability_bits_match_the_kernel() {
        for (cap, bit) in Capability::ALL.iter().zip([12, 13, 14, 23, 38, 39]) {
            assert_eq!(cap.bit(), bit, "{}", cap.name());
            assert_eq!(cap.lower_name(), cap.name().to_lowercase());
        }
    }

    #[test]
    fn memlock_limit_is_parsed_from_limits() {
        let limited = "Limit                     Soft Limit           Hard Limit           Units\n\
            Max locked memory         8388608              8388608              bytes\n";
        assert_eq!(parse_memlock(limited).unwrap(), Some(8_388_608));
        let unlimited =
            "Max locked memory         unlimited            unlimited            bytes\n";
        assert_eq!(parse_memlock(unlimited).unwrap(), None);
        assert!(matches!(
            parse_memlock("Max open files 1024 1024 files\n"),
            Err(Error::ProcFormat { .. })
        ));
        // And the real file parses.
        memlock_limit().unwrap();
    }

    #[test]
    fn this_process_can_be_asked() {
        // Whatever we run as, the real file parses and the answer is a subset of what we asked.
        let missing = missing_capabilities(&Capability::ALL).unwrap();
        assert!(missing.iter().all(|c| Capability::ALL.contains(c)));
    }
}
