//! Cisco HDLC header (`LINKTYPE_C_HDLC`): address, control and an EtherType.
//!
//! Owns the 4-byte header. It does *not* decode SLARP (EtherType 0x8035) or CDP: they are not
//! IP. Cisco HDLC also turns up on `LINKTYPE_PPP`/`LINKTYPE_PPP_HDLC` captures (libpcap's
//! `DLT_PPP_SERIAL` covers both); the decoder tells them apart with [`is_cisco_address`].

use super::{DropReason, EtherType, be16};

mod field {
    use crate::packet::Field;
    pub const ADDRESS: usize = 0;
    pub const CONTROL: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Address of a unicast frame.
pub const ADDRESS_UNICAST: u8 = 0x0f;
/// Address of a broadcast frame.
pub const ADDRESS_BROADCAST: u8 = 0x8f;

/// True for the two addresses Cisco HDLC uses (0x0f unicast, 0x8f broadcast).
#[inline]
pub fn is_cisco_address(b: u8) -> bool {
    b == ADDRESS_UNICAST || b == ADDRESS_BROADCAST
}

/// A read-only view of a Cisco HDLC frame.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the 4-byte header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::LinkTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::LinkTruncated);
        }
        Ok(Header { buf })
    }

    /// Address byte (0x0f unicast, 0x8f broadcast).
    #[inline]
    pub fn address(&self) -> u8 {
        self.buf[field::ADDRESS]
    }

    /// Control byte (0x00).
    #[inline]
    pub fn control(&self) -> u8 {
        self.buf[field::CONTROL]
    }

    /// Raw protocol (an EtherType).
    #[inline]
    pub fn protocol_raw(&self) -> u16 {
        be16(&self.buf[field::PROTOCOL])
    }

    /// Protocol as an [`EtherType`].
    #[inline]
    pub fn protocol(&self) -> EtherType {
        EtherType::from(self.protocol_raw())
    }

    /// Everything after the header, as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const FRAME: [u8; 5] = [
        0x8f,       // address: broadcast
        0x00,       // control
        0x80, 0x35, // protocol: SLARP
        0x00,       // payload
    ];

    #[test]
    fn deconstruct() {
        let h = Header::new_checked(&FRAME).unwrap();
        assert_eq!(h.address(), ADDRESS_BROADCAST);
        assert!(is_cisco_address(h.address()));
        assert_eq!(h.control(), 0);
        assert_eq!(h.protocol(), EtherType::Slarp);
        assert_eq!(h.payload(), &[0x00]);
        assert!(is_cisco_address(ADDRESS_UNICAST));
        assert!(!is_cisco_address(0xff));
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&FRAME[..3]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }
}
