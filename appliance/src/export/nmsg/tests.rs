//! Unit tests of the NMSG sink: bytes by hand from `shared/specs/nmsg.md`, our output read back
//! with `read.rs` (prost), and the UDP behaviours on loopback.

use std::io;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

use super::read::{Reader, check_crcs, read_stream};
use super::*;
use crate::flow::{DirCounters, EndReason, FlowStats, Splt};

/// A writer whose bytes the test can read.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

/// The spec's §7 flow: TCP 192.0.2.1:1234 → 198.51.100.2:80, last seen 1700000000.5 s.
fn spec_record() -> FlowRecord {
    let mut src_ip = [0u8; 16];
    src_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    let mut dst_ip = [0u8; 16];
    dst_ip[..4].copy_from_slice(&[198, 51, 100, 2]);
    let seen = DirCounters {
        first_seen_ms: 1_700_000_000_000,
        last_seen_ms: 1_700_000_000_500,
        packets: 2,
        bytes: 120,
    };
    FlowRecord {
        id: 1,
        end_reason: EndReason::Idle,
        src_ip,
        dst_ip,
        src_mac: [0x02, 0, 0, 0, 0, 1],
        dst_mac: [0x02, 0, 0, 0, 0, 2],
        src_port: 1234,
        dst_port: 80,
        protocol: 6,
        ip_version: 4,
        vlan_id: 0,
        tunnel_id: 0,
        tcp_flags: [0, 0],
        src2dst: seen,
        dst2src: DirCounters::default(),
        stats: None,
        splt: None,
        kind: crate::flow::RecordKind::End,
        dpi: None,
        udps: None,
    }
}

/// `n` distinct records, every tenth with `--stats`, `--splt`, DPI fields and plugin values.
fn records(n: u64) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut r = spec_record();
            r.id = i;
            r.src_port = 10_000 + i as u16;
            r.src2dst.last_seen_ms += i * 7;
            if i % 10 == 3 {
                let mut st = FlowStats::default();
                st.push(1, 100, None, None, 0x02);
                st.push(2, 60 + i, Some(3), None, 0x12);
                r.stats = Some(Box::new(st));
                r.splt = Some(Box::new(Splt {
                    direction: vec![0, 1, -1],
                    ps: vec![100, 60, -1],
                    piat_ms: vec![0, 3, -1],
                }));
                r.dpi = Some(Box::new(crate::dpi::DpiFields {
                    application_name: "HTTP.Example".into(),
                    application_category_name: "Web".into(),
                    application_confidence: crate::dpi::Confidence::Dpi,
                    requested_server_name: format!("host{i}.example"),
                    user_agent: "curl/\"8\"".into(),
                    meta: vec![
                        ("http_method", "GET".into()),
                        ("http_status", 200i64.into()),
                    ],
                    ..Default::default()
                }));
                let mut u = crate::flow::Udps::default();
                u.set("packets_over_1000", i as i64);
                r.udps = Some(Box::new(u));
            }
            r
        })
        .collect()
}

fn file_cfg() -> NmsgConfig {
    NmsgConfig::new(NmsgTarget::File(PathBuf::from("memory")))
}

/// Runs `recs` through a sink writing to memory (one flush at the end).
fn write(cfg: NmsgConfig, recs: &[FlowRecord]) -> (Vec<u8>, SinkStats) {
    let out = Shared::default();
    let mut sink = NmsgSink::to_writer(cfg, Box::new(out.clone())).unwrap();
    sink.write_batch(recs).unwrap();
    sink.flush().unwrap();
    (out.bytes(), sink.stats())
}

/// The containers of a stream, as slices.
fn containers(mut data: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    while !data.is_empty() {
        let len = u32::from_be_bytes(data[6..10].try_into().unwrap()) as usize;
        v.push(&data[..HEADER_LEN + len]);
        data = &data[HEADER_LEN + len..];
    }
    v
}

/// Every payload of a stream, in order.
fn payloads(data: &[u8]) -> Vec<NmsgPayload> {
    read_stream(data)
        .unwrap()
        .into_iter()
        .flat_map(|n| n.payloads)
        .collect()
}

/// Inner `IPConn` of the spec example (19 bytes).
const SPEC_IPCONN: [u8; 19] = [
    0x08, 0x06, // proto = 6
    0x12, 0x04, 0xc0, 0x00, 0x02, 0x01, // srcip = 192.0.2.1
    0x18, 0xd2, 0x09, // srcport = 1234
    0x22, 0x04, 0xc6, 0x33, 0x64, 0x02, // dstip = 198.51.100.2
    0x28, 0x50, // dstport = 80
];

/// The spec's full 54-byte container.
const SPEC_CONTAINER: [u8; 54] = [
    0x4e, 0x4d, 0x53, 0x47, // magic "NMSG"
    0x00, // flags
    0x02, // version
    0x00, 0x00, 0x00, 0x2c, // body length 44
    0x0a, 0x24, // payloads[0], 36 bytes
    0x08, 0x01, // vid = 1
    0x10, 0x05, // msgtype = 5 (ipconn)
    0x18, 0x80, 0xe2, 0xcf, 0xaa, 0x06, // time_sec = 1700000000
    0x25, 0x00, 0x65, 0xcd, 0x1d, // time_nsec = 500000000 (fixed32 LE)
    0x2a, 0x13, // payload, 19 bytes
    0x08, 0x06, 0x12, 0x04, 0xc0, 0x00, 0x02, 0x01, 0x18, 0xd2, 0x09, 0x22, 0x04, 0xc6, 0x33, 0x64,
    0x02, 0x28, 0x50, // IPConn
    0x10, 0xb7, 0xf1, 0xde, 0xae, 0x02, // payload_crcs[0] = 0x25d7b8b7
];

fn ipconn_only(mut cfg: NmsgConfig) -> NmsgConfig {
    cfg.messages = NmsgMessages {
        ipconn: true,
        encode: false,
    };
    cfg
}

#[test]
fn header_bytes() {
    let mut h = [0u8; HEADER_LEN];
    write_header(&mut h, 0, 0x2c);
    assert_eq!(
        h,
        [0x4e, 0x4d, 0x53, 0x47, 0x00, 0x02, 0x00, 0x00, 0x00, 0x2c]
    );
    for flags in [FLAG_ZLIB, FLAG_FRAGMENT, FLAG_ZLIB | FLAG_FRAGMENT] {
        write_header(&mut h, flags, 0x0001_0203);
        assert_eq!(
            h,
            [0x4e, 0x4d, 0x53, 0x47, flags, 0x02, 0x00, 0x01, 0x02, 0x03]
        );
    }
}

#[test]
fn spec_worked_example_byte_for_byte() {
    let (bytes, stats) = write(ipconn_only(file_cfg()), &[spec_record()]);
    assert_eq!(bytes, SPEC_CONTAINER);
    assert_eq!(stats.bytes, 54);
    assert_eq!((stats.dropped, stats.errors), (0, 0));
}

#[test]
fn spec_example_pieces_from_the_prost_messages() {
    let ic = IpConn {
        proto: Some(6),
        srcip: Some(vec![192, 0, 2, 1]),
        srcport: Some(1234),
        dstip: Some(vec![198, 51, 100, 2]),
        dstport: Some(80),
    };
    assert_eq!(ic.encode_to_vec(), SPEC_IPCONN);
    let p = NmsgPayload {
        vid: 1,
        msgtype: 5,
        time_sec: 1_700_000_000,
        time_nsec: 500_000_000,
        payload: Some(SPEC_IPCONN.to_vec()),
        source: None,
        operator: None,
        group: None,
    };
    assert_eq!(p.encode_to_vec(), SPEC_CONTAINER[12..48]);
    // Decoding the spec container gives the same message back.
    let n = Reader::new().container(&SPEC_CONTAINER).unwrap().unwrap();
    assert_eq!(n.payloads, [p]);
    assert_eq!(n.payload_crcs, [0x25d7_b8b7]);
    assert_eq!(check_crcs(&n), [Some(true)]);
}

#[test]
fn spec_example_without_crc() {
    let mut cfg = ipconn_only(file_cfg());
    cfg.crc = false;
    let (bytes, _) = write(cfg, &[spec_record()]);
    let mut want = SPEC_CONTAINER[..48].to_vec();
    want[9] = 0x26; // body 38 bytes: no `10 <crc>`
    assert_eq!(bytes, want);
    assert_eq!(check_crcs(&read_stream(&bytes).unwrap()[0]), [None]);
}

#[test]
fn crc32c_values() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    // Spec §2.1: crc32c 0xb7b8d725, stored byte-swapped.
    assert_eq!(crc32c::crc32c(&SPEC_IPCONN), 0xb7b8_d725);
    assert_eq!(crc32c::crc32c(&SPEC_IPCONN).swap_bytes(), 0x25d7_b8b7);
    assert_eq!(crc_entry_len(Some(0x25d7_b8b7)), 6);
    assert_eq!(crc_entry_len(Some(5)), 2);
    assert_eq!(crc_entry_len(None), 0);
}

#[test]
fn payload_fields_and_time() {
    let mut cfg = file_cfg();
    cfg.source = Some(7);
    cfg.operator = Some(300);
    cfg.group = Some(0);
    let mut r = spec_record();
    r.dst2src = DirCounters {
        first_seen_ms: 1_700_000_000_100,
        last_seen_ms: 1_700_000_001_999,
        packets: 1,
        bytes: 60,
    };
    let (bytes, _) = write(cfg, &[r.clone()]);
    let n = read_stream(&bytes).unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(check_crcs(&n[0]), [Some(true), Some(true)]);
    let [ipc, enc] = n[0].payloads.as_slice() else {
        panic!("two payloads")
    };
    for p in [ipc, enc] {
        // last_seen of both directions.
        assert_eq!((p.time_sec, p.time_nsec), (1_700_000_001, 999_000_000));
        assert_eq!(
            (p.source, p.operator, p.group),
            (Some(7), Some(300), Some(0))
        );
        assert_eq!(p.vid, 1);
    }
    assert_eq!((ipc.msgtype, enc.msgtype), (5, 11));
    assert_eq!(ipc.payload.as_deref(), Some(&SPEC_IPCONN[..]));
    let e = enc.encode_msg().unwrap();
    assert_eq!(e.r#type, EncodeType::Json as i32);
    let mut json = Vec::new();
    crate::export::json::encode(&r, &mut json);
    assert_eq!(json.pop(), Some(b'\n'));
    assert_eq!(e.payload, json);
    // No sequence fields on files.
    assert_eq!((n[0].sequence, n[0].sequence_id), (None, None));
}

#[test]
fn ipv6_addresses_are_16_bytes() {
    let mut r = spec_record();
    r.ip_version = 6;
    r.src_ip = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets();
    r.dst_ip = "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets();
    r.protocol = 17;
    let (bytes, _) = write(ipconn_only(file_cfg()), &[r.clone()]);
    let ic = payloads(&bytes)[0].ipconn().unwrap();
    assert_eq!(ic.proto, Some(17));
    assert_eq!(ic.srcip.as_deref(), Some(&r.src_ip[..]));
    assert_eq!(ic.dstip.as_deref(), Some(&r.dst_ip[..]));
    assert_eq!((ic.srcport, ic.dstport), (Some(1234), Some(80)));
}

#[test]
fn fills_containers_up_to_the_budget() {
    let recs = records(300);
    let mut cfg = file_cfg();
    cfg.container_size = 4096; // larger than any one payload: nothing is fragmented
    let (bytes, stats) = write(cfg, &recs);
    assert_eq!(stats.bytes, bytes.len() as u64);
    let cs = containers(&bytes);
    assert!(cs.len() > 10, "{} containers", cs.len());
    let mut largest_entry = 0;
    for p in payloads(&bytes) {
        largest_entry = largest_entry.max(p.encoded_len() + 3 + 6);
    }
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(c[4], 0, "container {i}: not compressed, not fragmented");
        assert!(c.len() <= 4096, "container {i} is {} bytes", c.len());
        if i + 1 < cs.len() {
            assert!(c.len() + largest_entry > 4096, "container {i} closed early");
        }
    }
    // Every record once, in order: ipconn then encode.
    let ps = payloads(&bytes);
    assert_eq!(ps.len(), 600);
    for (r, pair) in recs.iter().zip(ps.chunks(2)) {
        assert_eq!(
            pair[0].ipconn().unwrap().srcport,
            Some(u32::from(r.src_port))
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&pair[1].encode_msg().unwrap().payload).unwrap();
        assert_eq!(doc["id"], r.id);
    }
}

#[test]
fn fragments_oversized_payloads() {
    let recs = records(40);
    let (whole, _) = write(file_cfg(), &recs);
    let mut cfg = file_cfg();
    cfg.container_size = 128;
    let (bytes, _) = write(cfg, &recs);
    let cs = containers(&bytes);
    assert!(cs.iter().all(|c| c.len() <= 128));
    let frags = cs.iter().filter(|c| c[4] == FLAG_FRAGMENT).count();
    assert!(frags > 40, "{frags} fragments");
    assert!(cs.iter().all(|c| c[4] == 0 || c[4] == FLAG_FRAGMENT));
    assert_eq!(payloads(&bytes), payloads(&whole));
    for n in read_stream(&bytes).unwrap() {
        assert!(check_crcs(&n).iter().all(|c| *c == Some(true)));
    }
}

#[test]
fn fragment_headers_and_last_index() {
    let mut cfg = file_cfg();
    cfg.container_size = 100; // fragment slices of 100 - 38 = 62 bytes
    for (len, count) in [(124usize, 2u32), (125, 3), (62, 1), (63, 2)] {
        let mut p = Packer::new(&cfg, None, SplitMix(1));
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        p.body.extend_from_slice(&data);
        let mut out: Vec<Vec<u8>> = Vec::new();
        if len + HEADER_LEN <= 100 {
            continue; // fits: no fragments
        }
        p.emit_body(&mut |c: &[u8]| {
            out.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len() as u32, count, "{len} bytes");
        let mut joined = Vec::new();
        let mut id = None;
        for (i, c) in out.iter().enumerate() {
            assert!(c.len() <= 100);
            assert_eq!(&c[..6], &[0x4e, 0x4d, 0x53, 0x47, FLAG_FRAGMENT, 0x02]);
            let f = NmsgFragment::decode(&c[HEADER_LEN..]).unwrap();
            assert_eq!((f.current, f.last), (i as u32, count - 1));
            assert_eq!(f.crc, Some(crc32c::crc32c(&data).swap_bytes()));
            assert_eq!(*id.get_or_insert(f.id), f.id);
            joined.extend_from_slice(&f.fragment);
        }
        assert_eq!(joined, data);
    }
}

#[test]
fn zlib_round_trip() {
    let recs = records(100);
    let (plain, _) = write(file_cfg(), &recs);
    let mut cfg = file_cfg();
    cfg.zlib = true;
    let (bytes, stats) = write(cfg, &recs);
    assert!(
        bytes.len() * 3 < plain.len(),
        "{} vs {}",
        bytes.len(),
        plain.len()
    );
    assert_eq!(stats.bytes, bytes.len() as u64);
    let plain_cs = containers(&plain);
    let cs = containers(&bytes);
    assert_eq!(cs.len(), plain_cs.len(), "same fill, by uncompressed size");
    for (c, p) in cs.iter().zip(&plain_cs) {
        assert_eq!(c[4], FLAG_ZLIB);
        let raw_len = u32::from_be_bytes(c[10..14].try_into().unwrap()) as usize;
        assert_eq!(raw_len, p.len() - HEADER_LEN);
        assert_eq!(c[14], 0x78, "zlib header");
        let mut raw = Vec::new();
        io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&c[14..]), &mut raw).unwrap();
        assert_eq!(raw, p[HEADER_LEN..]);
    }
    assert_eq!(payloads(&bytes), payloads(&plain));
}

#[test]
fn zlib_and_fragments() {
    let recs = records(30);
    let (plain, _) = write(file_cfg(), &recs);
    let mut cfg = file_cfg();
    cfg.zlib = true;
    cfg.container_size = 96;
    let (bytes, _) = write(cfg, &recs);
    let cs = containers(&bytes);
    assert!(cs.iter().all(|c| c.len() <= 96));
    assert!(cs.iter().any(|c| c[4] == FLAG_ZLIB | FLAG_FRAGMENT));
    assert_eq!(payloads(&bytes), payloads(&plain));
}

#[test]
fn msgpack_mirrors_the_json_document() {
    let recs = records(20);
    let mut cfg = file_cfg();
    cfg.encoding = NmsgEncoding::Msgpack;
    let (bytes, _) = write(cfg, &recs);
    let ps = payloads(&bytes);
    let mut with_stats = 0;
    for (r, pair) in recs.iter().zip(ps.chunks(2)) {
        let e = pair[1].encode_msg().unwrap();
        assert_eq!(e.r#type, EncodeType::Msgpack as i32);
        let got: serde_json::Value = rmp_serde::from_slice(&e.payload).unwrap();
        let mut json = Vec::new();
        crate::export::json::encode(r, &mut json);
        let want: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(got, want, "record {}", r.id);
        // Same key order too.
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&got).len(), keys(&want).len());
        with_stats += usize::from(r.stats.is_some());
    }
    assert!(with_stats > 0);
}

#[test]
fn msgpack_key_order_and_non_finite() {
    let mut r = records(4).remove(3);
    // Top-level keys only below: the nested `udps` map would add keys to the text count.
    r.udps = None;
    let mut buf = Vec::new();
    msgpack::encode(&r, &mut buf, &mut Vec::new());
    // Walk the map keys with rmp's reader and compare to the JSON text order.
    let mut rd = &buf[..];
    let n = rmp::decode::read_map_len(&mut rd).unwrap();
    let mut keys = Vec::new();
    let mut scratch = vec![0u8; 256];
    for _ in 0..n {
        let k = rmp::decode::read_str(&mut rd, &mut scratch)
            .unwrap()
            .to_string();
        keys.push(k);
        // Skip the value.
        let _: serde_json::Value = rmp_serde::from_read(&mut rd).unwrap();
    }
    let mut json = Vec::new();
    crate::export::json::encode(&r, &mut json);
    let text = String::from_utf8(json).unwrap();
    let mut at = 0;
    for k in &keys {
        let found = text[at..].find(&format!("\"{k}\":")).unwrap();
        at += found;
    }
    assert_eq!(keys.len(), text.matches("\":").count());
    // Non-finite floats are nil, as JSON's null.
    r.stats = None;
    r.splt = None;
    r.dpi = None;
    let mut buf2 = Vec::new();
    msgpack::encode(&r, &mut buf2, &mut Vec::new());
    let v: serde_json::Value = rmp_serde::from_slice(&buf2).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 28);
}

#[test]
fn udp_containers_carry_sequence() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cfg = ipconn_only(NmsgConfig::new(NmsgTarget::Udp(rx.local_addr().unwrap())));
    let mut sink = NmsgSink::new(cfg).unwrap();
    for _ in 0..3 {
        sink.write_batch(&[spec_record()]).unwrap();
        sink.flush().unwrap();
    }
    let mut buf = [0u8; 2048];
    let mut ids = Vec::new();
    for seq in 0..3u32 {
        let n = rx.recv(&mut buf).unwrap();
        let d = &buf[..n];
        // The spec container, then `18 <sequence>` and `20 <sequence_id>`.
        assert_eq!(d[..6], SPEC_CONTAINER[..6]);
        assert_eq!(d[10..54], SPEC_CONTAINER[10..54]);
        assert_eq!(d[54..56], [0x18, seq as u8]);
        assert_eq!(d[56], 0x20);
        assert_eq!(
            u32::from_be_bytes(d[6..10].try_into().unwrap()) as usize,
            n - 10
        );
        let body = Reader::new().container(d).unwrap().unwrap();
        assert_eq!(body.sequence, Some(seq));
        ids.push(body.sequence_id.unwrap());
    }
    assert!(ids.iter().all(|&i| i == ids[0]));
    let st = sink.stats();
    assert_eq!((st.dropped, st.errors), (0, 0));
}

#[test]
fn udp_datagrams_fit_the_container_size() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut cfg = NmsgConfig::new(NmsgTarget::Udp(rx.local_addr().unwrap()));
    cfg.container_size = 512;
    let mut sink = NmsgSink::new(cfg).unwrap();
    let recs = records(12);
    sink.write_batch(&recs).unwrap();
    sink.flush().unwrap();
    let mut reader = Reader::new();
    let mut got = Vec::new();
    let mut seqs = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < 24 {
        let n = rx.recv(&mut buf).unwrap();
        assert!(n <= 512, "{n}-byte datagram");
        if let Some(body) = reader.container(&buf[..n]).unwrap() {
            seqs.push(body.sequence.unwrap());
            got.extend(body.payloads);
        }
    }
    assert!(reader.fragments > 0);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let (want, _) = write(file_cfg(), &recs);
    assert_eq!(got, payloads(&want));
}

#[test]
fn collector_down_is_counted_not_fatal() {
    // A port nobody listens on (bound, then released).
    let addr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = ipconn_only(NmsgConfig::new(NmsgTarget::Udp(addr)));
    let mut sink = NmsgSink::new(cfg).unwrap();
    for r in records(20) {
        sink.write_batch(&[r]).unwrap();
        sink.flush().unwrap();
    }
    // Each refusal is reported once; the last one may still be on its way.
    let st = sink.stats();
    assert!(st.errors >= 19 && st.dropped >= 19, "{st:?}");
    assert!(st.dropped <= 20, "{st:?}");
    // The collector comes up: the next containers arrive, no back-off for refusals.
    let rx = UdpSocket::bind(addr).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for r in records(5) {
        sink.write_batch(&[r]).unwrap();
        sink.flush().unwrap();
    }
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(
            Reader::new()
                .container(&buf[..n])
                .unwrap()
                .unwrap()
                .payloads
                .len(),
            1
        );
    }
    let end = sink.stats();
    assert_eq!(
        end.dropped, 20,
        "every record of the outage counted, none after: {end:?}"
    );
}

#[test]
fn hard_send_errors_back_off_and_reconnect() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cfg = ipconn_only(NmsgConfig::new(NmsgTarget::Udp(rx.local_addr().unwrap())));
    let mut sink = NmsgSink::new(cfg).unwrap();
    // A hard error (as `send` returns it without a route) on some container of 3 records.
    let Output::Udp(u) = &mut sink.out else {
        panic!("udp")
    };
    let unreachable = io::Error::from(io::ErrorKind::NetworkUnreachable);
    u.send_failed(Instant::now(), 3, &unreachable, &mut sink.stats);
    assert!(u.retry_at.is_some() && !u.connected && u.failures == 1);
    // During the back-off containers are dropped and counted, not tried.
    for r in records(4) {
        sink.write_batch(&[r]).unwrap();
        sink.flush().unwrap();
    }
    let st = sink.stats();
    assert_eq!((st.dropped, st.errors, st.bytes), (3 + 4, 1, 0), "{st:?}");
    // After it, the socket reconnects and sends again.
    std::thread::sleep(BACKOFF_MIN * 2);
    sink.write_batch(&records(1)).unwrap();
    sink.flush().unwrap();
    let mut buf = [0u8; 2048];
    let n = rx.recv(&mut buf).unwrap();
    let body = Reader::new().container(&buf[..n]).unwrap().unwrap();
    // Sequence numbers of the dropped containers were used: the receiver sees the gap.
    assert_eq!(body.sequence, Some(4));
    let Output::Udp(u) = &sink.out else {
        panic!("udp")
    };
    assert!(u.retry_at.is_none() && u.connected && u.failures == 0);
    // A second hard error in a row doubles the back-off.
    let Output::Udp(u) = &mut sink.out else {
        panic!("udp")
    };
    let t0 = Instant::now();
    u.send_failed(t0, 0, &unreachable, &mut sink.stats);
    u.send_failed(t0, 0, &unreachable, &mut sink.stats);
    assert_eq!(u.retry_at, Some(t0 + BACKOFF_MIN * 2));
    for _ in 0..10 {
        u.send_failed(t0, 0, &unreachable, &mut sink.stats);
    }
    assert_eq!(u.retry_at, Some(t0 + BACKOFF_MAX));
}

#[test]
fn reopen_appends_to_the_path() {
    let dir = std::env::temp_dir().join(format!("xdpflow-nmsg-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.nmsg");
    let cfg = ipconn_only(NmsgConfig::new(NmsgTarget::File(path.clone())));
    let mut sink = NmsgSink::new(cfg).unwrap();
    sink.write_batch(&[spec_record()]).unwrap();
    sink.flush().unwrap();
    std::fs::rename(&path, dir.join("old.nmsg")).unwrap();
    sink.reopen().unwrap();
    sink.write_batch(&[spec_record(), spec_record()]).unwrap();
    sink.flush().unwrap();
    sink.reopen().unwrap(); // not rotated: keeps appending
    sink.write_batch(&[spec_record()]).unwrap();
    sink.flush().unwrap();
    assert_eq!(std::fs::read(dir.join("old.nmsg")).unwrap(), SPEC_CONTAINER);
    let new = std::fs::read(&path).unwrap();
    assert_eq!(payloads(&new).len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn create_failure_names_the_file() {
    let cfg = NmsgConfig::new(NmsgTarget::File(PathBuf::from("/nonexistent-dir/x.nmsg")));
    let e = NmsgSink::new(cfg).unwrap_err();
    assert!(
        matches!(
            e,
            Error::SinkIo {
                action: "create",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "nmsg output `file:/nonexistent-dir/x.nmsg`: create failed"
    );
}

#[test]
fn rejects_bad_config() {
    let mut cfg = file_cfg();
    cfg.container_size = MIN_CONTAINER_SIZE - 1;
    let e = NmsgSink::to_writer(cfg, Box::new(io::sink())).unwrap_err();
    assert!(e.to_string().contains("outside 64..=1048576"), "{e}");
    let mut cfg = NmsgConfig::new(NmsgTarget::parse("udp:127.0.0.1:9").unwrap());
    cfg.container_size = 65_508;
    let e = NmsgSink::new(cfg).unwrap_err();
    assert!(e.to_string().contains("outside 64..=65507"), "{e}");
    let mut cfg = file_cfg();
    cfg.messages = NmsgMessages {
        ipconn: false,
        encode: false,
    };
    assert!(matches!(
        NmsgSink::to_writer(cfg, Box::new(io::sink())),
        Err(Error::InvalidOption { .. })
    ));
}

#[test]
fn parses_good_specs() {
    let udp = |s: &str| match NmsgTarget::parse(s).unwrap() {
        NmsgTarget::Udp(a) => a,
        t => panic!("{t:?}"),
    };
    assert_eq!(udp("udp:127.0.0.1:8430"), "127.0.0.1:8430".parse().unwrap());
    assert_eq!(udp("udp:[::1]:8430"), "[::1]:8430".parse().unwrap());
    assert_eq!(
        udp("udp:[2001:db8::1]:1"),
        "[2001:db8::1]:1".parse().unwrap()
    );
    assert!(udp("udp:localhost:8430").ip().is_loopback());
    assert_eq!(
        NmsgTarget::parse("file:/tmp/a:b.nmsg").unwrap(),
        NmsgTarget::File(PathBuf::from("/tmp/a:b.nmsg"))
    );
    assert_eq!(
        NmsgTarget::parse("file:-").unwrap(),
        NmsgTarget::File(PathBuf::from("-"))
    );
    assert_eq!(
        NmsgTarget::parse("udp:[::1]:8430").unwrap().to_string(),
        "udp:[::1]:8430"
    );
}

#[test]
fn rejects_bad_specs() {
    for (spec, why) in [
        ("", "expected `udp:HOST:PORT`"),
        ("tcp:127.0.0.1:8430", "expected `udp:HOST:PORT`"),
        ("127.0.0.1:8430", "expected `udp:HOST:PORT`"),
        ("udp:127.0.0.1", "the port is missing"),
        ("udp:127.0.0.1:", "`` is not a port"),
        ("udp:127.0.0.1:0", "`0` is not a port"),
        ("udp:127.0.0.1:65536", "`65536` is not a port"),
        ("udp::8430", "the host is empty"),
        ("udp:::1:8430", "needs brackets"),
        ("udp:[::1:8430", "needs brackets"),
        ("udp:[zz]:8430", "`zz` is not an IPv6 address"),
        (
            "udp:no-such-host.invalid:8430",
            "cannot resolve `no-such-host.invalid`",
        ),
        ("file:", "the path is empty"),
    ] {
        let e = NmsgTarget::parse(spec).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::SinkSpec { sink: "nmsg", .. }));
        assert!(
            msg.starts_with(&format!("invalid nmsg destination `{spec}`: ")),
            "{msg}"
        );
        assert!(msg.contains(why), "{spec}: {msg}");
        if !why.starts_with("cannot resolve") {
            assert!(
                msg.contains("`udp:HOST:PORT`") && msg.contains("`file:PATH`"),
                "{msg}"
            );
        }
    }
}

#[test]
fn reader_rejects_malformed_containers() {
    let mut r = Reader::new();
    let mut bad = SPEC_CONTAINER;
    bad[0] = b'X';
    assert!(r.container(&bad).unwrap_err().what.contains("magic"));
    let mut bad = SPEC_CONTAINER;
    bad[5] = 1;
    assert!(r.container(&bad).unwrap_err().what.contains("version 1"));
    assert!(
        r.container(&SPEC_CONTAINER[..53])
            .unwrap_err()
            .what
            .contains("44 body bytes")
    );
    assert!(
        r.container(&SPEC_CONTAINER[..9])
            .unwrap_err()
            .what
            .contains("shorter")
    );
    let e = read_stream(&SPEC_CONTAINER[..30]).unwrap_err();
    assert!(e.what.contains("input ends"), "{e}");
    let mut two = SPEC_CONTAINER.to_vec();
    two.extend_from_slice(&SPEC_CONTAINER);
    two[54 + 4] = FLAG_ZLIB;
    assert_eq!(read_stream(&two).unwrap_err().offset, 54);
}

#[test]
fn steady_state_reuses_buffers() {
    // Capacity stays put once grown: no per-record growth of the reused buffers.
    let recs = records(200);
    let mut sink = NmsgSink::to_writer(file_cfg(), Box::new(io::sink())).unwrap();
    sink.write_batch(&recs).unwrap();
    sink.flush().unwrap();
    let caps = (
        sink.packer.body.capacity(),
        sink.encode.payload.capacity(),
        sink.packer.one.payloads[0]
            .payload
            .as_ref()
            .unwrap()
            .capacity(),
    );
    sink.write_batch(&recs).unwrap();
    sink.flush().unwrap();
    let after = (
        sink.packer.body.capacity(),
        sink.encode.payload.capacity(),
        sink.packer.one.payloads[0]
            .payload
            .as_ref()
            .unwrap()
            .capacity(),
    );
    assert_eq!(caps, after);
}

/// Records/s of encoding and writing to a file, one thread. Run with
/// `cargo test --release -p appliance --lib nmsg::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, run by hand in release mode"]
fn throughput() {
    let recs: Vec<FlowRecord> = (0..200_000u64)
        .map(|i| {
            let mut r = spec_record();
            r.id = i;
            r.src_ip[..4].copy_from_slice(&(0xc000_0000u32 + i as u32).to_be_bytes());
            r.src_port = i as u16;
            r.src2dst.last_seen_ms += i;
            r
        })
        .collect();
    let path = std::env::temp_dir().join(format!("xdpflow-nmsg-bench-{}", std::process::id()));
    let both = NmsgMessages::default();
    let only = NmsgMessages {
        ipconn: true,
        encode: false,
    };
    for (name, messages, encoding, zlib) in [
        ("ipconn", only, NmsgEncoding::Json, false),
        ("ipconn+encode(json)", both, NmsgEncoding::Json, false),
        ("ipconn+encode(msgpack)", both, NmsgEncoding::Msgpack, false),
        ("ipconn, zlib", only, NmsgEncoding::Json, true),
        ("ipconn+encode(json), zlib", both, NmsgEncoding::Json, true),
    ] {
        let mut cfg = NmsgConfig::new(NmsgTarget::File(path.clone()));
        cfg.messages = messages;
        cfg.encoding = encoding;
        cfg.zlib = zlib;
        let mut sink = NmsgSink::new(cfg).unwrap();
        let rounds = 10;
        let t = Instant::now();
        for _ in 0..rounds {
            for batch in recs.chunks(512) {
                sink.write_batch(batch).unwrap();
            }
        }
        sink.flush().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let n = (recs.len() * rounds) as f64;
        let bytes = sink.stats().bytes as f64;
        println!(
            "{name:28} {:6.2} M records/s  {:6.1} MB/s  {:5.1} B/record",
            n / secs / 1e6,
            bytes / secs / 1e6,
            bytes / n
        );
    }
    std::fs::remove_file(&path).unwrap();
}
