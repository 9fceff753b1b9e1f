//! The JSON sink: NDJSON ([`encode()`]) to stdout, to a file (rotated by size and/or age, reopened
//! on SIGHUP) or to a TCP collector (reconnected with backoff). This module owns the
//! destination and its counters; it does not batch records in time (that is `export::stage`)
//! nor decide when a reopen happens (the SIGHUP flag is raised elsewhere).
//!
//! # Destinations ([`JsonTarget::parse`])
//!
//! | spec | target |
//! |---|---|
//! | `-` | stdout |
//! | `tcp:HOST:PORT`, `tcp:[V6ADDR]:PORT` | a TCP collector |
//! | anything else | a file path; write a path that literally starts with `tcp:` as `./tcp:...` |
//!
//! # Files (`file.rs`)
//!
//! The file is opened in append mode by [`JsonSink::new`] (a restart never destroys earlier
//! output) and truncated by [`JsonSink::create`] (one-shot runs). With `rotate_bytes`, a file
//! is closed before the record that would take it past the limit, so every file holds at most
//! `rotate_bytes` unless one record alone is larger. With `rotate_every`, a non-empty file is
//! closed once it is that old (checked per batch and at each flush). Records are never split.
//! Stdout and TCP targets ignore both settings.
//! A closed file is renamed to `PATH.<UTC time of rotation, YYYYmmddTHHMMSSZ>`, or
//! `PATH.<time>.1`, `.2`, ... when that name exists: a rotated file is never overwritten. Then a
//! fresh `PATH` is started. [`ExportSink::reopen`] (SIGHUP, for logrotate) writes out what is
//! buffered, then closes and reopens `PATH` in append mode without renaming anything.
//!
//! # TCP collectors (`tcp.rs`)
//!
//! The sink connects at start; a collector that is down is counted as an error, not a failure.
//! Records go out through a buffer of whole records. Any failed write (error, or a collector too
//! slow to take a buffer within the write timeout) drops the connection, counts one error and
//! counts the records not completely sent as dropped. While disconnected, records are dropped and
//! counted, and a reconnect is tried from `write_batch`/`flush` (no background thread) after an
//! exponential backoff (100 ms doubling to 5 s). A new connection always starts at a record
//! boundary. No call blocks for much longer than a connect timeout (1 s per resolved address)
//! plus a write timeout (1 s).
//!
//! # Counters ([`ExportSink::stats`])
//!
//! `bytes` handed to the destination, `dropped` records (TCP only) and recovered `errors` (TCP
//! only: failed connects, failed or stalled sends, connections closed by the collector). File and
//! stdout failures are not recovered: they are returned as [`Error`].

mod encode;
pub use self::encode::encode as encode_record;
mod file;
mod tcp;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

pub use self::encode::encode;
use super::{ExportSink, SinkStats};
use crate::error::Error;
use crate::flow::FlowRecord;

/// Bytes buffered before a stdout, writer or file sink writes them out.
const WRITE_AT: usize = 1 << 19;

/// Where NDJSON goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonTarget {
    /// Standard output (`-`).
    Stdout,
    /// A file, optionally rotated.
    File(PathBuf),
    /// A TCP collector, `HOST:PORT` as given (resolved at every connect).
    Tcp(String),
}

impl JsonTarget {
    /// Parses a destination: `-` is stdout, `tcp:HOST:PORT` (IPv6 in brackets:
    /// `tcp:[::1]:9000`) a TCP collector, anything else a file path. A file whose path starts
    /// with `tcp:` is written `./tcp:...`.
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] for an empty spec or a `tcp:` spec without a valid host and port.
    pub fn parse(spec: &str) -> Result<JsonTarget, Error> {
        let bad = |reason: &str| Error::SinkSpec {
            sink: "json",
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec.is_empty() {
            return Err(bad(
                "empty; give a file path, `-` for stdout or `tcp:HOST:PORT`",
            ));
        }
        if spec == "-" {
            return Ok(JsonTarget::Stdout);
        }
        let Some(addr) = spec.strip_prefix("tcp:") else {
            return Ok(JsonTarget::File(PathBuf::from(spec)));
        };
        const FORMS: &str = "expected `tcp:HOST:PORT` or `tcp:[IPV6]:PORT` \
                             (a file named `tcp:...` is written `./tcp:...`)";
        let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
            let Some((host, port)) = rest.split_once("]:") else {
                return Err(bad(&format!("unclosed `[` or missing port; {FORMS}")));
            };
            (host, port)
        } else {
            let Some((host, port)) = addr.rsplit_once(':') else {
                return Err(bad(&format!("missing port; {FORMS}")));
            };
            if host.contains(':') {
                return Err(bad(&format!("an IPv6 address needs brackets; {FORMS}")));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad(&format!("missing host; {FORMS}")));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(JsonTarget::Tcp(addr.to_string())),
            _ => Err(bad(&format!(
                "port `{port}` is not a number from 1 to 65535; {FORMS}"
            ))),
        }
    }
}

impl fmt::Display for JsonTarget {
    /// The spec form: `-`, the path, or `tcp:HOST:PORT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonTarget::Stdout => f.write_str("-"),
            JsonTarget::File(p) => write!(f, "{}", p.display()),
            JsonTarget::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Settings of a JSON sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonConfig {
    /// Where records go.
    pub target: JsonTarget,
    /// Files: rotate before a record that would take the file past this many bytes. Ignored
    /// for stdout and TCP, so one setting can serve several targets; a caller that wants to
    /// refuse rotation without any file target checks that itself.
    pub rotate_bytes: Option<u64>,
    /// Files: rotate a non-empty file once it is this old (since it was opened). Ignored for
    /// stdout and TCP.
    pub rotate_every: Option<Duration>,
}

impl JsonConfig {
    /// A target without rotation.
    pub fn new(target: JsonTarget) -> Self {
        JsonConfig {
            target,
            rotate_bytes: None,
            rotate_every: None,
        }
    }
}

/// Writes records as NDJSON to stdout, a file or a TCP collector (see the module doc).
pub struct JsonSink {
    out: Out,
    stats: SinkStats,
}

enum Out {
    /// Stdout or a caller's writer: unrecoverable errors, no rotation.
    Writer(Writer),
    File(file::RotatingFile),
    Tcp(tcp::Collector),
}

struct Writer {
    /// For errors: `-` or the caller's name.
    name: PathBuf,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl Writer {
    fn write_out(&mut self, stats: &mut SinkStats) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.out
            .write_all(&self.buf)
            .map_err(|source| Error::OutputIo {
                path: self.name.clone(),
                source,
            })?;
        stats.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl fmt::Debug for JsonSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.out {
            Out::Writer(w) => w.name.display().to_string(),
            Out::File(file) => file.path().display().to_string(),
            Out::Tcp(c) => format!("tcp:{}", c.addr()),
        };
        f.debug_struct("JsonSink")
            .field("target", &target)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl JsonSink {
    /// Opens the destination of `cfg`: a file in append mode, or a TCP connection (a collector
    /// that is down is counted in `errors`, and records are dropped until it is up).
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] for a zero rotation size or period (whatever the target);
    /// [`Error::SinkIo`] when the file cannot be opened.
    pub fn new(cfg: JsonConfig) -> Result<Self, Error> {
        if cfg.rotate_bytes == Some(0) || cfg.rotate_every == Some(Duration::ZERO) {
            return Err(Error::SinkSpec {
                sink: "json",
                spec: cfg.target.to_string(),
                reason: "the rotation size and period must be greater than 0".to_string(),
            });
        }
        let mut stats = SinkStats::default();
        let out = match cfg.target {
            JsonTarget::File(path) => Out::File(file::RotatingFile::open(
                path,
                false,
                cfg.rotate_bytes,
                cfg.rotate_every,
            )?),
            JsonTarget::Stdout => Out::Writer(Writer {
                name: PathBuf::from("-"),
                out: Box::new(std::io::stdout()),
                buf: Vec::with_capacity(WRITE_AT * 2),
            }),
            JsonTarget::Tcp(addr) => Out::Tcp(tcp::Collector::connect(addr, &mut stats)),
        };
        Ok(JsonSink { out, stats })
    }

    /// Creates (truncates) `path`, or writes to stdout when it is `-`; no rotation.
    ///
    /// # Errors
    ///
    /// [`Error::SinkIo`] when the file cannot be created.
    pub fn create(path: PathBuf) -> Result<Self, Error> {
        if path.as_os_str() == "-" {
            return JsonSink::new(JsonConfig::new(JsonTarget::Stdout));
        }
        Ok(JsonSink {
            out: Out::File(file::RotatingFile::open(path, true, None, None)?),
            stats: SinkStats::default(),
        })
    }

    /// Writes to any writer (tests, benchmarks), named `name` in errors.
    pub fn to_writer(name: &str, out: Box<dyn Write + Send>) -> Self {
        JsonSink {
            out: Out::Writer(Writer {
                name: PathBuf::from(name),
                out,
                buf: Vec::with_capacity(WRITE_AT * 2),
            }),
            stats: SinkStats::default(),
        }
    }
}

impl ExportSink for JsonSink {
    fn name(&self) -> &'static str {
        "json"
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
        match &mut self.out {
            Out::Writer(w) => {
                for r in records {
                    encode(r, &mut w.buf);
                }
                if w.buf.len() >= WRITE_AT {
                    w.write_out(&mut self.stats)?;
                }
                Ok(())
            }
            Out::File(f) => f.write_batch(records, &mut self.stats),
            Out::Tcp(c) => {
                c.write_batch(records, &mut self.stats);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        match &mut self.out {
            Out::Writer(w) => {
                w.write_out(&mut self.stats)?;
                w.out.flush().map_err(|source| Error::OutputIo {
                    path: w.name.clone(),
                    source,
                })
            }
            Out::File(f) => f.flush(&mut self.stats),
            Out::Tcp(c) => {
                c.flush(&mut self.stats);
                Ok(())
            }
        }
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    /// Files: writes out the buffer, then closes and reopens the path (append, no rename).
    /// Stdout and TCP: nothing to reopen.
    fn reopen(&mut self) -> Result<(), Error> {
        match &mut self.out {
            Out::File(f) => f.reopen(&mut self.stats),
            Out::Writer(_) | Out::Tcp(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_reason(spec: &str) -> String {
        match JsonTarget::parse(spec) {
            Err(Error::SinkSpec { sink, reason, .. }) => {
                assert_eq!(sink, "json");
                reason
            }
            other => panic!("`{spec}`: expected SinkSpec, got {other:?}"),
        }
    }

    #[test]
    fn parses_stdout_files_and_tcp() {
        assert_eq!(JsonTarget::parse("-").unwrap(), JsonTarget::Stdout);
        assert_eq!(
            JsonTarget::parse("out.json").unwrap(),
            JsonTarget::File("out.json".into())
        );
        assert_eq!(
            JsonTarget::parse("/var/log/xdpflow/flows.json").unwrap(),
            JsonTarget::File("/var/log/xdpflow/flows.json".into())
        );
        // The documented escape for a file whose name starts with `tcp:`.
        assert_eq!(
            JsonTarget::parse("./tcp:1").unwrap(),
            JsonTarget::File("./tcp:1".into())
        );
        // Only a leading `-` alone means stdout.
        assert_eq!(
            JsonTarget::parse("--").unwrap(),
            JsonTarget::File("--".into())
        );
        assert_eq!(
            JsonTarget::parse("tcp:127.0.0.1:9000").unwrap(),
            JsonTarget::Tcp("127.0.0.1:9000".into())
        );
        assert_eq!(
            JsonTarget::parse("tcp:collector.example:65535").unwrap(),
            JsonTarget::Tcp("collector.example:65535".into())
        );
        assert_eq!(
            JsonTarget::parse("tcp:[::1]:9000").unwrap(),
            JsonTarget::Tcp("[::1]:9000".into())
        );
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(spec_reason("").contains("empty"));
        assert!(spec_reason("tcp:").contains("missing port"));
        assert!(spec_reason("tcp:host").contains("missing port"));
        assert!(spec_reason("tcp::9000").contains("missing host"));
        assert!(spec_reason("tcp:[]:9000").contains("missing host"));
        assert!(spec_reason("tcp:host:").contains("port ``"));
        assert!(spec_reason("tcp:host:0").contains("1 to 65535"));
        assert!(spec_reason("tcp:host:65536").contains("1 to 65535"));
        assert!(spec_reason("tcp:host:http").contains("1 to 65535"));
        assert!(spec_reason("tcp:::1:9000").contains("brackets"));
        assert!(spec_reason("tcp:[::1]9000").contains("unclosed"));
        assert!(spec_reason("tcp:[::1").contains("unclosed"));
        // Every reason names the accepted forms and the escape for files.
        assert!(spec_reason("tcp:x").contains("./tcp:"));
    }

    #[test]
    fn displays_the_spec_form() {
        for spec in ["-", "out.json", "tcp:[::1]:9000", "tcp:h:1"] {
            assert_eq!(JsonTarget::parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn rejects_zero_rotation_limits_and_ignores_rotation_off_files() {
        let cfg = |target, rotate_bytes, rotate_every| JsonConfig {
            target,
            rotate_bytes,
            rotate_every,
        };
        for c in [
            cfg(JsonTarget::Stdout, Some(0), None),
            cfg(JsonTarget::File("x".into()), Some(0), None),
            cfg(JsonTarget::File("x".into()), None, Some(Duration::ZERO)),
        ] {
            let err = JsonSink::new(c.clone()).expect_err("rejected");
            assert!(
                matches!(err, Error::SinkSpec { sink: "json", .. }),
                "{c:?}: {err:?}"
            );
        }
        let every = Some(Duration::from_secs(1));
        JsonSink::new(cfg(JsonTarget::Stdout, Some(10), every)).expect("stdout, no rotation");
        let sink = JsonSink::new(cfg(JsonTarget::Tcp(closed_port()), Some(10), every))
            .expect("tcp, no rotation");
        assert_eq!(sink.stats().errors, 1, "nobody listens");
    }

    /// A port nobody listens on (bound, then released).
    fn closed_port() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    #[test]
    fn writer_counts_bytes_and_flushes() {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut sink = JsonSink::to_writer("mem", Box::new(Shared(shared.clone())));
        let r = encode::tests::record();
        sink.write_batch(&[r.clone(), r.clone()]).unwrap();
        assert!(shared.lock().unwrap().is_empty(), "buffered until flush");
        sink.flush().unwrap();
        let mut want = Vec::new();
        encode(&r, &mut want);
        encode(&r, &mut want);
        assert_eq!(*shared.lock().unwrap(), want);
        assert_eq!(
            sink.stats(),
            SinkStats {
                bytes: want.len() as u64,
                dropped: 0,
                errors: 0
            }
        );
    }
}
