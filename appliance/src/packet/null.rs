//! BSD loopback headers: `LINKTYPE_NULL` (4-byte address family in the *capturing host's* byte
//! order) and `LINKTYPE_LOOP` (the same, always big-endian; OpenBSD).
//!
//! Owns the family field and its values. The capturing host's byte order is unknown to us, so
//! [`Header::family_any_endian`] tries both: the values that matter (2, 24, 28, 30) read as
//! something else entirely the other way round, so the two readings cannot be confused.
//! See <https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>.

use super::{DropReason, be32};

mod field {
    use crate::packet::Field;
    pub const FAMILY: Field = 0..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// What the address family says the payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `AF_INET` = 2 on every BSD.
    Ipv4,
    /// `AF_INET6`: 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly), 30 (Darwin).
    Ipv6,
    /// Anything else (OSI 7, IPX 23, ...), as read big-endian.
    Other(u32),
}

impl Family {
    /// Classifies one reading of the family field.
    #[inline]
    pub fn from_value(v: u32) -> Family {
        match v {
            2 => Family::Ipv4,
            24 | 28 | 30 => Family::Ipv6,
            other => Family::Other(other),
        }
    }
}

/// A read-only view of a null/loop header.
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

    /// The family read big-endian (`LINKTYPE_LOOP`).
    #[inline]
    pub fn family_be(&self) -> Family {
        Family::from_value(be32(&self.buf[field::FAMILY]))
    }

    /// The family in whichever byte order gives a known value (`LINKTYPE_NULL`).
    #[inline]
    pub fn family_any_endian(&self) -> Family {
        match self.family_be() {
            Family::Other(v) => match Family::from_value(v.swap_bytes()) {
                Family::Other(_) => Family::Other(v),
                known => known,
            },
            known => known,
        }
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

    #[test]
    fn little_endian_host() {
        #[rustfmt::skip]
        let b = [
            0x02, 0x00, 0x00, 0x00, // AF_INET, little-endian
            0x45,                   // payload
        ];
        let h = Header::new_checked(&b).unwrap();
        assert_eq!(h.family_any_endian(), Family::Ipv4);
        assert_eq!(h.family_be(), Family::Other(0x0200_0000));
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn big_endian_host() {
        let b = [0x00, 0x00, 0x00, 0x1e]; // AF_INET6 (Darwin), big-endian
        let h = Header::new_checked(&b).unwrap();
        assert_eq!(h.family_any_endian(), Family::Ipv6);
        assert_eq!(h.family_be(), Family::Ipv6);
    }

    #[test]
    fn ipv6_values() {
        for v in [24u32, 28, 30] {
            let b = [v as u8, 0, 0, 0];
            let h = Header::new_checked(&b).unwrap();
            assert_eq!(h.family_any_endian(), Family::Ipv6);
        }
    }

    #[test]
    fn other_family() {
        let b = [0x07, 0x00, 0x00, 0x00]; // OSI, little-endian
        assert_eq!(
            Header::new_checked(&b).unwrap().family_any_endian(),
            Family::Other(0x0700_0000)
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&[2, 0, 0]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }
}
