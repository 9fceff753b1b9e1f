//! Export: turning [`FlowRecord`] batches into bytes at a destination. One trait,
//! [`ExportSink`], one file per format. This module does not decide *when* records leave the
//! flow table (that is `flow`) nor which thread runs a sink (that is `pipeline`).

pub mod json;

use crate::error::Error;
use crate::flow::FlowRecord;

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
}
