//! GRE header: version 0 (RFC 2784 with RFC 2890 key and sequence number) and version 1, the
//! "enhanced GRE" of PPTP (RFC 2637 §4.1: key = payload length + call id, optional sequence
//! and acknowledgment numbers).
//!
//! Owns the header length and fields. It does *not* decide which protocol types are followed
//! (the decoder does) and does not parse RFC 1701 source routing: a version-0 header with the
//! routing bit set is not one we step over ([`Header::is_supported`]), as RFC 2784 §2.3 lets a
//! receiver that does not implement RFC 1701 discard it.

use super::{DropReason, be16, be32};

mod field {
    use crate::packet::Field;
    pub const FLAGS_VER: Field = 0..2;
    pub const PROTOCOL: Field = 2..4;
    pub const OPTIONAL: usize = 4;
}

/// Length of the fixed part (flags/version and protocol type).
pub const MIN_HEADER_LEN: usize = field::OPTIONAL;

const FLAG_C: u16 = 0x8000;
const FLAG_R: u16 = 0x4000;
const FLAG_K: u16 = 0x2000;
const FLAG_S: u16 = 0x1000;
const FLAG_A: u16 = 0x0080;
const VERSION_MASK: u16 = 0x0007;

/// The protocol type of PPP in PPTP (version 1).
pub const PROTO_PPP: u16 = 0x880b;

/// The protocol type, when `buf` starts with a GRE fixed part the decoder steps over: version 0
/// without RFC 1701 routing, or version 1 as PPTP sends it (key set, no checksum or routing,
/// protocol PPP). Reads the fixed 4 bytes only; `None` when they are absent.
#[inline]
pub fn recognise(buf: &[u8]) -> Option<u16> {
    let fixed = buf.get(..MIN_HEADER_LEN)?;
    let flags = be16(&fixed[field::FLAGS_VER]);
    let protocol = be16(&fixed[field::PROTOCOL]);
    let ok = match flags & VERSION_MASK {
        0 => flags & FLAG_R == 0,
        1 => flags & (FLAG_K | FLAG_C | FLAG_R) == FLAG_K && protocol == PROTO_PPP,
        _ => false,
    };
    ok.then_some(protocol)
}

/// A read-only view of a GRE header and its payload.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
    len: usize,
}

impl<'a> Header<'a> {
    /// Checks the fixed part and every optional field the flags announce are present;
    /// afterwards no accessor panics.
    ///
    /// Version 0: checksum + reserved (C or R), key (K), sequence (S), 4 bytes each. Version 1:
    /// payload length + call id (always), sequence (S), acknowledgment (A). Other versions:
    /// the fixed part only.
    ///
    /// # Errors
    ///
    /// [`DropReason::TunnelTruncated`] when `buf` ends inside the header.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(DropReason::TunnelTruncated);
        }
        let flags = be16(&buf[field::FLAGS_VER]);
        let opt = |bit: u16| if flags & bit != 0 { 4 } else { 0 };
        let len = match flags & VERSION_MASK {
            0 => MIN_HEADER_LEN + opt(FLAG_C | FLAG_R) + opt(FLAG_K) + opt(FLAG_S),
            1 => MIN_HEADER_LEN + 4 + opt(FLAG_S) + opt(FLAG_A),
            _ => MIN_HEADER_LEN,
        };
        if buf.len() < len {
            return Err(DropReason::TunnelTruncated);
        }
        Ok(Header { buf, len })
    }

    #[inline]
    fn flags(&self) -> u16 {
        be16(&self.buf[field::FLAGS_VER])
    }

    /// Version (0 GRE, 1 PPTP enhanced GRE).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// Protocol type of the payload (an EtherType; 0x880b PPP in version 1).
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(&self.buf[field::PROTOCOL])
    }

    /// Checksum present (version 0).
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.flags() & FLAG_C != 0
    }

    /// RFC 1701 routing present (version 0; deprecated).
    #[inline]
    pub fn has_routing(&self) -> bool {
        self.flags() & FLAG_R != 0
    }

    /// Key present (always in version 1).
    #[inline]
    pub fn has_key(&self) -> bool {
        self.flags() & FLAG_K != 0
    }

    /// Sequence number present.
    #[inline]
    pub fn has_seq(&self) -> bool {
        self.flags() & FLAG_S != 0
    }

    /// Acknowledgment number present (version 1).
    #[inline]
    pub fn has_ack(&self) -> bool {
        self.version() == 1 && self.flags() & FLAG_A != 0
    }

    /// True for the headers the decoder steps over (see `gre::recognise`).
    #[inline]
    pub fn is_supported(&self) -> bool {
        recognise(self.buf).is_some()
    }

    /// The 32-bit key (version 1: payload length << 16 | call id).
    #[inline]
    pub fn key(&self) -> Option<u32> {
        if !self.has_key() && self.version() != 1 {
            return None;
        }
        let csum = self.version() == 0 && self.flags() & (FLAG_C | FLAG_R) != 0;
        let at = field::OPTIONAL + if csum { 4 } else { 0 };
        self.buf.get(at..at + 4).map(be32)
    }

    /// Sequence number, when present.
    #[inline]
    pub fn seq_number(&self) -> Option<u32> {
        if !self.has_seq() {
            return None;
        }
        let at = self.seq_at();
        self.buf.get(at..at + 4).map(be32)
    }

    /// Acknowledgment number (version 1), when present.
    #[inline]
    pub fn ack_number(&self) -> Option<u32> {
        if !self.has_ack() {
            return None;
        }
        let at = self.seq_at() + if self.has_seq() { 4 } else { 0 };
        self.buf.get(at..at + 4).map(be32)
    }

    #[inline]
    fn seq_at(&self) -> usize {
        match self.version() {
            1 => field::OPTIONAL + 4,
            _ => {
                let f = self.flags();
                field::OPTIONAL
                    + if f & (FLAG_C | FLAG_R) != 0 { 4 } else { 0 }
                    + if f & FLAG_K != 0 { 4 } else { 0 }
            }
        }
    }

    /// Bytes taken by the header.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.len
    }

    /// The carried packet as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.len..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const V0_ALL: [u8; 17] = [
        0xb0, 0x00,             // C, K, S; version 0
        0x08, 0x00,             // protocol IPv4
        0xab, 0xcd, 0x00, 0x00, // checksum, reserved
        0x00, 0x00, 0x00, 0x2a, // key 42
        0x00, 0x00, 0x00, 0x07, // sequence 7
        0x45,                   // payload
    ];

    // From gre.pcapng (nDPI tests): PPTP data with sequence and acknowledgment.
    #[rustfmt::skip]
    const V1: [u8; 21] = [
        0x30, 0x81,             // K, S; A; version 1
        0x88, 0x0b,             // protocol PPP
        0x01, 0x4a,             // payload length 330
        0x98, 0x50,             // call id
        0x00, 0x00, 0x00, 0x6a, // sequence 106
        0x00, 0x00, 0x00, 0x8c, // acknowledgment 140
        0xff, 0x03, 0x00, 0x21, // payload: PPP IPv4
        0x45,
    ];

    #[test]
    fn version0_minimal() {
        let b = [0x00, 0x00, 0x86, 0xdd, 0x60];
        let h = Header::new_checked(&b).unwrap();
        assert_eq!(h.version(), 0);
        assert_eq!(h.protocol(), 0x86dd);
        assert!(h.is_supported());
        assert_eq!(h.key(), None);
        assert_eq!(h.seq_number(), None);
        assert_eq!(h.header_len(), 4);
        assert_eq!(h.payload(), &[0x60]);
    }

    #[test]
    fn version0_all_options() {
        let h = Header::new_checked(&V0_ALL).unwrap();
        assert!(h.has_checksum());
        assert!(h.has_key());
        assert!(h.has_seq());
        assert!(!h.has_ack());
        assert_eq!(h.key(), Some(42));
        assert_eq!(h.seq_number(), Some(7));
        assert_eq!(h.header_len(), 16);
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn version1() {
        let h = Header::new_checked(&V1).unwrap();
        assert_eq!(h.version(), 1);
        assert!(h.is_supported());
        assert_eq!(h.protocol(), PROTO_PPP);
        assert_eq!(h.key(), Some(0x014a_9850));
        assert_eq!(h.seq_number(), Some(0x6a));
        assert_eq!(h.ack_number(), Some(0x8c));
        assert_eq!(h.header_len(), 16);
        assert_eq!(h.payload(), &[0xff, 0x03, 0x00, 0x21, 0x45]);
    }

    #[test]
    fn version1_ack_only() {
        #[rustfmt::skip]
        let b = [
            0x20, 0x81,             // K; A; version 1
            0x88, 0x0b,             // protocol PPP
            0x00, 0x00,             // payload length 0
            0x98, 0x50,             // call id
            0x00, 0x00, 0x00, 0x8c, // acknowledgment
        ];
        let h = Header::new_checked(&b).unwrap();
        assert_eq!(h.seq_number(), None);
        assert_eq!(h.ack_number(), Some(0x8c));
        assert!(h.payload().is_empty());
    }

    #[test]
    fn unsupported() {
        let routing = [0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0];
        assert!(!Header::new_checked(&routing).unwrap().is_supported());
        let v1_not_ppp = [0x20, 0x01, 0x08, 0x00, 0, 0, 0, 0];
        assert!(!Header::new_checked(&v1_not_ppp).unwrap().is_supported());
        let v1_no_key = [0x00, 0x01, 0x88, 0x0b, 0, 0, 0, 0];
        assert!(!Header::new_checked(&v1_no_key).unwrap().is_supported());
        let v2 = [0x00, 0x02, 0x08, 0x00];
        let h = Header::new_checked(&v2).unwrap();
        assert!(!h.is_supported());
        assert_eq!(h.header_len(), 4);
        assert_eq!(recognise(&v2), None);
        assert_eq!(recognise(&V0_ALL), Some(0x0800));
        assert_eq!(recognise(&V1), Some(PROTO_PPP));
        assert_eq!(recognise(&V0_ALL[..3]), None);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::new_checked(&V0_ALL[..3]).unwrap_err(),
            DropReason::TunnelTruncated
        );
        assert_eq!(
            Header::new_checked(&V0_ALL[..15]).unwrap_err(),
            DropReason::TunnelTruncated
        );
        assert_eq!(
            Header::new_checked(&V1[..7]).unwrap_err(),
            DropReason::TunnelTruncated
        );
        assert_eq!(
            Header::new_checked(&V1[..15]).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }
}
