//! The one error type of the `appliance` crate. Variants carry what the operator must fix (the
//! file, the offset, the option) and the underlying `#[source]`. Data-plane failures are not
//! errors: they are [`crate::packet::DropReason`] counters.

use std::path::PathBuf;

/// Everything that can stop a run of the appliance.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A capture file (or stdin) could not be opened or read.
    #[error("cannot read capture `{path}`")]
    CaptureIo {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error(
        "`{path}` is not a pcap or pcapng capture (first bytes {magic:02x?}); \
         convert it with `editcap -F pcap` or check the path"
    )]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// Its first bytes, as read.
        magic: Vec<u8>,
    },
    /// The file ends inside a header or a packet record.
    #[error(
        "capture `{path}` is truncated at byte offset {offset}: {what}; \
         flows up to that point were exported"
    )]
    CaptureTruncated {
        /// The file.
        path: PathBuf,
        /// Offset of the record that is cut short.
        offset: u64,
        /// Which part is missing.
        what: String,
    },
    /// A record or block header holds impossible values.
    #[error("capture `{path}` is corrupt at byte offset {offset}: {what}")]
    CaptureCorrupt {
        /// The file.
        path: PathBuf,
        /// Offset of the bad record or block.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// An output file could not be created or written.
    #[error("cannot write output `{path}`")]
    OutputIo {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An export destination spec (`--nmsg udp:HOST:PORT`, `--trap u:NAME`, ...) is malformed.
    #[error("invalid {sink} destination `{spec}`: {reason}")]
    SinkSpec {
        /// The sink kind (`nmsg`, `trap`, `json`).
        sink: &'static str,
        /// The spec as given.
        spec: String,
        /// What is wrong and the accepted forms.
        reason: String,
    },
    /// An export destination could not be opened, bound or written (fatal for that sink;
    /// transient network failures are counted, not errors).
    #[error("{sink} output `{target}`: {action} failed")]
    SinkIo {
        /// The sink kind.
        sink: &'static str,
        /// The destination (path, address, socket name).
        target: String,
        /// What was attempted (`create`, `bind`, `write`, ...).
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A command-line or config value is out of range or inconsistent.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option as the user writes it (`--workers`).
        option: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The kernel side (XDP program, AF_XDP socket, AF_PACKET ring, NIC query) failed; the
    /// source names the interface, queue and fix.
    #[error("capture on `{queue}` failed")]
    Capture {
        /// The interface and queue (`eth0/3`), or the interface alone.
        queue: String,
        /// What the kernel side reported (boxed: it is large, and rare).
        #[source]
        source: Box<xdp_prog::Error>,
    },
    /// At the end of a run a sink was still writing when its drain deadline passed.
    #[error(
        "{sink} output did not drain within {timeout:?} of stopping: {undelivered} records were \
         not delivered (raise --drain-timeout, or check the collector)"
    )]
    SinkDrainTimeout {
        /// The sink.
        sink: &'static str,
        /// The deadline it had.
        timeout: std::time::Duration,
        /// Records queued for it and never written.
        undelivered: u64,
    },
    /// A pipeline thread panicked or could not be started.
    #[error("pipeline thread `{thread}` failed: {reason}")]
    Thread {
        /// The thread's name.
        thread: String,
        /// What happened.
        reason: String,
    },
    /// The configuration file (`--config FILE`) could not be read.
    #[error("cannot read config file `{path}`")]
    ConfigIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A setting in the configuration file is wrong: not TOML, an unknown key, a key in the
    /// wrong table, or a value the option rejects.
    #[error("{path} line {line}: `{setting}`: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key (or of the array element at fault).
        line: usize,
        /// The setting as written (`idle_timeout = 0`).
        setting: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A problem with the configuration file that no single line causes.
    #[error("{path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Several problems in the configuration file, each printed on its own line.
    #[error("{path} has {} errors:\n{}", .errors.len(), one_per_line(.errors))]
    ConfigErrors {
        /// The file.
        path: PathBuf,
        /// Each problem (`Config` or `ConfigFile`), in line order.
        errors: Vec<Error>,
    },
}

/// `errors`, one per line (for [`Error::ConfigErrors`]).
fn one_per_line(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
