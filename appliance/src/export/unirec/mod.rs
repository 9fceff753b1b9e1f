//! UniRec over TRAP: the NEMEA export (`--trap`), exactly per `../shared/specs/unirec-trap.md`.
//!
//! This module owns the TRAP *output* interface (the server side: NEMEA modules connect to us
//! as inputs) and the UniRec encoding of a [`FlowRecord`]. It does not choose when records are
//! exported nor on which thread (`export::stage`), and it never reads from a client.
//!
//! # Destinations
//!
//! * `u:NAME` — UNIX stream socket `<socket_dir>/trap-NAME.sock` (mode 0666). `socket_dir` is
//!   `$TRAP_SOCKET_DIR` if set, else [`DEFAULT_SOCKET_DIR`] (`/tmp`, libtrap's default for a
//!   source build; CESNET's RPMs use `/run/libtrap`: set `TRAP_SOCKET_DIR` or the config field
//!   to match them). A stale socket file is replaced; a live one (another output answers) or a
//!   non-socket file is an error. The file is removed on close.
//! * `t:PORT` or `t:ADDR:PORT` — TCP. `t:PORT` binds the configured address (127.0.0.1 by
//!   default; libtrap always binds the wildcard address, we do so only when told, e.g.
//!   `t:0.0.0.0:PORT`). Port 0 picks a free port ([`TrapSink::local_addr`]).
//! * `f:PATH` — a `.trapcap` file as libtrap's `f:` output writes it: the hello, then containers
//!   with the **4-byte** header (libtrap's file interface never used the 14-byte one, §4), so
//!   `f:` ignores [`BufferHeader`]. [`ExportSink::reopen`] reopens the path: appends if it exists
//!   and is not empty (it then already starts with our hello), else starts it with the hello.
//!   libtrap's `:w`/`:a`/`:time=`/`:size=` parameters are not accepted.
//!
//! # Stream
//!
//! Each client first gets the hello (`data_type` 2 = UniRec, then the template specifier), then
//! every container completed after it connected (no replay, as libtrap). Containers use the
//! libtrap ≥ 1.17 header (14 bytes: BE payload length, LE seq_num, LE msg_count) by default,
//! or the old 4-byte one ([`BufferHeader::Old`]) for libtrap ≤ 1.16 peers; the two cannot detect
//! each other, so this must match the consumers. A container is sent when the next record would
//! not fit in `buffer_size` (header included, at most 100 000: default-built readers have a
//! fixed 100 001-byte buffer), on [`ExportSink::flush`], and when its first record is
//! `autoflush` old (checked per batch). With `end_marker`, closing the sink sends libtrap's
//! 1-byte end-of-stream message (off by default, as in ipfixprobe: NEMEA modules exit on it).
//!
//! # Clients
//!
//! Sockets are non-blocking; `write_batch` and `flush` never wait for a client. New clients are
//! accepted at the start of each `write_batch`/`flush` call (so one connecting while no flows
//! are exported gets its hello with the next call). Up to `max_clients` (64) are served; more
//! are closed at once and counted (`stats().errors`, [`TrapCounters::refused`]). Each client
//! has a backlog of at most `client_buffer` bytes for what its socket did not take; a container
//! that does not fit is dropped *for that client only*, whole (the stream stays framed), and
//! its records are counted in `stats().dropped` (once per client that missed them). A client
//! that leaves is removed when a write to it fails. Without any client, records are not even
//! encoded: they are counted in [`TrapCounters::unsent`], not as dropped (libtrap discards
//! them the same way). When the sink is dropped it keeps sending backlogs for up to `linger`,
//! then closes.
//!
//! # Template
//!
//! ipfixprobe's `basic` group plus `LINK_BIT_FIELD` (spec §5.1) with the NEMEA names and
//! types, then dynamic fields. Wire order (UniRec's: size descending, then name) and offsets:
//!
//! | off | field | value |
//! |---|---|---|
//! | 0 | `ipaddr DST_IP` | `dst_ip` (IPv4 in UniRec's layout, not `::ffff:`) |
//! | 16 | `ipaddr SRC_IP` | `src_ip` (the side that sent the first packet) |
//! | 32 | `uint64 BYTES` | `src2dst_bytes` (per `--accounting`) |
//! | 40 | `uint64 BYTES_REV` | `dst2src_bytes` |
//! | 48 | `uint64 LINK_BIT_FIELD` | config `link_bit_field` (default 1) |
//! | 56 | `time TIME_FIRST` | `bidirectional_first_seen_ms` |
//! | 64 | `time TIME_LAST` | `bidirectional_last_seen_ms` |
//! | 72 | `macaddr DST_MAC` | `dst_mac` |
//! | 78 | `macaddr SRC_MAC` | `src_mac` |
//! | 84 | `uint32 PACKETS` | `src2dst_packets` (saturates at 2³²−1) |
//! | 88 | `uint32 PACKETS_REV` | `dst2src_packets` (saturates) |
//! | 92 | `uint16 DST_PORT` | `dst_port` |
//! | 94 | `uint16 SRC_PORT` | `src_port` |
//! | 96 | `uint8 DIR_BIT_FIELD` | config `dir_bit_field` (default 0: no in/out notion) |
//! | 97 | `uint8 PROTOCOL` | `protocol` |
//! | 98 | `uint8 TCP_FLAGS` | OR of the src→dst flags (¹) |
//! | 99 | `uint8 TCP_FLAGS_REV` | OR of the dst→src flags (¹) |
//! | 100 | `int8* PPI_PKT_DIRECTIONS` | `--splt`: 1 src→dst, −1 dst→src (ipfixprobe `pstats`) |
//! | 104 | `uint16* PPI_PKT_LENGTHS` | `--splt`: `splt_ps` (²) |
//! | 108 | `time* PPI_PKT_TIMES` | `--splt`: `TIME_FIRST`, then + `splt_piat_ms` each |
//!
//! (¹) `FlowRecord::tcp_flags`: the flow table ORs every TCP packet's flags byte per direction
//! (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80, as in the
//! TCP header and ipfixprobe); 0 for other protocols.
//! (²) Packet size per `--accounting`; ipfixprobe's `pstats` counts payload bytes and skips
//! empty packets, we do not.
//!
//! `static_size` is 112. The three arrays have one element per packet of `--splt` (padding
//! left out), are empty without `--splt`, and are cut so a record fits a container.
//! Times are the UniRec `time` format (seconds << 32 | fraction in 2⁻³² s) from our
//! millisecond timestamps.
//!
//! DPI does not exist yet. When `dpi/` lands, its fields join the dynamic part under
//! ipfixprobe's names and types (one line each in `flow.rs`): `string TLS_SNI`,
//! `string TLS_ALPN`, `uint16 TLS_VERSION`, `bytes TLS_JA3`, `string TLS_JA4`,
//! `string HTTP_REQUEST_HOST`, `string HTTP_REQUEST_URL`, `string HTTP_REQUEST_AGENT`,
//! `string DNS_Q_NAME` and `string QUIC_SNI`; a field empty for a flow is sent with length 0.
//! Consumers re-derive the order from the hello, so adding fields is compatible.
//!
//! Encoding writes into one reused container buffer (no allocation per record); a full
//! container is written to each client's socket straight from that buffer and copied only
//! for the part a socket did not take.

mod flow;
mod template;
mod trap;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use self::flow::FlowEncoder;
pub use self::template::{Elem, Field, Slot, Template, TooLong, Type};
use self::trap::{BindError, Container, FileOut, Framing, HEADER_ROOM, Server};
use super::{ExportSink, SinkStats};
use crate::error::Error;
use crate::flow::FlowRecord;

/// Socket directory when `$TRAP_SOCKET_DIR` is not set: libtrap's default for a source build.
pub const DEFAULT_SOCKET_DIR: &str = "/tmp";

/// Largest container (header included) we send: default-built libtrap readers have a fixed
/// 100 001-byte buffer and do not check the length (§3).
pub const MAX_BUFFER_SIZE: usize = 100_000;

/// Smallest `buffer_size` accepted.
pub const MIN_BUFFER_SIZE: usize = 1024;

const SINK: &str = "trap";

/// `$TRAP_SOCKET_DIR` if set and not empty, else [`DEFAULT_SOCKET_DIR`].
pub fn default_socket_dir() -> PathBuf {
    match std::env::var_os("TRAP_SOCKET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_SOCKET_DIR),
    }
}

/// Where the TRAP output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapTarget {
    /// `u:NAME`: UNIX socket `<socket_dir>/trap-NAME.sock`.
    Unix(String),
    /// `t:PORT` / `t:ADDR:PORT`: TCP listener.
    Tcp(SocketAddr),
    /// `f:PATH`: file.
    File(PathBuf),
}

const FORMS: &str = "expected u:NAME, t:PORT, t:ADDR:PORT or f:PATH";
const NO_PARAMS: &str = "libtrap interface parameters (`:max_clients=N`, `:buffer_size=N`, \
                         `:timeout=`, ...) are not part of the destination; use the trap options";

impl TrapTarget {
    /// Parses `u:NAME`, `t:PORT` (bound on `bind`), `t:ADDR:PORT` (`t:[::1]:PORT` or
    /// `t:::1:PORT` for IPv6) or `f:PATH`.
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] naming the spec and what is wrong.
    pub fn parse(spec: &str, bind: IpAddr) -> Result<TrapTarget, Error> {
        let bad = |reason: String| Error::SinkSpec {
            sink: SINK,
            spec: spec.to_string(),
            reason,
        };
        let Some((kind, rest)) = spec.split_once(':') else {
            return Err(bad(FORMS.into()));
        };
        match kind {
            "u" => {
                if rest.is_empty() {
                    return Err(bad("the socket name is empty; expected u:NAME".into()));
                }
                if rest.contains('=') {
                    return Err(bad(NO_PARAMS.into()));
                }
                if let Some(c) = rest.chars().find(|c| matches!(c, '/' | ':' | '\0')) {
                    return Err(bad(format!(
                        "the socket name must not contain `{}`; it becomes \
                         <socket dir>/trap-NAME.sock (set the directory with TRAP_SOCKET_DIR)",
                        c.escape_default()
                    )));
                }
                Ok(TrapTarget::Unix(rest.to_string()))
            }
            "t" => {
                if rest.is_empty() {
                    return Err(bad(
                        "the port is missing; expected t:PORT or t:ADDR:PORT".into()
                    ));
                }
                if rest.contains('=') {
                    return Err(bad(NO_PARAMS.into()));
                }
                if let Ok(port) = rest.parse::<u16>() {
                    return Ok(TrapTarget::Tcp(SocketAddr::new(bind, port)));
                }
                if let Ok(addr) = rest.parse::<SocketAddr>() {
                    return Ok(TrapTarget::Tcp(addr));
                }
                let Some((host, port)) = rest.rsplit_once(':') else {
                    return Err(bad(format!(
                        "`{rest}` is not a port (0-65535); expected t:PORT or t:ADDR:PORT"
                    )));
                };
                let Ok(port) = port.parse::<u16>() else {
                    return Err(bad(format!("`{port}` is not a port (0-65535)")));
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                match host.parse::<IpAddr>() {
                    Ok(ip) => Ok(TrapTarget::Tcp(SocketAddr::new(ip, port))),
                    Err(_) => Err(bad(format!(
                        "`{host}` is not an IP address; the output listens, so give the \
                         address to bind (127.0.0.1, ::1, 0.0.0.0 for all), not a host name"
                    ))),
                }
            }
            "f" => {
                if rest.is_empty() {
                    return Err(bad("the path is empty; expected f:PATH".into()));
                }
                if let Some((_, last)) = rest.rsplit_once(':')
                    && (matches!(last, "w" | "a")
                        || last.starts_with("time=")
                        || last.starts_with("size="))
                {
                    return Err(bad(format!(
                        "libtrap file parameters (`:w`, `:a`, `:time=`, `:size=`) are not \
                         supported; `:{last}` would be part of the file name"
                    )));
                }
                Ok(TrapTarget::File(PathBuf::from(rest)))
            }
            "T" => Err(bad("TLS (`T:`) is not supported; use t: or u:".into())),
            "b" | "g" | "s" => Err(bad(format!(
                "the libtrap `{kind}:` interface is not an export destination; {FORMS}"
            ))),
            _ => Err(bad(FORMS.into())),
        }
    }
}

impl fmt::Display for TrapTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapTarget::Unix(name) => write!(f, "u:{name}"),
            TrapTarget::Tcp(addr) => write!(f, "t:{addr}"),
            TrapTarget::File(path) => write!(f, "f:{}", path.display()),
        }
    }
}

/// Container header on `u:` and `t:` (`f:` always uses the old one, as libtrap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BufferHeader {
    /// libtrap ≥ 1.17 (2023): 14 bytes with seq_num and msg_count.
    #[default]
    V17,
    /// libtrap ≤ 1.16: the 4-byte payload length only.
    Old,
}

/// Settings of a TRAP output.
#[derive(Clone, Debug)]
pub struct TrapConfig {
    /// Destination.
    pub target: TrapTarget,
    /// Directory of `u:` sockets: `$TRAP_SOCKET_DIR`, else [`DEFAULT_SOCKET_DIR`]
    /// ([`default_socket_dir`]).
    pub socket_dir: PathBuf,
    /// Container header on sockets.
    pub header: BufferHeader,
    /// Clients served at once (libtrap: 64); more are refused.
    pub max_clients: usize,
    /// Container size in bytes, header included ([`MIN_BUFFER_SIZE`]..=[`MAX_BUFFER_SIZE`],
    /// default 100 000 as libtrap).
    pub buffer_size: usize,
    /// Per-client backlog limit in bytes (≥ `buffer_size`; default 2 MiB, about 20 full
    /// containers). A container that does not fit is dropped for that client.
    pub client_buffer: usize,
    /// Send a partly filled container when its first record is this old (`None`: only when
    /// full or flushed). Default 1 s (libtrap: 2 s).
    pub autoflush: Option<Duration>,
    /// How long dropping the sink keeps sending client backlogs. Default 2 s.
    pub linger: Duration,
    /// Send the 1-byte end-of-stream message when the sink is dropped. Default off.
    pub end_marker: bool,
    /// `LINK_BIT_FIELD` of every record. Default 1.
    pub link_bit_field: u64,
    /// `DIR_BIT_FIELD` of every record. Default 0.
    pub dir_bit_field: u8,
}

impl TrapConfig {
    /// Defaults for `target`; the socket directory from the environment.
    pub fn new(target: TrapTarget) -> Self {
        TrapConfig {
            target,
            socket_dir: default_socket_dir(),
            header: BufferHeader::V17,
            max_clients: 64,
            buffer_size: MAX_BUFFER_SIZE,
            client_buffer: 2 << 20,
            autoflush: Some(Duration::from_secs(1)),
            linger: Duration::from_secs(2),
            end_marker: false,
            link_bit_field: 1,
            dir_bit_field: 0,
        }
    }
}

/// What the sink counts beyond [`SinkStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapCounters {
    /// Clients connected now.
    pub clients: usize,
    /// Clients accepted so far.
    pub accepted: u64,
    /// Clients refused (over `max_clients`).
    pub refused: u64,
    /// Clients that left (or whose socket failed).
    pub left: u64,
    /// Records not encoded because no client was connected (`u:`/`t:`).
    pub unsent: u64,
    /// Containers completed.
    pub containers: u64,
}

#[derive(Debug)]
enum Output {
    Server(Server),
    File(FileOut),
}

/// The TRAP output: encodes records into containers and serves them (see the module doc).
#[derive(Debug)]
pub struct TrapSink {
    target: String,
    encoder: FlowEncoder,
    container: Container,
    /// Payload limit of a container.
    payload_cap: usize,
    framing: Framing,
    out: Output,
    stats: SinkStats,
    unsent: u64,
    containers: u64,
    autoflush: Option<Duration>,
    linger: Duration,
    end_marker: bool,
}

impl TrapSink {
    /// Binds (`u:`, `t:`) or creates (`f:`) the destination.
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] for out-of-range settings, [`Error::SinkIo`] when the socket cannot
    /// be bound or the file created.
    pub fn new(cfg: TrapConfig) -> Result<Self, Error> {
        let bad = |reason: String| Error::SinkSpec {
            sink: SINK,
            spec: cfg.target.to_string(),
            reason,
        };
        if !(MIN_BUFFER_SIZE..=MAX_BUFFER_SIZE).contains(&cfg.buffer_size) {
            return Err(bad(format!(
                "buffer_size {} is outside {MIN_BUFFER_SIZE}..={MAX_BUFFER_SIZE} \
                 (default-built libtrap readers cannot take larger containers)",
                cfg.buffer_size
            )));
        }
        if cfg.max_clients == 0 {
            return Err(bad("max_clients must be at least 1".into()));
        }
        if cfg.client_buffer < cfg.buffer_size {
            return Err(bad(format!(
                "the per-client buffer ({} bytes) must hold at least one container \
                 (buffer_size {})",
                cfg.client_buffer, cfg.buffer_size
            )));
        }
        // Room for the largest header, so V17 and Old containers carry the same records.
        let payload_cap = cfg.buffer_size - HEADER_ROOM;
        let encoder = FlowEncoder::new(
            cfg.link_bit_field,
            cfg.dir_bit_field,
            (payload_cap - 2).min(template::MAX_RECORD),
        );
        let hello = trap::hello(encoder.template().spec());
        let mut stats = SinkStats::default();
        let (target, out) = match &cfg.target {
            TrapTarget::Unix(name) => {
                let path = cfg.socket_dir.join(format!("trap-{name}.sock"));
                let label = path.display().to_string();
                let server = Server::unix(&path, hello, cfg.max_clients, cfg.client_buffer)
                    .map_err(|e| io_err(&label, e))?;
                (label, Output::Server(server))
            }
            TrapTarget::Tcp(addr) => {
                let label = addr.to_string();
                let server = Server::tcp(*addr, hello, cfg.max_clients, cfg.client_buffer)
                    .map_err(|e| io_err(&label, e))?;
                let label = server.local_addr().map_or(label, |a| a.to_string());
                (label, Output::Server(server))
            }
            TrapTarget::File(path) => {
                let label = path.display().to_string();
                let (file, n) = FileOut::create(path, hello).map_err(|e| io_err(&label, e))?;
                stats.bytes += n;
                (label, Output::File(file))
            }
        };
        tracing::info!(
            message = "TRAP output ready.",
            output = %target,
            template = encoder.template().spec()
        );
        Ok(TrapSink {
            target,
            encoder,
            container: Container::with_capacity(payload_cap),
            payload_cap,
            framing: match cfg.header {
                BufferHeader::V17 => Framing::V17,
                BufferHeader::Old => Framing::Old,
            },
            out,
            stats,
            unsent: 0,
            containers: 0,
            autoflush: cfg.autoflush,
            linger: cfg.linger,
            end_marker: cfg.end_marker,
        })
    }

    /// The bound TCP address of a `t:` output (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.out {
            Output::Server(s) => s.local_addr(),
            Output::File(_) => None,
        }
    }

    /// The socket file of a `u:` output.
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.out {
            Output::Server(s) => s.socket_path(),
            Output::File(_) => None,
        }
    }

    /// The UniRec template sent in the hello.
    pub fn template(&self) -> &Template {
        self.encoder.template()
    }

    /// Accepts waiting clients (each gets the hello) and moves client backlogs, as every
    /// `write_batch` and `flush` does; never blocks. Returns the clients connected.
    pub fn accept_clients(&mut self) -> usize {
        match &mut self.out {
            Output::Server(s) => {
                s.service(&mut self.stats);
                s.clients()
            }
            Output::File(_) => 0,
        }
    }

    /// Client and container bookkeeping.
    pub fn counters(&self) -> TrapCounters {
        let (clients, c) = match &self.out {
            Output::Server(s) => (s.clients(), s.counters()),
            Output::File(_) => (0, trap::ClientCounters::default()),
        };
        TrapCounters {
            clients,
            accepted: c.accepted,
            refused: c.refused,
            left: c.left,
            unsent: self.unsent,
            containers: self.containers,
        }
    }

    fn has_receivers(&self) -> bool {
        match &self.out {
            Output::Server(s) => s.clients() > 0,
            Output::File(_) => true,
        }
    }

    /// Sends the completed messages before `end` and starts the next container.
    fn ship(&mut self, end: usize) -> Result<(), Error> {
        let records = self.container.records();
        match &mut self.out {
            Output::Server(s) => {
                let data = self.container.framed(end, self.framing);
                s.broadcast(data, records, &mut self.stats);
            }
            Output::File(f) => {
                let data = self.container.framed(end, Framing::Old);
                let n = data.len() as u64;
                f.write(data).map_err(|source| Error::SinkIo {
                    sink: SINK,
                    target: self.target.clone(),
                    action: "write",
                    source,
                })?;
                self.stats.bytes += n;
            }
        }
        self.containers += 1;
        self.container.restart(end);
        Ok(())
    }

    /// Sends the current container if it holds anything.
    fn ship_all(&mut self) -> Result<(), Error> {
        if self.container.is_empty() {
            return Ok(());
        }
        self.ship(HEADER_ROOM + self.container.payload_len())
    }

    #[inline]
    fn push(&mut self, r: &FlowRecord) -> Result<(), Error> {
        let (mark, buf) = self.container.begin();
        if self.encoder.encode(r, buf).is_err() {
            // Cannot happen with the flow template (arrays are cut to fit); counted if it does.
            self.container.cancel(mark);
            self.stats.dropped += 1;
            return Ok(());
        }
        let mut mark = mark;
        if self.container.payload_len() > self.payload_cap || self.container.msgs() == u16::MAX {
            if mark == HEADER_ROOM {
                self.container.cancel(mark);
                self.stats.dropped += 1;
                return Ok(());
            }
            self.ship(mark)?;
            mark = HEADER_ROOM;
        }
        self.container.end(mark, true);
        Ok(())
    }

    fn service(&mut self) {
        if let Output::Server(s) = &mut self.out {
            s.service(&mut self.stats);
        }
    }
}

fn io_err(target: &str, e: BindError) -> Error {
    Error::SinkIo {
        sink: SINK,
        target: target.to_string(),
        action: e.action,
        source: e.source,
    }
}

impl ExportSink for TrapSink {
    fn name(&self) -> &'static str {
        SINK
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
        self.service();
        if self.has_receivers() {
            for r in records {
                self.push(r)?;
            }
        } else {
            self.unsent += records.len() as u64;
        }
        if let (Some(age), Some(started)) = (self.autoflush, self.container.started())
            && started.elapsed() >= age
        {
            self.ship_all()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.service();
        self.ship_all()
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn reopen(&mut self) -> Result<(), Error> {
        self.ship_all()?;
        if let Output::File(f) = &mut self.out {
            let n = f.reopen().map_err(|e| io_err(&self.target, e))?;
            self.stats.bytes += n;
        }
        Ok(())
    }
}

impl Drop for TrapSink {
    fn drop(&mut self) {
        if self.end_marker {
            if self.container.payload_len() + 3 > self.payload_cap
                && let Err(error) = self.ship_all()
            {
                tracing::warn!(
                    message = "TRAP output failed at close.",
                    output = %self.target,
                    %error
                );
            }
            let (mark, buf) = self.container.begin();
            buf.push(0);
            self.container.end(mark, false);
        }
        if let Err(error) = self.ship_all() {
            tracing::warn!(message = "TRAP output failed at close.", output = %self.target, %error);
        }
        if let Output::Server(s) = &mut self.out {
            s.linger(self.linger, &mut self.stats);
        }
    }
}

#[cfg(test)]
mod tests;
