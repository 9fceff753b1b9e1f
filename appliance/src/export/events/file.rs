//! The simplest [`FlowAdaptor`]: every lifecycle event as one JSON line,
//! `{"event":"insert|update|remove","key":"<flow key>","record":{...}}`, where `record` is the
//! NDJSON record of `export::json` as it stands. To a file (`--events PATH`, reopened for
//! appending on SIGHUP) or stdout (`--events -`). A way to watch the lifecycle, and a model
//! for a database adaptor.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use super::FlowAdaptor;
use crate::error::Error;
use crate::export::SinkStats;
use crate::export::json::encode_record as encode;
use crate::flow::FlowRecord;

/// Events as JSON lines.
#[derive(Debug)]
pub struct EventFile {
    path: Option<PathBuf>,
    out: Option<File>,
    buf: Vec<u8>,
    record: Vec<u8>,
    stats: SinkStats,
}

impl EventFile {
    /// Writes to `path` (created or truncated), or to stdout when `path` is `-`.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub fn open(path: &str) -> Result<Self, Error> {
        let (path, out) = if path == "-" {
            (None, None)
        } else {
            let p = PathBuf::from(path);
            let f = File::create(&p).map_err(|source| Error::OutputIo {
                path: p.clone(),
                source,
            })?;
            (Some(p), Some(f))
        };
        Ok(EventFile {
            path,
            out,
            buf: Vec::with_capacity(1 << 16),
            record: Vec::with_capacity(1024),
            stats: SinkStats::default(),
        })
    }

    fn event(&mut self, event: &str, key: &str, r: &FlowRecord) {
        self.record.clear();
        encode(r, &mut self.record);
        while self.record.last() == Some(&b'\n') {
            self.record.pop();
        }
        self.buf.extend_from_slice(b"{\"event\":\"");
        self.buf.extend_from_slice(event.as_bytes());
        self.buf.extend_from_slice(b"\",\"key\":\"");
        // Keys hold digits, dots, colons and `|` only: nothing to escape.
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\",\"record\":");
        self.buf.extend_from_slice(&self.record);
        self.buf.extend_from_slice(b"}\n");
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::OutputIo {
            path: self.path.clone().unwrap_or_else(|| PathBuf::from("-")),
            source,
        }
    }
}

impl FlowAdaptor for EventFile {
    fn name(&self) -> &'static str {
        "events"
    }

    fn insert(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.event("insert", key, record);
        Ok(())
    }

    fn update(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.event("update", key, record);
        Ok(())
    }

    fn remove(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.event("remove", key, record);
        Ok(())
    }

    fn end_batch(&mut self) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = match &mut self.out {
            Some(f) => f.write_all(&self.buf),
            None => std::io::stdout().lock().write_all(&self.buf),
        };
        r.map_err(|e| self.io_error(e))?;
        self.stats.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn reopen(&mut self) -> Result<(), Error> {
        if let Some(p) = &self.path {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| self.io_error(e))?;
            self.out = Some(f);
        }
        Ok(())
    }
}
