//! Deterministic generator of `tests/pcaps/sample.pcap`, the capture the README's quick start and
//! the end-to-end tests replay.
//!
//! It owns the frame builders (Ethernet, 802.1Q, IPv4 with fragmentation, IPv6, UDP, TCP, ICMP,
//! ICMPv6), the payload builders (DNS, TLS 1.2/1.3, HTTP/1.1, QUIC v1 with real RFC 9001 Initial
//! protection, SSH, NTP, DHCP) and the scenario that strings them into a few hundred flows. It does
//! *not* parse: the tests at the bottom re-check the output with their own, independent code.
//!
//! Everything comes from a fixed seed and a fixed start time ([`START_UNIX_SECS`]), so
//! [`generate`] returns the same bytes on every run. No third-party capture is copied. Addresses
//! stay inside 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32 (RFC 3849 documentation),
//! MAC addresses are locally administered (`02:..`), and names are under `example.{com,org,net}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aes::Aes128;
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

/// Capture start: 2026-01-01T00:00:00Z.
pub const START_UNIX_SECS: u64 = 1_767_225_600;
/// Seed of the generator's PRNG; change it and every random-looking byte changes.
pub const SEED: u64 = 0x7864_7066_6c6f_7721; // "xdpflow!"

// ---------------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, seedable and stable across platforms and crate versions (unlike `rand`).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (modulo bias is irrelevant here).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A random `u16`.
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }

    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    /// An ephemeral port in Linux's default range, avoiding traceroute's 33434-33534 (which
    /// dissectors flag as a probable traceroute).
    pub fn ephemeral_port(&mut self) -> u16 {
        loop {
            let p = self.range(32768, 60999) as u16;
            if !(33434..=33534).contains(&p) {
                return p;
            }
        }
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }

    /// A random fixed-size array.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&self.bytes(N));
        a
    }

    /// Picks one element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Byte writer
// ---------------------------------------------------------------------------------------------

/// Big-endian byte writer with length-prefixed sections, for TLS, DNS, SSH and QUIC payloads.
#[derive(Debug, Default, Clone)]
pub struct Wr(pub Vec<u8>);

impl Wr {
    /// An empty writer.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_be_bytes())
    }
    /// Appends a big-endian 24-bit value.
    pub fn u24(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes()[1..])
    }
    /// Appends a big-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes())
    }
    /// Appends bytes.
    pub fn put(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// Appends a QUIC variable-length integer (RFC 9000 §16).
    pub fn varint(&mut self, v: u64) -> &mut Self {
        match v {
            0..=0x3f => self.u8(v as u8),
            0x40..=0x3fff => self.u16(0x4000 | v as u16),
            0x4000..=0x3fff_ffff => self.u32(0x8000_0000 | v as u32),
            _ => self.put(&(0xc000_0000_0000_0000 | v).to_be_bytes()),
        }
    }
    /// Appends a section preceded by its big-endian length in `width` bytes.
    ///
    /// # Panics
    /// If the section does not fit in `width` bytes.
    pub fn prefixed(&mut self, width: usize, f: impl FnOnce(&mut Wr)) -> &mut Self {
        let start = self.0.len();
        self.0.resize(start + width, 0);
        f(self);
        let n = self.0.len() - start - width;
        assert!(width == 4 || n < 1 << (8 * width), "section too long");
        self.0[start..start + width].copy_from_slice(&(n as u32).to_be_bytes()[4 - width..]);
        self
    }
    /// Appends `data` preceded by its length in `width` bytes (a TLS/SSH/DNS "vector").
    pub fn vec(&mut self, width: usize, data: &[u8]) -> &mut Self {
        self.prefixed(width, |w| {
            w.put(data);
        })
    }
    /// Length written so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Frames: Ethernet, IPv4, IPv6, UDP, TCP, ICMP
// ---------------------------------------------------------------------------------------------

/// EtherType IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType 802.1Q.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;
/// ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}
use tcp_flags::{ACK, FIN, PSH, RST, SYN};

/// RFC 1071 Internet checksum over `data`.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Checksum of a TCP/UDP/ICMPv6 segment with the IPv4 or IPv6 pseudo-header.
pub fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut p = Vec::with_capacity(40 + segment.len());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(segment.len() as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(segment.len() as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed address families"),
    }
    p.extend_from_slice(segment);
    inet_checksum(&p)
}

/// An Ethernet II frame, optionally 802.1Q-tagged (PCP 0), zero-padded to the 60-byte minimum
/// as a mirror port delivers it (no FCS).
pub fn ethernet(
    dst: [u8; 6],
    src: [u8; 6],
    vlan: Option<u16>,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(18 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(vid) = vlan {
        f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// Fields of an IPv4 header that vary.
#[derive(Debug, Clone, Copy)]
pub struct V4Header {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Protocol number.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Don't Fragment.
    pub df: bool,
    /// More Fragments.
    pub mf: bool,
    /// Fragment offset in bytes (multiple of 8).
    pub frag_offset: usize,
}

/// An IPv4 packet (20-byte header, no options) with a valid header checksum.
pub fn ipv4(h: &V4Header, payload: &[u8]) -> Vec<u8> {
    assert_eq!(h.frag_offset % 8, 0);
    let mut p = Vec::with_capacity(20 + payload.len());
    p.push(0x45);
    p.push(0);
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&h.id.to_be_bytes());
    let flags = (u16::from(h.df) << 14) | (u16::from(h.mf) << 13) | (h.frag_offset / 8) as u16;
    p.extend_from_slice(&flags.to_be_bytes());
    p.push(h.ttl);
    p.push(h.proto);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&h.src.octets());
    p.extend_from_slice(&h.dst.octets());
    let c = inet_checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet with no extension headers.
pub fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop: u8,
    flow_label: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&(0x6000_0000 | (flow_label & 0xf_ffff)).to_be_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.push(next);
    p.push(hop);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram with a valid checksum (0 is sent as 0xffff, RFC 768).
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(8 + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = match l4_checksum(src, dst, PROTO_UDP, &s) {
        0 => 0xffff,
        c => c,
    };
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// Fields of a TCP header that vary.
#[derive(Debug, Clone)]
pub struct TcpHeader {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (sent as 0 without ACK).
    pub ack: u32,
    /// Flag bits ([`tcp_flags`]).
    pub flags: u8,
    /// Window (unscaled field value).
    pub window: u16,
    /// Options, already padded to a multiple of 4.
    pub options: Vec<u8>,
}

/// A TCP segment with a valid checksum.
pub fn tcp(src: IpAddr, dst: IpAddr, h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
    assert_eq!(h.options.len() % 4, 0);
    let hlen = 20 + h.options.len();
    let mut s = Vec::with_capacity(hlen + payload.len());
    s.extend_from_slice(&h.sport.to_be_bytes());
    s.extend_from_slice(&h.dport.to_be_bytes());
    s.extend_from_slice(&h.seq.to_be_bytes());
    s.extend_from_slice(&(if h.flags & ACK != 0 { h.ack } else { 0 }).to_be_bytes());
    s.push(((hlen / 4) as u8) << 4);
    s.push(h.flags);
    s.extend_from_slice(&h.window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]);
    s.extend_from_slice(&h.options);
    s.extend_from_slice(payload);
    let c = l4_checksum(src, dst, PROTO_TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// An ICMP (v4) echo request (type 8) or reply (type 0).
pub fn icmp_echo(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = inet_checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv6 echo request (128) or reply (129), checksummed with the pseudo-header.
pub fn icmpv6_echo(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    kind: u8,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = l4_checksum(IpAddr::V6(src), IpAddr::V6(dst), PROTO_ICMPV6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Classic pcap (LINKTYPE_ETHERNET, microsecond timestamps, little-endian) in memory.
#[derive(Debug, Clone)]
pub struct PcapWriter {
    buf: Vec<u8>,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// Starts a file with the global header (snaplen 65535).
    pub fn new() -> Self {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        buf.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        buf.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        buf.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Self { buf }
    }

    /// Appends one record; `ts_us` is microseconds since the Unix epoch.
    pub fn record(&mut self, ts_us: u64, frame: &[u8]) {
        self.buf
            .extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(frame);
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------
// DNS (RFC 1035, EDNS RFC 6891)
// ---------------------------------------------------------------------------------------------

/// DNS record types used here.
pub mod rtype {
    /// A.
    pub const A: u16 = 1;
    /// CNAME.
    pub const CNAME: u16 = 5;
    /// SOA.
    pub const SOA: u16 = 6;
    /// TXT.
    pub const TXT: u16 = 16;
    /// AAAA.
    pub const AAAA: u16 = 28;
    /// OPT pseudo-record.
    pub const OPT: u16 = 41;
}

/// Record data.
#[derive(Debug, Clone)]
pub enum RData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias target.
    Cname(String),
    /// Character strings, each at most 255 bytes.
    Txt(Vec<String>),
    /// Start of authority (as found in an NXDOMAIN's authority section).
    Soa {
        /// Primary name server.
        mname: String,
        /// Responsible mailbox.
        rname: String,
        /// Zone serial.
        serial: u32,
        /// Negative-caching TTL.
        minimum: u32,
    },
}

/// A resource record.
#[derive(Debug, Clone)]
pub struct Rr {
    /// Owner name.
    pub name: String,
    /// Time to live, seconds.
    pub ttl: u32,
    /// Data (the type follows from it).
    pub data: RData,
}

/// A DNS message: one question, optional answers and authority, optional EDNS OPT.
#[derive(Debug, Clone)]
pub struct DnsMsg {
    /// Transaction ID.
    pub id: u16,
    /// Header flags word (QR, opcode, AA, TC, RD, RA, RCODE).
    pub flags: u16,
    /// Question name.
    pub qname: String,
    /// Question type.
    pub qtype: u16,
    /// Answer section.
    pub answers: Vec<Rr>,
    /// Authority section.
    pub authority: Vec<Rr>,
    /// EDNS UDP payload size, if an OPT record is present.
    pub edns: Option<u16>,
}

/// Flags of a recursive query.
pub const DNS_QUERY: u16 = 0x0100;
/// Flags of a recursive answer (QR RD RA), RCODE 0.
pub const DNS_RESPONSE: u16 = 0x8180;
/// RCODE NXDOMAIN.
pub const DNS_NXDOMAIN: u16 = 3;
/// TC bit.
pub const DNS_TC: u16 = 0x0200;

struct DnsWriter {
    buf: Vec<u8>,
    names: Vec<(String, u16)>,
}

impl DnsWriter {
    /// Writes a name, compressing against every suffix written before (RFC 1035 §4.1.4).
    fn name(&mut self, name: &str) {
        let labels: Vec<&str> = name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .collect();
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if let Some((_, off)) = self.names.iter().find(|(n, _)| *n == suffix) {
                self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            if self.buf.len() < 0x3fff {
                self.names.push((suffix, self.buf.len() as u16));
            }
            self.buf.push(labels[i].len() as u8);
            self.buf.extend_from_slice(labels[i].as_bytes());
        }
        self.buf.push(0);
    }

    fn rr(&mut self, rr: &Rr) {
        self.name(&rr.name);
        let t = match rr.data {
            RData::A(_) => rtype::A,
            RData::Aaaa(_) => rtype::AAAA,
            RData::Cname(_) => rtype::CNAME,
            RData::Txt(_) => rtype::TXT,
            RData::Soa { .. } => rtype::SOA,
        };
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes());
        self.buf.extend_from_slice(&rr.ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        match &rr.data {
            RData::A(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Cname(n) => self.name(n),
            RData::Txt(strings) => {
                for s in strings {
                    self.buf.push(s.len() as u8);
                    self.buf.extend_from_slice(s.as_bytes());
                }
            }
            RData::Soa {
                mname,
                rname,
                serial,
                minimum,
            } => {
                self.name(mname);
                self.name(rname);
                for v in [*serial, 7200, 3600, 1_209_600, *minimum] {
                    self.buf.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
        let n = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&n.to_be_bytes());
    }
}

impl DnsMsg {
    /// A recursive query.
    pub fn query(id: u16, qname: &str, qtype: u16, edns: Option<u16>) -> Self {
        Self {
            id,
            flags: DNS_QUERY,
            qname: qname.into(),
            qtype,
            answers: vec![],
            authority: vec![],
            edns,
        }
    }

    /// The wire format.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = DnsWriter {
            buf: Vec::with_capacity(512),
            names: Vec::new(),
        };
        for v in [
            self.id,
            self.flags,
            1,
            self.answers.len() as u16,
            self.authority.len() as u16,
            u16::from(self.edns.is_some()),
        ] {
            w.buf.extend_from_slice(&v.to_be_bytes());
        }
        w.name(&self.qname);
        w.buf.extend_from_slice(&self.qtype.to_be_bytes());
        w.buf.extend_from_slice(&1u16.to_be_bytes());
        for rr in self.answers.iter().chain(&self.authority) {
            w.rr(rr);
        }
        if let Some(size) = self.edns {
            w.buf.push(0); // root
            w.buf.extend_from_slice(&rtype::OPT.to_be_bytes());
            w.buf.extend_from_slice(&size.to_be_bytes());
            w.buf.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // ext-rcode, version, flags, rdlen
        }
        w.buf
    }
}

// ---------------------------------------------------------------------------------------------
// TLS (RFC 5246, RFC 8446) and a DER certificate
// ---------------------------------------------------------------------------------------------

/// Which client a ClientHello imitates.
#[derive(Debug, Clone)]
pub enum HelloProfile {
    /// A current browser over TCP: TLS 1.3 and 1.2, 32-byte legacy session ID, padding to 512.
    Browser,
    /// An older client that only speaks TLS 1.2 (no `supported_versions`, no `key_share`).
    Legacy12,
    /// A QUIC client: TLS 1.3 only, empty session ID, `quic_transport_parameters`.
    Quic {
        /// Transport parameters, already encoded (RFC 9000 §18).
        transport_params: Vec<u8>,
    },
}

fn ext(w: &mut Wr, typ: u16, f: impl FnOnce(&mut Wr)) {
    w.u16(typ);
    w.prefixed(2, f);
}

/// A ClientHello handshake message (type 1, without the record header).
pub fn client_hello(
    rng: &mut Rng,
    sni: &str,
    alpn: &[&str],
    session_id: &[u8],
    profile: &HelloProfile,
) -> Vec<u8> {
    let quic = matches!(profile, HelloProfile::Quic { .. });
    let tls13 = !matches!(profile, HelloProfile::Legacy12);
    let mut exts = Wr::new();
    ext(&mut exts, 0x0000, |w| {
        w.prefixed(2, |w| {
            w.u8(0).vec(2, sni.as_bytes());
        });
    });
    if !quic {
        ext(&mut exts, 0x0017, |_| {}); // extended_master_secret
        ext(&mut exts, 0xff01, |w| {
            w.u8(0);
        }); // renegotiation_info
    }
    ext(&mut exts, 0x000a, |w| {
        w.prefixed(2, |w| {
            w.u16(0x001d).u16(0x0017).u16(0x0018); // x25519, secp256r1, secp384r1
        });
    });
    if !quic {
        ext(&mut exts, 0x000b, |w| {
            w.prefixed(1, |w| {
                w.u8(0);
            });
        });
        ext(&mut exts, 0x0023, |_| {}); // session_ticket
    }
    ext(&mut exts, 0x0010, |w| {
        w.prefixed(2, |w| {
            for p in alpn {
                w.vec(1, p.as_bytes());
            }
        });
    });
    if !quic {
        ext(&mut exts, 0x0005, |w| {
            w.u8(1).u16(0).u16(0); // status_request: OCSP
        });
    }
    ext(&mut exts, 0x000d, |w| {
        w.prefixed(2, |w| {
            for s in [
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ] {
                w.u16(s);
            }
            if !tls13 {
                w.u16(0x0201);
            }
        });
    });
    if matches!(profile, HelloProfile::Browser) {
        ext(&mut exts, 0x0012, |_| {}); // signed_certificate_timestamp
    }
    if tls13 {
        let key = rng.bytes(32);
        ext(&mut exts, 0x0033, |w| {
            w.prefixed(2, |w| {
                w.u16(0x001d).vec(2, &key);
            });
        });
        ext(&mut exts, 0x002d, |w| {
            w.prefixed(1, |w| {
                w.u8(1); // psk_dhe_ke
            });
        });
        ext(&mut exts, 0x002b, |w| {
            w.prefixed(1, |w| {
                w.u16(0x0304);
                if !quic {
                    w.u16(0x0303);
                }
            });
        });
    }
    if let HelloProfile::Browser = profile {
        ext(&mut exts, 0x001b, |w| {
            w.prefixed(1, |w| {
                w.u16(0x0002); // compress_certificate: brotli
            });
        });
    }
    if let HelloProfile::Quic { transport_params } = profile {
        ext(&mut exts, 0x0039, |w| {
            w.put(transport_params);
        });
    }
    let suites: &[u16] = match profile {
        HelloProfile::Browser => &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ],
        HelloProfile::Legacy12 => &[
            0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028,
            0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d,
            0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        HelloProfile::Quic { .. } => &[0x1301, 0x1302, 0x1303],
    };
    let random = rng.bytes(32);
    let body = |exts: &[u8]| {
        let mut w = Wr::new();
        w.u8(1).prefixed(3, |w| {
            w.u16(0x0303).put(&random);
            w.vec(1, session_id);
            w.prefixed(2, |w| {
                for s in suites {
                    w.u16(*s);
                }
            });
            w.u8(1).u8(0); // null compression
            w.vec(2, exts);
        });
        w.0
    };
    let msg = body(&exts.0);
    // BoringSSL-style padding (RFC 7685) so that the ClientHello is at least 512 bytes.
    if matches!(profile, HelloProfile::Browser) && msg.len() < 512 - 4 {
        let pad = 512 - 4 - msg.len();
        ext(&mut exts, 0x0015, |w| {
            w.put(&vec![0; pad]);
        });
        return body(&exts.0);
    }
    msg
}

/// A ServerHello (type 2) choosing `suite`; TLS 1.3 adds `supported_versions` and `key_share`.
pub fn server_hello(
    rng: &mut Rng,
    session_id: &[u8],
    suite: u16,
    tls13: bool,
    alpn: Option<&str>,
) -> Vec<u8> {
    let mut w = Wr::new();
    let random = rng.bytes(32);
    let key = rng.bytes(32);
    w.u8(2).prefixed(3, |w| {
        w.u16(0x0303).put(&random);
        w.vec(1, session_id);
        w.u16(suite).u8(0);
        w.prefixed(2, |w| {
            if tls13 {
                ext(w, 0x0033, |w| {
                    w.u16(0x001d).vec(2, &key);
                });
                ext(w, 0x002b, |w| {
                    w.u16(0x0304);
                });
            } else {
                ext(w, 0xff01, |w| {
                    w.u8(0);
                });
                ext(w, 0x0017, |_| {});
                ext(w, 0x000b, |w| {
                    w.prefixed(1, |w| {
                        w.u8(0);
                    });
                });
                ext(w, 0x0023, |_| {});
                if let Some(p) = alpn {
                    ext(w, 0x0010, |w| {
                        w.prefixed(2, |w| {
                            w.vec(1, p.as_bytes());
                        });
                    });
                }
            }
        });
    });
    w.0
}

/// A TLS record.
pub fn tls_record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut w = Wr::new();
    w.u8(content_type).u16(version).vec(2, body);
    w.0
}

/// A handshake message of `typ` around `body`.
pub fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut w = Wr::new();
    w.u8(typ).vec(3, body);
    w.0
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match content.len() {
        n @ 0..=127 => v.push(n as u8),
        n @ 128..=255 => v.extend_from_slice(&[0x81, n as u8]),
        n => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

fn der_seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn der_uint(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut b = rng.bytes(n);
    b[0] |= 0x01;
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    der(0x02, &b)
}

fn der_name(cn: &str, org: &str) -> Vec<u8> {
    let rdn =
        |oid: &[u8], v: &str| der(0x31, &der_seq(&[&der(0x06, oid), &der(0x0c, v.as_bytes())]));
    der_seq(&[
        &rdn(&[0x55, 0x04, 0x0a], org),
        &rdn(&[0x55, 0x04, 0x03], cn),
    ])
}

/// A structurally valid X.509 v3 certificate (ECDSA P-256) whose key and signature are random:
/// parsers see real fields (subject CN, SAN), but nothing verifies.
pub fn certificate(rng: &mut Rng, subject: &str, issuer: &str, san: &[&str], ca: bool) -> Vec<u8> {
    let ecdsa_sha256 = der_seq(&[&der(
        0x06,
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
    )]);
    let validity = der_seq(&[&der(0x17, b"251201000000Z"), &der(0x17, b"261231235959Z")]);
    let mut point = vec![0x00, 0x04];
    point.extend_from_slice(&rng.bytes(64));
    let spki = der_seq(&[
        &der_seq(&[
            &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ]),
        &der(0x03, &point),
    ]);
    let mut exts: Vec<Vec<u8>> = Vec::new();
    if !san.is_empty() {
        let names: Vec<u8> = san.iter().flat_map(|n| der(0x82, n.as_bytes())).collect();
        exts.push(der_seq(&[
            &der(0x06, &[0x55, 0x1d, 0x11]),
            &der(0x04, &der(0x30, &names)),
        ]));
    }
    let bc = if ca {
        der_seq(&[&der(0x01, &[0xff])])
    } else {
        der_seq(&[])
    };
    exts.push(der_seq(&[
        &der(0x06, &[0x55, 0x1d, 0x13]),
        &der(0x01, &[0xff]),
        &der(0x04, &bc),
    ]));
    let ext_refs: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();
    let tbs = der_seq(&[
        &der(0xa0, &der(0x02, &[2])),
        &der_uint(rng, 16),
        &ecdsa_sha256,
        &der_name(issuer, "xdpflow sample CA"),
        &validity,
        &der_name(subject, "xdpflow sample"),
        &spki,
        &der(0xa3, &der_seq(&ext_refs)),
    ]);
    let sig = der_seq(&[&der_uint(rng, 32), &der_uint(rng, 32)]);
    let mut sig_bits = vec![0];
    sig_bits.extend_from_slice(&sig);
    der_seq(&[&tbs, &ecdsa_sha256, &der(0x03, &sig_bits)])
}

// ---------------------------------------------------------------------------------------------
// QUIC v1 Initial protection (RFC 9001 §5)
// ---------------------------------------------------------------------------------------------

/// RFC 9001 §5.2 initial salt for QUIC v1.
pub const QUIC_V1_SALT: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// Packet protection keys of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicKeys {
    /// AEAD_AES_128_GCM key.
    pub key: [u8; 16],
    /// AEAD IV.
    pub iv: [u8; 12],
    /// Header protection key (AES-128-ECB).
    pub hp: [u8; 16],
}

/// TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
pub fn hkdf_expand_label(secret: &[u8], label: &str, out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::from_prk(secret).expect("secret is a SHA-256 PRK");
    let mut info = Wr::new();
    info.u16(out.len() as u16);
    info.vec(1, format!("tls13 {label}").as_bytes());
    info.u8(0);
    hk.expand(&info.0, out)
        .expect("output length is valid for HKDF-SHA256");
}

/// Initial keys derived from the client's first Destination Connection ID (RFC 9001 §5.2).
pub fn quic_initial_keys(dcid: &[u8], server: bool) -> QuicKeys {
    let (initial_secret, _) = Hkdf::<Sha256>::extract(Some(&QUIC_V1_SALT), dcid);
    let mut secret = [0u8; 32];
    hkdf_expand_label(
        &initial_secret,
        if server { "server in" } else { "client in" },
        &mut secret,
    );
    let mut k = QuicKeys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    hkdf_expand_label(&secret, "quic key", &mut k.key);
    hkdf_expand_label(&secret, "quic iv", &mut k.iv);
    hkdf_expand_label(&secret, "quic hp", &mut k.hp);
    k
}

/// The 5-byte header-protection mask for a 16-byte ciphertext sample (RFC 9001 §5.4.3).
pub fn quic_hp_mask(hp: &[u8; 16], sample: &[u8]) -> [u8; 5] {
    use aes::cipher::BlockCipherEncrypt;
    let cipher = <Aes128 as aes::cipher::KeyInit>::new_from_slice(hp).expect("16-byte key");
    let mut block = [0u8; 16];
    block.copy_from_slice(&sample[..16]);
    cipher.encrypt_block((&mut block).into());
    [block[0], block[1], block[2], block[3], block[4]]
}

/// An Initial packet (long header type 0) carrying `frames`, fully protected: AES-128-GCM over
/// the payload with the unprotected header as AAD, then header protection of the first byte's
/// low 4 bits and of the packet number. `frames` is padded with PADDING frames so that the packet
/// is `min_len` bytes long. `pn_len` is 1..=4.
pub fn quic_initial(
    keys: &QuicKeys,
    dcid: &[u8],
    scid: &[u8],
    pn: u32,
    pn_len: usize,
    frames: &[u8],
    min_len: usize,
) -> Vec<u8> {
    // Header up to and including Length (always a 2-byte varint) and the packet number.
    let hdr_len = 1 + 4 + 1 + dcid.len() + 1 + scid.len() + 1 + 2 + pn_len;
    let mut payload = frames.to_vec();
    // The header-protection sample is the 16 bytes starting 4 bytes after the start of the
    // packet number (RFC 9001 §5.4.2): with the 16-byte tag, the payload needs 4 - pn_len bytes.
    let min_payload = min_len.saturating_sub(hdr_len + 16).max(4 - pn_len);
    if payload.len() < min_payload {
        payload.resize(min_payload, 0); // PADDING frames are single 0x00 bytes
    }
    let mut h = Wr::new();
    h.u8(0xc0 | (pn_len as u8 - 1)).u32(1);
    h.vec(1, dcid);
    h.vec(1, scid);
    h.varint(0); // token length
    let length = (pn_len + payload.len() + 16) as u64;
    assert!(length < 0x4000);
    h.u16(0x4000 | length as u16);
    let pn_offset = h.len();
    h.put(&pn.to_be_bytes()[4 - pn_len..]);
    debug_assert_eq!(h.len(), hdr_len);
    let header = h.0;

    let mut nonce = keys.iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[8 + i] ^= b;
    }
    let aead = Aes128Gcm::new_from_slice(&keys.key).expect("16-byte key");
    let tag = aead
        .encrypt_inout_detached(&nonce.into(), &header, payload.as_mut_slice().into())
        .expect("payload within AES-GCM limits");
    let mut packet = header;
    packet.extend_from_slice(&payload);
    packet.extend_from_slice(&tag);

    let sample_at = pn_offset + 4;
    let mask = quic_hp_mask(&keys.hp, &packet[sample_at..sample_at + 16]);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

/// A long-header packet of `typ` (2 = Handshake) whose protected part is random: this generator
/// has no handshake secrets, and an observer without keys sees exactly this.
pub fn quic_long_opaque(
    rng: &mut Rng,
    typ: u8,
    dcid: &[u8],
    scid: &[u8],
    protected_len: usize,
) -> Vec<u8> {
    let mut h = Wr::new();
    h.u8(0xc0 | (typ << 4) | (rng.next_u64() as u8 & 0x0f))
        .u32(1);
    h.vec(1, dcid);
    h.vec(1, scid);
    h.u16(0x4000 | protected_len as u16);
    h.put(&rng.bytes(protected_len));
    h.0
}

/// A 1-RTT short-header packet whose protected part is random.
pub fn quic_short(rng: &mut Rng, dcid: &[u8], protected_len: usize) -> Vec<u8> {
    let mut v = vec![0x40 | (rng.next_u64() as u8 & 0x1f)];
    v.extend_from_slice(dcid);
    v.extend_from_slice(&rng.bytes(protected_len));
    v
}

/// Encoded `quic_transport_parameters` (RFC 9000 §18.2).
pub fn quic_transport_params(scid: &[u8], max_idle_ms: u64) -> Vec<u8> {
    let mut w = Wr::new();
    let mut param = |id: u64, v: u64| {
        let mut val = Wr::new();
        val.varint(v);
        w.varint(id).varint(val.len() as u64).put(&val.0);
    };
    param(0x01, max_idle_ms);
    param(0x03, 1472);
    param(0x04, 15_728_640);
    param(0x05, 6_291_456);
    param(0x06, 6_291_456);
    param(0x07, 6_291_456);
    param(0x08, 100);
    param(0x09, 103);
    param(0x0e, 4);
    w.varint(0x0f).varint(scid.len() as u64).put(scid);
    w.0
}

// ---------------------------------------------------------------------------------------------
// SSH, NTP, DHCP, HTTP payloads
// ---------------------------------------------------------------------------------------------

/// An SSH binary packet (RFC 4253 §6) before encryption: length, padding length, payload,
/// random padding to a multiple of 8 (at least 4 bytes).
pub fn ssh_packet(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut w = Wr::new();
    w.u32((1 + payload.len() + pad) as u32)
        .u8(pad as u8)
        .put(payload)
        .put(&rng.bytes(pad));
    w.0
}

/// SSH_MSG_KEXINIT with the algorithm lists of an OpenSSH 8.9 client or a 9.2 server (the
/// client's first choice, curve25519-sha256, is what the key exchange then uses).
pub fn ssh_kexinit(rng: &mut Rng, client: bool) -> Vec<u8> {
    let kex = if client {
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c"
    } else {
        "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com"
    };
    let hostkey = if client {
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"
    } else {
        "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
    };
    let cipher = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
    let mac = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
    let comp = if client {
        "none,zlib@openssh.com,zlib"
    } else {
        "none,zlib@openssh.com"
    };
    let mut w = Wr::new();
    w.u8(20).put(&rng.bytes(16));
    for list in [kex, hostkey, cipher, cipher, mac, mac, comp, comp, "", ""] {
        w.vec(4, list.as_bytes());
    }
    w.u8(0).u32(0);
    ssh_packet(rng, &w.0)
}

/// NTP timestamp (seconds since 1900 and a 32-bit fraction) for microseconds since 1970.
pub fn ntp_timestamp(unix_us: u64) -> u64 {
    let secs = unix_us / 1_000_000 + 2_208_988_800;
    let frac = ((unix_us % 1_000_000) << 32) / 1_000_000;
    (secs << 32) | frac
}

/// An NTPv4 client request (mode 3) as sent by ntpd/chrony: only the transmit timestamp is set.
pub fn ntp_request(xmt: u64) -> Vec<u8> {
    let mut w = Wr::new();
    w.u8(0x23).u8(0).u8(6).u8(0xec); // LI 0, VN 4, mode 3; stratum 0; poll 6; precision -20
    w.u32(0).u32(0).u32(0);
    w.put(&[0; 24]);
    w.put(&xmt.to_be_bytes());
    w.0
}

/// An NTPv4 server reply (mode 4, stratum 2).
pub fn ntp_reply(origin: u64, rx: u64, tx: u64, reference: u64) -> Vec<u8> {
    let mut w = Wr::new();
    w.u8(0x24).u8(2).u8(6).u8(0xe9); // mode 4; stratum 2; poll 6; precision -23
    w.u32(0x0000_0150).u32(0x0000_0a1c); // root delay, root dispersion
    w.put(&[198, 19, 0, 1]); // reference ID: upstream server's address
    w.put(&reference.to_be_bytes())
        .put(&origin.to_be_bytes())
        .put(&rx.to_be_bytes())
        .put(&tx.to_be_bytes());
    w.0
}

/// A DHCP message (RFC 2131) as sent by a renewing client (REQUEST) or the server (ACK).
pub fn dhcp(
    op_ack: bool,
    xid: u32,
    client: Ipv4Addr,
    mac: [u8; 6],
    server: Ipv4Addr,
    hostname: &str,
) -> Vec<u8> {
    let mut w = Wr::new();
    w.u8(if op_ack { 2 } else { 1 })
        .u8(1)
        .u8(6)
        .u8(0)
        .u32(xid)
        .u16(0)
        .u16(0);
    w.put(&client.octets()); // ciaddr
    w.put(&(if op_ack { client.octets() } else { [0; 4] })); // yiaddr
    w.put(&[0; 8]); // siaddr, giaddr
    w.put(&mac).put(&[0; 10]).put(&[0; 64 + 128]); // chaddr, sname, file
    w.put(&[99, 130, 83, 99]); // magic cookie
    if op_ack {
        w.put(&[53, 1, 5]);
        w.put(&[54, 4]).put(&server.octets());
        w.put(&[51, 4])
            .u32(86_400)
            .put(&[58, 4])
            .u32(43_200)
            .put(&[59, 4])
            .u32(75_600);
        w.put(&[1, 4, 255, 255, 0, 0]);
        w.put(&[3, 4]).put(&server.octets());
        w.put(&[6, 4, 198, 18, 0, 53]);
        w.u8(15).vec(1, b"lan.example.com");
    } else {
        w.put(&[53, 1, 3]);
        w.put(&[61, 7, 1]).put(&mac);
        w.put(&[57, 2, 0x05, 0xdc]);
        w.u8(12).vec(1, hostname.as_bytes());
        w.put(&[55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]);
    }
    w.u8(255);
    if w.len() < 300 {
        w.0.resize(300, 0);
    }
    w.0
}

const WORDS: &[&str] = &[
    "flow", "packet", "example", "sample", "capture", "network", "record", "export", "timeout",
    "queue", "protocol", "header", "payload", "segment", "window", "stream", "session", "latency",
    "traffic", "metric",
];

/// Deterministic filler HTML of about `len` bytes.
pub fn html_body(rng: &mut Rng, title: &str, len: usize) -> Vec<u8> {
    let mut s = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/static/site.css\">\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    while s.len() + 40 < len {
        s.push_str("<p>");
        for _ in 0..rng.range(8, 20) {
            let word = *rng.pick(WORDS);
            s.push_str(word);
            s.push(' ');
        }
        s.push_str("</p>\n");
    }
    s.push_str("</body>\n</html>\n");
    s.into_bytes()
}

fn http_date(t_us: u64) -> String {
    let s = t_us / 1_000_000;
    // The capture spans less than a day from 2026-01-01T00:00:00Z, a Thursday.
    format!(
        "Thu, 01 Jan 2026 {:02}:{:02}:{:02} GMT",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario machinery
// ---------------------------------------------------------------------------------------------

/// The kinds of flow in the sample, in the order the README's table lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// DNS over UDP/IPv4.
    DnsUdp4,
    /// DNS over UDP/IPv6.
    DnsUdp6,
    /// DNS over UDP on VLAN 100.
    DnsVlan,
    /// DNS over UDP with an IPv4-fragmented response.
    DnsFragmented,
    /// DNS over TCP.
    DnsTcp,
    /// TLS 1.3 over TCP/IPv4.
    Tls13,
    /// TLS 1.2 over TCP/IPv4.
    Tls12,
    /// TLS 1.3 over TCP/IPv6.
    Tls13V6,
    /// TLS 1.3 keep-alive that idles 150 s, then resumes.
    Tls13Idle,
    /// TLS 1.3 ended by the client's RST.
    TlsRst,
    /// HTTP/1.1 over TCP/IPv4.
    Http,
    /// HTTP/1.1 over TCP/IPv6.
    HttpV6,
    /// HTTP/1.1 on VLAN 100.
    HttpVlan,
    /// QUIC v1.
    Quic,
    /// QUIC v1 that idles 140 s, then resumes.
    QuicIdle,
    /// SSH.
    Ssh,
    /// SSH that idles 200 s, then resumes.
    SshIdle,
    /// NTP 123↔123 polled every 64 s for the whole capture.
    NtpLong,
    /// One-shot SNTP queries.
    Ntp,
    /// ICMP echo.
    Icmp,
    /// ICMPv6 echo.
    Icmpv6,
    /// DHCP renewal.
    Dhcp,
    /// TCP SYN answered by RST.
    TcpRefused,
}

impl Kind {
    /// Short label for the README table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::DnsUdp4 => "DNS / UDP 53, IPv4",
            Kind::DnsUdp6 => "DNS / UDP 53, IPv6",
            Kind::DnsVlan => "DNS / UDP 53, 802.1Q VID 100",
            Kind::DnsFragmented => "DNS / UDP 53, fragmented response",
            Kind::DnsTcp => "DNS / TCP 53",
            Kind::Tls13 => "TLS 1.3 / TCP 443",
            Kind::Tls12 => "TLS 1.2 / TCP 443",
            Kind::Tls13V6 => "TLS 1.3 / TCP 443, IPv6",
            Kind::Tls13Idle => "TLS 1.3 / TCP 443, idle gap",
            Kind::TlsRst => "TLS 1.3 / TCP 443, ends with RST",
            Kind::Http => "HTTP/1.1 / TCP 80",
            Kind::HttpV6 => "HTTP/1.1 / TCP 80, IPv6",
            Kind::HttpVlan => "HTTP/1.1 / TCP 80, 802.1Q VID 100",
            Kind::Quic => "QUIC v1 / UDP 443",
            Kind::QuicIdle => "QUIC v1 / UDP 443, idle gap",
            Kind::Ssh => "SSH / TCP 22",
            Kind::SshIdle => "SSH / TCP 22, idle gap",
            Kind::NtpLong => "NTP / UDP 123, long-lived",
            Kind::Ntp => "NTP / UDP 123, one-shot",
            Kind::Icmp => "ICMP echo",
            Kind::Icmpv6 => "ICMPv6 echo",
            Kind::Dhcp => "DHCP / UDP 67-68",
            Kind::TcpRefused => "TCP refused (SYN, RST)",
        }
    }

    /// What the flows exercise.
    pub fn note(self) -> &'static str {
        match self {
            Kind::DnsUdp4 => {
                "A/AAAA (some A+AAAA on one socket), CNAME chain, EDNS, 1 NXDOMAIN with SOA, 1 TC=1 answer"
            }
            Kind::DnsUdp6 => "AAAA queries to 2001:db8:1::53",
            Kind::DnsVlan => "tagged VID 100",
            Kind::DnsFragmented => {
                "TXT answer of ~3 KB in 3 IPv4 fragments (first carries the UDP header)"
            }
            Kind::DnsTcp => "retry after TC=1: 2-byte length prefix, FIN close",
            Kind::Tls13 => {
                "SNI, ALPN h2/http1.1, key_share, supported_versions; CCS; app data both ways; FIN"
            }
            Kind::Tls12 => {
                "ServerHello, Certificate (DER), ServerKeyExchange, CCS, Finished; app data; FIN"
            }
            Kind::Tls13V6 => "2001:db8:1::/48 to 2001:db8:100::/48",
            Kind::Tls13Idle => {
                "silent 150 s mid-connection: idle timeout 120 s splits it in 2 records"
            }
            Kind::TlsRst => "client aborts with RST after the response",
            Kind::Http => {
                "GET with Host/User-Agent/Accept; 200 OK, body over several segments; FIN"
            }
            Kind::HttpV6 => "2001:db8:1::/48 to 2001:db8:100::/48",
            Kind::HttpVlan => "tagged VID 100",
            Kind::Quic => {
                "RFC 9001-protected client+server Initials (SNI quic.example.com, ALPN h3); 1-RTT"
            }
            Kind::QuicIdle => "silent 140 s: idle timeout 120 s splits it in 2 records",
            Kind::Ssh => "banners, KEXINIT, ECDH, NEWKEYS, encrypted packets, keystrokes; FIN",
            Kind::SshIdle => "silent 200 s: idle timeout 120 s splits it in 2 records",
            Kind::NtpLong => "every 64 s for > 1800 s: active timeout 1800 s splits it",
            Kind::Ntp => "SNTP from an ephemeral port",
            Kind::Icmp => "Linux ping, 56 data bytes",
            Kind::Icmpv6 => "ping -6",
            Kind::Dhcp => "unicast REQUEST/ACK renewal to 198.18.0.1",
            Kind::TcpRefused => "closed port",
        }
    }
}

/// Per-kind totals, for the README's table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindStats {
    /// Conversations (bidirectional 5-tuples), before any timeout splits them.
    pub flows: u32,
    /// Frames.
    pub packets: u32,
    /// Frame bytes.
    pub bytes: u64,
}

/// The generated capture and what it contains.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The pcap file.
    pub pcap: Vec<u8>,
    /// Totals per kind.
    pub stats: BTreeMap<Kind, KindStats>,
    /// Capture duration in microseconds (first to last frame).
    pub duration_us: u64,
}

impl Sample {
    /// Frames in the capture.
    pub fn packets(&self) -> u32 {
        self.stats.values().map(|s| s.packets).sum()
    }

    /// Conversations in the capture.
    pub fn flows(&self) -> u32 {
        self.stats.values().map(|s| s.flows).sum()
    }

    /// The README's flow table (Markdown).
    pub fn markdown_table(&self) -> String {
        let mut s = String::from(
            "| Kind | Flows | Packets | Bytes | What it exercises |\n|---|---:|---:|---:|---|\n",
        );
        for (k, st) in &self.stats {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                k.label(),
                st.flows,
                st.packets,
                st.bytes,
                k.note()
            );
        }
        let bytes: u64 = self.stats.values().map(|s| s.bytes).sum();
        let _ = writeln!(
            s,
            "| **Total** | **{}** | **{}** | **{}** | |",
            self.flows(),
            self.packets(),
            bytes
        );
        s
    }
}

#[derive(Debug)]
struct Event {
    ts: u64,
    seq: u64,
    frame: Vec<u8>,
}

#[derive(Debug)]
struct Gen {
    rng: Rng,
    events: Vec<Event>,
    stats: BTreeMap<Kind, KindStats>,
}

impl Gen {
    fn emit(&mut self, ts: u64, kind: Kind, frame: Vec<u8>) {
        let st = self.stats.entry(kind).or_default();
        st.packets += 1;
        st.bytes += frame.len() as u64;
        let seq = self.events.len() as u64;
        self.events.push(Event { ts, seq, frame });
    }

    fn new_flow(&mut self, kind: Kind) {
        self.stats.entry(kind).or_default().flows += 1;
    }

    /// Small random gap in microseconds.
    fn jitter(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.range(lo, hi)
    }
}

/// How a host's TCP stack shapes its SYN options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    /// MSS, SACK_PERM, timestamps, window scale 7.
    Linux,
    /// MSS, window scale 8, SACK_PERM, no timestamps.
    Windows,
}

const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

#[derive(Debug, Clone, Copy)]
struct Host {
    mac: [u8; 6],
    ip: IpAddr,
    ttl: u8,
    stack: Stack,
}

impl Host {
    fn lan4(c: u8, d: u8, stack: Stack) -> Self {
        let ttl = if stack == Stack::Windows { 128 } else { 64 };
        Self {
            mac: [0x02, 0x18, 0x00, 0x00, c, d],
            ip: IpAddr::V4(Ipv4Addr::new(198, 18, c, d)),
            ttl,
            stack,
        }
    }
    fn lan6(mac_c: u8, d: u8, stack: Stack) -> Self {
        let ttl = if stack == Stack::Windows { 128 } else { 64 };
        let ip = IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            1,
            0,
            0,
            0,
            u16::from(mac_c),
            u16::from(d),
        ));
        Self {
            mac: [0x02, 0x18, 0x00, 0x00, mac_c, d],
            ip,
            ttl,
            stack,
        }
    }
    /// A host behind the router: frames carry the router's MAC.
    fn remote(ip: IpAddr, hops: u8) -> Self {
        Self {
            mac: ROUTER_MAC,
            ip,
            ttl: 64 - hops,
            stack: Stack::Linux,
        }
    }
}

/// The IP-level path between a client and a server, with per-direction IP ID and flow label.
#[derive(Debug, Clone)]
struct Link {
    c: Host,
    s: Host,
    vlan: Option<u16>,
    c_id: u16,
    s_id: u16,
    c_fl: u32,
    s_fl: u32,
}

impl Link {
    fn new(g: &mut Gen, c: Host, s: Host, vlan: Option<u16>) -> Self {
        Self {
            c,
            s,
            vlan,
            c_id: g.rng.u16(),
            s_id: g.rng.u16(),
            c_fl: g.rng.u32() & 0xf_ffff,
            s_fl: g.rng.u32() & 0xf_ffff,
        }
    }

    fn addrs(&self, from_client: bool) -> (IpAddr, IpAddr) {
        if from_client {
            (self.c.ip, self.s.ip)
        } else {
            (self.s.ip, self.c.ip)
        }
    }

    /// Wraps a transport segment into IP and Ethernet.
    fn frame(&mut self, from_client: bool, proto: u8, df: bool, l4: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        let id = if from_client {
            &mut self.c_id
        } else {
            &mut self.s_id
        };
        *id = id.wrapping_add(1);
        let (ethertype, ip) = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let h = V4Header {
                    src: s,
                    dst: d,
                    proto,
                    ttl: src.ttl,
                    id: *id,
                    df,
                    mf: false,
                    frag_offset: 0,
                };
                (ETHERTYPE_IPV4, ipv4(&h, l4))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let fl = if from_client { self.c_fl } else { self.s_fl };
                (ETHERTYPE_IPV6, ipv6(s, d, proto, src.ttl, fl, l4))
            }
            _ => unreachable!("link endpoints share a family"),
        };
        ethernet(dst.mac, src.mac, self.vlan, ethertype, &ip)
    }
}

/// A UDP conversation.
#[derive(Debug)]
struct UdpFlow {
    link: Link,
    cport: u16,
    sport: u16,
    kind: Kind,
}

impl UdpFlow {
    fn new(
        g: &mut Gen,
        kind: Kind,
        c: Host,
        s: Host,
        vlan: Option<u16>,
        cport: u16,
        sport: u16,
    ) -> Self {
        g.new_flow(kind);
        Self {
            link: Link::new(g, c, s, vlan),
            cport,
            sport,
            kind,
        }
    }

    fn send(&mut self, g: &mut Gen, t: u64, from_client: bool, payload: &[u8]) {
        let (src, dst) = self.link.addrs(from_client);
        let (sp, dp) = if from_client {
            (self.cport, self.sport)
        } else {
            (self.sport, self.cport)
        };
        let seg = udp(src, dst, sp, dp, payload);
        // Clients set DF on UDP (Linux PMTU discovery); servers answering DNS don't.
        let frame = self.link.frame(from_client, PROTO_UDP, from_client, &seg);
        g.emit(t, self.kind, frame);
    }
}

/// A span of microseconds from which a delay is drawn.
type Span = (u64, u64);

/// A TCP connection seen from a tap next to the client: the client's segments appear at `t`,
/// the server's one RTT after what they answer.
#[derive(Debug)]
struct TcpFlow {
    link: Link,
    kind: Kind,
    cport: u16,
    sport: u16,
    c_nxt: u32,
    s_nxt: u32,
    ts_opt: bool,
    c_ts_base: u32,
    s_ts_base: u32,
    c_last_tsval: u32,
    s_last_tsval: u32,
    rtt: u64,
    t: u64,
    mss: usize,
    c_win: u16,
    s_win: u16,
    /// The client sent data the server has not acknowledged yet: the server's next segment
    /// answers it, one RTT later.
    c_unacked: bool,
}

impl TcpFlow {
    fn new(g: &mut Gen, kind: Kind, c: Host, s: Host, vlan: Option<u16>, sport: u16) -> Self {
        g.new_flow(kind);
        let ts_opt = c.stack == Stack::Linux;
        let mss = if c.ip.is_ipv6() { 1440 } else { 1460 } - if ts_opt { 12 } else { 0 };
        Self {
            link: Link::new(g, c, s, vlan),
            kind,
            cport: g.rng.ephemeral_port(),
            sport,
            c_nxt: g.rng.u32(),
            s_nxt: g.rng.u32(),
            ts_opt,
            c_ts_base: g.rng.u32(),
            s_ts_base: g.rng.u32(),
            c_last_tsval: 0,
            s_last_tsval: 0,
            rtt: 20_000,
            t: 0,
            mss,
            c_win: if ts_opt { 502 } else { 1026 },
            s_win: 509,
            c_unacked: false,
        }
    }

    /// Sets the round-trip time and the start time.
    fn at(mut self, rtt: u64, t: u64) -> Self {
        self.rtt = rtt;
        self.t = t;
        self
    }

    fn seg(&mut self, g: &mut Gen, from_client: bool, flags: u8, payload: &[u8]) {
        let base = if from_client {
            self.c_ts_base
        } else {
            self.s_ts_base
        };
        let tsval = base.wrapping_add((self.t / 1000) as u32);
        let tsecr = if from_client {
            self.s_last_tsval
        } else {
            self.c_last_tsval
        };
        let mss_base: u16 = if self.link.c.ip.is_ipv6() { 1440 } else { 1460 };
        let mut options = Vec::new();
        if flags & SYN != 0 {
            options.extend_from_slice(&[2, 4]);
            options.extend_from_slice(&mss_base.to_be_bytes());
            if self.ts_opt {
                options.extend_from_slice(&[4, 2, 8, 10]);
                options.extend_from_slice(&tsval.to_be_bytes());
                options.extend_from_slice(&(if from_client { 0 } else { tsecr }).to_be_bytes());
                options.extend_from_slice(&[1, 3, 3, 7]);
            } else {
                let ws = if from_client { 8 } else { 7 };
                options.extend_from_slice(&[1, 3, 3, ws, 1, 1, 4, 2]);
            }
        } else if self.ts_opt && flags & RST == 0 {
            options.extend_from_slice(&[1, 1, 8, 10]);
            options.extend_from_slice(&tsval.to_be_bytes());
            options.extend_from_slice(&tsecr.to_be_bytes());
        }
        if from_client {
            self.c_last_tsval = tsval;
        } else {
            self.s_last_tsval = tsval;
        }
        let window = match (flags & SYN != 0, from_client) {
            (true, true) => 64240,
            (true, false) => 65160,
            (false, true) => self.c_win,
            (false, false) => self.s_win,
        };
        let h = TcpHeader {
            sport: if from_client { self.cport } else { self.sport },
            dport: if from_client { self.sport } else { self.cport },
            seq: if from_client { self.c_nxt } else { self.s_nxt },
            ack: if from_client { self.s_nxt } else { self.c_nxt },
            flags,
            window,
            options,
        };
        if from_client {
            self.c_unacked |= !payload.is_empty();
        } else {
            self.c_unacked = false;
        }
        let advance = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.c_nxt = self.c_nxt.wrapping_add(advance);
        } else {
            self.s_nxt = self.s_nxt.wrapping_add(advance);
        }
        let (src, dst) = self.link.addrs(from_client);
        let l4 = tcp(src, dst, &h, payload);
        let frame = self.link.frame(from_client, PROTO_TCP, true, &l4);
        g.emit(self.t, self.kind, frame);
    }

    /// Three-way handshake.
    fn open(&mut self, g: &mut Gen) {
        self.seg(g, true, SYN, &[]);
        self.t += self.rtt;
        self.seg(g, false, SYN | ACK, &[]);
        self.t += g.jitter(20, 90);
        self.seg(g, true, ACK, &[]);
    }

    /// The client writes `data` after a think time drawn from `think`.
    fn client_send(&mut self, g: &mut Gen, think: Span, data: &[u8]) {
        self.t += g.jitter(think.0, think.1);
        self.burst(g, true, data);
    }

    /// The server writes `data` after thinking. If it answers client data it has not ACKed yet,
    /// that data arrives one RTT later, and a server that thinks longer than the delayed-ACK
    /// timer sends a pure ACK first.
    fn server_send(&mut self, g: &mut Gen, think: Span, data: &[u8]) {
        let think = g.jitter(think.0, think.1);
        if self.c_unacked {
            self.t += self.rtt;
            if think > 40_000 {
                self.seg(g, false, ACK, &[]);
            }
        }
        self.t += think;
        self.burst(g, false, data);
    }

    /// The server writes unprompted (an SSH banner, command output) after a delay.
    fn server_push(&mut self, g: &mut Gen, delay: Span, data: &[u8]) {
        self.t += g.jitter(delay.0, delay.1);
        self.burst(g, false, data);
    }

    /// Segments `data`. The client, next to the tap, ACKs every second server segment and the
    /// last right away; the server ACKs a multi-segment client write one RTT later.
    fn burst(&mut self, g: &mut Gen, from_client: bool, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(self.mss).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let last = i + 1 == n;
            self.seg(g, from_client, if last { ACK | PSH } else { ACK }, chunk);
            if !from_client && (i % 2 == 1 || last) {
                self.t += g.jitter(15, 60);
                self.seg(g, true, ACK, &[]);
            }
            if !last {
                self.t += g.jitter(12, 120);
                // Initial congestion window: 10 segments, then wait one RTT for ACKs.
                if i % 10 == 9 {
                    self.t += self.rtt;
                }
            }
        }
        if from_client && n > 1 {
            self.t += self.rtt;
            self.seg(g, false, ACK, &[]);
        }
    }

    /// Orderly close: FIN/ACK each way and a final ACK, after a delay.
    fn close(&mut self, g: &mut Gen, client_first: bool, delay: Span) {
        self.t += g.jitter(delay.0, delay.1);
        if client_first {
            self.seg(g, true, FIN | ACK, &[]);
            self.t += self.rtt;
            self.seg(g, false, FIN | ACK, &[]);
            self.t += g.jitter(20, 80);
            self.seg(g, true, ACK, &[]);
        } else {
            self.seg(g, false, FIN | ACK, &[]);
            self.t += g.jitter(80, 400);
            self.seg(g, true, FIN | ACK, &[]);
            self.t += self.rtt;
            self.seg(g, false, ACK, &[]);
        }
    }

    /// An abortive close (RST/ACK) after a delay.
    fn reset(&mut self, g: &mut Gen, from_client: bool, delay: Span) {
        self.t += g.jitter(delay.0, delay.1);
        self.seg(g, from_client, RST | ACK, &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario
// ---------------------------------------------------------------------------------------------

const SEC: u64 = 1_000_000;

struct Name {
    name: &'static str,
    v4: [u8; 4],
    v6: u16,
    cname: Option<&'static str>,
}

const NAMES: &[Name] = &[
    Name {
        name: "www.example.com",
        v4: [198, 19, 10, 10],
        v6: 0x10,
        cname: None,
    },
    Name {
        name: "api.example.org",
        v4: [198, 19, 20, 20],
        v6: 0x20,
        cname: None,
    },
    Name {
        name: "cdn.example.net",
        v4: [198, 19, 30, 30],
        v6: 0x30,
        cname: Some("edge.cdn.example.net"),
    },
    Name {
        name: "quic.example.com",
        v4: [198, 19, 40, 40],
        v6: 0x40,
        cname: None,
    },
    Name {
        name: "ssh.example.org",
        v4: [198, 19, 50, 22],
        v6: 0x22,
        cname: None,
    },
    Name {
        name: "time.example.net",
        v4: [198, 19, 0, 123],
        v6: 0x123,
        cname: None,
    },
    Name {
        name: "static.example.net",
        v4: [198, 19, 30, 31],
        v6: 0x31,
        cname: Some("edge.cdn.example.net"),
    },
    Name {
        name: "login.example.org",
        v4: [198, 19, 20, 21],
        v6: 0x21,
        cname: None,
    },
    Name {
        name: "updates.example.com",
        v4: [198, 19, 10, 11],
        v6: 0x11,
        cname: None,
    },
    Name {
        name: "mail.example.com",
        v4: [198, 19, 60, 25],
        v6: 0x25,
        cname: None,
    },
    Name {
        name: "git.example.org",
        v4: [198, 19, 50, 23],
        v6: 0x23,
        cname: None,
    },
    Name {
        name: "img.example.net",
        v4: [198, 19, 30, 32],
        v6: 0x32,
        cname: None,
    },
];

fn lookup(name: &str) -> &'static Name {
    NAMES
        .iter()
        .find(|n| n.name == name)
        .expect("name in the table")
}

fn server4(name: &str) -> Host {
    let n = lookup(name);
    Host::remote(IpAddr::V4(Ipv4Addr::from(n.v4)), 8 + n.v4[2] % 7)
}

fn server6(name: &str) -> Host {
    let n = lookup(name);
    Host::remote(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, n.v6)),
        9,
    )
}

const RESOLVER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x35];

fn resolver4() -> Host {
    let ip = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 53));
    Host {
        mac: RESOLVER_MAC,
        ip,
        ttl: 64,
        stack: Stack::Linux,
    }
}

fn resolver6() -> Host {
    let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x53));
    Host {
        mac: RESOLVER_MAC,
        ip,
        ttl: 64,
        stack: Stack::Linux,
    }
}

/// The answer the resolver gives to `q`.
fn dns_answer(q: &DnsMsg) -> DnsMsg {
    let mut r = q.clone();
    r.flags = DNS_RESPONSE;
    let Some(n) = NAMES.iter().find(|n| n.name == q.qname) else {
        r.flags |= DNS_NXDOMAIN;
        let zone = q
            .qname
            .split_once('.')
            .map_or("example.com", |(_, z)| z)
            .to_string();
        r.authority.push(Rr {
            name: zone.clone(),
            ttl: 3600,
            data: RData::Soa {
                mname: format!("ns1.{zone}"),
                rname: format!("hostmaster.{zone}"),
                serial: 2_025_120_101,
                minimum: 3600,
            },
        });
        return r;
    };
    let mut owner = n.name.to_string();
    if let Some(target) = n.cname {
        r.answers.push(Rr {
            name: owner,
            ttl: 3600,
            data: RData::Cname(target.into()),
        });
        owner = target.into();
    }
    let data = if q.qtype == rtype::AAAA {
        RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, n.v6))
    } else {
        RData::A(Ipv4Addr::from(n.v4))
    };
    r.answers.push(Rr {
        name: owner,
        ttl: if n.cname.is_some() { 60 } else { 300 },
        data,
    });
    r
}

/// What a lookup asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    A,
    Aaaa,
    /// A then AAAA on the same socket (glibc's default for `getaddrinfo(AF_UNSPEC)`).
    Both,
}

/// One lookup from `client` at `t`; returns when the last answer arrived.
fn dns_lookup(
    g: &mut Gen,
    kind: Kind,
    client: Host,
    vlan: Option<u16>,
    qname: &str,
    ask: Ask,
    t: u64,
) -> u64 {
    let resolver = if client.ip.is_ipv6() {
        resolver6()
    } else {
        resolver4()
    };
    let port = g.rng.ephemeral_port();
    let mut f = UdpFlow::new(g, kind, client, resolver, vlan, port, 53);
    // Only some stub resolvers send EDNS (systemd-resolved does, glibc by default doesn't).
    let edns = (client.stack == Stack::Linux && client.mac[5].is_multiple_of(3)).then_some(1232);
    let qtypes: &[u16] = match ask {
        Ask::A => &[rtype::A],
        Ask::Aaaa => &[rtype::AAAA],
        Ask::Both => &[rtype::A, rtype::AAAA],
    };
    let mut t = t;
    for &qt in qtypes {
        let q = DnsMsg::query(g.rng.u16(), qname, qt, edns);
        f.send(g, t, true, &q.encode());
        // Cached answers take well under a millisecond, recursive ones tens of milliseconds.
        t += if g.rng.range(0, 3) == 0 {
            g.jitter(8_000, 60_000)
        } else {
            g.jitter(200, 900)
        };
        f.send(g, t, false, &dns_answer(&q).encode());
        t += g.jitter(30, 200);
    }
    t
}

/// A TLS record of random bytes (an encrypted record) with `len` bytes of body.
fn opaque_record(g: &mut Gen, content_type: u8, len: usize) -> Vec<u8> {
    tls_record(content_type, 0x0303, &g.rng.bytes(len))
}

fn tls13_session(g: &mut Gen, f: &mut TcpFlow, sni: &str, exchanges: usize) {
    let sid = g.rng.bytes(32);
    let ch = client_hello(
        &mut g.rng,
        sni,
        &["h2", "http/1.1"],
        &sid,
        &HelloProfile::Browser,
    );
    f.open(g);
    f.client_send(g, (100, 400), &tls_record(0x16, 0x0301, &ch));
    // ServerHello, CCS, then EncryptedExtensions..Finished in one encrypted record.
    let sh = server_hello(&mut g.rng, &sid, 0x1301, true, None);
    let mut flight = tls_record(0x16, 0x0303, &sh);
    flight.extend_from_slice(&tls_record(0x14, 0x0303, &[1]));
    let enc_len = g.rng.range(800, 1300) as usize;
    flight.extend_from_slice(&opaque_record(g, 0x17, enc_len));
    f.server_send(g, (1_000, 4_000), &flight);
    // Client CCS + Finished, then its first request (HTTP/2 preface, SETTINGS, HEADERS).
    let mut fin = tls_record(0x14, 0x0303, &[1]);
    fin.extend_from_slice(&opaque_record(g, 0x17, 53));
    let req_len = g.rng.range(90, 420) as usize;
    fin.extend_from_slice(&opaque_record(g, 0x17, req_len));
    f.client_send(g, (300, 1_500), &fin);
    // Two NewSessionTickets.
    let mut nst = opaque_record(g, 0x17, 250);
    nst.extend_from_slice(&opaque_record(g, 0x17, 250));
    f.server_send(g, (200, 800), &nst);
    tls_exchanges(g, f, exchanges);
}

/// Request/response pairs of application data (the first request was already sent).
fn tls_exchanges(g: &mut Gen, f: &mut TcpFlow, exchanges: usize) {
    for i in 0..exchanges {
        if i > 0 {
            let len = g.rng.range(60, 300) as usize;
            let req = opaque_record(g, 0x17, len);
            f.client_send(g, (50_000, 2_500_000), &req);
        }
        let len = g.rng.range(150, 1000) as usize;
        let resp = opaque_record(g, 0x17, len);
        f.server_send(g, (5_000, 60_000), &resp);
    }
}

fn tls12_session(g: &mut Gen, f: &mut TcpFlow, sni: &str) {
    let ch = client_hello(
        &mut g.rng,
        sni,
        &["h2", "http/1.1"],
        &[],
        &HelloProfile::Legacy12,
    );
    f.open(g);
    f.client_send(g, (100, 400), &tls_record(0x16, 0x0301, &ch));
    let sid = g.rng.bytes(32);
    let mut hs = server_hello(&mut g.rng, &sid, 0xc02f, false, Some("http/1.1"));
    let leaf = certificate(&mut g.rng, sni, "xdpflow Sample CA", &[sni], false);
    let ca = certificate(
        &mut g.rng,
        "xdpflow Sample CA",
        "xdpflow Sample CA",
        &[],
        true,
    );
    let mut chain = Wr::new();
    chain.prefixed(3, |w| {
        for c in [&leaf, &ca] {
            w.vec(3, c);
        }
    });
    hs.extend_from_slice(&handshake(11, &chain.0));
    // ServerKeyExchange: named curve x25519, public key, ecdsa_secp256r1_sha256 signature.
    let pubkey = g.rng.bytes(32);
    let sig = der_seq(&[&der_uint(&mut g.rng, 32), &der_uint(&mut g.rng, 32)]);
    let mut ske = Wr::new();
    ske.u8(3).u16(0x001d).vec(1, &pubkey);
    ske.u16(0x0403).vec(2, &sig);
    hs.extend_from_slice(&handshake(12, &ske.0));
    hs.extend_from_slice(&handshake(14, &[]));
    f.server_send(g, (1_000, 4_000), &tls_record(0x16, 0x0303, &hs));
    // ClientKeyExchange, ChangeCipherSpec, Finished (AES-GCM: 8-byte nonce + 16 + 16-byte tag).
    let mut cke = Wr::new();
    let cpub = g.rng.bytes(32);
    cke.vec(1, &cpub);
    let mut c = tls_record(0x16, 0x0303, &handshake(16, &cke.0));
    c.extend_from_slice(&tls_record(0x14, 0x0303, &[1]));
    c.extend_from_slice(&opaque_record(g, 0x16, 40));
    f.client_send(g, (300, 1_500), &c);
    // NewSessionTicket, ChangeCipherSpec, Finished.
    let ticket = g.rng.bytes(192);
    let mut nst = Wr::new();
    nst.u32(7200).vec(2, &ticket);
    let mut s = tls_record(0x16, 0x0303, &handshake(4, &nst.0));
    s.extend_from_slice(&tls_record(0x14, 0x0303, &[1]));
    s.extend_from_slice(&opaque_record(g, 0x16, 40));
    f.server_send(g, (300, 1_000), &s);
    let req_len = g.rng.range(180, 520) as usize;
    let req = opaque_record(g, 0x17, req_len);
    f.client_send(g, (100, 600), &req);
    let n = g.rng.range(1, 3) as usize;
    tls_exchanges(g, f, n);
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
];

fn http_session(g: &mut Gen, f: &mut TcpFlow, host: &str, paths: &[&str]) {
    f.open(g);
    let ua = *g.rng.pick(USER_AGENTS);
    let accept = if ua.starts_with("curl") {
        "*/*"
    } else {
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    };
    for (i, path) in paths.iter().enumerate() {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: {accept}\r\n\
             Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: identity\r\n\
             Connection: keep-alive\r\n\r\n"
        );
        f.client_send(
            g,
            if i == 0 { (80, 300) } else { (20_000, 400_000) },
            req.as_bytes(),
        );
        let (ctype, body) = if path.ends_with(".css") {
            let mut css = String::from("body { font-family: sans-serif; margin: 2em; }\n");
            while css.len() < 1600 {
                let w = *g.rng.pick(WORDS);
                let n = g.rng.range(1, 99);
                let color = g.rng.u32() & 0xff_ffff;
                let pad = g.rng.range(1, 16);
                let _ = writeln!(css, ".{w}-{n} {{ color: #{color:06x}; padding: {pad}px; }}");
            }
            ("text/css", css.into_bytes())
        } else {
            let len = g.rng.range(2500, 3000) as usize;
            ("text/html; charset=utf-8", html_body(&mut g.rng, host, len))
        };
        let date = http_date(f.t + f.rtt);
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: {date}\r\nContent-Type: {ctype}\r\n\
             Content-Length: {}\r\nLast-Modified: Wed, 31 Dec 2025 18:00:00 GMT\r\n\
             Connection: keep-alive\r\nCache-Control: max-age=600\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend_from_slice(&body);
        f.server_send(g, (800, 12_000), &resp);
    }
    f.close(g, true, (500_000, 4_000_000));
}

/// An SSH session: banners, key exchange, authentication, `keystrokes` typed characters (with
/// an optional silence half-way), then exit.
fn ssh_session(g: &mut Gen, f: &mut TcpFlow, keystrokes: usize, idle_gap: Option<u64>) {
    f.open(g);
    let rtt = f.rtt;
    f.server_push(
        g,
        (rtt + 2_000, rtt + 9_000),
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
    );
    f.client_send(
        g,
        (100, 500),
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n",
    );
    let ckex = ssh_kexinit(&mut g.rng, true);
    f.client_send(g, (50, 200), &ckex);
    let skex = ssh_kexinit(&mut g.rng, false);
    f.server_send(g, (200, 800), &skex);
    // SSH_MSG_KEX_ECDH_INIT: the client's x25519 public key.
    let qc = g.rng.bytes(32);
    let mut init = Wr::new();
    init.u8(30).vec(4, &qc);
    let init = ssh_packet(&mut g.rng, &init.0);
    f.client_send(g, (300, 900), &init);
    // SSH_MSG_KEX_ECDH_REPLY (ed25519 host key, server key, signature), NEWKEYS, and the
    // first encrypted packet (EXT_INFO).
    let (hostkey, qs, sig) = (g.rng.bytes(32), g.rng.bytes(32), g.rng.bytes(64));
    let mut reply = Wr::new();
    reply.u8(31);
    reply.prefixed(4, |w| {
        w.vec(4, b"ssh-ed25519").vec(4, &hostkey);
    });
    reply.vec(4, &qs);
    reply.prefixed(4, |w| {
        w.vec(4, b"ssh-ed25519").vec(4, &sig);
    });
    let mut s = ssh_packet(&mut g.rng, &reply.0);
    s.extend_from_slice(&ssh_packet(&mut g.rng, &[21]));
    s.extend_from_slice(&g.rng.bytes(4 + 232 + 16));
    f.server_send(g, (2_000, 6_000), &s);
    // NEWKEYS, then chacha20-poly1305 packets (4-byte length + n*8 + 16-byte tag).
    let mut c = ssh_packet(&mut g.rng, &[21]);
    c.extend_from_slice(&g.rng.bytes(4 + 32 + 16));
    f.client_send(g, (200, 600), &c);
    for (c_len, s_len) in [(0, 52), (68, 52), (636, 36), (0, 572), (116, 212), (0, 420)] {
        if c_len > 0 {
            let d = g.rng.bytes(c_len);
            f.client_send(g, (300, 30_000), &d);
        }
        let d = g.rng.bytes(s_len);
        f.server_send(g, (300, 8_000), &d);
    }
    for typed in 1..=keystrokes {
        if let Some(gap) = idle_gap
            && typed == keystrokes / 2
        {
            f.t += gap;
        }
        // A keystroke and its echo: 36 bytes each way, then the client's ACK.
        let d = g.rng.bytes(36);
        f.client_send(g, (90_000, 450_000), &d);
        let d = g.rng.bytes(36);
        f.server_send(g, (100, 600), &d);
        if typed % 12 == 0 {
            // Command output.
            let len = g.rng.range(60, 500) as usize / 8 * 8 + 20;
            let d = g.rng.bytes(len);
            f.server_push(g, (5_000, 60_000), &d);
        }
    }
    // `exit`: the server's channel EOF/close, the client's close, then FINs.
    let d = g.rng.bytes(116);
    f.server_push(g, (1_000, 3_000), &d);
    let d = g.rng.bytes(36);
    f.client_send(g, (200, 900), &d);
    f.close(g, true, (500, 2_000));
}

/// One QUIC v1 connection from `client` to quic.example.com at `t`: handshake, one response per
/// entry of `responses` (bytes), an optional silence half-way, then CONNECTION_CLOSE.
struct QuicPlan {
    kind: Kind,
    client: Host,
    server: Host,
    rtt: u64,
    t: u64,
    responses: Vec<usize>,
    idle_gap: Option<u64>,
}

fn quic_session(g: &mut Gen, p: &QuicPlan) {
    let port = g.rng.ephemeral_port();
    let mut f = UdpFlow::new(g, p.kind, p.client, p.server, None, port, 443);
    let odcid = g.rng.bytes(8);
    let c_cid = g.rng.bytes(8);
    let s_cid = g.rng.bytes(8);
    let max_idle = if p.idle_gap.is_some() {
        300_000
    } else {
        30_000
    };
    let transport_params = quic_transport_params(&c_cid, max_idle);
    let profile = HelloProfile::Quic { transport_params };
    let ch = client_hello(&mut g.rng, "quic.example.com", &["h3"], &[], &profile);
    let mut frames = Wr::new();
    frames.u8(0x06).varint(0).varint(ch.len() as u64).put(&ch); // CRYPTO
    let ckeys = quic_initial_keys(&odcid, false);
    let skeys = quic_initial_keys(&odcid, true);
    let mut t = p.t;
    let d = quic_initial(&ckeys, &odcid, &c_cid, 0, 1, &frames.0, 1200);
    f.send(g, t, true, &d);
    // Server: Initial (ACK, CRYPTO ServerHello) coalesced with a Handshake packet, then more
    // Handshake data (certificate).
    t += p.rtt + g.jitter(500, 2_000);
    let sh = server_hello(&mut g.rng, &[], 0x1301, true, None);
    let delay = g.jitter(0, 20);
    let mut sframes = Wr::new();
    sframes.u8(0x02).varint(0).varint(delay).varint(0).varint(0); // ACK 0
    sframes.u8(0x06).varint(0).varint(sh.len() as u64).put(&sh); // CRYPTO
    let mut d = quic_initial(&skeys, &c_cid, &s_cid, 0, 1, &sframes.0, 0);
    let room = 1200 - d.len() - (1 + 4 + 1 + 8 + 1 + 8 + 2);
    d.extend_from_slice(&quic_long_opaque(&mut g.rng, 2, &c_cid, &s_cid, room));
    f.send(g, t, false, &d);
    t += g.jitter(30, 200);
    let rest = g.rng.range(300, 700) as usize;
    let d = quic_long_opaque(&mut g.rng, 2, &c_cid, &s_cid, rest);
    f.send(g, t, false, &d);
    // Client: Initial (ACK) padded to fill the datagram to 1200 bytes, coalesced with a
    // Handshake packet (Finished).
    t += g.jitter(800, 3_000);
    let hs = quic_long_opaque(&mut g.rng, 2, &s_cid, &c_cid, 58);
    let delay = g.jitter(0, 30);
    let mut cframes = Wr::new();
    cframes.u8(0x02).varint(0).varint(delay).varint(0).varint(0);
    let mut d = quic_initial(&ckeys, &s_cid, &c_cid, 1, 1, &cframes.0, 1200 - hs.len());
    d.extend_from_slice(&hs);
    f.send(g, t, true, &d);
    // 1-RTT: the request (control stream, QPACK streams, HEADERS).
    t += g.jitter(50, 300);
    let len = g.rng.range(60, 240) as usize;
    let d = quic_short(&mut g.rng, &s_cid, len);
    f.send(g, t, true, &d);
    t += p.rtt;
    let len = g.rng.range(150, 260) as usize; // HANDSHAKE_DONE, NEW_TOKEN, NEW_CONNECTION_ID
    let d = quic_short(&mut g.rng, &c_cid, len);
    f.send(g, t, false, &d);
    for (i, &resp) in p.responses.iter().enumerate() {
        if i > 0 {
            if let Some(gap) = p.idle_gap
                && i == p.responses.len() / 2
            {
                t += gap;
            }
            t += g.jitter(40_000, 3_000_000);
            let len = g.rng.range(40, 120) as usize;
            let d = quic_short(&mut g.rng, &s_cid, len);
            f.send(g, t, true, &d);
            t += p.rtt;
        }
        t += g.jitter(2_000, 20_000);
        let mut left = resp;
        let mut n = 0;
        while left > 0 {
            let chunk = left.min(1252 - 9);
            let d = quic_short(&mut g.rng, &c_cid, chunk);
            f.send(g, t, false, &d);
            left -= chunk;
            n += 1;
            t += g.jitter(20, 150);
            if n % 2 == 0 || left == 0 {
                t += g.jitter(200, 1_500);
                let len = g.rng.range(24, 34) as usize;
                let d = quic_short(&mut g.rng, &s_cid, len);
                f.send(g, t, true, &d);
            }
        }
    }
    // CONNECTION_CLOSE from the client.
    t += g.jitter(1_000_000, 8_000_000);
    let d = quic_short(&mut g.rng, &s_cid, 33);
    f.send(g, t, true, &d);
}

/// Linux ping's 56 data bytes: a `struct timeval` then 0x10, 0x11, ...
fn ping_data(t: u64) -> Vec<u8> {
    let abs = START_UNIX_SECS * SEC + t;
    let mut data = Vec::with_capacity(56);
    data.extend_from_slice(&(abs / SEC).to_le_bytes());
    data.extend_from_slice(&(abs % SEC).to_le_bytes());
    data.extend(0x10u8..0x10 + 40);
    data
}

/// Builds the sample capture.
pub fn generate() -> Sample {
    let mut g = Gen {
        rng: Rng::new(SEED),
        events: Vec::new(),
        stats: BTreeMap::new(),
    };
    let router = Host {
        mac: ROUTER_MAC,
        ip: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
        ttl: 64,
        stack: Stack::Linux,
    };

    // DHCP renewals: unicast REQUEST/ACK between a client and the router's DHCP server.
    for (d, at) in [(77u8, 400_000u64), (78, 1_200 * SEC + 350_000)] {
        let c = Host::lan4(1, d, Stack::Linux);
        let mut f = UdpFlow::new(&mut g, Kind::Dhcp, c, router, None, 68, 67);
        let xid = g.rng.u32();
        let IpAddr::V4(cip) = c.ip else {
            unreachable!("lan4 is IPv4")
        };
        let server = Ipv4Addr::new(198, 18, 0, 1);
        let host = format!("client-{d}");
        f.send(
            &mut g,
            at,
            true,
            &dhcp(false, xid, cip, c.mac, server, &host),
        );
        let ack_at = at + g.jitter(600, 3_000);
        f.send(
            &mut g,
            ack_at,
            false,
            &dhcp(true, xid, cip, c.mac, server, &host),
        );
    }

    // Long-lived NTP association: a LAN server polls time.example.net every 64 s.
    {
        let c = Host::lan4(0, 10, Stack::Linux);
        let mut f = UdpFlow::new(
            &mut g,
            Kind::NtpLong,
            c,
            server4("time.example.net"),
            None,
            123,
            123,
        );
        let mut t = SEC + 200_000;
        let mut reference = START_UNIX_SECS * SEC;
        for _ in 0..34 {
            let xmt = ntp_timestamp(START_UNIX_SECS * SEC + t);
            f.send(&mut g, t, true, &ntp_request(xmt));
            let rtt = g.jitter(11_000, 14_000);
            let rx = START_UNIX_SECS * SEC + t + rtt / 2;
            let tx = rx + g.jitter(15, 60);
            let reply = ntp_reply(
                xmt,
                ntp_timestamp(rx),
                ntp_timestamp(tx),
                ntp_timestamp(reference),
            );
            f.send(&mut g, t + rtt, false, &reply);
            if g.rng.range(0, 3) == 0 {
                reference = rx - 3 * SEC;
            }
            t += 64 * SEC - 200_000 + g.jitter(0, 400_000);
        }
    }

    // 40 LAN clients: each resolves a name and most then open one session.
    let mut quic_done = 0;
    for i in 0..40u8 {
        let stack = if i % 5 == 1 || i % 5 == 3 {
            Stack::Windows
        } else {
            Stack::Linux
        };
        let client = Host::lan4(1, 20 + i, stack);
        let start = 2 * SEC + u64::from(i) * 6 * SEC + g.jitter(0, 3 * SEC);
        let k = usize::from(i);
        let target = match i {
            0..=4 => ["www.example.com", "api.example.org", "cdn.example.net"][k % 3],
            5..=7 => ["api.example.org", "login.example.org"][k % 2],
            8..=11 => [
                "www.example.com",
                "static.example.net",
                "updates.example.com",
                "img.example.net",
            ][k % 4],
            12..=16 => "quic.example.com",
            17..=19 => "ssh.example.org",
            20 => "www.example.com",
            21 => "nonexistent.example.com",
            _ => [
                "mail.example.com",
                "git.example.org",
                "img.example.net",
                "login.example.org",
            ][k % 4],
        };
        let ask = if stack == Stack::Linux {
            Ask::Both
        } else {
            Ask::A
        };
        let t = dns_lookup(&mut g, Kind::DnsUdp4, client, None, target, ask, start);
        let t = t + g.jitter(100, 2_000);
        let rtt = g.jitter(9_000, 45_000);
        match i {
            0..=4 => {
                let mut f = TcpFlow::new(&mut g, Kind::Tls13, client, server4(target), None, 443)
                    .at(rtt, t);
                let ex = g.rng.range(1, 3) as usize;
                tls13_session(&mut g, &mut f, target, ex);
                f.close(&mut g, true, (SEC, 15 * SEC));
            }
            5..=7 => {
                let mut f = TcpFlow::new(&mut g, Kind::Tls12, client, server4(target), None, 443)
                    .at(rtt, t);
                tls12_session(&mut g, &mut f, target);
                f.close(&mut g, i % 2 == 0, (SEC, 10 * SEC));
            }
            8..=11 => {
                let mut f =
                    TcpFlow::new(&mut g, Kind::Http, client, server4(target), None, 80).at(rtt, t);
                let paths: &[&str] = if i % 2 == 0 {
                    &["/", "/static/site.css"]
                } else {
                    &["/index.html"]
                };
                http_session(&mut g, &mut f, target, paths);
            }
            12..=16 => {
                let idle_gap = (quic_done == 3).then_some(140 * SEC);
                let n = if idle_gap.is_some() {
                    2
                } else {
                    g.rng.range(1, 3)
                };
                let responses = (0..n).map(|_| g.rng.range(150, 800) as usize).collect();
                let kind = if idle_gap.is_some() {
                    Kind::QuicIdle
                } else {
                    Kind::Quic
                };
                let server = server4(target);
                let plan = QuicPlan {
                    kind,
                    client,
                    server,
                    rtt,
                    t,
                    responses,
                    idle_gap,
                };
                quic_session(&mut g, &plan);
                quic_done += 1;
            }
            17..=19 => {
                let idle = (i == 18).then_some(200 * SEC);
                let kind = if idle.is_some() {
                    Kind::SshIdle
                } else {
                    Kind::Ssh
                };
                let mut f =
                    TcpFlow::new(&mut g, kind, client, server4(target), None, 22).at(rtt, t);
                let keys = g.rng.range(45, 62) as usize;
                ssh_session(&mut g, &mut f, keys, idle);
            }
            20 => {
                let mut f =
                    TcpFlow::new(&mut g, Kind::Tls13Idle, client, server4(target), None, 443)
                        .at(rtt, t);
                tls13_session(&mut g, &mut f, target, 1);
                f.t += 150 * SEC;
                tls_exchanges(&mut g, &mut f, 2);
                f.close(&mut g, true, (2 * SEC, 5 * SEC));
            }
            21 => {
                // After the NXDOMAIN above, a real name and a TLS session aborted by RST.
                let www = "www.example.com";
                let t = dns_lookup(&mut g, Kind::DnsUdp4, client, None, www, Ask::Both, t + SEC);
                let mut f = TcpFlow::new(&mut g, Kind::TlsRst, client, server4(www), None, 443)
                    .at(rtt, t + 300);
                tls13_session(&mut g, &mut f, www, 1);
                f.reset(&mut g, true, (200_000, 900_000));
            }
            _ => {}
        }
        // Background lookups spread over the rest of the capture.
        for _ in 0..g.rng.range(3, 6) {
            let when = start + g.jitter(20 * SEC, 1_900 * SEC);
            let name = g.rng.pick(NAMES).name;
            let ask = if stack == Stack::Windows || g.rng.range(0, 1) == 0 {
                Ask::A
            } else {
                Ask::Both
            };
            dns_lookup(&mut g, Kind::DnsUdp4, client, None, name, ask, when);
        }
    }

    // IPv6 clients: AAAA lookups over IPv6, then TLS 1.3 or HTTP over IPv6.
    for i in 0..3u8 {
        let client = Host::lan6(1, 0x60 + i, Stack::Linux);
        let start = 30 * SEC + u64::from(i) * 41 * SEC + g.jitter(0, 2 * SEC);
        let target = ["www.example.com", "cdn.example.net", "img.example.net"][usize::from(i)];
        let t = dns_lookup(
            &mut g,
            Kind::DnsUdp6,
            client,
            None,
            target,
            Ask::Aaaa,
            start,
        );
        let t = t + g.jitter(100, 1_000);
        let rtt = g.jitter(10_000, 30_000);
        if i < 2 {
            let mut f =
                TcpFlow::new(&mut g, Kind::Tls13V6, client, server6(target), None, 443).at(rtt, t);
            let ex = g.rng.range(1, 3) as usize;
            tls13_session(&mut g, &mut f, target, ex);
            f.close(&mut g, true, (SEC, 6 * SEC));
        } else {
            let mut f =
                TcpFlow::new(&mut g, Kind::HttpV6, client, server6(target), None, 80).at(rtt, t);
            http_session(&mut g, &mut f, target, &["/"]);
        }
        for _ in 0..2 {
            let when = start + g.jitter(30 * SEC, 1_500 * SEC);
            let name = g.rng.pick(NAMES).name;
            dns_lookup(&mut g, Kind::DnsUdp6, client, None, name, Ask::Aaaa, when);
        }
    }

    // VLAN 100: a kiosk on 198.18.100.0/24 resolves and fetches over HTTP, tagged.
    {
        let client = Host::lan4(100, 20, Stack::Linux);
        let host = "static.example.net";
        let t = dns_lookup(
            &mut g,
            Kind::DnsVlan,
            client,
            Some(100),
            host,
            Ask::Both,
            95 * SEC,
        );
        let mut f = TcpFlow::new(&mut g, Kind::HttpVlan, client, server4(host), Some(100), 80)
            .at(14_000, t + 400);
        http_session(&mut g, &mut f, host, &["/", "/static/site.css"]);
        let name = "updates.example.com";
        dns_lookup(
            &mut g,
            Kind::DnsVlan,
            client,
            Some(100),
            name,
            Ask::A,
            640 * SEC,
        );
    }

    // DNS: a ~3 KB TXT answer over UDP, fragmented by the resolver (MTU 1500).
    {
        let client = Host::lan4(1, 90, Stack::Linux);
        let port = g.rng.ephemeral_port();
        let mut f = UdpFlow::new(
            &mut g,
            Kind::DnsFragmented,
            client,
            resolver4(),
            None,
            port,
            53,
        );
        let q = DnsMsg::query(g.rng.u16(), "keys.example.net", rtype::TXT, Some(4096));
        let t = 141 * SEC + 250_000;
        f.send(&mut g, t, true, &q.encode());
        let mut r = q.clone();
        r.flags = DNS_RESPONSE;
        for k in 0..12 {
            let mut s = format!("v=key{k}; p=");
            while s.len() < 240 {
                s.push(
                    *g.rng
                        .pick(&['A', 'b', 'C', 'd', '3', '7', '+', '/', 'x', 'Q']),
                );
            }
            r.answers.push(Rr {
                name: "keys.example.net".into(),
                ttl: 3600,
                data: RData::Txt(vec![s]),
            });
        }
        let (src, dst) = f.link.addrs(false);
        let dgram = udp(src, dst, 53, port, &r.encode());
        let (IpAddr::V4(s4), IpAddr::V4(d4)) = (src, dst) else {
            unreachable!("IPv4 link")
        };
        let id = g.rng.u16();
        let mut t = t + 23_000;
        for (k, part) in dgram.chunks(1480).enumerate() {
            let mf = (k + 1) * 1480 < dgram.len();
            let h = V4Header {
                src: s4,
                dst: d4,
                proto: PROTO_UDP,
                ttl: 64,
                id,
                df: false,
                mf,
                frag_offset: k * 1480,
            };
            let frame = ethernet(
                client.mac,
                RESOLVER_MAC,
                None,
                ETHERTYPE_IPV4,
                &ipv4(&h, part),
            );
            g.emit(t, Kind::DnsFragmented, frame);
            t += g.jitter(5, 20);
        }
    }

    // DNS over TCP: a UDP answer with TC=1, then the retry over TCP (RFC 7766).
    {
        let client = Host::lan4(1, 91, Stack::Linux);
        let q = DnsMsg::query(g.rng.u16(), "big.example.org", rtype::TXT, None);
        let port = g.rng.ephemeral_port();
        let mut u = UdpFlow::new(&mut g, Kind::DnsUdp4, client, resolver4(), None, port, 53);
        let t0 = 188 * SEC + 40_000;
        u.send(&mut g, t0, true, &q.encode());
        let mut tc = q.clone();
        tc.flags = DNS_RESPONSE | DNS_TC;
        u.send(&mut g, t0 + 19_000, false, &tc.encode());
        let mut f =
            TcpFlow::new(&mut g, Kind::DnsTcp, client, resolver4(), None, 53).at(250, t0 + 19_400);
        f.open(&mut g);
        let mut q2 = q.clone();
        q2.id = g.rng.u16();
        let mut msg = Wr::new();
        msg.vec(2, &q2.encode());
        f.client_send(&mut g, (60, 60), &msg.0);
        let mut r = q2.clone();
        r.flags = DNS_RESPONSE;
        for k in 0..5 {
            let s: String = (0..200)
                .map(|_| *g.rng.pick(&['a', 'e', 'i', 'o', 'u', 'x', '-', '1']))
                .collect();
            let data = RData::Txt(vec![format!("part{k}={s}")]);
            r.answers.push(Rr {
                name: "big.example.org".into(),
                ttl: 300,
                data,
            });
        }
        let mut resp = Wr::new();
        resp.vec(2, &r.encode());
        f.server_send(&mut g, (700, 700), &resp.0);
        f.close(&mut g, true, (150, 150));
    }

    // One-shot SNTP queries.
    for (d, at) in [(25u8, 61 * SEC), (26, 1_333 * SEC)] {
        let c = Host::lan4(1, d, Stack::Linux);
        let port = g.rng.ephemeral_port();
        let mut f = UdpFlow::new(
            &mut g,
            Kind::Ntp,
            c,
            server4("time.example.net"),
            None,
            port,
            123,
        );
        let xmt = ntp_timestamp(START_UNIX_SECS * SEC + at);
        f.send(&mut g, at, true, &ntp_request(xmt));
        let rx = START_UNIX_SECS * SEC + at + 6_000;
        let (rx, tx, reference) = (
            ntp_timestamp(rx),
            ntp_timestamp(rx + 30),
            ntp_timestamp(rx - 40 * SEC),
        );
        f.send(
            &mut g,
            at + 12_500,
            false,
            &ntp_reply(xmt, rx, tx, reference),
        );
    }

    // ping -c 10 www.example.com.
    {
        let c = Host::lan4(1, 32, Stack::Linux);
        let mut link = Link::new(&mut g, c, server4("www.example.com"), None);
        g.new_flow(Kind::Icmp);
        let id = g.rng.u16();
        let mut t = 77 * SEC + 123_456;
        for seq in 1..=10u16 {
            let data = ping_data(t);
            let req = link.frame(true, PROTO_ICMP, true, &icmp_echo(8, id, seq, &data));
            g.emit(t, Kind::Icmp, req);
            let rtt = g.jitter(14_000, 17_000);
            let rep = link.frame(false, PROTO_ICMP, false, &icmp_echo(0, id, seq, &data));
            g.emit(t + rtt, Kind::Icmp, rep);
            t += SEC + g.jitter(0, 3_000);
        }
    }

    // ping -6 -c 4 www.example.com.
    {
        let c = Host::lan6(1, 0x61, Stack::Linux);
        let s = server6("www.example.com");
        let (IpAddr::V6(a), IpAddr::V6(b)) = (c.ip, s.ip) else {
            unreachable!("IPv6 hosts")
        };
        let mut link = Link::new(&mut g, c, s, None);
        g.new_flow(Kind::Icmpv6);
        let id = g.rng.u16();
        let mut t = 205 * SEC + 654_321;
        for seq in 1..=4u16 {
            let data = ping_data(t);
            let req = link.frame(
                true,
                PROTO_ICMPV6,
                false,
                &icmpv6_echo(a, b, 128, id, seq, &data),
            );
            g.emit(t, Kind::Icmpv6, req);
            let rtt = g.jitter(15_000, 18_000);
            let rep = link.frame(
                false,
                PROTO_ICMPV6,
                false,
                &icmpv6_echo(b, a, 129, id, seq, &data),
            );
            g.emit(t + rtt, Kind::Icmpv6, rep);
            t += SEC + g.jitter(0, 3_000);
        }
    }

    // Connections refused by closed ports: SYN, then RST/ACK with sequence number 0.
    for (d, port, at) in [(33u8, 8443u16, 150 * SEC), (34, 23, 910 * SEC)] {
        let c = Host::lan4(1, d, Stack::Linux);
        let mut f = TcpFlow::new(
            &mut g,
            Kind::TcpRefused,
            c,
            server4("api.example.org"),
            None,
            port,
        )
        .at(21_000, at);
        f.seg(&mut g, true, SYN, &[]);
        f.t += f.rtt;
        f.s_nxt = 0;
        f.seg(&mut g, false, RST | ACK, &[]);
    }

    // Capture order; ties keep the order of generation.
    g.events.sort_by_key(|e| (e.ts, e.seq));
    let mut w = PcapWriter::new();
    for e in &g.events {
        w.record(START_UNIX_SECS * SEC + e.ts, &e.frame);
    }
    let first = g.events.first().map_or(0, |e| e.ts);
    let last = g.events.last().map_or(0, |e| e.ts);
    Sample {
        pcap: w.into_bytes(),
        stats: g.stats,
        duration_us: last - first,
    }
}

#[cfg(test)]
mod tests {
    //! The checks here parse the output with their own code rather than the builders above.

    use std::collections::HashMap;
    use std::sync::OnceLock;

    use super::*;

    fn sample() -> &'static Sample {
        static SAMPLE: OnceLock<Sample> = OnceLock::new();
        SAMPLE.get_or_init(generate)
    }

    fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    // --- RFC 9001 Appendix A ------------------------------------------------------------------

    const RFC9001_DCID: &str = "8394c8f03e515708";

    #[test]
    fn rfc9001_a1_initial_keys() {
        let dcid = unhex(RFC9001_DCID);
        let c = quic_initial_keys(&dcid, false);
        assert_eq!(c.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
        let s = quic_initial_keys(&dcid, true);
        assert_eq!(s.key.to_vec(), unhex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), unhex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), unhex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn rfc9001_a2_header_protection_mask() {
        let hp = quic_initial_keys(&unhex(RFC9001_DCID), false).hp;
        let mask = quic_hp_mask(&hp, &unhex("d1b1c98dd7689fb8ec11d242b123dc9b"));
        assert_eq!(mask.to_vec(), unhex("437b9aec36"));
    }

    /// RFC 9001 A.2: the client's CRYPTO frame (a 241-byte ClientHello), padded to 1162 bytes,
    /// in an Initial with packet number 2 (4 bytes) protects to a 1200-byte packet whose header,
    /// header-protection sample and AEAD tag the RFC lists.
    #[test]
    fn rfc9001_a2_client_initial_protection() {
        let crypto_frame = unhex(
            "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868\
             04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578\
             616d706c652e636f6dff01000100000a00080006001d00170018001000070005\
             04616c706e000500050100000000003300260024001d00209370b2c9caa47fba\
             baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400\
             0d0010000e0403050306030203080408050806002d00020101001c0002400100\
             3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000\
             75300901100f088394c8f03e51570806048000ffff",
        );
        assert_eq!(crypto_frame.len(), 245);
        let dcid = unhex(RFC9001_DCID);
        let keys = quic_initial_keys(&dcid, false);
        let packet = quic_initial(&keys, &dcid, &[], 2, 4, &crypto_frame, 1200);
        assert_eq!(packet.len(), 1200);
        assert_eq!(
            packet[..22],
            unhex("c000000001088394c8f03e5157080000449e7b9aec34")[..]
        );
        assert_eq!(
            packet[22..38],
            unhex("d1b1c98dd7689fb8ec11d242b123dc9b")[..]
        );
        assert_eq!(
            packet[1184..],
            unhex("e221af44860018ab0856972e194cd934")[..]
        );
    }

    // --- Determinism and the committed files -----------------------------------------------

    #[test]
    fn generator_is_deterministic() {
        let a = generate();
        let b = generate();
        assert!(a.pcap == b.pcap, "two runs produced different bytes");
        assert_eq!(a.stats, b.stats);
    }

    #[test]
    fn committed_sample_matches_generator() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/sample.pcap");
        let committed = std::fs::read(path).expect("tests/pcaps/sample.pcap exists");
        let fresh = &sample().pcap;
        let first_diff = committed.iter().zip(fresh).position(|(a, b)| a != b);
        assert!(
            committed.len() == fresh.len() && first_diff.is_none(),
            "tests/pcaps/sample.pcap is stale ({} bytes, generator gives {}, first difference at \
             {first_diff:?}); regenerate with \
             `cargo run -p appliance-tests --bin gen-sample-pcap -- tests/pcaps/sample.pcap`",
            committed.len(),
            fresh.len(),
        );
    }

    #[test]
    fn readme_table_matches_generator() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/README.md");
        let readme = std::fs::read_to_string(path).expect("tests/pcaps/README.md exists");
        let table = sample().markdown_table();
        assert!(
            readme.contains(&table),
            "tests/pcaps/README.md's table is stale; the generator prints:\n{table}"
        );
    }

    #[test]
    fn sample_is_small_and_busy() {
        let s = sample();
        assert!(s.pcap.len() <= 300 * 1024, "{} bytes", s.pcap.len());
        assert!(s.flows() >= 200, "{} flows", s.flows());
        assert!(s.packets() >= 1500, "{} packets", s.packets());
        assert!(s.duration_us > 1800 * 1_000_000);
    }

    // --- An independent reader ----------------------------------------------------------------

    struct Rec<'a> {
        ts_us: u64,
        frame: &'a [u8],
    }

    fn records(pcap: &[u8]) -> Vec<Rec<'_>> {
        assert_eq!(
            pcap[..4],
            [0xd4, 0xc3, 0xb2, 0xa1],
            "little-endian microsecond pcap"
        );
        assert_eq!(u16::from_le_bytes([pcap[4], pcap[5]]), 2);
        assert_eq!(u16::from_le_bytes([pcap[6], pcap[7]]), 4);
        assert_eq!(
            u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
            1,
            "LINKTYPE_ETHERNET"
        );
        let mut out = Vec::new();
        let mut off = 24;
        while off < pcap.len() {
            let h = |i: usize| u32::from_le_bytes(pcap[off + i..off + i + 4].try_into().unwrap());
            let (sec, usec, incl, orig) = (h(0), h(4), h(8) as usize, h(12) as usize);
            assert!(usec < 1_000_000);
            assert_eq!(incl, orig, "no truncated records");
            out.push(Rec {
                ts_us: u64::from(sec) * 1_000_000 + u64::from(usec),
                frame: &pcap[off + 16..off + 16 + incl],
            });
            off += 16 + incl;
        }
        assert_eq!(off, pcap.len());
        out
    }

    /// RFC 1071 sum, folded; a region holding its own correct checksum sums to 0xffff.
    fn ones_sum(parts: &[&[u8]]) -> u16 {
        let mut sum = 0u64;
        let mut odd: Option<u8> = None;
        for part in parts {
            for &b in *part {
                match odd.take() {
                    Some(hi) => sum += u64::from(u16::from_be_bytes([hi, b])),
                    None => odd = Some(b),
                }
            }
        }
        if let Some(hi) = odd {
            sum += u64::from(hi) << 8;
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
    struct Key {
        proto: u8,
        a: (Vec<u8>, u16),
        b: (Vec<u8>, u16),
    }

    impl Key {
        fn new(proto: u8, src: &[u8], sport: u16, dst: &[u8], dport: u16) -> Self {
            let (a, b) = ((src.to_vec(), sport), (dst.to_vec(), dport));
            if a <= b {
                Self { proto, a, b }
            } else {
                Self { proto, a: b, b: a }
            }
        }
    }

    /// What the reader found in one frame.
    struct Parsed<'a> {
        key: Option<Key>,
        /// UDP payload of a whole datagram (unfragmented), with the source port.
        udp: Option<(u16, u16, &'a [u8])>,
    }

    #[derive(Default)]
    struct Checked {
        ipv4_headers: usize,
        tcp: usize,
        udp: usize,
        icmp: usize,
        icmpv6: usize,
        fragments: usize,
        reassembled: usize,
    }

    fn verify_l4(proto: u8, pseudo: &[u8], seg: &[u8], c: &mut Checked) {
        match proto {
            6 => {
                assert!(seg.len() >= 20 && usize::from(seg[12] >> 4) * 4 <= seg.len());
                assert_eq!(ones_sum(&[pseudo, seg]), 0xffff, "TCP checksum");
                c.tcp += 1;
            }
            17 => {
                assert_eq!(
                    usize::from(u16::from_be_bytes([seg[4], seg[5]])),
                    seg.len(),
                    "UDP length"
                );
                assert_ne!(seg[6..8], [0, 0], "UDP checksum present");
                assert_eq!(ones_sum(&[pseudo, seg]), 0xffff, "UDP checksum");
                c.udp += 1;
            }
            58 => {
                assert_eq!(ones_sum(&[pseudo, seg]), 0xffff, "ICMPv6 checksum");
                c.icmpv6 += 1;
            }
            p => panic!("unexpected protocol {p}"),
        }
    }

    fn ports(seg: &[u8]) -> (u16, u16) {
        (
            u16::from_be_bytes([seg[0], seg[1]]),
            u16::from_be_bytes([seg[2], seg[3]]),
        )
    }

    /// Fragments seen so far per (source, destination, IP ID): (offset, more, data).
    type Fragments = HashMap<(Vec<u8>, u16), Vec<(usize, bool, Vec<u8>)>>;

    /// Parses one frame, checking every header and checksum on the way.
    fn parse<'a>(frame: &'a [u8], c: &mut Checked, frags: &mut Fragments) -> Parsed<'a> {
        assert!(
            frame.len() >= 60,
            "mirror-port frames are at least 60 bytes"
        );
        for mac in [&frame[0..6], &frame[6..12]] {
            assert_eq!(
                mac[0] & 0x03,
                0x02,
                "unicast, locally administered MAC {mac:02x?}"
            );
        }
        let mut off = 12;
        let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == 0x8100 {
            assert_eq!(
                u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff,
                100,
                "VID 100"
            );
            off += 4;
            ethertype = u16::from_be_bytes([frame[16], frame[17]]);
        }
        let ip = &frame[off + 2..];
        match ethertype {
            0x0800 => {
                assert_eq!(ip[0], 0x45);
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                assert!(total <= ip.len());
                assert!(ip[total..].iter().all(|&b| b == 0), "padding is zeros");
                assert_eq!(ones_sum(&[&ip[..20]]), 0xffff, "IPv4 header checksum");
                c.ipv4_headers += 1;
                let (src, dst) = (&ip[12..16], &ip[16..20]);
                for a in [src, dst] {
                    assert!(
                        a[0] == 198 && (a[1] & 0xfe) == 18,
                        "{a:?} outside 198.18.0.0/15"
                    );
                }
                let proto = ip[9];
                let flags = u16::from_be_bytes([ip[6], ip[7]]);
                let (mf, frag_off) = (flags & 0x2000 != 0, usize::from(flags & 0x1fff) * 8);
                let body = &ip[20..total];
                let mut pseudo = [src, dst, &[0, proto]].concat();
                if mf || frag_off > 0 {
                    c.fragments += 1;
                    let id = u16::from_be_bytes([ip[4], ip[5]]);
                    let parts = frags.entry(([src, dst].concat(), id)).or_default();
                    parts.push((frag_off, mf, body.to_vec()));
                    parts.sort_by_key(|p| p.0);
                    let mut whole = Vec::new();
                    let mut complete = false;
                    for (o, more, data) in parts.iter() {
                        if *o != whole.len() {
                            break;
                        }
                        whole.extend_from_slice(data);
                        complete = !more;
                    }
                    if complete {
                        pseudo.extend_from_slice(&(whole.len() as u16).to_be_bytes());
                        verify_l4(proto, &pseudo, &whole, c);
                        c.reassembled += 1;
                    }
                    let key = (frag_off == 0).then(|| {
                        let (sp, dp) = ports(body);
                        Key::new(proto, src, sp, dst, dp)
                    });
                    return Parsed { key, udp: None };
                }
                pseudo.extend_from_slice(&(body.len() as u16).to_be_bytes());
                if proto == 1 {
                    assert_eq!(ones_sum(&[body]), 0xffff, "ICMP checksum");
                    c.icmp += 1;
                    let id = u16::from_be_bytes([body[4], body[5]]);
                    return Parsed {
                        key: Some(Key::new(1, src, id, dst, id)),
                        udp: None,
                    };
                }
                verify_l4(proto, &pseudo, body, c);
                let (sp, dp) = ports(body);
                let udp = (proto == 17).then(|| (sp, dp, &body[8..]));
                Parsed {
                    key: Some(Key::new(proto, src, sp, dst, dp)),
                    udp,
                }
            }
            0x86dd => {
                assert_eq!(ip[0] >> 4, 6);
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                assert_eq!(40 + len.max(20), ip.len().max(60), "IPv6 payload length");
                let (src, dst, next) = (&ip[8..24], &ip[24..40], ip[6]);
                for a in [src, dst] {
                    assert_eq!(a[..4], [0x20, 0x01, 0x0d, 0xb8], "outside 2001:db8::/32");
                }
                let body = &ip[40..40 + len];
                let pseudo = [src, dst, &(len as u32).to_be_bytes(), &[0, 0, 0, next]].concat();
                verify_l4(next, &pseudo, body, c);
                let (sp, dp) = if next == 58 { (0, 0) } else { ports(body) };
                let udp = (next == 17).then(|| (sp, dp, &body[8..]));
                Parsed {
                    key: Some(Key::new(next, src, sp, dst, dp)),
                    udp,
                }
            }
            t => panic!("unexpected EtherType {t:#06x}"),
        }
    }

    struct Scan<'a> {
        checked: Checked,
        /// Timestamps per conversation.
        flows: HashMap<Key, Vec<u64>>,
        /// Whole UDP datagrams: (src port, dst port, payload).
        udp: Vec<(u16, u16, &'a [u8])>,
    }

    fn scan(pcap: &[u8]) -> Scan<'_> {
        let mut s = Scan {
            checked: Checked::default(),
            flows: HashMap::new(),
            udp: Vec::new(),
        };
        let mut frags = HashMap::new();
        let recs = records(pcap);
        let mut last = 0;
        for r in &recs {
            assert!(r.ts_us >= last, "timestamps are monotonic");
            last = r.ts_us;
            let p = parse(r.frame, &mut s.checked, &mut frags);
            if let Some(k) = p.key {
                s.flows.entry(k).or_default().push(r.ts_us);
            }
            s.udp.extend(p.udp);
        }
        assert_eq!(
            recs[0].ts_us / 1_000_000,
            START_UNIX_SECS,
            "starts 2026-01-01T00:00:00Z"
        );
        s
    }

    #[test]
    fn every_header_and_checksum_verifies() {
        let s = scan(&sample().pcap);
        let c = &s.checked;
        assert!(c.ipv4_headers > 1000, "{} IPv4 headers", c.ipv4_headers);
        assert!(c.tcp > 500 && c.udp > 500, "tcp {} udp {}", c.tcp, c.udp);
        assert!(c.icmp >= 2 && c.icmpv6 >= 2);
        assert_eq!(
            (c.fragments, c.reassembled),
            (3, 1),
            "one datagram in three fragments"
        );
        assert_eq!(records(&sample().pcap).len() as u32, sample().packets());
    }

    #[test]
    fn timeouts_have_something_to_split() {
        let s = scan(&sample().pcap);
        let gaps = |ts: &Vec<u64>| ts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let idle_split = s.flows.values().filter(|ts| gaps(ts) > 120_000_000).count();
        assert!(
            idle_split >= 3,
            "{idle_split} flows go idle for more than 120 s and resume"
        );
        let long = s.flows.iter().filter(|(k, ts)| {
            k.proto == 17 && ts[ts.len() - 1] - ts[0] > 1_800_000_000 && gaps(ts) < 120_000_000
        });
        assert_eq!(
            long.count(),
            1,
            "one UDP flow stays active for more than 1800 s"
        );
        assert!(s.flows.len() >= 200, "{} conversations", s.flows.len());
    }

    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let len = 1 << (b[*i] >> 6);
        let mut v = u64::from(b[*i] & 0x3f);
        for k in 1..len {
            v = (v << 8) | u64::from(b[*i + k]);
        }
        *i += len;
        v
    }

    /// Removes header protection and decrypts the first (Initial) packet of a datagram, with
    /// keys from `odcid`; returns the plaintext frames.
    fn open_initial(datagram: &[u8], odcid: &[u8], server: bool) -> Vec<u8> {
        use aes::cipher::{BlockCipherEncrypt, KeyInit as _};
        assert_eq!(datagram[0] & 0xf0, 0xc0, "long header, Initial");
        assert_eq!(datagram[1..5], [0, 0, 0, 1], "QUIC v1");
        let mut i = 5;
        let dcid_len = usize::from(datagram[i]);
        i += 1 + dcid_len;
        let scid_len = usize::from(datagram[i]);
        i += 1 + scid_len;
        let token = varint(datagram, &mut i) as usize;
        i += token;
        let length = varint(datagram, &mut i) as usize;
        let pn_offset = i;
        let keys = quic_initial_keys(odcid, server);
        let hp = Aes128::new_from_slice(&keys.hp).unwrap();
        let mut mask = [0u8; 16];
        mask.copy_from_slice(&datagram[pn_offset + 4..pn_offset + 20]);
        hp.encrypt_block((&mut mask).into());
        let mut header = datagram[..pn_offset + 4].to_vec();
        header[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(header[0] & 3) + 1;
        header.truncate(pn_offset + pn_len);
        let mut pn = 0u64;
        for k in 0..pn_len {
            header[pn_offset + k] ^= mask[1 + k];
            pn = (pn << 8) | u64::from(header[pn_offset + k]);
        }
        let mut nonce = keys.iv;
        for (k, b) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + k] ^= b;
        }
        let ct = &datagram[pn_offset + pn_len..pn_offset + length];
        let (body, tag) = ct.split_at(ct.len() - 16);
        let mut plain = body.to_vec();
        let aead = Aes128Gcm::new_from_slice(&keys.key).unwrap();
        let tag: [u8; 16] = tag.try_into().unwrap();
        aead.decrypt_inout_detached(
            &nonce.into(),
            &header,
            plain.as_mut_slice().into(),
            &tag.into(),
        )
        .expect("Initial authenticates");
        plain
    }

    /// CRYPTO frame data of an Initial's plaintext (skipping PADDING and ACK frames).
    fn crypto_data(frames: &[u8]) -> Vec<u8> {
        let mut i = 0;
        let mut out = Vec::new();
        while i < frames.len() {
            match frames[i] {
                0x00 => i += 1,
                0x02 => {
                    i += 1;
                    for _ in 0..4 {
                        varint(frames, &mut i);
                    }
                }
                0x06 => {
                    i += 1;
                    let offset = varint(frames, &mut i) as usize;
                    let len = varint(frames, &mut i) as usize;
                    assert_eq!(offset, out.len());
                    out.extend_from_slice(&frames[i..i + len]);
                    i += len;
                }
                t => panic!("unexpected frame type {t:#x} in an Initial"),
            }
        }
        out
    }

    #[test]
    fn quic_initials_decrypt_and_carry_the_client_hello() {
        let s = scan(&sample().pcap);
        // Initial keys come from the DCID of the client's first Initial (RFC 9001 §5.2).
        let mut odcid: HashMap<u16, Vec<u8>> = HashMap::new();
        let (mut hellos, mut acks, mut servers) = (0, 0, 0);
        for &(sp, dp, payload) in &s.udp {
            if payload.first().is_none_or(|b| b & 0xf0 != 0xc0) {
                continue; // not an Initial
            }
            if dp == 443 {
                assert!(
                    payload.len() >= 1200,
                    "client Initials are padded to 1200 bytes"
                );
                let dcid = payload[6..6 + usize::from(payload[5])].to_vec();
                let key = odcid.entry(sp).or_insert(dcid);
                let hello = crypto_data(&open_initial(payload, key, false));
                if hello.is_empty() {
                    acks += 1;
                    continue;
                }
                assert_eq!(hello[0], 1, "ClientHello");
                let text = String::from_utf8_lossy(&hello);
                assert!(text.contains("quic.example.com") && text.contains("h3"));
                assert!(
                    hello.windows(2).any(|w| w == [0x00, 0x39]),
                    "transport parameters"
                );
                hellos += 1;
            } else if sp == 443 {
                let frames = open_initial(payload, &odcid[&dp], true);
                assert_eq!(crypto_data(&frames)[0], 2, "ServerHello");
                servers += 1;
            }
        }
        assert!(hellos >= 5, "{hellos} QUIC handshakes");
        assert_eq!((acks, servers), (hellos, hellos));
    }
}
