//! Export: turning [`FlowRecord`] batches into bytes at a destination. One trait,
//! [`ExportSink`], one file per format. This module does not decide *when* records leave the
//! flow table (that is `flow`) nor which thread runs a sink (that is `pipeline`).

pub mod backoff;
pub mod events;
pub mod json;
pub mod nmsg;
pub mod stage;
pub mod unirec;

use crate::error::Error;
use crate::flow::FlowRecord;

/// What a sink counts itself; the export stage adds records, batches and queue drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Bytes handed to the destination (file, socket), after encoding and compression.
    pub bytes: u64,
    /// Records the sink could not deliver: collector down, TRAP client stalled (per client),
    /// UDP send failed. Counted, never an error.
    pub dropped: u64,
    /// Failures that were recovered from: failed connects, sends, reconnects.
    pub errors: u64,
}

/// A destination for finished flows.
pub trait ExportSink: Send {
    /// Short name for logs, metrics and the summary (`json`).
    fn name(&self) -> &'static str;

    /// Encodes and writes (or buffers) a batch of records.
    ///
    /// # Errors
    ///
    /// The destination failed; the error names it.
    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error>;

    /// Pushes out anything buffered. Called on a timer and at shutdown. Default: nothing is
    /// buffered.
    ///
    /// # Errors
    ///
    /// The destination failed.
    fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// The sink's own counters so far. Default: nothing counted.
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }

    /// Whether this sink wants lifecycle events: records of kind `Insert` and `Update` as
    /// well as ended flows (see `flow::RecordKind`). Default: only ended flows.
    fn wants_events(&self) -> bool {
        false
    }

    /// Reopens output files (SIGHUP, log rotation). Default: nothing to reopen.
    ///
    /// # Errors
    ///
    /// The file cannot be reopened.
    fn reopen(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
