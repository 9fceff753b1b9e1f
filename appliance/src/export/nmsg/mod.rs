//! NMSG export (`--nmsg udp:HOST:PORT`, `--nmsg file:PATH`), byte-exact per
//! `shared/specs/nmsg.md`. This module owns the container framing, payload packing, zlib,
//! fragmentation, sequencing and the two destinations; `proto.rs` holds the prost messages,
//! `msgpack.rs` the MessagePack record form and `read.rs` a reader used to check our output.
//! It does not decide when records leave the flow table nor when `flush` is called (that is the
//! export stage), and it does not listen for NMSG.
//!
//! # Messages
//!
//! Each [`FlowRecord`] becomes, in this order (each switchable with [`NmsgMessages`]):
//!
//! * **`base/ipconn`** (vid 1, msgtype 5): `proto` = IP protocol, `srcip`/`dstip` = the
//!   record's `src_ip`/`dst_ip` (4 bytes for IPv4, 16 for IPv6, network order), `srcport`/
//!   `dstport` = its ports. `src` is the side that sent the flow's first packet. All five
//!   fields are always written, ports as 0 for portless protocols (as the JSON record does).
//! * **`base/encode`** (vid 1, msgtype 11): the whole record. [`NmsgEncoding::Json`] (default):
//!   `type = JSON (1)`, payload = the NDJSON encoder's object (`export::json`) without its
//!   trailing newline. [`NmsgEncoding::Msgpack`]: `type = MSGPACK (3)`, payload = one map with
//!   the same keys, order and values (`msgpack.rs`).
//!
//! Payload time (`time_sec`, `time_nsec`) is the flow's **last seen** packet time
//! (`bidirectional_last_seen_ms`, millisecond precision): the end of the period the record
//! covers, the time it describes the flow at. `source`, `operator` and
//! `group` are written when configured. With [`NmsgConfig::crc`] (default on, as libnmsg and
//! go-nmsg do) every payload gets its `payload_crcs` entry: `crc32c(payload).swap_bytes()`.
//!
//! # Containers
//!
//! Payloads are packed into one open container until the next one would make it larger than
//! [`NmsgConfig::container_size`] (default 8192 = nmsgtool's socket default; the 10-byte
//! header, the CRC list and the sequence fields are counted). The first payload is always
//! accepted. A container is closed when full and on [`ExportSink::flush`]. Closing it
//! serializes the `Nmsg`, compresses it if [`NmsgConfig::zlib`] (u32 BE raw length ‖ zlib
//! stream, flag 0x01), and if the result still exceeds `container_size` (one payload larger
//! than the budget, or zlib that did not help) splits it into `NmsgFragment`s of
//! `container_size - 38` bytes (go-nmsg's overhead bound), each in its own container
//! (flag 0x02, | 0x01 when compressed), with a random id, `last = count - 1` and the CRC of the
//! split string. Every container written, fragment or not, is ≤ `container_size` bytes.
//! The fill test uses the *uncompressed* size, as libnmsg does, so with zlib the containers
//! on the wire are smaller than the budget.
//!
//! # Destinations
//!
//! * **UDP**: one container per datagram, nothing else in it. `sequence` (0, 1, 2, ... per
//!   container, a fragmented one uses one number) and a random 64-bit `sequence_id` fixed for
//!   the sink's life are added, as libnmsg does for sockets. `container_size` must be at most
//!   65507. Failures are counted, never errors, never fatal:
//!   * a datagram **refused** by the collector's host (collector down: ICMP port unreachable,
//!     which Linux reports on the socket after the send) loses the container it belonged to:
//!     its records go to [`SinkStats::dropped`], the report to [`SinkStats::errors`]. The
//!     socket is checked right after each send (on loopback the report is already there) and
//!     before the next, so each refused container is counted once; sending goes on, and the
//!     first container after the collector is back is delivered. Reports that arrive late
//!     may coalesce (the kernel keeps one), so across a real network `dropped` is a lower
//!     bound.
//!   * a **hard** send error (no route, address gone, no buffer) drops that container
//!     (counted) and backs off — 10 ms doubling to 1 s, containers closed meanwhile are
//!     dropped and counted — then reconnects and sends again.
//!
//!   Dropped containers still use their sequence number, so a receiver sees the loss. A
//!   record counts in the container that holds its first payload.
//! * **File** (`-` = stdout): containers back to back (the `.nmsg` format), no sequence fields,
//!   through a 256 KiB buffer written out when full and on `flush`. The file is created
//!   (truncated) at start; [`ExportSink::reopen`] reopens the path for appending (log
//!   rotation). Write errors are fatal for the sink ([`Error::SinkIo`]).
//!
//! # Speed
//!
//! Messages are prost derives kept in the sink and refilled per record, so their byte buffers
//! are reused: encoding allocates nothing per record once the buffers have grown. Each payload
//! is appended to the container body as a one-payload `Nmsg` serialization; protobuf
//! concatenation appends repeated fields, so the body is byte-identical to serializing the
//! whole `Nmsg` at once (field order 1, 2, 3, 4, as libnmsg and go-nmsg write it).

pub mod msgpack;
pub mod proto;
pub mod read;

use std::fmt;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress, Status};
use prost::Message;

use self::proto::{
    Encode, EncodeType, IpConn, MSGTYPE_ENCODE, MSGTYPE_IPCONN, Nmsg, NmsgFragment, NmsgPayload,
    VENDOR_BASE,
};
use super::{ExportSink, SinkStats};
use crate::error::Error;
use crate::flow::FlowRecord;

/// Container magic.
pub const MAGIC: [u8; 4] = *b"NMSG";
/// Container format version written and read.
pub const VERSION: u8 = 2;
/// Flag: the body is a zlib block.
pub const FLAG_ZLIB: u8 = 0x01;
/// Flag: the body is an `NmsgFragment`.
pub const FLAG_FRAGMENT: u8 = 0x02;
/// Container header length (`NMSG_HDRLSZ_V2`).
pub const HEADER_LEN: usize = 10;
/// Default container size: nmsgtool's socket default (`NMSG_WBUFSZ_JUMBO`).
pub const DEFAULT_CONTAINER_SIZE: usize = 8192;
/// Smallest container size accepted (libnmsg's own minimum is 512; smaller sizes only mean
/// more fragments).
pub const MIN_CONTAINER_SIZE: usize = 64;
/// Largest container size accepted (`NMSG_WBUFSZ_MAX`).
pub const MAX_CONTAINER_SIZE: usize = 1_048_576;
/// Largest container size for UDP: the largest IPv4 UDP payload.
pub const MAX_UDP_CONTAINER_SIZE: usize = 65_507;

/// Header plus the largest `NmsgFragment` envelope: id, current, last and crc at 1 + 5 bytes
/// each, the fragment's tag and a length of up to 3 bytes (slices < 2 MiB).
const FRAGMENT_OVERHEAD: usize = HEADER_LEN + 4 * 6 + 1 + 3;
/// Room kept for `sequence` (1 + 5) and `sequence_id` (1 + 10) on sockets.
const SEQUENCE_RESERVE: usize = 6 + 11;
/// Write buffer of file outputs.
const FILE_BUFFER: usize = 256 * 1024;
/// First UDP back-off after a failed send; doubles per consecutive failure.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest UDP back-off.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Where containers go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NmsgTarget {
    /// One container per datagram to this address.
    Udp(SocketAddr),
    /// Containers back to back in this file (`-` = stdout).
    File(PathBuf),
}

const SPEC_FORMS: &str = "expected `udp:HOST:PORT` (HOST a name, an IPv4 address or an \
     [IPv6] address in brackets) or `file:PATH`";

impl NmsgTarget {
    /// Parses `udp:HOST:PORT` or `file:PATH`. A host name is resolved now (first address).
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] naming the spec, what is wrong and the accepted forms.
    pub fn parse(spec: &str) -> Result<NmsgTarget, Error> {
        let bad = |reason: String| Error::SinkSpec {
            sink: "nmsg",
            spec: spec.to_string(),
            reason,
        };
        if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err(bad(format!("the path is empty; {SPEC_FORMS}")));
            }
            return Ok(NmsgTarget::File(PathBuf::from(path)));
        }
        let Some(rest) = spec.strip_prefix("udp:") else {
            return Err(bad(SPEC_FORMS.to_string()));
        };
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(bad(format!("the port is missing; {SPEC_FORMS}")));
        };
        let port: u16 = match port.parse() {
            Ok(p) if p != 0 => p,
            _ => {
                return Err(bad(format!(
                    "`{port}` is not a port (1-65535); {SPEC_FORMS}"
                )));
            }
        };
        if host.is_empty() {
            return Err(bad(format!("the host is empty; {SPEC_FORMS}")));
        }
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let ip: Ipv6Addr = v6
                .parse()
                .map_err(|_| bad(format!("`{v6}` is not an IPv6 address; {SPEC_FORMS}")))?;
            return Ok(NmsgTarget::Udp(SocketAddr::from((ip, port))));
        }
        if host.contains([':', '[', ']']) {
            return Err(bad(format!(
                "an IPv6 address needs brackets (`udp:[2001:db8::1]:8430`); {SPEC_FORMS}"
            )));
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(NmsgTarget::Udp(SocketAddr::from((ip, port))));
        }
        let mut addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("cannot resolve `{host}`: {e}")))?;
        addrs
            .next()
            .map(NmsgTarget::Udp)
            .ok_or_else(|| bad(format!("`{host}` resolves to no address")))
    }
}

impl fmt::Display for NmsgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NmsgTarget::Udp(a) => write!(f, "udp:{a}"),
            NmsgTarget::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

/// How `base/encode` carries the record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NmsgEncoding {
    /// `EncodeType::JSON`: the NDJSON object (default).
    #[default]
    Json,
    /// `EncodeType::MSGPACK`: a map with the same keys and values.
    Msgpack,
}

/// Which messages each record becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NmsgMessages {
    /// `base/ipconn` with the 5-tuple.
    pub ipconn: bool,
    /// `base/encode` with the whole record.
    pub encode: bool,
}

impl Default for NmsgMessages {
    fn default() -> Self {
        NmsgMessages {
            ipconn: true,
            encode: true,
        }
    }
}

/// Settings of one NMSG output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NmsgConfig {
    /// The destination.
    pub target: NmsgTarget,
    /// Largest container (datagram) in bytes, header included; default 8192.
    pub container_size: usize,
    /// zlib-compress container bodies.
    pub zlib: bool,
    /// Write `payload_crcs` (CRC-32C per payload); default on.
    pub crc: bool,
    /// `NmsgPayload.source`.
    pub source: Option<u32>,
    /// `NmsgPayload.operator`.
    pub operator: Option<u32>,
    /// `NmsgPayload.group`.
    pub group: Option<u32>,
    /// How `base/encode` carries the record.
    pub encoding: NmsgEncoding,
    /// Which messages to emit; default both.
    pub messages: NmsgMessages,
}

impl NmsgConfig {
    /// Defaults for `target`: 8192-byte containers, no zlib, CRCs on, no source/operator/group,
    /// ipconn and JSON encode.
    pub fn new(target: NmsgTarget) -> Self {
        NmsgConfig {
            target,
            container_size: DEFAULT_CONTAINER_SIZE,
            zlib: false,
            crc: true,
            source: None,
            operator: None,
            group: None,
            encoding: NmsgEncoding::Json,
            messages: NmsgMessages::default(),
        }
    }
}

/// Writes records as NMSG containers to a file or UDP collector. See the module doc.
pub struct NmsgSink {
    target: String,
    messages: NmsgMessages,
    encoding: NmsgEncoding,
    packer: Packer,
    out: Output,
    stats: SinkStats,
    /// Reused messages and buffers.
    ipconn: IpConn,
    encode: Encode,
    scratch: Vec<u8>,
}

impl fmt::Debug for NmsgSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NmsgSink")
            .field("target", &self.target)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl NmsgSink {
    /// Opens the destination: creates (truncates) the file, or binds a UDP socket and
    /// connects it to the collector (a collector that is down is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] for a container size out of range or no message selected;
    /// [`Error::SinkIo`] when the file cannot be created or no UDP socket can be bound.
    pub fn new(cfg: NmsgConfig) -> Result<Self, Error> {
        let target = cfg.target.to_string();
        let out = match &cfg.target {
            NmsgTarget::Udp(addr) => {
                Output::Udp(Udp::open(*addr).map_err(|source| Error::SinkIo {
                    sink: "nmsg",
                    target: target.clone(),
                    action: "bind",
                    source,
                })?)
            }
            NmsgTarget::File(path) => {
                let w: Box<dyn Write + Send> = if path.as_os_str() == "-" {
                    Box::new(std::io::stdout())
                } else {
                    Box::new(std::fs::File::create(path).map_err(|source| Error::SinkIo {
                        sink: "nmsg",
                        target: target.clone(),
                        action: "create",
                        source,
                    })?)
                };
                Output::File {
                    path: Some(path.clone()).filter(|p| p.as_os_str() != "-"),
                    w: BufWriter::with_capacity(FILE_BUFFER, w),
                }
            }
        };
        Self::with_output(cfg, target, out)
    }

    /// Writes the file format (containers back to back, no sequence fields) to any writer
    /// (tests, benchmarks). `cfg.target` only names the output in errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] as for [`NmsgSink::new`].
    pub fn to_writer(cfg: NmsgConfig, out: Box<dyn Write + Send>) -> Result<Self, Error> {
        let target = cfg.target.to_string();
        let out = Output::File {
            path: None,
            w: BufWriter::with_capacity(FILE_BUFFER, out),
        };
        Self::with_output(cfg, target, out)
    }

    fn with_output(cfg: NmsgConfig, target: String, out: Output) -> Result<Self, Error> {
        let max = match out {
            Output::Udp(_) => MAX_UDP_CONTAINER_SIZE,
            Output::File { .. } => MAX_CONTAINER_SIZE,
        };
        if !(MIN_CONTAINER_SIZE..=max).contains(&cfg.container_size) {
            return Err(Error::InvalidOption {
                option: "--nmsg-container-size",
                reason: format!(
                    "{} bytes is outside {MIN_CONTAINER_SIZE}..={max} for `{target}` \
                     (1280 suits ordinary networks, 8192 jumbo frames)",
                    cfg.container_size
                ),
            });
        }
        if !cfg.messages.ipconn && !cfg.messages.encode {
            return Err(Error::InvalidOption {
                option: "NmsgConfig::messages",
                reason: format!("no message selected for `{target}`; pick ipconn, encode or both"),
            });
        }
        let mut rng = SplitMix::seeded();
        let sequence_id = matches!(out, Output::Udp(_)).then(|| rng.next_u64());
        Ok(NmsgSink {
            target,
            messages: cfg.messages,
            encoding: cfg.encoding,
            packer: Packer::new(&cfg, sequence_id, rng),
            out,
            stats: SinkStats::default(),
            ipconn: IpConn::default(),
            encode: Encode::default(),
            scratch: Vec::new(),
        })
    }

    /// Adds the payloads of one record, closing the open container when it is full.
    fn push_record(&mut self, r: &FlowRecord) -> Result<(), Error> {
        let last_ms = r.bidirectional().last_seen_ms;
        let time_sec = i64::try_from(last_ms / 1000).unwrap_or(i64::MAX);
        // < 1000 ms × 10^6 < 2^32.
        let time_nsec = (last_ms % 1000) as u32 * 1_000_000;
        let mut first = true;
        if self.messages.ipconn {
            let addr_len = if r.ip_version == 4 { 4 } else { 16 };
            let ic = &mut self.ipconn;
            ic.proto = Some(u32::from(r.protocol));
            set_bytes(&mut ic.srcip, &r.src_ip[..addr_len]);
            ic.srcport = Some(u32::from(r.src_port));
            set_bytes(&mut ic.dstip, &r.dst_ip[..addr_len]);
            ic.dstport = Some(u32::from(r.dst_port));
            let buf = self
                .packer
                .next_payload(MSGTYPE_IPCONN, time_sec, time_nsec);
            put(&self.ipconn, buf);
            self.push_payload(first)?;
            first = false;
        }
        if self.messages.encode {
            let doc = &mut self.encode.payload;
            doc.clear();
            match self.encoding {
                NmsgEncoding::Json => {
                    super::json::encode(r, doc);
                    if doc.last() == Some(&b'\n') {
                        doc.pop();
                    }
                    self.encode.r#type = EncodeType::Json as i32;
                }
                NmsgEncoding::Msgpack => {
                    msgpack::encode(r, doc, &mut self.scratch);
                    self.encode.r#type = EncodeType::Msgpack as i32;
                }
            }
            let buf = self
                .packer
                .next_payload(MSGTYPE_ENCODE, time_sec, time_nsec);
            put(&self.encode, buf);
            self.push_payload(first)?;
        }
        Ok(())
    }

    /// Appends the payload filled by `Packer::next_payload`, closing the container first if it
    /// would not fit.
    fn push_payload(&mut self, first_of_record: bool) -> Result<(), Error> {
        let (entry, crc) = self.packer.measure();
        if self.packer.would_overflow(entry, crc) {
            self.close_container()?;
        }
        self.packer.append(crc);
        if first_of_record {
            self.packer.records += 1;
        }
        Ok(())
    }

    /// Serializes, compresses, fragments and writes the open container, if it has payloads.
    fn close_container(&mut self) -> Result<(), Error> {
        if self.packer.payloads == 0 {
            return Ok(());
        }
        let records = self.packer.records;
        let now = Instant::now();
        if let Output::Udp(u) = &mut self.out {
            // Learn the fate of the previous container before sending the next.
            u.check_refused(&mut self.stats, true);
            if !u.ready(now) {
                self.stats.dropped += records;
                self.packer.discard();
                return Ok(());
            }
        }
        let NmsgSink {
            packer, out, stats, ..
        } = self;
        let result = packer.finish(&mut |c: &[u8]| {
            out.emit(c)?;
            stats.bytes += c.len() as u64;
            Ok(())
        });
        match (result, &mut self.out) {
            (Ok(()), Output::Udp(u)) => {
                u.sent(records);
                // On loopback the refusal is already there; elsewhere the next close sees it.
                u.check_refused(&mut self.stats, false);
            }
            (Ok(()), Output::File { .. }) => {}
            (Err(e), Output::Udp(u)) => u.send_failed(now, records, &e, &mut self.stats),
            (Err(source), Output::File { .. }) => {
                return Err(Error::SinkIo {
                    sink: "nmsg",
                    target: self.target.clone(),
                    action: "write",
                    source,
                });
            }
        }
        Ok(())
    }

    fn file_error(&self, action: &'static str, source: std::io::Error) -> Error {
        Error::SinkIo {
            sink: "nmsg",
            target: self.target.clone(),
            action,
            source,
        }
    }
}

impl ExportSink for NmsgSink {
    fn name(&self) -> &'static str {
        "nmsg"
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
        for r in records {
            self.push_record(r)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.close_container()?;
        if let Output::File { w, .. } = &mut self.out
            && let Err(e) = w.flush()
        {
            return Err(self.file_error("write", e));
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn reopen(&mut self) -> Result<(), Error> {
        let Output::File {
            path: Some(path),
            w,
        } = &mut self.out
        else {
            return Ok(());
        };
        if let Err(e) = w.flush() {
            return Err(self.file_error("write", e));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path);
        match file {
            Ok(f) => {
                *w = BufWriter::with_capacity(FILE_BUFFER, Box::new(f));
                Ok(())
            }
            Err(e) => Err(self.file_error("reopen", e)),
        }
    }
}

/// Builds containers: the open body, its CRC list, zlib and fragmentation.
struct Packer {
    budget: usize,
    crc: bool,
    /// `Some` on sockets: `sequence`/`sequence_id` are written.
    sequence_id: Option<u64>,
    sequence: u32,
    zlib: Option<Compress>,
    /// A one-payload `Nmsg`: the payload being added, serialized as a piece of the body.
    one: Nmsg,
    /// CRCs and sequence fields of the open container, serialized after the payloads.
    tail: Nmsg,
    /// Bytes `tail`'s CRCs take so far.
    tail_len: usize,
    /// Header room, then the serialized payloads (then the tail, while closing).
    body: Vec<u8>,
    payloads: usize,
    /// Records whose first payload is in the open container.
    records: u64,
    /// Header room, u32 BE raw length, zlib stream.
    zbuf: Vec<u8>,
    frag: NmsgFragment,
    /// One fragment container.
    fbuf: Vec<u8>,
    rng: SplitMix,
}

impl Packer {
    fn new(cfg: &NmsgConfig, sequence_id: Option<u64>, rng: SplitMix) -> Self {
        let payload = NmsgPayload {
            vid: VENDOR_BASE,
            msgtype: 0,
            time_sec: 0,
            time_nsec: 0,
            payload: Some(Vec::with_capacity(1024)),
            source: cfg.source,
            operator: cfg.operator,
            group: cfg.group,
        };
        let mut body = Vec::with_capacity(cfg.container_size + 1024);
        body.resize(HEADER_LEN, 0);
        Packer {
            budget: cfg.container_size,
            crc: cfg.crc,
            sequence_id,
            sequence: 0,
            zlib: cfg
                .zlib
                .then(|| Compress::new(Compression::default(), true)),
            one: Nmsg {
                payloads: vec![payload],
                ..Nmsg::default()
            },
            tail: Nmsg::default(),
            tail_len: 0,
            body,
            payloads: 0,
            records: 0,
            zbuf: Vec::new(),
            frag: NmsgFragment::default(),
            fbuf: Vec::new(),
            rng,
        }
    }

    /// Sets the envelope of the next payload and returns its (emptied) payload buffer.
    fn next_payload(&mut self, msgtype: u32, time_sec: i64, time_nsec: u32) -> &mut Vec<u8> {
        let p = &mut self.one.payloads[0];
        p.msgtype = msgtype;
        p.time_sec = time_sec;
        p.time_nsec = time_nsec;
        let buf = p.payload.get_or_insert_with(Vec::new);
        buf.clear();
        buf
    }

    /// Bytes the filled payload adds to the body, and its CRC entry if CRCs are on.
    fn measure(&self) -> (usize, Option<u32>) {
        let p = &self.one.payloads[0];
        let crc = self
            .crc
            .then(|| crc32c::crc32c(p.payload.as_deref().unwrap_or_default()).swap_bytes());
        (self.one.encoded_len(), crc)
    }

    fn would_overflow(&self, entry: usize, crc: Option<u32>) -> bool {
        let seq = if self.sequence_id.is_some() {
            SEQUENCE_RESERVE
        } else {
            0
        };
        let size = self.body.len() + entry + self.tail_len + crc_entry_len(crc) + seq;
        self.payloads > 0 && size > self.budget
    }

    fn append(&mut self, crc: Option<u32>) {
        put(&self.one, &mut self.body);
        if let Some(c) = crc {
            self.tail.payload_crcs.push(c);
            self.tail_len += crc_entry_len(crc);
        }
        self.payloads += 1;
    }

    /// Empties the open container (sent or dropped); a socket's sequence number is used up.
    fn discard(&mut self) {
        self.body.truncate(HEADER_LEN);
        self.tail.payload_crcs.clear();
        self.tail_len = 0;
        self.payloads = 0;
        self.records = 0;
        if self.sequence_id.is_some() {
            self.sequence = self.sequence.wrapping_add(1);
        }
    }

    /// Completes the open container and hands each resulting container (one, or one per
    /// fragment) to `emit`, stopping at its first error.
    fn finish(
        &mut self,
        emit: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if let Some(id) = self.sequence_id {
            self.tail.sequence = Some(self.sequence);
            self.tail.sequence_id = Some(id);
        }
        put(&self.tail, &mut self.body);
        let result = self.emit_body(emit);
        self.discard();
        result
    }

    fn emit_body(
        &mut self,
        emit: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let (flags, whole) = match &mut self.zlib {
            None => (0, &mut self.body),
            Some(z) => {
                let raw = &self.body[HEADER_LEN..];
                self.zbuf.clear();
                self.zbuf.resize(HEADER_LEN, 0);
                // The body is at most budget + one payload, far below 4 GiB.
                let raw_len = u32::try_from(raw.len()).unwrap_or(u32::MAX);
                self.zbuf.extend_from_slice(&raw_len.to_be_bytes());
                deflate(z, raw, &mut self.zbuf)?;
                (FLAG_ZLIB, &mut self.zbuf)
            }
        };
        if whole.len() <= self.budget {
            let len = whole.len() - HEADER_LEN;
            write_header(whole, flags, len);
            return emit(whole);
        }
        let data = &whole[HEADER_LEN..];
        let chunk = self.budget - FRAGMENT_OVERHEAD;
        let count = data.len().div_ceil(chunk);
        // Fragments of one container: at most 1 MiB / 26 B, far below u32::MAX.
        self.frag.last = u32::try_from(count - 1).unwrap_or(u32::MAX);
        self.frag.id = self.rng.next_u64() as u32;
        self.frag.crc = Some(crc32c::crc32c(data).swap_bytes());
        for (i, part) in data.chunks(chunk).enumerate() {
            self.frag.current = u32::try_from(i).unwrap_or(u32::MAX);
            self.frag.fragment.clear();
            self.frag.fragment.extend_from_slice(part);
            self.fbuf.clear();
            self.fbuf.resize(HEADER_LEN, 0);
            put(&self.frag, &mut self.fbuf);
            let len = self.fbuf.len() - HEADER_LEN;
            write_header(&mut self.fbuf, flags | FLAG_FRAGMENT, len);
            emit(&self.fbuf)?;
        }
        Ok(())
    }
}

/// Where containers are written.
enum Output {
    File {
        /// `None` for stdout and `to_writer`: nothing to reopen.
        path: Option<PathBuf>,
        w: BufWriter<Box<dyn Write + Send>>,
    },
    Udp(Udp),
}

impl Output {
    fn emit(&mut self, container: &[u8]) -> std::io::Result<()> {
        match self {
            Output::File { w, .. } => w.write_all(container),
            Output::Udp(u) => u.send(container),
        }
    }
}

/// A connected UDP socket that accounts for refused datagrams and reconnects with back-off
/// after hard send errors.
///
/// Two kinds of failure: a datagram *refused* by the collector's host (ICMP port unreachable;
/// Linux reports it as a pending socket error, returned by the next `send` or by
/// `take_error`), which costs nothing to retry, so sending goes on and the refused container's
/// records are counted; and a *hard* error from `send` itself (no route, address gone, buffer
/// full), after which the socket backs off and reconnects.
struct Udp {
    addr: SocketAddr,
    sock: UdpSocket,
    connected: bool,
    /// While backing off after a hard error: when to reconnect.
    retry_at: Option<Instant>,
    /// Consecutive hard errors.
    failures: u32,
    /// Records of the last container sent, while a refusal may still be reported for it.
    unconfirmed: u64,
    /// The collector is known to be unreachable (for logging transitions only).
    down: bool,
}

impl Udp {
    fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let local: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local)?;
        // No route yet is not fatal: `send` connects again.
        let connected = sock.connect(addr).is_ok();
        Ok(Udp {
            addr,
            sock,
            connected,
            retry_at: None,
            failures: 0,
            unconfirmed: 0,
            down: false,
        })
    }

    fn ready(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }

    fn send(&mut self, datagram: &[u8]) -> std::io::Result<()> {
        if !self.connected {
            self.sock.connect(self.addr)?;
            self.connected = true;
        }
        let n = self.sock.send(datagram)?;
        if n != datagram.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", datagram.len()),
            ));
        }
        Ok(())
    }

    /// A container went out whole.
    fn sent(&mut self, records: u64) {
        self.unconfirmed = records;
        self.failures = 0;
        self.retry_at = None;
    }

    /// Counts a refusal reported since the last look: the last container sent was lost.
    /// `settled`: enough time has passed for a refusal to come back, so none means the
    /// collector took the container.
    fn check_refused(&mut self, stats: &mut SinkStats, settled: bool) {
        match self.sock.take_error() {
            Ok(Some(error)) => {
                stats.dropped += std::mem::take(&mut self.unconfirmed);
                stats.errors += 1;
                self.went_down(&error);
            }
            _ if settled && self.unconfirmed > 0 => {
                self.unconfirmed = 0;
                if self.down {
                    self.down = false;
                    tracing::info!(
                        message = "NMSG collector reachable again.",
                        exporter = "nmsg",
                        collector = %self.addr
                    );
                }
            }
            _ => {}
        }
    }

    /// `send` failed: this container is lost (and, if the error is a refusal reported late,
    /// the previous one too). Hard errors back off: 10 ms doubling to 1 s, then reconnect.
    fn send_failed(
        &mut self,
        now: Instant,
        records: u64,
        error: &std::io::Error,
        stats: &mut SinkStats,
    ) {
        stats.errors += 1;
        stats.dropped += records;
        self.went_down(error);
        if error.kind() == std::io::ErrorKind::ConnectionRefused {
            stats.dropped += std::mem::take(&mut self.unconfirmed);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let backoff = BACKOFF_MIN
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(BACKOFF_MAX);
        self.retry_at = Some(now + backoff);
        self.connected = false;
    }

    fn went_down(&mut self, error: &std::io::Error) {
        if !self.down {
            self.down = true;
            tracing::warn!(
                message = "NMSG collector unreachable; counting lost containers until it answers.",
                exporter = "nmsg",
                collector = %self.addr,
                %error
            );
        }
    }
}

/// Appends `m`'s serialization to `buf`.
fn put<M: Message>(m: &M, buf: &mut Vec<u8>) {
    // A Vec grows as needed, so prost cannot run out of room here.
    let _ = m.encode(buf);
}

/// Replaces an optional bytes field's content, reusing its buffer.
fn set_bytes(field: &mut Option<Vec<u8>>, bytes: &[u8]) {
    let v = field.get_or_insert_with(Vec::new);
    v.clear();
    v.extend_from_slice(bytes);
}

/// Bytes of one `payload_crcs` entry: tag plus varint.
fn crc_entry_len(crc: Option<u32>) -> usize {
    crc.map_or(0, |c| 1 + prost::length_delimiter_len(c as usize))
}

/// The 10-byte header at the start of `c`: magic, flags, version, BE body length.
fn write_header(c: &mut [u8], flags: u8, body_len: usize) {
    c[..4].copy_from_slice(&MAGIC);
    c[4] = flags;
    c[5] = VERSION;
    // Bodies are ≤ container_size (≤ 1 MiB) or one zlib block of one.
    let len = u32::try_from(body_len).unwrap_or(u32::MAX);
    c[6..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

/// Appends the zlib stream (RFC 1950, one `Z_FINISH`) of `input` to `out`.
fn deflate(z: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    z.reset();
    out.reserve(input.len() + input.len() / 64 + 64);
    loop {
        let done = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(done..).unwrap_or_default();
        match z.compress_vec(rest, out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return Ok(()),
            Ok(_) => out.reserve(out.capacity().max(256)),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
}

/// Fragment ids and `sequence_id`: random per process (std's hasher keys), then SplitMix64.
struct SplitMix(u64);

impl SplitMix {
    fn seeded() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        h.write_u32(std::process::id());
        SplitMix(h.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
