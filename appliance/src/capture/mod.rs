//! Where frames come from: the [`PacketSource`] trait and its implementations — capture files
//! ([`pcap`]) and memory ([`mem`], the test double). AF_XDP queues come with their own issue.
//!
//! A source only delivers bytes with a timestamp and a link type. It does not decode (that is
//! [`crate::packet`]) and it does not dispatch to workers (that is [`crate::pipeline`]).

pub mod mem;
pub mod pcap;

use crate::error::Error;
use crate::packet::LinkType;

/// One captured frame, borrowed from the source for the duration of a callback.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length of the frame on the wire (pcap `orig_len`); `data` may be shorter (snaplen).
    pub wire_len: u32,
    /// How to decode `data`.
    pub link: LinkType,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// A source of frames, read in batches.
pub trait PacketSource {
    /// Calls `f` for up to `max` frames, in capture order, and returns how many it delivered.
    /// `Ok(0)` means the source is exhausted (a live source would instead wait).
    ///
    /// # Errors
    ///
    /// A broken source (truncated or corrupt capture file, I/O error). Frames delivered before
    /// the error are valid; the caller exports what it has built and reports the error.
    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error>;

    /// Bytes of input consumed so far and, when known, in all (for a progress display).
    /// Default: unknown.
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        None
    }
}
