//! Redis sink end to end (issue 7): public captures through the pipeline into a real
//! `redis-server`, compared with the records of the same run; the number of update events of
//! one flow; and Redis killed and restarted under a running `xdpflow pcap`.
//!
//! Each test starts its own `redis-server` on a free loopback port, without persistence, and
//! kills it when done. Without `redis-server` on the PATH the tests print `skipped:` and pass
//! (CI installs it: `.ci/run`).

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appliance::capture::mem::{MemSource, OwnedFrame};
use appliance::capture::pcap::PcapSource;
use appliance::export::ExportSink;
use appliance::export::events::redis::{Layout, RedisAdaptor, RedisConfig};
use appliance::export::events::{AdaptorSink, flow_key};
use appliance::export::json::encode;
use appliance::flow::{EventConfig, FlowConfig, FlowRecord, RecordKind};
use appliance::packet::{DecoderConfig, LinkType};
use appliance::pipeline::{Counters, Outcome, PipelineConfig, run_offline};
use appliance_tests::pcapgen::{self, PcapWriter, V4Header};

use crate::common::{Collect, captures, public_pcaps, xdpflow};

/// A `redis-server` of this test: loopback only, no persistence, killed on drop.
struct RedisServer {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl RedisServer {
    /// A server on a free port, or `None` (with the reason printed) without `redis-server`.
    fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("skipped: redis-server not found (apt-get install redis-server)");
            return None;
        }
        // Redis refuses `--port 0`: take a free port from the kernel, release it, use it. A
        // port taken in between makes the server exit; then try another.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("bound")
                .port();
            if let Some(s) = RedisServer::start_on(port) {
                return Some(s);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// A server on `port` (a restart keeps the port), `None` if it exits at once.
    fn start_on(port: u16) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("xdpflow-tests-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        // Owned at once, so every way out of here kills and reaps it.
        let mut server = RedisServer { port, child, dir };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if server.child.try_wait().expect("wait").is_some() {
                return None;
            }
            if let Ok(mut c) = connect(port)
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {port} did not answer PING within 10 s");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn con(&self) -> redis::Connection {
        connect(self.port).expect("the test's redis-server answers")
    }

    /// SIGKILL: no goodbye to clients, as a crash.
    fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}"))?
        .get_connection_with_timeout(Duration::from_secs(1))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(c)
}

/// Sends `MONITOR` on `con` and collects every command line Redis reports until one carries
/// `stop` (send it with `ECHO`).
fn monitor(mut con: redis::Connection, stop: &'static str) -> std::thread::JoinHandle<Vec<String>> {
    con.send_packed_command(&redis::cmd("MONITOR").get_packed_command())
        .expect("MONITOR");
    assert!(matches!(con.recv_response(), Ok(redis::Value::Okay)));
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        loop {
            match con.recv_response().expect("monitor line") {
                redis::Value::SimpleString(l) => {
                    if l.contains(stop) {
                        return lines;
                    }
                    lines.push(l);
                }
                other => panic!("unexpected monitor reply {other:?}"),
            }
        }
    })
}

/// Lifecycle events every 32 TCP / 16 UDP / 16 other packets, as the CLI's default.
fn events() -> EventConfig {
    EventConfig {
        every_packets: [32, 16, 16],
        every_ms: 0,
    }
}

fn config(workers: usize) -> PipelineConfig {
    PipelineConfig {
        workers,
        flow: FlowConfig {
            max_flows: 1 << 20,
            events: Some(events()),
            ..FlowConfig::default()
        },
        decoder: DecoderConfig::default(),
        export: appliance::export::stage::StageConfig::default(),
        extras: appliance::flow::ShardExtras::default(),
    }
}

/// Every record of every kind, in order (a sink that asks for lifecycle events).
struct Events(Arc<Mutex<Vec<FlowRecord>>>);

impl ExportSink for Events {
    fn name(&self) -> &'static str {
        "events"
    }
    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(records);
        Ok(())
    }
    fn wants_events(&self) -> bool {
        true
    }
}

/// The result of one in-process run: ended flows, every event, the outcome.
struct Run {
    ended: Vec<FlowRecord>,
    events: Vec<FlowRecord>,
    outcome: Outcome,
}

impl Run {
    fn redis_report(&self) -> &appliance::export::stage::SinkReport {
        self.outcome
            .summary
            .sinks
            .iter()
            .find(|s| s.name == "redis")
            .expect("a redis sink report")
    }

    fn count(&self, kind: RecordKind) -> usize {
        self.events.iter().filter(|r| r.kind == kind).count()
    }
}

/// Runs `source` through the pipeline into Redis (`cfg`), an ended-flow collector and an
/// event collector.
fn run(source: &mut dyn appliance::capture::PacketSource, workers: usize, cfg: RedisConfig) -> Run {
    let ended = Arc::new(Mutex::new(Vec::new()));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sinks: Vec<Box<dyn ExportSink>> = vec![
        Box::new(Collect(Arc::clone(&ended))),
        Box::new(Events(Arc::clone(&events))),
        Box::new(AdaptorSink::new(
            RedisAdaptor::connect(cfg).expect("valid config"),
        )),
    ];
    let outcome = run_offline(
        source,
        &config(workers),
        sinks,
        &Arc::new(Counters::default()),
        None,
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let take = |v: &Arc<Mutex<Vec<FlowRecord>>>| std::mem::take(&mut *v.lock().expect("ok"));
    Run {
        ended: take(&ended),
        events: take(&events),
        outcome,
    }
}

fn key_of(r: &FlowRecord) -> String {
    let mut k = String::new();
    flow_key(r, &mut k);
    k
}

fn json_of(r: &FlowRecord) -> String {
    let mut b = Vec::new();
    encode(r, &mut b);
    String::from_utf8(b)
        .expect("JSON is UTF-8")
        .trim_end()
        .to_string()
}

/// A few public captures: TCP and UDP, IPv6, tunnels, a scan (many short flows).
fn some_public_captures() -> Vec<PathBuf> {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return Vec::new();
    };
    let wanted = [
        "1kxun.pcap",
        "synscan.pcap",
        "vxlan.pcap",
        "mdns.pcap",
        "quic.pcap",
        "dns_exfiltration.pcap",
    ];
    let files: Vec<PathBuf> = captures(&dir)
        .into_iter()
        .filter(|p| wanted.iter().any(|w| p.ends_with(w)))
        .collect();
    assert_eq!(files.len(), wanted.len(), "{files:?}");
    files
}

#[test]
fn keys_layout_holds_the_json_records_of_public_captures() {
    let files = some_public_captures();
    if files.is_empty() {
        return;
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut con = server.con();
    for file in files {
        redis::cmd("FLUSHALL").exec(&mut con).expect("FLUSHALL");
        let mut source = PcapSource::open(std::slice::from_ref(&file)).expect("capture opens");
        let run = run(
            &mut source,
            2,
            RedisConfig {
                layout: Layout::Keys,
                ttl_secs: 3600,
                ..RedisConfig::new(server.url())
            },
        );
        let name = file.file_name().expect("a file").to_string_lossy();
        assert!(!run.ended.is_empty(), "{name}: no flows");
        let report = run.redis_report();
        assert_eq!(
            (report.dropped, report.errors),
            (0, 0),
            "{name}: {report:?}"
        );
        assert_eq!(report.records as usize, run.events.len(), "{name}");

        // A flow key can end more than once (a port reused, an active timeout): the last
        // record of a key is what Redis keeps.
        let mut want: HashMap<String, String> = HashMap::new();
        for r in &run.ended {
            want.insert(format!("xdpflow:flow:{}", key_of(r)), json_of(r));
        }
        let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(dbsize, want.len(), "{name}: one key per flow key");
        let keys: Vec<&String> = want.keys().collect();
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("GET").arg(k.as_str()).cmd("TTL").arg(k.as_str());
        }
        let got: Vec<redis::Value> = pipe.query(&mut con).expect("GET/TTL");
        for (i, k) in keys.iter().enumerate() {
            let value: Option<String> =
                redis::from_redis_value(got[2 * i].clone()).expect("a string");
            assert_eq!(
                value.as_deref(),
                Some(want[*k].as_str()),
                "{name}: {k} differs from its JSON record"
            );
            let ttl: i64 = redis::from_redis_value(got[2 * i + 1].clone()).expect("a TTL");
            assert!((3000..=3600).contains(&ttl), "{name}: {k} has TTL {ttl}");
        }
        eprintln!(
            "{name}: {} flows, {} events ({} inserts, {} updates), all in Redis",
            run.ended.len(),
            run.events.len(),
            run.count(RecordKind::Insert),
            run.count(RecordKind::Update)
        );
    }
}

#[test]
fn hash_layout_is_empty_after_a_run_and_every_remove_was_published() {
    let files = some_public_captures();
    if files.is_empty() {
        return;
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    const CHANNEL: &str = "xdpflow-test-removes";
    const END: &str = "xdpflow-test-end";
    let mut sub = server.con();
    sub.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let subscriber = std::thread::spawn(move || {
        let mut ps = sub.as_pubsub();
        ps.subscribe(CHANNEL).expect("SUBSCRIBE");
        let mut got = Vec::new();
        loop {
            let m: String = ps
                .get_message()
                .expect("a message")
                .get_payload()
                .expect("text");
            if m == END {
                return got;
            }
            got.push(m);
        }
    });
    let mut con = server.con();
    let t = Instant::now();
    while redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(CHANNEL)
        .query::<(String, u64)>(&mut con)
        .expect("NUMSUB")
        .1
        == 0
    {
        assert!(t.elapsed() < Duration::from_secs(5), "no subscriber");
        std::thread::sleep(Duration::from_millis(10));
    }
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .exec(&mut con)
        .expect("RESETSTAT");

    let mut source = PcapSource::open(&files).expect("captures open");
    let run = run(
        &mut source,
        2,
        RedisConfig {
            publish: Some(CHANNEL.into()),
            ..RedisConfig::new(server.url())
        },
    );
    redis::cmd("PUBLISH")
        .arg(CHANNEL)
        .arg(END)
        .exec(&mut con)
        .expect("PUBLISH");
    let published = subscriber.join().expect("subscriber");

    let report = run.redis_report();
    assert_eq!((report.dropped, report.errors), (0, 0), "{report:?}");
    // Every flow was written (insert, updates) and deleted when it ended.
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .expect("INFO");
    let calls = |command: &str| -> usize {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().expect("a count"))
    };
    let (inserts, updates) = (run.count(RecordKind::Insert), run.count(RecordKind::Update));
    assert!(
        updates > 0,
        "no updates: the captures should have long flows"
    );
    assert_eq!(calls("hset"), inserts + updates);
    assert_eq!(calls("hdel"), run.ended.len());
    for t in ["tcp", "udp", "icmp", "other"] {
        let len: u64 = redis::cmd("HLEN")
            .arg(format!("xdpflow:flows:{t}"))
            .query(&mut con)
            .expect("HLEN");
        assert_eq!(len, 0, "xdpflow:flows:{t} still holds flows");
    }
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 0);

    // One remove message per ended flow, in the order the flows ended.
    let want: Vec<String> = run
        .ended
        .iter()
        .map(|r| {
            format!(
                "{{\"event\":\"remove\",\"key\":\"{}\",\"record\":{}}}",
                key_of(r),
                json_of(r)
            )
        })
        .collect();
    assert_eq!(published.len(), want.len());
    assert!(
        published == want,
        "published removes differ from the records"
    );
    eprintln!(
        "{} files: {} flows, {inserts} inserts, {updates} updates, {} removes published",
        files.len(),
        run.ended.len(),
        published.len()
    );
}

/// A raw IPv4/UDP frame 198.18.0.1:5000 → 198.18.0.2:53 (LINKTYPE_RAW).
fn udp_frame(ts_ns: u64, reply: bool) -> OwnedFrame {
    let (a, b) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
    let (src, dst, sport, dport) = if reply {
        (b, a, 53, 5000)
    } else {
        (a, b, 5000, 53)
    };
    let data = pcapgen::ipv4(
        &V4Header {
            src,
            dst,
            proto: 17,
            ttl: 64,
            id: 1,
            df: false,
            mf: false,
            frag_offset: 0,
        },
        &pcapgen::udp(IpAddr::V4(src), IpAddr::V4(dst), sport, dport, b"payload"),
    );
    OwnedFrame {
        ts_ns,
        wire_len: data.len() as u32,
        link: LinkType::Raw,
        data,
    }
}

#[test]
fn a_flow_of_40_packets_gets_exactly_2_updates_with_n_16() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    const END: &str = "xdpflow-test-monitor-end";
    let watch = monitor(server.con(), END);
    // 40 packets, both directions, 1 ms apart.
    let frames = (0..40u64)
        .map(|i| udp_frame(1_767_225_600_000_000_000 + i * 1_000_000, i % 2 == 1))
        .collect();
    let run = run(
        &mut MemSource::new(frames),
        1,
        RedisConfig::new(server.url()),
    );
    redis::cmd("ECHO")
        .arg(END)
        .exec(&mut server.con())
        .expect("ECHO");
    let lines = watch.join().expect("monitor");

    let kinds: Vec<(RecordKind, u64)> = run
        .events
        .iter()
        .map(|r| (r.kind, r.src2dst.packets + r.dst2src.packets))
        .collect();
    assert_eq!(
        kinds,
        [
            (RecordKind::Insert, 1),
            (RecordKind::Update, 16),
            (RecordKind::Update, 32),
            (RecordKind::End, 40)
        ]
    );
    // What reached Redis: the insert and exactly 2 updates (HSET), then the remove (HDEL).
    let commands: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"xdpflow:flows:udp\""))
        .collect();
    assert_eq!(commands.len(), 4, "{commands:#?}");
    for (line, packets) in commands[..3].iter().zip([1, 16, 32]) {
        assert!(line.contains("\"HSET\""), "{line}");
        assert!(
            line.contains(&format!("\\\"bidirectional_packets\\\":{packets},")),
            "{line}"
        );
    }
    assert!(commands[3].contains("\"HDEL\""), "{}", commands[3]);
    let updates = commands.iter().filter(|l| l.contains("\"HSET\"")).count() - 1;
    assert_eq!(updates, 2);
}

/// `n` one-packet UDP flows from 198.19.`net`.x:port to 198.18.0.53:53, 100 µs apart from
/// `t_us`, appended to `w`.
fn flows(w: &mut PcapWriter, net: u8, n: u32, t_us: u64) {
    for i in 0..n {
        let src = Ipv4Addr::new(198, 19, net, (i % 250) as u8 + 1);
        let dst = Ipv4Addr::new(198, 18, 0, 53);
        let sport = 10_000 + (i / 250) as u16;
        let l4 = pcapgen::udp(IpAddr::V4(src), IpAddr::V4(dst), sport, 53, b"q");
        let ip = pcapgen::ipv4(
            &V4Header {
                src,
                dst,
                proto: 17,
                ttl: 64,
                id: i as u16,
                df: false,
                mf: false,
                frag_offset: 0,
            },
            &l4,
        );
        let frame = pcapgen::ethernet([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], None, 0x0800, &ip);
        w.record(t_us + u64::from(i) * 100, &frame);
    }
}

/// Pcap records (no file header) of what `f` writes: the next piece of a stream whose header
/// was sent with the first piece.
fn records_only(f: impl FnOnce(&mut PcapWriter)) -> Vec<u8> {
    let mut w = PcapWriter::new();
    f(&mut w);
    w.into_bytes().split_off(24)
}

fn send(stdin: &mut ChildStdin, bytes: &[u8]) {
    stdin.write_all(bytes).expect("xdpflow reads its stdin");
    stdin.flush().expect("flush");
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).unwrap_or(0)
}

/// Polls `ok` every 20 ms for at most 20 s.
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn redis_killed_mid_run_and_restarted_drops_counts_and_reconnects() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("xdpflow-tests-redis-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (summary, stderr_path) = (dir.join("summary.json"), dir.join("stderr.log"));
    let mut child = Command::new(xdpflow())
        .args([
            "pcap",
            "-",
            "--workers",
            "1",
            "--progress",
            "never",
            "--quiet",
        ])
        .args(["--redis", &server.url(), "--redis-layout", "keys"])
        .args(["--redis-ttl", "3600", "--summary-json"])
        .arg(&summary)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("xdpflow starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let t0 = 1_767_225_600_000_000u64; // µs

    // 1. Redis up: 3000 flows start; their inserts reach Redis (but for what the pipeline
    //    holds back until more packets come: a partial read, packet or record batch).
    let mut w = PcapWriter::new();
    flows(&mut w, 1, 3000, t0);
    send(&mut stdin, &w.into_bytes());
    let mut con = server.con();
    wait_until("phase 1 in Redis", || dbsize(&mut con) >= 2048);

    // 2. Redis killed: 3000 more flows, 200 s later, so the first 3000 end (idle timeout)
    //    while Redis is away. Their events are dropped and counted; xdpflow goes on.
    let port = server.kill();
    send(
        &mut stdin,
        &records_only(|w| flows(w, 2, 3000, t0 + 200_000_000)),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "xdpflow stopped while Redis was away"
    );

    // 3. Redis back on the same port (empty: no persistence). Flows keep coming until the
    //    sink, after its backoff, has reconnected and written again.
    let server = RedisServer::start_on(port).expect("redis-server restarts on its port");
    let mut con = server.con();
    let mut chunk = 0u32;
    wait_until("reconnect", || {
        if dbsize(&mut con) > 0 {
            return true;
        }
        chunk += 1;
        assert!(chunk < 80, "no reconnect after {chunk} chunks");
        let t = t0 + 203_000_000 + u64::from(chunk) * 60_000;
        send(&mut stdin, &records_only(|w| flows(w, 3, 600, t)));
        std::thread::sleep(Duration::from_millis(200));
        false
    });

    // 4. Flows that start and end after the restart are in Redis with their final record.
    send(
        &mut stdin,
        &records_only(|w| flows(w, 4, 1000, t0 + 210_000_000)),
    );
    drop(stdin);
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("xdpflow did not finish within 60 s of the end of its input");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(status.success(), "xdpflow failed: {status}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("Lost the Redis connection") || stderr.contains("Cannot connect to Redis"),
        "the outage is not logged:\n{stderr}"
    );
    assert!(
        stderr.contains("Exporter reconnected."),
        "no reconnect logged:\n{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    let sink = summary["sinks"]
        .as_array()
        .expect("sinks")
        .iter()
        .find(|s| s["name"] == "redis")
        .expect("the redis sink")
        .clone();
    assert!(sink["dropped"].as_u64().expect("dropped") >= 3000, "{sink}");
    assert!(sink["errors"].as_u64().expect("errors") >= 1, "{sink}");
    for i in 0..1000u32 {
        let key = format!(
            "xdpflow:flow:17|198.19.4.{}|{}|198.18.0.53|53|0|0",
            i % 250 + 1,
            10_000 + i / 250
        );
        let value: Option<String> = redis::cmd("GET").arg(&key).query(&mut con).expect("GET");
        let value = value.unwrap_or_else(|| panic!("{key} is not in Redis"));
        let r: serde_json::Value = serde_json::from_str(&value).expect("a JSON record");
        assert_eq!(r["end_reason"], "shutdown", "{key}");
        assert_eq!(r["bidirectional_packets"], 1, "{key}");
    }
    eprintln!("xdpflow rode out the outage: {sink}");
    for line in stderr.lines().filter(|l| l.contains("exporter=\"redis\"")) {
        eprintln!("  {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
