//! JSON sink end to end: a public capture through the pipeline into rotated files, a file moved
//! away by logrotate, and a TCP collector that is up, down at start, or goes away and comes
//! back. Records are compared byte for byte with an in-memory run of the same capture.

use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use appliance::capture::pcap::PcapSource;
use appliance::export::json::{JsonConfig, JsonSink, JsonTarget, encode};
use appliance::export::{ExportSink, SinkStats};
use appliance::flow::FlowRecord;
use appliance::pipeline::{Counters, run_offline};

use crate::common::{Collect, public_pcaps, run_files};
use crate::fidelity::nfstream_config;

/// The capture every test replays: a few hundred flows, TCP and UDP.
fn capture() -> Option<PathBuf> {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return None;
    };
    Some(dir.join("1kxun.pcap"))
}

/// Runs the capture through the pipeline into `sinks` plus an in-memory collector; returns
/// the records in the order every sink saw them.
fn run(pcap: &Path, mut sinks: Vec<Box<dyn ExportSink>>) -> Vec<FlowRecord> {
    let got = Arc::new(Mutex::new(Vec::new()));
    sinks.insert(0, Box::new(Collect(Arc::clone(&got))));
    let mut source = PcapSource::open(&[pcap.to_path_buf()]).expect("capture opens");
    let outcome = run_offline(
        &mut source,
        &nfstream_config(2),
        sinks,
        &Arc::new(Counters::default()),
        None,
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let records = std::mem::take(&mut *got.lock().expect("not poisoned"));
    assert!(records.len() > 100, "{} records", records.len());
    records
}

/// The records of an in-memory run, for tests that drive the sink by hand.
fn records(pcap: &Path) -> Vec<FlowRecord> {
    let (outcome, records) = run_files(&[pcap.to_path_buf()], &nfstream_config(1));
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(records.len() > 100, "{} records", records.len());
    records
}

fn ndjson(records: &[FlowRecord]) -> Vec<u8> {
    let mut buf = Vec::new();
    for r in records {
        encode(r, &mut buf);
    }
    buf
}

/// A sink the test keeps a handle on, to read its counters after the pipeline is done.
#[derive(Clone)]
struct Shared(Arc<Mutex<JsonSink>>);

impl Shared {
    fn new(cfg: JsonConfig) -> Self {
        Shared(Arc::new(Mutex::new(
            JsonSink::new(cfg).expect("sink opens"),
        )))
    }

    fn stats(&self) -> SinkStats {
        self.0.lock().expect("not poisoned").stats()
    }
}

impl ExportSink for Shared {
    fn name(&self) -> &'static str {
        "json"
    }
    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        self.0.lock().expect("not poisoned").write_batch(records)
    }
    fn flush(&mut self) -> Result<(), appliance::Error> {
        self.0.lock().expect("not poisoned").flush()
    }
    fn stats(&self) -> SinkStats {
        Shared::stats(self)
    }
    fn reopen(&mut self) -> Result<(), appliance::Error> {
        self.0.lock().expect("not poisoned").reopen()
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "xdpflow-tests-json-{}-{name}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `NAME.<YYYYmmddTHHMMSSZ>[.N]` → its sort key (time, N), `None` for other names.
fn rotation_key(name: &str, live: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix(live)?.strip_prefix('.')?;
    let (stamp, n) = match rest.split_once('.') {
        Some((stamp, n)) => (stamp, n.parse().ok()?),
        None => (rest, 0),
    };
    let ok = stamp.len() == 16
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp[..8]
            .bytes()
            .chain(stamp[9..15].bytes())
            .all(|b| b.is_ascii_digit());
    ok.then(|| (stamp.to_string(), n))
}

#[test]
fn rotation_by_size_splits_a_run_without_changing_it() {
    let Some(pcap) = capture() else { return };
    let dir = TempDir::new("rotate");
    let limit = 8 * 1024;
    let single = JsonSink::new(JsonConfig::new(JsonTarget::File(dir.0.join("single.json"))))
        .expect("file opens");
    let rotating = JsonSink::new(JsonConfig {
        target: JsonTarget::File(dir.0.join("flows.json")),
        rotate_bytes: Some(limit),
        rotate_every: None,
    })
    .expect("file opens");
    let records = run(&pcap, vec![Box::new(single), Box::new(rotating)]);

    let single = std::fs::read(dir.0.join("single.json")).expect("single file");
    assert_eq!(
        single,
        ndjson(&records),
        "the single file holds every record in order"
    );

    let mut rotated: Vec<((String, u32), PathBuf)> = std::fs::read_dir(&dir.0)
        .expect("readable")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let key = rotation_key(p.file_name()?.to_str()?, "flows.json")?;
            Some((key, p))
        })
        .collect();
    rotated.sort();
    assert!(rotated.len() >= 3, "{} rotated files", rotated.len());
    let mut joined = Vec::new();
    for (_, p) in &rotated {
        let bytes = std::fs::read(p).expect("rotated file");
        assert!(bytes.len() as u64 <= limit, "{p:?}: {} bytes", bytes.len());
        assert!(bytes.len() as u64 > limit / 2, "{p:?} closed early");
        assert_eq!(bytes.last(), Some(&b'\n'), "{p:?} ends inside a record");
        joined.extend_from_slice(&bytes);
    }
    joined.extend_from_slice(&std::fs::read(dir.0.join("flows.json")).expect("live file"));
    assert!(
        joined == single,
        "the rotated files, in order, differ from the single file"
    );
}

#[test]
fn reopen_after_logrotate_moved_the_file() {
    let Some(pcap) = capture() else { return };
    let records = records(&pcap);
    let dir = TempDir::new("reopen");
    let live = dir.0.join("flows.json");
    let mut sink = JsonSink::new(JsonConfig::new(JsonTarget::File(live.clone()))).expect("opens");
    let (a, b) = (records.len() / 3, records.len() * 2 / 3);
    sink.write_batch(&records[..a]).expect("write");
    sink.flush().expect("flush");
    // logrotate: move the file away, then SIGHUP. Until the reopen, the open file is the
    // moved one.
    let moved = dir.0.join("flows.json.1");
    std::fs::rename(&live, &moved).expect("rename");
    sink.write_batch(&records[a..b]).expect("write");
    sink.reopen().expect("reopen");
    sink.write_batch(&records[b..]).expect("write");
    sink.flush().expect("flush");
    assert!(std::fs::read(&moved).expect("moved file") == ndjson(&records[..b]));
    assert!(std::fs::read(&live).expect("new file") == ndjson(&records[b..]));
    assert_eq!(
        sink.stats(),
        SinkStats {
            bytes: ndjson(&records).len() as u64,
            dropped: 0,
            errors: 0,
        }
    );
}

/// A test collector: accepts connections on a listener and reads whatever arrives, in order,
/// until stopped. Stopping closes the listener and every connection.
struct Collector {
    addr: String,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start(addr: &str) -> Self {
        let listener = TcpListener::bind(addr).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("bound").to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, connections, stop) = (
                Arc::clone(&received),
                Arc::clone(&connections),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let mut streams: Vec<TcpStream> = Vec::new();
                let mut buf = vec![0u8; 1 << 16];
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(true).expect("nonblocking");
                            streams.push(s);
                            connections.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => panic!("accept: {e}"),
                    }
                    let mut idle = true;
                    streams.retain_mut(|s| {
                        loop {
                            match s.read(&mut buf) {
                                Ok(0) => break false,
                                Ok(n) => {
                                    idle = false;
                                    received
                                        .lock()
                                        .expect("not poisoned")
                                        .extend_from_slice(&buf[..n]);
                                }
                                Err(e) if e.kind() == ErrorKind::WouldBlock => break true,
                                Err(_) => break false,
                            }
                        }
                    });
                    if idle {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        Collector {
            addr,
            received,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn len(&self) -> u64 {
        self.received.lock().expect("not poisoned").len() as u64
    }

    /// Waits (at most 2 s) until `bytes` have arrived.
    fn wait_for(&self, bytes: u64) {
        let t = Instant::now();
        while self.len() < bytes {
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "{} of {bytes} bytes",
                self.len()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Closes the listener and every connection; returns what arrived.
    fn stop(mut self) -> Vec<u8> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("collector thread");
        }
        std::mem::take(&mut *self.received.lock().expect("not poisoned"))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("127.0.0.1:{}", l.local_addr().expect("bound").port())
}

#[test]
fn tcp_collector_receives_every_record_once() {
    let Some(pcap) = capture() else { return };
    let collector = Collector::start("127.0.0.1:0");
    let sink = Shared::new(JsonConfig::new(
        JsonTarget::parse(&format!("tcp:{}", collector.addr)).expect("spec"),
    ));
    let records = run(&pcap, vec![Box::new(sink.clone())]);
    let want = ndjson(&records);
    assert_eq!(
        sink.stats(),
        SinkStats {
            bytes: want.len() as u64,
            dropped: 0,
            errors: 0,
        }
    );
    drop(sink);
    collector.wait_for(want.len() as u64);
    let got = collector.stop();
    assert!(
        got == want,
        "the collector's bytes differ from the in-memory run's"
    );
}

#[test]
fn tcp_collector_down_at_start_drops_and_counts() {
    let Some(pcap) = capture() else { return };
    let sink = Shared::new(JsonConfig::new(JsonTarget::Tcp(closed_port())));
    let records = run(&pcap, vec![Box::new(sink.clone())]);
    let stats = sink.stats();
    assert_eq!(stats.dropped, records.len() as u64);
    assert_eq!(stats.bytes, 0);
    assert!(stats.errors >= 1, "{stats:?}");
}

#[test]
fn tcp_collector_goes_away_and_comes_back() {
    let Some(pcap) = capture() else { return };
    let records = records(&pcap);
    let started = Instant::now();
    let first = Collector::start("127.0.0.1:0");
    let addr = first.addr.clone();
    let mut sink = JsonSink::new(JsonConfig::new(JsonTarget::Tcp(addr.clone()))).expect("sink");
    let mut next = 0;
    // The next `n` records as one batch, flushed.
    let send = |sink: &mut JsonSink, next: &mut usize, n: usize| {
        let end = (*next + n).min(records.len());
        sink.write_batch(&records[*next..end])
            .expect("never an error");
        sink.flush().expect("never an error");
        *next = end;
    };

    // Up: a third of the records arrive.
    while next < records.len() / 3 {
        send(&mut sink, &mut next, 10);
    }
    first.wait_for(sink.stats().bytes);
    assert_eq!(sink.stats().dropped, 0);
    let before = first.stop();
    std::thread::sleep(Duration::from_millis(20));

    // Down: the sink notices the closed connection, fails to reconnect, drops and counts.
    for _ in 0..3 {
        send(&mut sink, &mut next, 10);
    }
    let down = sink.stats();
    assert!(down.dropped >= 30, "{down:?}");
    assert!(
        down.errors >= 2,
        "lost connection and a failed connect: {down:?}"
    );

    // Back on the same port: after its backoff the sink reconnects, later records arrive.
    let second = Collector::start(&addr);
    let waiting = Instant::now();
    while second.connections.load(Ordering::Relaxed) == 0 {
        assert!(waiting.elapsed() < Duration::from_secs(3), "no reconnect");
        // Records keep coming (and are dropped) until the sink is back; keep 20 for after.
        let n = usize::from(next + 20 < records.len());
        send(&mut sink, &mut next, n);
        std::thread::sleep(Duration::from_millis(10));
    }
    while next < records.len() {
        send(&mut sink, &mut next, 1);
    }
    let stats = sink.stats();
    drop(sink);
    second.wait_for(stats.bytes - before.len() as u64);
    assert_eq!(second.connections.load(Ordering::Relaxed), 1);
    let after = second.stop();
    assert!(
        !after.is_empty(),
        "nothing arrived after the collector came back"
    );

    // Every record arrived once, whole and in order, or was counted as dropped.
    let want = ndjson(&records);
    let index: HashMap<&[u8], usize> = want
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (line, i))
        .collect();
    assert_eq!(index.len(), records.len(), "records encode uniquely");
    let mut last = None;
    let mut received = 0u64;
    for line in before
        .split_inclusive(|&b| b == b'\n')
        .chain(after.split_inclusive(|&b| b == b'\n'))
    {
        let i = *index.get(line).expect("a whole record");
        assert!(last < Some(i), "record {i} arrived twice or out of order");
        last = Some(i);
        received += 1;
    }
    assert_eq!(stats.bytes, (before.len() + after.len()) as u64);
    assert_eq!(stats.dropped + received, records.len() as u64, "{stats:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
