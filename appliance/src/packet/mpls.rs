//! MPLS label stack (RFC 3032), as carried by EtherType 0x8847 / 0x8848 or PPP 0x0281 / 0x0283.
//!
//! Owns the walk down the stack to the bottom-of-stack entry. It does *not* decide what the
//! payload is: MPLS has no payload type, so the decoder guesses IPv4/IPv6 from the version
//! nibble, as Wireshark's and nfstream's heuristics do.

use super::{DropReason, be32};

mod field {
    use crate::packet::Field;
    pub const ENTRY: Field = 0..4;
}

/// Length of one label stack entry.
pub const ENTRY_LEN: usize = 4;

const BOTTOM_OF_STACK: u32 = 0x100;

/// A read-only view of a label stack: the entries up to and including the bottom of stack,
/// and the payload after it.
#[derive(Clone, Copy, Debug)]
pub struct Stack<'a> {
    buf: &'a [u8],
    /// Bytes taken by the entries: `depth * ENTRY_LEN`, at most `buf.len()`.
    len: usize,
}

impl<'a> Stack<'a> {
    /// Walks the entries until one has the bottom-of-stack bit; afterwards no accessor panics.
    ///
    /// # Errors
    ///
    /// [`DropReason::MplsTruncated`] when the buffer ends before a bottom-of-stack entry.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        let mut off = 0;
        while let Some(entry) = buf.get(off..off + ENTRY_LEN) {
            off += ENTRY_LEN;
            if be32(entry) & BOTTOM_OF_STACK != 0 {
                return Ok(Stack { buf, len: off });
            }
        }
        Err(DropReason::MplsTruncated)
    }

    /// Number of label stack entries (at least 1).
    #[inline]
    pub fn depth(&self) -> usize {
        self.len / ENTRY_LEN
    }

    /// The raw 32-bit entry `i` (0 = top), if `i < depth()`.
    #[inline]
    pub fn entry(&self, i: usize) -> Option<u32> {
        if i >= self.depth() {
            return None;
        }
        let at = i * ENTRY_LEN;
        Some(be32(
            &self.buf[at + field::ENTRY.start..at + field::ENTRY.end],
        ))
    }

    /// The 20-bit label of entry `i` (0 = top), if `i < depth()`.
    #[inline]
    pub fn label(&self, i: usize) -> Option<u32> {
        self.entry(i).map(|e| e >> 12)
    }

    /// The 20-bit label of the bottom-of-stack entry.
    #[inline]
    pub fn bottom_label(&self) -> u32 {
        self.label(self.depth() - 1).unwrap_or(0)
    }

    /// Bytes taken by the stack.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.len
    }

    /// Everything after the bottom-of-stack entry.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.len..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const STACK: [u8; 9] = [
        0x00, 0x01, 0x20, 0x40, // label 18, TC 0, S 0, TTL 64
        0x00, 0x02, 0x11, 0x3f, // label 33, TC 0, S 1, TTL 63
        0x45,                   // payload: IPv4 version nibble
    ];

    #[test]
    fn deconstruct() {
        let s = Stack::new_checked(&STACK).unwrap();
        assert_eq!(s.depth(), 2);
        assert_eq!(s.label(0), Some(18));
        assert_eq!(s.label(1), Some(33));
        assert_eq!(s.label(2), None);
        assert_eq!(s.bottom_label(), 33);
        assert_eq!(s.header_len(), 8);
        assert_eq!(s.payload(), &[0x45]);
    }

    #[test]
    fn single_entry() {
        let s = Stack::new_checked(&STACK[4..]).unwrap();
        assert_eq!(s.depth(), 1);
        assert_eq!(s.bottom_label(), 33);
    }

    #[test]
    fn no_bottom_of_stack() {
        // One entry without S, then the frame ends.
        assert_eq!(
            Stack::new_checked(&STACK[..4]).unwrap_err(),
            DropReason::MplsTruncated
        );
        // Second entry cut short.
        assert_eq!(
            Stack::new_checked(&STACK[..7]).unwrap_err(),
            DropReason::MplsTruncated
        );
        assert_eq!(
            Stack::new_checked(&[]).unwrap_err(),
            DropReason::MplsTruncated
        );
    }
}
