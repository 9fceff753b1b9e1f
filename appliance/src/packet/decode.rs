//! The frame decoder: walks the views of this module from the link layer down to the innermost
//! transport header and fills a [`Decoded`]. It owns the fragment table and nothing else; it
//! keeps no per-flow state and does not canonicalise the tuple. Plain frames skip the walk:
//! `fast.rs` reads them in a few bounds checks, inlined into the caller, with the same result.
//!
//! # Fidelity with nfstream 6.6 (checked against `shared/pcaps/public/nfstream/*.csv`)
//!
//! What nfstream does (`engine_cc.c`, `packet_process`), and what we do:
//!
//! - **IP fragments.** nfstream ignores every non-first fragment, IPv4 and IPv6 alike: it is
//!   in no flow and counted nowhere (`dns_fragmented.pcap`: the 264-byte second fragment is
//!   missing from the 1596-byte flow; `dnscrypt-v1-and-resolver-pings.pcap`: 488 of 608
//!   packets). A first fragment is an ordinary packet with its ports. We return the later
//!   fragment *with its first fragment's tuple* and `is_fragment = true`, so the flow engine
//!   chooses: skip `is_fragment` packets to match nfstream, or count them for exact bytes.
//! - **Transport header shorter than the IP length allows** (`ip_fragmented_garbage.pcap`:
//!   first fragments with 16 bytes of TCP): nfstream makes a flow with ports 0. We do the
//!   same (`l4_header_len = 0`). A header cut by the *capture* (snaplen) is a drop
//!   (`TcpTruncated`, ...), as the contract says; nfstream would read past the capture.
//! - **Tunnels.** nfstream follows GTP-U (G-PDU, UDP 2152) when `decode_tunnels`, and IP-in-IP
//!   (proto 4/41) *always*, reporting `tunnel_id` 0 for IP-in-IP. It does not decode GRE or
//!   VXLAN (those flows are proto 47 / UDP 4789). We follow all four only when
//!   `decode_tunnels`, with `tunnel_id` = the outermost tunnel's `packet::tunnel` constant.
//!   A non-G-PDU GTP message, or a GTP header shorter than 8 bytes, is the outer UDP flow in
//!   both (`fuzz-2021-06-07-c6c72a0a56.pcap`).
//! - **VLAN.** nfstream follows 0x8100 only; we also follow 0x88a8 and 0x9100. Both keep the
//!   innermost VID.
//! - **IPv6 extension headers.** nfstream skips 0, 43, 44, 60, 135 and drops a packet whose
//!   chain reaches 59 (no next header); AH (51) is its transport. We also skip AH and make a
//!   protocol-59 flow. nfstream drops an IPv6 packet shorter than its payload length; we
//!   accept it and set `is_truncated`.
//! - **SCTP.** nfstream flows SCTP with ports 0; we use the SCTP ports.
//! - **TSO** (IPv4 total length 0): nfstream drops it; we use the captured length.
//! - **Malformed TCP** (data offset < 5, or options past the end of the frame): nfstream keys
//!   it on its ports; the contract makes it `TcpTruncated` (2 frames of
//!   `reasm_crash_anon.pcapng`). Every other frame of the 100 public captures lands in the same
//!   flow as in nfstream (checked by `tests::public_captures`).
//!
//! # Decisions
//!
//! - A tunnel is *entered* when its fixed header is recognised (GTPv1 G-PDU; VXLAN with the I
//!   flag; GRE version 0 without routing, or PPTP's version 1, carrying IPv4, IPv6, Ethernet,
//!   PPP or MPLS; IP-in-IP always) and something follows it. Otherwise the packet carrying it
//!   is the flow. After entering, a cut or malformed header (the tunnel's own or the inner
//!   packet's) is `TunnelTruncated`; an inner packet that is not IP (PPTP's encrypted or LCP
//!   frames, ARP in VXLAN, non-IP G-PDUs) makes the *carrying* packet the flow, as if the
//!   tunnel had not been followed, so its bytes are still counted somewhere.
//! - A fragment whose first fragment entered a tunnel joins the inner flow (the table keeps the
//!   whole tuple, not just ports).

use super::ethernet::{self, EtherType};
use super::fast;
use super::fragment::{FragmentKey, FragmentTable};
use super::{
    ChdlcHeader, Decoded, DecoderConfig, DropReason, EthernetFrame, GreHeader, GtpHeader,
    IcmpPacket, Ipv4Packet, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6Packet, LinkType, MplsStack,
    NullFamily, NullHeader, PppFrame, PppoeSession, SctpPacket, Sll2Header, SllHeader, TcpPacket,
    Tuple, UdpPacket, VlanTag, VxlanHeader, chdlc, gre, gtp, icmp, ip_proto, ipv6, ppp, pppoe,
    sctp, sll, sll2, tcp, tunnel, udp, vlan, vxlan,
};

/// Tunnels followed at most; entering a fifth is [`DropReason::TunnelTooDeep`].
pub const MAX_TUNNEL_DEPTH: u8 = 4;

/// IP headers in one frame at most: the outer one plus one per tunnel.
pub(super) const MAX_IP_LAYERS: usize = MAX_TUNNEL_DEPTH as usize + 1;

/// Decodes frames; owns the IP fragment table.
#[derive(Debug)]
pub struct Decoder {
    cfg: DecoderConfig,
    frags: FragmentTable,
    /// Where the general walk writes its result (see [`Decoder::decode`]).
    walked: Walked,
}

impl Decoder {
    /// A decoder with `cfg`; allocates the fragment table (`cfg.max_fragments` entries) now,
    /// so that decoding never allocates.
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder {
            cfg,
            frags: FragmentTable::new(cfg.max_fragments),
            walked: Walked::default(),
        }
    }

    /// The settings this decoder was made with.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// First fragments whose table entry was replaced before it expired (table too small for
    /// the fragment rate; their later fragments become `FragmentUnmatched`).
    pub fn fragment_evictions(&self) -> u64 {
        self.frags.evictions()
    }

    /// Decodes one frame captured at `ts_ns` (used to age the fragment table).
    ///
    /// Plain frames (Ethernet with at most two VLAN tags, Linux SLL/SLL2 or raw IP; IPv4 not
    /// fragmented, IPv6 without extension headers; no tunnel) take a fast path, inlined into
    /// the caller (`fast.rs`), that gives exactly what the general walk would. Everything
    /// else, every drop included, goes through the walk.
    ///
    /// # Errors
    ///
    /// Why the frame cannot become part of a flow.
    #[inline(always)]
    pub fn decode(
        &mut self,
        link: LinkType,
        frame: &[u8],
        ts_ns: u64,
    ) -> Result<Decoded, DropReason> {
        if let Some(d) = fast::decode(link, frame, self.cfg.decode_tunnels) {
            return Ok(d);
        }
        // The walk does not return its `Decoded`: returned, it would be written straight into
        // the caller's result slot, the fast path's `Decoded` would have to join it there
        // (stored field by field), and the caller would read it back with wide loads that
        // cannot forward from those narrow stores (a stall that cost more than the whole fast
        // path). Instead it leaves scalars in `self.walked`, read back here at the width they
        // were written, and both paths meet in registers.
        self.walk(link, frame, ts_ns)?;
        Ok(self.walked.decoded())
    }

    /// The general walk over every header: [`Decoder::decode`] without the fast path, its
    /// result left in `self.walked`.
    #[inline(never)]
    fn walk(&mut self, link: LinkType, frame: &[u8], ts_ns: u64) -> Result<(), DropReason> {
        let mut walk = Walk::new(frame, self.cfg.decode_tunnels, ts_ns);
        walk.run(link, &mut self.frags, &mut self.walked)?;
        if self.walked.is_fragment && !self.cfg.join_fragments {
            return Err(DropReason::FragmentIgnored);
        }
        Ok(())
    }

    /// [`Decoder::decode`] through the general walk only, for tests of the fast path.
    #[cfg(test)]
    pub(super) fn decode_walk(
        &mut self,
        link: LinkType,
        frame: &[u8],
        ts_ns: u64,
    ) -> Result<Decoded, DropReason> {
        self.walk(link, frame, ts_ns)?;
        Ok(self.walked.decoded())
    }
}

/// What the walk found, as [`Decoded`] but in scalars only: written by the out-of-line walk,
/// read back by the inlined [`Decoder::decode`] right away, each field at the width it was
/// written. (Byte arrays would be copied in pieces that need not match how they were written,
/// and a load that spans two stores waits for both to reach the cache.)
#[derive(Clone, Copy, Debug, Default)]
struct Walked {
    src_ip: u128,
    dst_ip: u128,
    /// MACs as the 6 bytes and two zeros, in native byte order.
    src_mac: u64,
    dst_mac: u64,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    ip_version: u8,
    vlan_id: u16,
    tunnel_id: u32,
    ip_len: u32,
    ip_header_len: u16,
    l4_header_len: u16,
    payload_offset: u32,
    payload_len: u32,
    tcp_flags: u8,
    is_fragment: bool,
    is_truncated: bool,
}

impl Walked {
    /// Overwrites the tuple fields with `t`.
    #[inline(always)]
    fn set_tuple(&mut self, t: &Tuple) {
        self.src_ip = u128::from_ne_bytes(t.src_ip);
        self.dst_ip = u128::from_ne_bytes(t.dst_ip);
        self.src_port = t.src_port;
        self.dst_port = t.dst_port;
        self.protocol = t.protocol;
        self.ip_version = t.ip_version;
        self.vlan_id = t.vlan_id;
        self.tunnel_id = t.tunnel_id;
    }

    /// The `Decoded` these facts stand for.
    #[inline(always)]
    fn decoded(&self) -> Decoded {
        Decoded {
            tuple: Tuple {
                src_ip: self.src_ip.to_ne_bytes(),
                dst_ip: self.dst_ip.to_ne_bytes(),
                src_port: self.src_port,
                dst_port: self.dst_port,
                protocol: self.protocol,
                ip_version: self.ip_version,
                vlan_id: self.vlan_id,
                tunnel_id: self.tunnel_id,
            },
            src_mac: mac_from_u64(self.src_mac),
            dst_mac: mac_from_u64(self.dst_mac),
            ip_len: self.ip_len,
            ip_header_len: self.ip_header_len,
            l4_header_len: self.l4_header_len,
            payload_offset: self.payload_offset,
            payload_len: self.payload_len,
            tcp_flags: self.tcp_flags,
            is_fragment: self.is_fragment,
            is_truncated: self.is_truncated,
        }
    }
}

/// A MAC as a `u64` (see [`Walked`]).
#[inline(always)]
fn mac_to_u64(m: [u8; 6]) -> u64 {
    u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0])
}

/// The inverse of [`mac_to_u64`].
#[inline(always)]
fn mac_from_u64(m: u64) -> [u8; 6] {
    let b = m.to_ne_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// The next header to read, and where it starts in the frame.
#[derive(Clone, Copy, Debug)]
enum Next {
    /// An Ethernet II header.
    Ethernet(usize),
    /// Whatever this EtherType announces.
    EtherType(u16, usize),
    /// A PPP frame (optional address/control, 1- or 2-byte protocol), or Cisco HDLC.
    Ppp(usize),
    /// Whatever this PPP protocol announces.
    PppProtocol(u16, usize),
    /// IPv4 or IPv6, by version nibble.
    Ip(usize),
    /// IPv4.
    Ipv4(usize),
    /// IPv6.
    Ipv6(usize),
}

/// Where the walk goes after a transport header.
enum Transport {
    /// The packet is the flow.
    Flow(L4),
    /// Into a tunnel.
    Tunnel(Next),
}

#[derive(Clone, Copy)]
enum Frag {
    No,
    First(FragmentKey),
    Later(FragmentKey),
}

/// One decoded IP header.
#[derive(Clone, Copy)]
struct Ip {
    src: [u8; 16],
    dst: [u8; 16],
    version: u8,
    /// Transport protocol (after IPv6 extension headers).
    protocol: u8,
    ip_off: usize,
    /// Where the transport header (or the fragment data) starts.
    l4_off: usize,
    /// End of the packet's bytes in the frame: its length, or the capture, whichever is first.
    end: usize,
    /// End of the packet per its header (may lie beyond the frame).
    claimed_end: usize,
    /// Length per the header (captured length if the field is 0).
    ip_len: u32,
    frag: Frag,
}

/// The transport header facts of a flow.
#[derive(Clone, Copy, Default)]
struct L4 {
    src_port: u16,
    dst_port: u16,
    header_len: usize,
    tcp_flags: u8,
}

impl L4 {
    /// No transport header we know: ports 0, payload from the end of the IP header.
    const BARE: L4 = L4 {
        src_port: 0,
        dst_port: 0,
        header_len: 0,
        tcp_flags: 0,
    };
}

/// The per-frame context a flow's facts are stamped with.
#[derive(Clone, Copy)]
struct Ctx {
    vlan_id: u16,
    tunnel_id: u32,
    truncated: bool,
}

/// The packet carrying the innermost tunnel entered: the flow when the tunnel's payload turns
/// out not to be IP.
#[derive(Clone, Copy)]
struct Carrier {
    ip: Ip,
    l4: L4,
    ctx: Ctx,
    /// First-fragment keys recorded above (and at) the carrier.
    n_pending: usize,
}

/// The state of decoding one frame.
struct Walk<'f> {
    frame: &'f [u8],
    now_ns: u64,
    tunnels: bool,
    /// End of the bytes the current layer may use (the carrying IP packet's end in a tunnel).
    limit: usize,
    ctx: Ctx,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    have_mac: bool,
    /// Tunnels entered.
    depth: u8,
    /// Inside a first fragment: inner packets are cut by fragmentation, not by the capture.
    in_fragment: bool,
    carrier: Option<Carrier>,
    /// First fragments seen on the way down (`pending[..n_pending]`), remembered with the
    /// final tuple. Written only for fragments, so a plain array is never initialised here.
    n_pending: usize,
}

impl<'f> Walk<'f> {
    #[inline]
    fn new(frame: &'f [u8], tunnels: bool, now_ns: u64) -> Self {
        Walk {
            frame,
            now_ns,
            tunnels,
            limit: frame.len(),
            ctx: Ctx {
                vlan_id: 0,
                tunnel_id: tunnel::NONE,
                truncated: false,
            },
            src_mac: [0; 6],
            dst_mac: [0; 6],
            have_mac: false,
            depth: 0,
            in_fragment: false,
            carrier: None,
            n_pending: 0,
        }
    }

    /// The frame from `off` to the current limit (empty past it).
    #[inline]
    fn bytes(&self, off: usize) -> &'f [u8] {
        self.frame.get(off..self.limit).unwrap_or(&[])
    }

    /// Walks the frame; on success its facts are in `out`.
    // The hot path is one loop in one function, and the result is built once, in `out`: moving
    // it (or an `Ip`) through memory right after building it field by field costs
    // store-forwarding stalls (the copy reads wide what was written narrow) that doubled the
    // time per frame. So no `Result<Decoded, _>` is returned and `?`-ed on the way out.
    #[inline(always)]
    fn run(
        &mut self,
        link: LinkType,
        frags: &mut FragmentTable,
        out: &mut Walked,
    ) -> Result<(), DropReason> {
        let mut next = self.link(link)?;
        loop {
            let ip = match next {
                Next::Ipv4(off) => self.ipv4(off),
                Next::Ipv6(off) => self.ipv6(off),
                other => match self.below_ip(other) {
                    Ok(n) => {
                        next = n;
                        continue;
                    }
                    Err(e) => return self.fail(e, frags, out),
                },
            };
            let ip = match ip {
                Ok(ip) => ip,
                Err(e) => return self.fail(e, frags, out),
            };
            match ip.frag {
                Frag::No => {}
                Frag::First(key) => {
                    if let Some(slot) = frags.pending.get_mut(self.n_pending) {
                        *slot = key;
                        self.n_pending += 1;
                    }
                    self.in_fragment = true;
                }
                Frag::Later(key) => return self.later_fragment(&ip, &key, frags, out),
            }
            match self.transport(&ip) {
                Ok(Transport::Flow(l4)) => {
                    if self.n_pending != 0 {
                        let tuple = self.tuple(&ip, &l4, &self.ctx);
                        self.remember(frags, &tuple, self.n_pending);
                    }
                    *out = self.finish(&ip, l4, self.ctx);
                    return Ok(());
                }
                Ok(Transport::Tunnel(n)) => next = n,
                Err(e) => return self.fail(e, frags, out),
            }
        }
    }

    /// Maps an error met inside a tunnel (see the module docs).
    #[cold]
    fn fail(
        &mut self,
        e: DropReason,
        frags: &mut FragmentTable,
        out: &mut Walked,
    ) -> Result<(), DropReason> {
        let Some(c) = self.carrier else {
            return Err(e);
        };
        match e {
            DropReason::NotIp => {
                let tuple = self.tuple(&c.ip, &c.l4, &c.ctx);
                self.remember(frags, &tuple, c.n_pending);
                *out = self.finish(&c.ip, c.l4, c.ctx);
                Ok(())
            }
            DropReason::FragmentUnmatched
            | DropReason::FragmentTableFull
            | DropReason::TunnelTooDeep => Err(e),
            _ => Err(DropReason::TunnelTruncated),
        }
    }

    /// Stores the first `n` pending first-fragment keys with `tuple`.
    fn remember(&self, frags: &mut FragmentTable, tuple: &Tuple, n: usize) {
        for i in 0..n {
            let key = frags.pending[i];
            frags.insert(key, *tuple, self.now_ns);
        }
    }

    /// A non-first fragment: the tuple of its first fragment, if remembered.
    fn later_fragment(
        &mut self,
        ip: &Ip,
        key: &FragmentKey,
        frags: &mut FragmentTable,
        out: &mut Walked,
    ) -> Result<(), DropReason> {
        if frags.capacity() == 0 {
            return self.fail(DropReason::FragmentTableFull, frags, out);
        }
        let Some(mut tuple) = frags.lookup(key, self.now_ns) else {
            return self.fail(DropReason::FragmentUnmatched, frags, out);
        };
        tuple.vlan_id = self.ctx.vlan_id;
        self.remember(frags, &tuple, self.n_pending);
        *out = self.finish(ip, L4::BARE, self.ctx);
        out.set_tuple(&tuple);
        out.is_fragment = true;
        Ok(())
    }

    /// Reads the link-layer header.
    #[inline(always)]
    fn link(&mut self, link: LinkType) -> Result<Next, DropReason> {
        let frame = self.frame;
        Ok(match link {
            LinkType::Ethernet => Next::Ethernet(0),
            LinkType::Null => family(NullHeader::new_checked(frame)?.family_any_endian())?,
            LinkType::Loop => family(NullHeader::new_checked(frame)?.family_be())?,
            LinkType::Ppp | LinkType::PppHdlc => Next::Ppp(0),
            LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Next::Ip(0),
            LinkType::CiscoHdlc => {
                let h = ChdlcHeader::new_checked(frame)?;
                if !chdlc::is_cisco_address(h.address()) {
                    return Err(DropReason::NotIp);
                }
                Next::EtherType(h.protocol_raw(), chdlc::HEADER_LEN)
            }
            LinkType::LinuxSll => {
                let h = SllHeader::new_checked(frame)?;
                if sll::arphrd::protocol_is_not_ethertype(h.arphrd()) {
                    return Err(DropReason::NotIp);
                }
                Next::EtherType(h.protocol_raw(), sll::HEADER_LEN)
            }
            LinkType::LinuxSll2 => {
                let h = Sll2Header::new_checked(frame)?;
                if sll::arphrd::protocol_is_not_ethertype(h.arphrd()) {
                    return Err(DropReason::NotIp);
                }
                Next::EtherType(h.protocol_raw(), sll2::HEADER_LEN)
            }
            LinkType::Unknown(_) => return Err(DropReason::UnsupportedLinkType),
        })
    }

    /// One step between the link layer and IP: Ethernet, EtherTypes, PPP, version nibble.
    #[inline(always)]
    fn below_ip(&mut self, next: Next) -> Result<Next, DropReason> {
        Ok(match next {
            Next::Ethernet(off) => {
                let eth = EthernetFrame::new_checked(self.bytes(off))?;
                if !self.have_mac {
                    self.have_mac = true;
                    self.src_mac = eth.src_addr();
                    self.dst_mac = eth.dst_addr();
                }
                if eth.is_length() {
                    // IEEE 802.3 with LLC: STP, CDP, NetBIOS, IPX...
                    return Err(DropReason::NotIp);
                }
                Next::EtherType(eth.ethertype_raw(), off + ethernet::HEADER_LEN)
            }
            Next::EtherType(t, off) => self.ethertype(t, off)?,
            Next::Ppp(off) => {
                let b = self.bytes(off);
                if let Some(&a) = b.first()
                    && chdlc::is_cisco_address(a)
                {
                    // Cisco HDLC framing on a PPP link type (libpcap's DLT_PPP_SERIAL).
                    let h = ChdlcHeader::new_checked(b)?;
                    Next::EtherType(h.protocol_raw(), off + chdlc::HEADER_LEN)
                } else {
                    let f = PppFrame::new_checked(b)?;
                    Next::PppProtocol(f.protocol(), off + f.header_len())
                }
            }
            Next::PppProtocol(p, off) => match p {
                ppp::protocol::IPV4 => Next::Ipv4(off),
                ppp::protocol::IPV6 => Next::Ipv6(off),
                ppp::protocol::MPLS_UNICAST | ppp::protocol::MPLS_MULTICAST => {
                    Next::EtherType(EtherType::MplsUnicast.into(), off)
                }
                _ => return Err(DropReason::NotIp),
            },
            Next::Ip(off) => by_version(self.bytes(off), off, DropReason::Ipv4Truncated)?,
            // `run` reads IP headers itself and never passes these here.
            Next::Ipv4(_) | Next::Ipv6(_) => next,
        })
    }

    /// Dispatches on an EtherType found at any layer (Ethernet, VLAN tag, SLL, HDLC, GRE).
    #[inline(always)]
    fn ethertype(&mut self, t: u16, off: usize) -> Result<Next, DropReason> {
        Ok(match EtherType::from(t) {
            EtherType::Ipv4 => Next::Ipv4(off),
            EtherType::Ipv6 => Next::Ipv6(off),
            EtherType::Vlan | EtherType::ServiceVlan | EtherType::QinQ => {
                let tag = VlanTag::new_checked(self.bytes(off))?;
                // Tags nest outer to inner: the last one read is the innermost.
                self.ctx.vlan_id = tag.vid();
                Next::EtherType(tag.ethertype_raw(), off + vlan::TAG_LEN)
            }
            EtherType::MplsUnicast | EtherType::MplsMulticast => {
                let stack = MplsStack::new_checked(self.bytes(off))?;
                by_version(
                    stack.payload(),
                    off + stack.header_len(),
                    DropReason::MplsTruncated,
                )?
            }
            EtherType::PppoeSession => {
                let s = PppoeSession::new_checked(self.bytes(off))?;
                if s.version() != 1 || s.kind() != 1 || s.code() != 0 {
                    return Err(DropReason::NotIp);
                }
                Next::PppProtocol(s.ppp_protocol(), off + pppoe::HEADER_LEN)
            }
            _ => return Err(DropReason::NotIp),
        })
    }

    /// Reads an IPv4 header at `off`.
    #[inline(always)]
    fn ipv4(&mut self, off: usize) -> Result<Ip, DropReason> {
        let buf = self.bytes(off);
        let p = Ipv4Packet::new_checked(buf)?;
        let claimed = p.claimed_len();
        if p.is_truncated() && !self.in_fragment {
            self.ctx.truncated = true;
        }
        let (src, dst) = (v4_mapped(p.src_addr()), v4_mapped(p.dst_addr()));
        let key = || FragmentKey {
            src,
            dst,
            ident: u32::from(p.ident()),
            protocol: p.protocol(),
            version: 4,
        };
        let frag = if !p.is_fragment() {
            Frag::No
        } else if p.frag_offset() != 0 {
            Frag::Later(key())
        } else {
            Frag::First(key())
        };
        Ok(Ip {
            src,
            dst,
            version: 4,
            protocol: p.protocol(),
            ip_off: off,
            l4_off: off + p.header_len(),
            end: off + p.datagram().len(),
            claimed_end: off + claimed,
            ip_len: u32::try_from(claimed).unwrap_or(u32::MAX),
            frag,
        })
    }

    /// Reads an IPv6 header and its extension headers at `off`.
    #[inline(always)]
    fn ipv6(&mut self, off: usize) -> Result<Ip, DropReason> {
        let buf = self.bytes(off);
        let p = Ipv6Packet::new_checked(buf)?;
        let claimed = p.claimed_len();
        if p.is_truncated() && !self.in_fragment {
            self.ctx.truncated = true;
        }
        let (src, dst) = (p.src_addr(), p.dst_addr());
        let end = off + p.datagram().len();
        let mut nh = p.next_header();
        let mut cur = off + ipv6::HEADER_LEN;
        let mut frag = Frag::No;
        // Every step consumes at least 8 bytes or fails, so the loop ends.
        while ipv6::is_extension(nh) {
            let rest = self.frame.get(cur..end).unwrap_or(&[]);
            if nh == ip_proto::FRAGMENT {
                let f = Ipv6FragmentHeader::new_checked(rest)?;
                cur += ipv6::FRAGMENT_HEADER_LEN;
                nh = f.next_header();
                let key = FragmentKey {
                    src,
                    dst,
                    ident: f.ident(),
                    protocol: nh,
                    version: 6,
                };
                if f.frag_offset() != 0 {
                    // Fragment data follows, not headers.
                    frag = Frag::Later(key);
                    break;
                }
                if f.more_frags() {
                    frag = Frag::First(key);
                }
            } else {
                let e = Ipv6ExtHeader::new_checked(nh, rest)?;
                nh = e.next_header();
                cur += e.header_len();
            }
        }
        Ok(Ip {
            src,
            dst,
            version: 6,
            protocol: nh,
            ip_off: off,
            l4_off: cur,
            end,
            claimed_end: off + claimed,
            ip_len: u32::try_from(claimed).unwrap_or(u32::MAX),
            frag,
        })
    }

    /// Reads the transport header of `ip`, or enters the tunnel it carries.
    #[inline(always)]
    fn transport(&mut self, ip: &Ip) -> Result<Transport, DropReason> {
        let l4 = self.frame.get(ip.l4_off..ip.end).unwrap_or(&[]);
        // Bytes the IP header says the transport has. Fewer than a minimal header: not a
        // transport header we can read, so a flow without ports (as nfstream does).
        let room = ip.claimed_end.saturating_sub(ip.l4_off);
        let t = match ip.protocol {
            ip_proto::TCP if room >= tcp::MIN_HEADER_LEN => {
                let t = TcpPacket::new_checked(l4)?;
                L4 {
                    src_port: t.src_port(),
                    dst_port: t.dst_port(),
                    header_len: t.header_len(),
                    tcp_flags: t.flags(),
                }
            }
            ip_proto::UDP if room >= udp::HEADER_LEN => {
                let u = UdpPacket::new_checked(l4)?;
                let t = L4 {
                    src_port: u.src_port(),
                    dst_port: u.dst_port(),
                    header_len: udp::HEADER_LEN,
                    tcp_flags: 0,
                };
                if self.tunnels
                    && let Some(n) = self.udp_tunnel(ip, &u, t)?
                {
                    return Ok(Transport::Tunnel(n));
                }
                t
            }
            ip_proto::SCTP if room >= sctp::HEADER_LEN => {
                let s = SctpPacket::new_checked(l4)?;
                L4 {
                    src_port: s.src_port(),
                    dst_port: s.dst_port(),
                    header_len: sctp::HEADER_LEN,
                    tcp_flags: 0,
                }
            }
            ip_proto::ICMP | ip_proto::ICMPV6 if room >= icmp::HEADER_LEN => {
                IcmpPacket::new_checked(l4)?;
                L4 {
                    header_len: icmp::HEADER_LEN,
                    ..L4::BARE
                }
            }
            ip_proto::IPV4 | ip_proto::IPV6 if self.tunnels => {
                let next = if ip.protocol == ip_proto::IPV4 {
                    Next::Ipv4(ip.l4_off)
                } else {
                    Next::Ipv6(ip.l4_off)
                };
                match self.enter(ip, L4::BARE, tunnel::IP_IN_IP, ip.l4_off, next)? {
                    Some(n) => return Ok(Transport::Tunnel(n)),
                    None => L4::BARE,
                }
            }
            ip_proto::GRE if self.tunnels => match self.gre(ip, l4)? {
                Some(n) => return Ok(Transport::Tunnel(n)),
                None => L4::BARE,
            },
            _ => L4::BARE,
        };
        Ok(Transport::Flow(t))
    }

    /// GTP-U (either port 2152) or VXLAN (destination port 4789) in a UDP payload.
    fn udp_tunnel(
        &mut self,
        ip: &Ip,
        u: &UdpPacket<'f>,
        carrier: L4,
    ) -> Result<Option<Next>, DropReason> {
        let payload = u.payload();
        let at = ip.l4_off + udp::HEADER_LEN;
        if (u.src_port() == gtp::PORT || u.dst_port() == gtp::PORT) && gtp::is_g_pdu(payload) {
            let h = GtpHeader::new_checked(payload)?;
            let inner = at + h.header_len();
            return self.enter(ip, carrier, tunnel::GTP, inner, Next::Ip(inner));
        }
        if u.dst_port() == vxlan::PORT
            && let Ok(h) = VxlanHeader::new_checked(payload)
            && h.has_vni()
        {
            let inner = at + vxlan::HEADER_LEN;
            return self.enter(ip, carrier, tunnel::VXLAN, inner, Next::Ethernet(inner));
        }
        Ok(None)
    }

    /// GRE in `l4`, the transport bytes of `ip`.
    fn gre(&mut self, ip: &Ip, l4: &'f [u8]) -> Result<Option<Next>, DropReason> {
        let Some(protocol) = gre::recognise(l4) else {
            return Ok(None);
        };
        let mk: fn(usize) -> Next = match EtherType::from(protocol) {
            EtherType::Ipv4 => Next::Ipv4,
            EtherType::Ipv6 => Next::Ipv6,
            EtherType::TransparentEthernet => Next::Ethernet,
            EtherType::Ppp => Next::Ppp,
            EtherType::MplsUnicast | EtherType::MplsMulticast => {
                |off| Next::EtherType(EtherType::MplsUnicast.into(), off)
            }
            _ => return Ok(None),
        };
        let h = GreHeader::new_checked(l4)?;
        let inner = ip.l4_off + h.header_len();
        self.enter(ip, L4::BARE, tunnel::GRE, inner, mk(inner))
    }

    /// Enters a tunnel of kind `kind` carried by `ip` (whose own flow would be `carrier`), its
    /// payload at `inner`. `Ok(None)`: nothing follows the tunnel header, `ip` is the flow.
    fn enter(
        &mut self,
        ip: &Ip,
        carrier: L4,
        kind: u32,
        inner: usize,
        next: Next,
    ) -> Result<Option<Next>, DropReason> {
        if inner >= ip.end {
            if ip.claimed_end > inner && !self.in_fragment {
                // The capture ends where the inner packet should start.
                return Err(DropReason::TunnelTruncated);
            }
            return Ok(None);
        }
        if self.depth >= MAX_TUNNEL_DEPTH {
            return Err(DropReason::TunnelTooDeep);
        }
        self.carrier = Some(Carrier {
            ip: *ip,
            l4: carrier,
            ctx: self.ctx,
            n_pending: self.n_pending,
        });
        self.depth += 1;
        if self.ctx.tunnel_id == tunnel::NONE {
            self.ctx.tunnel_id = kind;
        }
        self.limit = ip.end;
        Ok(Some(next))
    }

    /// The tuple of `ip` with transport `t` in context `ctx`.
    #[inline(always)]
    fn tuple(&self, ip: &Ip, t: &L4, ctx: &Ctx) -> Tuple {
        Tuple {
            src_ip: ip.src,
            dst_ip: ip.dst,
            src_port: t.src_port,
            dst_port: t.dst_port,
            protocol: ip.protocol,
            ip_version: ip.version,
            vlan_id: ctx.vlan_id,
            tunnel_id: ctx.tunnel_id,
        }
    }

    /// The flow facts of `ip` with transport `t` in context `ctx`.
    #[inline(always)]
    fn finish(&self, ip: &Ip, t: L4, ctx: Ctx) -> Walked {
        let payload_off = (ip.l4_off + t.header_len).min(ip.end);
        Walked {
            src_ip: u128::from_ne_bytes(ip.src),
            dst_ip: u128::from_ne_bytes(ip.dst),
            src_port: t.src_port,
            dst_port: t.dst_port,
            protocol: ip.protocol,
            ip_version: ip.version,
            vlan_id: ctx.vlan_id,
            tunnel_id: ctx.tunnel_id,
            src_mac: mac_to_u64(self.src_mac),
            dst_mac: mac_to_u64(self.dst_mac),
            ip_len: ip.ip_len,
            ip_header_len: u16::try_from(ip.l4_off - ip.ip_off).unwrap_or(u16::MAX),
            l4_header_len: u16::try_from(t.header_len).unwrap_or(u16::MAX),
            payload_offset: u32::try_from(payload_off).unwrap_or(u32::MAX),
            payload_len: u32::try_from(ip.end.saturating_sub(payload_off)).unwrap_or(u32::MAX),
            tcp_flags: t.tcp_flags,
            is_fragment: false,
            is_truncated: ctx.truncated,
        }
    }
}

/// An IPv4 address in the first 4 bytes of 16, built in a register (one store, not two
/// overlapping ones, which a later 16-byte load could not forward from).
#[inline(always)]
pub(super) fn v4_mapped(a: [u8; 4]) -> [u8; 16] {
    (u128::from(u32::from_be_bytes(a)) << 96).to_be_bytes()
}

/// IPv4 or IPv6 by the version nibble of `b[0]` (raw IP links, MPLS, GTP-U payloads).
#[inline]
fn by_version(b: &[u8], off: usize, empty: DropReason) -> Result<Next, DropReason> {
    match b.first().map(|v| v >> 4) {
        Some(4) => Ok(Next::Ipv4(off)),
        Some(6) => Ok(Next::Ipv6(off)),
        Some(_) => Err(DropReason::NotIp),
        None => Err(empty),
    }
}

/// The next header after a null/loop header with address family `f`.
#[inline]
fn family(f: NullFamily) -> Result<Next, DropReason> {
    match f {
        NullFamily::Ipv4 => Ok(Next::Ipv4(super::null::HEADER_LEN)),
        NullFamily::Ipv6 => Ok(Next::Ipv6(super::null::HEADER_LEN)),
        NullFamily::Other(_) => Err(DropReason::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tcp_flags;

    const MAC_DST: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    const MAC_SRC: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];
    const C: [u8; 4] = [192, 168, 0, 1];
    const D: [u8; 4] = [192, 168, 0, 2];
    /// 2001:db8::1
    const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    /// 2001:db8::2
    const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const SEC: u64 = 1_000_000_000;

    // ---- builders (tests only) ------------------------------------------------------------

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        cat(&[&MAC_DST, &MAC_SRC, &ethertype.to_be_bytes(), payload])
    }

    fn ipv4_frag(
        proto: u8,
        src: [u8; 4],
        dst: [u8; 4],
        id: u16,
        offset: u16,
        mf: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).unwrap();
        let flags_offset = (offset / 8) | if mf { 0x2000 } else { 0 };
        cat(&[
            &[0x45, 0x00],
            &total.to_be_bytes(),
            &id.to_be_bytes(),
            &flags_offset.to_be_bytes(),
            &[64, proto, 0, 0],
            &src,
            &dst,
            payload,
        ])
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        ipv4_frag(proto, src, dst, 0x1234, 0, false, payload)
    }

    fn ipv6(nh: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
        let plen = u16::try_from(payload.len()).unwrap();
        cat(&[
            &[0x60, 0, 0, 0],
            &plen.to_be_bytes(),
            &[nh, 64],
            &src,
            &dst,
            payload,
        ])
    }

    fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(8 + payload.len()).unwrap();
        cat(&[
            &sp.to_be_bytes(),
            &dp.to_be_bytes(),
            &len.to_be_bytes(),
            &[0, 0],
            payload,
        ])
    }

    fn tcp(sp: u16, dp: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        cat(&[
            &sp.to_be_bytes(),
            &dp.to_be_bytes(),
            &[0, 0, 0, 1, 0, 0, 0, 0],  // seq, ack
            &[0x50, flags, 0xff, 0xff], // data offset 5, flags, window
            &[0, 0, 0, 0],              // checksum, urgent
            payload,
        ])
    }

    /// An IPv4 UDP 1000 → 53 datagram from A to B with 4 bytes of payload.
    fn ipv4_udp() -> Vec<u8> {
        ipv4(ip_proto::UDP, A, B, &udp(1000, 53, b"abcd"))
    }

    /// An IPv6 TCP 1000 → 80 SYN from A6 to B6.
    fn ipv6_tcp() -> Vec<u8> {
        ipv6(ip_proto::TCP, A6, B6, &tcp(1000, 80, tcp_flags::SYN, b""))
    }

    fn tuple(src: [u8; 16], sp: u16, dst: [u8; 16], dp: u16, proto: u8, ver: u8) -> Tuple {
        Tuple {
            src_ip: src,
            dst_ip: dst,
            src_port: sp,
            dst_port: dp,
            protocol: proto,
            ip_version: ver,
            vlan_id: 0,
            tunnel_id: tunnel::NONE,
        }
    }

    fn udp_ab() -> Tuple {
        tuple(v4(A), 1000, v4(B), 53, ip_proto::UDP, 4)
    }

    fn tcp_ab6() -> Tuple {
        tuple(A6, 1000, B6, 80, ip_proto::TCP, 6)
    }

    fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded, DropReason> {
        Decoder::new(DecoderConfig::default()).decode(link, frame, 0)
    }

    fn decode_no_tunnels(link: LinkType, frame: &[u8]) -> Result<Decoded, DropReason> {
        let cfg = DecoderConfig {
            decode_tunnels: false,
            ..DecoderConfig::default()
        };
        Decoder::new(cfg).decode(link, frame, 0)
    }

    fn eth_tuple(frame: &[u8]) -> Tuple {
        decode(LinkType::Ethernet, frame).unwrap().tuple
    }

    // ---- Ethernet, IPv4, IPv6, transports -------------------------------------------------

    #[test]
    fn ethernet_ipv4_tcp() {
        #[rustfmt::skip]
        let frame = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // destination MAC
            0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // source MAC
            0x08, 0x00,                         // EtherType IPv4
            0x45, 0x00, 0x00, 0x2f,             // version 4, IHL 5, total length 47
            0x00, 0x01, 0x40, 0x00,             // id 1, DF
            0x40, 0x06, 0x00, 0x00,             // TTL 64, TCP, checksum
            0x0a, 0x00, 0x00, 0x01,             // source 10.0.0.1
            0x0a, 0x00, 0x00, 0x02,             // destination 10.0.0.2
            0xbf, 0x00, 0x01, 0xbb,             // ports 48896 → 443
            0x00, 0x00, 0x00, 0x01,             // sequence number
            0x00, 0x00, 0x00, 0x00,             // acknowledgment number
            0x60, 0x12, 0xff, 0xff,             // data offset 6, SYN|ACK, window
            0x00, 0x00, 0x00, 0x00,             // checksum, urgent pointer
            0x02, 0x04, 0x05, 0xb4,             // option MSS 1460
            0x61, 0x62, 0x63,                   // payload "abc"
        ];
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(v4(A), 48896, v4(B), 443, ip_proto::TCP, 4));
        assert_eq!(d.src_mac, MAC_SRC);
        assert_eq!(d.dst_mac, MAC_DST);
        assert_eq!(d.ip_len, 47);
        assert_eq!(d.ip_header_len, 20);
        assert_eq!(d.l4_header_len, 24);
        assert_eq!(d.payload_offset, 58);
        assert_eq!(d.payload_len, 3);
        assert_eq!(&frame[58..], b"abc");
        assert_eq!(d.tcp_flags, tcp_flags::SYN | tcp_flags::ACK);
        assert!(!d.is_fragment);
        assert!(!d.is_truncated);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = eth(0x0800, &ipv4_udp()); // 14 + 20 + 8 + 4 = 46 bytes
        frame.resize(60, 0); // minimum Ethernet frame
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert_eq!(d.payload_offset, 42);
        assert_eq!(d.payload_len, 4);
        assert_eq!(d.ip_len, 32);
        assert!(!d.is_truncated);
    }

    #[test]
    fn ethernet_ipv6_extension_headers() {
        #[rustfmt::skip]
        let exts = [
            0x3c, 0x00, 0x01, 0x04, 0, 0, 0, 0, // hop-by-hop: next dest-opts, 8 bytes, PadN
            0x11, 0x00, 0x01, 0x04, 0, 0, 0, 0, // destination options: next UDP, 8 bytes, PadN
        ];
        let frame = eth(
            0x86dd,
            &ipv6(
                ip_proto::HOP_BY_HOP,
                A6,
                B6,
                &cat(&[&exts, &udp(5353, 5353, b"mdns")]),
            ),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(A6, 5353, B6, 5353, ip_proto::UDP, 6));
        assert_eq!(d.ip_header_len, 56);
        assert_eq!(d.l4_header_len, 8);
        assert_eq!(d.ip_len, 40 + 16 + 12);
        assert_eq!(d.payload_offset, 14 + 56 + 8);
        assert_eq!(d.payload_len, 4);
    }

    #[test]
    fn ipv6_routing_and_ah_are_skipped() {
        #[rustfmt::skip]
        let exts = [
            0x33, 0x00, 0x00, 0x00, 0, 0, 0, 0, // routing: next AH, 8 bytes, type 0, segments 0
            0x06, 0x04, 0x00, 0x00,             // AH: next TCP, payload length 4 → 24 bytes
            0x00, 0x00, 0x01, 0x00,             // SPI
            0x00, 0x00, 0x00, 0x01,             // sequence number
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV
        ];
        let frame = eth(
            0x86dd,
            &ipv6(
                ip_proto::ROUTING,
                A6,
                B6,
                &cat(&[&exts, &tcp(1000, 80, tcp_flags::SYN, b"")]),
            ),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tcp_ab6());
        assert_eq!(d.ip_header_len, 40 + 8 + 24);
        assert_eq!(d.tcp_flags, tcp_flags::SYN);
    }

    #[test]
    fn ipv6_no_next_header_is_a_flow_without_ports() {
        let frame = eth(
            0x86dd,
            &ipv6(ip_proto::NO_NEXT_HEADER, A6, B6, &[0xde, 0xad]),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(A6, 0, B6, 0, ip_proto::NO_NEXT_HEADER, 6));
        assert_eq!(d.payload_len, 2);
    }

    #[test]
    fn esp_and_unknown_protocols_have_no_ports() {
        let esp = [0, 0, 1, 0, 0, 0, 0, 1, 0xaa, 0xbb]; // SPI, sequence, data
        let d = decode(
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(ip_proto::ESP, A, B, &esp)),
        )
        .unwrap();
        assert_eq!(d.tuple, tuple(v4(A), 0, v4(B), 0, ip_proto::ESP, 4));
        assert_eq!(d.l4_header_len, 0);
        assert_eq!(d.payload_len, 10);
        let ospf = eth(0x0800, &ipv4(89, A, B, &[2, 1, 0, 44]));
        assert_eq!(eth_tuple(&ospf), tuple(v4(A), 0, v4(B), 0, 89, 4));
        // IPv6 ESP.
        let d = decode(
            LinkType::Ethernet,
            &eth(0x86dd, &ipv6(ip_proto::ESP, A6, B6, &esp)),
        );
        assert_eq!(d.unwrap().tuple, tuple(A6, 0, B6, 0, ip_proto::ESP, 6));
    }

    #[test]
    fn sctp_icmp_icmpv6() {
        #[rustfmt::skip]
        let sctp = [
            0x0b, 0x59, 0x0b, 0x5a, // ports 2905 → 2906
            0x00, 0x00, 0x00, 0x00, // verification tag
            0x00, 0x00, 0x00, 0x00, // checksum
        ];
        let d = decode(
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(ip_proto::SCTP, A, B, &sctp)),
        )
        .unwrap();
        assert_eq!(d.tuple, tuple(v4(A), 2905, v4(B), 2906, ip_proto::SCTP, 4));
        assert_eq!(d.l4_header_len, 12);

        let echo = [0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01, 0x61]; // echo request, "a"
        let d = decode(
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(ip_proto::ICMP, A, B, &echo)),
        )
        .unwrap();
        assert_eq!(d.tuple, tuple(v4(A), 0, v4(B), 0, ip_proto::ICMP, 4));
        assert_eq!(d.l4_header_len, 8);
        assert_eq!(d.payload_len, 1);

        let ns = [0x87, 0x00, 0x00, 0x00, 0, 0, 0, 0]; // neighbour solicitation
        let d = decode(
            LinkType::Ethernet,
            &eth(0x86dd, &ipv6(ip_proto::ICMPV6, A6, B6, &ns)),
        );
        assert_eq!(d.unwrap().tuple, tuple(A6, 0, B6, 0, ip_proto::ICMPV6, 6));
    }

    #[test]
    fn transport_headers_cut_by_the_capture_are_drops() {
        let cases: [(u8, Vec<u8>, DropReason); 4] = [
            (
                ip_proto::TCP,
                tcp(1, 2, 0, b"xyz"),
                DropReason::TcpTruncated,
            ),
            (ip_proto::UDP, udp(1, 2, b"xyz"), DropReason::UdpTruncated),
            (ip_proto::SCTP, vec![0; 16], DropReason::SctpTruncated),
            (ip_proto::ICMP, vec![8; 12], DropReason::IcmpTruncated),
        ];
        for (proto, l4, reason) in cases {
            let frame = eth(0x0800, &ipv4(proto, A, B, &l4));
            // The IP header promises the whole transport header; the capture has 4 bytes of it.
            assert_eq!(
                decode(LinkType::Ethernet, &frame[..14 + 20 + 4]).unwrap_err(),
                reason
            );
        }
    }

    #[test]
    fn tcp_data_offset_below_five() {
        let mut seg = tcp(1, 2, 0, b"");
        seg[12] = 0x40; // data offset 4
        let frame = eth(0x0800, &ipv4(ip_proto::TCP, A, B, &seg));
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::TcpTruncated
        );
    }

    #[test]
    fn transport_shorter_than_its_header_per_ip_length_has_no_ports() {
        // As ip_fragmented_garbage.pcap: IP total length leaves 16 bytes for TCP. nfstream makes
        // a port-0 flow of these; so do we.
        let frame = eth(0x0800, &ipv4(ip_proto::TCP, A, B, &tcp(1, 2, 0, b"")[..16]));
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(v4(A), 0, v4(B), 0, ip_proto::TCP, 4));
        assert_eq!(d.l4_header_len, 0);
        assert_eq!(d.payload_len, 16);
        let frame = eth(0x0800, &ipv4(ip_proto::UDP, A, B, &[0, 53, 0, 53]));
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(A), 0, v4(B), 0, ip_proto::UDP, 4)
        );
    }

    #[test]
    fn truncated_payload_is_flagged_not_dropped() {
        let frame = eth(0x0800, &ipv4_udp());
        let d = decode(LinkType::Ethernet, &frame[..frame.len() - 3]).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert!(d.is_truncated);
        assert_eq!(d.ip_len, 32);
        assert_eq!(d.payload_len, 1);
        let frame = eth(0x86dd, &ipv6_tcp());
        let d = decode(LinkType::Ethernet, &cat(&[&frame, b"x"])[..frame.len()]).unwrap();
        assert!(!d.is_truncated);
        let mut long = ipv6_tcp();
        long[5] += 10; // payload length claims 10 more bytes than captured
        let d = decode(LinkType::Ethernet, &eth(0x86dd, &long)).unwrap();
        assert!(d.is_truncated);
        assert_eq!(d.ip_len, 70);
    }

    #[test]
    fn zero_total_length_uses_the_captured_length() {
        let mut ip = ipv4_udp();
        ip[2] = 0; // TSO: total length 0
        ip[3] = 0;
        let d = decode(LinkType::Ethernet, &eth(0x0800, &ip)).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert_eq!(d.ip_len, 32);
        assert_eq!(d.payload_len, 4);
        assert!(!d.is_truncated);
    }

    #[test]
    fn ip_header_rejects() {
        let ip = ipv4_udp();
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x0800, &ip[..19])).unwrap_err(),
            DropReason::Ipv4Truncated
        );
        let mut bad = ip.clone();
        bad[0] = 0x44; // IHL 4
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x0800, &bad)).unwrap_err(),
            DropReason::Ipv4BadHeader
        );
        let v6 = ipv6_tcp();
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x86dd, &v6[..39])).unwrap_err(),
            DropReason::Ipv6Truncated
        );
        // EtherType IPv6, IPv4 inside.
        let long_v4 = ipv4(ip_proto::UDP, A, B, &udp(1, 2, &[0; 20]));
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x86dd, &long_v4)).unwrap_err(),
            DropReason::Ipv6BadHeader
        );
        // Hop-by-hop header claims 16 bytes, 8 present.
        let hbh = [0x11, 0x01, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            decode(
                LinkType::Ethernet,
                &eth(0x86dd, &ipv6(ip_proto::HOP_BY_HOP, A6, B6, &hbh))
            )
            .unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
    }

    #[test]
    fn not_ip_and_link_rejects() {
        let arp = eth(0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(
            decode(LinkType::Ethernet, &arp).unwrap_err(),
            DropReason::NotIp
        );
        // IEEE 802.3 length 38, LLC for STP.
        let stp = eth(0x0026, &[0x42, 0x42, 0x03, 0, 0, 0]);
        assert_eq!(
            decode(LinkType::Ethernet, &stp).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::Ethernet, &arp[..13]).unwrap_err(),
            DropReason::LinkTruncated
        );
        assert_eq!(
            decode(LinkType::Unknown(147), &arp).unwrap_err(),
            DropReason::UnsupportedLinkType
        );
    }

    // ---- VLAN, MPLS, PPPoE ------------------------------------------------------------------

    #[test]
    fn qinq_keeps_the_innermost_vid() {
        #[rustfmt::skip]
        let tags = [
            0x00, 0x64, 0x81, 0x00, // S-tag VID 100, then C-tag
            0x20, 0xc8, 0x08, 0x00, // C-tag PCP 1 VID 200, then IPv4
        ];
        for outer in [0x88a8u16, 0x9100, 0x8100] {
            let frame = eth(outer, &cat(&[&tags, &ipv4_udp()]));
            let d = decode(LinkType::Ethernet, &frame).unwrap();
            assert_eq!(
                d.tuple,
                Tuple {
                    vlan_id: 200,
                    ..udp_ab()
                }
            );
            assert_eq!(d.payload_offset, 14 + 8 + 28);
        }
        let one = eth(0x8100, &cat(&[&[0x00, 0x05, 0x86, 0xdd], &ipv6_tcp()]));
        assert_eq!(
            eth_tuple(&one),
            Tuple {
                vlan_id: 5,
                ..tcp_ab6()
            }
        );
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x8100, &[0x00, 0x05, 0x08])).unwrap_err(),
            DropReason::VlanTruncated
        );
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x88a8, &tags[..6])).unwrap_err(),
            DropReason::VlanTruncated
        );
    }

    #[test]
    fn mpls_label_stack() {
        #[rustfmt::skip]
        let labels = [
            0x00, 0x01, 0x20, 0x40, // label 18, S 0
            0x00, 0x02, 0x11, 0x3f, // label 33, S 1
        ];
        let frame = eth(0x8847, &cat(&[&labels, &ipv4_udp()]));
        assert_eq!(eth_tuple(&frame), udp_ab());
        let frame = eth(0x8848, &cat(&[&labels[4..], &ipv6_tcp()]));
        assert_eq!(eth_tuple(&frame), tcp_ab6());
        // No bottom of stack before the end.
        let frame = eth(0x8847, &labels[..4]);
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::MplsTruncated
        );
        // Bottom of stack, then nothing.
        let frame = eth(0x8847, &labels);
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::MplsTruncated
        );
        // A pseudowire control word (nibble 0): Ethernet over MPLS, not IP.
        let frame = eth(0x8847, &cat(&[&labels, &[0, 0, 0, 0]]));
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::NotIp
        );
    }

    #[test]
    fn pppoe_session() {
        #[rustfmt::skip]
        let v4hdr = [
            0x11, 0x00,             // version 1, type 1, code 0 (session data)
            0x00, 0x2a,             // session id 42
            0x00, 0x22,             // length 34
            0x00, 0x21,             // PPP IPv4
        ];
        assert_eq!(
            eth_tuple(&eth(0x8864, &cat(&[&v4hdr, &ipv4_udp()]))),
            udp_ab()
        );
        let v6hdr = [0x11, 0x00, 0x00, 0x2a, 0x00, 0x3e, 0x00, 0x57]; // PPP IPv6
        assert_eq!(
            eth_tuple(&eth(0x8864, &cat(&[&v6hdr, &ipv6_tcp()]))),
            tcp_ab6()
        );
        let lcp = [
            0x11, 0x00, 0x00, 0x2a, 0x00, 0x06, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x04,
        ];
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x8864, &lcp)).unwrap_err(),
            DropReason::NotIp
        );
        let padi = [0x11, 0x09, 0x00, 0x00, 0x00, 0x00]; // discovery stage
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x8863, &padi)).unwrap_err(),
            DropReason::NotIp
        );
        let mut bad = v4hdr;
        bad[0] = 0x21; // version 2
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x8864, &cat(&[&bad, &ipv4_udp()]))).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x8864, &v4hdr[..7])).unwrap_err(),
            DropReason::PppoeTruncated
        );
    }

    // ---- other link types --------------------------------------------------------------------

    #[test]
    fn linux_sll() {
        #[rustfmt::skip]
        let hdr = [
            0x00, 0x00,                                     // packet type: to us
            0x00, 0x01,                                     // ARPHRD_ETHER
            0x00, 0x06,                                     // address length
            0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // address
            0x08, 0x00,                                     // protocol IPv4
        ];
        let d = decode(LinkType::LinuxSll, &cat(&[&hdr, &ipv4_udp()])).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert_eq!(d.src_mac, [0; 6]);
        assert_eq!(d.payload_offset, 16 + 28);
        let mut netlink = hdr;
        netlink[2] = 0x03; // ARPHRD_NETLINK (824): the protocol is a netlink family
        netlink[3] = 0x38;
        assert_eq!(
            decode(LinkType::LinuxSll, &cat(&[&netlink, &ipv4_udp()])).unwrap_err(),
            DropReason::NotIp
        );
        let mut vlan = hdr;
        vlan[14] = 0x81; // protocol 802.1Q: a tag follows
        let frame = cat(&[&vlan, &[0x00, 0x07, 0x08, 0x00], &ipv4_udp()]);
        assert_eq!(decode(LinkType::LinuxSll, &frame).unwrap().tuple.vlan_id, 7);
        assert_eq!(
            decode(LinkType::LinuxSll, &hdr[..15]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }

    #[test]
    fn linux_sll2() {
        #[rustfmt::skip]
        let hdr = [
            0x86, 0xdd,                                     // protocol IPv6
            0x00, 0x00,                                     // reserved
            0x00, 0x00, 0x00, 0x02,                         // interface index
            0x00, 0x01,                                     // ARPHRD_ETHER
            0x04,                                           // packet type: outgoing
            0x06,                                           // address length
            0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // address
        ];
        let d = decode(LinkType::LinuxSll2, &cat(&[&hdr, &ipv6_tcp()])).unwrap();
        assert_eq!(d.tuple, tcp_ab6());
        assert_eq!(d.payload_offset, 20 + 60);
        let mut can = hdr;
        can[8] = 0x01; // ARPHRD_CAN (280)
        can[9] = 0x18;
        assert_eq!(
            decode(LinkType::LinuxSll2, &cat(&[&can, &ipv6_tcp()])).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::LinuxSll2, &hdr[..19]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }

    #[test]
    fn bsd_null_and_loop() {
        let le_inet = [0x02, 0x00, 0x00, 0x00]; // AF_INET, little-endian host
        let be_inet6 = [0x00, 0x00, 0x00, 0x1e]; // AF_INET6 (Darwin), big-endian host
        let le_inet6 = [0x1c, 0x00, 0x00, 0x00]; // AF_INET6 (FreeBSD), little-endian host
        assert_eq!(
            decode(LinkType::Null, &cat(&[&le_inet, &ipv4_udp()]))
                .unwrap()
                .tuple,
            udp_ab()
        );
        assert_eq!(
            decode(LinkType::Null, &cat(&[&be_inet6, &ipv6_tcp()]))
                .unwrap()
                .tuple,
            tcp_ab6()
        );
        assert_eq!(
            decode(LinkType::Null, &cat(&[&le_inet6, &ipv6_tcp()]))
                .unwrap()
                .tuple,
            tcp_ab6()
        );
        let osi = [0x07, 0x00, 0x00, 0x00];
        assert_eq!(
            decode(LinkType::Null, &cat(&[&osi, &ipv4_udp()])).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::Null, &le_inet[..3]).unwrap_err(),
            DropReason::LinkTruncated
        );
        // LINKTYPE_LOOP is always big-endian.
        let be_inet = [0x00, 0x00, 0x00, 0x02];
        assert_eq!(
            decode(LinkType::Loop, &cat(&[&be_inet, &ipv4_udp()]))
                .unwrap()
                .tuple,
            udp_ab()
        );
        assert_eq!(
            decode(LinkType::Loop, &cat(&[&le_inet, &ipv4_udp()])).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::Loop, &[]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }

    #[test]
    fn ppp_links() {
        let with_ac = [0xff, 0x03, 0x00, 0x21]; // address, control, IPv4
        let bare_v6 = [0x00, 0x57]; // IPv6, no address/control
        let compressed = [0x21]; // IPv4, protocol field compressed
        for link in [LinkType::Ppp, LinkType::PppHdlc] {
            assert_eq!(
                decode(link, &cat(&[&with_ac, &ipv4_udp()])).unwrap().tuple,
                udp_ab()
            );
            assert_eq!(
                decode(link, &cat(&[&bare_v6, &ipv6_tcp()])).unwrap().tuple,
                tcp_ab6()
            );
            assert_eq!(
                decode(link, &cat(&[&compressed, &ipv4_udp()]))
                    .unwrap()
                    .tuple,
                udp_ab()
            );
            let lcp = [0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
            assert_eq!(decode(link, &lcp).unwrap_err(), DropReason::NotIp);
            assert_eq!(
                decode(link, &[0xff, 0x03, 0x00]).unwrap_err(),
                DropReason::LinkTruncated
            );
            assert_eq!(decode(link, &[]).unwrap_err(), DropReason::LinkTruncated);
            // Cisco HDLC framing on a PPP link type (BGP_Cisco_hdlc_slarp.pcap).
            let chdlc = [0x0f, 0x00, 0x08, 0x00];
            assert_eq!(
                decode(link, &cat(&[&chdlc, &ipv4_udp()])).unwrap().tuple,
                udp_ab()
            );
            assert_eq!(
                decode(link, &chdlc[..3]).unwrap_err(),
                DropReason::LinkTruncated
            );
        }
        // MPLS over PPP.
        let mpls = [0xff, 0x03, 0x02, 0x81, 0x00, 0x01, 0x21, 0x40];
        assert_eq!(
            decode(LinkType::Ppp, &cat(&[&mpls, &ipv4_udp()]))
                .unwrap()
                .tuple,
            udp_ab()
        );
    }

    #[test]
    fn cisco_hdlc() {
        let ip = [0x0f, 0x00, 0x08, 0x00]; // unicast, control, IPv4
        assert_eq!(
            decode(LinkType::CiscoHdlc, &cat(&[&ip, &ipv4_udp()]))
                .unwrap()
                .tuple,
            udp_ab()
        );
        // As BGP_redist.pcap: MPLS unicast, one label with S set, then IPv4.
        #[rustfmt::skip]
        let mpls = [
            0x0f, 0x00, 0x88, 0x47, // unicast, control, MPLS
            0x00, 0x01, 0x2d, 0xfe, // label 18, S 1, TTL 254
        ];
        assert_eq!(
            decode(LinkType::CiscoHdlc, &cat(&[&mpls, &ipv4_udp()]))
                .unwrap()
                .tuple,
            udp_ab()
        );
        let slarp = [0x8f, 0x00, 0x80, 0x35, 0, 0, 0, 2];
        assert_eq!(
            decode(LinkType::CiscoHdlc, &slarp).unwrap_err(),
            DropReason::NotIp
        );
        let not_cisco = [0xff, 0x03, 0x00, 0x21];
        assert_eq!(
            decode(LinkType::CiscoHdlc, &cat(&[&not_cisco, &ipv4_udp()])).unwrap_err(),
            DropReason::NotIp
        );
        assert_eq!(
            decode(LinkType::CiscoHdlc, &ip[..3]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }

    #[test]
    fn raw_ip_links_use_the_version_nibble() {
        for link in [LinkType::Raw, LinkType::Ipv4, LinkType::Ipv6] {
            let d = decode(link, &ipv4_udp()).unwrap();
            assert_eq!(d.tuple, udp_ab());
            assert_eq!(d.payload_offset, 28);
            assert_eq!(decode(link, &ipv6_tcp()).unwrap().tuple, tcp_ab6());
            assert_eq!(
                decode(link, &[0x50, 0, 0, 0]).unwrap_err(),
                DropReason::NotIp
            );
            assert_eq!(decode(link, &[]).unwrap_err(), DropReason::Ipv4Truncated);
            assert_eq!(
                decode(link, &ipv4_udp()[..10]).unwrap_err(),
                DropReason::Ipv4Truncated
            );
        }
    }

    // ---- fragments ---------------------------------------------------------------------------

    #[test]
    fn later_fragments_are_dropped_when_asked() {
        let cfg = DecoderConfig {
            join_fragments: false,
            ..DecoderConfig::default()
        };
        let mut dec = Decoder::new(cfg);
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 7, 0, true, &udp(1000, 53, &[0x61; 16])),
        );
        // The first fragment is an ordinary packet with ports, as in nfstream.
        assert_eq!(
            dec.decode(LinkType::Ethernet, &first, SEC).unwrap().tuple,
            udp_ab()
        );
        let later = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 7, 24, false, &[0x62; 10]),
        );
        assert_eq!(
            dec.decode(LinkType::Ethernet, &later, SEC).unwrap_err(),
            DropReason::FragmentIgnored
        );
    }

    #[test]
    fn ipv4_later_fragment_joins_its_first_fragment() {
        let mut dec = Decoder::new(DecoderConfig::default());
        // First fragment: UDP header + 16 bytes, MF set.
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 7, 0, true, &udp(1000, 53, &[0x61; 16])),
        );
        let d = dec.decode(LinkType::Ethernet, &first, 5 * SEC).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert!(!d.is_fragment);
        assert_eq!(d.l4_header_len, 8);
        // Later fragment at offset 24: data only.
        let later = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 7, 24, false, &[0x62; 10]),
        );
        let d = dec.decode(LinkType::Ethernet, &later, 6 * SEC).unwrap();
        assert_eq!(d.tuple, udp_ab());
        assert!(d.is_fragment);
        assert_eq!(d.ip_len, 30);
        assert_eq!(d.ip_header_len, 20);
        assert_eq!(d.l4_header_len, 0);
        assert_eq!(d.payload_offset, 34);
        assert_eq!(d.payload_len, 10);
        assert_eq!(d.tcp_flags, 0);
        // Same datagram id, other protocol or addresses: not the same datagram.
        let other = eth(
            0x0800,
            &ipv4_frag(ip_proto::TCP, A, B, 7, 24, false, &[0; 10]),
        );
        assert_eq!(
            dec.decode(LinkType::Ethernet, &other, 6 * SEC).unwrap_err(),
            DropReason::FragmentUnmatched
        );
        let other = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, B, A, 7, 24, false, &[0; 10]),
        );
        assert_eq!(
            dec.decode(LinkType::Ethernet, &other, 6 * SEC).unwrap_err(),
            DropReason::FragmentUnmatched
        );
        // 30 s of packet time after the first fragment, the entry is gone.
        assert!(dec.decode(LinkType::Ethernet, &later, 34 * SEC).is_ok());
        assert_eq!(
            dec.decode(LinkType::Ethernet, &later, 35 * SEC)
                .unwrap_err(),
            DropReason::FragmentUnmatched
        );
        assert_eq!(dec.fragment_evictions(), 0);
    }

    #[test]
    fn later_fragment_first_or_alone_is_unmatched() {
        let mut dec = Decoder::new(DecoderConfig::default());
        let later = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 9, 1480, false, &[0; 10]),
        );
        assert_eq!(
            dec.decode(LinkType::Ethernet, &later, 0).unwrap_err(),
            DropReason::FragmentUnmatched
        );
        // With the table disabled, the reason says so.
        let mut off = Decoder::new(DecoderConfig {
            max_fragments: 0,
            ..DecoderConfig::default()
        });
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 9, 0, true, &udp(1000, 53, &[0; 16])),
        );
        assert_eq!(
            off.decode(LinkType::Ethernet, &first, 0).unwrap().tuple,
            udp_ab()
        );
        assert_eq!(
            off.decode(LinkType::Ethernet, &later, 0).unwrap_err(),
            DropReason::FragmentTableFull
        );
    }

    #[test]
    fn ipv6_later_fragment_joins_its_first_fragment() {
        let mut dec = Decoder::new(DecoderConfig::default());
        #[rustfmt::skip]
        let first_hdr = [
            0x11, 0x00,             // fragment header: next UDP, reserved
            0x00, 0x01,             // offset 0, M 1
            0x28, 0x40, 0x5b, 0x0b, // identification
        ];
        let first = eth(
            0x86dd,
            &ipv6(
                ip_proto::FRAGMENT,
                A6,
                B6,
                &cat(&[&first_hdr, &udp(53, 46433, &[0; 16])]),
            ),
        );
        let d = dec.decode(LinkType::Ethernet, &first, 0).unwrap();
        let want = tuple(A6, 53, B6, 46433, ip_proto::UDP, 6);
        assert_eq!(d.tuple, want);
        assert_eq!(d.ip_header_len, 48);
        assert!(!d.is_fragment);
        let later_hdr = [0x11, 0x00, 0x00, 0x18, 0x28, 0x40, 0x5b, 0x0b]; // offset 24, M 0
        let later = eth(
            0x86dd,
            &ipv6(ip_proto::FRAGMENT, A6, B6, &cat(&[&later_hdr, &[0x42; 5]])),
        );
        let d = dec.decode(LinkType::Ethernet, &later, SEC).unwrap();
        assert_eq!(d.tuple, want);
        assert!(d.is_fragment);
        assert_eq!(d.ip_header_len, 48);
        assert_eq!(d.payload_offset, 14 + 48);
        assert_eq!(d.payload_len, 5);
        let mut stranger = later.clone();
        stranger[14 + 40 + 7] ^= 1; // other identification
        assert_eq!(
            dec.decode(LinkType::Ethernet, &stranger, SEC).unwrap_err(),
            DropReason::FragmentUnmatched
        );
        // An atomic fragment (offset 0, M 0) is not fragmented at all.
        let atomic_hdr = [0x06, 0x00, 0x00, 0x00, 0, 0, 0, 1];
        let atomic = eth(
            0x86dd,
            &ipv6(
                ip_proto::FRAGMENT,
                A6,
                B6,
                &cat(&[&atomic_hdr, &tcp(1000, 80, 2, b"")]),
            ),
        );
        let d = dec.decode(LinkType::Ethernet, &atomic, SEC).unwrap();
        assert_eq!(d.tuple, tcp_ab6());
        assert!(!d.is_fragment);
    }

    #[test]
    fn tiny_first_fragment_gives_its_port_zero_tuple_to_the_rest() {
        let mut dec = Decoder::new(DecoderConfig::default());
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::TCP, A, B, 160, 0, true, &[0x11; 16]),
        );
        let want = tuple(v4(A), 0, v4(B), 0, ip_proto::TCP, 4);
        assert_eq!(
            dec.decode(LinkType::Ethernet, &first, 0).unwrap().tuple,
            want
        );
        let later = eth(
            0x0800,
            &ipv4_frag(ip_proto::TCP, A, B, 160, 16, true, &[0x22; 16]),
        );
        let d = dec.decode(LinkType::Ethernet, &later, 0).unwrap();
        assert_eq!(d.tuple, want);
        assert!(d.is_fragment);
    }

    #[test]
    fn fragment_vlan_comes_from_its_own_frame() {
        let mut dec = Decoder::new(DecoderConfig::default());
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::UDP, A, B, 3, 0, true, &udp(1000, 53, &[0; 16])),
        );
        dec.decode(LinkType::Ethernet, &first, 0).unwrap();
        let later = ipv4_frag(ip_proto::UDP, A, B, 3, 24, false, &[0; 4]);
        let tagged = eth(0x8100, &cat(&[&[0x00, 0x09, 0x08, 0x00], &later]));
        assert_eq!(
            dec.decode(LinkType::Ethernet, &tagged, 0).unwrap().tuple,
            Tuple {
                vlan_id: 9,
                ..udp_ab()
            }
        );
    }

    // ---- tunnels -----------------------------------------------------------------------------

    /// GTP-U G-PDU header without optional fields, for `inner`.
    fn gtp(inner: &[u8]) -> Vec<u8> {
        let len = u16::try_from(inner.len()).unwrap();
        cat(&[&[0x30, 0xff], &len.to_be_bytes(), &[0, 0, 0, 1], inner])
    }

    #[test]
    fn gtp_u() {
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(&ipv4_udp()))),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(
            d.tuple,
            Tuple {
                tunnel_id: tunnel::GTP,
                ..udp_ab()
            }
        );
        assert_eq!(d.src_mac, MAC_SRC);
        assert_eq!(d.ip_len, 32);
        assert_eq!(d.ip_header_len, 20);
        assert_eq!(d.payload_offset, 14 + 28 + 8 + 28);
        assert_eq!(d.payload_len, 4);
        // Either port will do; inner IPv6.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(40000, 2152, &gtp(&ipv6_tcp()))),
        );
        assert_eq!(
            eth_tuple(&frame),
            Tuple {
                tunnel_id: tunnel::GTP,
                ..tcp_ab6()
            }
        );
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 40000, &gtp(&ipv6_tcp()))),
        );
        assert_eq!(
            eth_tuple(&frame),
            Tuple {
                tunnel_id: tunnel::GTP,
                ..tcp_ab6()
            }
        );
        // Not followed when tunnels are off.
        let d = decode_no_tunnels(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(v4(C), 2152, v4(D), 40000, ip_proto::UDP, 4));
    }

    #[test]
    fn gtp_u_with_extension_headers() {
        #[rustfmt::skip]
        let hdr = [
            0x34, 0xff, 0x00, 0x44, // version 1, PT, E; G-PDU; length
            0x00, 0x00, 0x00, 0x01, // TEID
            0x00, 0x00, 0x00, 0x85, // sequence, N-PDU, next extension: PDU session container
            0x01, 0x10, 0x05, 0x00, // length 1, QFI 5, next extension: none
        ];
        let frame = eth(
            0x0800,
            &ipv4(
                ip_proto::UDP,
                C,
                D,
                &udp(2152, 2152, &cat(&[&hdr, &ipv4_udp()])),
            ),
        );
        assert_eq!(
            eth_tuple(&frame),
            Tuple {
                tunnel_id: tunnel::GTP,
                ..udp_ab()
            }
        );
        // Extension cut off: the frame ends inside it.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &hdr[..14])),
        );
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn gtp_messages_that_are_not_tunnels() {
        // Echo request: the outer UDP packet is the flow.
        let echo = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00];
        let frame = eth(0x0800, &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &echo)));
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(C), 2152, v4(D), 2152, ip_proto::UDP, 4)
        );
        // Fewer than 8 bytes of GTP (fuzz-2021-06-07-c6c72a0a56.pcap): the outer flow, as nfstream.
        let frame = eth(
            0x0800,
            &ipv4(
                ip_proto::UDP,
                C,
                D,
                &udp(2152, 53975, &[0x2d, 0xff, 0x20, 0x7b, 0x0b, 0x72]),
            ),
        );
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(C), 2152, v4(D), 53975, ip_proto::UDP, 4)
        );
        // A G-PDU with nothing after the header.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(b""))),
        );
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(C), 2152, v4(D), 2152, ip_proto::UDP, 4)
        );
        // A G-PDU whose payload is not IP: the carrying packet is the flow.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(&[0x00; 20]))),
        );
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(C), 2152, v4(D), 2152, ip_proto::UDP, 4)
        );
    }

    #[test]
    fn malformed_inner_packet_is_tunnel_truncated() {
        // Inner IPv4 header cut short by the capture.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(&ipv4_udp()))),
        );
        let cut = &frame[..14 + 28 + 8 + 10];
        assert_eq!(
            decode(LinkType::Ethernet, cut).unwrap_err(),
            DropReason::TunnelTruncated
        );
        // The capture ends right after the GTP header although the IP length says more follows.
        let cut = &frame[..14 + 28 + 8];
        assert_eq!(
            decode(LinkType::Ethernet, cut).unwrap_err(),
            DropReason::TunnelTruncated
        );
        // Inner transport cut short.
        let inner = ipv4(ip_proto::TCP, A, B, &tcp(1, 2, 0, b""));
        let frame = eth(0x0800, &ipv4(ip_proto::IPV4, C, D, &inner));
        assert_eq!(
            decode(LinkType::Ethernet, &frame[..frame.len() - 4]).unwrap_err(),
            DropReason::TunnelTruncated
        );
        // 6in4 carrying an IPv4 header.
        let frame = eth(0x0800, &ipv4(ip_proto::IPV6, C, D, &ipv4_udp()));
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn gre_version0() {
        let plain = [0x00, 0x00, 0x08, 0x00]; // no options, IPv4
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::GRE, C, D, &cat(&[&plain, &ipv4_udp()])),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(
            d.tuple,
            Tuple {
                tunnel_id: tunnel::GRE,
                ..udp_ab()
            }
        );
        assert_eq!(d.payload_offset, 14 + 20 + 4 + 28);
        #[rustfmt::skip]
        let opts = [
            0xb0, 0x00, 0x86, 0xdd, // C, K, S; IPv6
            0x00, 0x00, 0x00, 0x00, // checksum, reserved
            0x00, 0x00, 0x00, 0x2a, // key
            0x00, 0x00, 0x00, 0x07, // sequence
        ];
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::GRE, C, D, &cat(&[&opts, &ipv6_tcp()])),
        );
        assert_eq!(
            eth_tuple(&frame),
            Tuple {
                tunnel_id: tunnel::GRE,
                ..tcp_ab6()
            }
        );
        // Options announced but cut off.
        let frame = eth(0x0800, &ipv4(ip_proto::GRE, C, D, &opts[..10]));
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::TunnelTruncated
        );
        // Tunnels off: the GRE packet is the flow.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::GRE, C, D, &cat(&[&plain, &ipv4_udp()])),
        );
        let d = decode_no_tunnels(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(d.tuple, tuple(v4(C), 0, v4(D), 0, ip_proto::GRE, 4));
        assert_eq!(d.payload_offset, 34);
    }

    #[test]
    fn gre_transparent_ethernet_bridging() {
        let teb = [0x20, 0x00, 0x65, 0x58, 0x00, 0x00, 0x00, 0x05]; // K; TEB; key 5
        let inner_eth = cat(&[
            &[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2], // inner MACs
            &[0x81, 0x00, 0x00, 0x0c, 0x08, 0x00],       // 802.1Q VID 12, IPv4
            &ipv4_udp(),
        ]);
        let outer = eth(
            0x8100,
            &cat(&[
                &[0x00, 0x03, 0x08, 0x00],
                &ipv4(ip_proto::GRE, C, D, &cat(&[&teb, &inner_eth])),
            ]),
        );
        let d = decode(LinkType::Ethernet, &outer).unwrap();
        assert_eq!(
            d.tuple,
            Tuple {
                vlan_id: 12,
                tunnel_id: tunnel::GRE,
                ..udp_ab()
            }
        );
        assert_eq!(
            d.src_mac, MAC_SRC,
            "MACs are the outermost Ethernet header's"
        );
        assert_eq!(d.dst_mac, MAC_DST);
    }

    #[test]
    fn gre_pptp() {
        // As gre.pcapng (nDPI tests): VLAN 142, enhanced GRE with sequence and ack, PPP, IPv4 SIP.
        #[rustfmt::skip]
        let gre = [
            0x30, 0x81, 0x88, 0x0b, // K, S, A, version 1; protocol PPP
            0x00, 0x24, 0x98, 0x50, // payload length 36, call id
            0x00, 0x00, 0x00, 0x6a, // sequence
            0x00, 0x00, 0x00, 0x8c, // acknowledgment
            0xff, 0x03, 0x00, 0x21, // PPP: address, control, IPv4
        ];
        let sip = ipv4(ip_proto::UDP, C, D, &udp(5060, 5060, b"SIP/2.0 "));
        let outer = ipv4(
            ip_proto::GRE,
            [109, 105, 228, 253],
            [10, 177, 98, 84],
            &cat(&[&gre, &sip]),
        );
        let frame = eth(0x8100, &cat(&[&[0x00, 0x8e, 0x08, 0x00], &outer]));
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(
            d.tuple,
            Tuple {
                vlan_id: 142,
                tunnel_id: tunnel::GRE,
                ..tuple(v4(C), 5060, v4(D), 5060, ip_proto::UDP, 4)
            }
        );
        assert_eq!(d.payload_len, 8);
        let outer_flow = Tuple {
            vlan_id: 142,
            ..tuple(
                [109, 105, 228, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                0,
                v4([10, 177, 98, 84]),
                0,
                ip_proto::GRE,
                4,
            )
        };
        // Ack-only packet: nothing is carried, the GRE packet is the flow.
        let ack_only = [
            0x20, 0x81, 0x88, 0x0b, 0x00, 0x00, 0x98, 0x50, 0x00, 0x00, 0x00, 0x8c,
        ];
        let outer = ipv4(
            ip_proto::GRE,
            [109, 105, 228, 253],
            [10, 177, 98, 84],
            &ack_only,
        );
        let frame = eth(0x8100, &cat(&[&[0x00, 0x8e, 0x08, 0x00], &outer]));
        assert_eq!(eth_tuple(&frame), outer_flow);
        // PPP control (LCP) or encrypted (MPPE, 0x00fd) frames: not IP, so the GRE packet.
        for ppp in [
            [0xff, 0x03, 0xc0, 0x21, 0x09, 0x01],
            [0xff, 0x03, 0x00, 0xfd, 0x90, 0x00],
        ] {
            let outer = ipv4(
                ip_proto::GRE,
                [109, 105, 228, 253],
                [10, 177, 98, 84],
                &cat(&[&gre[..16], &ppp]),
            );
            let frame = eth(0x8100, &cat(&[&[0x00, 0x8e, 0x08, 0x00], &outer]));
            let d = decode(LinkType::Ethernet, &frame).unwrap();
            assert_eq!(d.tuple, outer_flow);
            assert_eq!(d.payload_offset, 14 + 4 + 20);
        }
    }

    #[test]
    fn gre_headers_we_do_not_follow() {
        for hdr in [
            [0x00, 0x00, 0x88, 0xbe], // ERSPAN
            [0x40, 0x00, 0x08, 0x00], // RFC 1701 routing
            [0x00, 0x02, 0x08, 0x00], // version 2
            [0x20, 0x01, 0x08, 0x00], // version 1 not carrying PPP
        ] {
            let frame = eth(
                0x0800,
                &ipv4(ip_proto::GRE, C, D, &cat(&[&hdr, &[0; 4], &ipv4_udp()])),
            );
            assert_eq!(
                eth_tuple(&frame),
                tuple(v4(C), 0, v4(D), 0, ip_proto::GRE, 4),
                "{hdr:02x?}"
            );
        }
        let frame = eth(0x0800, &ipv4(ip_proto::GRE, C, D, &[0x00, 0x00, 0x08]));
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(C), 0, v4(D), 0, ip_proto::GRE, 4)
        );
    }

    #[test]
    fn gre_mpls() {
        let hdr = [0x00, 0x00, 0x88, 0x47, 0x00, 0x01, 0x21, 0x40]; // GRE MPLS; label 18, S 1
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::GRE, C, D, &cat(&[&hdr, &ipv4_udp()])),
        );
        assert_eq!(
            eth_tuple(&frame),
            Tuple {
                tunnel_id: tunnel::GRE,
                ..udp_ab()
            }
        );
    }

    #[test]
    fn vxlan() {
        #[rustfmt::skip]
        let hdr = [
            0x08, 0x00, 0x00, 0x00, // flags: I
            0x00, 0x04, 0x57, 0x00, // VNI 1111
        ];
        let inner = cat(&[
            &hdr,
            &[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00],
            &ipv4_udp(),
        ]);
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(60887, 4789, &inner)),
        );
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(
            d.tuple,
            Tuple {
                tunnel_id: tunnel::VXLAN,
                ..udp_ab()
            }
        );
        assert_eq!(d.src_mac, MAC_SRC);
        assert_eq!(d.payload_offset, 14 + 28 + 8 + 14 + 28);
        let outer = tuple(v4(C), 60887, v4(D), 4789, ip_proto::UDP, 4);
        assert_eq!(
            decode_no_tunnels(LinkType::Ethernet, &frame).unwrap().tuple,
            outer
        );
        // Without the I flag it is not VXLAN.
        let mut no_i = inner.clone();
        no_i[0] = 0;
        let frame = eth(0x0800, &ipv4(ip_proto::UDP, C, D, &udp(60887, 4789, &no_i)));
        assert_eq!(eth_tuple(&frame), outer);
        // Port 4789 as source only: not VXLAN.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, D, C, &udp(4789, 60887, &inner)),
        );
        assert_eq!(
            eth_tuple(&frame),
            tuple(v4(D), 4789, v4(C), 60887, ip_proto::UDP, 4)
        );
        // ARP inside: the outer packet is the flow.
        let arp = cat(&[&hdr, &[0xff; 12], &[0x08, 0x06], &[0, 1, 8, 0, 6, 4, 0, 1]]);
        let frame = eth(0x0800, &ipv4(ip_proto::UDP, C, D, &udp(60887, 4789, &arp)));
        assert_eq!(eth_tuple(&frame), outer);
        // Inner Ethernet header cut short.
        let frame = eth(
            0x0800,
            &ipv4(ip_proto::UDP, C, D, &udp(60887, 4789, &inner[..8 + 10])),
        );
        assert_eq!(
            decode(LinkType::Ethernet, &frame).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn ip_in_ip() {
        let t = |t: Tuple| Tuple {
            tunnel_id: tunnel::IP_IN_IP,
            ..t
        };
        let f = eth(0x0800, &ipv4(ip_proto::IPV4, C, D, &ipv4_udp()));
        assert_eq!(eth_tuple(&f), t(udp_ab()));
        let d = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(d.ip_header_len, 20);
        assert_eq!(d.payload_offset, 14 + 20 + 28);
        let f = eth(0x0800, &ipv4(ip_proto::IPV6, C, D, &ipv6_tcp()));
        assert_eq!(eth_tuple(&f), t(tcp_ab6()));
        let f = eth(0x86dd, &ipv6(ip_proto::IPV4, B6, A6, &ipv4_udp()));
        assert_eq!(eth_tuple(&f), t(udp_ab()));
        let f = eth(0x86dd, &ipv6(ip_proto::IPV6, B6, A6, &ipv6_tcp()));
        assert_eq!(eth_tuple(&f), t(tcp_ab6()));
        let d = decode_no_tunnels(LinkType::Ethernet, &f).unwrap();
        assert_eq!(d.tuple, tuple(B6, 0, A6, 0, ip_proto::IPV6, 6));
    }

    #[test]
    fn nesting_depth_and_outermost_tunnel_id() {
        // Four levels of 4in4 are followed; the fifth is too deep.
        let mut pkt = ipv4_udp();
        for _ in 0..4 {
            pkt = ipv4(ip_proto::IPV4, C, D, &pkt);
        }
        assert_eq!(
            eth_tuple(&eth(0x0800, &pkt)),
            Tuple {
                tunnel_id: tunnel::IP_IN_IP,
                ..udp_ab()
            }
        );
        let pkt = ipv4(ip_proto::IPV4, C, D, &pkt);
        assert_eq!(
            decode(LinkType::Ethernet, &eth(0x0800, &pkt)).unwrap_err(),
            DropReason::TunnelTooDeep
        );
        // GRE carrying GTP-U: the id is the outermost tunnel's.
        let gtp_pkt = ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(&ipv4_udp())));
        let f = eth(
            0x0800,
            &ipv4(
                ip_proto::GRE,
                D,
                C,
                &cat(&[&[0x00, 0x00, 0x08, 0x00], &gtp_pkt]),
            ),
        );
        assert_eq!(
            eth_tuple(&f),
            Tuple {
                tunnel_id: tunnel::GRE,
                ..udp_ab()
            }
        );
        // ... and a non-IP G-PDU inside GRE falls back to the GTP carrier, still under GRE.
        let gtp_pkt = ipv4(ip_proto::UDP, C, D, &udp(2152, 2152, &gtp(&[0; 20])));
        let f = eth(
            0x0800,
            &ipv4(
                ip_proto::GRE,
                D,
                C,
                &cat(&[&[0x00, 0x00, 0x08, 0x00], &gtp_pkt]),
            ),
        );
        assert_eq!(
            eth_tuple(&f),
            Tuple {
                tunnel_id: tunnel::GRE,
                ..tuple(v4(C), 2152, v4(D), 2152, ip_proto::UDP, 4)
            }
        );
    }

    #[test]
    fn fragmented_tunnel_packets_join_the_inner_flow() {
        let mut dec = Decoder::new(DecoderConfig::default());
        // Outer 4in4 datagram split after the inner IPv4 + UDP headers.
        let inner = ipv4(ip_proto::UDP, A, B, &udp(1000, 53, &[0x61; 40]));
        let first = eth(
            0x0800,
            &ipv4_frag(ip_proto::IPV4, C, D, 77, 0, true, &inner[..32]),
        );
        let d = dec.decode(LinkType::Ethernet, &first, 0).unwrap();
        let want = Tuple {
            tunnel_id: tunnel::IP_IN_IP,
            ..udp_ab()
        };
        assert_eq!(d.tuple, want);
        assert!(!d.is_truncated, "cut by fragmentation, not by the capture");
        let later = eth(
            0x0800,
            &ipv4_frag(ip_proto::IPV4, C, D, 77, 32, false, &inner[32..]),
        );
        let d = dec.decode(LinkType::Ethernet, &later, 0).unwrap();
        assert_eq!(d.tuple, want);
        assert!(d.is_fragment);
        assert_eq!(d.payload_offset, 34);
        assert_eq!(d.payload_len, 36);
    }

    // ---- properties --------------------------------------------------------------------------

    const LINKS: [LinkType; 12] = [
        LinkType::Null,
        LinkType::Ethernet,
        LinkType::Ppp,
        LinkType::PppHdlc,
        LinkType::Raw,
        LinkType::CiscoHdlc,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll2,
        LinkType::Unknown(147),
    ];

    /// Valid frames of many shapes, as seeds for mutation.
    fn seeds() -> Vec<(LinkType, Vec<u8>)> {
        let gre_teb = cat(&[
            &[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 5],
            &eth(0x0800, &ipv4_udp()),
        ]);
        let pptp = cat(&[
            &[
                0x30, 0x81, 0x88, 0x0b, 0, 0x24, 0x98, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0x03,
                0x00, 0x21,
            ],
            &ipv4_udp(),
        ]);
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &eth(0x86dd, &ipv6_tcp())]);
        let gtp_ext = cat(&[
            &[
                0x34, 0xff, 0, 0x44, 0, 0, 0, 1, 0, 0, 0, 0x85, 0x01, 0x10, 0x05, 0x00,
            ],
            &ipv6_tcp(),
        ]);
        let frag6 = cat(&[&[0x11, 0x00, 0x00, 0x01, 0, 0, 0, 7], &udp(1, 2, &[0; 8])]);
        vec![
            (LinkType::Ethernet, eth(0x0800, &ipv4_udp())),
            (
                LinkType::Ethernet,
                eth(
                    0x88a8,
                    &cat(&[&[0, 1, 0x81, 0], &[0, 2, 0x86, 0xdd], &ipv6_tcp()]),
                ),
            ),
            (
                LinkType::Ethernet,
                eth(0x8847, &cat(&[&[0, 1, 0x21, 0x40], &ipv4_udp()])),
            ),
            (
                LinkType::Ethernet,
                eth(
                    0x8864,
                    &cat(&[&[0x11, 0, 0, 1, 0, 0x22, 0, 0x21], &ipv4_udp()]),
                ),
            ),
            (
                LinkType::Ethernet,
                eth(0x0800, &ipv4(ip_proto::GRE, C, D, &gre_teb)),
            ),
            (
                LinkType::Ethernet,
                eth(0x0800, &ipv4(ip_proto::GRE, C, D, &pptp)),
            ),
            (
                LinkType::Ethernet,
                eth(0x0800, &ipv4(ip_proto::UDP, C, D, &udp(1, 4789, &vx))),
            ),
            (
                LinkType::Ethernet,
                eth(
                    0x86dd,
                    &ipv6(ip_proto::UDP, A6, B6, &udp(2152, 1, &gtp_ext)),
                ),
            ),
            (
                LinkType::Ethernet,
                eth(0x86dd, &ipv6(ip_proto::FRAGMENT, A6, B6, &frag6)),
            ),
            (
                LinkType::Ethernet,
                eth(0x0800, &ipv4(ip_proto::IPV6, C, D, &ipv6_tcp())),
            ),
            (
                LinkType::Ethernet,
                eth(
                    0x0800,
                    &ipv4_frag(ip_proto::UDP, A, B, 1, 0, true, &udp(1, 2, &[0; 8])),
                ),
            ),
            (
                LinkType::Ethernet,
                eth(
                    0x0800,
                    &ipv4_frag(ip_proto::UDP, A, B, 1, 16, false, &[0; 8]),
                ),
            ),
            (
                LinkType::LinuxSll,
                cat(&[
                    &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00],
                    &ipv4_udp(),
                ]),
            ),
            (
                LinkType::LinuxSll2,
                cat(&[
                    &[
                        0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
                    ],
                    &ipv6_tcp(),
                ]),
            ),
            (LinkType::Null, cat(&[&[2, 0, 0, 0], &ipv4_udp()])),
            (
                LinkType::Ppp,
                cat(&[&[0xff, 0x03, 0x00, 0x21], &ipv4_udp()]),
            ),
            (
                LinkType::CiscoHdlc,
                cat(&[
                    &[0x0f, 0x00, 0x88, 0x47, 0x00, 0x01, 0x2d, 0xfe],
                    &ipv4_udp(),
                ]),
            ),
            (LinkType::Raw, ipv6_tcp()),
        ]
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(
            link in 0..LINKS.len(),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let mut dec = Decoder::new(DecoderConfig { max_fragments: 8, ..DecoderConfig::default() });
            let _ = dec.decode(LINKS[link], &bytes, 0);
        }

        #[test]
        fn mutated_frames_never_panic(
            seed in 0usize..18,
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..6),
            cut in proptest::num::usize::ANY,
            tunnels in proptest::bool::ANY,
        ) {
            let (link, mut frame) = seeds().swap_remove(seed);
            for (at, v) in edits {
                let i = at % frame.len();
                frame[i] = v;
            }
            frame.truncate(cut % (frame.len() + 1) + frame.len() / 2);
            let cfg = DecoderConfig { decode_tunnels: tunnels, max_fragments: 4, ..DecoderConfig::default() };
            let mut dec = Decoder::new(cfg);
            for ts in 0..2 {
                if let Ok(d) = dec.decode(link, &frame, ts * SEC) {
                    // The payload lies inside the frame.
                    let end = d.payload_offset as usize + d.payload_len as usize;
                    proptest::prop_assert!(end <= frame.len());
                }
            }
        }
    }

    proptest::proptest! {
        /// The inlined fast path (`fast.rs`) gives what the general walk gives, on mutated
        /// frames of every shape (most leave the fast path; see `fast::tests` for plain ones).
        #[test]
        fn decode_equals_the_walk_on_mutated_frames(
            seed in 0usize..18,
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..4),
            cut in proptest::num::usize::ANY,
            tunnels in proptest::bool::ANY,
            join in proptest::bool::ANY,
        ) {
            let (link, mut frame) = seeds().swap_remove(seed);
            for (at, v) in edits {
                let i = at % frame.len();
                frame[i] = v;
            }
            frame.truncate(cut % (frame.len() + 1) + frame.len() / 2);
            let cfg = DecoderConfig {
                decode_tunnels: tunnels,
                join_fragments: join,
                max_fragments: 4,
            };
            let (mut fast, mut walk) = (Decoder::new(cfg), Decoder::new(cfg));
            for ts in 0..2 {
                proptest::prop_assert_eq!(
                    fast.decode(link, &frame, ts * SEC),
                    walk.decode_walk(link, &frame, ts * SEC)
                );
            }
        }
    }

    #[test]
    fn seeds_decode() {
        for (i, (link, frame)) in seeds().into_iter().enumerate() {
            assert!(
                decode(link, &frame).is_ok() || i == 11,
                "seed {i}: {:?}",
                decode(link, &frame)
            );
        }
    }

    // ---- real captures -----------------------------------------------------------------------

    /// A minimal pcap / pcapng record reader, so that this test does not depend on
    /// `capture::pcap`. Yields (link type, captured bytes, timestamp ns).
    struct Records<'a> {
        buf: &'a [u8],
        pos: usize,
        /// Classic pcap: (big-endian, nanosecond timestamps, link type).
        pcap: Option<(bool, bool, u32)>,
        /// pcapng: section big-endian, and each interface's (link type, units per second).
        ng_be: bool,
        ifaces: Vec<(u32, u64)>,
    }

    fn rd32(b: &[u8], be: bool) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn rd16(b: &[u8], be: bool) -> u16 {
        if be {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    }

    impl<'a> Records<'a> {
        fn new(buf: &'a [u8]) -> Self {
            let mut r = Records {
                buf,
                pos: 0,
                pcap: None,
                ng_be: false,
                ifaces: Vec::new(),
            };
            let (be, nanos) = match buf.get(..4) {
                Some([0xd4, 0xc3, 0xb2, 0xa1]) => (false, false),
                Some([0xa1, 0xb2, 0xc3, 0xd4]) => (true, false),
                Some([0x4d, 0x3c, 0xb2, 0xa1]) => (false, true),
                Some([0xa1, 0xb2, 0x3c, 0x4d]) => (true, true),
                _ => return r, // pcapng, or nothing we read (yields no records)
            };
            if let Some(h) = buf.get(..24) {
                r.pcap = Some((be, nanos, rd32(&h[20..24], be) & 0x0fff_ffff));
                r.pos = 24;
            } else {
                r.pos = buf.len();
            }
            r
        }
    }

    impl<'a> Iterator for Records<'a> {
        type Item = (u32, &'a [u8], u64);

        fn next(&mut self) -> Option<Self::Item> {
            if let Some((be, nanos, link)) = self.pcap {
                let h = self.buf.get(self.pos..self.pos + 16)?;
                let (sec, frac) = (u64::from(rd32(&h[0..4], be)), u64::from(rd32(&h[4..8], be)));
                let incl = rd32(&h[8..12], be) as usize;
                let data = self.buf.get(self.pos + 16..self.pos + 16 + incl)?;
                self.pos += 16 + incl;
                return Some((
                    link,
                    data,
                    sec * SEC + if nanos { frac } else { frac * 1000 },
                ));
            }
            loop {
                let hdr = self.buf.get(self.pos..self.pos + 12)?;
                if hdr[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                    // Section header block: its byte-order magic sets the section's endianness.
                    self.ng_be = hdr[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
                    self.ifaces.clear();
                }
                let be = self.ng_be;
                let (btype, blen) = (rd32(&hdr[0..4], be), rd32(&hdr[4..8], be) as usize);
                let block = self
                    .buf
                    .get(self.pos..self.pos + blen)
                    .filter(|_| blen >= 12)?;
                self.pos += blen;
                let body = &block[8..blen - 4];
                match btype {
                    // Interface description: link type, then options (if_tsresol = 9).
                    1 if body.len() >= 8 => {
                        let mut units = 1_000_000;
                        let mut opts = &body[8..];
                        while opts.len() >= 4 {
                            let (code, olen) =
                                (rd16(&opts[0..2], be), rd16(&opts[2..4], be) as usize);
                            if code == 9 && olen >= 1 {
                                let v = u32::from(opts[4]);
                                units = if v & 0x80 != 0 {
                                    1u64 << (v & 0x3f)
                                } else {
                                    10u64.pow(v.min(19))
                                };
                            }
                            opts = opts.get(4 + olen.div_ceil(4) * 4..).unwrap_or(&[]);
                        }
                        self.ifaces.push((u32::from(rd16(&body[0..2], be)), units));
                    }
                    // Enhanced packet block.
                    6 if body.len() >= 20 => {
                        let (link, units) = *self.ifaces.get(rd32(&body[0..4], be) as usize)?;
                        let ts = u64::from(rd32(&body[4..8], be)) << 32
                            | u64::from(rd32(&body[8..12], be));
                        let data = body.get(20..20 + rd32(&body[12..16], be) as usize)?;
                        let ts_ns =
                            (u128::from(ts) * u128::from(SEC) / u128::from(units.max(1))) as u64;
                        return Some((link, data, ts_ns));
                    }
                    // Simple packet block.
                    3 if body.len() >= 4 => {
                        let (link, _) = *self.ifaces.first()?;
                        let n = (rd32(&body[0..4], be) as usize).min(body.len() - 4);
                        return Some((link, &body[4..4 + n], 0));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Decodes every frame of every public capture: no panic, every capture yields flows, and
    /// the frames that reach a flow are exactly those nfstream 6.6 counted (later fragments
    /// aside, which nfstream ignores), but for the documented differences.
    #[test]
    fn public_captures_decode_as_the_walk_does() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skipped: ../shared/pcaps/public not found");
            return;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        let (mut frames, mut fast) = (0usize, 0usize);
        for path in &paths {
            let buf = std::fs::read(path).unwrap();
            for tunnels in [true, false] {
                let cfg = DecoderConfig {
                    decode_tunnels: tunnels,
                    ..DecoderConfig::default()
                };
                let (mut a, mut b) = (Decoder::new(cfg), Decoder::new(cfg));
                for (i, (link, data, ts)) in Records::new(&buf).enumerate() {
                    let link = LinkType::from_number(link);
                    let walk = b.decode_walk(link, data, ts);
                    assert_eq!(
                        a.decode(link, data, ts),
                        walk,
                        "{} frame {i}, tunnels {tunnels}",
                        path.display()
                    );
                    frames += 1;
                    fast += usize::from(super::fast::decode(link, data, tunnels).is_some());
                }
            }
        }
        println!("{fast} of {frames} frames took the fast path");
    }

    #[test]
    fn public_captures() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skipped: ../shared/pcaps/public not found");
            return;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "no captures in {}", dir.display());
        // nfstream counts these frames and we drop them: TCP headers with a data offset below 5
        // or cut before their options end (the contract's TcpTruncated).
        let known_difference = |name: &str| {
            if name == "reasm_crash_anon.pcapng" {
                2
            } else {
                0
            }
        };
        let mut mismatches = Vec::new();
        for path in &paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let buf = std::fs::read(path).unwrap();
            let mut dec = Decoder::new(DecoderConfig::default());
            let (mut frames, mut flows, mut frags) = (0usize, 0usize, 0usize);
            for (link, data, ts) in Records::new(&buf) {
                frames += 1;
                match dec.decode(LinkType::from_number(link), data, ts) {
                    Ok(d) if d.is_fragment => frags += 1,
                    Ok(_) => flows += 1,
                    Err(_) => {}
                }
            }
            assert!(frames > 0, "{name}: no records read");
            assert!(flows > 0, "{name}: no frame decoded ({frames} frames)");
            let csv = dir.join("nfstream").join(format!("{name}.csv"));
            if let Ok(text) = std::fs::read_to_string(&csv) {
                // bidirectional_packets is the 8th column; the ones before it hold no commas.
                let nf: usize = text
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split(',').nth(7)?.parse::<usize>().ok())
                    .sum();
                if flows + known_difference(&name) != nf {
                    mismatches.push(format!(
                        "{name}: {flows} frames in flows (+{frags} later fragments), nfstream {nf}"
                    ));
                }
            }
        }
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
