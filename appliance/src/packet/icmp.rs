//! ICMP (RFC 792) and ICMPv6 (RFC 4443) header: type, code, checksum and the 4-byte
//! rest-of-header that every message defines (echo id/sequence, MTU, pointer, unused).
//!
//! Owns the 8-byte header common to both versions. It does *not* interpret messages: a flow
//! keys ICMP on addresses and protocol only (ports 0, as nfstream does).

use super::{DropReason, be16, be32};

mod field {
    use crate::packet::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const REST: Field = 4..8;
    pub const PAYLOAD: usize = 8;
}

/// Length of the header, rest-of-header included.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read-only view of an ICMP or ICMPv6 message.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the 8-byte header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::IcmpTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::IcmpTruncated);
        }
        Ok(Packet { buf })
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buf[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buf[field::CODE]
    }

    /// Checksum (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.buf[field::CHECKSUM])
    }

    /// The type-specific 4 bytes after the checksum.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        be32(&self.buf[field::REST])
    }

    /// Message body as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const ECHO: [u8; 10] = [
        0x08,       // type: echo request
        0x00,       // code 0
        0xf7, 0xfd, // checksum
        0x00, 0x01, // identifier
        0x00, 0x01, // sequence number
        0x61, 0x62, // data "ab"
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&ECHO).unwrap();
        assert_eq!(p.msg_type(), 8);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0xf7fd);
        assert_eq!(p.rest_of_header(), 0x0001_0001);
        assert_eq!(p.payload(), b"ab");
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&ECHO[..7]).unwrap_err(),
            DropReason::IcmpTruncated
        );
    }
}
