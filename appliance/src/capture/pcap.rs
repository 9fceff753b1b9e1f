//! Capture files: classic pcap and pcapng. (stub — being written)

use std::path::PathBuf;

use super::{Frame, PacketSource};
use crate::error::Error;

/// Reads capture files in order.
#[derive(Debug)]
pub struct PcapSource {
    _paths: Vec<PathBuf>,
}

impl PcapSource {
    /// Opens `paths` in order; `-` is stdin.
    ///
    /// # Errors
    ///
    /// A file that cannot be opened or is not a capture.
    pub fn open(paths: &[PathBuf]) -> Result<Self, Error> {
        Ok(PcapSource { _paths: paths.to_vec() })
    }

    /// Reads a capture held in memory (the embedded sample), named `name` in errors.
    pub fn from_bytes(name: &str, _bytes: &'static [u8]) -> Self {
        PcapSource { _paths: vec![PathBuf::from(name)] }
    }

    /// Bytes consumed so far over all files (for progress).
    pub fn bytes_read(&self) -> u64 {
        0
    }
}

impl PacketSource for PcapSource {
    fn next_batch(&mut self, _max: usize, _f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error> {
        Ok(0)
    }
}
