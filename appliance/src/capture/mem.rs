//! An in-memory [`PacketSource`]: frames held in a `Vec`, replayed in order. The test double of
//! every capture (STYLE.md §6), also used by benchmarks to take file I/O out of the measurement.

use super::{Frame, PacketSource};
use crate::error::Error;
use crate::packet::LinkType;

/// One owned frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire.
    pub wire_len: u32,
    /// Link type of `data`.
    pub link: LinkType,
    /// Captured bytes.
    pub data: Vec<u8>,
}

/// Replays owned frames; [`MemSource::rewind`] starts over.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    frames: Vec<OwnedFrame>,
    pos: usize,
}

impl MemSource {
    /// A source over `frames`.
    pub fn new(frames: Vec<OwnedFrame>) -> Self {
        MemSource { frames, pos: 0 }
    }

    /// Reads every frame of `source` into memory.
    ///
    /// # Errors
    ///
    /// The error of `source`, if it fails.
    pub fn collect(source: &mut dyn PacketSource) -> Result<Self, Error> {
        let mut frames = Vec::new();
        while source.next_batch(1024, &mut |f: Frame<'_>| {
            frames.push(OwnedFrame {
                ts_ns: f.ts_ns,
                wire_len: f.wire_len,
                link: f.link,
                data: f.data.to_vec(),
            });
        })? > 0
        {}
        Ok(MemSource::new(frames))
    }

    /// The frames held.
    pub fn frames(&self) -> &[OwnedFrame] {
        &self.frames
    }

    /// Starts the replay over from the first frame.
    pub fn rewind(&mut self) {
        self.pos = 0;
    }
}

impl PacketSource for MemSource {
    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error> {
        let end = self.frames.len().min(self.pos + max);
        for fr in &self.frames[self.pos..end] {
            f(Frame {
                ts_ns: fr.ts_ns,
                wire_len: fr.wire_len,
                link: fr.link,
                data: &fr.data,
                shared: None,
            });
        }
        let n = end - self.pos;
        self.pos = end;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_in_order_then_ends() {
        let frame = |ts| OwnedFrame {
            ts_ns: ts,
            wire_len: 3,
            link: LinkType::Raw,
            data: vec![1],
        };
        let mut src = MemSource::new(vec![frame(1), frame(2), frame(3)]);
        let mut seen = Vec::new();
        assert_eq!(src.next_batch(2, &mut |f| seen.push(f.ts_ns)).unwrap(), 2);
        assert_eq!(src.next_batch(2, &mut |f| seen.push(f.ts_ns)).unwrap(), 1);
        assert_eq!(src.next_batch(2, &mut |f| seen.push(f.ts_ns)).unwrap(), 0);
        assert_eq!(seen, [1, 2, 3]);
        src.rewind();
        assert_eq!(src.next_batch(8, &mut |_| {}).unwrap(), 3);
    }
}
