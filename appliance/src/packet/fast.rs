//! The decoder's fast path: the overwhelmingly common frame, read with a handful of bounds
//! checks straight into a [`Decoded`]. It takes Ethernet (at most two VLAN tags), Linux SLL /
//! SLL2 and raw IP links, then IPv4 (options allowed) not fragmented, or IPv6 without
//! extension headers, then any transport but a tunnel the decoder would follow (IP-in-IP,
//! GRE, UDP on the VXLAN port); a GTP-U G-PDU (UDP 2152) is followed, once, to the same kind of
//! plain IP packet inside.
//!
//! It owns no policy: it returns `None` for anything else, *including every frame the general
//! walk (`decode.rs`) would drop*, and the decoder then runs the walk. So a `Some` is exactly
//! what the walk would have returned, field for field (`tests` check it on generated frames,
//! `decode::tests` on mutated ones and on the public captures), and the walk alone decides
//! every drop reason, fragment, tunnel error and the carrier fallback. Since it never sees a
//! fragment, it never needs the fragment table.
//!
//! Why it is separate: the walk's state machine (next-header enum, carrier, fragment and tunnel
//! bookkeeping) is too large to inline into the capture loop, and its `Decoded` has to come
//! back through memory. This function is small enough to be inlined into the caller, so the
//! `Decoded` is built in registers.

use super::decode::v4_mapped;
use super::{
    Decoded, GtpHeader, LinkType, Sll2Header, SllHeader, Tuple, gtp, icmp, ip_proto, ipv4, ipv6,
    sctp, sll, sll2, tcp, tunnel, udp, vlan, vxlan,
};

/// Length of an Ethernet II header.
const ETH_LEN: usize = super::ethernet::HEADER_LEN;

/// EtherTypes (kept as numbers: a `match` on raw values compiles to a couple of compares).
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// VLAN tags read at most; a frame with more goes to the walk.
const MAX_TAGS: usize = 2;

/// True for the TPIDs the walk follows as a VLAN tag (802.1Q, 802.1ad, legacy QinQ).
#[inline(always)]
fn is_vlan_tpid(t: u16) -> bool {
    matches!(t, 0x8100 | 0x88a8 | 0x9100)
}

/// The frame, or `None` to let the general walk decide.
#[inline(always)]
pub(super) fn decode(link: LinkType, frame: &[u8], tunnels: bool) -> Option<Decoded> {
    let mut src_mac = [0; 6];
    let mut dst_mac = [0; 6];
    // The link layer: the EtherType of what follows, and where.
    let (mut ethertype, mut off) = match link {
        LinkType::Ethernet => {
            let eth: &[u8; ETH_LEN] = frame.first_chunk()?;
            dst_mac.copy_from_slice(&eth[0..6]);
            src_mac.copy_from_slice(&eth[6..12]);
            (u16::from_be_bytes([eth[12], eth[13]]), ETH_LEN)
        }
        LinkType::LinuxSll => {
            let h = SllHeader::new_checked(frame).ok()?;
            if sll::arphrd::protocol_is_not_ethertype(h.arphrd()) {
                return None;
            }
            (h.protocol_raw(), sll::HEADER_LEN)
        }
        LinkType::LinuxSll2 => {
            let h = Sll2Header::new_checked(frame).ok()?;
            if sll::arphrd::protocol_is_not_ethertype(h.arphrd()) {
                return None;
            }
            (h.protocol_raw(), sll2::HEADER_LEN)
        }
        // IPv4 or IPv6 by the version nibble.
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => match frame.first()? >> 4 {
            4 => (ETHERTYPE_IPV4, 0),
            6 => (ETHERTYPE_IPV6, 0),
            _ => return None,
        },
        _ => return None,
    };
    // VLAN tags nest outer to inner: the last one read is the innermost.
    let mut vlan_id = 0;
    for _ in 0..MAX_TAGS {
        if !is_vlan_tpid(ethertype) {
            break;
        }
        let tag: &[u8; vlan::TAG_LEN] = frame.get(off..)?.first_chunk()?;
        vlan_id = u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff;
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        off += vlan::TAG_LEN;
    }
    let v6 = match ethertype {
        ETHERTYPE_IPV4 => false,
        ETHERTYPE_IPV6 => true,
        _ => return None,
    };
    ip(frame, off, v6, tunnels, vlan_id, src_mac, dst_mac)
}

/// The IP packet at `off` (IPv6 when `v6`) and its transport header; through one GTP-U tunnel
/// to the IP packet it carries.
#[inline(always)]
fn ip(
    frame: &[u8],
    mut off: usize,
    mut v6: bool,
    tunnels: bool,
    vlan_id: u16,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
) -> Option<Decoded> {
    // What the current IP packet may read: the frame, then, in the tunnel, the carrying packet
    // (the walk's `limit`). Offsets stay relative to the frame.
    let mut bytes = frame;
    let mut tunnel_id = tunnel::NONE;
    // Sticky across layers, as the walk's `Ctx::truncated`.
    let mut truncated = false;
    loop {
        let buf = bytes.get(off..)?;
        let (src_ip, dst_ip, protocol, header_len, claimed);
        if v6 {
            let h: &[u8; ipv6::HEADER_LEN] = buf.first_chunk()?;
            protocol = h[6];
            if h[0] >> 4 != 6 || ipv6::is_extension(protocol) {
                return None;
            }
            claimed = match usize::from(be16(h, 4)) {
                0 => buf.len(),
                n => ipv6::HEADER_LEN + n,
            };
            header_len = ipv6::HEADER_LEN;
            src_ip = *h[8..24].first_chunk::<16>()?;
            dst_ip = *h[24..40].first_chunk::<16>()?;
        } else {
            let h: &[u8; ipv4::MIN_HEADER_LEN] = buf.first_chunk()?;
            protocol = h[9];
            header_len = usize::from(h[0] & 0x0f) * 4;
            let total = usize::from(be16(h, 2));
            let frag = be16(h, 6) & 0x3fff; // MF and the offset
            if h[0] >> 4 != 4
                || header_len < ipv4::MIN_HEADER_LEN
                || buf.len() < header_len
                || (total != 0 && total < header_len)
                || frag != 0
            {
                return None;
            }
            claimed = if total == 0 { buf.len() } else { total };
            // One 16-byte value each, built in a register.
            src_ip = v4_mapped([h[12], h[13], h[14], h[15]]);
            dst_ip = v4_mapped([h[16], h[17], h[18], h[19]]);
        }
        truncated |= buf.len() < claimed;
        // `claimed >= header_len` and `buf.len() >= header_len`, so `l4_off <= end`.
        let end = off + claimed.min(buf.len());
        let l4_off = off + header_len;
        let l4 = frame.get(l4_off..end)?;
        // Bytes the IP header gives the transport: fewer than a minimal header means no ports.
        let room = claimed - header_len;
        let (src_port, dst_port, l4_len, tcp_flags) = match protocol {
            ip_proto::TCP if room >= tcp::MIN_HEADER_LEN => {
                let t: &[u8; tcp::MIN_HEADER_LEN] = l4.first_chunk()?;
                let len = usize::from(t[12] >> 4) * 4;
                if len < tcp::MIN_HEADER_LEN || l4.len() < len {
                    return None;
                }
                (be16(t, 0), be16(t, 2), len, t[13])
            }
            ip_proto::UDP if room >= udp::HEADER_LEN => {
                let u: &[u8; udp::HEADER_LEN] = l4.first_chunk()?;
                let (sp, dp) = (be16(u, 0), be16(u, 2));
                if tunnels && (sp == gtp::PORT || dp == gtp::PORT || dp == vxlan::PORT) {
                    // Enter GTP-U once, as the walk would, when what it carries is plain. A
                    // second tunnel, VXLAN, anything odd: the walk.
                    let payload = &l4[udp::HEADER_LEN..];
                    if tunnel_id != tunnel::NONE
                        || !(sp == gtp::PORT || dp == gtp::PORT)
                        || !gtp::is_g_pdu(payload)
                    {
                        return None;
                    }
                    let inner = l4_off
                        + udp::HEADER_LEN
                        + GtpHeader::new_checked(payload).ok()?.header_len();
                    v6 = match frame[..end].get(inner)? >> 4 {
                        4 => false,
                        6 => true,
                        _ => return None,
                    };
                    bytes = &frame[..end];
                    off = inner;
                    tunnel_id = tunnel::GTP;
                    continue;
                }
                (sp, dp, udp::HEADER_LEN, 0)
            }
            ip_proto::SCTP if room >= sctp::HEADER_LEN => {
                let s: &[u8; sctp::HEADER_LEN] = l4.first_chunk()?;
                (be16(s, 0), be16(s, 2), sctp::HEADER_LEN, 0)
            }
            ip_proto::ICMP | ip_proto::ICMPV6 if room >= icmp::HEADER_LEN => {
                if l4.len() < icmp::HEADER_LEN {
                    return None;
                }
                (0, 0, icmp::HEADER_LEN, 0)
            }
            ip_proto::IPV4 | ip_proto::IPV6 | ip_proto::GRE if tunnels => return None,
            // No transport header we read (or too short for one): no ports.
            _ => (0, 0, 0, 0),
        };
        let payload_off = (l4_off + l4_len).min(end);
        return Some(Decoded {
            tuple: Tuple {
                src_ip,
                dst_ip,
                src_port,
                dst_port,
                protocol,
                ip_version: if v6 { 6 } else { 4 },
                vlan_id,
                tunnel_id,
            },
            src_mac,
            dst_mac,
            ip_len: u32::try_from(claimed).unwrap_or(u32::MAX),
            ip_header_len: u16::try_from(header_len).unwrap_or(u16::MAX),
            l4_header_len: u16::try_from(l4_len).unwrap_or(u16::MAX),
            payload_offset: u32::try_from(payload_off).unwrap_or(u32::MAX),
            payload_len: u32::try_from(end - payload_off).unwrap_or(u32::MAX),
            tcp_flags,
            is_fragment: false,
            is_truncated: truncated,
        });
    }
}

/// The big-endian `u16` at `at` of a fixed-size header (no bounds check left at run time).
#[inline(always)]
fn be16<const N: usize>(h: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes([h[at], h[at + 1]])
}

#[cfg(test)]
mod tests {
    //! The fast path against the general walk: same result, field for field, on generated
    //! frames that are mostly plain but cover every reason to leave the fast path.

    use super::*;
    use crate::packet::{Decoder, DecoderConfig, LinkType, tcp_flags};
    use proptest::prelude::*;

    /// What a generated frame is made of.
    #[derive(Clone, Debug)]
    struct Shape {
        link: LinkType,
        /// SLL / SLL2 ARPHRD type.
        arphrd: u16,
        /// TPIDs of the VLAN tags, outer first, with their TCIs.
        tags: Vec<(u16, u16)>,
        /// EtherType after the tags (`None`: the one of the IP version).
        ethertype: Option<u16>,
        v6: bool,
        /// Version nibble override.
        version: Option<u8>,
        /// IPv4 IHL (5 = no options).
        ihl: u8,
        /// IPv4 flags and fragment offset field.
        flags_offset: u16,
        /// IPv4 total length / IPv6 payload length: exact, 0, or this delta from exact.
        len: LenField,
        protocol: u8,
        src_port: u16,
        dst_port: u16,
        /// TCP data offset (5 = no options).
        data_offset: u8,
        tcp_flags: u8,
        payload: Vec<u8>,
        /// Ethernet padding after the IP packet.
        padding: usize,
        /// Keep only this many bytes (snaplen), when shorter than the frame.
        cut: Option<usize>,
        /// Bytes overwritten at random places after building.
        edits: Vec<(usize, u8)>,
        /// Varies the IP addresses (so that an inner packet's differ from the outer's).
        addr: u8,
        /// A GTP-U header and the inner packet (`link` and what follows `padding` unused)
        /// instead of `payload`.
        gtp: Option<Box<(Vec<u8>, Shape)>>,
    }

    #[derive(Clone, Copy, Debug)]
    enum LenField {
        Exact,
        Zero,
        Delta(i16),
    }

    /// A frame, a quarter of them GTP-U (on one or both ports) carrying another.
    fn shape() -> BoxedStrategy<Shape> {
        let gtp_header = (
            prop_oneof![
                6 => Just(0x30u8),
                2 => Just(0x32),
                2 => Just(0x34),
                1 => Just(0x31),
                1 => any::<u8>(),
            ],
            prop_oneof![8 => Just(0xffu8), 1 => any::<u8>()],
            prop_oneof![3 => Just(0u8), 2 => Just(0x85), 1 => any::<u8>()],
            prop_oneof![3 => Just(1u8), 1 => 0u8..4],
        )
            .prop_map(|(flags, msg_type, next_ext, units)| {
                let mut h = vec![flags, msg_type, 0, 0, 0, 0, 0, 1];
                if flags & 0x07 != 0 {
                    h.extend_from_slice(&[0, 0, 0, next_ext]);
                    if flags & 0x04 != 0 && next_ext != 0 {
                        // One extension header: its length in 4-byte units, content, next 0.
                        h.push(units);
                        h.extend(std::iter::repeat_n(0, (usize::from(units) * 4).max(2) - 2));
                        h.push(0);
                    }
                }
                h
            });
        let ports = prop_oneof![
            Just((gtp::PORT, gtp::PORT)),
            any::<u16>().prop_map(|p| (p, gtp::PORT)),
            any::<u16>().prop_map(|p| (gtp::PORT, p)),
        ];
        (
            plain_shape(),
            prop_oneof![
                3 => Just(None),
                1 => (gtp_header.boxed(), plain_shape(), ports.boxed()).prop_map(Some),
            ]
            .boxed(),
        )
            .prop_map(|(mut outer, gtp)| {
                if let Some((header, inner, (sp, dp))) = gtp {
                    outer.protocol = ip_proto::UDP;
                    (outer.src_port, outer.dst_port) = (sp, dp);
                    outer.gtp = Some(Box::new((header, inner)));
                }
                outer
            })
            .boxed()
    }

    // Boxed strategies: the nested tuple types of unboxed ones overflow a test thread's stack
    // in debug builds.
    fn plain_shape() -> BoxedStrategy<Shape> {
        let link = prop_oneof![
            8 => Just(LinkType::Ethernet),
            1 => Just(LinkType::Raw),
            1 => Just(LinkType::Ipv4),
            1 => Just(LinkType::Ipv6),
            2 => Just(LinkType::LinuxSll),
            2 => Just(LinkType::LinuxSll2),
            1 => Just(LinkType::Null),
        ];
        let tpid = prop_oneof![Just(0x8100u16), Just(0x88a8), Just(0x9100)];
        let tags = prop_oneof![
            6 => Just(Vec::new()),
            3 => prop::collection::vec((tpid.clone(), any::<u16>()), 1..=1),
            2 => prop::collection::vec((tpid, any::<u16>()), 2..=3),
        ];
        let ethertype = prop_oneof![
            12 => Just(None),
            1 => Just(Some(0x0800u16)),
            1 => Just(Some(0x86dd)),
            1 => Just(Some(0x0806)),
            1 => Just(Some(0x05dc)),
            1 => Just(Some(0x8847)),
            1 => any::<u16>().prop_map(Some),
        ];
        let version = prop_oneof![10 => Just(None), 1 => (0u8..16).prop_map(Some)];
        let ihl = prop_oneof![8 => Just(5u8), 1 => 6u8..=15, 1 => 0u8..5];
        let flags_offset = prop_oneof![
            4 => Just(0x4000u16),
            4 => Just(0),
            1 => Just(0x2000),
            1 => 1u16..0x2000,
            1 => any::<u16>(),
        ];
        let len = prop_oneof![
            8 => Just(LenField::Exact),
            1 => Just(LenField::Zero),
            2 => (-70i16..70).prop_map(LenField::Delta),
        ];
        let protocol = prop_oneof![
            5 => Just(ip_proto::TCP),
            5 => Just(ip_proto::UDP),
            2 => prop::sample::select(vec![
                ip_proto::HOP_BY_HOP,
                ip_proto::ICMP,
                ip_proto::IPV4,
                ip_proto::IPV6,
                ip_proto::ROUTING,
                ip_proto::FRAGMENT,
                ip_proto::GRE,
                ip_proto::ESP,
                ip_proto::AH,
                ip_proto::ICMPV6,
                ip_proto::NO_NEXT_HEADER,
                ip_proto::DEST_OPTS,
                ip_proto::SCTP,
            ]),
            1 => any::<u8>(),
        ];
        let port = prop_oneof![
            6 => any::<u16>(),
            1 => Just(gtp::PORT),
            1 => Just(vxlan::PORT),
            1 => Just(53u16),
        ];
        let data_offset = prop_oneof![8 => Just(5u8), 1 => 6u8..=15, 1 => 0u8..5];
        (
            (
                (
                    link,
                    prop_oneof![8 => Just(1u16), 1 => Just(280), 1 => Just(824)],
                ),
                tags,
                ethertype,
                any::<bool>(),
                version,
                ihl,
                flags_offset,
                len,
            ),
            (protocol, port.clone(), port, data_offset, any::<u8>()),
            (
                prop::collection::vec(any::<u8>(), 0..48),
                prop_oneof![3 => Just(0usize), 1 => 1usize..30],
                prop_oneof![3 => Just(None), 1 => (0usize..140).prop_map(Some)],
                prop_oneof![
                    3 => Just(Vec::new()),
                    1 => prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                ],
                any::<u8>(),
            ),
        )
            .prop_map(
                |(
                    ((link, arphrd), tags, ethertype, v6, version, ihl, flags_offset, len),
                    (protocol, src_port, dst_port, data_offset, tcp_flags),
                    (payload, padding, cut, edits, addr),
                )| Shape {
                    link,
                    arphrd,
                    tags,
                    ethertype,
                    v6,
                    version,
                    ihl,
                    flags_offset,
                    len,
                    protocol,
                    src_port,
                    dst_port,
                    data_offset,
                    tcp_flags,
                    payload,
                    padding,
                    cut,
                    edits,
                    addr,
                    gtp: None,
                },
            )
            .boxed()
    }

    /// The IP packet of `s`.
    fn build_ip(s: &Shape) -> Vec<u8> {
        let payload = match &s.gtp {
            Some(g) => {
                let mut p = g.0.clone();
                p.extend_from_slice(&build_ip(&g.1));
                p.extend(std::iter::repeat_n(0, g.1.padding));
                p
            }
            None => s.payload.clone(),
        };
        // Transport header (+ payload).
        let mut l4 = Vec::new();
        l4.extend_from_slice(&s.src_port.to_be_bytes());
        l4.extend_from_slice(&s.dst_port.to_be_bytes());
        match s.protocol {
            ip_proto::TCP => {
                l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
                l4.extend_from_slice(&[s.data_offset << 4, s.tcp_flags, 0xff, 0xff, 0, 0, 0, 0]);
                let opts = usize::from(s.data_offset).saturating_sub(5) * 4;
                l4.extend((0..opts).map(|i| i as u8));
            }
            ip_proto::UDP => {
                let len = (8 + payload.len()) as u16;
                l4.extend_from_slice(&len.to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
            }
            _ => {}
        }
        l4.extend_from_slice(&payload);
        let fix_len = |exact: usize| -> u16 {
            match s.len {
                LenField::Exact => exact as u16,
                LenField::Zero => 0,
                LenField::Delta(d) => (exact as i64 + i64::from(d)).clamp(0, 0xffff) as u16,
            }
        };
        // IP header.
        let mut ip = Vec::new();
        if s.v6 {
            ip.extend_from_slice(&[s.version.unwrap_or(6) << 4, 0, 0, 7]);
            ip.extend_from_slice(&fix_len(l4.len()).to_be_bytes());
            ip.extend_from_slice(&[s.protocol, 64]);
            ip.extend((0..32).map(|i| s.addr.wrapping_add(i)));
        } else {
            let hl = usize::from(s.ihl).max(5) * 4;
            ip.push((s.version.unwrap_or(4) << 4) | s.ihl);
            ip.push(0);
            ip.extend_from_slice(&fix_len(hl + l4.len()).to_be_bytes());
            ip.extend_from_slice(&[0x12, 0x34]);
            ip.extend_from_slice(&s.flags_offset.to_be_bytes());
            ip.extend_from_slice(&[64, s.protocol, 0, 0, 10, s.addr, 0, 1, 192, 168, s.addr, 9]);
            ip.extend((20..hl).map(|_| 1)); // NOP options
        }
        ip.extend_from_slice(&l4);
        ip
    }

    /// Builds the frame `s` describes.
    fn build(s: &Shape) -> Vec<u8> {
        let ip = build_ip(s);
        // Link layer: the first type field (a TPID when tagged), then the tags, each with the
        // type of what follows it.
        let ip_type: u16 = if s.v6 { 0x86dd } else { 0x0800 };
        let last_type = s.ethertype.unwrap_or(ip_type);
        let first_type = s.tags.first().map_or(last_type, |t| t.0).to_be_bytes();
        let mut tags = Vec::new();
        for (i, &(_, tci)) in s.tags.iter().enumerate() {
            let next = s.tags.get(i + 1).map_or(last_type, |t| t.0);
            tags.extend_from_slice(&tci.to_be_bytes());
            tags.extend_from_slice(&next.to_be_bytes());
        }
        let arphrd = s.arphrd.to_be_bytes();
        let addr = [1, 2, 3, 4, 5, 6, 0, 0];
        let mut f = Vec::new();
        match s.link {
            LinkType::Ethernet => {
                f.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99]);
                f.extend_from_slice(&[0xaa, 0xbb]);
                f.extend_from_slice(&first_type);
            }
            LinkType::LinuxSll => {
                f.extend_from_slice(&[0, 0, arphrd[0], arphrd[1], 0, 6]);
                f.extend_from_slice(&addr);
                f.extend_from_slice(&first_type);
            }
            LinkType::LinuxSll2 => {
                f.extend_from_slice(&first_type);
                f.extend_from_slice(&[0, 0, 0, 0, 0, 1, arphrd[0], arphrd[1], 0, 6]);
                f.extend_from_slice(&addr);
            }
            LinkType::Null => f.extend_from_slice(&[if s.v6 { 30 } else { 2 }, 0, 0, 0]),
            _ => {}
        }
        if matches!(
            s.link,
            LinkType::Ethernet | LinkType::LinuxSll | LinkType::LinuxSll2
        ) {
            f.extend_from_slice(&tags);
        }
        f.extend_from_slice(&ip);
        f.extend(std::iter::repeat_n(0, s.padding));
        if let Some(n) = s.cut {
            f.truncate(n);
        }
        if !f.is_empty() {
            for &(at, v) in &s.edits {
                let i = at % f.len();
                f[i] = v;
            }
        }
        f
    }

    fn config(tunnels: bool, join: bool) -> DecoderConfig {
        DecoderConfig {
            decode_tunnels: tunnels,
            join_fragments: join,
            max_fragments: 64,
        }
    }

    /// What the fast path alone gives for `frame` on `link`.
    fn fast(link: LinkType, frame: &[u8], tunnels: bool) -> Option<Decoded> {
        decode(link, frame, tunnels)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_path_equals_the_walk(s in shape(), tunnels in any::<bool>(), join in any::<bool>()) {
            let frame = build(&s);
            let walk = Decoder::new(config(tunnels, join)).decode_walk(s.link, &frame, 0);
            if let Some(d) = fast(s.link, &frame, tunnels) {
                prop_assert_eq!(Ok(d), walk, "fast path differs on {:02x?}", frame);
            }
            let full = Decoder::new(config(tunnels, join)).decode(s.link, &frame, 0);
            prop_assert_eq!(full, walk, "decode differs from the walk on {:02x?}", frame);
        }

        /// A sequence with fragments in it: the fast path must leave the fragment table as the
        /// walk would (it never touches it), so later fragments decode the same.
        #[test]
        fn sequences_with_fragments_decode_the_same(
            shapes in prop::collection::vec(shape(), 1..10),
            tunnels in any::<bool>(),
        ) {
            let mut a = Decoder::new(config(tunnels, true));
            let mut b = Decoder::new(config(tunnels, true));
            for (i, s) in shapes.iter().enumerate() {
                let frame = build(s);
                let ts = i as u64 * 1_000;
                prop_assert_eq!(a.decode(s.link, &frame, ts), b.decode_walk(s.link, &frame, ts));
            }
        }
    }

    /// The generator is not vacuous: plain frames do take the fast path.
    #[test]
    fn plain_frames_take_the_fast_path() {
        let base = Shape {
            link: LinkType::Ethernet,
            arphrd: 1,
            tags: Vec::new(),
            ethertype: None,
            v6: false,
            version: None,
            ihl: 5,
            flags_offset: 0x4000,
            len: LenField::Exact,
            protocol: ip_proto::UDP,
            src_port: 40000,
            dst_port: 53,
            data_offset: 5,
            tcp_flags: tcp_flags::SYN,
            payload: b"0123456789".to_vec(),
            padding: 0,
            cut: None,
            edits: Vec::new(),
            addr: 1,
            gtp: None,
        };
        let variants = [
            base.clone(),
            Shape {
                protocol: ip_proto::TCP,
                data_offset: 8,
                ..base.clone()
            },
            Shape {
                v6: true,
                ..base.clone()
            },
            Shape {
                v6: true,
                protocol: ip_proto::TCP,
                ..base.clone()
            },
            Shape {
                tags: vec![(0x8100, 0x2064)],
                padding: 12,
                ..base.clone()
            },
            Shape {
                ihl: 7,
                len: LenField::Zero,
                ..base.clone()
            },
            Shape {
                // Cut by the capture inside the payload: flagged, still fast.
                cut: Some(14 + 20 + 8 + 3),
                ..base.clone()
            },
            Shape {
                link: LinkType::Raw,
                ..base.clone()
            },
            Shape {
                link: LinkType::Ipv6,
                v6: true,
                protocol: ip_proto::TCP,
                ..base.clone()
            },
            Shape {
                tags: vec![(0x88a8, 1), (0x8100, 2)],
                ..base.clone()
            },
            Shape {
                link: LinkType::LinuxSll,
                tags: vec![(0x8100, 7)],
                ..base.clone()
            },
            Shape {
                link: LinkType::LinuxSll2,
                v6: true,
                ..base.clone()
            },
            Shape {
                protocol: ip_proto::ICMP,
                ..base.clone()
            },
            Shape {
                v6: true,
                protocol: ip_proto::ICMPV6,
                ..base.clone()
            },
            Shape {
                protocol: ip_proto::SCTP,
                ..base.clone()
            },
            Shape {
                protocol: ip_proto::ESP,
                ..base.clone()
            },
            Shape {
                // A transport header the IP length has no room for: no ports.
                protocol: ip_proto::TCP,
                payload: Vec::new(),
                len: LenField::Delta(-10),
                ..base.clone()
            },
        ];
        let gtp = |header: &[u8], inner: Shape| Shape {
            src_port: gtp::PORT,
            dst_port: gtp::PORT,
            gtp: Some(Box::new((header.to_vec(), inner))),
            ..base.clone()
        };
        let inner = Shape {
            addr: 2,
            ..base.clone()
        };
        let inner6 = Shape {
            v6: true,
            protocol: ip_proto::TCP,
            padding: 3,
            ..inner.clone()
        };
        let gtp_plain = [0x30, 0xff, 0, 0, 0, 0, 0, 1];
        let gtp_ext = [0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 5, 0];
        let variants = variants.into_iter().chain([
            gtp(&gtp_plain, inner.clone()),
            gtp(&gtp_ext, inner6.clone()),
        ]);
        for (i, s) in variants.enumerate() {
            let frame = build(&s);
            let d = fast(s.link, &frame, true).unwrap_or_else(|| panic!("variant {i} not fast"));
            let walk = Decoder::new(config(true, true)).decode_walk(s.link, &frame, 0);
            assert_eq!(Ok(d), walk, "variant {i}");
            if s.gtp.is_some() {
                assert_eq!(d.tuple.tunnel_id, tunnel::GTP);
                assert_ne!(
                    d.tuple.src_ip,
                    fast(s.link, &build(&base), true).unwrap().tuple.src_ip
                );
            }
        }
        // A tunnel, a fragment, an extension header, three tags, other links: the walk's.
        for s in [
            Shape {
                dst_port: vxlan::PORT,
                ..base.clone()
            },
            Shape {
                src_port: gtp::PORT,
                ..base.clone()
            },
            Shape {
                flags_offset: 0x2000,
                ..base.clone()
            },
            Shape {
                v6: true,
                protocol: ip_proto::HOP_BY_HOP,
                ..base.clone()
            },
            Shape {
                protocol: ip_proto::GRE,
                ..base.clone()
            },
            Shape {
                v6: true,
                protocol: ip_proto::IPV4,
                ..base.clone()
            },
            Shape {
                tags: vec![(0x88a8, 1), (0x8100, 2), (0x8100, 3)],
                ..base.clone()
            },
            Shape {
                link: LinkType::Null,
                ..base.clone()
            },
            Shape {
                link: LinkType::LinuxSll,
                arphrd: 280,
                ..base.clone()
            },
            // GTP-U but not a G-PDU (echo), or carrying a tunnel again.
            gtp(&[0x30, 1, 0, 0, 0, 0, 0, 1], inner.clone()),
            gtp(&gtp_plain, gtp(&gtp_plain, inner.clone())),
        ] {
            assert_eq!(fast(s.link, &build(&s), true), None, "{s:?}");
        }
        // Tunnel ports are plain UDP when tunnels are not followed.
        let s = Shape {
            dst_port: vxlan::PORT,
            ..base
        };
        assert!(fast(s.link, &build(&s), false).is_some());
    }
}
