//! PPPoE session stage header (RFC 2516 §4, EtherType 0x8864) and the PPP protocol field that
//! always follows it.
//!
//! Owns the 6-byte PPPoE header and the 2-byte PPP protocol (RFC 2516 forbids protocol field
//! compression on PPPoE). It does *not* own the discovery stage (0x8863): that is not IP.

use super::{DropReason, be16};

mod field {
    use crate::packet::Field;
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const SESSION_ID: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const PPP_PROTOCOL: Field = 6..8;
    pub const PAYLOAD: usize = 8;
}

/// PPPoE header plus PPP protocol field.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read-only view of a PPPoE session packet.
#[derive(Clone, Copy, Debug)]
pub struct Session<'a> {
    buf: &'a [u8],
}

impl<'a> Session<'a> {
    /// Checks the PPPoE header and the PPP protocol are present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::PppoeTruncated`] when `buf` is shorter than 8 bytes.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::PppoeTruncated);
        }
        Ok(Session { buf })
    }

    /// Version (1 for RFC 2516).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[field::VER_TYPE] >> 4
    }

    /// Type (1 for RFC 2516).
    #[inline]
    pub fn kind(&self) -> u8 {
        self.buf[field::VER_TYPE] & 0x0f
    }

    /// Code (0 for session data).
    #[inline]
    pub fn code(&self) -> u8 {
        self.buf[field::CODE]
    }

    /// Session id.
    #[inline]
    pub fn session_id(&self) -> u16 {
        be16(&self.buf[field::SESSION_ID])
    }

    /// Length of the PPPoE payload (PPP protocol field included).
    #[inline]
    pub fn length(&self) -> u16 {
        be16(&self.buf[field::LENGTH])
    }

    /// The PPP protocol number (0x0021 IPv4, 0x0057 IPv6, 0xc021 LCP, ...).
    #[inline]
    pub fn ppp_protocol(&self) -> u16 {
        be16(&self.buf[field::PPP_PROTOCOL])
    }

    /// Everything after the PPP protocol field, as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SESSION: [u8; 9] = [
        0x11,       // version 1, type 1
        0x00,       // code: session data
        0x12, 0x34, // session id
        0x00, 0x16, // length 22
        0x00, 0x21, // PPP protocol: IPv4
        0x45,       // payload
    ];

    #[test]
    fn deconstruct() {
        let s = Session::new_checked(&SESSION).unwrap();
        assert_eq!(s.version(), 1);
        assert_eq!(s.kind(), 1);
        assert_eq!(s.code(), 0);
        assert_eq!(s.session_id(), 0x1234);
        assert_eq!(s.length(), 22);
        assert_eq!(s.ppp_protocol(), 0x0021);
        assert_eq!(s.payload(), &[0x45]);
    }

    #[test]
    fn truncated() {
        // PPPoE header present but the PPP protocol cut off.
        assert_eq!(
            Session::new_checked(&SESSION[..7]).unwrap_err(),
            DropReason::PppoeTruncated
        );
        assert_eq!(
            Session::new_checked(&[]).unwrap_err(),
            DropReason::PppoeTruncated
        );
    }
}
