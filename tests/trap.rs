//! UniRec over TRAP end to end: a public capture through the pipeline into a `TrapSink`, read
//! back by the independent Python peer (`../shared/peers/trap/raw_trap.py`, no libtrap), and
//! compared field by field with the JSON sink's records of the same run. Covers `u:` and `t:`
//! with one and two clients, a client that connects mid-run, a client that never reads, and
//! the `f:` file. Without python3 or the peer the tests print `skipped: ...` and pass.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use appliance::capture::pcap::PcapSource;
use appliance::export::json::JsonSink;
use appliance::export::unirec::{TrapConfig, TrapSink, TrapTarget};
use appliance::export::{ExportSink, SinkStats};
use appliance::flow::FlowRecord;
use appliance::pipeline::{Counters, PipelineConfig, run_offline};
use serde_json::Value;

use crate::common::{public_pcaps, run_files};
use crate::fidelity::nfstream_config;

fn peer() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/trap/raw_trap.py");
    if !p.is_file() {
        eprintln!("skipped: ../shared/peers/trap/raw_trap.py not found");
        return None;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 not found");
        return None;
    }
    Some(p)
}

/// The peer and the capture, or `None` (skipped, already said why).
fn setup() -> Option<(PathBuf, PathBuf)> {
    let peer = peer()?;
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return None;
    };
    Some((peer, dir.join("1kxun.pcap")))
}

/// nfstream's settings plus `--stats` (TCP_FLAGS) and `--splt 10` (the PPI arrays).
fn config() -> PipelineConfig {
    let mut cfg = nfstream_config(2);
    cfg.flow.stats = true;
    cfg.flow.splt = 10;
    cfg
}

/// A fresh directory for one test's sockets and files, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(test: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("xdpflow-e2e-trap-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

fn trap_config(target: TrapTarget, dir: &Path) -> TrapConfig {
    TrapConfig {
        socket_dir: dir.to_path_buf(),
        ..TrapConfig::new(target)
    }
}

/// A `Write` into shared memory, for the JSON sink.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the capture into `trap` plus a JSON sink; returns the JSON records in the order every
/// sink saw them.
fn run(pcap: &Path, trap: Box<dyn ExportSink>) -> Vec<Value> {
    let json = Shared::default();
    let sinks: Vec<Box<dyn ExportSink>> = vec![
        Box::new(JsonSink::to_writer("memory", Box::new(json.clone()))),
        trap,
    ];
    let mut source = PcapSource::open(&[pcap.to_path_buf()]).expect("capture opens");
    let outcome = run_offline(
        &mut source,
        &config(),
        sinks,
        &Arc::new(Counters::default()),
        None,
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let text = String::from_utf8(json.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(records.len() > 100, "{} records", records.len());
    records
}

/// A running `raw_trap.py`, its output collected as it comes (so a full pipe never stalls it).
struct PeerProcess {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl PeerProcess {
    fn start(peer: &Path, args: &[&str], socket_dir: &Path) -> Self {
        let mut child = Command::new("python3")
            .arg(peer)
            .args(args)
            .env("TRAP_SOCKET_DIR", socket_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                r.read_to_string(&mut s).expect("peer output");
                s
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
        PeerProcess {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Waits for the peer to exit; returns the decoded records (one dict per stdout line).
    fn records(mut self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("raw_trap.py did not finish");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = self.stdout.take().expect("once").join().expect("reader");
        let err = self.stderr.take().expect("once").join().expect("reader");
        assert!(status.success(), "raw_trap.py failed: {status}\n{err}");
        assert!(err.contains("fmt=UNIREC"), "no UniRec hello:\n{err}");
        out.lines()
            .filter(|l| l.starts_with('{'))
            // A Python dict of numbers and quote-free strings: JSON once quotes are swapped.
            .map(|l| serde_json::from_str(&l.replace('\'', "\"")).expect("peer record"))
            .collect()
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until the sink has accepted `n` clients (they connect asynchronously).
fn wait_for_clients(sink: &mut TrapSink, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.accept_clients() < n {
        assert!(Instant::now() < deadline, "clients did not connect");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn u64_of(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// `sec.nnnnnnnnn` (UniRec time as the peer prints it) in ms. The decoder may give 1 ns more
/// than was encoded, so the fraction is floored.
fn ms_of_time(s: &str) -> u64 {
    let (sec, nsec) = s.split_once('.').expect("sec.nsec");
    sec.parse::<u64>().expect("sec") * 1000 + nsec.parse::<u64>().expect("nsec") / 1_000_000
}

/// OR of the TCP flags of one direction, from the JSON per-flag counters.
fn flags(j: &Value, dir: &str) -> u64 {
    [
        ("fin", 0x01),
        ("syn", 0x02),
        ("rst", 0x04),
        ("psh", 0x08),
        ("ack", 0x10),
        ("urg", 0x20),
        ("ece", 0x40),
        ("cwr", 0x80),
    ]
    .iter()
    .filter(|(f, _)| u64_of(j, &format!("{dir}_{f}_packets")) > 0)
    .map(|(_, b)| b)
    .sum()
}

/// One decoded UniRec record against the JSON record of the same flow.
fn check(u: &Value, j: &Value) {
    let ctx = || format!("\nunirec {u}\njson   {j}");
    let ip = |v: &Value| v.as_str().expect("ip").parse::<IpAddr>().expect("ip");
    assert_eq!(ip(&u["SRC_IP"]), ip(&j["src_ip"]), "{}", ctx());
    assert_eq!(ip(&u["DST_IP"]), ip(&j["dst_ip"]), "{}", ctx());
    let pairs = [
        ("SRC_PORT", "src_port"),
        ("DST_PORT", "dst_port"),
        ("PROTOCOL", "protocol"),
        ("PACKETS", "src2dst_packets"),
        ("BYTES", "src2dst_bytes"),
        ("PACKETS_REV", "dst2src_packets"),
        ("BYTES_REV", "dst2src_bytes"),
    ];
    for (uk, jk) in pairs {
        assert_eq!(u64_of(u, uk), u64_of(j, jk), "{uk}{}", ctx());
    }
    assert_eq!(u["SRC_MAC"], j["src_mac"], "{}", ctx());
    assert_eq!(u["DST_MAC"], j["dst_mac"], "{}", ctx());
    let time = |k: &str| ms_of_time(u[k].as_str().expect("time"));
    assert_eq!(
        time("TIME_FIRST"),
        u64_of(j, "bidirectional_first_seen_ms"),
        "{}",
        ctx()
    );
    assert_eq!(
        time("TIME_LAST"),
        u64_of(j, "bidirectional_last_seen_ms"),
        "{}",
        ctx()
    );
    assert_eq!(u64_of(u, "TCP_FLAGS"), flags(j, "src2dst"), "{}", ctx());
    assert_eq!(u64_of(u, "TCP_FLAGS_REV"), flags(j, "dst2src"), "{}", ctx());
    assert_eq!(u64_of(u, "LINK_BIT_FIELD"), 1, "{}", ctx());
    assert_eq!(u64_of(u, "DIR_BIT_FIELD"), 0, "{}", ctx());

    let ints = |v: &Value| -> Vec<i64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_i64().expect("int"))
            .collect()
    };
    let dirs = ints(&j["splt_direction"]);
    let n = dirs.iter().take_while(|&&d| d >= 0).count();
    let want_dirs: Vec<i64> = dirs[..n]
        .iter()
        .map(|&d| if d == 0 { 1 } else { -1 })
        .collect();
    assert_eq!(ints(&u["PPI_PKT_DIRECTIONS"]), want_dirs, "{}", ctx());
    assert_eq!(
        ints(&u["PPI_PKT_LENGTHS"]),
        ints(&j["splt_ps"])[..n],
        "{}",
        ctx()
    );
    let mut t = u64_of(j, "bidirectional_first_seen_ms");
    let want_times: Vec<u64> = ints(&j["splt_piat_ms"])[..n]
        .iter()
        .map(|&p| {
            t += p as u64;
            t
        })
        .collect();
    let times: Vec<u64> = u["PPI_PKT_TIMES"]
        .as_array()
        .expect("array")
        .iter()
        .map(|x| ms_of_time(x.as_str().expect("time")))
        .collect();
    assert_eq!(times, want_times, "{}", ctx());
    assert_eq!(u64_of(u, "_len"), 112 + 11 * n as u64, "{}", ctx());
}

fn check_all(got: &[Value], want: &[Value]) {
    assert_eq!(got.len(), want.len(), "record count");
    for (u, j) in got.iter().zip(want) {
        check(u, j);
    }
    // The capture exercises every kind of field, so the checks above are not vacuous.
    let some = |f: &dyn Fn(&Value) -> bool| got.iter().any(f);
    assert!(some(&|u| u64_of(u, "TCP_FLAGS_REV") != 0), "TCP flags");
    assert!(some(&|u| u["PPI_PKT_DIRECTIONS"]
        .as_array()
        .is_some_and(|a| a.len() > 1)));
    assert!(some(&|u| u64_of(u, "BYTES_REV") != 0), "both directions");
}

/// Hands the sink to the pipeline and reports its counters when the pipeline drops it.
struct Observed {
    inner: TrapSink,
    stats: Arc<Mutex<SinkStats>>,
}

impl ExportSink for Observed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        self.inner.write_batch(records)
    }

    fn flush(&mut self) -> Result<(), appliance::Error> {
        let r = self.inner.flush();
        *self.stats.lock().expect("not poisoned") = self.inner.stats();
        r
    }
}

#[test]
fn unix_two_clients_decode_every_record() {
    let Some((peer, pcap)) = setup() else { return };
    let dir = temp_dir("unix2");
    let mut sink =
        TrapSink::new(trap_config(TrapTarget::Unix("e2e-two".into()), &dir)).expect("sink binds");
    let a = PeerProcess::start(&peer, &["client", "unix:e2e-two"], &dir);
    let b = PeerProcess::start(&peer, &["client", "unix:e2e-two"], &dir);
    wait_for_clients(&mut sink, 2);
    let stats = Arc::new(Mutex::new(SinkStats::default()));
    let json = run(
        &pcap,
        Box::new(Observed {
            inner: sink,
            stats: Arc::clone(&stats),
        }),
    );
    check_all(&a.records(), &json);
    check_all(&b.records(), &json);
    let stats = *stats.lock().expect("not poisoned");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert!(stats.bytes > 0);
    assert!(!dir.join("trap-e2e-two.sock").exists(), "socket removed");
}

#[test]
fn tcp_client_decodes_every_record() {
    let Some((peer, pcap)) = setup() else { return };
    let dir = temp_dir("tcp");
    let target = TrapTarget::parse("t:0", "127.0.0.1".parse().expect("ip")).expect("spec");
    let mut sink = TrapSink::new(trap_config(target, &dir)).expect("sink binds");
    let port = sink.local_addr().expect("tcp").port();
    let c = PeerProcess::start(&peer, &["client", &format!("tcp:127.0.0.1:{port}")], &dir);
    wait_for_clients(&mut sink, 1);
    let json = run(&pcap, Box::new(sink));
    check_all(&c.records(), &json);
}

/// Splits the first batch: half before the late client, half after; records where it joined.
struct LateJoin {
    inner: TrapSink,
    late: Option<Box<dyn FnOnce() -> PeerProcess + Send>>,
    started: Arc<Mutex<Option<PeerProcess>>>,
    written: usize,
    joined_at: Arc<AtomicUsize>,
}

impl ExportSink for LateJoin {
    fn name(&self) -> &'static str {
        "trap"
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        let mut rest = records;
        if let Some(start) = self.late.take_if(|_| records.len() >= 2) {
            let mid = records.len() / 2;
            self.inner.write_batch(&records[..mid])?;
            // Everything so far leaves now; the late client gets only what follows.
            self.inner.flush()?;
            *self.started.lock().expect("not poisoned") = Some(start());
            wait_for_clients(&mut self.inner, 2);
            self.joined_at.store(self.written + mid, Ordering::Relaxed);
            self.written += mid;
            rest = &records[mid..];
        }
        self.written += rest.len();
        self.inner.write_batch(rest)
    }

    fn flush(&mut self) -> Result<(), appliance::Error> {
        self.inner.flush()
    }
}

#[test]
fn late_client_gets_the_hello_and_later_records() {
    let Some((peer, pcap)) = setup() else { return };
    let dir = temp_dir("late");
    let mut sink =
        TrapSink::new(trap_config(TrapTarget::Unix("e2e-late".into()), &dir)).expect("sink binds");
    let early = PeerProcess::start(&peer, &["client", "unix:e2e-late"], &dir);
    wait_for_clients(&mut sink, 1);
    let started = Arc::new(Mutex::new(None));
    let joined_at = Arc::new(AtomicUsize::new(usize::MAX));
    let late = {
        let (peer, dir) = (peer.clone(), dir.to_path_buf());
        Box::new(move || PeerProcess::start(&peer, &["client", "unix:e2e-late"], &dir))
    };
    let json = run(
        &pcap,
        Box::new(LateJoin {
            inner: sink,
            late: Some(late),
            started: Arc::clone(&started),
            written: 0,
            joined_at: Arc::clone(&joined_at),
        }),
    );
    let k = joined_at.load(Ordering::Relaxed);
    assert!(k > 0 && k < json.len(), "joined at {k} of {}", json.len());
    check_all(&early.records(), &json);
    let late = started
        .lock()
        .expect("not poisoned")
        .take()
        .expect("late client started");
    check_all(&late.records(), &json[k..]);
}

#[test]
fn a_client_that_never_reads_does_not_hold_back_the_others() {
    let Some((peer, pcap)) = setup() else { return };
    let dir = temp_dir("stall");
    let mut sink =
        TrapSink::new(trap_config(TrapTarget::Unix("e2e-stall".into()), &dir)).expect("sink binds");
    let stalled = UnixStream::connect(dir.join("trap-e2e-stall.sock")).expect("connect");
    let good = PeerProcess::start(&peer, &["client", "unix:e2e-stall"], &dir);
    wait_for_clients(&mut sink, 2);
    let started = Instant::now();
    let json = run(&pcap, Box::new(sink));
    // The run ends (the sink gives up on the stalled backlog after `linger`, 2 s).
    assert!(started.elapsed() < Duration::from_secs(30));
    check_all(&good.records(), &json);
    // The stalled client got a well-formed prefix: the hello at least.
    let mut head = [0u8; 8];
    (&stalled).read_exact(&mut head).expect("hello");
    assert_eq!(head[0], 2, "UniRec hello");
}

#[test]
fn file_decodes_every_record() {
    let Some((peer, pcap)) = setup() else { return };
    let dir = temp_dir("file");
    let path = dir.join("flows.trapcap");
    let sink = TrapSink::new(trap_config(TrapTarget::File(path.clone()), &dir)).expect("file");
    let json = run(&pcap, Box::new(sink));
    let p = PeerProcess::start(&peer, &["file", path.to_str().expect("utf-8")], &dir);
    // `file` mode prints no `_len`; add it from the template so `check` applies unchanged.
    let got: Vec<Value> = p
        .records()
        .into_iter()
        .map(|mut v| {
            let n = v["PPI_PKT_LENGTHS"].as_array().expect("array").len();
            v["_len"] = Value::from(112 + 11 * n);
            v
        })
        .collect();
    check_all(&got, &json);
}

/// Records/s encoded and written to an `f:` file on one thread. Run with
/// `cargo test --release -p appliance-tests -- --ignored trap_file_throughput --nocapture`.
#[test]
#[ignore = "measurement; run in release"]
fn trap_file_throughput() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    let pcap = dir.join("1kxun.pcap");
    for (label, splt) in [("default", 0), ("--splt 10", 10)] {
        let mut cfg = nfstream_config(1);
        cfg.flow.splt = splt;
        let (_, base) = run_files(std::slice::from_ref(&pcap), &cfg);
        let n = 2_000_000;
        let records: Vec<FlowRecord> = base.iter().cycle().take(n).cloned().collect();
        let tmp = temp_dir("throughput");
        let out = tmp.join("bench.trapcap");
        let mut sink = TrapSink::new(TrapConfig::new(TrapTarget::File(out.clone()))).expect("file");
        let (t, cpu0) = (Instant::now(), thread_cpu_ns());
        for batch in records.chunks(512) {
            sink.write_batch(batch).expect("write");
        }
        sink.flush().expect("flush");
        drop(sink);
        let secs = t.elapsed().as_secs_f64();
        let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e9;
        let bytes = std::fs::metadata(&out).expect("file").len();
        eprintln!(
            "trap f: ({label}): {n} records, {:.0} B each: {:.2} M records/s on CPU time \
             ({cpu:.3} s), {:.2} M/s wall ({secs:.3} s)",
            bytes as f64 / n as f64,
            n as f64 / cpu / 1e6,
            n as f64 / secs / 1e6,
        );
        let _ = std::fs::remove_file(&out);
    }
}

/// CPU time of the calling thread (ns), from `/proc/thread-self/schedstat`: the machine may be
/// busy, wall time then says little.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
