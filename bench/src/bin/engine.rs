//! Engine benchmarks of xdpflow (see `bench/README.md`). Not a test: it prints one markdown
//! table row per measurement, each the median of `--runs` repetitions (default 5).
//!
//! ```text
//! engine synthetic [--flows K]... [--packets N] [--runs R]   decode + key/hash + Shard::process_batch
//! engine memory [--flows N]                                  RSS per live flow (child processes)
//! engine file PATH [--runs R]                                run_offline, 1 worker, JSON → sink
//! engine all PATH                                            the three above with defaults
//! ```
//!
//! Plain `std::time::Instant`; run it on an otherwise idle machine, built with
//! `cargo build --release -p appliance-bench`.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::capture::PacketSource;
use appliance::capture::mem::MemSource;
use appliance::capture::pcap::PcapSource;
use appliance::export::ExportSink;
use appliance::export::json::JsonSink;
use appliance::flow::{EndReason, FlowConfig, FlowPacket, FlowRecord, KeyHasher, Shard};
use appliance::packet::{Decoder, DecoderConfig, LinkType};
use appliance::pipeline::{Counters, PipelineConfig, run_offline};
use appliance_bench::{fmt_rate, median};

/// Size of every synthetic frame: Ethernet 14 + IPv4 20 + UDP 8 + 22 bytes of payload.
const FRAME: usize = 64;
/// Synthetic time step between packets. 100 ns: 20 M packets span 2 s of packet time, far
/// below the 120 s idle timeout, so no flow expires during a run.
const STEP_NS: u64 = 100;
/// Packet time of the first synthetic packet (2026-11-23T00:00:00Z).
const T0_NS: u64 = 1_795_392_000_000_000_000;
/// How often the synthetic loop calls `Shard::advance`, as the pipeline's worker does once
/// per batch of 256 packets.
const ADVANCE_EVERY: u64 = 256;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{}", USAGE);
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("engine: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "synthetic" => synthetic(&opts),
        "memory" => memory(&opts),
        "memory-child" => memory_child(&opts),
        "file" => file(&opts),
        "synth-pcap" => synth_pcap(&opts),
        "all" => synthetic(&opts)
            .and_then(|()| memory(&opts))
            .and_then(|()| file(&opts)),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engine: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: engine synthetic [--flows K]... [--packets N] [--runs R] [--stream N]
       engine memory [--flows N]
       engine file PATH [--runs R]
       engine all PATH [--runs R]
       engine synth-pcap OUT [--flows K] [--packets N]   (the synthetic stream as a pcap file)";

#[derive(Debug)]
struct Opts {
    flows: Vec<usize>,
    packets: u64,
    runs: usize,
    /// Frames in the synthetic packet stream buffer (a power of two), replayed in a loop.
    stream: usize,
    /// Only this synthetic stage (`decode`, `key`, `full`) or file variant (`pcap`, `mem`,
    /// `inline`): for profiling.
    only: Option<String>,
    /// Synthetic: size the table for this many flows instead of K + 12.5 %.
    max_flows: Option<usize>,
    stats: bool,
    splt: usize,
    /// Memory: DPI on, each flow's two packets carry a DNS query and its response.
    dpi: bool,
    path: Option<PathBuf>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            flows: Vec::new(),
            packets: 20_000_000,
            runs: 5,
            stream: 1 << 20,
            only: None,
            max_flows: None,
            stats: false,
            splt: 0,
            dpi: false,
            path: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = |name: &str| -> Result<u64, String> {
                it.next()
                    .ok_or(format!("{name} needs a value"))?
                    .replace('_', "")
                    .parse::<u64>()
                    .map_err(|e| format!("{name}: {e}"))
            };
            match a.as_str() {
                "--flows" => o.flows.push(val("--flows")? as usize),
                "--packets" => o.packets = val("--packets")?,
                "--runs" => o.runs = (val("--runs")? as usize).max(1),
                "--stream" => o.stream = (val("--stream")? as usize).next_power_of_two(),
                "--max-flows" => o.max_flows = Some(val("--max-flows")? as usize),
                "--only" => o.only = it.next().cloned(),
                "--splt" => o.splt = val("--splt")? as usize,
                "--stats" => o.stats = true,
                "--dpi" => o.dpi = true,
                p if !p.starts_with("--") && o.path.is_none() => o.path = Some(PathBuf::from(p)),
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64* with a fixed seed: the same packet order on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Resident set size of this process, bytes (`VmRSS` of `/proc/self/status`).
fn rss_bytes() -> Result<u64, String> {
    let s = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

fn table_header() {
    println!(
        "| benchmark | configuration | packets/run | flows | median s | packets/s | runs (s) |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
}

fn row(bench: &str, cfg: &str, packets: u64, live: usize, times: &[f64]) {
    let med = median(times.to_vec());
    let list: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    println!(
        "| {bench} | {cfg} | {packets} | {live} | {med:.3} | {} | {} |",
        fmt_rate(packets as f64 / med),
        list.join(" ")
    );
}

// ---------------------------------------------------------------------------------------------
// Synthetic frames

/// The two endpoints of synthetic flow `i`: addresses in 198.18.0.0/15 (RFC 2544 benchmark
/// range), unique per flow by construction for `i < 2^24`, with varying ports.
fn endpoints(i: u32) -> ([u8; 4], u16, [u8; 4], u16) {
    let src = [198, 18, (i >> 8) as u8, i as u8];
    let dst = [
        198,
        19,
        (i >> 16) as u8,
        (i.wrapping_mul(0x9e37_79b9) >> 24) as u8,
    ];
    let sport = 1024 + (i.wrapping_mul(2_654_435_761) >> 16) as u16 % 60_000;
    let dport = [53u16, 123, 443, 8080, 5060, 3478][(i % 6) as usize];
    (src, sport, dst, dport)
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes the 64-byte Ethernet/IPv4/UDP frame of flow `i` into `b`, in the forward direction
/// or reversed (addresses, ports and MACs swapped).
fn write_frame(b: &mut [u8], i: u32, reverse: bool) {
    let (mut s, mut sp, mut d, mut dp) = endpoints(i);
    let mut smac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    let mut dmac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
    if reverse {
        std::mem::swap(&mut s, &mut d);
        std::mem::swap(&mut sp, &mut dp);
        std::mem::swap(&mut smac, &mut dmac);
    }
    let b = &mut b[..FRAME];
    b.fill(0);
    b[0..6].copy_from_slice(&dmac);
    b[6..12].copy_from_slice(&smac);
    b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut b[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((FRAME - 14) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
    ip[6] = 0x40; // DF, offset 0
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&s);
    ip[16..20].copy_from_slice(&d);
    let c = ip_checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp = &mut b[34..42];
    udp[0..2].copy_from_slice(&sp.to_be_bytes());
    udp[2..4].copy_from_slice(&dp.to_be_bytes());
    udp[4..6].copy_from_slice(&((FRAME - 34) as u16).to_be_bytes());
    // UDP checksum 0: not computed (allowed for IPv4).
}

/// `n` frames (a power of two) laid out back to back in processing order: each picks a flow
/// uniformly at random among `flows` and a direction (half reversed).
fn make_stream(flows: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut buf = vec![0u8; n * FRAME];
    for f in buf.chunks_exact_mut(FRAME) {
        let r = rng.next();
        let i = ((u128::from(r >> 1) * flows as u128) >> 63) as u32;
        write_frame(f, i, r & 1 == 1);
    }
    buf
}

fn synth_flow_config(max_flows: usize) -> FlowConfig {
    FlowConfig {
        max_flows,
        tcp_end: false,
        ..FlowConfig::default()
    }
}

/// What the timed loop does per packet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `Decoder::decode` only.
    Decode,
    /// Decode + `FlowPacket::new` (canonical key, hash).
    Key,
    /// Decode + key + `Shard::process_batch` and `advance` per 256 packets: the worker path.
    Full,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Key => "key",
            Stage::Full => "full",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Stage::Decode => "decode only",
            Stage::Key => "decode + FlowPacket::new",
            Stage::Full => "decode + key + Shard::process_batch",
        }
    }
}

struct SynthRun {
    elapsed: Duration,
    live: usize,
    ended: usize,
    dropped: u64,
}

fn synth_once(
    flows: usize,
    max_flows: usize,
    packets: u64,
    stream: &[u8],
    stage: Stage,
) -> SynthRun {
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut shard = Shard::new(synth_flow_config(max_flows), 0, 1);
    let mut out: Vec<FlowRecord> = Vec::with_capacity(1024);
    let mut ts = T0_NS;
    let mut dropped = 0u64;
    let mut ended = 0usize;

    // Warm-up (not timed): create every flow once, in flow order.
    if stage == Stage::Full {
        let mut f = [0u8; FRAME];
        for i in 0..flows as u32 {
            write_frame(&mut f, i, false);
            match decoder.decode(LinkType::Ethernet, &f, ts) {
                Ok(d) => shard.process(&FlowPacket::new(&hasher, d, ts, FRAME as u32), &mut out),
                Err(_) => dropped += 1,
            }
            ts += STEP_NS;
        }
        ended += out.len();
        out.clear();
    }

    let frames = stream.len() / FRAME;
    let mask = frames - 1;
    // The worker's shape: packets gathered in batches of ADVANCE_EVERY, then
    // `Shard::process_batch` and `Shard::advance` once per batch.
    let mut batch: Vec<FlowPacket> = Vec::with_capacity(ADVANCE_EVERY as usize);
    let start = Instant::now();
    for p in 0..packets {
        let off = (p as usize & mask) * FRAME;
        let frame = &stream[off..off + FRAME];
        match decoder.decode(LinkType::Ethernet, frame, ts) {
            Ok(d) => match stage {
                Stage::Decode => {
                    black_box(&d);
                }
                Stage::Key => {
                    black_box(FlowPacket::new(&hasher, d, ts, FRAME as u32));
                }
                Stage::Full => {
                    batch.push(FlowPacket::new(&hasher, d, ts, FRAME as u32));
                    if batch.len() == ADVANCE_EVERY as usize {
                        shard.process_batch(&batch, &mut out);
                        batch.clear();
                        shard.advance(ts, &mut out);
                        ended += out.len();
                        out.clear();
                    }
                }
            },
            Err(_) => dropped += 1,
        }
        ts += STEP_NS;
    }
    shard.process_batch(&batch, &mut out);
    let elapsed = start.elapsed();
    ended += out.len();
    SynthRun {
        elapsed,
        live: shard.live(),
        ended,
        dropped,
    }
}

fn synthetic(o: &Opts) -> Result<(), String> {
    let flows = if o.flows.is_empty() {
        vec![10_000, 1_000_000]
    } else {
        o.flows.clone()
    };
    let env = std::env::var("GLIBC_TUNABLES")
        .map(|v| format!(", GLIBC_TUNABLES={v}"))
        .unwrap_or_default();
    println!(
        "\n### synthetic: 64-byte Ethernet/IPv4/UDP frames, 1 thread, {} packets per run, median of {}{env}\n",
        o.packets, o.runs
    );
    table_header();
    for &k in &flows {
        if k == 0 || k >= 1 << 24 {
            return Err(format!("--flows {k}: use 1 to 16777215"));
        }
        // Room for every flow plus slack unless told: nothing is evicted.
        let max_flows = o.max_flows.unwrap_or(k + k / 8 + 16);
        if max_flows < k {
            return Err(format!(
                "--max-flows {max_flows} < --flows {k}: flows would be evicted"
            ));
        }
        let table = if o.max_flows.is_some() {
            format!(", table for {max_flows}")
        } else {
            String::new()
        };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ k as u64);
        let stream = make_stream(k, o.stream.max(1), &mut rng);
        for stage in [Stage::Decode, Stage::Key, Stage::Full] {
            if o.only.as_deref().is_some_and(|x| x != stage.name()) {
                continue;
            }
            let mut times = Vec::new();
            let mut live = 0;
            for _ in 0..o.runs {
                let r = synth_once(k, max_flows, o.packets, &stream, stage);
                if r.dropped > 0 {
                    return Err(format!(
                        "{} of the synthetic frames were dropped by the decoder",
                        r.dropped
                    ));
                }
                if stage == Stage::Full && (r.live != k || r.ended != 0) {
                    return Err(format!(
                        "expected {k} live flows and none ended, got {} live, {} ended",
                        r.live, r.ended
                    ));
                }
                live = r.live;
                times.push(secs(r.elapsed));
            }
            row(
                "synthetic",
                &format!("{k} flows{table}, {}", stage.label()),
                o.packets,
                live,
                &times,
            );
        }
    }
    Ok(())
}

/// Writes the synthetic stream (first `--flows`, default 10 000; `--packets` frames, default
/// 1 M) as a classic microsecond pcap, to check the frames with tshark or feed them to peers.
fn synth_pcap(o: &Opts) -> Result<(), String> {
    use std::io::Write;
    let path = o.path.clone().ok_or("synth-pcap: give the output path")?;
    let k = o.flows.first().copied().unwrap_or(10_000);
    let n = if o.packets == 20_000_000 {
        1 << 20
    } else {
        o.packets as usize
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ k as u64);
    let stream = make_stream(k, n.next_power_of_two(), &mut rng);
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65_535, 1] {
        hdr.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&hdr).map_err(|e| e.to_string())?;
    let mut ts = T0_NS;
    for f in stream.chunks_exact(FRAME).take(n) {
        let mut rec = Vec::with_capacity(16 + FRAME);
        for v in [
            (ts / 1_000_000_000) as u32,
            (ts % 1_000_000_000 / 1000) as u32,
            FRAME as u32,
            FRAME as u32,
        ] {
            rec.extend_from_slice(&v.to_le_bytes());
        }
        rec.extend_from_slice(f);
        w.write_all(&rec).map_err(|e| e.to_string())?;
        ts += STEP_NS * 10; // 1 µs: distinct pcap timestamps
    }
    w.flush().map_err(|e| e.to_string())?;
    eprintln!("{}: {n} frames over {k} flows", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Memory

/// Runs in a fresh process (so allocator state of an earlier measurement cannot blur this
/// one): RSS before the shard exists, after `Shard::new`, and after creating `flows` flows.
fn memory_child(o: &Opts) -> Result<(), String> {
    let flows = o.flows.first().copied().unwrap_or(1_000_000);
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut out: Vec<FlowRecord> = Vec::with_capacity(1024);
    let mut f = [0u8; FRAME];
    // Exercise the decoder once so its lazily built state is in the baseline.
    write_frame(&mut f, 0, false);
    let _ = decoder.decode(LinkType::Ethernet, &f, T0_NS);
    let cfg = FlowConfig {
        max_flows: flows,
        stats: o.stats,
        splt: o.splt,
        ..FlowConfig::default()
    };
    let extras = appliance::flow::ShardExtras {
        dpi: o.dpi.then(appliance::dpi::DpiConfig::default),
        plugins: Vec::new(),
    };
    let mut payload = Vec::with_capacity(64);
    let before = rss_bytes()?;
    let mut shard = Shard::with_extras(cfg, 0, 1, &extras);
    let after_new = rss_bytes()?;
    let mut ts = T0_NS;
    // Each flow sees 2 packets (one each way) so per-direction state is touched too.
    for pass in 0..2 {
        for i in 0..flows as u32 {
            write_frame(&mut f, i, pass == 1);
            let d = decoder
                .decode(LinkType::Ethernet, &f, ts)
                .map_err(|r| format!("synthetic frame dropped: {r:?}"))?;
            if o.dpi {
                dns_payload(&mut payload, i, pass == 1);
            }
            shard.process_with(
                &FlowPacket::new(&hasher, d, ts, FRAME as u32),
                &payload,
                &mut out,
            );
            ts += STEP_NS;
        }
    }
    let after = rss_bytes()?;
    let live = shard.live();
    if live != flows || !out.is_empty() {
        return Err(format!(
            "expected {flows} live flows, got {live} ({} ended)",
            out.len()
        ));
    }
    println!("{before} {after_new} {after} {live}");
    // Keep the shard alive until after the measurement; drain proves it is intact.
    shard.drain(EndReason::Shutdown, &mut out);
    black_box(out.len());
    Ok(())
}

/// A DNS query (or its response, no answers) for `host<i>.example.com`, type A.
fn dns_payload(buf: &mut Vec<u8>, i: u32, response: bool) {
    buf.clear();
    buf.extend_from_slice(&(i as u16).to_be_bytes());
    buf.extend_from_slice(if response {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let label = format!("host{i}");
    buf.push(label.len() as u8);
    buf.extend_from_slice(label.as_bytes());
    buf.push(7);
    buf.extend_from_slice(b"example");
    buf.push(3);
    buf.extend_from_slice(b"com");
    buf.extend_from_slice(&[0, 0, 1, 0, 1]);
}

fn memory(o: &Opts) -> Result<(), String> {
    let flows = o.flows.first().copied().unwrap_or(1_000_000);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    println!(
        "\n### memory: RSS of a Shard with max_flows = {flows}, {flows} live flows (VmRSS, fresh process each)\n"
    );
    println!(
        "| configuration | RSS before | after Shard::new | after {flows} flows | Δ RSS | bytes per live flow |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    for (label, extra) in [
        ("default (no --stats, no --splt)", vec![]),
        ("--stats", vec!["--stats".to_string()]),
        ("--splt 10", vec!["--splt".to_string(), "10".to_string()]),
        (
            "DPI on, each flow a DNS query + response (result kept until the flow ends)",
            vec!["--dpi".to_string()],
        ),
    ] {
        let outp = Command::new(&exe)
            .arg("memory-child")
            .arg("--flows")
            .arg(flows.to_string())
            .args(&extra)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if !outp.status.success() {
            return Err(format!(
                "memory-child {label} failed: {}",
                String::from_utf8_lossy(&outp.stderr)
            ));
        }
        let s = String::from_utf8_lossy(&outp.stdout);
        let v: Vec<u64> = s
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [before, after_new, after, live] = v[..] else {
            return Err(format!("memory-child printed {s:?}"));
        };
        let delta = after.saturating_sub(before);
        println!(
            "| {label} | {} | {} | {} | {} | {:.0} |",
            mib(before),
            mib(after_new),
            mib(after),
            mib(delta),
            delta as f64 / live as f64
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// File

fn file_pipeline_config() -> PipelineConfig {
    // As `xdpflow pcap FILE --workers 1 --tcp-end off` with every other option at its default.
    PipelineConfig {
        workers: 1,
        flow: FlowConfig {
            tcp_end: false,
            max_flows: 2_000_000,
            ..FlowConfig::default()
        },
        decoder: DecoderConfig::default(),
        export: appliance::export::stage::StageConfig::default(),
        extras: appliance::flow::ShardExtras::default(),
    }
}

struct FileRun {
    elapsed: Duration,
    frames: u64,
    dropped: u64,
    records: u64,
}

fn pipeline_once(source: &mut dyn PacketSource) -> Result<FileRun, String> {
    let cfg = file_pipeline_config();
    let counters = Arc::new(Counters::default());
    let sinks: Vec<Box<dyn ExportSink>> = vec![Box::new(JsonSink::to_writer(
        "sink",
        Box::new(std::io::sink()),
    ))];
    let start = Instant::now();
    let outcome = run_offline(source, &cfg, sinks, &counters, None);
    let elapsed = start.elapsed();
    if let Some(e) = outcome.error {
        return Err(format!("run_offline failed: {e}"));
    }
    let s = outcome.summary;
    Ok(FileRun {
        elapsed,
        frames: s.frames,
        dropped: s.dropped(),
        records: s.records_exported,
    })
}

/// Decode + key + shard on the caller's thread over in-memory frames of the file: the work
/// of the pipeline without its threads and queues.
fn inline_once(mem: &MemSource) -> (Duration, usize) {
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut shard = Shard::new(file_pipeline_config().flow, 0, 1);
    let mut out: Vec<FlowRecord> = Vec::with_capacity(1024);
    let mut records = 0usize;
    let mut now = 0u64;
    let start = Instant::now();
    for (n, f) in mem.frames().iter().enumerate() {
        now = now.max(f.ts_ns);
        if let Ok(d) = decoder.decode(f.link, &f.data, f.ts_ns) {
            shard.process(&FlowPacket::new(&hasher, d, f.ts_ns, f.wire_len), &mut out);
        }
        if n % 256 == 255 {
            shard.advance(now, &mut out);
            records += out.len();
            out.clear();
        }
    }
    shard.advance(now, &mut out);
    shard.drain(EndReason::Shutdown, &mut out);
    records += out.len();
    (start.elapsed(), records)
}

fn file(o: &Opts) -> Result<(), String> {
    let path = o
        .path
        .clone()
        .ok_or("file: give the capture's path (e.g. /tmp/xbench/big10.pcap)")?;
    let paths = [path.clone()];
    let open = || PcapSource::open(&paths).map_err(|e| format!("{}: {e}", path.display()));
    let want = |v: &str| o.only.as_deref().is_none_or(|x| x == v);
    // Untimed pass: file in page cache, and the numbers to check the others against.
    let first = pipeline_once(&mut open()?)?;
    println!(
        "\n### file: {} ({} frames, {} dropped by the decoder, {} records), median of {}\n",
        path.display(),
        first.frames,
        first.dropped,
        first.records,
        o.runs
    );
    table_header();

    if want("pcap") {
        let mut times = Vec::new();
        for _ in 0..o.runs {
            let r = pipeline_once(&mut open()?)?;
            if (r.frames, r.records) != (first.frames, first.records) {
                return Err("runs over the same file disagree".into());
            }
            times.push(secs(r.elapsed));
        }
        row(
            "file",
            "PcapSource → run_offline, 1 worker, JSON → io::sink",
            first.frames,
            first.records as usize,
            &times,
        );
    }

    let mut mem = MemSource::collect(&mut open()?).map_err(|e| e.to_string())?;
    if want("mem") {
        let mut times = Vec::new();
        for _ in 0..o.runs {
            mem.rewind();
            let r = pipeline_once(&mut mem)?;
            if r.records != first.records {
                return Err("in-memory run disagrees with the file run".into());
            }
            times.push(secs(r.elapsed));
        }
        row(
            "file (in memory)",
            "MemSource → run_offline, 1 worker, JSON → io::sink",
            first.frames,
            first.records as usize,
            &times,
        );
    }

    if want("inline") {
        let mut times = Vec::new();
        let mut records = 0;
        for _ in 0..o.runs {
            let (t, r) = inline_once(&mem);
            records = r;
            times.push(secs(t));
        }
        row(
            "file (in memory)",
            "decode + key + Shard on one thread, no export",
            first.frames,
            records,
            &times,
        );
    }
    println!("\n(flows: records exported)");
    Ok(())
}
