//! Lifecycle events and the Redis sink (issue 7). Not a test: it prints markdown tables, each
//! figure the median of `--runs` repetitions (default 5), runs of the variants interleaved.
//!
//! ```text
//! events [--events N] [--packets N] [--flows K] [--runs R]
//! ```
//!
//! 1. **Events/s into Redis**: `N` synthetic events (default 200 000: insert, update, remove
//!    per flow, in turn) through `AdaptorSink<RedisAdaptor>` into a local `redis-server`
//!    (started here on a free loopback port, no persistence), in batches of 512 (one pipelined
//!    round trip each), for both layouts; then a tenth as many events one per batch, a round
//!    trip per event, for contrast.
//! 2. **Cost of updates in pcap mode**: `run_offline` (1 worker) over an in-memory synthetic
//!    capture — `--packets` 64-byte UDP frames (default 4 M) over `--flows` flows (default
//!    4096, so ~977 packets per flow), 1 µs apart — without lifecycle events, with updates
//!    every 16 packets into a sink that discards them, and the same into Redis.
//!
//! Needs `redis-server` on the PATH for the Redis rows (`apt-get install redis-server`); they
//! are skipped without it. Build with `cargo build --release -p appliance-bench`.

use std::net::TcpListener;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::capture::mem::{MemSource, OwnedFrame};
use appliance::export::events::redis::{Layout, RedisAdaptor, RedisConfig};
use appliance::export::events::{AdaptorSink, FlowAdaptor};
use appliance::export::{ExportSink, SinkStats};
use appliance::flow::{EventConfig, FlowConfig, FlowRecord, RecordKind};
use appliance::packet::{DecoderConfig, LinkType};
use appliance::pipeline::{Counters, PipelineConfig, run_offline};
use appliance_bench::{XorShift, fmt_rate, median, synthetic_record};

const USAGE: &str = "usage: events [--events N] [--packets N] [--flows K] [--runs R]";
/// Events per pipelined batch (`write_batch` → one round trip).
const BATCH: usize = 512;
/// Packet time of the first synthetic packet (2026-11-23T00:00:00Z), ns.
const T0_NS: u64 = 1_795_392_000_000_000_000;

struct Opts {
    events: usize,
    packets: usize,
    flows: usize,
    runs: usize,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        events: 200_000,
        packets: 4_000_000,
        flows: 4096,
        runs: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("{a} takes a positive number\n{USAGE}"))
        };
        match a.as_str() {
            "--events" => o.events = value()?,
            "--packets" => o.packets = value()?,
            "--flows" => o.flows = value()?,
            "--runs" => o.runs = value()?,
            _ => return Err(USAGE.into()),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let redis = Redis::start();
    if redis.is_none() {
        println!("\n(redis-server not found: the Redis rows are skipped)");
    }
    if let Some(r) = &redis {
        into_redis(&o, r);
    }
    pcap_mode(&o, redis.as_ref());
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn runs_list(times: &[f64]) -> String {
    times
        .iter()
        .map(|t| format!("{t:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `redis-server` on a free loopback port, no persistence, killed on drop.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let r = Redis { port, child };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if r.cli(&["PING"]).is_some_and(|out| out.trim() == "PONG") {
                return Some(r);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn flush(&self) {
        self.cli(&["FLUSHALL"]).expect("FLUSHALL");
    }

    fn sink(&self, layout: Layout) -> AdaptorSink<RedisAdaptor> {
        let a = RedisAdaptor::connect(RedisConfig {
            layout,
            ..RedisConfig::new(self.url())
        })
        .expect("valid config");
        assert!(a.is_connected(), "redis-server on {} is up", self.port);
        AdaptorSink::new(a)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Events/s into Redis

/// `n` events: flow `i / 3` inserted, updated, removed (IPv4/IPv6 mix, varied counters).
fn events(n: usize) -> Vec<FlowRecord> {
    let mut rng = XorShift::default();
    let mut flow = FlowRecord::default();
    (0..n)
        .map(|i| {
            let kind = [RecordKind::Insert, RecordKind::Update, RecordKind::End][i % 3];
            if kind == RecordKind::Insert {
                flow = synthetic_record(i as u64, rng.next_u64(), i % 8 == 0);
            }
            flow.src2dst.packets += 16;
            FlowRecord {
                kind,
                ..flow.clone()
            }
        })
        .collect()
}

/// Writes `recs` in batches of `batch` and flushes; the time and the sink's counters.
fn write_all<A: FlowAdaptor>(
    sink: &mut AdaptorSink<A>,
    recs: &[FlowRecord],
    batch: usize,
) -> (f64, SinkStats) {
    let t = Instant::now();
    for chunk in recs.chunks(batch) {
        sink.write_batch(chunk).expect("never an error");
    }
    sink.flush().expect("never an error");
    (t.elapsed().as_secs_f64(), sink.stats())
}

fn into_redis(o: &Opts, redis: &Redis) {
    let all = events(o.events);
    let few = &all[..(o.events / 10).max(3)];
    let variants: [(&str, Layout, &[FlowRecord], usize); 3] = [
        ("hash (HSET/HDEL), pipelined", Layout::Hash, &all, BATCH),
        ("keys (SET/SET EX), pipelined", Layout::Keys, &all, BATCH),
        ("hash, one round trip per event", Layout::Hash, few, 1),
    ];
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..o.runs {
        for (i, (_, layout, recs, batch)) in variants.iter().enumerate() {
            redis.flush();
            let mut sink = redis.sink(*layout);
            let (t, stats) = write_all(&mut sink, recs, *batch);
            assert_eq!(
                (stats.dropped, stats.errors),
                (0, 0),
                "a local Redis drops nothing"
            );
            times[i].push(t);
        }
    }
    println!(
        "\n### Events into a local redis-server (`RedisAdaptor`), median of {}\n",
        o.runs
    );
    println!("| layout, batching | events/run | batch | median s | events/s | runs (s) |");
    println!("|---|---:|---:|---:|---:|---|");
    for ((name, _, recs, batch), t) in variants.iter().zip(&times) {
        let med = median(t.clone());
        println!(
            "| {name} | {} | {batch} | {med:.3} | {} | {} |",
            recs.len(),
            fmt_rate(recs.len() as f64 / med),
            runs_list(t)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Cost of updates in pcap mode

/// A sink that throws records away; `events` says whether it asks for lifecycle events.
struct Discard {
    events: bool,
}

impl ExportSink for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        std::hint::black_box(records);
        Ok(())
    }
    fn wants_events(&self) -> bool {
        self.events
    }
}

/// The 64-byte Ethernet/IPv4/UDP frame of flow `i` (198.18/15 addresses), either direction.
fn frame(i: u32, reverse: bool) -> Vec<u8> {
    let (mut s, mut d) = (
        [198, 18, (i >> 8) as u8, i as u8],
        [198, 19, (i >> 16) as u8, 1],
    );
    let (mut sp, mut dp) = (1024 + (i % 60_000) as u16, 443u16);
    if reverse {
        std::mem::swap(&mut s, &mut d);
        std::mem::swap(&mut sp, &mut dp);
    }
    let mut b = vec![0u8; 64];
    b[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    b[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut b[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&s);
    ip[16..20].copy_from_slice(&d);
    let mut sum: u32 = ip
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    b[34..36].copy_from_slice(&sp.to_be_bytes());
    b[36..38].copy_from_slice(&dp.to_be_bytes());
    b[38..40].copy_from_slice(&30u16.to_be_bytes());
    b
}

/// `packets` frames over `flows` flows, round robin (so each flow's packets are spread over
/// the whole capture), alternating directions, 1 µs apart: nothing idles out.
fn capture(packets: usize, flows: usize) -> MemSource {
    MemSource::new(
        (0..packets)
            .map(|n| {
                let i = (n % flows) as u32;
                OwnedFrame {
                    ts_ns: T0_NS + n as u64 * 1_000,
                    wire_len: 64,
                    link: LinkType::Ethernet,
                    data: frame(i, (n / flows) % 2 == 1),
                }
            })
            .collect(),
    )
}

fn pcap_mode(o: &Opts, redis: Option<&Redis>) {
    let mut mem = capture(o.packets, o.flows);
    let cfg = |events: Option<EventConfig>| PipelineConfig {
        workers: 1,
        flow: FlowConfig {
            tcp_end: false,
            max_flows: 2_000_000,
            events,
            ..FlowConfig::default()
        },
        decoder: DecoderConfig::default(),
        export: appliance::export::stage::StageConfig::default(),
        extras: appliance::flow::ShardExtras::default(),
    };
    let every16 = Some(EventConfig {
        every_packets: [16, 16, 16],
        every_ms: 0,
    });
    type MakeSink<'a> = Box<dyn Fn() -> Box<dyn ExportSink> + 'a>;
    let mut variants: Vec<(&str, Option<EventConfig>, MakeSink<'_>)> = vec![
        (
            "no events (ended flows only) → discard",
            None,
            Box::new(|| Box::new(Discard { events: false })),
        ),
        (
            "updates every 16 packets → discard",
            every16,
            Box::new(|| Box::new(Discard { events: true })),
        ),
    ];
    if let Some(r) = redis {
        variants.push((
            "updates every 16 packets → Redis (hash, pipelined)",
            every16,
            Box::new(move || {
                r.flush();
                Box::new(r.sink(Layout::Hash))
            }),
        ));
    }
    let mut times = vec![Vec::new(); variants.len()];
    let mut records = vec![0u64; variants.len()];
    // One untimed pass of each (page faults, a warm Redis), then the timed rounds.
    for round in 0..=o.runs {
        for (i, (_, events, sink)) in variants.iter().enumerate() {
            mem.rewind();
            let sinks = vec![sink()];
            let t = Instant::now();
            let outcome = run_offline(
                &mut mem,
                &cfg(*events),
                sinks,
                &Arc::new(Counters::default()),
                None,
            );
            let elapsed = t.elapsed().as_secs_f64();
            assert!(outcome.error.is_none(), "{:?}", outcome.error);
            let s = &outcome.summary;
            assert_eq!(s.frames as usize, o.packets);
            assert!(s.sinks.iter().all(|r| r.dropped == 0), "{:?}", s.sinks);
            records[i] = s.records_exported;
            if round > 0 {
                times[i].push(elapsed);
            }
        }
    }
    println!(
        "\n### pcap mode with and without lifecycle events (`run_offline`, 1 worker, in-memory \
         capture: {} packets of 64 bytes over {} UDP flows), median of {}\n",
        o.packets, o.flows, o.runs
    );
    println!("| events, sink | records/run | median s | packets/s | vs no events | runs (s) |");
    println!("|---|---:|---:|---:|---:|---|");
    let base = median(times[0].clone());
    for (((name, _, _), t), recs) in variants.iter().zip(&times).zip(&records) {
        let med = median(t.clone());
        println!(
            "| {name} | {recs} | {med:.3} | {} | {:+.1} % | {} |",
            fmt_rate(o.packets as f64 / med),
            (base / med - 1.0) * 100.0,
            runs_list(t)
        );
    }
    println!("\n(records: ended flows plus insert and update events handed to the sink)");
}
