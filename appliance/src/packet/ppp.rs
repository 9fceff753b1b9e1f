//! PPP frame header (RFC 1661 §2, RFC 1662 §3): optional HDLC address/control bytes
//! (0xff 0x03) and a 1- or 2-byte protocol field.
//!
//! Owns the PPP header as seen on `LINKTYPE_PPP`, `LINKTYPE_PPP_HDLC` and inside PPTP's GRE.
//! It does *not* own PPPoE (`pppoe.rs`, whose protocol field is always 2 bytes) or Cisco HDLC
//! (`chdlc.rs`), which the decoder recognises by its first byte before coming here.

use super::{DropReason, be16};

mod field {
    pub const ADDRESS: usize = 0;
    pub const CONTROL: usize = 1;
}

/// HDLC all-stations address (RFC 1662 §3.1).
pub const ADDRESS_ALL_STATIONS: u8 = 0xff;
/// HDLC unnumbered information control byte (RFC 1662 §3.1).
pub const CONTROL_UI: u8 = 0x03;

/// PPP protocol numbers (IANA "PPP DLL Protocol Numbers").
pub mod protocol {
    /// Internet Protocol version 4.
    pub const IPV4: u16 = 0x0021;
    /// Internet Protocol version 6.
    pub const IPV6: u16 = 0x0057;
    /// MPLS unicast.
    pub const MPLS_UNICAST: u16 = 0x0281;
    /// MPLS multicast.
    pub const MPLS_MULTICAST: u16 = 0x0283;
}

/// A read-only view of a PPP frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    buf: &'a [u8],
    /// 0 or 2: bytes taken by address/control.
    ac_len: usize,
    /// 1 or 2: bytes taken by the protocol field.
    proto_len: usize,
}

impl<'a> Frame<'a> {
    /// Checks the header is present; afterwards no accessor panics.
    ///
    /// Address/control are present when the frame starts 0xff 0x03 (RFC 1662 address/control
    /// field compression may drop them). The protocol field is one byte when its first byte is
    /// odd (RFC 1661 §6.5 protocol field compression: every protocol number has an even high
    /// byte and an odd low byte).
    ///
    /// # Errors
    ///
    /// [`DropReason::LinkTruncated`] when the protocol field is cut short.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        let ac_len = if buf.len() >= 2
            && buf[field::ADDRESS] == ADDRESS_ALL_STATIONS
            && buf[field::CONTROL] == CONTROL_UI
        {
            2
        } else {
            0
        };
        let first = *buf.get(ac_len).ok_or(DropReason::LinkTruncated)?;
        let proto_len = if first & 1 == 1 { 1 } else { 2 };
        if buf.len() < ac_len + proto_len {
            return Err(DropReason::LinkTruncated);
        }
        Ok(Frame {
            buf,
            ac_len,
            proto_len,
        })
    }

    /// True when the frame carries the 0xff 0x03 address/control bytes.
    #[inline]
    pub fn has_address_control(&self) -> bool {
        self.ac_len != 0
    }

    /// The PPP protocol number (a compressed 1-byte field is returned as its value, 0x21).
    #[inline]
    pub fn protocol(&self) -> u16 {
        if self.proto_len == 1 {
            u16::from(self.buf[self.ac_len])
        } else {
            be16(&self.buf[self.ac_len..self.ac_len + 2])
        }
    }

    /// Bytes taken by address/control and protocol.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.ac_len + self.proto_len
    }

    /// Everything after the protocol field, as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_address_control() {
        #[rustfmt::skip]
        let b = [
            0xff, 0x03, // address, control
            0x00, 0x21, // protocol: IPv4
            0x45,       // payload
        ];
        let f = Frame::new_checked(&b).unwrap();
        assert!(f.has_address_control());
        assert_eq!(f.protocol(), protocol::IPV4);
        assert_eq!(f.header_len(), 4);
        assert_eq!(f.payload(), &[0x45]);
    }

    #[test]
    fn without_address_control() {
        #[rustfmt::skip]
        let b = [
            0x00, 0x57, // protocol: IPv6
            0x60,       // payload
        ];
        let f = Frame::new_checked(&b).unwrap();
        assert!(!f.has_address_control());
        assert_eq!(f.protocol(), protocol::IPV6);
        assert_eq!(f.payload(), &[0x60]);
    }

    #[test]
    fn compressed_protocol() {
        #[rustfmt::skip]
        let b = [
            0xff, 0x03, // address, control
            0x21,       // protocol, compressed to one (odd) byte: IPv4
            0x45,       // payload
        ];
        let f = Frame::new_checked(&b).unwrap();
        assert_eq!(f.protocol(), protocol::IPV4);
        assert_eq!(f.header_len(), 3);
        assert_eq!(f.payload(), &[0x45]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Frame::new_checked(&[]).unwrap_err(),
            DropReason::LinkTruncated
        );
        // Address/control, then nothing.
        assert_eq!(
            Frame::new_checked(&[0xff, 0x03]).unwrap_err(),
            DropReason::LinkTruncated
        );
        // Address/control, then half of a 2-byte protocol.
        assert_eq!(
            Frame::new_checked(&[0xff, 0x03, 0x00]).unwrap_err(),
            DropReason::LinkTruncated
        );
        // No address/control, half of a 2-byte protocol.
        assert_eq!(
            Frame::new_checked(&[0xc0]).unwrap_err(),
            DropReason::LinkTruncated
        );
    }
}
