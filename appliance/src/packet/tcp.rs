//! TCP header (RFC 9293 §3.1).
//!
//! Owns ports, sequence numbers, data offset and the flags byte. It does *not* parse options
//! or track connection state (that is `flow/`), and it does not verify the checksum.

use super::{DropReason, be16, be32};

mod field {
    use crate::packet::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// Bits of [`Packet::flags`].
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// A read-only view of a TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header, options included, is present; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::TcpTruncated`] when `buf` is shorter than 20 bytes, the data offset is
    /// below 5, or `buf` ends inside the options.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(DropReason::TcpTruncated);
        }
        let p = Packet { buf };
        if p.header_len() < MIN_HEADER_LEN || buf.len() < p.header_len() {
            return Err(DropReason::TcpTruncated);
        }
        Ok(p)
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(&self.buf[field::SRC_PORT])
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(&self.buf[field::DST_PORT])
    }

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(&self.buf[field::SEQ_NUM])
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(&self.buf[field::ACK_NUM])
    }

    /// Header length in bytes (data offset × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf[field::DATA_OFF] >> 4) * 4
    }

    /// The flags byte (see [`flags`]); the NS/AE bit in the data-offset byte is not included.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf[field::FLAGS]
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        be16(&self.buf[field::WIN_SIZE])
    }

    /// Checksum (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.buf[field::CHECKSUM])
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        be16(&self.buf[field::URGENT])
    }

    /// Options (empty when the data offset is 5).
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buf[field::OPTIONS..self.header_len()]
    }

    /// Segment data as captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SEGMENT: [u8; 27] = [
        0xbf, 0x00,             // source port 48896
        0x01, 0xbb,             // destination port 443
        0x01, 0x23, 0x45, 0x67, // sequence number
        0x89, 0xab, 0xcd, 0xef, // acknowledgment number
        0x60,                   // data offset 6 (24 bytes)
        0x12,                   // flags SYN, ACK
        0xff, 0xff,             // window
        0x12, 0x34,             // checksum
        0x00, 0x00,             // urgent pointer
        0x02, 0x04, 0x05, 0xb4, // option MSS 1460
        0x61, 0x62, 0x63,       // payload "abc"
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&SEGMENT).unwrap();
        assert_eq!(p.src_port(), 48896);
        assert_eq!(p.dst_port(), 443);
        assert_eq!(p.seq_number(), 0x0123_4567);
        assert_eq!(p.ack_number(), 0x89ab_cdef);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), flags::SYN | flags::ACK);
        assert_eq!(p.window_len(), 0xffff);
        assert_eq!(p.checksum(), 0x1234);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options(), &[0x02, 0x04, 0x05, 0xb4]);
        assert_eq!(p.payload(), b"abc");
    }

    #[test]
    fn truncated_fixed_header() {
        assert_eq!(
            Packet::new_checked(&SEGMENT[..19]).unwrap_err(),
            DropReason::TcpTruncated
        );
    }

    #[test]
    fn truncated_options() {
        assert_eq!(
            Packet::new_checked(&SEGMENT[..23]).unwrap_err(),
            DropReason::TcpTruncated
        );
    }

    #[test]
    fn data_offset_below_five() {
        let mut b = SEGMENT;
        b[12] = 0x40; // data offset 4
        assert_eq!(
            Packet::new_checked(&b).unwrap_err(),
            DropReason::TcpTruncated
        );
    }
}
