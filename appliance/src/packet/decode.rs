//! The frame decoder (stub — being written).

use super::{Decoded, DecoderConfig, DropReason, LinkType};

/// Decodes frames; owns the IP fragment table.
#[derive(Debug)]
pub struct Decoder {
    _cfg: DecoderConfig,
}

impl Decoder {
    /// A decoder with `cfg`.
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder { _cfg: cfg }
    }

    /// Decodes one frame captured at `ts_ns` (used to age the fragment table).
    ///
    /// # Errors
    ///
    /// Why the frame cannot become part of a flow.
    pub fn decode(
        &mut self,
        _link: LinkType,
        _frame: &[u8],
        _ts_ns: u64,
    ) -> Result<Decoded, DropReason> {
        Err(DropReason::NotIp)
    }
}
