//! Deep packet inspection (issue 4), being built: pure, allocation-light parsers of the first
//! payloads of a flow, one file or folder per protocol (STYLE.md §6). Each parser takes bytes
//! and returns borrowed views or a typed error; none keeps state across calls except the
//! explicit, byte-capped reassemblers. Nothing here is wired into the flow workers yet: that
//! (the `Dissector` trait, per-flow state, nDPI-compatible naming) comes with the rest of the
//! issue.

/// The first bytes of one direction of a flow, gathered across segments up to a fixed cap
/// (allocated once by [`CappedBuffer::new`]): what a parser that needs a whole message head
/// (HTTP, SSH) reads from. Segments must be pushed in order, without gaps; what does not fit is
/// left out, and [`CappedBuffer::is_full`] says so.
#[derive(Clone, Debug)]
pub struct CappedBuffer {
    buf: Box<[u8]>,
    len: usize,
}

impl CappedBuffer {
    /// A buffer holding at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        CappedBuffer {
            buf: vec![0; cap].into_boxed_slice(),
            len: 0,
        }
    }

    /// Appends as much of `data` as fits; returns how many bytes were kept.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// The bytes gathered so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// True when no more bytes fit.
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Empties the buffer (for the next message).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

pub mod dns;
pub mod http;
pub mod quic;
pub mod ssh;
pub mod tls;
