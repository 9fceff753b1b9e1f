//! The command line (clap derive). Raw arguments are turned into validated settings here, once,
//! at start-up; every check that can fail names the option and the fix.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::flow::{Accounting, FlowConfig};
use crate::packet::DecoderConfig;
use crate::pipeline::PipelineConfig;

/// Exit code: the run did everything it was asked.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run failed part-way (broken capture, output error); what was built before
/// the failure was still exported.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad command line or settings; nothing was done.
pub const EXIT_USAGE: i32 = 2;

/// xdpflow — a flow probe: packets in, bidirectional flow records out.
///
/// Packets are decoded (Ethernet, VLAN, MPLS, PPPoE, IPv4/IPv6, tunnels), grouped into
/// bidirectional flows by a sharded flow table, and exported when they end (idle timeout,
/// active timeout, TCP end, table full, end of input). Records use nfstream's field names.
#[derive(Debug, Parser)]
#[command(name = "xdpflow", version, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 success, 1 failed part-way (what was built is still \
    exported), 2 bad usage.\nLogs go to stderr; set RUST_LOG=debug for more."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build flows from capture files (pcap, pcapng) — offline analysis, CI, the quick start.
    ///
    /// Files are read in order as one stream of packets; time is the packets' own time, so
    /// timeouts behave as they would have live. Nothing is dropped for speed: the reader waits
    /// for the flow workers and the exporter.
    #[command(after_help = "Examples:\n  \
        xdpflow pcap                                  # the sample capture built into the binary\n  \
        xdpflow pcap trace.pcap --json flows.ndjson\n  \
        xdpflow pcap day1.pcapng day2.pcapng --stats --splt 10 --json -\n  \
        tcpdump -i eth0 -w - | xdpflow pcap - --tcp-end off")]
    Pcap(PcapArgs),
}

/// `xdpflow pcap`.
#[derive(Debug, Args)]
pub struct PcapArgs {
    /// Capture files (pcap or pcapng, any of the supported link types), read in order; `-`
    /// reads standard input. Without any, the sample capture built into the binary is used.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Flow table settings.
    #[command(flatten)]
    pub flow: FlowArgs,

    /// Where records go and what the terminal shows.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// `--accounting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccountingArg {
    /// Frame length on the wire, link header included (nfstream accounting_mode 0).
    Link,
    /// IP packet length (mode 1).
    Ip,
    /// IP payload: transport header and data (mode 2).
    Transport,
    /// Transport payload only (mode 3).
    Payload,
}

/// `--ip-fragments`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FragmentsArg {
    /// Count later fragments in their flow.
    Join,
    /// Drop later fragments (counted).
    Drop,
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// When stderr is a terminal.
    Auto,
    /// Always (one line per update when stderr is not a terminal).
    Always,
    /// Never.
    Never,
}

/// Flow table options shared by every mode.
#[derive(Debug, Args)]
#[command(next_help_heading = "Flow table")]
pub struct FlowArgs {
    /// Worker threads, each owning a shard of the flow table [default: cores − 1, at least 1].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// End a flow after this many seconds without a packet.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub idle_timeout: u64,

    /// End a flow this many seconds after its first packet; the conversation continues as a
    /// new flow.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub active_timeout: u64,

    /// End TCP flows on FIN in both directions or on RST; `off` keeps them until a timeout,
    /// as nfstream does.
    #[arg(long, value_name = "on|off", default_value = "on")]
    pub tcp_end: Switch,

    /// Most flows held at once, over all workers; when full, the least recently seen flow is
    /// exported with end_reason `evicted`.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    pub max_flows: usize,

    /// Add nfstream's statistical features: min/mean/stddev/max of packet size and
    /// inter-arrival time, and TCP flag counts, per direction.
    #[arg(long)]
    pub stats: bool,

    /// Add the first N packets' direction, size and inter-arrival time (splt_*); 0 = off.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub splt: usize,

    /// What a packet's bytes count.
    #[arg(long, value_name = "MODE", default_value = "link")]
    pub accounting: AccountingArg,

    /// Decode GTP-U, GRE, VXLAN and IP-in-IP tunnels: the flow is the inner packet's, with
    /// its tunnel_id. `off`: the outer packet is the flow.
    #[arg(long, value_name = "on|off", default_value = "on")]
    pub decode_tunnels: Switch,

    /// First IP fragments remembered at once, so later fragments can join their flow.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_fragments: usize,

    /// Non-first IP fragments: `join` counts them in their first fragment's flow; `drop`
    /// counts them as dropped (fragment_ignored), as nfstream does.
    #[arg(long, value_name = "join|drop", default_value = "join")]
    pub ip_fragments: FragmentsArg,
}

/// Output options: where records go (any number of sinks at once) and what the terminal shows.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// NDJSON records, one object per flow: to a file PATH, to stdout with `-`, or to a TCP
    /// collector with `tcp:HOST:PORT` (reconnects; records sent while it is down are dropped
    /// and counted). Repeatable. Without any sink option, records go to stdout.
    #[arg(long, value_name = "PATH|-|tcp:HOST:PORT")]
    pub json: Vec<String>,

    /// Rotate JSON files when they exceed this many bytes (renamed `PATH.<UTC time>`).
    #[arg(long, value_name = "BYTES")]
    pub json_rotate_size: Option<u64>,

    /// Rotate JSON files this many seconds after they were opened.
    #[arg(long, value_name = "SECS")]
    pub json_rotate_interval: Option<u64>,

    /// Flush each sink after this many records…
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub flush_records: usize,

    /// …or when its oldest unflushed record is this many milliseconds old.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub flush_interval_ms: u64,

    /// Show packets, flows and rate on stderr while running.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub progress: ProgressArg,

    /// Do not print the end-of-run summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,

    /// NMSG sinks.
    #[command(flatten)]
    pub nmsg: NmsgArgs,

    /// UniRec over TRAP sinks.
    #[command(flatten)]
    pub trap: TrapArgs,
}

/// NMSG output (Farsight / DomainTools).
#[derive(Debug, Args)]
#[command(next_help_heading = "NMSG output")]
pub struct NmsgArgs {
    /// Send NMSG containers over UDP (`udp:HOST:PORT`) or write them to a file
    /// (`file:PATH`, created afresh; reopened for appending on SIGHUP). Each flow becomes a base/ipconn payload (its 5-tuple) and a base/encode
    /// payload (the whole record). Repeatable.
    #[arg(long = "nmsg", id = "nmsg", value_name = "udp:HOST:PORT|file:PATH")]
    pub targets: Vec<String>,

    /// Largest container, bytes (nmsgtool's default); bigger payloads are fragmented.
    #[arg(
        long = "nmsg-container-size",
        value_name = "BYTES",
        default_value_t = 8192
    )]
    pub container_size: usize,

    /// Compress containers with zlib.
    #[arg(long = "nmsg-zlib")]
    pub zlib: bool,

    /// A CRC32C per payload (libnmsg and go-nmsg always write them).
    #[arg(long = "nmsg-crc", value_name = "on|off", default_value = "on")]
    pub crc: Switch,

    /// Payload `source` id.
    #[arg(long = "nmsg-source", value_name = "ID")]
    pub source: Option<u32>,

    /// Payload `operator` id.
    #[arg(long = "nmsg-operator", value_name = "ID")]
    pub operator: Option<u32>,

    /// Payload `group` id.
    #[arg(long = "nmsg-group", value_name = "ID")]
    pub group: Option<u32>,

    /// Encoding of the full record in base/encode payloads.
    #[arg(long = "nmsg-encode", value_name = "FORMAT", default_value = "json")]
    pub encode: NmsgEncodeArg,
}

/// `--nmsg-encode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NmsgEncodeArg {
    /// The NDJSON record.
    Json,
    /// The same fields as MessagePack.
    Msgpack,
}

/// UniRec over TRAP output (NEMEA).
#[derive(Debug, Args)]
#[command(next_help_heading = "UniRec / TRAP output")]
pub struct TrapArgs {
    /// Serve UniRec records as a TRAP output interface: `u:NAME` (UNIX socket in the socket
    /// directory), `t:PORT` or `t:ADDR:PORT` (TCP), `f:PATH` (file). Repeatable. Clients that
    /// stall or leave never slow capture; their records are dropped and counted.
    #[arg(long = "trap", id = "trap", value_name = "u:NAME|t:PORT|f:PATH")]
    pub targets: Vec<String>,

    /// Address `t:PORT` binds to (libtrap binds every address; we bind loopback unless told).
    #[arg(long = "trap-bind", value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,

    /// Directory of `u:` sockets [default: $TRAP_SOCKET_DIR, else /tmp, as libtrap].
    #[arg(long = "trap-socket-dir", value_name = "DIR")]
    pub socket_dir: Option<PathBuf>,

    /// TRAP buffer header: `v17` (libtrap ≥ 1.17, 14 bytes) or `old` (4 bytes).
    #[arg(
        long = "trap-buffer-header",
        value_name = "KIND",
        default_value = "v17"
    )]
    pub buffer_header: TrapHeaderArg,
}

/// `--trap-buffer-header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrapHeaderArg {
    /// libtrap ≥ 1.17.
    V17,
    /// Before libtrap 1.17.
    Old,
}

impl OutputArgs {
    /// Parses every sink option and opens the sinks (files created, sockets bound), in the
    /// order JSON, NMSG, TRAP. Without any sink option: NDJSON on stdout.
    ///
    /// # Errors
    ///
    /// A malformed destination (naming it and the accepted forms), or one that cannot be
    /// opened or bound.
    pub fn open_sinks(&self) -> Result<Vec<Box<dyn crate::export::ExportSink>>, Error> {
        use crate::export::json::{JsonConfig, JsonSink, JsonTarget};
        use crate::export::nmsg::{NmsgConfig, NmsgEncoding, NmsgSink, NmsgTarget};
        use crate::export::unirec::{BufferHeader, TrapConfig, TrapSink, TrapTarget};

        let mut sinks: Vec<Box<dyn crate::export::ExportSink>> = Vec::new();
        let none =
            self.json.is_empty() && self.nmsg.targets.is_empty() && self.trap.targets.is_empty();
        let default_json = ["-".to_string()];
        let json: &[String] = if none { &default_json } else { &self.json };
        for spec in json {
            sinks.push(Box::new(JsonSink::new(JsonConfig {
                target: JsonTarget::parse(spec)?,
                rotate_bytes: self.json_rotate_size,
                rotate_every: self
                    .json_rotate_interval
                    .map(std::time::Duration::from_secs),
            })?));
        }
        for spec in &self.nmsg.targets {
            let mut cfg = NmsgConfig::new(NmsgTarget::parse(spec)?);
            cfg.container_size = self.nmsg.container_size;
            cfg.zlib = self.nmsg.zlib;
            cfg.crc = self.nmsg.crc == Switch::On;
            cfg.source = self.nmsg.source;
            cfg.operator = self.nmsg.operator;
            cfg.group = self.nmsg.group;
            cfg.encoding = match self.nmsg.encode {
                NmsgEncodeArg::Json => NmsgEncoding::Json,
                NmsgEncodeArg::Msgpack => NmsgEncoding::Msgpack,
            };
            sinks.push(Box::new(NmsgSink::new(cfg)?));
        }
        for spec in &self.trap.targets {
            let mut cfg = TrapConfig::new(TrapTarget::parse(spec, self.trap.bind)?);
            if let Some(dir) = &self.trap.socket_dir {
                cfg.socket_dir = dir.clone();
            }
            cfg.header = match self.trap.buffer_header {
                TrapHeaderArg::V17 => BufferHeader::V17,
                TrapHeaderArg::Old => BufferHeader::Old,
            };
            sinks.push(Box::new(TrapSink::new(cfg)?));
        }
        Ok(sinks)
    }

    /// The export stage settings (offline: queues block when full).
    ///
    /// # Errors
    ///
    /// An option out of range.
    pub fn stage_config(&self) -> Result<crate::export::stage::StageConfig, Error> {
        if self.flush_records == 0 {
            return Err(invalid("--flush-records", "must be at least 1".into()));
        }
        if self.flush_interval_ms == 0 {
            return Err(invalid("--flush-interval-ms", "must be at least 1".into()));
        }
        Ok(crate::export::stage::StageConfig {
            flush_records: self.flush_records,
            flush_age: std::time::Duration::from_millis(self.flush_interval_ms),
            ..crate::export::stage::StageConfig::default()
        })
    }
}

impl FlowArgs {
    /// Validates the flow options into pipeline settings.
    ///
    /// # Errors
    ///
    /// An option out of range, naming it and the accepted range.
    pub fn to_config(&self) -> Result<PipelineConfig, Error> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = self
            .workers
            .unwrap_or_else(|| cores.saturating_sub(1).max(1));
        if !(1..=1024).contains(&workers) {
            return Err(invalid(
                "--workers",
                format!("{workers} is out of range; use 1 to 1024"),
            ));
        }
        if self.idle_timeout == 0 {
            return Err(invalid(
                "--idle-timeout",
                "must be at least 1 second".into(),
            ));
        }
        if self.active_timeout == 0 {
            return Err(invalid(
                "--active-timeout",
                "must be at least 1 second".into(),
            ));
        }
        if self.max_flows < workers {
            return Err(invalid(
                "--max-flows",
                format!(
                    "{} is less than one flow per worker ({workers})",
                    self.max_flows
                ),
            ));
        }
        if self.max_flows > u32::MAX as usize / 2 {
            return Err(invalid("--max-flows", "at most 2147483647".into()));
        }
        if self.splt > 1024 {
            return Err(invalid(
                "--splt",
                format!("{} is too many; use 0 to 1024", self.splt),
            ));
        }
        if self.max_fragments == 0 {
            return Err(invalid("--max-fragments", "must be at least 1".into()));
        }
        Ok(PipelineConfig {
            workers,
            flow: FlowConfig {
                idle_timeout_ms: self.idle_timeout.saturating_mul(1000),
                active_timeout_ms: self.active_timeout.saturating_mul(1000),
                tcp_end: self.tcp_end == Switch::On,
                max_flows: self.max_flows,
                stats: self.stats,
                splt: self.splt,
                accounting: match self.accounting {
                    AccountingArg::Link => Accounting::Link,
                    AccountingArg::Ip => Accounting::Ip,
                    AccountingArg::Transport => Accounting::Transport,
                    AccountingArg::Payload => Accounting::Payload,
                },
            },
            decoder: DecoderConfig {
                decode_tunnels: self.decode_tunnels == Switch::On,
                max_fragments: self.max_fragments,
                join_fragments: self.ip_fragments == FragmentsArg::Join,
            },
            export: crate::export::stage::StageConfig::default(),
        })
    }
}

fn invalid(option: &'static str, reason: String) -> Error {
    Error::InvalidOption { option, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xdpflow").chain(args.iter().copied()))
    }

    fn flow_args(args: &[&str]) -> FlowArgs {
        match parse(args).unwrap().command {
            Command::Pcap(p) => p.flow,
        }
    }

    #[test]
    fn defaults_match_the_documentation() {
        let cfg = flow_args(&["pcap"]).to_config().unwrap();
        assert!(cfg.workers >= 1);
        assert_eq!(cfg.flow.idle_timeout_ms, 120_000);
        assert_eq!(cfg.flow.active_timeout_ms, 1_800_000);
        assert!(cfg.flow.tcp_end);
        assert_eq!(cfg.flow.accounting, Accounting::Link);
        assert!(cfg.decoder.decode_tunnels);
    }

    #[test]
    fn options_reach_the_config() {
        let cfg = flow_args(&[
            "pcap",
            "x.pcap",
            "--workers",
            "3",
            "--tcp-end",
            "off",
            "--stats",
            "--splt",
            "5",
            "--accounting",
            "payload",
            "--idle-timeout",
            "15",
            "--decode-tunnels",
            "off",
        ])
        .to_config()
        .unwrap();
        assert_eq!(cfg.workers, 3);
        assert!(!cfg.flow.tcp_end && cfg.flow.stats && !cfg.decoder.decode_tunnels);
        assert_eq!((cfg.flow.splt, cfg.flow.idle_timeout_ms), (5, 15_000));
        assert_eq!(cfg.flow.accounting, Accounting::Payload);
    }

    fn output_args(args: &[&str]) -> OutputArgs {
        match parse(args).unwrap().command {
            Command::Pcap(p) => p.output,
        }
    }

    #[test]
    fn sinks_open_from_their_options() {
        let dir = std::env::temp_dir().join(format!("xdpflow-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("f.ndjson");
        let nmsg = format!("file:{}", dir.join("f.nmsg").display());
        let trap = format!("f:{}", dir.join("f.trap").display());
        let out = output_args(&[
            "pcap",
            "--json",
            json.to_str().unwrap(),
            "--nmsg",
            &nmsg,
            "--trap",
            &trap,
        ]);
        let names: Vec<_> = out.open_sinks().unwrap().iter().map(|s| s.name()).collect();
        assert_eq!(names, ["json", "nmsg", "trap"]);
        // No sink option: NDJSON on stdout.
        let names: Vec<_> = output_args(&["pcap"])
            .open_sinks()
            .unwrap()
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, ["json"]);
        // A malformed destination names itself.
        let err = output_args(&["pcap", "--nmsg", "udp:nowhere"])
            .open_sinks()
            .err()
            .unwrap();
        assert!(err.to_string().contains("udp:nowhere"), "{err}");
        let err = output_args(&["pcap", "--trap", "x:1"])
            .open_sinks()
            .err()
            .unwrap();
        assert!(err.to_string().contains("x:1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, option) in [
            (&["pcap", "--workers", "0"][..], "--workers"),
            (&["pcap", "--idle-timeout", "0"][..], "--idle-timeout"),
            (
                &["pcap", "--workers", "4", "--max-flows", "2"][..],
                "--max-flows",
            ),
            (&["pcap", "--splt", "5000"][..], "--splt"),
        ] {
            let err = flow_args(args).to_config().unwrap_err();
            assert!(err.to_string().contains(option), "{err}");
        }
        assert!(parse(&["pcap", "--tcp-end", "maybe"]).is_err());
    }
}
