//! IPv6 fixed header (RFC 8200 §3) and extension headers (§4): hop-by-hop, routing, fragment,
//! destination options, mobility (RFC 6275) and AH (RFC 4302).
//!
//! Owns the 40-byte header, the bounds of the packet in the captured bytes, and one view per
//! extension header. It does *not* walk the chain (the decoder does, because the fragment
//! header decides what comes next), and it does not own the fragment table (`fragment.rs`).
//! ESP (50) is not an extension header here: its payload is encrypted, so it is the transport.

use super::{DropReason, be16, be32, ip_proto};

mod field {
    use crate::packet::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
    pub const PAYLOAD: usize = 40;

    /// Extension headers: next header and length, common to all but the fragment header.
    pub const EXT_NXT_HDR: usize = 0;
    pub const EXT_LEN: usize = 1;

    /// Fragment header (RFC 8200 §4.5).
    pub const FRAG_OFF_M: Field = 2..4;
    pub const FRAG_IDENT: Field = 4..8;
    pub const FRAG_LEN: usize = 8;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// Length of the fragment extension header.
pub const FRAGMENT_HEADER_LEN: usize = field::FRAG_LEN;

/// True for the next-header values that are extension headers the decoder steps over.
#[inline]
pub fn is_extension(next_header: u8) -> bool {
    matches!(
        next_header,
        ip_proto::HOP_BY_HOP
            | ip_proto::ROUTING
            | ip_proto::FRAGMENT
            | ip_proto::AH
            | ip_proto::DEST_OPTS
            | ip_proto::MOBILITY
    )
}

/// A read-only view of an IPv6 packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the 40-byte header is present and says version 6; afterwards no accessor panics.
    ///
    /// A packet shorter than its payload length says is accepted (see
    /// [`Packet::is_truncated`]).
    ///
    /// # Errors
    ///
    /// [`DropReason::Ipv6Truncated`] when shorter than 40 bytes;
    /// [`DropReason::Ipv6BadHeader`] when the version is not 6.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::Ipv6Truncated);
        }
        let p = Packet { buf };
        if p.version() != 6 {
            return Err(DropReason::Ipv6BadHeader);
        }
        Ok(p)
    }

    /// Version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[0] >> 4
    }

    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((be32(&self.buf[field::VER_TC_FLOW]) >> 20) & 0xff) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(&self.buf[field::VER_TC_FLOW]) & 0x000f_ffff
    }

    /// Payload length field (extension headers included; 0 for a jumbogram or TSO capture).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(&self.buf[field::LENGTH])
    }

    /// Next header: the first extension header or the transport.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buf[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buf[field::SRC_ADDR]);
        a
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buf[field::DST_ADDR]);
        a
    }

    /// Packet length the header claims: 40 + payload length, or the captured length when the
    /// field is 0 (jumbogram / TSO). Never less than 40.
    #[inline]
    pub fn claimed_len(&self) -> usize {
        match usize::from(self.payload_len()) {
            0 => self.buf.len(),
            n => HEADER_LEN + n,
        }
    }

    /// True when fewer bytes were captured than the payload length says (snaplen).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.buf.len() < self.claimed_len()
    }

    /// Header and payload as captured, without trailing link-layer padding.
    #[inline]
    pub fn datagram(&self) -> &'a [u8] {
        &self.buf[..self.claimed_len().min(self.buf.len())]
    }

    /// Payload as captured (extension headers included).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.datagram()[HEADER_LEN..]
    }
}

/// A read-only view of one extension header of type `kind` and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct ExtHeader<'a> {
    buf: &'a [u8],
    len: usize,
}

impl<'a> ExtHeader<'a> {
    /// Checks the extension header of type `kind` (a next-header value for which
    /// `ipv6::is_extension` holds) is wholly present; afterwards no accessor panics.
    ///
    /// Lengths: fragment 8 bytes; AH (payload length + 2) × 4 (RFC 4302 §2.2); the others
    /// (header extension length + 1) × 8 (RFC 8200 §4.3).
    ///
    /// # Errors
    ///
    /// [`DropReason::Ipv6ExtTruncated`] when `buf` ends inside the header.
    #[inline]
    pub fn new_checked(kind: u8, buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < 2 {
            return Err(DropReason::Ipv6ExtTruncated);
        }
        let n = usize::from(buf[field::EXT_LEN]);
        let len = match kind {
            ip_proto::FRAGMENT => FRAGMENT_HEADER_LEN,
            ip_proto::AH => (n + 2) * 4,
            _ => (n + 1) * 8,
        };
        if buf.len() < len {
            return Err(DropReason::Ipv6ExtTruncated);
        }
        Ok(ExtHeader { buf, len })
    }

    /// Type of the header that follows.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf[field::EXT_NXT_HDR]
    }

    /// Length of this header in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.len
    }

    /// Everything after this header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.len..]
    }
}

/// A read-only view of a fragment header (RFC 8200 §4.5) and the fragment data after it.
#[derive(Clone, Copy, Debug)]
pub struct FragmentHeader<'a> {
    buf: &'a [u8],
}

impl<'a> FragmentHeader<'a> {
    /// Checks the 8-byte fragment header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::Ipv6ExtTruncated`] when `buf` is shorter than 8 bytes.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < FRAGMENT_HEADER_LEN {
            return Err(DropReason::Ipv6ExtTruncated);
        }
        Ok(FragmentHeader { buf })
    }

    /// Next header: the first header of the fragmentable part (the same in every fragment).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf[field::EXT_NXT_HDR]
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u32 {
        u32::from(be16(&self.buf[field::FRAG_OFF_M]) & 0xfff8)
    }

    /// More fragments.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(&self.buf[field::FRAG_OFF_M]) & 1 != 0
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u32 {
        be32(&self.buf[field::FRAG_IDENT])
    }

    /// True for an atomic fragment (offset 0, M clear, RFC 6946): not fragmented at all.
    #[inline]
    pub fn is_atomic(&self) -> bool {
        self.frag_offset() == 0 && !self.more_frags()
    }

    /// The fragment data.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[FRAGMENT_HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const PACKET: [u8; 46] = [
        0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8, flow label 0x12345
        0x00, 0x04,             // payload length 4
        0x3b,                   // next header: no next header
        0x40,                   // hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // source 2001:db8::1
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,       // destination fe80::2
        0xde, 0xad, 0xbe, 0xef, // payload
        0x00, 0x00,             // Ethernet padding, not part of the packet
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), ip_proto::NO_NEXT_HEADER);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr()[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(p.src_addr()[15], 1);
        assert_eq!(p.dst_addr()[0], 0xfe);
        assert_eq!(p.claimed_len(), 44);
        assert!(!p.is_truncated());
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn truncated_payload_is_accepted_and_flagged() {
        let p = Packet::new_checked(&PACKET[..42]).unwrap();
        assert!(p.is_truncated());
        assert_eq!(p.payload(), &[0xde, 0xad]);
    }

    #[test]
    fn zero_payload_length_means_captured_length() {
        let mut b = PACKET;
        b[5] = 0;
        let p = Packet::new_checked(&b).unwrap();
        assert_eq!(p.claimed_len(), 46);
        assert_eq!(p.payload().len(), 6);
    }

    #[test]
    fn truncated_header() {
        assert_eq!(
            Packet::new_checked(&PACKET[..39]).unwrap_err(),
            DropReason::Ipv6Truncated
        );
    }

    #[test]
    fn bad_version() {
        let mut b = PACKET;
        b[0] = 0x4b;
        assert_eq!(
            Packet::new_checked(&b).unwrap_err(),
            DropReason::Ipv6BadHeader
        );
    }

    #[test]
    fn extension_lengths() {
        #[rustfmt::skip]
        let hop = [
            0x11, 0x00,                         // next header UDP, length 0 → 8 bytes
            0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // PadN option
            0xaa,                               // what follows
        ];
        let e = ExtHeader::new_checked(ip_proto::HOP_BY_HOP, &hop).unwrap();
        assert_eq!(e.next_header(), ip_proto::UDP);
        assert_eq!(e.header_len(), 8);
        assert_eq!(e.payload(), &[0xaa]);

        #[rustfmt::skip]
        let ah = [
            0x06, 0x04,             // next header TCP, payload length 4 → (4 + 2) × 4 = 24
            0x00, 0x00,             // reserved
            0x00, 0x00, 0x01, 0x00, // SPI
            0x00, 0x00, 0x00, 0x01, // sequence number
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV (96 bits)
        ];
        let e = ExtHeader::new_checked(ip_proto::AH, &ah).unwrap();
        assert_eq!(e.next_header(), ip_proto::TCP);
        assert_eq!(e.header_len(), 24);

        let frag = [0x11, 0x00, 0x00, 0x01, 0, 0, 0, 1];
        assert_eq!(
            ExtHeader::new_checked(ip_proto::FRAGMENT, &frag)
                .unwrap()
                .header_len(),
            8
        );
    }

    #[test]
    fn extension_truncated() {
        assert_eq!(
            ExtHeader::new_checked(ip_proto::ROUTING, &[0x11]).unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
        // Length 1 → 16 bytes, only 8 present.
        assert_eq!(
            ExtHeader::new_checked(ip_proto::DEST_OPTS, &[0x11, 0x01, 0, 0, 0, 0, 0, 0])
                .unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
        // AH payload length 1 → 12 bytes, only 8 present.
        assert_eq!(
            ExtHeader::new_checked(ip_proto::AH, &[0x06, 0x01, 0, 0, 0, 0, 0, 0]).unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
        assert_eq!(
            ExtHeader::new_checked(ip_proto::FRAGMENT, &[0x11, 0, 0, 0, 0, 0, 0]).unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
    }

    #[test]
    fn is_extension_values() {
        for nh in [0, 43, 44, 51, 60, 135] {
            assert!(is_extension(nh), "{nh}");
        }
        for nh in [6, 17, 50, 58, 59, 132] {
            assert!(!is_extension(nh), "{nh}");
        }
    }

    #[test]
    fn fragment_header() {
        #[rustfmt::skip]
        let b = [
            0x11,                   // next header UDP
            0x00,                   // reserved
            0x05, 0xa9,             // offset 181 (1448 bytes), M 1
            0x28, 0x40, 0x5b, 0x0b, // identification
            0x42,                   // fragment data
        ];
        let f = FragmentHeader::new_checked(&b).unwrap();
        assert_eq!(f.next_header(), ip_proto::UDP);
        assert_eq!(f.frag_offset(), 1448);
        assert!(f.more_frags());
        assert!(!f.is_atomic());
        assert_eq!(f.ident(), 0x2840_5b0b);
        assert_eq!(f.payload(), &[0x42]);

        let atomic = [0x11, 0x00, 0x00, 0x00, 0, 0, 0, 9];
        assert!(FragmentHeader::new_checked(&atomic).unwrap().is_atomic());
        assert_eq!(
            FragmentHeader::new_checked(&b[..7]).unwrap_err(),
            DropReason::Ipv6ExtTruncated
        );
    }
}
