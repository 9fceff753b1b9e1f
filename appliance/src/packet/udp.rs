//! UDP header (RFC 768).
//!
//! Owns the 8-byte header. It does *not* recognise what runs over UDP (GTP-U and VXLAN are the
//! decoder's business) and does not verify the checksum.

use super::{DropReason, be16};

mod field {
    use crate::packet::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const PAYLOAD: usize = 8;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read-only view of a UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the 8-byte header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::UdpTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::UdpTruncated);
        }
        Ok(Packet { buf })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(&self.buf[field::SRC_PORT])
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(&self.buf[field::DST_PORT])
    }

    /// Length field (header included). Not trusted for bounds: the IP length is.
    #[inline]
    pub fn len(&self) -> u16 {
        be16(&self.buf[field::LENGTH])
    }

    /// True when the length field says there is no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum (not verified; 0 means none over IPv4, RFC 768).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.buf[field::CHECKSUM])
    }

    /// Payload as captured (bounded by the IP packet, not by the length field).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const DATAGRAM: [u8; 12] = [
        0xbf, 0x00,             // source port 48896
        0x00, 0x35,             // destination port 53
        0x00, 0x0c,             // length 12
        0x12, 0x4e,             // checksum
        0xaa, 0x00, 0x00, 0xff, // payload
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&DATAGRAM).unwrap();
        assert_eq!(p.src_port(), 48896);
        assert_eq!(p.dst_port(), 53);
        assert_eq!(p.len(), 12);
        assert!(!p.is_empty());
        assert_eq!(p.checksum(), 0x124e);
        assert_eq!(p.payload(), &[0xaa, 0x00, 0x00, 0xff]);
    }

    #[test]
    fn header_only() {
        let p = Packet::new_checked(&DATAGRAM[..8]).unwrap();
        assert!(p.payload().is_empty());
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&DATAGRAM[..7]).unwrap_err(),
            DropReason::UdpTruncated
        );
    }
}
