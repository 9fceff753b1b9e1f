//! SCTP common header (RFC 9260 §3.1).
//!
//! Owns the 12-byte common header: ports, verification tag, checksum. It does *not* walk the
//! chunks: a flow is keyed on the ports, as for TCP and UDP.

use super::{DropReason, be16, be32};

mod field {
    use crate::packet::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const VERIFICATION_TAG: Field = 4..8;
    pub const CHECKSUM: Field = 8..12;
    pub const CHUNKS: usize = 12;
}

/// Length of the common header.
pub const HEADER_LEN: usize = field::CHUNKS;

/// A read-only view of an SCTP packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the 12-byte common header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::SctpTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::SctpTruncated);
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

    /// Verification tag.
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        be32(&self.buf[field::VERIFICATION_TAG])
    }

    /// CRC32c checksum (not verified).
    #[inline]
    pub fn checksum(&self) -> u32 {
        be32(&self.buf[field::CHECKSUM])
    }

    /// The chunks, as captured.
    #[inline]
    pub fn chunks(&self) -> &'a [u8] {
        &self.buf[field::CHUNKS..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const PACKET: [u8; 16] = [
        0x0b, 0x59,             // source port 2905 (M3UA)
        0x0b, 0x5a,             // destination port 2906
        0x00, 0x00, 0x00, 0x00, // verification tag 0 (INIT)
        0x12, 0x34, 0x56, 0x78, // checksum
        0x01, 0x00, 0x00, 0x04, // chunk: INIT, flags 0, length 4
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET).unwrap();
        assert_eq!(p.src_port(), 2905);
        assert_eq!(p.dst_port(), 2906);
        assert_eq!(p.verification_tag(), 0);
        assert_eq!(p.checksum(), 0x1234_5678);
        assert_eq!(p.chunks(), &[0x01, 0x00, 0x00, 0x04]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&PACKET[..11]).unwrap_err(),
            DropReason::SctpTruncated
        );
    }
}
