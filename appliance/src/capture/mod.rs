//! Where frames come from: the [`PacketSource`] trait and its implementations — capture files
//! ([`pcap`]), memory ([`mem`], the test double), and live queues: AF_XDP sockets ([`afxdp`])
//! and AF_PACKET fanout members ([`af_packet`]).
//!
//! A source only delivers bytes with a timestamp and a link type. It does not decode (that is
//! [`crate::packet`]) and it does not dispatch to workers (that is [`crate::pipeline`]).

pub mod af_packet;
pub mod afxdp;
pub mod mem;
pub mod pcap;

use std::time::Duration;

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
    /// The buffer `data` lies in, when the source lets it outlive the callback (pcap files
    /// read into reference-counted buffers): the pipeline then hands payloads to the workers
    /// by reference instead of copying them. `None`: copy what must be kept.
    pub shared: Option<&'a SharedBytes>,
}

/// A read buffer frames may point into after their callback (see [`Frame::shared`]).
pub type SharedBytes = std::sync::Arc<Vec<u8>>;

/// A source of frames, read in batches.
pub trait PacketSource {
    /// Calls `f` for up to `max` frames, in capture order, and returns how many it delivered.
    /// `Ok(0)` means a file source is exhausted, and a live source has nothing right now (call
    /// [`PacketSource::wait`]).
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

    /// Live sources: sleeps until frames may be there or `timeout` passes (`poll()` on the
    /// ring). Default (files): returns at once.
    ///
    /// # Errors
    ///
    /// The ring's descriptor failed.
    fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
        let _ = timeout;
        Ok(())
    }

    /// Live sources: the kernel's counters of the ring. Default: none.
    fn ring_stats(&mut self) -> Option<RingStats> {
        None
    }
}

/// Wall-clock time, ns since the Unix epoch (live sources stamp a batch with it).
pub fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What a ring's kernel side counted: frames that never reached us, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Frames the kernel dropped for this socket (AF_XDP `rx_dropped`, AF_PACKET `tp_drops`).
    pub dropped: u64,
    /// AF_XDP: times the RX ring was full.
    pub rx_ring_full: u64,
    /// AF_XDP: times the FILL ring was empty when a frame arrived.
    pub fill_ring_empty: u64,
    /// AF_XDP: invalid descriptors (RX).
    pub invalid_descs: u64,
    /// AF_PACKET: times the ring froze because every block was full.
    pub freeze_count: u64,
}
