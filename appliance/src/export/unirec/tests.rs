//! Unit tests of the TRAP output: the spec's worked example byte for byte, destination
//! parsing, and the sink against clients on UNIX/TCP loopback sockets.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::flow::tests::sample_record;
use super::template::{Field, Template, Type, put_ip, time};
use super::trap::{Container, Framing, HEADER_ROOM, hello};
use super::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn worked_example_stream_byte_for_byte() {
    // Spec §6: hello, spec, one record and the end-of-stream marker in one container.
    let t = Template::new(&[
        Field {
            ty: Type::IpAddr,
            name: "SRC_IP",
        },
        Field {
            ty: Type::Time,
            name: "TIME_FIRST",
        },
        Field {
            ty: Type::U16,
            name: "SRC_PORT",
        },
        Field {
            ty: Type::U8,
            name: "PROTOCOL",
        },
        Field {
            ty: Type::String,
            name: "SNI",
        },
    ]);
    let spec = "ipaddr SRC_IP,time TIME_FIRST,uint16 SRC_PORT,uint8 PROTOCOL,string SNI";
    assert_eq!(t.spec(), spec);
    let mut stream = hello(t.spec());
    assert_eq!(
        stream[..8],
        [
            0x02, // data_type UNIREC
            0x00, 0x00, 0x00, // padding
            0x00, 0x00, 0x00, 0x47, // spec_size 71
        ]
    );
    assert_eq!(&stream[8..], spec.as_bytes());

    let mut c = Container::with_capacity(1000);
    let (mark, buf) = c.begin();
    let mut ip = [0u8; 16];
    ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    let len = t
        .encode(buf, |i, out| match i {
            0 => put_ip(out, 4, &ip),
            1 => out.extend_from_slice(&time(1_700_000_000, 500_000_000).to_le_bytes()),
            2 => out.extend_from_slice(&443u16.to_le_bytes()),
            3 => out.push(6),
            _ => out.extend_from_slice(b"a.example"),
        })
        .unwrap();
    assert_eq!(len, 40);
    c.end(mark, true);
    let (mark, buf) = c.begin();
    buf.push(0);
    c.end(mark, false);
    let end = HEADER_ROOM + c.payload_len();
    stream.extend_from_slice(c.framed(end, Framing::V17));
    #[rustfmt::skip]
    let container = [
        0x00, 0x00, 0x00, 0x2d, // payload 45 bytes (BE)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq_num 0 (LE)
        0x02, 0x00, // 2 messages (LE)
        0x00, 0x28, // msg 1: 40 bytes (BE)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0xff, 0xff, 0xff, 0xff, // SRC_IP
        0x00, 0x00, 0x00, 0x80, 0x00, 0xf1, 0x53, 0x65, // TIME_FIRST 1700000000.5
        0xbb, 0x01, // SRC_PORT 443
        0x06, // PROTOCOL
        0x00, 0x00, 0x09, 0x00, // SNI slot: offset 0, length 9
        b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "a.example"
        0x00, 0x01, 0x00, // msg 2: end-of-stream marker
    ];
    assert_eq!(&stream[8 + 71..], container);
    // The same container in a file: the 4-byte header only.
    let old = c.framed(end, Framing::Old);
    assert_eq!(old[..4], container[..4]);
    assert_eq!(old[4..], container[14..]);
}

fn parse(spec: &str) -> Result<TrapTarget, Error> {
    TrapTarget::parse(spec, LOCALHOST)
}

#[test]
fn parses_good_destinations() {
    assert_eq!(parse("u:flows").unwrap(), TrapTarget::Unix("flows".into()));
    assert_eq!(
        parse("t:4739").unwrap(),
        TrapTarget::Tcp("127.0.0.1:4739".parse().unwrap())
    );
    assert_eq!(
        TrapTarget::parse("t:4739", "::".parse().unwrap()).unwrap(),
        TrapTarget::Tcp("[::]:4739".parse().unwrap())
    );
    assert_eq!(
        parse("t:0.0.0.0:4739").unwrap(),
        TrapTarget::Tcp("0.0.0.0:4739".parse().unwrap())
    );
    for v6 in ["t:[::1]:4739", "t:::1:4739"] {
        assert_eq!(
            parse(v6).unwrap(),
            TrapTarget::Tcp("[::1]:4739".parse().unwrap()),
            "{v6}"
        );
    }
    assert_eq!(
        parse("t:0").unwrap(),
        TrapTarget::Tcp("127.0.0.1:0".parse().unwrap())
    );
    assert_eq!(
        parse("f:/var/log/flows.trapcap").unwrap(),
        TrapTarget::File("/var/log/flows.trapcap".into())
    );
    assert_eq!(parse("f:a:b").unwrap(), TrapTarget::File("a:b".into()));
    for s in ["u:flows", "t:127.0.0.1:4739", "t:[::1]:1", "f:x.trapcap"] {
        assert_eq!(parse(s).unwrap().to_string(), s);
    }
}

#[test]
fn rejects_bad_destinations_with_a_reason() {
    let cases = [
        ("", "expected u:NAME"),
        ("flows", "expected u:NAME"),
        ("x:1", "expected u:NAME"),
        ("u:", "socket name is empty"),
        ("u:a/b", "must not contain `/`"),
        ("u:a:b", "must not contain `:`"),
        ("u:a:max_clients=3", "interface parameters"),
        ("t:", "port is missing"),
        ("t:abc", "`abc` is not a port"),
        ("t:70000", "`70000` is not a port"),
        ("t:1.2.3.4:x", "`x` is not a port"),
        ("t:localhost:4739", "`localhost` is not an IP address"),
        ("t:4739:buffer_size=5", "interface parameters"),
        ("f:", "path is empty"),
        ("f:out.trapcap:w", "`:w`"),
        ("f:out.trapcap:size=10", "not supported"),
        ("T:4739", "TLS"),
        ("b:", "not an export destination"),
    ];
    for (spec, want) in cases {
        let err = parse(spec).expect_err(spec);
        let Error::SinkSpec {
            sink,
            spec: s,
            reason,
        } = &err
        else {
            panic!("{spec}: {err:?}");
        };
        assert_eq!((*sink, s.as_str()), ("trap", spec));
        assert!(reason.contains(want), "{spec}: {reason}");
        assert!(
            err.to_string().starts_with("invalid trap destination"),
            "{err}"
        );
    }
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
    let d = std::env::temp_dir().join(format!("xdpflow-trap-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

fn unix_cfg(dir: &Path, name: &str) -> TrapConfig {
    TrapConfig {
        socket_dir: dir.to_path_buf(),
        linger: Duration::from_millis(200),
        autoflush: None,
        ..TrapConfig::new(TrapTarget::Unix(name.into()))
    }
}

/// What a client read: the spec and every container as (seq_num, msg_count, messages).
#[derive(Debug)]
struct Received {
    spec: String,
    containers: Vec<(u64, u16, Vec<Vec<u8>>)>,
}

impl Received {
    fn records(&self) -> Vec<Vec<u8>> {
        self.containers
            .iter()
            .flat_map(|c| c.2.iter().cloned())
            .filter(|m| m.len() > 1)
            .collect()
    }
}

/// Reads a whole stream (until the sink closes it).
fn read_stream(mut s: impl Read, header: usize) -> Received {
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    decode_stream(&all, header)
}

fn decode_stream(all: &[u8], header: usize) -> Received {
    assert!(all.len() >= 8, "no hello: {all:?}");
    assert_eq!(all[..4], [2, 0, 0, 0]);
    let n = u32::from_be_bytes(all[4..8].try_into().unwrap()) as usize;
    let spec = String::from_utf8(all[8..8 + n].to_vec()).unwrap();
    let mut i = 8 + n;
    let mut containers = Vec::new();
    while i < all.len() {
        let len = u32::from_be_bytes(all[i..i + 4].try_into().unwrap()) as usize;
        let (seq, count) = if header == 14 {
            (
                u64::from_le_bytes(all[i + 4..i + 12].try_into().unwrap()),
                u16::from_le_bytes(all[i + 12..i + 14].try_into().unwrap()),
            )
        } else {
            (0, 0)
        };
        i += header;
        let payload = &all[i..i + len];
        i += len;
        let mut msgs = Vec::new();
        let mut j = 0;
        while j < payload.len() {
            let m = u16::from_be_bytes([payload[j], payload[j + 1]]) as usize;
            msgs.push(payload[j + 2..j + 2 + m].to_vec());
            j += 2 + m;
        }
        if header == 14 {
            assert_eq!(count as usize, msgs.len());
        }
        containers.push((seq, count, msgs));
    }
    Received { spec, containers }
}

fn record_with_port(port: u16) -> FlowRecord {
    let mut r = sample_record();
    r.src_port = port;
    r
}

/// SRC_PORT of an encoded flow record (offset 94).
fn port_of(rec: &[u8]) -> u16 {
    u16::from_le_bytes([rec[94], rec[95]])
}

fn connect(sink: &TrapSink) -> UnixStream {
    let s = UnixStream::connect(sink.socket_path().unwrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn clients_get_the_hello_then_what_follows_their_arrival() {
    let dir = temp_dir("late");
    let mut sink = TrapSink::new(unix_cfg(&dir, "late")).unwrap();
    let path = sink.socket_path().unwrap().to_path_buf();
    assert_eq!(path, dir.join("trap-late.sock"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o666);

    let early = connect(&sink);
    assert_eq!(sink.accept_clients(), 1);
    sink.write_batch(&[record_with_port(1), record_with_port(2)])
        .unwrap();
    sink.flush().unwrap();
    let late = connect(&sink);
    sink.write_batch(&[record_with_port(3)]).unwrap();
    sink.flush().unwrap();
    assert_eq!(sink.counters().clients, 2);
    let spec = sink.template().spec().to_string();
    drop(sink);
    assert!(!path.exists(), "the socket file is removed on close");

    let e = read_stream(early, 14);
    let l = read_stream(late, 14);
    assert_eq!(e.spec, spec);
    assert_eq!(l.spec, spec);
    let ports = |r: &Received| r.records().iter().map(|m| port_of(m)).collect::<Vec<_>>();
    assert_eq!(ports(&e), [1, 2, 3]);
    assert_eq!(ports(&l), [3]);
    // seq_num counts the messages of the interface, whoever received them.
    assert_eq!(e.containers.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 2]);
    assert_eq!(l.containers[0].0, 2);
    let mut want = Vec::new();
    FlowEncoder::new(1, 0, 65_535)
        .encode(&record_with_port(3), &mut want)
        .unwrap();
    assert_eq!(l.records()[0], want);
}

#[test]
fn old_header_and_end_marker() {
    let dir = temp_dir("old");
    let mut sink = TrapSink::new(TrapConfig {
        header: BufferHeader::Old,
        end_marker: true,
        ..unix_cfg(&dir, "old")
    })
    .unwrap();
    let c = connect(&sink);
    sink.write_batch(&[record_with_port(7)]).unwrap();
    drop(sink);
    let mut all = Vec::new();
    (&c).read_to_end(&mut all).unwrap();
    let r = decode_stream(&all, 4);
    let msgs: Vec<Vec<u8>> = r.containers.iter().flat_map(|c| c.2.clone()).collect();
    assert_eq!(msgs.len(), 2);
    assert_eq!(port_of(&msgs[0]), 7);
    assert_eq!(msgs[1], [0], "end-of-stream marker");
    // One container: hello, 4-byte header, 2 + 145 + 2 + 1 payload bytes.
    let spec_len = r.spec.len();
    assert_eq!(all.len(), 8 + spec_len + 4 + 150);
}

#[test]
fn a_stalled_client_loses_containers_the_others_get_everything() {
    let dir = temp_dir("stall");
    let mut sink = TrapSink::new(TrapConfig {
        buffer_size: 8192,
        client_buffer: 64 << 10,
        ..unix_cfg(&dir, "stall")
    })
    .unwrap();
    let _stalled = connect(&sink);
    let good = connect(&sink);
    assert_eq!(sink.accept_clients(), 2);
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let reader = std::thread::spawn(move || {
        // Reports the records read so far after every container.
        let mut s = good;
        let mut got = Vec::new();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let mut hello_done = false;
        loop {
            let n = s.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if !hello_done && buf.len() >= 8 {
                let spec = u32::from_be_bytes(buf[4..8].try_into().unwrap()) as usize;
                if buf.len() >= 8 + spec {
                    buf.drain(..8 + spec);
                    hello_done = true;
                }
            }
            while hello_done && buf.len() >= 14 {
                let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
                if buf.len() < 14 + len {
                    break;
                }
                let mut j = 14;
                while j < 14 + len {
                    let m = u16::from_be_bytes([buf[j], buf[j + 1]]) as usize;
                    got.push(port_of(&buf[j + 2..j + 2 + m]));
                    j += 2 + m;
                }
                buf.drain(..14 + len);
                let _ = tx.send(got.len());
            }
        }
        got
    });
    let batches = 400;
    let per = 100;
    let mut read = 0;
    for b in 0..batches {
        let batch: Vec<FlowRecord> = (0..per)
            .map(|i| record_with_port((b * per + i) as u16))
            .collect();
        sink.write_batch(&batch).unwrap();
        sink.flush().unwrap();
        // Let the good client catch up, so only the stalled one falls behind.
        while read < (b + 1) * per {
            read = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("reader progresses");
        }
    }
    let stats = sink.stats();
    let counters = sink.counters();
    drop(sink);
    let got = reader.join().unwrap();
    let want: Vec<u16> = (0..batches * per).map(|i| i as u16).collect();
    assert_eq!(got, want, "the reading client got every record, in order");
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.dropped < (batches * per) as u64, "{stats:?}");
    assert_eq!(
        counters.clients, 2,
        "a stalled client is kept, not disconnected"
    );
}

#[test]
fn clients_over_the_limit_are_refused_and_counted() {
    let dir = temp_dir("max");
    let mut sink = TrapSink::new(TrapConfig {
        max_clients: 2,
        ..unix_cfg(&dir, "max")
    })
    .unwrap();
    let a = connect(&sink);
    let _b = connect(&sink);
    let mut c = connect(&sink);
    assert_eq!(sink.accept_clients(), 2);
    let mut buf = [0u8; 16];
    assert_eq!(
        c.read(&mut buf).unwrap(),
        0,
        "refused: closed without a hello"
    );
    assert_eq!(sink.counters().refused, 1);
    assert_eq!(sink.stats().errors, 1);
    // A client that left makes room for a new one.
    drop(a);
    let _d = connect(&sink);
    assert_eq!(sink.accept_clients(), 2);
    let k = sink.counters();
    assert_eq!((k.accepted, k.refused, k.left), (3, 1, 1));
}

#[test]
fn a_client_that_leaves_is_removed_without_error() {
    let dir = temp_dir("leave");
    let mut sink = unix_sink(&dir, "leave");
    let a = connect(&sink);
    assert_eq!(sink.accept_clients(), 1);
    drop(a);
    for i in 0..3 {
        sink.write_batch(&[record_with_port(i)]).unwrap();
        sink.flush().unwrap();
    }
    let k = sink.counters();
    assert_eq!((k.clients, k.left), (0, 1));
    assert_eq!(sink.stats().dropped, 0);
}

fn unix_sink(dir: &Path, name: &str) -> TrapSink {
    TrapSink::new(unix_cfg(dir, name)).unwrap()
}

#[test]
fn without_clients_records_are_counted_unsent_not_dropped() {
    let dir = temp_dir("none");
    let mut sink = unix_sink(&dir, "none");
    sink.write_batch(&[record_with_port(1), record_with_port(2)])
        .unwrap();
    sink.flush().unwrap();
    assert_eq!(sink.counters().unsent, 2);
    assert_eq!(sink.counters().containers, 0);
    assert_eq!(sink.stats(), SinkStats::default());
}

#[test]
fn socket_files_live_stale_and_foreign() {
    let dir = temp_dir("sockfile");
    let sink = unix_sink(&dir, "busy");
    let err = TrapSink::new(unix_cfg(&dir, "busy")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::SinkIo {
                sink: "trap",
                action: "bind",
                ..
            }
        ),
        "{err:?}"
    );
    let stale = sink.socket_path().unwrap().to_path_buf();
    // A stale socket file (left by a crash) is replaced.
    let l = std::os::unix::net::UnixListener::bind(dir.join("trap-stale.sock")).unwrap();
    drop(l);
    let s2 = unix_sink(&dir, "stale");
    assert!(s2.socket_path().unwrap().exists());
    drop(s2);
    drop(sink);
    assert!(!stale.exists());
    std::fs::write(dir.join("trap-file.sock"), b"not a socket").unwrap();
    let err = TrapSink::new(unix_cfg(&dir, "file")).unwrap_err();
    assert!(err.to_string().contains("trap-file.sock"), "{err}");
    assert!(dir.join("trap-file.sock").exists(), "not removed");
}

#[test]
fn tcp_port_zero_reports_the_bound_port() {
    let mut sink = TrapSink::new(TrapConfig {
        linger: Duration::from_millis(200),
        ..TrapConfig::new(TrapTarget::Tcp("127.0.0.1:0".parse().unwrap()))
    })
    .unwrap();
    let addr = sink.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The connection may not be in the accept queue yet.
    for _ in 0..200 {
        if sink.accept_clients() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sink.write_batch(&[record_with_port(9)]).unwrap();
    drop(sink);
    let r = read_stream(c, 14);
    assert_eq!(r.records().len(), 1);
    assert_eq!(port_of(&r.records()[0]), 9);
}

#[test]
fn file_output_and_reopen() {
    let dir = temp_dir("file");
    let path = dir.join("flows.trapcap");
    let mut sink = TrapSink::new(TrapConfig::new(TrapTarget::File(path.clone()))).unwrap();
    sink.write_batch(&[record_with_port(1)]).unwrap();
    sink.flush().unwrap();
    // Rotation: the file is renamed, reopen starts a new one with its own hello.
    let rotated = dir.join("flows.trapcap.1");
    std::fs::rename(&path, &rotated).unwrap();
    sink.write_batch(&[record_with_port(2)]).unwrap();
    sink.reopen().unwrap();
    sink.write_batch(&[record_with_port(3)]).unwrap();
    // Reopen without rotation appends, without a second hello.
    sink.reopen().unwrap();
    sink.write_batch(&[record_with_port(4)]).unwrap();
    sink.flush().unwrap();
    let stats = sink.stats();
    drop(sink);
    let old = std::fs::read(&rotated).unwrap();
    let new = std::fs::read(&path).unwrap();
    assert_eq!(stats.bytes, (old.len() + new.len()) as u64);
    let ports = |b: &[u8]| {
        decode_stream(b, 4)
            .records()
            .iter()
            .map(|m| port_of(m))
            .collect::<Vec<_>>()
    };
    assert_eq!(ports(&old), [1, 2]);
    assert_eq!(ports(&new), [3, 4]);
}

#[test]
fn file_create_failure_names_the_path() {
    let err = TrapSink::new(TrapConfig::new(TrapTarget::File(
        "/nonexistent-dir/x.trapcap".into(),
    )))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "trap output `/nonexistent-dir/x.trapcap`: create failed"
    );
}

#[test]
fn settings_out_of_range_are_refused() {
    let dir = temp_dir("cfg");
    let base = || unix_cfg(&dir, "cfg");
    for (cfg, want) in [
        (
            TrapConfig {
                buffer_size: 100_001,
                ..base()
            },
            "buffer_size 100001",
        ),
        (
            TrapConfig {
                buffer_size: 100,
                ..base()
            },
            "buffer_size 100",
        ),
        (
            TrapConfig {
                max_clients: 0,
                ..base()
            },
            "max_clients",
        ),
        (
            TrapConfig {
                client_buffer: 1000,
                ..base()
            },
            "per-client buffer",
        ),
    ] {
        let err = TrapSink::new(cfg).unwrap_err();
        assert!(
            matches!(&err, Error::SinkSpec { sink: "trap", .. }) && err.to_string().contains(want),
            "{err}"
        );
    }
}

#[test]
fn containers_respect_buffer_size_and_split_between_records() {
    let dir = temp_dir("split");
    let path = dir.join("split.trapcap");
    let mut sink = TrapSink::new(TrapConfig {
        buffer_size: 1024,
        ..TrapConfig::new(TrapTarget::File(path.clone()))
    })
    .unwrap();
    let batch: Vec<FlowRecord> = (0..100).map(record_with_port).collect();
    sink.write_batch(&batch).unwrap();
    sink.flush().unwrap();
    drop(sink);
    let r = decode_stream(&std::fs::read(&path).unwrap(), 4);
    // 147 bytes per message: 6 fit in 1024 - 14.
    assert!(
        r.containers
            .iter()
            .all(|c| c.2.len() == 6 || c.2.len() == 100 % 6)
    );
    let ports: Vec<u16> = r.records().iter().map(|m| port_of(m)).collect();
    assert_eq!(ports, (0..100).collect::<Vec<_>>());
}

#[test]
fn autoflush_sends_an_old_partial_container() {
    let dir = temp_dir("autoflush");
    let mut sink = TrapSink::new(TrapConfig {
        autoflush: Some(Duration::from_millis(1)),
        ..unix_cfg(&dir, "autoflush")
    })
    .unwrap();
    let c = connect(&sink);
    sink.write_batch(&[record_with_port(1)]).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    sink.write_batch(&[]).unwrap();
    assert_eq!(sink.counters().containers, 1);
    drop(sink);
    assert_eq!(read_stream(c, 14).records().len(), 1);
}
