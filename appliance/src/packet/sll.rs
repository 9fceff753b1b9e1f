//! Linux "cooked" capture header v1 (`LINKTYPE_LINUX_SLL`, 16 bytes), what `tcpdump -i any`
//! writes.
//!
//! Owns the fixed header. The protocol field is an EtherType for most device types; the
//! decoder uses [`Header::arphrd`] to rule out the device types where it is not (netlink, CAN).
//! See <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>.

use super::{DropReason, EtherType, be16};

mod field {
    use crate::packet::Field;
    pub const PACKET_TYPE: Field = 0..2;
    pub const ARPHRD: Field = 2..4;
    pub const ADDR_LEN: Field = 4..6;
    pub const ADDR: Field = 6..14;
    pub const PROTOCOL: Field = 14..16;
    pub const PAYLOAD: usize = 16;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// Linux `ARPHRD_*` device types whose SLL protocol field is not an EtherType.
pub mod arphrd {
    /// CAN bus: the protocol field is a CAN frame type.
    pub const CAN: u16 = 280;
    /// Netlink: the protocol field is a netlink family.
    pub const NETLINK: u16 = 824;

    /// True when the protocol field of a frame from this device type is not an EtherType.
    #[inline]
    pub fn protocol_is_not_ethertype(t: u16) -> bool {
        t == CAN || t == NETLINK
    }
}

/// A read-only view of a Linux SLL header.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the 16-byte header is present; afterwards no accessor panics.
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

    /// Packet type (0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us).
    #[inline]
    pub fn packet_type(&self) -> u16 {
        be16(&self.buf[field::PACKET_TYPE])
    }

    /// Linux `ARPHRD_*` device type.
    #[inline]
    pub fn arphrd(&self) -> u16 {
        be16(&self.buf[field::ARPHRD])
    }

    /// Link-layer address length as written (may exceed the 8 bytes stored).
    #[inline]
    pub fn addr_len(&self) -> u16 {
        be16(&self.buf[field::ADDR_LEN])
    }

    /// The stored link-layer address bytes (at most 8).
    #[inline]
    pub fn addr(&self) -> &'a [u8] {
        let n = usize::from(self.addr_len()).min(field::ADDR.len());
        &self.buf[field::ADDR.start..field::ADDR.start + n]
    }

    /// Raw protocol field.
    #[inline]
    pub fn protocol_raw(&self) -> u16 {
        be16(&self.buf[field::PROTOCOL])
    }

    /// Protocol field as an [`EtherType`] (meaningless when
    /// `sll::arphrd::protocol_is_not_ethertype`).
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
    const HEADER: [u8; 17] = [
        0x00, 0x04,                                     // packet type: sent by us
        0x00, 0x01,                                     // ARPHRD_ETHER
        0x00, 0x06,                                     // address length 6
        0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // address, padded to 8
        0x86, 0xdd,                                     // protocol: IPv6
        0x60,                                           // payload
    ];

    #[test]
    fn deconstruct() {
        let h = Header::new_checked(&HEADER).unwrap();
        assert_eq!(h.packet_type(), 4);
        assert_eq!(h.arphrd(), 1); // ARPHRD_ETHER
        assert_eq!(h.addr_len(), 6);
        assert_eq!(h.addr(), &[0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(h.protocol(), EtherType::Ipv6);
        assert_eq!(h.payload(), &[0x60]);
        assert!(!arphrd::protocol_is_not_ethertype(h.arphrd()));
        assert!(arphrd::protocol_is_not_ethertype(arphrd::NETLINK));
    }

    #[test]
    fn long_address_is_clamped() {
        let mut b = HEADER;
        b[5] = 20; // address length 20: only 8 bytes are stored
        assert_eq!(Header::new_checked(&b).unwrap().addr().len(), 8);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&HEADER[..15]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }
}
