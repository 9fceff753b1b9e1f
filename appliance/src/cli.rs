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

    /// Capture live from a network interface, one pinned worker per NIC queue.
    ///
    /// An XDP program steers each queue's packets into an AF_XDP socket (zero-copy where the
    /// driver supports it); each queue's worker owns its share of the flow table. Both
    /// directions of a flow must reach the same queue: run `deploy/nic-setup.sh IF N` once
    /// (symmetric RSS); xdpflow warns at start when the RSS key is not symmetric. Where XDP
    /// cannot attach, `--capture af-packet` uses TPACKET_V3 rings in a hash fanout instead.
    /// Flows expire on the wall clock. SIGINT/SIGTERM: capture stops, every flow is exported
    /// (end_reason `shutdown`), the program detaches, exit 0.
    ///
    /// Needs CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON (AF_XDP), CAP_NET_RAW, and CAP_IPC_LOCK
    /// for large UMEMs (or root).
    #[command(after_help = "Examples:\n  \
        xdpflow run -i eth1 --json /var/lib/xdpflow/flows.ndjson\n  \
        xdpflow run -i eth1 --queues 0-3 --cores 2-5 --trap u:xdpflow\n  \
        xdpflow run -i eth1 --deny 10.0.0.0/8 --protocols tcp,udp --sample 10 --json -\n  \
        xdpflow run -i eth1 --capture af-packet --queues 0-3 --nmsg udp:127.0.0.1:5000")]
    Run(RunArgs),

    /// Validate a TOML configuration file without running anything.
    ///
    /// Every key and value is checked as `xdpflow run --config FILE` would (a file with no
    /// `[capture]` setting: as `xdpflow pcap --config FILE` would); errors name the key, its line
    /// and the fix, all of them at once. What needs the machine (the interface, its queues,
    /// creating output files, binding addresses) is checked when `run` starts. Exit code 0
    /// when the file is valid, 2 otherwise.
    CheckConfig(CheckConfigArgs),
}

/// `xdpflow check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file (e.g. /etc/xdpflow/xdpflow.toml).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Operations: configuration file and metrics endpoint.
#[derive(Debug, Args)]
#[command(next_help_heading = "Operations")]
pub struct OpsArgs {
    /// Read settings from this TOML file first; an option on the command line replaces the
    /// file's setting of it (for a repeatable option, its whole list). Keys are the long option
    /// names (`idle_timeout`), in tables named after the help headings: `[capture]`,
    /// `[flow]`, `[output]`, `[nmsg]`, ... (see `deploy/xdpflow.toml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Serve Prometheus metrics on http://ADDR:PORT/metrics; `off` disables [default:
    /// 127.0.0.1:9617 for `run`, off for `pcap`].
    #[arg(long, value_name = "ADDR:PORT|off")]
    pub metrics: Option<String>,
}

/// `xdpflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where packets come from.
    #[command(flatten)]
    pub capture: CaptureArgs,

    /// Flow table settings.
    #[command(flatten)]
    pub flow: FlowArgs,

    /// Where records go and what the terminal shows.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Configuration file and metrics.
    #[command(flatten)]
    pub ops: OpsArgs,
}

/// `--capture`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptureArg {
    /// XDP steering into AF_XDP sockets, one per NIC queue.
    AfXdp,
    /// AF_PACKET TPACKET_V3 rings in a PACKET_FANOUT_HASH group (no XDP).
    AfPacket,
}

/// `--xdp-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum XdpModeArg {
    /// Driver mode, else generic (skb) mode.
    Auto,
    /// Driver (native) mode only.
    Drv,
    /// Generic mode only (any driver; slower: after the skb is built).
    Skb,
}

/// `--bind-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BindModeArg {
    /// Zero-copy, else copy.
    Auto,
    /// Zero-copy only (the driver must support it).
    Zc,
    /// Copy mode only.
    Copy,
}

/// Live capture options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Capture")]
pub struct CaptureArgs {
    /// Network interface to capture on.
    #[arg(long, short = 'i', value_name = "IF")]
    pub iface: String,

    /// NIC queues to capture, one worker each: `all`, a range `0-3` or a list `0,2`. With
    /// `--capture af-packet`: the number of fanout members (`all` = one per RX queue).
    #[arg(long, value_name = "all|A-B|A,B,...", default_value = "all")]
    pub queues: String,

    /// CPUs for the workers, in queue order: a list `2,3` or a range `2-5` [default: one CPU
    /// each, in order, among those this process may use; never two workers on one CPU unless
    /// listed twice here].
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// How packets reach the workers.
    #[arg(long, value_name = "KIND", default_value = "af-xdp")]
    pub capture: CaptureArg,

    /// XDP attach mode.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub xdp_mode: XdpModeArg,

    /// Replace an XDP program already attached to the interface (by default xdpflow refuses
    /// to touch it).
    #[arg(long)]
    pub xdp_replace: bool,

    /// AF_XDP bind mode.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub bind_mode: BindModeArg,

    /// UMEM frames per queue (AF_XDP), a power of two; each is `--frame-size` bytes (the
    /// default UMEM is 16 MiB per queue: above RLIMIT_MEMLOCK it needs CAP_IPC_LOCK).
    #[arg(long, value_name = "N", default_value_t = 8192)]
    pub frames: u32,

    /// Bytes per frame: 2048 or 4096 (AF_XDP); frame slot size (AF_PACKET).
    #[arg(long, value_name = "BYTES", default_value_t = 2048)]
    pub frame_size: u32,

    /// Descriptors in each of the RX and FILL rings (AF_XDP), a power of two. Deep rings ride
    /// out a worker that the scheduler keeps off its CPU for a few milliseconds.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub ring_size: u32,

    /// Capture only packets from or to these prefixes (IPv4 or IPv6, e.g. 198.18.0.0/15);
    /// filtered in the kernel. Repeatable.
    #[arg(long, value_name = "PREFIX")]
    pub allow: Vec<String>,

    /// Never capture packets from or to these prefixes; filtered in the kernel. Repeatable.
    #[arg(long, value_name = "PREFIX")]
    pub deny: Vec<String>,

    /// Capture only these IP protocols: names (tcp, udp, icmp, icmpv6, sctp, gre, esp) or
    /// numbers, comma-separated; filtered in the kernel.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub protocols: Vec<String>,

    /// Capture one flow in N (flow-consistent: a sampled flow is seen whole), in the kernel.
    #[arg(long, value_name = "N")]
    pub sample: Option<u32>,
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

    /// Configuration file and metrics.
    #[command(flatten)]
    pub ops: OpsArgs,
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

    /// Run DPI on the first N packets of each flow: application_name (nDPI's `TLS.YouTube`
    /// form), application_category_name, requested_server_name, TLS/QUIC/SSH fingerprints,
    /// HTTP user agent... (nfstream's n_dissections). 0 = off: no DPI fields, no payload copy.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub n_dissections: u32,

    /// Add application names from FILE (the format of the shipped table, see
    /// appliance/data/apps.toml): server-name patterns, address ranges, port guesses. Its
    /// entries extend and override the shipped ones.
    #[arg(long, value_name = "FILE")]
    pub dpi_apps: Option<std::path::PathBuf>,

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

    /// Lifecycle events, for sinks that keep a live view of current flows (`--redis`,
    /// `--events`): re-send a running flow every N of its packets, per transport (0 = never).
    #[arg(
        long,
        value_name = "tcp=N,udp=N,other=N",
        default_value = "tcp=32,udp=16,other=16"
    )]
    pub update_every_packets: String,

    /// Lifecycle events: also re-send a running flow when this many seconds passed since its
    /// last event (checked at its packets; 0 = never).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub update_every: u64,
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

    /// Flow lifecycle events as JSON lines — `{"event":"insert|update|remove","key":..,
    /// "record":{..}}` — to a file PATH or stdout (`-`); see `--update-every-packets`.
    #[arg(long, value_name = "PATH|-")]
    pub events: Option<String>,

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

    /// Live capture: when stopping, how long sinks get to write what is queued before their
    /// remaining records are counted as dropped and the process exits.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub drain_timeout: u64,

    /// Also write the end-of-run counters as one JSON object to this file (for scripts).
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,

    /// NMSG sinks.
    #[command(flatten)]
    pub nmsg: NmsgArgs,

    /// UniRec over TRAP sinks.
    #[command(flatten)]
    pub trap: TrapArgs,

    /// The Redis live view of current flows.
    #[command(flatten)]
    pub redis: RedisArgs,
}

/// Redis output: a live view of current flows, kept up to date by lifecycle events.
#[derive(Debug, Args)]
#[command(next_help_heading = "Redis output (flow lifecycle)")]
pub struct RedisArgs {
    /// Keep a live view of current flows in Redis: each flow is written when it starts, every
    /// `--update-every-packets` packets (or `--update-every` seconds) while it runs, and when
    /// it ends (see --redis-layout); commands are pipelined, one round trip per batch. A Redis
    /// that is down, at start or later, is not fatal: events are dropped and counted, capture
    /// goes on, and the sink reconnects (backoff 0.1 s doubling to 5 s).
    #[arg(long = "redis", id = "redis", value_name = "redis://HOST:PORT[/DB]")]
    pub url: Option<String>,

    /// `hash`: a hash per transport, `PREFIX:flows:{tcp,udp,icmp,other}`, field = flow key,
    /// value = JSON record; an ended flow is deleted (HDEL). `keys`: a key per flow,
    /// `PREFIX:flow:<flow key>`, no expiry while it runs; its final record is kept for
    /// --redis-ttl seconds.
    #[arg(long = "redis-layout", value_name = "LAYOUT", default_value = "hash")]
    pub layout: RedisLayoutArg,

    /// Start of every Redis key.
    #[arg(
        long = "redis-prefix",
        value_name = "PREFIX",
        default_value = "xdpflow"
    )]
    pub prefix: String,

    /// `keys` layout: seconds an ended flow's final record is kept.
    #[arg(long = "redis-ttl", value_name = "SECS", default_value_t = 300)]
    pub ttl: u64,

    /// Also PUBLISH every ended flow on this channel, as
    /// {"event":"remove","key":..,"record":{..}} (either layout).
    #[arg(long = "redis-publish", value_name = "CHANNEL")]
    pub publish: Option<String>,
}

/// `--redis-layout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedisLayoutArg {
    /// A hash per transport; ended flows are deleted.
    Hash,
    /// A key per flow; ended flows expire after --redis-ttl.
    Keys,
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
    /// order JSON, NMSG, TRAP, events, Redis. Without any sink option: NDJSON on stdout.
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
        let none = self.json.is_empty()
            && self.nmsg.targets.is_empty()
            && self.trap.targets.is_empty()
            && self.events.is_none()
            && self.redis.url.is_none();
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
        if let Some(path) = &self.events {
            use crate::export::events::{AdaptorSink, file::EventFile};
            sinks.push(Box::new(AdaptorSink::new(EventFile::open(path)?)));
        }
        if let Some(url) = &self.redis.url {
            use crate::export::events::AdaptorSink;
            use crate::export::events::redis::{Layout, RedisAdaptor, RedisConfig};
            sinks.push(Box::new(AdaptorSink::new(RedisAdaptor::connect(
                RedisConfig {
                    url: url.clone(),
                    layout: match self.redis.layout {
                        RedisLayoutArg::Hash => Layout::Hash,
                        RedisLayoutArg::Keys => Layout::Keys,
                    },
                    prefix: self.redis.prefix.clone(),
                    ttl_secs: self.redis.ttl,
                    publish: self.redis.publish.clone(),
                },
            )?)));
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
    /// The lifecycle-event settings (`--update-every-packets`, `--update-every`).
    ///
    /// # Errors
    ///
    /// A malformed `--update-every-packets` list.
    pub fn event_config(&self) -> Result<crate::flow::EventConfig, Error> {
        let bad = |why: String| invalid("--update-every-packets", why);
        let mut every = [0u32; 3];
        for part in self
            .update_every_packets
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (name, n) = part.split_once('=').ok_or_else(|| {
                bad(format!(
                    "`{part}` is not NAME=N; write e.g. tcp=32,udp=16,other=0"
                ))
            })?;
            let slot = match name.trim() {
                "tcp" => 0,
                "udp" => 1,
                "other" => 2,
                other => return Err(bad(format!("`{other}`: use tcp, udp or other"))),
            };
            every[slot] = n
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{n}` is not a packet count")))?;
        }
        Ok(crate::flow::EventConfig {
            every_packets: every,
            every_ms: self.update_every.saturating_mul(1000),
        })
    }

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
        if self.n_dissections > 255 {
            return Err(invalid(
                "--n-dissections",
                format!("{} is too many; use 0 (off) to 255", self.n_dissections),
            ));
        }
        let dpi = if self.n_dissections == 0 {
            None
        } else {
            let mut apps = crate::dpi::apps::AppTable::builtin();
            if let Some(path) = &self.dpi_apps {
                apps.extend_from_file(path)
                    .map_err(|e| invalid("--dpi-apps", e))?;
            }
            Some(crate::dpi::DpiConfig {
                n_dissections: self.n_dissections,
                apps: std::sync::Arc::new(apps),
            })
        };
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
                // Switched on by the caller when a sink asks for events.
                events: None,
            },
            decoder: DecoderConfig {
                decode_tunnels: self.decode_tunnels == Switch::On,
                max_fragments: self.max_fragments,
                join_fragments: self.ip_fragments == FragmentsArg::Join,
            },
            export: crate::export::stage::StageConfig::default(),
            extras: crate::flow::ShardExtras {
                dpi,
                plugins: Vec::new(),
            },
        })
    }
}

impl CaptureArgs {
    /// The queues to capture, validated against the `available` RX queues of the interface.
    ///
    /// # Errors
    ///
    /// A malformed list, or a queue the interface does not have.
    pub fn queue_list(&self, available: u32) -> Result<Vec<u32>, Error> {
        if self.queues.trim() == "all" {
            return Ok((0..available.max(1)).collect());
        }
        let list = parse_list(&self.queues, "--queues")?;
        let mut queues = Vec::with_capacity(list.len());
        for q in list {
            let q = u32::try_from(q).unwrap_or(u32::MAX);
            if q >= available && self.capture == CaptureArg::AfXdp {
                return Err(invalid(
                    "--queues",
                    format!(
                        "`{}` has {available} RX queue(s), numbered 0 to {}; queue {q} does not \
                         exist (more queues: `ethtool -L {} combined N`)",
                        self.iface,
                        available.saturating_sub(1),
                        self.iface
                    ),
                ));
            }
            if queues.contains(&q) {
                return Err(invalid("--queues", format!("queue {q} is listed twice")));
            }
            queues.push(q);
        }
        Ok(queues)
    }

    /// One CPU per worker: the `--cores` list, or the first `n` of `usable` (the CPUs this
    /// process may run on).
    ///
    /// # Errors
    ///
    /// A malformed list, a list of the wrong length, or more workers than usable CPUs without
    /// an explicit list.
    pub fn core_list(&self, n: usize, usable: &[usize]) -> Result<Vec<usize>, Error> {
        match &self.cores {
            Some(spec) => {
                let list = parse_list(spec, "--cores")?;
                if list.len() != n {
                    return Err(invalid(
                        "--cores",
                        format!(
                            "lists {} CPU(s) for {n} worker(s); give one CPU per queue, in \
                             queue order (repeat a CPU to share it)",
                            list.len()
                        ),
                    ));
                }
                if let Some(c) = list.iter().find(|c| !usable.contains(c)) {
                    return Err(invalid(
                        "--cores",
                        format!("CPU {c} is not one this process may use ({usable:?})"),
                    ));
                }
                Ok(list)
            }
            None if n <= usable.len() => Ok(usable[..n].to_vec()),
            None => Err(invalid(
                "--queues",
                format!(
                    "{n} queues but only {} usable CPU(s): capture fewer queues, or share \
                     CPUs explicitly with --cores (e.g. --cores {})",
                    usable.len(),
                    (0..n)
                        .map(|i| usable.get(i % usable.len().max(1)).copied().unwrap_or(0))
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            )),
        }
    }

    /// The in-kernel pre-filter.
    ///
    /// # Errors
    ///
    /// A malformed prefix or protocol, or `--sample 0`.
    pub fn filter(&self) -> Result<xdp_prog::loader::SteerFilter, Error> {
        let prefixes = |list: &[String], option: &'static str| {
            list.iter()
                .map(|p| {
                    p.parse::<xdp_prog::loader::IpPrefix>().map_err(|e| {
                        invalid(
                            option,
                            format!("`{p}` is not an IP prefix ({e}); write e.g. 198.18.0.0/15"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut protocols = Vec::with_capacity(self.protocols.len());
        for p in &self.protocols {
            let n = match p.trim().to_ascii_lowercase().as_str() {
                "icmp" => 1,
                "tcp" => 6,
                "udp" => 17,
                "gre" => 47,
                "esp" => 50,
                "icmpv6" => 58,
                "sctp" => 132,
                other => other.parse::<u8>().map_err(|_| {
                    invalid(
                        "--protocols",
                        format!(
                            "`{p}` is not a protocol: use tcp, udp, icmp, icmpv6, sctp, gre, \
                             esp or a number 0-255"
                        ),
                    )
                })?,
            };
            protocols.push(n);
        }
        if self.sample == Some(0) {
            return Err(invalid(
                "--sample",
                "must be at least 1 (1 = every flow)".into(),
            ));
        }
        Ok(xdp_prog::loader::SteerFilter {
            allow: prefixes(&self.allow, "--allow")?,
            deny: prefixes(&self.deny, "--deny")?,
            protocols,
            sample_one_in: self.sample.unwrap_or(1),
        })
    }
}

/// `2,3`, `2-5`, `0-1,4,4` → the numbers in order.
fn parse_list(spec: &str, option: &'static str) -> Result<Vec<usize>, Error> {
    let bad = || {
        invalid(
            option,
            format!("`{spec}` is not a list: write e.g. `0,2` or `0-3` or `0-1,4`"),
        )
    };
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if b < a || b - a > 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() || out.len() > 4096 {
        return Err(bad());
    }
    Ok(out)
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
            Command::Run(r) => r.flow,
            Command::CheckConfig(_) => unreachable!("a pcap or run command"),
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
            Command::Run(r) => r.output,
            Command::CheckConfig(_) => unreachable!("a pcap or run command"),
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
    fn the_redis_sink_opens_even_when_redis_is_down() {
        // Nobody listens on the port: not an error (dropped and counted), and no default
        // stdout sink either.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("redis://127.0.0.1:{port}/2");
        let out = output_args(&["pcap", "--redis", &url, "--redis-layout", "keys"]);
        let sinks = out.open_sinks().unwrap();
        let names: Vec<_> = sinks.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["redis"]);
        assert!(sinks[0].wants_events());
        assert_eq!(sinks[0].stats().errors, 1, "the failed connect is counted");
        let err = output_args(&["pcap", "--redis", "127.0.0.1:6379"])
            .open_sinks()
            .err()
            .unwrap();
        assert!(err.to_string().contains("redis://HOST"), "{err}");
        let err = output_args(&["pcap", "--redis", &url, "--redis-ttl", "0"])
            .open_sinks()
            .err()
            .unwrap();
        assert!(err.to_string().contains("--redis-ttl"), "{err}");
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

    fn capture_args(args: &[&str]) -> CaptureArgs {
        let mut all = vec!["run", "-i", "eth9"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Run(r) => r.capture,
            _ => unreachable!("a run command"),
        }
    }

    #[test]
    fn queue_lists_are_checked_against_the_interface() {
        assert_eq!(capture_args(&[]).queue_list(4).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            capture_args(&["--queues", "0-1,3"]).queue_list(4).unwrap(),
            vec![0, 1, 3]
        );
        let err = capture_args(&["--queues", "4"]).queue_list(4).unwrap_err();
        assert!(err.to_string().contains("has 4 RX queue(s)"), "{err}");
        let err = capture_args(&["--queues", "1,1"])
            .queue_list(4)
            .unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        for bad in ["", "a", "3-1", "1-", "0-99999"] {
            let err = capture_args(&["--queues", bad]).queue_list(4).unwrap_err();
            assert!(err.to_string().contains("--queues"), "{bad}: {err}");
        }
        // AF_PACKET: the list only counts fanout members.
        let a = capture_args(&["--capture", "af-packet", "--queues", "0-5"]);
        assert_eq!(a.queue_list(1).unwrap().len(), 6);
    }

    #[test]
    fn workers_get_one_cpu_each_unless_told_to_share() {
        assert_eq!(capture_args(&[]).core_list(2, &[0, 1]).unwrap(), vec![0, 1]);
        let err = capture_args(&[]).core_list(3, &[0, 1]).unwrap_err();
        assert!(err.to_string().contains("--cores 0,1,0"), "{err}");
        assert_eq!(
            capture_args(&["--cores", "1,1,0"])
                .core_list(3, &[0, 1])
                .unwrap(),
            vec![1, 1, 0]
        );
        let err = capture_args(&["--cores", "0-3"])
            .core_list(2, &[0, 1, 2, 3])
            .unwrap_err();
        assert!(err.to_string().contains("4 CPU(s) for 2"), "{err}");
        let err = capture_args(&["--cores", "7"])
            .core_list(1, &[0, 1])
            .unwrap_err();
        assert!(err.to_string().contains("CPU 7"), "{err}");
    }

    #[test]
    fn the_kernel_filter_is_validated() {
        let f = capture_args(&[
            "--allow",
            "198.18.0.0/15",
            "--deny",
            "2001:db8::/32",
            "--protocols",
            "tcp,udp,47",
            "--sample",
            "8",
        ])
        .filter()
        .unwrap();
        assert_eq!(f.allow.len(), 1);
        assert_eq!(f.deny.len(), 1);
        assert_eq!(f.protocols, vec![6, 17, 47]);
        assert_eq!(f.sample_one_in, 8);
        let err = capture_args(&["--deny", "10.0.0.0/33"])
            .filter()
            .unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
        let err = capture_args(&["--protocols", "tcpp"]).filter().unwrap_err();
        assert!(err.to_string().contains("tcpp"), "{err}");
        let err = capture_args(&["--sample", "0"]).filter().unwrap_err();
        assert!(err.to_string().contains("--sample"), "{err}");
    }
}
