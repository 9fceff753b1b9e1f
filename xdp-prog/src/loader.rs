//! Loads the XDP steering program (`bpf/xdp_steer.bpf.c`), attaches it to an interface and
//! drives its maps: which AF_XDP socket serves which RX queue, the in-kernel pre-filter, and
//! the per-CPU counters.
//!
//! This module owns the program's whole life on the interface: it attaches through a BPF link
//! (so a killed process leaves nothing attached), refuses an interface that already carries
//! someone else's XDP program unless told to replace it, and detaches on drop. It does _not_
//! create AF_XDP sockets or rings (that is [`crate::ring`]), and it never sees packets: what the
//! program does to each frame is documented in `bpf/xdp_steer.bpf.c`, summarised here.
//!
//! # What the program does
//!
//! Every frame is counted as *seen* and then exactly one of: *redirected* to the AF_XDP socket
//! registered for its RX queue ([`Steer::register`]); *passed* (`XDP_PASS`) because no socket
//! serves that queue; *filtered* or *sampled out* by the pre-filter ([`SteerFilter`]); or a
//! *redirect error* when the kernel refuses the redirect. So
//! `seen = redirected + passed + filtered + sampled_out + redirect_errors`. Filtered and
//! sampled-out frames get `XDP_PASS` too: the host stack still receives them, the probe just
//! does not see them.
//!
//! The pre-filter only judges frames it can parse as IPv4 or IPv6 (behind up to two VLAN tags,
//! past up to 8 IPv6 extension headers). Anything else (ARP, MPLS, PPPoE, truncated headers)
//! is never filtered or sampled: it is steered like any frame and the userspace decoder counts
//! it. Sampling is per flow: a symmetric hash of addresses, ports and protocol decides, so both
//! directions of a kept flow are kept whole.
//!
//! # Maps (the ABI in `bpf/common.h`)
//!
//! | map | type | key → value |
//! |---|---|---|
//! | `steer_xsks` | XSKMAP, 1024 entries | RX queue → AF_XDP socket |
//! | `steer_counters` | PERCPU_ARRAY, 1 entry | 0 → `[u64; 6]` (indices in [`counter`]) |
//! | `steer_config` | ARRAY, 1 entry | 0 → `[u32; 10]` (word indices in [`config`]) |
//! | `steer_allow_v4`, `steer_deny_v4` | LPM_TRIE, 4096 entries | `Key<[u8; 4]>` → `u32` 1 |
//! | `steer_allow_v6`, `steer_deny_v6` | LPM_TRIE, 4096 entries | `Key<[u8; 16]>` → `u32` 1 |
//!
//! The values are plain arrays of fixed-width words rather than `#[repr(C)]` structs so that
//! no hand-written `Pod` implementation is needed outside [`crate::ring`]; a unit test checks
//! every constant below against `bpf/common.h`.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::BorrowedFd;
use std::process::Command;
use std::str::FromStr;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, MapData, MapError, PerCpuArray, XskMap};
use aya::programs::links::LinkType;
use aya::programs::xdp::XdpLinkId;
use aya::programs::{ProgramError, Xdp, loaded_links};
use aya::{Ebpf, EbpfLoader, Pod};
use tracing::{debug, info, warn};

use crate::Error;

/// The compiled program: built by `build.rs` from `bpf/xdp_steer.bpf.c` when clang is
/// present, else the committed `bpf/xdp_steer.bpf.o`.
static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("XDP_STEER_OBJ"));

/// Name of the program (the C function) in the object.
const PROGRAM: &str = "xdp_steer";

/// Map names, as in `bpf/common.h`.
mod map {
    pub(super) const XSKS: &str = "steer_xsks";
    pub(super) const COUNTERS: &str = "steer_counters";
    pub(super) const CONFIG: &str = "steer_config";
    pub(super) const ALLOW_V4: &str = "steer_allow_v4";
    pub(super) const ALLOW_V6: &str = "steer_allow_v6";
    pub(super) const DENY_V4: &str = "steer_deny_v4";
    pub(super) const DENY_V6: &str = "steer_deny_v6";
}

/// Number of entries of `steer_xsks` (`STEER_MAX_QUEUES`): the highest queue that can be
/// registered is one less.
pub const MAX_QUEUES: u32 = 1024;

/// Capacity of each LPM trie (`STEER_MAX_PREFIXES`): the most prefixes one list may hold per
/// address family.
pub const MAX_PREFIXES: usize = 4096;

/// Indices into the counters value (`STEER_CNT_*` in `bpf/common.h`).
pub mod counter {
    /// Every frame the program ran on.
    pub const SEEN: usize = 0;
    /// Redirected into the queue's AF_XDP socket.
    pub const REDIRECTED: usize = 1;
    /// No socket registered for the queue: `XDP_PASS`.
    pub const PASSED: usize = 2;
    /// Failed the pre-filter: `XDP_PASS`.
    pub const FILTERED: usize = 3;
    /// Flow not in the 1-in-N sample: `XDP_PASS`.
    pub const SAMPLED_OUT: usize = 4;
    /// The redirect helper refused: `XDP_PASS`.
    pub const REDIRECT_ERRORS: usize = 5;
    /// Number of counters.
    pub const COUNT: usize = 6;
}

/// Word indices and flag bits of the config value (`struct steer_config` in `bpf/common.h`).
pub mod config {
    /// Word holding the `F_*` flags.
    pub const FLAGS: usize = 0;
    /// Word holding N of the 1-in-N flow sample (0 or 1: keep all).
    pub const SAMPLE_ONE_IN: usize = 1;
    /// First of the 8 words of the protocol bitmap (bit `p % 32` of word `PROTOCOLS + p / 32`).
    pub const PROTOCOLS: usize = 2;
    /// Number of `u32` words.
    pub const WORDS: usize = 10;
    /// The deny tries hold at least one prefix.
    pub const F_DENY: u32 = 1 << 0;
    /// The allow tries hold at least one prefix.
    pub const F_ALLOW: u32 = 1 << 1;
    /// Only protocols in the bitmap pass.
    pub const F_PROTOS: u32 = 1 << 2;
}

/// How the program is attached to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum XdpMode {
    /// Try [`XdpMode::Driver`]; if the driver refuses, warn and use [`XdpMode::Skb`].
    #[default]
    Auto,
    /// Native XDP, run by the driver before any socket buffer exists (fast; needs driver
    /// support, which veth, virtio-net and most 10G+ NICs have).
    Driver,
    /// Generic XDP, run by the stack after the socket buffer is built (works everywhere, slow,
    /// and AF_XDP falls back to copy mode).
    Skb,
}

impl XdpMode {
    fn to_aya(self) -> aya::programs::XdpMode {
        match self {
            // Not used: `Steer::attach` resolves Auto to Driver, then Skb.
            XdpMode::Auto => aya::programs::XdpMode::Default,
            XdpMode::Driver => aya::programs::XdpMode::Driver,
            XdpMode::Skb => aya::programs::XdpMode::Skb,
        }
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Auto => "auto",
            XdpMode::Driver => "driver",
            XdpMode::Skb => "skb",
        })
    }
}

/// An IPv4 or IPv6 prefix for the allow/deny lists.
///
/// Parses `ADDRESS/LENGTH` (`198.18.0.0/15`, `2001:db8::/32`) or a bare address, which means
/// the host prefix (`/32`, `/128`). Host bits must be zero: `198.18.0.1/15` is rejected with
/// the network it probably meant. Displays as `ADDRESS/LENGTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length in bits: at most 32 for IPv4, 128 for IPv6.
    pub len: u8,
}

/// An LPM-trie key: prefix length and address bytes in network order, host bits cleared
/// (`struct steer_lpm_v4` / `steer_lpm_v6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LpmKey {
    V4(u32, [u8; 4]),
    V6(u32, [u8; 16]),
}

impl IpPrefix {
    fn max_len(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// The network of `addr`/`len` (host bits cleared); `len` must be in range.
    fn masked(addr: IpAddr, len: u8) -> IpAddr {
        match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }

    /// Checks the length and the host bits (the fields are public, so a prefix may have been
    /// built without parsing).
    fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidPrefix {
            text: format!("{}/{}", self.addr, self.len),
            reason,
        };
        let family = if self.addr.is_ipv4() { "IPv4" } else { "IPv6" };
        if self.len > self.max_len() {
            return Err(invalid(format!(
                "length {} is longer than the {} bits of an {family} address",
                self.len,
                self.max_len()
            )));
        }
        let network = Self::masked(self.addr, self.len);
        if network != self.addr {
            return Err(invalid(format!(
                "host bits are set (did you mean `{network}/{}`?)",
                self.len
            )));
        }
        Ok(())
    }

    /// Whether `ip` lies inside this prefix (never across families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && self.len <= self.max_len()
            && Self::masked(ip, self.len) == Self::masked(self.addr, self.len)
    }

    fn lpm_key(&self) -> LpmKey {
        let len = u32::from(self.len.min(self.max_len()));
        match Self::masked(self.addr, self.len.min(self.max_len())) {
            IpAddr::V4(a) => LpmKey::V4(len, a.octets()),
            IpAddr::V6(a) => LpmKey::V6(len, a.octets()),
        }
    }
}

impl FromStr for IpPrefix {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let text = s.trim();
        let invalid = |reason: String| Error::InvalidPrefix {
            text: s.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| invalid(format!("`{addr_text}` is not an IPv4 or IPv6 address")))?;
        let len = match len_text {
            None => {
                if addr.is_ipv4() {
                    32
                } else {
                    128
                }
            }
            // Digits only: `u8::from_str` would also take a sign ("+15").
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|_| l.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    invalid(format!(
                        "the length `{l}` is not a number of bits (0 to 128)"
                    ))
                })?,
        };
        let prefix = IpPrefix { addr, len };
        // Re-label the validation error with the text as the operator wrote it.
        prefix.validate().map_err(|e| match e {
            Error::InvalidPrefix { reason, .. } => invalid(reason),
            other => other,
        })?;
        Ok(prefix)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The in-kernel pre-filter. [`Default`] captures everything.
///
/// Only frames that parse as IPv4/IPv6 are judged; the rest always reach the probe. An IP
/// packet is *filtered* when
/// - its source or destination lies in a `deny` prefix; or
/// - `allow` is non-empty and neither its source nor its destination lies in an `allow` prefix
///   of its own family (an allow list of IPv4 prefixes only filters out all IPv6); or
/// - `protocols` is non-empty and its IP protocol (after IPv6 extension headers) is not in it.
///
/// Of the packets that pass, with `sample_one_in = N > 1` only flows whose symmetric hash
/// (addresses, ports for TCP/UDP/UDP-Lite/SCTP, protocol) is 0 mod N are kept: the rest are
/// *sampled out*. Both directions and all fragments of a flow share its fate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SteerFilter {
    /// If non-empty, only packets with an endpoint in one of these prefixes are captured.
    pub allow: Vec<IpPrefix>,
    /// Packets with an endpoint in one of these prefixes are never captured.
    pub deny: Vec<IpPrefix>,
    /// IP protocol numbers to capture (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …); empty = all.
    pub protocols: Vec<u8>,
    /// Keep one flow in N (by hash); 0 or 1 keeps all.
    pub sample_one_in: u32,
}

impl SteerFilter {
    /// The value of `steer_config`.
    fn config_words(&self) -> [u32; config::WORDS] {
        let mut words = [0u32; config::WORDS];
        if !self.deny.is_empty() {
            words[config::FLAGS] |= config::F_DENY;
        }
        if !self.allow.is_empty() {
            words[config::FLAGS] |= config::F_ALLOW;
        }
        if !self.protocols.is_empty() {
            words[config::FLAGS] |= config::F_PROTOS;
        }
        for &p in &self.protocols {
            words[config::PROTOCOLS + usize::from(p / 32)] |= 1 << (p % 32);
        }
        words[config::SAMPLE_ONE_IN] = self.sample_one_in;
        words
    }

    /// Validates every prefix and splits each list into the keys of its two tries.
    fn keys(&self) -> Result<TrieKeys, Error> {
        let mut keys = TrieKeys::default();
        for (list, name, v4, v6) in [
            (&self.allow, "allow", &mut keys.allow_v4, &mut keys.allow_v6),
            (&self.deny, "deny", &mut keys.deny_v4, &mut keys.deny_v6),
        ] {
            for prefix in list {
                prefix.validate()?;
                match prefix.lpm_key() {
                    LpmKey::V4(len, a) => v4.insert((len, a)),
                    LpmKey::V6(len, a) => v6.insert((len, a)),
                };
            }
            for (family, n) in [("IPv4", v4.len()), ("IPv6", v6.len())] {
                if n > MAX_PREFIXES {
                    return Err(Error::InvalidConfig {
                        setting: if name == "allow" {
                            "allow list"
                        } else {
                            "deny list"
                        },
                        reason: format!(
                            "{n} {family} prefixes; the steering program holds at most \
                             {MAX_PREFIXES} per family"
                        ),
                    });
                }
            }
        }
        Ok(keys)
    }
}

#[derive(Debug, Default)]
struct TrieKeys {
    allow_v4: HashSet<(u32, [u8; 4])>,
    allow_v6: HashSet<(u32, [u8; 16])>,
    deny_v4: HashSet<(u32, [u8; 4])>,
    deny_v6: HashSet<(u32, [u8; 16])>,
}

/// The program's counters, summed over CPUs.
///
/// `seen = redirected + passed + filtered + sampled_out + redirect_errors` holds for every
/// CPU once its frames are through; a snapshot taken while traffic flows may show `seen` a few
/// frames ahead. Frames the kernel drops *after* a successful redirect (the socket's RX ring
/// full, its FILL ring empty) are counted by the socket's statistics, not here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerCounters {
    /// Every frame the program ran on.
    pub seen: u64,
    /// Redirected into the AF_XDP socket of the frame's queue.
    pub redirected: u64,
    /// No socket registered for the frame's queue: left to the host stack.
    pub passed: u64,
    /// Failed the pre-filter: left to the host stack.
    pub filtered: u64,
    /// Flow outside the 1-in-N sample: left to the host stack.
    pub sampled_out: u64,
    /// The kernel refused the redirect (socket removed meanwhile): left to the host stack.
    pub redirect_errors: u64,
}

impl SteerCounters {
    fn sum(per_cpu: &[[u64; counter::COUNT]]) -> SteerCounters {
        let total = |i: usize| per_cpu.iter().fold(0u64, |acc, c| acc.wrapping_add(c[i]));
        SteerCounters {
            seen: total(counter::SEEN),
            redirected: total(counter::REDIRECTED),
            passed: total(counter::PASSED),
            filtered: total(counter::FILTERED),
            sampled_out: total(counter::SAMPLED_OUT),
            redirect_errors: total(counter::REDIRECT_ERRORS),
        }
    }

    /// `redirected + passed + filtered + sampled_out + redirect_errors`: equals `seen` once
    /// traffic has settled.
    pub fn outcomes(&self) -> u64 {
        self.redirected
            .wrapping_add(self.passed)
            .wrapping_add(self.filtered)
            .wrapping_add(self.sampled_out)
            .wrapping_add(self.redirect_errors)
    }
}

/// The typed maps of a loaded program.
struct Maps {
    xsks: XskMap<MapData>,
    counters: PerCpuArray<MapData, [u64; counter::COUNT]>,
    config: Array<MapData, [u32; config::WORDS]>,
    allow_v4: LpmTrie<MapData, [u8; 4], u32>,
    allow_v6: LpmTrie<MapData, [u8; 16], u32>,
    deny_v4: LpmTrie<MapData, [u8; 4], u32>,
    deny_v6: LpmTrie<MapData, [u8; 16], u32>,
}

/// The loaded (not yet attached) program and its maps.
struct Loaded {
    ebpf: Ebpf,
    maps: Maps,
}

fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, Error>
where
    M: TryFrom<aya::maps::Map, Error = MapError>,
{
    let missing = || MapError::InvalidName {
        name: name.to_owned(),
    };
    let map = ebpf.take_map(name).ok_or_else(missing);
    map.and_then(M::try_from).map_err(|source| Error::Map {
        map: name,
        what: "the embedded steering program lacks a map that bpf/common.h describes (rebuild \
               it with bpf/build.sh)"
            .to_owned(),
        source,
    })
}

impl Loaded {
    /// Creates the maps, loads the program through the verifier and applies `filter`.
    fn new(filter: &SteerFilter) -> Result<Loaded, Error> {
        let mut ebpf = EbpfLoader::new().load(OBJECT).map_err(|e| {
            permission_error(
                "loading the XDP steering program",
                &e,
                &[CAP_BPF, CAP_NET_ADMIN],
            )
            .unwrap_or_else(|| Error::LoadProgram {
                source: Box::new(e),
            })
        })?;
        let xdp = program(&mut ebpf)?;
        xdp.load().map_err(|e| {
            permission_error(
                "loading the XDP steering program",
                &e,
                &[CAP_BPF, CAP_NET_ADMIN],
            )
            .unwrap_or_else(|| Error::LoadProgram {
                source: Box::new(aya::EbpfError::ProgramError(e)),
            })
        })?;
        let maps = Maps {
            xsks: take_map(&mut ebpf, map::XSKS)?,
            counters: take_map(&mut ebpf, map::COUNTERS)?,
            config: take_map(&mut ebpf, map::CONFIG)?,
            allow_v4: take_map(&mut ebpf, map::ALLOW_V4)?,
            allow_v6: take_map(&mut ebpf, map::ALLOW_V6)?,
            deny_v4: take_map(&mut ebpf, map::DENY_V4)?,
            deny_v6: take_map(&mut ebpf, map::DENY_V6)?,
        };
        let mut loaded = Loaded { ebpf, maps };
        loaded.maps.set_filter(filter)?;
        Ok(loaded)
    }
}

fn program(ebpf: &mut Ebpf) -> Result<&mut Xdp, Error> {
    let wrong = |source: ProgramError| Error::LoadProgram {
        source: Box::new(aya::EbpfError::ProgramError(source)),
    };
    ebpf.program_mut(PROGRAM)
        .ok_or_else(|| wrong(ProgramError::UnexpectedProgramType))?
        .try_into()
        .map_err(wrong)
}

impl Maps {
    fn set_filter(&mut self, filter: &SteerFilter) -> Result<(), Error> {
        let keys = filter.keys()?;
        sync_trie(&mut self.allow_v4, map::ALLOW_V4, &keys.allow_v4)?;
        sync_trie(&mut self.allow_v6, map::ALLOW_V6, &keys.allow_v6)?;
        sync_trie(&mut self.deny_v4, map::DENY_V4, &keys.deny_v4)?;
        sync_trie(&mut self.deny_v6, map::DENY_V6, &keys.deny_v6)?;
        // The flags go last, so a list that becomes active is already filled.
        self.config
            .set(0, filter.config_words(), 0)
            .map_err(|source| Error::Map {
                map: map::CONFIG,
                what: "writing the filter settings failed".to_owned(),
                source,
            })?;
        debug!(
            message = "Steering filter set.",
            allow = filter.allow.len(),
            deny = filter.deny.len(),
            protocols = filter.protocols.len(),
            sample_one_in = filter.sample_one_in,
        );
        Ok(())
    }

    fn counters(&self) -> Result<SteerCounters, Error> {
        let values = self.counters.get(&0, 0).map_err(|source| Error::Map {
            map: map::COUNTERS,
            what: "reading the steering counters failed".to_owned(),
            source,
        })?;
        Ok(SteerCounters::sum(&values))
    }
}

/// Makes the trie hold exactly `want`: inserts first, then removes what is no longer wanted.
fn sync_trie<K: Pod + Eq + Hash>(
    trie: &mut LpmTrie<MapData, K, u32>,
    name: &'static str,
    want: &HashSet<(u32, K)>,
) -> Result<(), Error> {
    let map_error = |what: &str| {
        let what = what.to_owned();
        move |source| Error::Map {
            map: name,
            what,
            source,
        }
    };
    for &(len, data) in want {
        trie.insert(&Key::new(len, data), 1, 0)
            .map_err(map_error("adding a filter prefix failed"))?;
    }
    let stale = trie
        .keys()
        .filter(|k| {
            !k.as_ref()
                .is_ok_and(|k| want.contains(&(k.prefix_len(), k.data())))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_error("listing the filter prefixes failed"))?;
    for key in stale {
        trie.remove(&key)
            .map_err(map_error("removing a filter prefix failed"))?;
    }
    Ok(())
}

/// The steering program attached to one interface. Detaches on drop.
///
/// Dropping it closes the BPF link, which detaches the program; so does the process dying in
/// any way, `SIGKILL` included, because the kernel closes the link with the last descriptor.
pub struct Steer {
    iface: String,
    mode: XdpMode,
    program_id: Option<u32>,
    link: Option<XdpLinkId>,
    maps: Maps,
    // Last: the program (and with it the link) goes after the maps.
    ebpf: Ebpf,
}

// The appliance moves the `Steer` to its control thread.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Steer>();
};

impl fmt::Debug for Steer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Steer")
            .field("iface", &self.iface)
            .field("mode", &self.mode)
            .field("program_id", &self.program_id)
            .finish_non_exhaustive()
    }
}

impl Steer {
    /// Loads the steering program with `filter` applied and attaches it to `iface` in `mode`
    /// through a BPF link. No socket is registered yet: every frame is *passed* until
    /// [`Steer::register`] is called.
    ///
    /// With [`XdpMode::Auto`], driver mode is tried first; if the driver refuses, a warning
    /// names its error and generic (skb) mode is used. [`Steer::mode`] tells which.
    ///
    /// If `iface` already carries another XDP program, `replace = false` fails with
    /// [`Error::XdpBusy`], naming that program and the fix. `replace = true` detaches it first
    /// when it was attached through netlink (`ip link set … xdp…`, libxdp in netlink mode),
    /// by running `ip link set dev IFACE xdpgeneric|xdpdrv|xdpoffload off` (iproute2 must be
    /// installed); a program held through a BPF link by a running process cannot be taken over
    /// (the kernel forbids it) and still fails with [`Error::XdpBusy`].
    ///
    /// The calling thread's network namespace is the one used.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidPrefix`] / [`Error::InvalidConfig`]: `filter` is out of range;
    /// - [`Error::MissingCapability`]: `CAP_BPF` (loading) or `CAP_NET_ADMIN` (attaching);
    /// - [`Error::LoadProgram`]: the kernel refused the program (with the verifier log);
    /// - [`Error::NoSuchInterface`]: `iface` does not exist in this namespace;
    /// - [`Error::XdpBusy`] / [`Error::Detach`]: another XDP program is attached (see above);
    /// - [`Error::Attach`]: the kernel refused the attachment in `mode`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use xdp_prog::loader::{IpPrefix, Steer, SteerFilter, XdpMode};
    ///
    /// let filter = SteerFilter {
    ///     deny: vec!["198.18.0.0/24".parse::<IpPrefix>()?],
    ///     protocols: vec![6, 17],
    ///     ..SteerFilter::default()
    /// };
    /// let steer = Steer::attach("eth0", XdpMode::Auto, false, &filter)?;
    /// println!("attached in {} mode", steer.mode());
    /// // steer.register(queue, socket.as_fd())? for each AF_XDP socket, then:
    /// let c = steer.counters()?;
    /// println!("{} seen, {} redirected", c.seen, c.redirected);
    /// # Ok::<(), xdp_prog::Error>(())
    /// ```
    pub fn attach(
        iface: &str,
        mode: XdpMode,
        replace: bool,
        filter: &SteerFilter,
    ) -> Result<Steer, Error> {
        let Loaded { mut ebpf, maps } = Loaded::new(filter)?;
        let xdp = program(&mut ebpf)?;
        let (link, mode) = match mode {
            XdpMode::Driver | XdpMode::Skb => (attach_in(xdp, iface, mode, replace)?, mode),
            XdpMode::Auto => match attach_in(xdp, iface, XdpMode::Driver, replace) {
                Ok(link) => (link, XdpMode::Driver),
                Err(Error::Attach { source, .. }) => {
                    warn!(
                        message = "Native XDP was refused; falling back to generic (skb) mode, \
                                   which is slower and makes AF_XDP copy every frame.",
                        iface,
                        error = %error_chain(&*source),
                    );
                    (attach_in(xdp, iface, XdpMode::Skb, replace)?, XdpMode::Skb)
                }
                Err(other) => return Err(other),
            },
        };
        let program_id = xdp.info().ok().map(|i| i.id());
        if let Some(id) = program_id
            && xdp_link_of(id) == Ok(None)
        {
            warn!(
                message = "The XDP program was attached through netlink, not a BPF link: if \
                           this process is killed it stays attached. Remove it then with \
                           `ip link set dev IFACE xdpgeneric off` (or xdpdrv).",
                iface,
                program_id = id,
            );
        }
        info!(
            message = "Attached the XDP steering program.",
            iface,
            %mode,
            program_id,
        );
        Ok(Steer {
            iface: iface.to_owned(),
            mode,
            program_id,
            link: Some(link),
            maps,
            ebpf,
        })
    }

    /// The mode in use: [`XdpMode::Driver`] or [`XdpMode::Skb`], never `Auto`.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// Steers the frames of RX queue `queue` to `socket`, an AF_XDP socket bound to that
    /// queue of this interface. Replaces any socket registered for the queue before.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `queue` is not below [`MAX_QUEUES`]; [`Error::Map`]
    /// when the kernel refuses the socket (not an AF_XDP socket, or not bound yet).
    pub fn register(&mut self, queue: u32, socket: BorrowedFd<'_>) -> Result<(), Error> {
        self.check_queue(queue)?;
        self.maps
            .xsks
            .set(queue, socket, 0)
            .map_err(|source| Error::Map {
                map: map::XSKS,
                what: format!(
                    "registering the AF_XDP socket of queue {queue} on `{}` failed (it must be \
                     an AF_XDP socket bound to that queue)",
                    self.iface
                ),
                source,
            })?;
        debug!(message = "Registered an AF_XDP socket.", iface = %self.iface, queue);
        Ok(())
    }

    /// Stops steering queue `queue`: its frames are *passed* again. Unregistering a queue
    /// that has no socket is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `queue` is not below [`MAX_QUEUES`]; [`Error::Map`]
    /// when the kernel refuses the update.
    pub fn unregister(&mut self, queue: u32) -> Result<(), Error> {
        self.check_queue(queue)?;
        match self.maps.xsks.unset(queue) {
            Ok(()) => {}
            // An XSKMAP slot is always present; tolerate kernels that say otherwise.
            Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => {}
            Err(source) => {
                return Err(Error::Map {
                    map: map::XSKS,
                    what: format!("unregistering queue {queue} on `{}` failed", self.iface),
                    source,
                });
            }
        }
        debug!(message = "Unregistered an AF_XDP socket.", iface = %self.iface, queue);
        Ok(())
    }

    /// Replaces the pre-filter while the program runs. The maps are rewritten one entry at a
    /// time (new prefixes added, stale ones removed, then the flags, protocols and sample
    /// rate), so for that moment a frame may meet part of the old filter and part of the new.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPrefix`] / [`Error::InvalidConfig`] when `filter` is out of range
    /// (nothing is changed then); [`Error::Map`] when the kernel refuses an update (the filter
    /// may then be half applied: call again).
    pub fn set_filter(&mut self, filter: &SteerFilter) -> Result<(), Error> {
        self.maps.set_filter(filter)
    }

    /// The counters, summed over CPUs.
    ///
    /// # Errors
    ///
    /// [`Error::Map`] when the kernel refuses the read.
    pub fn counters(&self) -> Result<SteerCounters, Error> {
        self.maps.counters()
    }

    /// The kernel's id of the loaded program (as `bpftool prog` and `ip link` show it).
    pub fn program_id(&self) -> Option<u32> {
        self.program_id
    }

    fn check_queue(&self, queue: u32) -> Result<(), Error> {
        if queue < MAX_QUEUES {
            Ok(())
        } else {
            Err(Error::InvalidConfig {
                setting: "queue",
                reason: format!(
                    "queue {queue} of `{}` is beyond the steering program's {MAX_QUEUES} queues",
                    self.iface
                ),
            })
        }
    }
}

impl Drop for Steer {
    fn drop(&mut self) {
        let Some(link) = self.link.take() else { return };
        match program(&mut self.ebpf).map(|xdp| xdp.detach(link)) {
            Ok(Ok(())) => {
                info!(message = "Detached the XDP steering program.", iface = %self.iface)
            }
            Ok(Err(e)) => warn!(
                message = "Detaching the XDP steering program failed.",
                iface = %self.iface,
                error = %error_chain(&e),
            ),
            Err(e) => warn!(
                message = "Detaching the XDP steering program failed.",
                iface = %self.iface,
                error = %error_chain(&e),
            ),
        }
    }
}

/// Attaches in `mode` (`Driver` or `Skb`); on "another program is there", explains or, with
/// `replace`, removes it and tries once more.
fn attach_in(xdp: &mut Xdp, iface: &str, mode: XdpMode, replace: bool) -> Result<XdpLinkId, Error> {
    match xdp.attach(iface, mode.to_aya()) {
        Ok(link) => return Ok(link),
        Err(e) if !is_busy(&e) => return Err(attach_error(iface, mode, e)),
        Err(_) => {}
    }
    let found = attached_programs(iface);
    let existing = describe(&found);
    if !replace {
        return Err(Error::XdpBusy {
            iface: iface.to_owned(),
            existing,
            fix: busy_fix(iface, &found),
        });
    }
    let programs = match &found {
        Ok(p) if !p.is_empty() => p,
        _ => {
            return Err(Error::XdpBusy {
                iface: iface.to_owned(),
                existing,
                fix: busy_fix(iface, &found),
            });
        }
    };
    for p in programs {
        if let Some(link) = p.link {
            return Err(Error::XdpBusy {
                iface: iface.to_owned(),
                existing,
                fix: format!(
                    "even `--xdp-replace` cannot take over a BPF link; {}",
                    holder_fix(link)
                ),
            });
        }
        detach_netlink(iface, p)?;
        warn!(
            message = "Detached another XDP program to replace it.",
            iface,
            program_id = p.id,
            program_name = %p.name,
        );
    }
    xdp.attach(iface, mode.to_aya())
        .map_err(|e| attach_error(iface, mode, e))
}

fn is_busy(e: &ProgramError) -> bool {
    matches!(
        e,
        ProgramError::SyscallError(s)
            if matches!(s.io_error.raw_os_error(), Some(libc::EBUSY | libc::EEXIST))
    )
}

fn attach_error(iface: &str, mode: XdpMode, e: ProgramError) -> Error {
    if let ProgramError::UnknownInterface { .. } = e {
        return Error::NoSuchInterface {
            iface: iface.to_owned(),
        };
    }
    permission_error(&format!("attaching XDP to `{iface}`"), &e, &[CAP_NET_ADMIN]).unwrap_or_else(
        || Error::Attach {
            iface: iface.to_owned(),
            mode,
            source: Box::new(e),
        },
    )
}

/// An XDP program found on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attached {
    id: u32,
    name: String,
    /// `IFLA_XDP_ATTACHED`: 1 driver, 2 generic (skb), 3 offload.
    mode: u64,
    /// The id of the BPF link holding it, if one does.
    link: Option<u32>,
}

impl Attached {
    fn ip_mode(&self) -> &'static str {
        match self.mode {
            1 => "xdpdrv",
            3 => "xdpoffload",
            _ => "xdpgeneric",
        }
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            1 => "driver",
            3 => "offload",
            _ => "generic",
        }
    }
}

/// The XDP programs on `iface`, as `ip -j link show dev IFACE` reports them (in the calling
/// thread's network namespace). `Err` says why they could not be listed.
fn attached_programs(iface: &str) -> Result<Vec<Attached>, String> {
    let out = Command::new("ip")
        .args(["-j", "link", "show", "dev", iface])
        .output()
        .map_err(|e| format!("running `ip` (iproute2) failed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`ip link show dev {iface}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_ip_link_xdp(&out.stdout)
        .into_iter()
        .map(|(id, name, mode)| Attached {
            link: xdp_link_of(id).ok().flatten(),
            id,
            name,
            mode,
        })
        .collect())
}

/// `(id, name, mode)` of each program in the `xdp` object of `ip -j link` output: either one
/// `{"mode", "prog"}` or, with several modes at once, an `attached` list of them.
fn parse_ip_link_xdp(json: &[u8]) -> Vec<(u32, String, u64)> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let Some(xdp) = value.get(0).and_then(|l| l.get("xdp")) else {
        return Vec::new();
    };
    let entries: Vec<&serde_json::Value> = match xdp.get("attached").and_then(|a| a.as_array()) {
        Some(list) => list.iter().collect(),
        None => vec![xdp],
    };
    entries
        .into_iter()
        .filter_map(|e| {
            let prog = e.get("prog")?;
            let id = u32::try_from(prog.get("id")?.as_u64()?).ok()?;
            let name = prog
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_owned();
            let mode = e.get("mode").and_then(|m| m.as_u64()).unwrap_or(0);
            Some((id, name, mode))
        })
        .collect()
}

/// The id of an XDP BPF link holding program `prog_id`: `Ok(None)` when none does, `Err` when
/// the links cannot be listed (that needs CAP_SYS_ADMIN, which the service does not have).
fn xdp_link_of(prog_id: u32) -> Result<Option<u32>, ()> {
    for link in loaded_links() {
        let link = link.map_err(|_| ())?;
        if link.program_id() == prog_id && matches!(link.link_type(), Ok(LinkType::Xdp)) {
            return Ok(Some(link.id()));
        }
    }
    Ok(None)
}

fn describe(found: &Result<Vec<Attached>, String>) -> String {
    match found {
        Ok(list) if !list.is_empty() => list
            .iter()
            .map(|p| {
                let how = match p.link {
                    Some(link) => format!("held by BPF link {link}"),
                    None => "attached through netlink".to_owned(),
                };
                format!("id {} `{}` ({} mode, {how})", p.id, p.name, p.mode_name())
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Ok(_) => "(none visible on the interface itself)".to_owned(),
        Err(why) => format!("(unknown: {why})"),
    }
}

fn busy_fix(iface: &str, found: &Result<Vec<Attached>, String>) -> String {
    match found {
        Ok(list) if !list.is_empty() => match list.iter().find_map(|p| p.link) {
            Some(link) => holder_fix(link),
            None => {
                let offs = list
                    .iter()
                    .map(|p| format!("`ip link set dev {iface} {} off`", p.ip_mode()))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "stop the program that attached it or remove it ({offs}), or pass \
                     `--xdp-replace` to have xdpflow detach it first"
                )
            }
        },
        Ok(_) => "the kernel says one is attached, possibly to an upper device (bond, team) of \
                  this interface; check `ip link`"
            .to_owned(),
        Err(_) => "stop the program that attached it, or pass `--xdp-replace` to have xdpflow \
                   detach it first"
            .to_owned(),
    }
}

/// Who holds BPF link `link`, and what to do about it.
fn holder_fix(link: u32) -> String {
    let holders = link_holders(link);
    if holders.is_empty() {
        format!(
            "no running process holds it, so it is pinned in bpffs: remove the pin under \
             /sys/fs/bpf (`bpftool link show id {link}`)"
        )
    } else {
        format!("stop {} (the process holding it)", holders.join(", "))
    }
}

/// Processes with a descriptor of BPF link `link_id` (from `/proc/PID/fdinfo`), as
/// "pid N `comm`"; at most four.
fn link_holders(link_id: u32) -> Vec<String> {
    let needle = format!("link_id:\t{link_id}");
    let mut holders = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return holders;
    };
    for proc in procs.flatten() {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:bpf_link")
                && std::fs::read_to_string(proc.path().join("fdinfo").join(fd.file_name()))
                    .is_ok_and(|info| info.lines().any(|l| l.trim_end() == needle))
        });
        if holds {
            let comm = std::fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
            holders.push(format!("pid {pid} `{}`", comm.trim()));
            if holders.len() == 4 {
                break;
            }
        }
    }
    holders
}

/// Removes a netlink-attached program with iproute2 (aya keeps its netlink helpers private).
fn detach_netlink(iface: &str, p: &Attached) -> Result<(), Error> {
    let args = ["link", "set", "dev", iface, p.ip_mode(), "off"];
    let command = format!("ip {}", args.join(" "));
    let failed = |reason: String| Error::Detach {
        iface: iface.to_owned(),
        existing: format!("id {} `{}`", p.id, p.name),
        command: command.clone(),
        reason,
    };
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| failed(format!("running `ip` (iproute2) failed: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

const CAP_NET_ADMIN: (&str, &str, u32) = ("CAP_NET_ADMIN", "cap_net_admin", 12);
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: (&str, &str, u32) = ("CAP_BPF", "cap_bpf", 39);

/// If `err`'s chain holds an `EPERM`, the [`Error::MissingCapability`] for the first of
/// `needed` missing from the calling thread's effective set (`CAP_SYS_ADMIN` stands in for
/// both). `None` when nothing is missing: then the `EPERM` has another cause (lockdown, an
/// LSM, or `RLIMIT_MEMLOCK` on kernels before 5.11) and the caller reports the error as is.
fn permission_error(
    what: &str,
    err: &(dyn std::error::Error + 'static),
    needed: &[(&'static str, &'static str, u32)],
) -> Option<Error> {
    let mut source = Some(err);
    let mut eperm = false;
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(libc::EPERM))
        {
            eperm = true;
            break;
        }
        source = e.source();
    }
    if !eperm {
        return None;
    }
    let effective = effective_caps()?;
    let has = |bit: u32| effective & (1u64 << bit) != 0;
    let missing = needed
        .iter()
        .find(|&&(_, _, bit)| !has(bit) && !has(CAP_SYS_ADMIN));
    match missing {
        Some(&(cap, cap_lower, _)) => Some(Error::MissingCapability {
            what: what.to_owned(),
            cap,
            cap_lower,
        }),
        None => {
            warn!(
                message = "The kernel said EPERM although the needed capabilities are \
                           effective: check kernel lockdown and LSM policy (or RLIMIT_MEMLOCK on \
                           kernels before 5.11).",
                what,
            );
            None
        }
    }
}

/// The calling thread's effective capability set (`CapEff` of `/proc/thread-self/status`).
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> IpPrefix {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn reject(s: &str) -> String {
        match s.parse::<IpPrefix>() {
            Ok(p) => panic!("`{s}` parsed as {p}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn prefixes_parse_and_display() {
        let p = prefix("198.18.0.0/15");
        assert_eq!(p.addr, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0)));
        assert_eq!(p.len, 15);
        assert_eq!(p.to_string(), "198.18.0.0/15");
        assert_eq!(prefix("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(prefix("0.0.0.0/0").len, 0);
        assert_eq!(prefix("::/0").len, 0);
        assert_eq!(
            prefix(" 198.18.0.0/16 ").len,
            16,
            "surrounding blanks are ignored"
        );
        for s in [
            "198.18.0.0/15",
            "2001:db8::/32",
            "198.18.0.7/32",
            "::1/128",
            "::/0",
        ] {
            assert_eq!(
                prefix(&prefix(s).to_string()),
                prefix(s),
                "round trip of {s}"
            );
        }
    }

    #[test]
    fn bare_address_is_a_host_prefix() {
        assert_eq!(prefix("198.18.0.1").len, 32);
        assert_eq!(prefix("198.18.0.1").to_string(), "198.18.0.1/32");
        assert_eq!(prefix("2001:db8::1").len, 128);
    }

    #[test]
    fn bad_prefixes_name_the_text_and_the_problem() {
        let e = reject("");
        assert!(e.contains("``") && e.contains("empty"), "{e}");
        let e = reject("198.18.0.300/24");
        assert!(
            e.contains("`198.18.0.300/24`") && e.contains("not an IPv4 or IPv6"),
            "{e}"
        );
        let e = reject("198.18.0.0/x");
        assert!(
            e.contains("`198.18.0.0/x`") && e.contains("`x` is not a number"),
            "{e}"
        );
        let e = reject("198.18.0.0/");
        assert!(e.contains("not a number"), "{e}");
        let e = reject("198.18.0.0/-1");
        assert!(e.contains("not a number"), "{e}");
        let e = reject("198.18.0.0/+15");
        assert!(e.contains("not a number"), "{e}");
        let e = reject("198.18.0.0/33");
        assert!(e.contains("33") && e.contains("32 bits of an IPv4"), "{e}");
        let e = reject("2001:db8::/129");
        assert!(e.contains("128 bits of an IPv6"), "{e}");
        let e = reject("198.18.0.1/15");
        assert!(
            e.contains("host bits") && e.contains("`198.18.0.0/15`"),
            "{e}"
        );
        let e = reject("2001:db8::1/32");
        assert!(e.contains("`2001:db8::/32`"), "{e}");
        let e = reject("198.18.0.0/15/1");
        assert!(e.contains("not a number"), "{e}");
        let e = reject("eth0");
        assert!(e.contains("`eth0` is not an IPv4 or IPv6 address"), "{e}");
        assert!(
            e.contains("e.g. `198.18.0.0/15`"),
            "the message shows the syntax: {e}"
        );
    }

    #[test]
    fn prefixes_built_by_hand_are_validated() {
        let bad = IpPrefix {
            addr: "198.18.0.1".parse().unwrap(),
            len: 24,
        };
        let filter = SteerFilter {
            deny: vec![bad],
            ..SteerFilter::default()
        };
        let e = filter.keys().unwrap_err().to_string();
        assert!(
            e.contains("`198.18.0.1/24`") && e.contains("198.18.0.0/24"),
            "{e}"
        );
        let too_long = IpPrefix {
            addr: "::".parse().unwrap(),
            len: 200,
        };
        assert!(too_long.validate().is_err());
    }

    #[test]
    fn contains_respects_length_and_family() {
        let p = prefix("198.18.0.0/15");
        assert!(p.contains("198.18.0.1".parse().unwrap()));
        assert!(p.contains("198.19.255.255".parse().unwrap()));
        assert!(!p.contains("198.20.0.0".parse().unwrap()));
        assert!(
            !p.contains("::ffff:198.18.0.1".parse().unwrap()),
            "families never mix"
        );
        assert!(prefix("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
        assert!(prefix("2001:db8::/32").contains("2001:db8:ffff::1".parse().unwrap()));
    }

    #[test]
    fn lpm_keys_are_length_and_network_order_bytes() {
        assert_eq!(
            prefix("198.18.0.0/15").lpm_key(),
            LpmKey::V4(15, [198, 18, 0, 0]) // prefixlen, then addr[4] as on the wire
        );
        assert_eq!(
            prefix("198.18.0.9").lpm_key(),
            LpmKey::V4(32, [198, 18, 0, 9])
        );
        assert_eq!(prefix("0.0.0.0/0").lpm_key(), LpmKey::V4(0, [0; 4]));
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(prefix("2001:db8::/32").lpm_key(), LpmKey::V6(32, v6));
        // Host bits of a hand-built prefix are cleared, so the kernel's exact-match delete
        // finds what was inserted.
        let sloppy = IpPrefix {
            addr: "198.18.255.255".parse().unwrap(),
            len: 16,
        };
        assert_eq!(sloppy.lpm_key(), LpmKey::V4(16, [198, 18, 0, 0]));
        // The byte layout aya sends: u32 prefix length (native order), then the address.
        assert_eq!(size_of::<Key<[u8; 4]>>(), 8, "struct steer_lpm_v4");
        assert_eq!(size_of::<Key<[u8; 16]>>(), 20, "struct steer_lpm_v6");
    }

    #[test]
    fn filter_config_words() {
        assert_eq!(
            SteerFilter::default().config_words(),
            [0; config::WORDS],
            "capture all"
        );
        let f = SteerFilter {
            allow: vec![prefix("198.18.0.0/15")],
            deny: vec![],
            protocols: vec![1, 6, 17, 58, 255],
            sample_one_in: 8,
        };
        let w = f.config_words();
        assert_eq!(w[config::FLAGS], config::F_ALLOW | config::F_PROTOS);
        assert_eq!(w[config::SAMPLE_ONE_IN], 8);
        // Word 2 holds protocols 0..31, word 3 32..63, …, word 9 224..255.
        assert_eq!(w[config::PROTOCOLS], (1 << 1) | (1 << 6) | (1 << 17));
        assert_eq!(w[config::PROTOCOLS + 1], 1 << (58 - 32));
        assert_eq!(w[config::PROTOCOLS + 7], 1 << 31);
        assert_eq!(w[config::PROTOCOLS + 2..config::PROTOCOLS + 7], [0; 5]);
    }

    #[test]
    fn filter_lists_split_by_family_and_are_capped() {
        let f = SteerFilter {
            allow: vec![
                prefix("198.18.0.0/15"),
                prefix("2001:db8::/32"),
                prefix("198.18.0.0/15"),
            ],
            deny: vec![prefix("198.18.0.1")],
            ..SteerFilter::default()
        };
        let k = f.keys().unwrap();
        assert_eq!(k.allow_v4.len(), 1, "duplicates collapse");
        assert_eq!(k.allow_v6.len(), 1);
        assert_eq!(k.deny_v4.len(), 1);
        assert!(k.deny_v6.is_empty());

        let many = (0..=MAX_PREFIXES as u32)
            .map(|i| IpPrefix {
                addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
                len: 32,
            })
            .collect();
        let f = SteerFilter {
            deny: many,
            ..SteerFilter::default()
        };
        let e = f.keys().unwrap_err().to_string();
        assert!(
            e.contains("deny list") && e.contains("4097 IPv4 prefixes"),
            "{e}"
        );
    }

    #[test]
    fn counters_sum_over_cpus() {
        let per_cpu = [[5, 1, 2, 1, 1, 0], [3, 0, 3, 0, 0, 0]];
        let c = SteerCounters::sum(&per_cpu);
        assert_eq!(
            c,
            SteerCounters {
                seen: 8,
                redirected: 1,
                passed: 5,
                filtered: 1,
                sampled_out: 1,
                redirect_errors: 0,
            }
        );
        assert_eq!(c.outcomes(), c.seen);
    }

    #[test]
    fn ip_link_json_is_read_in_both_shapes() {
        let one = br#"[{"ifindex":3,"ifname":"va","xdp":{"mode":2,"prog":{"id":13,"name":"xdp_steer","tag":"3c97","jited":1},"attached":[{"mode":2,"prog":{"id":13,"name":"xdp_steer","tag":"3c97","jited":1}}]}}]"#;
        assert_eq!(
            parse_ip_link_xdp(one),
            vec![(13, "xdp_steer".to_owned(), 2)]
        );
        let bare = br#"[{"ifname":"va","xdp":{"mode":1,"prog":{"id":7,"name":"other"}}}]"#;
        assert_eq!(parse_ip_link_xdp(bare), vec![(7, "other".to_owned(), 1)]);
        let none = br#"[{"ifindex":3,"ifname":"va","mtu":1500}]"#;
        assert!(parse_ip_link_xdp(none).is_empty());
        assert!(parse_ip_link_xdp(b"not json").is_empty());
    }

    #[test]
    fn modes_display_as_the_config_spells_them() {
        assert_eq!(XdpMode::Driver.to_string(), "driver");
        assert_eq!(XdpMode::Skb.to_string(), "skb");
        assert_eq!(XdpMode::default(), XdpMode::Auto);
    }

    /// Every constant mirrored here equals its `#define` in `bpf/common.h`.
    #[test]
    fn abi_constants_match_common_h() {
        let header = include_str!("../../bpf/common.h");
        let define = |name: &str| -> u64 {
            let line = header
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(name) && l.starts_with("#define"))
                .unwrap_or_else(|| panic!("{name} is not defined in bpf/common.h"));
            // The value: after the name, before any comment, without the outer parentheses.
            let value = line.split_once(name).unwrap().1;
            let value = value.split("/*").next().unwrap().trim();
            let value = value.trim_start_matches('(').trim_end_matches(')');
            if let Some(shift) = value.strip_prefix("1U << ") {
                1 << shift.parse::<u32>().unwrap()
            } else {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: cannot read `{line}`"))
            }
        };
        assert_eq!(define("STEER_MAX_QUEUES"), u64::from(MAX_QUEUES));
        assert_eq!(define("STEER_MAX_PREFIXES"), MAX_PREFIXES as u64);
        for (name, value) in [
            ("STEER_CNT_SEEN", counter::SEEN),
            ("STEER_CNT_REDIRECTED", counter::REDIRECTED),
            ("STEER_CNT_PASSED", counter::PASSED),
            ("STEER_CNT_FILTERED", counter::FILTERED),
            ("STEER_CNT_SAMPLED_OUT", counter::SAMPLED_OUT),
            ("STEER_CNT_REDIRECT_ERRORS", counter::REDIRECT_ERRORS),
            ("STEER_CNT_COUNT", counter::COUNT),
        ] {
            assert_eq!(define(name), value as u64, "{name}");
        }
        assert_eq!(define("STEER_F_DENY"), u64::from(config::F_DENY));
        assert_eq!(define("STEER_F_ALLOW"), u64::from(config::F_ALLOW));
        assert_eq!(define("STEER_F_PROTOS"), u64::from(config::F_PROTOS));
        // struct steer_config: flags, sample_one_in, protocols[8] — ten words, in this order.
        let body = header.split("struct steer_config {").nth(1).unwrap();
        let body = body.split("};").next().unwrap();
        let fields: Vec<&str> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("__u32 "))
            .map(|l| l.split(';').next().unwrap())
            .collect();
        assert_eq!(fields, ["flags", "sample_one_in", "protocols[8]"]);
        assert_eq!(
            (config::FLAGS, config::SAMPLE_ONE_IN, config::PROTOCOLS),
            (0, 1, 2)
        );
        assert_eq!(config::WORDS, 2 + 8);
        for name in [
            map::XSKS,
            map::COUNTERS,
            map::CONFIG,
            map::ALLOW_V4,
            map::ALLOW_V6,
            map::DENY_V4,
            map::DENY_V6,
        ] {
            assert!(
                header.contains(&format!(" *   {name} ")),
                "{name} listed in common.h"
            );
            assert!(name.len() <= 15, "{name} fits the kernel's object name");
        }
    }

    /// Runs of the real program on hand-made frames (`BPF_PROG_TEST_RUN`: no interface, no
    /// traffic). They need root for CAP_BPF; without it they say so and pass.
    mod prog_run {
        use super::*;
        use aya::programs::{TestRun, TestRunOptions};

        const XDP_PASS: u32 = 2;

        fn root(test: &str) -> bool {
            let root = effective_caps().is_some_and(|c| c & (1 << CAP_BPF.2) != 0);
            if !root {
                println!("skipped {test}: needs root (CAP_BPF, CAP_NET_ADMIN)");
            }
            root
        }

        fn load(filter: &SteerFilter) -> Loaded {
            Loaded::new(filter).unwrap_or_else(|e| panic!("{}", error_chain(&e)))
        }

        /// Runs the program on `frame`; returns the counter that moved.
        fn run(loaded: &Loaded, frame: &[u8]) -> &'static str {
            let before = loaded.maps.counters().unwrap();
            let prog: &Xdp = loaded.ebpf.program(PROGRAM).unwrap().try_into().unwrap();
            let mut opts = TestRunOptions::new();
            opts.data_in = Some(frame);
            let result = prog.test_run(opts).unwrap();
            assert_eq!(
                result.return_value, XDP_PASS,
                "no socket is registered: always PASS"
            );
            let after = loaded.maps.counters().unwrap();
            assert_eq!(after.seen, before.seen + 1);
            assert_eq!(after.outcomes(), after.seen, "seen = sum of outcomes");
            if after.passed > before.passed {
                "passed"
            } else if after.filtered > before.filtered {
                "filtered"
            } else if after.sampled_out > before.sampled_out {
                "sampled_out"
            } else {
                panic!("no outcome counted: {before:?} -> {after:?}")
            }
        }

        /// Ethernet header with `tags` VLAN tags (each: TPID, then VID 7).
        fn eth(tags: &[u16], ethertype: u16) -> Vec<u8> {
            let mut f = vec![
                0x02, 0, 0, 0, 0, 0x01, // destination MAC
                0x02, 0, 0, 0, 0, 0x02, // source MAC
            ];
            for tpid in tags {
                f.extend_from_slice(&tpid.to_be_bytes()); // TPID (0x8100 / 0x88a8)
                f.extend_from_slice(&[0x00, 0x07]); // TCI: priority 0, VID 7
            }
            f.extend_from_slice(&ethertype.to_be_bytes());
            f
        }

        fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
            let total = u16::try_from(20 + l4.len()).unwrap().to_be_bytes();
            let frag = frag.to_be_bytes();
            let mut p = vec![
                0x45, 0x00, // version 4, IHL 5; DSCP/ECN
                total[0], total[1], // total length
                0x12, 0x34, // identification
                frag[0], frag[1], // flags (MF = 0x2000) and fragment offset
                64, proto, // TTL, protocol
                0x00, 0x00, // header checksum (not checked by XDP)
            ];
            p.extend_from_slice(&src);
            p.extend_from_slice(&dst);
            p.extend_from_slice(l4);
            p
        }

        /// IPv6 with `ext` (already encoded extension headers) between header and `l4`.
        fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
            let len = u16::try_from(ext.len() + l4.len()).unwrap().to_be_bytes();
            let mut p = vec![
                0x60, 0x00, 0x00, 0x00, // version 6, traffic class, flow label
                len[0], len[1], // payload length
                next, 64, // next header, hop limit
            ];
            p.extend_from_slice(&src.octets());
            p.extend_from_slice(&dst.octets());
            p.extend_from_slice(ext);
            p.extend_from_slice(l4);
            p
        }

        fn udp(sport: u16, dport: u16) -> Vec<u8> {
            let mut h = Vec::new();
            h.extend_from_slice(&sport.to_be_bytes()); // source port
            h.extend_from_slice(&dport.to_be_bytes()); // destination port
            h.extend_from_slice(&[0x00, 0x0c, 0x00, 0x00]); // length 12, checksum none
            h.extend_from_slice(b"ping"); // payload
            h
        }

        fn frame(l2: Vec<u8>, l3: Vec<u8>) -> Vec<u8> {
            let mut f = l2;
            f.extend_from_slice(&l3);
            // BPF_PROG_TEST_RUN wants at least an Ethernet header; pad like a NIC would.
            f.resize(f.len().max(60), 0);
            f
        }

        const GEN: [u8; 4] = [198, 18, 0, 2];
        const CAP: [u8; 4] = [198, 18, 0, 1];
        const FAR: [u8; 4] = [198, 19, 0, 9];

        fn v4_udp(tags: &[u16], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
            frame(eth(tags, 0x0800), ipv4(src, dst, 17, 0, &udp(sport, dport)))
        }

        /// IPv4-mapped IPv6 addresses keep the tests inside 198.18.0.0/15.
        fn mapped(a: [u8; 4]) -> Ipv6Addr {
            Ipv4Addr::from(a).to_ipv6_mapped()
        }

        #[test]
        fn deny_and_vlan_tags() {
            if !root("deny_and_vlan_tags") {
                return;
            }
            let l = load(&SteerFilter {
                deny: vec![prefix("198.19.0.0/24")],
                ..SteerFilter::default()
            });
            assert_eq!(run(&l, &v4_udp(&[], GEN, FAR, 40000, 53)), "filtered");
            assert_eq!(
                run(&l, &v4_udp(&[], FAR, GEN, 53, 40000)),
                "filtered",
                "src counts too"
            );
            assert_eq!(run(&l, &v4_udp(&[], GEN, CAP, 40000, 53)), "passed");
            assert_eq!(
                run(&l, &v4_udp(&[0x8100], GEN, FAR, 1, 2)),
                "filtered",
                "802.1Q"
            );
            assert_eq!(
                run(&l, &v4_udp(&[0x88a8, 0x8100], GEN, FAR, 1, 2)),
                "filtered",
                "QinQ"
            );
            // A third tag is beyond what the program parses: not IP to it, so never filtered.
            let three = v4_udp(&[0x88a8, 0x8100, 0x8100], GEN, FAR, 1, 2);
            assert_eq!(run(&l, &three), "passed");
            // A truncated IPv4 header is not judged either.
            let runt = frame(eth(&[], 0x0800), ipv4(GEN, FAR, 17, 0, &[])[..12].to_vec());
            assert_eq!(run(&l, &runt[..14 + 12]), "passed");
        }

        #[test]
        fn allow_list_spans_families_and_spares_non_ip() {
            if !root("allow_list_spans_families_and_spares_non_ip") {
                return;
            }
            let l = load(&SteerFilter {
                allow: vec![prefix("::ffff:198.18.0.0/120")],
                ..SteerFilter::default()
            });
            // Only an IPv6 prefix is allowed, so every IPv4 packet is filtered.
            assert_eq!(run(&l, &v4_udp(&[], GEN, CAP, 1, 2)), "filtered");
            let v6 = |src, dst| {
                frame(
                    eth(&[], 0x86dd),
                    ipv6(mapped(src), mapped(dst), 17, &[], &udp(1, 2)),
                )
            };
            assert_eq!(run(&l, &v6(GEN, FAR)), "passed", "src inside");
            assert_eq!(run(&l, &v6(FAR, CAP)), "passed", "dst inside");
            assert_eq!(run(&l, &v6(FAR, FAR)), "filtered");
            // ARP is not IP: it always reaches the probe.
            let arp = frame(eth(&[], 0x0806), vec![0, 1, 8, 0, 6, 4, 0, 1]);
            assert_eq!(run(&l, &arp), "passed");
        }

        #[test]
        fn protocol_set_sees_past_ipv6_extension_headers() {
            if !root("protocol_set_sees_past_ipv6_extension_headers") {
                return;
            }
            let tcp_only = SteerFilter {
                protocols: vec![6],
                ..SteerFilter::default()
            };
            let mut l = load(&tcp_only);
            assert_eq!(run(&l, &v4_udp(&[], GEN, CAP, 1, 2)), "filtered");
            let tcp = frame(eth(&[], 0x0800), ipv4(GEN, CAP, 6, 0, &[0; 20]));
            assert_eq!(run(&l, &tcp), "passed");
            let ext = [
                43, 0, 0, 0, 0, 0, 0, 0, // hop-by-hop: next = routing (43), length 8
                44, 0, 0, 0, 0, 0, 0, 0, // routing: next = fragment (44), length 8
                17, 0, 0x00, 0x01, 0, 0, 0, 1, // fragment: next = UDP, offset 0, M=1, id 1
            ];
            let v6 = frame(
                eth(&[0x8100], 0x86dd),
                ipv6(mapped(GEN), mapped(CAP), 0, &ext, &udp(1, 2)),
            );
            assert_eq!(
                run(&l, &v6),
                "filtered",
                "UDP after three extension headers"
            );
            l.maps
                .set_filter(&SteerFilter {
                    protocols: vec![17],
                    ..SteerFilter::default()
                })
                .unwrap();
            assert_eq!(run(&l, &v6), "passed", "live update");
            assert_eq!(run(&l, &tcp), "filtered");
            l.maps.set_filter(&SteerFilter::default()).unwrap();
            assert_eq!(run(&l, &tcp), "passed", "back to capture-all");
        }

        #[test]
        fn sampling_is_per_flow_and_symmetric() {
            if !root("sampling_is_per_flow_and_symmetric") {
                return;
            }
            let l = load(&SteerFilter {
                sample_one_in: 3,
                ..SteerFilter::default()
            });
            let mut kept = 0;
            for sport in 40000..40060u16 {
                let there = run(&l, &v4_udp(&[], GEN, FAR, sport, 53));
                assert_eq!(
                    there,
                    run(&l, &v4_udp(&[], FAR, GEN, 53, sport)),
                    "reply, {sport}"
                );
                assert_eq!(
                    there,
                    run(&l, &v4_udp(&[], GEN, FAR, sport, 53)),
                    "again, {sport}"
                );
                let v6 = |s, d, sp, dp| {
                    frame(
                        eth(&[], 0x86dd),
                        ipv6(mapped(s), mapped(d), 17, &[], &udp(sp, dp)),
                    )
                };
                assert_eq!(
                    run(&l, &v6(GEN, FAR, sport, 53)),
                    run(&l, &v6(FAR, GEN, 53, sport)),
                    "IPv6 reply, {sport}"
                );
                if there == "passed" {
                    kept += 1;
                }
            }
            assert!(
                (5..=40).contains(&kept),
                "about 1 in 3 of 60 flows kept, got {kept}"
            );
            // Fragments hash without ports: a first fragment (ports present) and a later one
            // (payload where the ports would be) share a fate.
            let first = frame(eth(&[], 0x0800), ipv4(GEN, FAR, 17, 0x2000, &udp(1, 2)));
            for junk in 0..20u8 {
                let later = frame(eth(&[], 0x0800), ipv4(GEN, FAR, 17, 0x0002, &[junk; 16]));
                assert_eq!(run(&l, &first), run(&l, &later));
            }
        }
    }
}
