//! Zero-copy views over packet bytes, and the [`Decoder`] that turns one captured frame into the
//! [`Decoded`] facts the flow engine needs.
//!
//! This module owns: link-layer framing (Ethernet, 802.1Q/802.1ad, MPLS, PPPoE, Linux SLL/SLL2,
//! BSD null/loopback, PPP, Cisco HDLC, raw IP), IPv4/IPv6 (with options and extension headers),
//! the IP fragment table, the transport headers (TCP, UDP, SCTP, ICMP, ICMPv6) and tunnels
//! (GTP-U, GRE, VXLAN, IP-in-IP). It does *not* know about flows: it never canonicalises the
//! tuple (that is `flow::key`) and it keeps no per-flow state.
//!
//! # Contract
//!
//! Every view has a `new_checked` constructor; once it returned `Ok`, no accessor panics. A
//! truncated *header* is a drop with a [`DropReason`]; a truncated *payload* (snaplen) is not:
//! it is accepted and flagged. Views are read-only; builders exist only under `#[cfg(test)]`.
//! `Decoder::decode` returns without panicking for any input bytes (a property test checks it).

mod chdlc;
mod decode;
mod ethernet;
mod fast;
mod fragment;
mod gre;
mod gtp;
mod icmp;
mod ipv4;
mod ipv6;
mod mpls;
mod null;
mod ppp;
mod pppoe;
mod sctp;
mod sll;
mod sll2;
mod tcp;
mod udp;
mod vlan;
mod vxlan;

pub use self::chdlc::Header as ChdlcHeader;
pub use self::decode::Decoder;
pub use self::ethernet::{EtherType, Frame as EthernetFrame};
pub use self::gre::Header as GreHeader;
pub use self::gtp::Header as GtpHeader;
pub use self::icmp::Packet as IcmpPacket;
pub use self::ipv4::Packet as Ipv4Packet;
pub use self::ipv6::{
    ExtHeader as Ipv6ExtHeader, FragmentHeader as Ipv6FragmentHeader, Packet as Ipv6Packet,
};
pub use self::mpls::Stack as MplsStack;
pub use self::null::{Family as NullFamily, Header as NullHeader};
pub use self::ppp::Frame as PppFrame;
pub use self::pppoe::Session as PppoeSession;
pub use self::sctp::Packet as SctpPacket;
pub use self::sll::Header as SllHeader;
pub use self::sll2::Header as Sll2Header;
pub use self::tcp::{Packet as TcpPacket, flags as tcp_flags};
pub use self::udp::Packet as UdpPacket;
pub use self::vlan::Tag as VlanTag;
pub use self::vxlan::Header as VxlanHeader;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers") the decoder dispatches on.
/// Any other value is carried through as the flow's protocol with ports 0.
pub mod ip_proto {
    /// IPv6 hop-by-hop options (extension header).
    pub const HOP_BY_HOP: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IPv4 encapsulation (IP-in-IP, RFC 2003).
    pub const IPV4: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulation (6in4 / 6in6, RFC 4213 / RFC 2473).
    pub const IPV6: u8 = 41;
    /// IPv6 routing header (extension header).
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header (extension header).
    pub const FRAGMENT: u8 = 44;
    /// GRE (RFC 2784, RFC 2637).
    pub const GRE: u8 = 47;
    /// ESP: a transport like any other for us (its payload is encrypted).
    pub const ESP: u8 = 50;
    /// Authentication header (an extension header in IPv6).
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NO_NEXT_HEADER: u8 = 59;
    /// IPv6 destination options (extension header).
    pub const DEST_OPTS: u8 = 60;
    /// IPv6 mobility header (extension header, RFC 6275).
    pub const MOBILITY: u8 = 135;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// A byte range of a header field, as smoltcp's `wire::field::Field`.
pub type Field = core::ops::Range<usize>;

/// Reads a big-endian `u16` from exactly two bytes.
#[inline]
pub fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Reads a big-endian `u32` from exactly four bytes.
#[inline]
pub fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// How the first header of a frame is to be read: the pcap/pcapng `LINKTYPE_*` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `LINKTYPE_NULL` (0): 4-byte host-endian address family, then IP (BSD loopback).
    Null,
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_PPP` (9): PPP with optional address/control bytes, then the PPP protocol.
    Ppp,
    /// `LINKTYPE_PPP_HDLC` (50).
    PppHdlc,
    /// `LINKTYPE_RAW` (101, and DLT 12/14 seen in old files): IPv4 or IPv6 by version nibble.
    Raw,
    /// `LINKTYPE_C_HDLC` (104): Cisco HDLC, 2-byte address/control, 2-byte EtherType.
    CiscoHdlc,
    /// `LINKTYPE_LOOP` (108): like `Null` but the family is big-endian (OpenBSD).
    Loop,
    /// `LINKTYPE_LINUX_SLL` (113).
    LinuxSll,
    /// `LINKTYPE_IPV4` (228).
    Ipv4,
    /// `LINKTYPE_IPV6` (229).
    Ipv6,
    /// `LINKTYPE_LINUX_SLL2` (276).
    LinuxSll2,
    /// Any other link type: every frame is dropped as `UnsupportedLinkType`.
    Unknown(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link type number to a [`LinkType`].
    pub fn from_number(n: u32) -> LinkType {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            9 => LinkType::Ppp,
            50 => LinkType::PppHdlc,
            12 | 14 | 101 => LinkType::Raw,
            104 => LinkType::CiscoHdlc,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Unknown(other),
        }
    }
}

/// Why a frame could not become part of a flow. Indexes a counter array
/// (`[u64; DropReason::COUNT]`); `as_label()` is its Prometheus / summary label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// The capture's link type is not one we decode.
    UnsupportedLinkType,
    /// Link-layer header (Ethernet, SLL, SLL2, null, PPP, HDLC) shorter than its fixed size.
    LinkTruncated,
    /// 802.1Q/802.1ad tag cut short.
    VlanTruncated,
    /// MPLS label stack cut short (no bottom-of-stack label within the frame).
    MplsTruncated,
    /// PPPoE session header cut short.
    PppoeTruncated,
    /// Not IP at all (ARP, LLDP, STP, PPP LCP, ...): not a flow by definition.
    NotIp,
    /// IPv4 header cut short.
    Ipv4Truncated,
    /// IPv4 header with a version other than 4, IHL < 5, or a total length shorter than the
    /// header.
    Ipv4BadHeader,
    /// IPv6 header cut short.
    Ipv6Truncated,
    /// IPv6 extension header chain cut short or malformed.
    Ipv6ExtTruncated,
    /// A non-first IP fragment whose first fragment was never seen (or already evicted).
    FragmentUnmatched,
    /// The fragment table was full; the first fragment could not be remembered.
    FragmentTableFull,
    /// TCP header cut short, or data offset < 5.
    TcpTruncated,
    /// UDP header cut short.
    UdpTruncated,
    /// SCTP common header cut short.
    SctpTruncated,
    /// ICMP / ICMPv6 header cut short.
    IcmpTruncated,
    /// A tunnel header (GTP-U, GRE, VXLAN) or its inner packet is cut short or malformed.
    TunnelTruncated,
    /// Tunnels nested deeper than the decoder follows (4 levels).
    TunnelTooDeep,
    /// IPv6 header (EtherType 0x86dd, IPv4 proto 41, ...) whose version is not 6.
    Ipv6BadHeader,
    /// A non-first IP fragment, dropped on purpose (`--ip-fragments drop`, nfstream's
    /// behaviour).
    FragmentIgnored,
}

impl DropReason {
    /// Number of variants: the length of a counter array.
    pub const COUNT: usize = 20;

    /// Every variant, in counter-array order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::UnsupportedLinkType,
        DropReason::LinkTruncated,
        DropReason::VlanTruncated,
        DropReason::MplsTruncated,
        DropReason::PppoeTruncated,
        DropReason::NotIp,
        DropReason::Ipv4Truncated,
        DropReason::Ipv4BadHeader,
        DropReason::Ipv6Truncated,
        DropReason::Ipv6ExtTruncated,
        DropReason::FragmentUnmatched,
        DropReason::FragmentTableFull,
        DropReason::TcpTruncated,
        DropReason::UdpTruncated,
        DropReason::SctpTruncated,
        DropReason::IcmpTruncated,
        DropReason::TunnelTruncated,
        DropReason::TunnelTooDeep,
        DropReason::Ipv6BadHeader,
        DropReason::FragmentIgnored,
    ];

    /// A stable snake_case label, for metrics and the end-of-run summary.
    pub fn as_label(self) -> &'static str {
        match self {
            DropReason::UnsupportedLinkType => "unsupported_link_type",
            DropReason::LinkTruncated => "link_truncated",
            DropReason::VlanTruncated => "vlan_truncated",
            DropReason::MplsTruncated => "mpls_truncated",
            DropReason::PppoeTruncated => "pppoe_truncated",
            DropReason::NotIp => "not_ip",
            DropReason::Ipv4Truncated => "ipv4_truncated",
            DropReason::Ipv4BadHeader => "ipv4_bad_header",
            DropReason::Ipv6Truncated => "ipv6_truncated",
            DropReason::Ipv6ExtTruncated => "ipv6_ext_truncated",
            DropReason::FragmentUnmatched => "fragment_unmatched",
            DropReason::FragmentTableFull => "fragment_table_full",
            DropReason::TcpTruncated => "tcp_truncated",
            DropReason::UdpTruncated => "udp_truncated",
            DropReason::SctpTruncated => "sctp_truncated",
            DropReason::IcmpTruncated => "icmp_truncated",
            DropReason::TunnelTruncated => "tunnel_truncated",
            DropReason::TunnelTooDeep => "tunnel_too_deep",
            DropReason::Ipv6BadHeader => "ipv6_bad_header",
            DropReason::FragmentIgnored => "fragment_ignored",
        }
    }
}

/// Tunnel kinds, exported as the record's `tunnel_id`. 0..=3 are nfstream's codes (it decodes
/// GTP, CAPWAP and TZSP); we add GRE, VXLAN and IP-in-IP. The value is the *outermost* tunnel
/// decoded, so both directions of a flow carry the same id (a GTP TEID or GRE key would differ
/// per direction and split the flow).
pub mod tunnel {
    /// Not tunnelled.
    pub const NONE: u32 = 0;
    /// GTP-U (UDP 2152).
    pub const GTP: u32 = 1;
    /// GRE (IP protocol 47), inner IPv4/IPv6/Ethernet (TEB)/PPP.
    pub const GRE: u32 = 4;
    /// VXLAN (UDP 4789), inner Ethernet.
    pub const VXLAN: u32 = 5;
    /// IP-in-IP: 4in4 (proto 4), 6in4 (proto 41), 4in6, 6in6.
    pub const IP_IN_IP: u32 = 6;
}

/// The 5-tuple and context of one packet, as it travels (not canonicalised).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address; IPv4 in the first 4 bytes, rest zero.
    pub src_ip: [u8; 16],
    /// Destination address; IPv4 in the first 4 bytes, rest zero.
    pub dst_ip: [u8; 16],
    /// TCP/UDP/SCTP source port; 0 for other protocols (ICMP included, as nfstream).
    pub src_port: u16,
    /// TCP/UDP/SCTP destination port; 0 for other protocols.
    pub dst_port: u16,
    /// IP protocol number of the innermost header (after IPv6 extension headers).
    pub protocol: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Innermost 802.1Q/802.1ad VLAN id seen in the frame, 0 if none.
    pub vlan_id: u16,
    /// A [`tunnel`] constant.
    pub tunnel_id: u32,
}

/// What the flow engine needs to know about one frame. `Copy`, no borrow: the frame bytes stay
/// with the capture; DPI gets them through `payload_offset`/`payload_len`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Addresses, ports and context of the (innermost) IP packet.
    pub tuple: Tuple,
    /// Source MAC of the outermost Ethernet header, zero if the link has none.
    pub src_mac: [u8; 6],
    /// Destination MAC of the outermost Ethernet header, zero if the link has none.
    pub dst_mac: [u8; 6],
    /// Size of the innermost IP packet per its header (IPv4 total length; IPv6 40 + payload
    /// length), for `--accounting ip`. Falls back to the captured size when the field is 0
    /// (TSO / jumbogram).
    pub ip_len: u32,
    /// IP header length including options / extension headers.
    pub ip_header_len: u16,
    /// Transport header length (TCP incl. options, UDP 8, ...); 0 for a non-first fragment.
    pub l4_header_len: u16,
    /// Offset of the transport payload in the frame.
    pub payload_offset: u32,
    /// Payload bytes present in the frame (may be less than the IP header claims).
    pub payload_len: u32,
    /// TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40
    /// CWR 0x80), 0 for non-TCP.
    pub tcp_flags: u8,
    /// True for a non-first fragment whose ports came from the fragment table.
    pub is_fragment: bool,
    /// True when the frame is shorter than the IP header says (snaplen), counted, not dropped.
    pub is_truncated: bool,
}

/// Decoder settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Follow tunnels (GTP-U, GRE, VXLAN, IP-in-IP) to the inner packet (nfstream's
    /// `decode_tunnels`). Off: the flow is the outer packet's.
    pub decode_tunnels: bool,
    /// Capacity of the IP fragment table (first fragments remembered at once).
    pub max_fragments: usize,
    /// Count non-first IP fragments in the flow of their first fragment (default). Off: drop
    /// them as `FragmentIgnored`, as nfstream does.
    pub join_fragments: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            decode_tunnels: true,
            max_fragments: 4096,
            join_fragments: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_index_their_counter_array() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r:?}");
        }
        let mut labels: Vec<_> = DropReason::ALL.iter().map(|r| r.as_label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), DropReason::COUNT);
    }

    #[test]
    fn link_type_numbers() {
        assert_eq!(LinkType::from_number(1), LinkType::Ethernet);
        assert_eq!(LinkType::from_number(12), LinkType::Raw);
        assert_eq!(LinkType::from_number(276), LinkType::LinuxSll2);
        assert_eq!(LinkType::from_number(147), LinkType::Unknown(147));
    }
}
