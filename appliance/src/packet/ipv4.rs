//! IPv4 header (RFC 791), with options and fragmentation fields.
//!
//! Owns the header and the bounds of the datagram in the captured bytes: [`Packet::payload`]
//! stops at the total length (dropping Ethernet padding) or at the end of the capture (snaplen),
//! whichever comes first. It does *not* own reassembly or the fragment table (`fragment.rs`),
//! and it does not verify the checksum (NICs offload it; a flow meter counts what it sees).

use super::{DropReason, be16};

mod field {
    use crate::packet::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read-only view of an IPv4 datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header (options included) is present and sane; afterwards no accessor panics.
    ///
    /// A datagram shorter than its total length is accepted (see [`Packet::is_truncated`]).
    ///
    /// # Errors
    ///
    /// - [`DropReason::Ipv4Truncated`]: fewer than 20 bytes, or fewer than IHL × 4.
    /// - [`DropReason::Ipv4BadHeader`]: version ≠ 4, IHL < 5, or a non-zero total length
    ///   shorter than the header (a zero total length is TSO/GSO and stands for "all of it").
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(DropReason::Ipv4Truncated);
        }
        let p = Packet { buf };
        if p.version() != 4 || p.header_len() < MIN_HEADER_LEN {
            return Err(DropReason::Ipv4BadHeader);
        }
        if buf.len() < p.header_len() {
            return Err(DropReason::Ipv4Truncated);
        }
        let total = usize::from(p.total_len());
        if total != 0 && total < p.header_len() {
            return Err(DropReason::Ipv4BadHeader);
        }
        Ok(p)
    }

    /// Version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf[field::VER_IHL] & 0x0f) * 4
    }

    /// DSCP (6 bits).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buf[field::DSCP_ECN] >> 2
    }

    /// ECN (2 bits).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buf[field::DSCP_ECN] & 0x03
    }

    /// Total length field (0 on TSO/GSO captures).
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(&self.buf[field::LENGTH])
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(&self.buf[field::IDENT])
    }

    /// Don't fragment.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        be16(&self.buf[field::FLG_OFF]) & FLAG_DF != 0
    }

    /// More fragments.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(&self.buf[field::FLG_OFF]) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u32 {
        u32::from(be16(&self.buf[field::FLG_OFF]) & OFFSET_MASK) * 8
    }

    /// True for any fragment: first (offset 0, MF set) or later (offset ≠ 0).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(&self.buf[field::FLG_OFF]) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buf[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf[field::PROTOCOL]
    }

    /// Header checksum (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.buf[field::CHECKSUM])
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buf[field::SRC_ADDR]);
        a
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buf[field::DST_ADDR]);
        a
    }

    /// Options (empty when IHL = 5).
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buf[field::OPTIONS..self.header_len()]
    }

    /// Datagram length the header claims: the total length, or the captured length when the
    /// field is 0 (TSO/GSO). Never less than [`Packet::header_len`].
    #[inline]
    pub fn claimed_len(&self) -> usize {
        match usize::from(self.total_len()) {
            0 => self.buf.len(),
            n => n,
        }
    }

    /// True when fewer bytes were captured than the total length says (snaplen).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.buf.len() < self.claimed_len()
    }

    /// Header and payload as captured, without trailing link-layer padding.
    #[inline]
    pub fn datagram(&self) -> &'a [u8] {
        &self.buf[..self.claimed_len().min(self.buf.len())]
    }

    /// Payload as captured: stops at the total length or the end of the capture.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.datagram()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const PACKET: [u8; 32] = [
        0x46,                   // version 4, IHL 6 (24 bytes)
        0xb8,                   // DSCP 46 (EF), ECN 0
        0x00, 0x1e,             // total length 30
        0x12, 0x34,             // identification
        0x20, 0x03,             // flags MF, fragment offset 3 (24 bytes)
        0x40,                   // TTL 64
        0x11,                   // protocol UDP
        0xab, 0xcd,             // checksum
        0x0a, 0x00, 0x00, 0x01, // source 10.0.0.1
        0xc0, 0xa8, 0x01, 0x02, // destination 192.168.1.2
        0x01, 0x01, 0x01, 0x00, // options: NOP, NOP, NOP, EOL
        0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // payload (6 bytes)
        0x00, 0x00,             // Ethernet padding, not part of the datagram
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 30);
        assert_eq!(p.ident(), 0x1234);
        assert!(!p.dont_frag());
        assert!(p.more_frags());
        assert_eq!(p.frag_offset(), 24);
        assert!(p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.checksum(), 0xabcd);
        assert_eq!(p.src_addr(), [10, 0, 0, 1]);
        assert_eq!(p.dst_addr(), [192, 168, 1, 2]);
        assert_eq!(p.options(), &[0x01, 0x01, 0x01, 0x00]);
        assert_eq!(p.claimed_len(), 30);
        assert!(!p.is_truncated());
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    }

    #[test]
    fn not_a_fragment() {
        let mut b = PACKET;
        b[6] = 0x40; // DF, offset 0
        b[7] = 0x00;
        let p = Packet::new_checked(&b).unwrap();
        assert!(p.dont_frag());
        assert!(!p.is_fragment());
    }

    #[test]
    fn truncated_payload_is_accepted_and_flagged() {
        let p = Packet::new_checked(&PACKET[..26]).unwrap();
        assert!(p.is_truncated());
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn zero_total_length_means_captured_length() {
        let mut b = PACKET;
        b[2] = 0;
        b[3] = 0;
        let p = Packet::new_checked(&b).unwrap();
        assert_eq!(p.claimed_len(), 32);
        assert!(!p.is_truncated());
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn truncated_fixed_header() {
        assert_eq!(
            Packet::new_checked(&PACKET[..19]).unwrap_err(),
            DropReason::Ipv4Truncated
        );
        assert_eq!(
            Packet::new_checked(&[]).unwrap_err(),
            DropReason::Ipv4Truncated
        );
    }

    #[test]
    fn truncated_options() {
        assert_eq!(
            Packet::new_checked(&PACKET[..22]).unwrap_err(),
            DropReason::Ipv4Truncated
        );
    }

    #[test]
    fn bad_version() {
        let mut b = PACKET;
        b[0] = 0x66; // version 6
        assert_eq!(
            Packet::new_checked(&b).unwrap_err(),
            DropReason::Ipv4BadHeader
        );
    }

    #[test]
    fn bad_ihl() {
        let mut b = PACKET;
        b[0] = 0x44; // IHL 4
        assert_eq!(
            Packet::new_checked(&b).unwrap_err(),
            DropReason::Ipv4BadHeader
        );
    }

    #[test]
    fn total_length_shorter_than_header() {
        let mut b = PACKET;
        b[3] = 23; // total length 23 < header 24
        assert_eq!(
            Packet::new_checked(&b).unwrap_err(),
            DropReason::Ipv4BadHeader
        );
    }
}
