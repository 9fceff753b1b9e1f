//! Test support shared by the `dns`, `http` and `ssh` tests and the dissector tests: walks a
//! public capture with the appliance's own reader and decoder, and reads nfstream's reference
//! CSV.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::capture::PacketSource;
use crate::capture::pcap::PcapSource;
use crate::packet::{Decoder, DecoderConfig, Tuple};

/// `shared/pcaps/public`, beside the repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public")
}

/// The printable address of `ip` (IPv4 in the first 4 bytes).
pub fn ip(t: &Tuple, src: bool) -> String {
    let b = if src { t.src_ip } else { t.dst_ip };
    if t.ip_version == 4 {
        Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
    } else {
        Ipv6Addr::from(b).to_string()
    }
}

/// A flow key in CSV form, the same for both directions.
pub type Key = (String, u16, String, u16, u8);

/// The direction-independent key of a packet.
pub fn key(t: &Tuple) -> Key {
    let a = (ip(t, true), t.src_port);
    let b = (ip(t, false), t.dst_port);
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    (a.0, a.1, b.0, b.1, t.protocol)
}

/// Calls `f(tuple, tcp_flags, payload)` for every decoded frame of `file`; `false` (after
/// printing "skipped: ...") when the capture is missing.
pub fn for_each_payload(file: &str, mut f: impl FnMut(&Tuple, u8, &[u8])) -> bool {
    let path = dir().join(file);
    if !path.exists() {
        println!("skipped: {} missing", path.display());
        return false;
    }
    let mut src = PcapSource::open(&[path]).expect("open capture");
    let mut dec = Decoder::new(DecoderConfig::default());
    while src
        .next_batch(256, &mut |fr| {
            if let Ok(d) = dec.decode(fr.link, fr.data, fr.ts_ns) {
                let start = d.payload_offset as usize;
                let end = start + d.payload_len as usize;
                if let Some(p) = fr.data.get(start..end) {
                    f(&d.tuple, d.tcp_flags, p);
                }
            }
        })
        .expect("read capture")
        > 0
    {}
    true
}

/// The columns of an nfstream CSV that make a flow's key.
pub struct KeyColumns {
    src_ip: usize,
    src_port: usize,
    dst_ip: usize,
    dst_port: usize,
    protocol: usize,
}

impl KeyColumns {
    /// The columns in the CSV header `head`.
    ///
    /// # Panics
    ///
    /// When `head` misses one of them.
    pub fn new(head: &[&str]) -> Self {
        let col = |n: &str| head.iter().position(|h| *h == n).expect("column");
        KeyColumns {
            src_ip: col("src_ip"),
            src_port: col("src_port"),
            dst_ip: col("dst_ip"),
            dst_port: col("dst_port"),
            protocol: col("protocol"),
        }
    }

    /// The key of the row `c` (its fields).
    pub fn key(&self, c: &[&str]) -> Key {
        let t = Tuple {
            src_ip: parse_ip(c[self.src_ip]),
            dst_ip: parse_ip(c[self.dst_ip]),
            src_port: c[self.src_port].parse().unwrap_or(0),
            dst_port: c[self.dst_port].parse().unwrap_or(0),
            protocol: c[self.protocol].parse().unwrap_or(0),
            ip_version: if c[self.src_ip].contains(':') { 6 } else { 4 },
            ..Tuple::default()
        };
        key(&t)
    }
}

/// nfstream's rows for `file`: key to (`application_name`, `requested_server_name`)
/// (several rows may share a key; all are collected).
pub fn nfstream_names(file: &str) -> HashMap<Key, Vec<(String, String)>> {
    let path = dir().join("nfstream").join(format!("{file}.csv"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect("column");
    let (app, name) = (col("application_name"), col("requested_server_name"));
    let columns = KeyColumns::new(&head);
    let mut out: HashMap<Key, Vec<(String, String)>> = HashMap::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        out.entry(columns.key(&c))
            .or_default()
            .push((c[app].to_string(), c[name].to_string()));
    }
    out
}

fn parse_ip(s: &str) -> [u8; 16] {
    let mut b = [0; 16];
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        b[..4].copy_from_slice(&v4.octets());
    } else if let Ok(v6) = s.parse::<Ipv6Addr>() {
        b = v6.octets();
    }
    b
}

/// The `[Tag: value]` fields of ndpiReader's per-flow lines for `file`, keyed by flow.
pub fn ndpi_fields(file: &str, tag: &str) -> HashMap<Key, String> {
    let path = dir().join("ndpireader").join(format!("{file}.txt"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = HashMap::new();
    let open = format!("[{tag}: ");
    for l in text.lines() {
        let mut w = l.split_whitespace();
        let (Some(_), Some(proto), Some(a), Some(_), Some(b)) =
            (w.next(), w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        let proto = match proto {
            "TCP" => 6,
            "UDP" => 17,
            _ => continue,
        };
        let (Some(a), Some(b)) = (endpoint(a), endpoint(b)) else {
            continue;
        };
        let Some(i) = l.find(&open) else { continue };
        let rest = &l[i + open.len()..];
        let Some(j) = rest.find(']') else { continue };
        let t = Tuple {
            src_ip: parse_ip(&a.0),
            dst_ip: parse_ip(&b.0),
            src_port: a.1,
            dst_port: b.1,
            protocol: proto,
            ip_version: if a.0.contains(':') { 6 } else { 4 },
            ..Tuple::default()
        };
        out.insert(key(&t), rest[..j].to_string());
    }
    out
}

/// `1.2.3.4:80` or `[::1]:80`.
fn endpoint(s: &str) -> Option<(String, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    Some((
        ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        port.parse().ok()?,
    ))
}

/// One row of nfstream's CSV for a capture.
#[derive(Clone, Debug)]
pub struct Row {
    /// The flow.
    pub key: Key,
    /// `application_name` (`Master.App`).
    pub app: String,
    /// `requested_server_name`.
    pub name: String,
    /// `application_is_guessed` from nfstream's own test results (`expected/`), when its row
    /// of the same index has the same packet and byte counts.
    pub guessed: Option<bool>,
}

impl Row {
    /// The master part of `app`.
    pub fn master(&self) -> &str {
        self.app.split('.').next().unwrap_or("")
    }
}

/// nfstream's rows for `file`, in file order.
pub fn nfstream_rows(file: &str) -> Vec<Row> {
    let read = |sub: &str| {
        std::fs::read_to_string(dir().join(sub).join(format!("{file}.csv"))).unwrap_or_default()
    };
    let text = read("nfstream");
    let expected = read("expected");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect("column");
    let columns = KeyColumns::new(&head);
    let (app, name, pk, by) = (
        col("application_name"),
        col("requested_server_name"),
        col("bidirectional_packets"),
        col("bidirectional_bytes"),
    );
    // expected: id,bidirectional_packets,bidirectional_bytes,application_name,
    // application_category_name,application_is_guessed,application_confidence
    let exp: Vec<Vec<&str>> = expected
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    lines
        .enumerate()
        .map(|(i, l)| {
            let c: Vec<&str> = l.split(',').collect();
            let guessed = exp
                .get(i)
                .filter(|e| e.len() >= 7 && e[1] == c[pk] && e[2] == c[by])
                .map(|e| e[5] == "1");
            Row {
                key: columns.key(&c),
                app: c[app].to_string(),
                // A name with commas spans the trailing columns.
                name: c[name..].join(","),
                guessed,
            }
        })
        .collect()
}

/// The public captures that have an nfstream CSV.
pub fn all_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir().join("nfstream"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let pcap = n.strip_suffix(".csv")?.to_string();
                    dir().join(&pcap).is_file().then_some(pcap)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// How our masters compare with nfstream's for one master name, over flows nfstream labels
/// with it (`total`) and flows we label with it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MasterStats {
    /// Rows nfstream labels with this master.
    pub total: usize,
    /// Of those, flows we label the same.
    pub equal: usize,
    /// Of those, flows that carried no payload in their first packets (nothing to dissect;
    /// nfstream's label is a port guess).
    pub no_payload: usize,
    /// Of those, other flows nfstream's own results mark as guessed.
    pub guessed: usize,
    /// Rows where we say this master and nfstream says another (or `Unknown`).
    pub extra: usize,
    /// Rows with this master where nfstream has a server name.
    pub names: usize,
    /// Of those, rows where ours is the same (after nfstream's 79-character cut).
    pub names_equal: usize,
}

impl MasterStats {
    /// Flows nfstream labels with a master and that had payload, not counting its guesses.
    pub fn dissectable(&self) -> usize {
        self.total - self.no_payload - self.guessed
    }

    fn add(&mut self, o: &MasterStats) {
        self.total += o.total;
        self.equal += o.equal;
        self.no_payload += o.no_payload;
        self.guessed += o.guessed;
        self.extra += o.extra;
        self.names += o.names;
        self.names_equal += o.names_equal;
    }
}

/// What [`agreement`] found: per master, and per ndpiReader field.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per nfstream master.
    pub masters: std::collections::BTreeMap<String, MasterStats>,
    /// Per ndpiReader field (`JA3C`, `User-Agent`, ...): (flows where ndpiReader has it and
    /// we identified one of the masters, of those with the same value).
    pub fields: std::collections::BTreeMap<&'static str, (usize, usize)>,
}

impl Report {
    /// All masters added up.
    pub fn total(&self) -> MasterStats {
        let mut sum = MasterStats::default();
        for s in self.masters.values() {
            sum.add(s);
        }
        sum
    }

    /// Prints one line per master and per field.
    pub fn print(&self, title: &str) {
        println!("{title}: master: equal/total (no payload, guessed, other) extra | names");
        for (m, s) in &self.masters {
            println!(
                "  {m}: {}/{} ({}, {}, {}) {} | {}/{}",
                s.equal,
                s.total,
                s.no_payload,
                s.guessed,
                s.dissectable() - s.equal,
                s.extra,
                s.names_equal,
                s.names
            );
        }
        let t = self.total();
        println!(
            "  all: {}/{} ({} without payload, {} guessed by nfstream; {}/{} of the rest), \
             {} extra | names {}/{}",
            t.equal,
            t.total,
            t.no_payload,
            t.guessed,
            t.equal,
            t.dissectable(),
            t.extra,
            t.names_equal,
            t.names
        );
        for (f, (n, eq)) in &self.fields {
            println!("  ndpiReader {f}: {eq}/{n}");
        }
    }
}

/// nfstream keeps the last 79 bytes of a longer name (nDPI's host name buffer).
pub fn nfstream_cut(name: &str) -> &str {
    let mut at = name.len().saturating_sub(79);
    while !name.is_char_boundary(at) {
        at += 1;
    }
    &name[at..]
}

/// The `CN=` value of an ndpiReader `Subject` / `Issuer` (`C=US, O=..., CN=*.google.com`).
fn cn(dn: &str) -> String {
    dn.rsplit_once("CN=")
        .map(|(_, v)| v.split(", ").next().unwrap_or(v).to_string())
        .unwrap_or_default()
}

/// The hash of an ndpiReader `JA3C` / `JA3S` value, without a ` (WEAK)` remark.
fn hash_only(v: &str) -> String {
    v.split(' ').next().unwrap_or(v).to_string()
}

/// An ndpiReader field compared with ours: (tag, ours, theirs normalised).
type FieldCheck = (
    &'static str,
    fn(&super::super::DpiResult) -> String,
    fn(&str) -> String,
);

fn meta_str(r: &super::super::DpiResult, name: &str) -> String {
    match r.meta(name) {
        Some(super::super::Value::Str(s)) => s.clone(),
        Some(super::super::Value::Int(i)) => i.to_string(),
        None => String::new(),
    }
}

const FIELDS: [FieldCheck; 10] = [
    // ndpiReader appends its own verdict on the cipher: `... (WEAK)`.
    ("JA3C", |r| meta_str(r, "tls_ja3"), |t| hash_only(t)),
    ("JA3S", |r| meta_str(r, "tls_ja3s"), |t| hash_only(t)),
    (
        "ALPN",
        |r| meta_str(r, "tls_alpn") + &meta_str(r, "quic_alpn"),
        |t| t.replace(';', ","),
    ),
    ("Subject", |r| meta_str(r, "tls_server_cn"), cn),
    ("Issuer", |r| meta_str(r, "tls_issuer_cn"), cn),
    ("User-Agent", |r| r.user_agent.clone(), |t| t.to_string()),
    (
        "Content-Type",
        |r| r.content_type.clone(),
        |t| t.to_string(),
    ),
    (
        "StatusCode",
        |r| meta_str(r, "http_status"),
        |t| t.to_string(),
    ),
    (
        "HASSH-C",
        |r| r.client_fingerprint.clone(),
        |t| t.to_string(),
    ),
    (
        "HASSH-S",
        |r| r.server_fingerprint.clone(),
        |t| t.to_string(),
    ),
];

/// Runs every public capture through the built-in dissectors named `dissectors` (all of
/// them when empty) and compares the masters in `masters` with nfstream's, and our fields
/// with ndpiReader's, printing each disagreement.
pub fn agreement(masters: &[&str], dissectors: &[&str]) -> Report {
    use super::super::registry;
    use super::super::testing::run_capture;
    let mut report = Report {
        masters: masters
            .iter()
            .map(|m| (m.to_string(), MasterStats::default()))
            .collect(),
        fields: FIELDS.iter().map(|f| (f.0, (0, 0))).collect(),
    };
    for file in all_files() {
        let set: Vec<_> = registry::builtin()
            .into_iter()
            .filter(|d| dissectors.is_empty() || dissectors.contains(&d.name()))
            .collect();
        let Some((_, flows)) = run_capture(&file, Some(set)) else {
            continue;
        };
        let stats = &mut report.masters;
        for row in nfstream_rows(&file) {
            let flow = flows.get(&row.key);
            let dpi = flow.and_then(|f| f.dpi.as_ref());
            let ours = dpi.and_then(|d| d.result.master);
            let theirs = row.master();
            if let Some(s) = stats.get_mut(theirs) {
                s.total += 1;
                if ours == Some(theirs) {
                    s.equal += 1;
                } else if dpi.is_none() {
                    s.no_payload += 1;
                } else if row.guessed == Some(true) {
                    s.guessed += 1;
                    println!(
                        "{file}: {:?}: nfstream {} (guessed), ours {ours:?}",
                        row.key, row.app
                    );
                } else {
                    println!("{file}: {:?}: nfstream {}, ours {ours:?}", row.key, row.app);
                }
                let got = dpi.map_or("", |d| d.result.requested_server_name.as_str());
                if row.name.is_empty() && !got.is_empty() {
                    println!("{file}: {:?}: name: nfstream none, ours {got:?}", row.key);
                }
                if !row.name.is_empty() {
                    s.names += 1;
                    let got = dpi.map_or("", |d| d.result.requested_server_name.as_str());
                    if nfstream_cut(got) == row.name {
                        s.names_equal += 1;
                    } else {
                        println!(
                            "{file}: {:?}: name: nfstream {:?}, ours {got:?}",
                            row.key, row.name
                        );
                    }
                }
            }
            if let Some(o) = ours
                && o != theirs
                && let Some(s) = stats.get_mut(o)
            {
                s.extra += 1;
                println!("{file}: {:?}: ours {o}, nfstream {}", row.key, row.app);
            }
        }
        for (tag, ours, theirs) in FIELDS {
            for (key, value) in ndpi_fields(&file, tag) {
                let Some(d) = flows.get(&key).and_then(|f| f.dpi.as_ref()) else {
                    continue;
                };
                if !d.result.master.is_some_and(|m| masters.contains(&m)) {
                    continue;
                }
                let (got, want) = (ours(&d.result), theirs(&value));
                let slot = report.fields.entry(tag).or_default();
                slot.0 += 1;
                if got == want {
                    slot.1 += 1;
                } else {
                    println!("{file}: {key:?}: {tag}: ndpiReader {want:?}, ours {got:?}");
                }
            }
        }
    }
    report
}

/// The masters of `registry::main_protocols` and the dissectors that give them.
pub const MAIN_MASTERS: [&str; 15] = [
    "TLS",
    "IMAPS",
    "POPS",
    "SMTPS",
    "DTLS",
    "QUIC",
    "HTTP",
    "HTTP_Proxy",
    "HTTP_Connect",
    "WebSocket",
    "SSDP",
    "DNS",
    "MDNS",
    "LLMNR",
    "SSH",
];
/// The names of the dissectors of `registry::main_protocols`.
pub const MAIN_DISSECTORS: [&str; 8] = [
    "tls",
    "dtls",
    "quic",
    "http",
    "websocket",
    "ssdp",
    "dns",
    "ssh",
];

/// The masters of `registry::main_protocols`, on every public capture: with those
/// dissectors alone (asserted), then with every built-in one, as shipped (printed: other
/// dissectors name some flows first, e.g. STUN's DTLS, SMTP's STARTTLS).
#[test]
fn main_protocols_agree_with_nfstream() {
    if !dir().is_dir() {
        println!("skipped: {} missing", dir().display());
        return;
    }
    let alone = agreement(&MAIN_MASTERS, &MAIN_DISSECTORS);
    alone.print("main protocols alone");
    agreement(&MAIN_MASTERS, &[]).print("all built-in dissectors");
    let t = alone.total();
    // Flows without payload and nfstream's own port guesses cannot be identified by a
    // dissector; of the rest, all but the two DTLS flows (STUN's) and the SMTP STARTTLS one.
    assert!(t.equal * 100 >= t.dissectable() * 98, "{t:?}");
    assert!(t.names_equal * 100 >= t.names * 99, "{t:?}");
    assert!(t.extra <= 2, "{t:?}");
    // Fields ndpiReader 4.2 computes the same way (its JA3C and ALPN also cover QUIC flows it
    // decrypted with other keys, and its StatusCode is 0 for some; see the printout).
    for tag in ["JA3S", "User-Agent", "Content-Type", "HASSH-C", "HASSH-S"] {
        let (n, eq) = alone.fields[tag];
        assert!(eq * 100 >= n * 99, "{tag}: {eq}/{n}");
    }
}

/// Feeds `packets` (`(direction, payload)`) of one flow (`protocol`, initiator port
/// `src_port`, responder port `dst_port`) to `dissector` alone, through the engine, and
/// returns the flow's DPI state: `result.master` is set when it identified the flow,
/// `is_done()` says whether dissection ended (identified and done, or rejected).
pub fn feed(
    dissector: Box<dyn super::super::Dissector>,
    (protocol, src_port, dst_port): (u8, u16, u16),
    packets: &[(u8, &[u8])],
) -> Box<super::super::FlowDpi> {
    use super::super::{Dpi, DpiConfig, Packet};
    let mut dpi = Dpi::with_dissectors(DpiConfig::default(), vec![dissector]);
    let mut flow = dpi.alloc();
    for (i, (dir, payload)) in packets.iter().enumerate() {
        let pkt = Packet {
            payload,
            dir: *dir,
            protocol,
            src_port,
            dst_port,
            tcp_flags: 0,
            index: i as u32,
            ip_version: 4,
            src_ip: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst_ip: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        if dpi.on_packet(&mut flow, &pkt) {
            break;
        }
    }
    flow
}
