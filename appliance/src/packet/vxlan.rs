//! VXLAN header (RFC 7348 §5): 8 bytes with the I flag and a 24-bit VNI, then an Ethernet
//! frame. UDP destination port 4789.
//!
//! Owns the header. It does *not* own the inner Ethernet frame (`ethernet.rs`) and does not
//! handle VXLAN-GPE (port 4790, a next-protocol field).

use super::DropReason;

mod field {
    use crate::packet::Field;
    pub const FLAGS: usize = 0;
    pub const VNI: Field = 4..7;
    pub const PAYLOAD: usize = 8;
}

/// UDP destination port of VXLAN (IANA).
pub const PORT: u16 = 4789;
/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

const FLAG_I: u8 = 0x08;

/// A read-only view of a VXLAN header and the Ethernet frame it carries.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the 8-byte header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::TunnelTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::TunnelTruncated);
        }
        Ok(Header { buf })
    }

    /// Flags byte.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf[field::FLAGS]
    }

    /// The I flag: the VNI is valid. RFC 7348 requires it set; without it this is not VXLAN.
    #[inline]
    pub fn has_vni(&self) -> bool {
        self.flags() & FLAG_I != 0
    }

    /// VXLAN network identifier (24 bits).
    #[inline]
    pub fn vni(&self) -> u32 {
        let b = &self.buf[field::VNI];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    /// The inner Ethernet frame as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const HEADER: [u8; 9] = [
        0x08,             // flags: I
        0x00, 0x00, 0x00, // reserved
        0x00, 0x04, 0x57, // VNI 1111
        0x00,             // reserved
        0x00,             // inner Ethernet
    ];

    #[test]
    fn deconstruct() {
        let h = Header::new_checked(&HEADER).unwrap();
        assert!(h.has_vni());
        assert_eq!(h.vni(), 1111);
        assert_eq!(h.payload(), &[0x00]);
    }

    #[test]
    fn no_i_flag() {
        let mut b = HEADER;
        b[0] = 0;
        assert!(!Header::new_checked(&b).unwrap().has_vni());
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&HEADER[..7]).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }
}
