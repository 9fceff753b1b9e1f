//! IEEE 802.1Q / 802.1ad VLAN tag (the 4 bytes after a TPID of 0x8100, 0x88a8 or 0x9100).
//!
//! Owns the tag control information and the encapsulated EtherType. It does *not* decide which
//! tag of a stack is "the" VLAN id: the decoder keeps the innermost.

use super::{DropReason, EtherType, be16};

mod field {
    use crate::packet::Field;
    pub const TCI: Field = 0..2;
    pub const ETHERTYPE: Field = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of a tag (after its TPID, which is the previous header's EtherType).
pub const TAG_LEN: usize = field::PAYLOAD;

/// A read-only view of one VLAN tag and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct Tag<'a> {
    buf: &'a [u8],
}

impl<'a> Tag<'a> {
    /// Checks the 4-byte tag is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::VlanTruncated`] when `buf` is shorter than a tag.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < TAG_LEN {
            return Err(DropReason::VlanTruncated);
        }
        Ok(Tag { buf })
    }

    /// Tag control information (PCP, DEI, VID).
    #[inline]
    pub fn tci(&self) -> u16 {
        be16(&self.buf[field::TCI])
    }

    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The 12-bit VLAN identifier.
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The raw EtherType of what follows the tag.
    #[inline]
    pub fn ethertype_raw(&self) -> u16 {
        be16(&self.buf[field::ETHERTYPE])
    }

    /// The EtherType of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.ethertype_raw())
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const TAG: [u8; 5] = [
        0xb0, 0x5d, // PCP 5, DEI 1, VID 0x05d = 93
        0x08, 0x00, // EtherType IPv4
        0x45,       // payload
    ];

    #[test]
    fn deconstruct() {
        let t = Tag::new_checked(&TAG).unwrap();
        assert_eq!(t.pcp(), 5);
        assert!(t.dei());
        assert_eq!(t.vid(), 93);
        assert_eq!(t.ethertype(), EtherType::Ipv4);
        assert_eq!(t.payload(), &[0x45]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Tag::new_checked(&TAG[..3]).unwrap_err(),
            DropReason::VlanTruncated
        );
        assert_eq!(
            Tag::new_checked(&[]).unwrap_err(),
            DropReason::VlanTruncated
        );
    }
}
