//! GTPv1-U header (3GPP TS 29.281 §5): the user-plane tunnel of mobile networks, UDP port
//! 2152.
//!
//! Owns the mandatory 8-byte header, the optional sequence/N-PDU/next-extension fields and the
//! extension header chain. It does *not* handle GTP-C, GTPv2 or GTP' (different ports or
//! versions); only a G-PDU (message type 0xff) carries a user packet, so only a G-PDU is a
//! tunnel to the decoder ([`is_g_pdu`]); echo, error indication and end marker are not.

use super::{DropReason, be16, be32};

mod field {
    use crate::packet::Field;
    pub const FLAGS: usize = 0;
    pub const MSG_TYPE: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const TEID: Field = 4..8;
    pub const SEQ_NUM: Field = 8..10;
    pub const NPDU_NUM: usize = 10;
    pub const NEXT_EXT: usize = 11;
    pub const OPTIONAL_END: usize = 12;
}

/// UDP port of GTP-U.
pub const PORT: u16 = 2152;
/// Length of the mandatory header.
pub const MIN_HEADER_LEN: usize = 8;
/// Message type of a G-PDU (T-PDU): a user packet follows the header.
pub const MSG_G_PDU: u8 = 0xff;

const FLAG_PT: u8 = 0x10;
const FLAG_E: u8 = 0x04;
const FLAG_S: u8 = 0x02;
const FLAG_PN: u8 = 0x01;

/// True when `buf` starts with a GTPv1 (version 1, PT 1) G-PDU header: the test for "this UDP
/// 2152 payload is a tunnel". Checks the mandatory 8 bytes only.
#[inline]
pub fn is_g_pdu(buf: &[u8]) -> bool {
    buf.len() >= MIN_HEADER_LEN
        && buf[field::FLAGS] >> 5 == 1
        && buf[field::FLAGS] & FLAG_PT != 0
        && buf[field::MSG_TYPE] == MSG_G_PDU
}

/// A read-only view of a GTPv1-U header and the packet it carries.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    buf: &'a [u8],
    /// Mandatory + optional + extension headers.
    len: usize,
}

impl<'a> Header<'a> {
    /// Checks the mandatory header, the optional fields when any of E/S/PN is set, and every
    /// extension header (each `length × 4` bytes, its last byte the next type, 0 ends the
    /// chain) are present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::TunnelTruncated`] when `buf` ends inside the header or an extension header
    /// has length 0 (which would never advance).
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(DropReason::TunnelTruncated);
        }
        let flags = buf[field::FLAGS];
        if flags & (FLAG_E | FLAG_S | FLAG_PN) == 0 {
            return Ok(Header {
                buf,
                len: MIN_HEADER_LEN,
            });
        }
        if buf.len() < field::OPTIONAL_END {
            return Err(DropReason::TunnelTruncated);
        }
        let mut len = field::OPTIONAL_END;
        if flags & FLAG_E != 0 {
            let mut next = buf[field::NEXT_EXT];
            while next != 0 {
                let units = *buf.get(len).ok_or(DropReason::TunnelTruncated)?;
                let ext_len = usize::from(units) * 4;
                if ext_len == 0 || buf.len() < len + ext_len {
                    return Err(DropReason::TunnelTruncated);
                }
                len += ext_len;
                next = buf[len - 1];
            }
        }
        Ok(Header { buf, len })
    }

    /// Version (1 for GTPv1).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[field::FLAGS] >> 5
    }

    /// Protocol type: true for GTP, false for GTP'.
    #[inline]
    pub fn is_gtp(&self) -> bool {
        self.buf[field::FLAGS] & FLAG_PT != 0
    }

    /// Message type (0xff G-PDU).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buf[field::MSG_TYPE]
    }

    /// Length field: bytes after the mandatory header (optional fields included).
    #[inline]
    pub fn length(&self) -> u16 {
        be16(&self.buf[field::LENGTH])
    }

    /// Tunnel endpoint identifier (per direction: not a flow key, see `packet::tunnel`).
    #[inline]
    pub fn teid(&self) -> u32 {
        be32(&self.buf[field::TEID])
    }

    /// Sequence number, when the S flag is set.
    #[inline]
    pub fn seq_number(&self) -> Option<u16> {
        (self.buf[field::FLAGS] & FLAG_S != 0).then(|| be16(&self.buf[field::SEQ_NUM]))
    }

    /// N-PDU number, when the PN flag is set.
    #[inline]
    pub fn npdu_number(&self) -> Option<u8> {
        (self.buf[field::FLAGS] & FLAG_PN != 0).then(|| self.buf[field::NPDU_NUM])
    }

    /// True when extension headers follow the optional fields.
    #[inline]
    pub fn has_extensions(&self) -> bool {
        self.buf[field::FLAGS] & FLAG_E != 0
    }

    /// Bytes taken by the header, extension headers included.
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
    const PLAIN: [u8; 9] = [
        0x30,                   // version 1, PT 1, no E/S/PN
        0xff,                   // G-PDU
        0x00, 0x01,             // length 1
        0x12, 0x34, 0x56, 0x78, // TEID
        0x45,                   // inner IPv4
    ];

    #[rustfmt::skip]
    const WITH_EXTENSIONS: [u8; 25] = [
        0x36,                   // version 1, PT 1, E, S
        0xff,                   // G-PDU
        0x00, 0x11,             // length 17
        0x00, 0x00, 0x00, 0x01, // TEID
        0x00, 0x2a,             // sequence number 42
        0x00,                   // N-PDU number (not valid: PN clear)
        0x85,                   // next extension: PDU session container
        0x01, 0x10, 0x05, 0x40, // length 1 (4 bytes), QFI 5, next extension 0x40 (UDP port)
        0x02, 0x08, 0x68, 0x00, 0x00, 0x00, 0x00, 0x00, // length 2 (8 bytes), next 0: end
        0x60,                   // inner IPv6
    ];

    #[test]
    fn plain() {
        assert!(is_g_pdu(&PLAIN));
        let h = Header::new_checked(&PLAIN).unwrap();
        assert_eq!(h.version(), 1);
        assert!(h.is_gtp());
        assert_eq!(h.msg_type(), MSG_G_PDU);
        assert_eq!(h.length(), 1);
        assert_eq!(h.teid(), 0x1234_5678);
        assert_eq!(h.seq_number(), None);
        assert_eq!(h.npdu_number(), None);
        assert!(!h.has_extensions());
        assert_eq!(h.header_len(), 8);
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn extension_chain() {
        assert!(is_g_pdu(&WITH_EXTENSIONS));
        let h = Header::new_checked(&WITH_EXTENSIONS).unwrap();
        assert_eq!(h.seq_number(), Some(42));
        assert_eq!(h.npdu_number(), None);
        assert!(h.has_extensions());
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.payload(), &[0x60]);
    }

    #[test]
    fn not_a_g_pdu() {
        let mut b = PLAIN;
        b[1] = 0x01; // echo request
        assert!(!is_g_pdu(&b));
        b = PLAIN;
        b[0] = 0x48; // version 2
        assert!(!is_g_pdu(&b));
        b = PLAIN;
        b[0] = 0x20; // version 1, PT 0: GTP'
        assert!(!is_g_pdu(&b));
        assert!(!is_g_pdu(&PLAIN[..7]));
    }

    #[test]
    fn truncated_mandatory() {
        assert_eq!(
            Header::new_checked(&PLAIN[..7]).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn truncated_optional() {
        assert_eq!(
            Header::new_checked(&WITH_EXTENSIONS[..11]).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn truncated_extension() {
        // Length byte of the first extension missing.
        assert_eq!(
            Header::new_checked(&WITH_EXTENSIONS[..12]).unwrap_err(),
            DropReason::TunnelTruncated
        );
        // Second extension cut short.
        assert_eq!(
            Header::new_checked(&WITH_EXTENSIONS[..20]).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }

    #[test]
    fn zero_length_extension() {
        let mut b = WITH_EXTENSIONS;
        b[12] = 0; // length 0 would loop forever
        assert_eq!(
            Header::new_checked(&b).unwrap_err(),
            DropReason::TunnelTruncated
        );
    }
}
