//! Linux "cooked" capture header v2 (`LINKTYPE_LINUX_SLL2`, 20 bytes).
//!
//! Owns the fixed header; like v1 (`sll.rs`) but the protocol comes first and the interface
//! index is recorded. See <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>.

use super::{DropReason, EtherType, be16, be32};

mod field {
    use crate::packet::Field;
    pub const PROTOCOL: Field = 0..2;
    pub const IFINDEX: Field = 4..8;
    pub const ARPHRD: Field = 8..10;
    pub const PACKET_TYPE: usize = 10;
    pub const ADDR_LEN: usize = 11;
    pub const ADDR: Field = 12..20;
    pub const PAYLOAD: usize = 20;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read-only view of a Linux SLL2 header.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the 20-byte header is present; afterwards no accessor panics.
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

    /// Raw protocol field.
    #[inline]
    pub fn protocol_raw(&self) -> u16 {
        be16(&self.buf[field::PROTOCOL])
    }

    /// Protocol field as an [`EtherType`] (meaningless for netlink/CAN device types).
    #[inline]
    pub fn protocol(&self) -> EtherType {
        EtherType::from(self.protocol_raw())
    }

    /// Interface index.
    #[inline]
    pub fn ifindex(&self) -> u32 {
        be32(&self.buf[field::IFINDEX])
    }

    /// Linux `ARPHRD_*` device type.
    #[inline]
    pub fn arphrd(&self) -> u16 {
        be16(&self.buf[field::ARPHRD])
    }

    /// Packet type (as in SLL v1).
    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.buf[field::PACKET_TYPE]
    }

    /// The stored link-layer address bytes (at most 8).
    #[inline]
    pub fn addr(&self) -> &'a [u8] {
        let n = usize::from(self.buf[field::ADDR_LEN]).min(field::ADDR.len());
        &self.buf[field::ADDR.start..field::ADDR.start + n]
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
    const HEADER: [u8; 21] = [
        0x08, 0x00,                                     // protocol: IPv4
        0x00, 0x00,                                     // reserved
        0x00, 0x00, 0x00, 0x03,                         // interface index 3
        0x00, 0x01,                                     // ARPHRD_ETHER
        0x00,                                           // packet type: to us
        0x06,                                           // address length 6
        0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // address, padded to 8
        0x45,                                           // payload
    ];

    #[test]
    fn deconstruct() {
        let h = Header::new_checked(&HEADER).unwrap();
        assert_eq!(h.protocol(), EtherType::Ipv4);
        assert_eq!(h.ifindex(), 3);
        assert_eq!(h.arphrd(), 1);
        assert_eq!(h.packet_type(), 0);
        assert_eq!(h.addr(), &[0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&HEADER[..19]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }
}
