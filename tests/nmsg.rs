//! NMSG end-to-end: public captures through the pipeline into an `NmsgSink` (file and UDP on
//! 127.0.0.1), read back by an independent decoder, go-nmsg (`../shared/peers/nmsg`, built
//! from Debian's `golang-github-farsightsec-go-nmsg-dev`), and for zlib + fragments (flags
//! 0x03, which go-nmsg 0.2.0 cannot read) by our prost-based reader.
//!
//! Every flow must arrive exactly once: an ipconn payload whose 5-tuple is the record's,
//! followed by an encode payload whose JSON is byte for byte the NDJSON record, both stamped
//! with the flow's last-seen time and with valid CRCs when they are on.
//!
//! The peer: `$NMSG_PEER` (must then exist: CI builds it, see `nmsg-peer.sh`), else
//! `/tmp/nmsgpeer/nmsgpeer`, else built into a temp dir with `go` if present, else the peer
//! tests print `skipped: ...` and pass.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use appliance::capture::pcap::PcapSource;
use appliance::export::nmsg::proto::EncodeType;
use appliance::export::nmsg::read::{check_crcs, read_stream};
use appliance::export::nmsg::{NmsgConfig, NmsgEncoding, NmsgMessages, NmsgSink, NmsgTarget};
use appliance::export::{ExportSink, SinkStats};
use appliance::flow::FlowRecord;
use appliance::pipeline::{Counters, run_offline};

use crate::common::{Collect, public_pcaps};
use crate::fidelity::nfstream_config;

/// IPv4 (1kxun) and IPv6 (http_ipv6) flows, about 150 records.
const CAPTURES: [&str; 2] = ["1kxun.pcap", "http_ipv6.pcap"];

fn captures() -> Option<Vec<PathBuf>> {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return None;
    };
    Some(CAPTURES.iter().map(|c| dir.join(c)).collect())
}

/// The go-nmsg peer, located or built once per test run.
fn peer() -> Option<&'static Path> {
    static PEER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PEER.get_or_init(|| {
        if let Some(p) = std::env::var_os("NMSG_PEER") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "NMSG_PEER={} does not exist", p.display());
            return Ok(p);
        }
        let default = PathBuf::from("/tmp/nmsgpeer/nmsgpeer");
        if default.is_file() {
            return Ok(default);
        }
        let go = Command::new("go").arg("version").output();
        if !go.is_ok_and(|o| o.status.success()) {
            return Err(
                "no go toolchain to build the go-nmsg peer (see tests/nmsg-peer.sh)".into(),
            );
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/nmsg/build.sh");
        if !script.is_file() {
            return Err(format!("{} not found", script.display()));
        }
        let out_dir = std::env::temp_dir().join("xdpflow-nmsgpeer");
        let build = Command::new("sh").arg(&script).arg(&out_dir).output();
        match build {
            Ok(o) if o.status.success() => Ok(out_dir.join("nmsgpeer")),
            Ok(o) => Err(format!(
                "building the go-nmsg peer failed (is golang-github-farsightsec-go-nmsg-dev \
                 installed?): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    });
    match found {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!("skipped: go-nmsg peer unavailable ({why})");
            None
        }
    }
}

/// Forwards to an `NmsgSink`, optionally in small flushed slices (so a UDP receiver keeps up),
/// and publishes the sink's counters after every flush.
struct Tap {
    sink: NmsgSink,
    slice: Option<usize>,
    stats: Arc<Mutex<SinkStats>>,
}

impl ExportSink for Tap {
    fn name(&self) -> &'static str {
        self.sink.name()
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        let Some(n) = self.slice else {
            return self.sink.write_batch(records);
        };
        for part in records.chunks(n) {
            self.sink.write_batch(part)?;
            self.flush()?;
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), appliance::Error> {
        self.sink.flush()?;
        *self.stats.lock().unwrap() = self.sink.stats();
        Ok(())
    }
}

/// Runs the captures through the pipeline into a collector and an `NmsgSink`.
fn run(cfg: NmsgConfig, slice: Option<usize>) -> (Vec<FlowRecord>, SinkStats) {
    let files = captures().expect("checked by the caller");
    let got = Arc::new(Mutex::new(Vec::new()));
    let stats = Arc::new(Mutex::new(SinkStats::default()));
    let tap = Tap {
        sink: NmsgSink::new(cfg).expect("sink opens"),
        slice,
        stats: Arc::clone(&stats),
    };
    let sinks: Vec<Box<dyn ExportSink>> = vec![Box::new(Collect(Arc::clone(&got))), Box::new(tap)];
    let mut source = PcapSource::open(&files).expect("captures open");
    let outcome = run_offline(
        &mut source,
        &nfstream_config(2),
        sinks,
        &Arc::new(Counters::default()),
        None,
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let records = std::mem::take(&mut *got.lock().unwrap());
    assert!(records.len() > 100, "{} records", records.len());
    let stats = *stats.lock().unwrap();
    (records, stats)
}

/// One payload as the peer printed it (or as our reader decoded it).
#[derive(Debug)]
struct Got {
    msgtype: u64,
    time_ms: u64,
    crc_ok: bool,
    /// proto, src, sport, dst, dport.
    tuple: Option<(u8, IpAddr, u16, IpAddr, u16)>,
    /// Encode type name and document.
    encode: Option<(String, Vec<u8>)>,
}

fn from_peer(v: &serde_json::Value) -> Got {
    let ip = |s: &serde_json::Value| -> IpAddr {
        s.as_str()
            .unwrap()
            .parse::<IpAddr>()
            .unwrap()
            .to_canonical()
    };
    let tuple = v.get("ipconn").map(|c| {
        (
            c["proto"].as_u64().unwrap() as u8,
            ip(&c["srcip"]),
            c["srcport"].as_u64().unwrap() as u16,
            ip(&c["dstip"]),
            c["dstport"].as_u64().unwrap() as u16,
        )
    });
    let encode = v.get("encode").map(|e| {
        let text = e["payload"].as_str().unwrap();
        let bytes = match text.strip_prefix("hex:") {
            Some(h) => (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect(),
            None => text.as_bytes().to_vec(),
        };
        (e["type"].as_str().unwrap().to_string(), bytes)
    });
    assert!(v.get("decode_error").is_none(), "{v}");
    Got {
        msgtype: v["msgtype"].as_u64().unwrap(),
        time_ms: v["time_sec"].as_u64().unwrap() * 1000
            + v["time_nsec"].as_u64().unwrap() / 1_000_000,
        crc_ok: v["crc_ok"].as_bool().unwrap(),
        tuple,
        encode,
    }
}

/// Our reader's view of a file, in the same shape.
fn from_reader(data: &[u8]) -> Vec<Got> {
    let mut v = Vec::new();
    for n in read_stream(data).expect("our reader reads it") {
        let crcs = check_crcs(&n);
        for (p, crc) in n.payloads.iter().zip(crcs) {
            let tuple = p.ipconn().map(|c| {
                let ip = |b: Option<Vec<u8>>| -> IpAddr {
                    let b = b.unwrap();
                    match b.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap()),
                        _ => IpAddr::from(<[u8; 16]>::try_from(b).unwrap()).to_canonical(),
                    }
                };
                (
                    c.proto.unwrap() as u8,
                    ip(c.srcip),
                    c.srcport.unwrap() as u16,
                    ip(c.dstip),
                    c.dstport.unwrap() as u16,
                )
            });
            let encode = p.encode_msg().map(|e| {
                let name = match EncodeType::try_from(e.r#type) {
                    Ok(EncodeType::Json) => "JSON",
                    Ok(EncodeType::Msgpack) => "MSGPACK",
                    other => panic!("encode type {other:?}"),
                };
                (name.to_string(), e.payload)
            });
            v.push(Got {
                msgtype: u64::from(p.msgtype),
                time_ms: p.time_sec as u64 * 1000 + u64::from(p.time_nsec) / 1_000_000,
                crc_ok: crc.unwrap_or(true),
                tuple,
                encode,
            });
        }
    }
    v
}

fn tuple(r: &FlowRecord) -> (u8, IpAddr, u16, IpAddr, u16) {
    (
        r.protocol,
        r.src_addr().to_canonical(),
        r.src_port,
        r.dst_addr().to_canonical(),
        r.dst_port,
    )
}

/// Every record exactly once, as an ipconn + encode pair (or only the selected one).
fn check(records: &[FlowRecord], got: &[Got], messages: NmsgMessages, encoding: NmsgEncoding) {
    let per = usize::from(messages.ipconn) + usize::from(messages.encode);
    assert_eq!(got.len(), records.len() * per, "payload count");
    assert!(got.iter().all(|g| g.crc_ok), "a payload failed its CRC");
    let by_id: HashMap<u64, &FlowRecord> = records.iter().map(|r| (r.id, r)).collect();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    if !messages.encode {
        // ipconn only: the 5-tuples, as multisets, in order of export.
        let want: Vec<_> = records.iter().map(tuple).collect();
        let have: Vec<_> = got.iter().map(|g| g.tuple.expect("ipconn")).collect();
        assert_eq!(have, want);
        for (g, r) in got.iter().zip(records) {
            assert_eq!((g.msgtype, g.time_ms), (5, r.bidirectional().last_seen_ms));
        }
        return;
    }
    // MessagePack documents, by content (the peer shows them as bytes).
    let msgpack: HashMap<Vec<u8>, u64> = records
        .iter()
        .map(|r| {
            let mut doc = Vec::new();
            appliance::export::nmsg::msgpack::encode(r, &mut doc, &mut Vec::new());
            (doc, r.id)
        })
        .collect();
    for pair in got.chunks(per) {
        let enc = pair.last().unwrap();
        assert_eq!(enc.msgtype, 11);
        let (kind, doc) = enc.encode.as_ref().expect("encode payload");
        let id = match encoding {
            NmsgEncoding::Json => {
                assert_eq!(kind, "JSON");
                let v: serde_json::Value = serde_json::from_slice(doc).expect("JSON document");
                v["id"].as_u64().expect("id")
            }
            NmsgEncoding::Msgpack => {
                assert_eq!(kind, "MSGPACK");
                *msgpack.get(doc).expect("the MessagePack form of a record")
            }
        };
        let r = by_id[&id];
        *seen.entry(id).or_default() += 1;
        if encoding == NmsgEncoding::Json {
            let mut want = Vec::new();
            appliance::export::json::encode(r, &mut want);
            want.pop();
            assert_eq!(
                String::from_utf8_lossy(doc),
                String::from_utf8_lossy(&want),
                "record {id}"
            );
        }
        let last_seen = r.bidirectional().last_seen_ms;
        assert_eq!(enc.time_ms, last_seen, "record {id}");
        if messages.ipconn {
            let ipc = &pair[0];
            assert_eq!(ipc.msgtype, 5);
            assert_eq!(ipc.tuple, Some(tuple(r)), "record {id}");
            assert_eq!(ipc.time_ms, last_seen, "record {id}");
        }
    }
    assert_eq!(seen.len(), records.len(), "every record");
    assert!(seen.values().all(|&n| n == 1), "a record arrived twice");
}

/// A file in the temp dir, unique to this run; the test removes it when it passes.
fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xdpflow-nmsg-{}-{name}", std::process::id()))
}

/// `nmsgpeer recv -file PATH`, its JSON lines parsed.
fn peer_read_file(peer: &Path, path: &Path) -> Vec<Got> {
    let out = Command::new(peer)
        .args(["recv", "-file"])
        .arg(path)
        .output()
        .expect("peer runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "peer failed: {stderr}");
    assert!(!stderr.contains("error:"), "peer reported: {stderr}");
    parse_lines(&out.stdout)
}

fn parse_lines(stdout: &[u8]) -> Vec<Got> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| from_peer(&serde_json::from_str(l).expect("peer prints JSON")))
        .collect()
}

fn file_variant(name: &str, tweak: impl FnOnce(&mut NmsgConfig)) {
    let (Some(_), Some(peer)) = (captures(), peer()) else {
        return;
    };
    let path = temp_file(&format!("{name}.nmsg"));
    let mut cfg = NmsgConfig::new(NmsgTarget::File(path.clone()));
    tweak(&mut cfg);
    let (messages, encoding) = (cfg.messages, cfg.encoding);
    let (records, stats) = run(cfg, None);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(stats.bytes, bytes.len() as u64);
    assert_eq!((stats.dropped, stats.errors), (0, 0));
    check(&records, &peer_read_file(peer, &path), messages, encoding);
    check(&records, &from_reader(&bytes), messages, encoding);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_default_is_read_by_go_nmsg() {
    file_variant("default", |_| {});
}

#[test]
fn file_zlib_is_read_by_go_nmsg() {
    file_variant("zlib", |c| c.zlib = true);
}

#[test]
fn file_fragmented_is_read_by_go_nmsg() {
    // 300-byte containers: every encode payload (a JSON record) is fragmented.
    file_variant("frag", |c| c.container_size = 300);
}

#[test]
fn file_without_crc_with_source_is_read_by_go_nmsg() {
    file_variant("nocrc", |c| {
        c.crc = false;
        c.source = Some(42);
        c.operator = Some(7);
        c.group = Some(3);
    });
}

#[test]
fn file_ipconn_only_is_read_by_go_nmsg() {
    file_variant("ipconn", |c| {
        c.messages = NmsgMessages {
            ipconn: true,
            encode: false,
        }
    });
}

#[test]
fn file_msgpack_is_read_by_go_nmsg() {
    file_variant("msgpack", |c| c.encoding = NmsgEncoding::Msgpack);
}

#[test]
fn zlib_fragments_are_read_by_our_reader() {
    // go-nmsg 0.2.0 cannot read flags 0x03 (spec §4): check with our prost-based reader.
    let Some(_) = captures() else {
        return;
    };
    let path = temp_file("zlib-frag.nmsg");
    let mut cfg = NmsgConfig::new(NmsgTarget::File(path.clone()));
    cfg.zlib = true;
    cfg.container_size = 128;
    let (records, _) = run(cfg, None);
    let bytes = std::fs::read(&path).unwrap();
    let mut rest = &bytes[..];
    let mut flags = [0usize; 4];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[6..10].try_into().unwrap()) as usize;
        assert!(10 + len <= 128);
        flags[usize::from(rest[4] & 3)] += 1;
        rest = &rest[10 + len..];
    }
    assert!(flags[3] > 0, "zlib + fragment containers: {flags:?}");
    check(
        &records,
        &from_reader(&bytes),
        NmsgMessages::default(),
        NmsgEncoding::Json,
    );
    std::fs::remove_file(&path).unwrap();
}

/// A peer listening on UDP; killed if the test ends before it does. Its output is read as it
/// comes (a full stdout pipe would stall it and the kernel would drop datagrams).
struct Listener {
    child: Option<Child>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Receiver<String>,
}

impl Listener {
    fn start(peer: &Path, port: u16, count: usize) -> Listener {
        let mut child = Command::new(peer)
            .args(["recv", "-udp", &format!("127.0.0.1:{port}")])
            .args(["-timeout", "5s", "-count", &count.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("peer starts");
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
            buf
        });
        let (tx, rx) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let l = Listener {
            child: Some(child),
            stdout: Some(stdout),
            stderr: rx,
        };
        loop {
            let line = l
                .stderr
                .recv_timeout(Duration::from_secs(20))
                .expect("peer says it listens");
            if line.starts_with("listening on udp") {
                return l;
            }
        }
    }

    /// Waits for the peer to end (count reached or 5 s without data); its payloads.
    fn finish(mut self) -> (Vec<Got>, String) {
        let status = self.child.take().unwrap().wait().unwrap();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr: Vec<String> = self.stderr.iter().collect();
        let stderr = stderr.join("\n");
        assert!(status.success(), "peer failed: {stderr}");
        (parse_lines(&stdout), stderr)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Record count of the captures (a first run), to tell the peer when to stop.
fn record_count() -> usize {
    let files = captures().expect("checked");
    crate::common::run_files(&files, &nfstream_config(2))
        .1
        .len()
}

fn udp_variant(tweak: impl FnOnce(&mut NmsgConfig)) {
    let (Some(_), Some(peer)) = (captures(), peer()) else {
        return;
    };
    let n = record_count();
    let port = free_udp_port();
    let listener = Listener::start(peer, port, 2 * n);
    let mut cfg = NmsgConfig::new(NmsgTarget::parse(&format!("udp:127.0.0.1:{port}")).unwrap());
    tweak(&mut cfg);
    let (records, stats) = run(cfg, Some(8));
    let (got, stderr) = listener.finish();
    assert_eq!((stats.dropped, stats.errors), (0, 0), "{stats:?}");
    assert!(!stderr.contains("error:"), "peer reported: {stderr}");
    assert_eq!(records.len(), n);
    check(&records, &got, NmsgMessages::default(), NmsgEncoding::Json);
}

#[test]
fn udp_default_is_read_by_go_nmsg() {
    udp_variant(|_| {});
}

#[test]
fn udp_zlib_is_read_by_go_nmsg() {
    udp_variant(|c| c.zlib = true);
}

#[test]
fn udp_fragmented_is_read_by_go_nmsg() {
    // 512-byte datagrams (libnmsg's minimum buffer): JSON records are fragmented.
    udp_variant(|c| c.container_size = 512);
}

#[test]
fn collector_down_then_up() {
    let (Some(files), Some(peer)) = (captures(), peer()) else {
        return;
    };
    let records = crate::common::run_files(&files, &nfstream_config(2)).1;
    let (before, after) = records.split_at(records.len() / 2);
    let port = free_udp_port();
    let cfg = NmsgConfig::new(NmsgTarget::parse(&format!("udp:127.0.0.1:{port}")).unwrap());
    let mut sink = NmsgSink::new(cfg).unwrap();
    // Down: nobody listens. Each container is refused (ICMP port unreachable, reported on
    // the socket): counted, never an error.
    for part in before.chunks(2) {
        sink.write_batch(part).unwrap();
        sink.flush().unwrap();
    }
    let down = sink.stats();
    let containers = before.len().div_ceil(2) as u64;
    assert!(down.errors + 1 >= containers, "{down:?}");
    assert!(
        down.dropped + 2 >= before.len() as u64,
        "{down:?} of {}",
        before.len()
    );
    // Let any late report land before the port is taken again.
    std::thread::sleep(Duration::from_millis(100));
    // Up: the peer listens; every record from now on arrives.
    let listener = Listener::start(peer, port, 2 * after.len());
    for part in after.chunks(4) {
        sink.write_batch(part).unwrap();
        sink.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let (got, stderr) = listener.finish();
    let end = sink.stats();
    assert_eq!(
        end.dropped,
        before.len() as u64,
        "exactly the outage's records: {end:?}"
    );
    assert!(stderr.contains("payloads="), "{stderr}");
    check(after, &got, NmsgMessages::default(), NmsgEncoding::Json);
}
