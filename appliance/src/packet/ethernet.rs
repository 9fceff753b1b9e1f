//! Ethernet II header (IEEE 802.3 with a type field) and the [`EtherType`] numbers.
//!
//! Owns the 14-byte MAC header. It does *not* own 802.1Q/802.1ad tags (`vlan.rs`), MPLS
//! (`mpls.rs`) or PPPoE (`pppoe.rs`); and it does not decode 802.3 length/LLC frames, it only
//! recognises them ([`Frame::is_length`]) so that the decoder can call them "not IP".

use super::{DropReason, be16};

mod field {
    use crate::packet::Field;
    pub const DST_ADDR: Field = 0..6;
    pub const SRC_ADDR: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// An EtherType (or PPP/GRE "protocol type", which share the number space).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800.
    Ipv4,
    /// 0x0806.
    Arp,
    /// 0x8035, Cisco SLARP (on Cisco HDLC links).
    Slarp,
    /// 0x8100, IEEE 802.1Q customer VLAN tag.
    Vlan,
    /// 0x86dd.
    Ipv6,
    /// 0x8847.
    MplsUnicast,
    /// 0x8848.
    MplsMulticast,
    /// 0x8863.
    PppoeDiscovery,
    /// 0x8864.
    PppoeSession,
    /// 0x880b, PPP (in PPTP's enhanced GRE).
    Ppp,
    /// 0x88a8, IEEE 802.1ad service VLAN tag (QinQ outer tag).
    ServiceVlan,
    /// 0x9100, pre-standard QinQ outer tag.
    QinQ,
    /// 0x6558, transparent Ethernet bridging (Ethernet in GRE).
    TransparentEthernet,
    /// Anything else, including 802.3 length values.
    Unknown(u16),
}

impl From<u16> for EtherType {
    #[inline]
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8035 => EtherType::Slarp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            0x8847 => EtherType::MplsUnicast,
            0x8848 => EtherType::MplsMulticast,
            0x8863 => EtherType::PppoeDiscovery,
            0x8864 => EtherType::PppoeSession,
            0x880b => EtherType::Ppp,
            0x88a8 => EtherType::ServiceVlan,
            0x9100 => EtherType::QinQ,
            0x6558 => EtherType::TransparentEthernet,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Slarp => 0x8035,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::MplsUnicast => 0x8847,
            EtherType::MplsMulticast => 0x8848,
            EtherType::PppoeDiscovery => 0x8863,
            EtherType::PppoeSession => 0x8864,
            EtherType::Ppp => 0x880b,
            EtherType::ServiceVlan => 0x88a8,
            EtherType::QinQ => 0x9100,
            EtherType::TransparentEthernet => 0x6558,
            EtherType::Unknown(v) => v,
        }
    }
}

/// A read-only view of an Ethernet II header and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    buf: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Checks the 14-byte header is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::LinkTruncated`] when `buf` is shorter than the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < HEADER_LEN {
            return Err(DropReason::LinkTruncated);
        }
        Ok(Frame { buf })
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buf[field::DST_ADDR]);
        a
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buf[field::SRC_ADDR]);
        a
    }

    /// The raw type/length field.
    #[inline]
    pub fn ethertype_raw(&self) -> u16 {
        be16(&self.buf[field::ETHERTYPE])
    }

    /// The type field as an [`EtherType`].
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.ethertype_raw())
    }

    /// True when the type/length field is not an EtherType (< 0x0600): an 802.3 frame with a
    /// length (≤ 1500, IEEE 802.3 clause 3.2.6; 1501..=1535 are undefined), carrying LLC (STP,
    /// CDP, NetBIOS, ...).
    #[inline]
    pub fn is_length(&self) -> bool {
        self.ethertype_raw() < 0x0600
    }

    /// Everything after the header, as captured (may include trailer padding).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const FRAME: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // src
        0x86, 0xdd,                         // EtherType IPv6
        0x60, 0x00,                         // payload
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&FRAME).unwrap();
        assert_eq!(f.dst_addr(), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(f.src_addr(), [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(f.ethertype(), EtherType::Ipv6);
        assert!(!f.is_length());
        assert_eq!(f.payload(), &[0x60, 0x00]);
    }

    #[test]
    fn header_only_is_accepted() {
        let f = Frame::new_checked(&FRAME[..14]).unwrap();
        assert!(f.payload().is_empty());
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Frame::new_checked(&FRAME[..13]).unwrap_err(),
            DropReason::LinkTruncated
        );
        assert_eq!(
            Frame::new_checked(&[]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }

    #[test]
    fn length_field() {
        let mut b = FRAME;
        b[12] = 0x05; // 0x05dc = 1500: an 802.3 length
        b[13] = 0xdc;
        assert!(Frame::new_checked(&b).unwrap().is_length());
        b[12] = 0x06; // 0x0600: the first EtherType
        b[13] = 0x00;
        assert!(!Frame::new_checked(&b).unwrap().is_length());
    }

    #[test]
    fn ethertype_round_trip() {
        for v in [
            0x0800, 0x0806, 0x8035, 0x8100, 0x86dd, 0x8847, 0x8848, 0x8863, 0x8864, 0x880b, 0x88a8,
            0x9100, 0x6558, 0x1234, 0x0000,
        ] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
        assert_eq!(EtherType::from(0x1234), EtherType::Unknown(0x1234));
    }
}
