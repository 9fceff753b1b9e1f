//! `/metrics` end to end (issue 6): the `xdpflow` binary serves a scrape that a strict
//! Prometheus text-format parser accepts, whose counters match what was sent, whose labels
//! are bounded (never an address), and which holds every metric the Grafana dashboard
//! (`deploy/grafana/xdpflow.json`) queries. Live in a veth lab (root; skipped with a reason
//! otherwise) and in pcap mode reading stdin (no root).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use appliance::metrics::names;
use appliance_tests::netns::{CAP_IF, GEN_IF, VethLab, skip_unless_root};
use appliance_tests::replay::Replay;
use serde_json::Value;

use crate::common::xdpflow;

/// Dashboard metrics that no scrape has yet, each with the issue that brings it. Listed here
/// on purpose (not skipped silently): when a metric lands, the test below asks for it to be
/// taken off this list. Empty since DPI landed.
const PENDING_DPI: &[&str] = &[];

/// Label names our metrics may carry.
const LABELS: &[&str] = &["queue", "reason", "action", "sink", "category", "version"];

// ---------------------------------------------------------------------------------------------
// A strict parser of the Prometheus text exposition format (version 0.0.4).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
    Untyped,
}

#[derive(Debug)]
struct Family {
    kind: Type,
    help: Option<String>,
    /// label set → value
    samples: BTreeMap<BTreeMap<String, String>, f64>,
}

/// A parsed scrape: families by name.
#[derive(Debug)]
struct Scrape(BTreeMap<String, Family>);

fn valid_metric_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !n.starts_with("__")
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse().map_err(|_| format!("bad value `{v}`")),
    }
}

/// `{a="x",b="y"}` (the braces included) → labels; the rest of the line after `}`.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected `{`")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label `{name}` twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

impl Scrape {
    /// Parses `text`, rejecting anything the format does not allow or that makes the series
    /// ambiguous: a sample before its `# TYPE`, a family declared twice or split, a sample
    /// name that is not its family's, a duplicate series, a bad name, label or value.
    fn parse(text: &str) -> Result<Scrape, String> {
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut closed: BTreeSet<String> = BTreeSet::new();
        if !text.ends_with('\n') {
            return Err("the exposition must end with a newline".into());
        }
        for (no, line) in text.lines().enumerate() {
            let err = |m: String| format!("line {}: {m}: `{line}`", no + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (kw, name, arg) = (parts.next(), parts.next(), parts.next());
                let (Some(kw), Some(name)) = (kw, name) else {
                    continue; // a plain comment
                };
                if kw != "HELP" && kw != "TYPE" {
                    continue;
                }
                if !valid_metric_name(name) {
                    return Err(err("bad metric name".into()));
                }
                if current.as_deref() != Some(name) {
                    if let Some(prev) = current.take() {
                        closed.insert(prev);
                    }
                    if closed.contains(name) {
                        return Err(err("family split in two".into()));
                    }
                    current = Some(name.to_string());
                }
                let fam = families.entry(name.to_string()).or_insert(Family {
                    kind: Type::Untyped,
                    help: None,
                    samples: BTreeMap::new(),
                });
                match kw {
                    "HELP" => {
                        if fam.help.replace(arg.unwrap_or("").to_string()).is_some() {
                            return Err(err("HELP twice".into()));
                        }
                    }
                    _ => {
                        if fam.kind != Type::Untyped || !fam.samples.is_empty() {
                            return Err(err("TYPE twice or after samples".into()));
                        }
                        fam.kind = match arg {
                            Some("counter") => Type::Counter,
                            Some("gauge") => Type::Gauge,
                            Some("untyped") => Type::Untyped,
                            other => return Err(err(format!("unexpected type {other:?}"))),
                        };
                    }
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name_end = line
                .find(['{', ' '])
                .ok_or_else(|| err("no value".into()))?;
            let name = &line[..name_end];
            if !valid_metric_name(name) {
                return Err(err("bad metric name".into()));
            }
            let (labels, rest) = if line[name_end..].starts_with('{') {
                parse_labels(&line[name_end..]).map_err(err)?
            } else {
                (BTreeMap::new(), &line[name_end..])
            };
            let mut fields = rest.trim_start_matches(' ').split(' ');
            let value = parse_value(fields.next().unwrap_or("")).map_err(err)?;
            if let Some(ts) = fields.next() {
                ts.parse::<i64>()
                    .map_err(|_| err(format!("bad timestamp `{ts}`")))?;
            }
            if fields.next().is_some() {
                return Err(err("trailing fields".into()));
            }
            if current.as_deref() != Some(name) {
                return Err(err("sample outside its family (no TYPE before it)".into()));
            }
            let fam = families.get_mut(name).expect("current family");
            if fam.kind == Type::Counter && (value.is_nan() || value < 0.0) {
                return Err(err("negative or NaN counter".into()));
            }
            if fam.samples.insert(labels, value).is_some() {
                return Err(err("duplicate series".into()));
            }
        }
        Ok(Scrape(families))
    }

    fn family(&self, name: &str) -> &Family {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the scrape"))
    }

    /// The value of `name{labels}` (exactly that label set).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        *self
            .family(name)
            .samples
            .get(&want)
            .unwrap_or_else(|| panic!("{name}{labels:?} missing"))
    }

    /// Sum over every series of `name` (0 when the family is absent).
    fn sum(&self, name: &str) -> f64 {
        self.0.get(name).map_or(0.0, |f| f.samples.values().sum())
    }

    /// The `label` values of `name`'s series.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.family(name)
            .samples
            .keys()
            .filter_map(|l| l.get(label).cloned())
            .collect()
    }

    /// Checks every family of ours: help and type present, counters named `_total`, label
    /// names from the bounded set, no label value that is (or holds) an IP address.
    fn check_ours(&self) {
        for (name, f) in &self.0 {
            if !name.starts_with("xdpflow_") {
                continue;
            }
            assert!(f.help.is_some(), "{name} has no HELP");
            assert_ne!(f.kind, Type::Untyped, "{name} has no TYPE");
            assert_eq!(
                f.kind == Type::Counter,
                name.ends_with("_total"),
                "{name}: counters, and only counters, end in _total"
            );
            for labels in f.samples.keys() {
                for (k, v) in labels {
                    assert!(LABELS.contains(&k.as_str()), "{name}: label `{k}`");
                    assert!(!holds_ip(v), "{name}: label {k}=\"{v}\" holds an address");
                }
            }
        }
    }
}

/// Whether `v` is, or contains, something that parses as an IP address.
fn holds_ip(v: &str) -> bool {
    v.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .any(|t| t.parse::<IpAddr>().is_ok() || t.trim_matches(':').parse::<IpAddr>().is_ok())
}

#[test]
fn the_parser_is_strict() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{q=\"a\\\"b\"} 1\na_total 2\n";
    let s = Scrape::parse(ok).expect("valid");
    assert_eq!(s.value("a_total", &[("q", "a\"b")]), 1.0);
    for bad in [
        "a_total 1\n",                                                // no TYPE
        "# TYPE a counter\na 1\na 2\n",                               // duplicate series
        "# TYPE a counter\n# TYPE a gauge\na 1\n",                    // TYPE twice
        "# TYPE a counter\na{b=\"1\" 1\n",                            // unterminated labels
        "# TYPE a counter\na{b=1} 1\n",                               // unquoted value
        "# TYPE a counter\na{b=\"\\x\"} 1\n",                         // bad escape
        "# TYPE a counter\na -1\n",                                   // negative counter
        "# TYPE a counter\na 1 x\n",                                  // bad timestamp
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n", // split family
        "# TYPE a gauge\na 1",                                        // no final newline
        "# TYPE 1a gauge\n1a 1\n",                                    // bad name
    ] {
        assert!(Scrape::parse(bad).is_err(), "accepted: {bad:?}");
    }
    assert!(holds_ip("198.18.0.1") && holds_ip("q=10.0.0.1/3") && holds_ip("fe80::1"));
    assert!(!holds_ip("xfcap/0") && !holds_ip("0.1.0") && !holds_ip("worker0"));
}

// ---------------------------------------------------------------------------------------------
// The dashboard.

/// Every `xdpflow_*` / `process_*` name in the dashboard's queries (`expr`, and the
/// variables' `query` / `definition`).
fn dashboard_metrics() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/xdpflow.json");
    let text = std::fs::read_to_string(&path).expect("deploy/grafana/xdpflow.json");
    let json: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "query" | "definition", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&json, &mut queries);
    assert!(queries.len() > 10, "the dashboard has queries: {queries:?}");
    let mut names = BTreeSet::new();
    for q in &queries {
        let mut rest = q.as_str();
        while let Some(i) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let word = &tail[..end];
            if word.starts_with("xdpflow_") || word.starts_with("process_") {
                names.insert(word.to_string());
            }
            rest = &tail[end..];
        }
    }
    names
}

/// Checks that every dashboard metric is in `scrape`, except those listed as pending DPI
/// (which must be absent, and registered as names). `optional` are families this mode has no
/// subject for (XDP and ring statistics in pcap mode).
fn check_dashboard(scrape: &Scrape, optional: &[&str]) {
    let wanted = dashboard_metrics();
    for p in PENDING_DPI {
        assert!(wanted.contains(*p), "the dashboard has a DPI panel on {p}");
        assert!(
            names::PENDING.iter().any(|(n, _)| n == p),
            "{p} is registered as pending"
        );
    }
    let mut missing = Vec::new();
    for name in &wanted {
        let n = name.as_str();
        if PENDING_DPI.contains(&n) {
            assert!(
                !scrape.0.contains_key(n),
                "{n} is served now: take it off PENDING_DPI"
            );
            println!("pending DPI: {n} (queried by the dashboard, published once DPI lands)");
            continue;
        }
        assert!(
            n.starts_with("process_") || names::ALL.contains(&n),
            "the dashboard queries {n}, which is not a constant in metrics/names.rs"
        );
        if !scrape.0.contains_key(n) && !optional.contains(&n) {
            missing.push(n);
        }
    }
    assert!(
        missing.is_empty(),
        "queried by the dashboard, absent from the scrape: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP and processes.

/// `GET /metrics` on `addr`: (status line, content type, body).
fn http_get(addr: &str) -> Result<(String, String, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head.lines().next().unwrap_or("").to_string();
    let ctype = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .ok_or("no Content-Length")?;
    assert_eq!(len, body.len(), "Content-Length matches the body");
    Ok((status, ctype, body.to_string()))
}

/// Scrapes `addr` and parses it strictly.
fn scrape(addr: &str) -> Scrape {
    let (status, ctype, body) = http_get(addr).unwrap_or_else(|e| panic!("scrape: {e}"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(ctype, "text/plain; version=0.0.4");
    Scrape::parse(&body).unwrap_or_else(|e| panic!("not valid exposition: {e}\n{body}"))
}

/// Scrapes `addr` from inside the network namespace `ns`.
fn scrape_in(ns: &str, addr: &str) -> Scrape {
    let (ns, addr) = (ns.to_string(), addr.to_string());
    std::thread::spawn(move || {
        xdp_prog::enter_netns(&ns).expect("enter the lab");
        scrape(&addr)
    })
    .join()
    .expect("scrape thread")
}

/// An `xdpflow` process with its stderr collected line by line.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xdpflow starts");
        let err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a log line containing `what`; returns it.
    fn wait_for(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no `{what}` from xdpflow:\n{}", self.log.join("\n"));
    }

    /// Waits for the exit (after `sig`, if given); the exit code and the whole log.
    fn finish(mut self, sig: Option<&str>) -> (i32, String) {
        if let Some(sig) = sig {
            let ok = Command::new("kill")
                .args([sig, &self.child.id().to_string()])
                .status()
                .expect("kill runs")
                .success();
            assert!(ok, "kill {sig}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "xdpflow did not exit");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.log.push(line);
        }
        (status.code().unwrap_or(-1), self.log.join("\n"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it holds (or 30 s pass); the last scrape.
fn until(mut get: impl FnMut() -> Scrape, what: &str, f: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = get();
        if f(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never held; last scrape: {s:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn live_scrape_counts_what_was_sent_and_serves_every_dashboard_metric() {
    if !skip_unless_root("live_scrape_counts_what_was_sent_and_serves_every_dashboard_metric") {
        return;
    }
    let lab = VethLab::create(2);
    // A fresh namespace: nothing else listens on its loopback.
    let addr = "127.0.0.1:9617";
    let mut cmd = lab.command(xdpflow().to_str().expect("utf-8 path"));
    cmd.args([
        "run",
        "-i",
        CAP_IF,
        "--progress",
        "never",
        "--json",
        "/dev/null",
        "--idle-timeout",
        "1",
        "--metrics",
        addr,
    ])
    .stdin(Stdio::null());
    let mut run = Proc::spawn(cmd);
    run.wait_for("Capture started.");

    // The workers register their queues as they start, just after that log line.
    let before = until(
        || scrape_in(&lab.ns, addr),
        "both queues are registered",
        |s| {
            s.0.contains_key(names::RECEIVED_PACKETS)
                && s.label_values(names::RECEIVED_PACKETS, "queue").len() == 2
        },
    );
    before.check_ours();
    assert_eq!(
        before.label_values(names::RECEIVED_PACKETS, "queue"),
        [format!("{CAP_IF}/0"), format!("{CAP_IF}/1")].into(),
        "one series per queue"
    );
    assert_eq!(before.sum(names::RECEIVED_PACKETS), 0.0);

    let replay = Replay::synthetic(300, 6000, 128, 2);
    let mut per_queue = [0u64; 2];
    for (q, _) in &replay.frames {
        per_queue[*q as usize] += 1;
    }
    let sent = {
        let ns = lab.ns.clone();
        let replay = replay.clone();
        std::thread::spawn(move || {
            xdp_prog::enter_netns(&ns).expect("enter lab");
            replay.send(GEN_IF, 2, Some(40_000))
        })
        .join()
        .expect("generator thread")
        .expect("replay sent")
    };
    assert_eq!(sent.frames, 6000);

    // Flows end after 1 s idle; wait until every one of them reached the sink and the XDP
    // counters (read every 500 ms) and ring statistics (every second) caught up.
    let s = until(
        || scrape_in(&lab.ns, addr),
        "everything sent is counted and exported",
        |s| {
            s.sum(names::RECEIVED_PACKETS) == 6000.0
                && s.0.contains_key(names::XDP_PACKETS)
                && s.value(names::XDP_PACKETS, &[("action", "redirected")]) == 6000.0
                && s.sum(names::FLOWS_CREATED) == 300.0
                && s.sum(names::FLOWS_ACTIVE) == 0.0
                && s.sum(names::SINK_RECORDS) == 300.0
                && s.sum(names::SINK_BYTES) > 0.0
                && s.0.contains_key(names::RING_RX_DROPPED)
        },
    );
    s.check_ours();
    for (q, n) in per_queue.iter().enumerate() {
        let queue = format!("{CAP_IF}/{q}");
        assert_eq!(
            s.value(names::RECEIVED_PACKETS, &[("queue", &queue)]),
            *n as f64,
            "{queue} received what was sent to it"
        );
        assert_eq!(
            s.value(names::RECEIVED_BYTES, &[("queue", &queue)]),
            (*n * 128) as f64
        );
        for ring in [
            names::RING_RX_DROPPED,
            names::RING_RX_RING_FULL,
            names::RING_FILL_RING_EMPTY,
            names::RING_INVALID_DESCS,
        ] {
            assert_eq!(s.value(ring, &[("queue", &queue)]), 0.0, "{ring} {queue}");
        }
    }
    for action in ["passed", "filtered", "sampled_out", "redirect_error"] {
        assert_eq!(
            s.value(names::XDP_PACKETS, &[("action", action)]),
            0.0,
            "{action}"
        );
    }
    assert_eq!(s.sum(names::DECODE_DROPPED), 0.0);
    assert_eq!(
        s.family(names::DECODE_DROPPED).samples.len(),
        appliance::packet::DropReason::COUNT,
        "every reason has a series"
    );
    let idle: f64 = s
        .label_values(names::FLOWS_EXPORTED, "queue")
        .iter()
        .map(|q| s.value(names::FLOWS_EXPORTED, &[("queue", q), ("reason", "idle")]))
        .sum();
    assert_eq!(idle, 300.0, "every flow ended idle");
    assert_eq!(s.sum(names::FLOWS_EVICTED), 0.0);
    assert_eq!(
        s.sum(names::DPI_CLASSIFICATIONS),
        300.0,
        "DPI (on by default) counts every ended flow once, by category"
    );
    assert_eq!(s.value(names::SINK_RECORDS, &[("sink", "json")]), 300.0);
    assert!(s.value(names::SINK_BYTES, &[("sink", "json")]) > 0.0);
    assert!(s.value(names::SINK_BATCHES, &[("sink", "json")]) >= 1.0);
    assert_eq!(s.value(names::SINK_DROPPED, &[("sink", "json")]), 0.0);
    assert_eq!(s.value(names::EXPORT_RECORDS_DROPPED, &[]), 0.0);
    assert_eq!(
        s.value(
            names::BUILD_INFO,
            &[("version", appliance::metrics::VERSION)]
        ),
        1.0
    );
    // The crate's process collector (its CPU counter counts whole seconds: may still be 0).
    assert_eq!(s.family(names::PROCESS_CPU).kind, Type::Counter);
    assert!(s.sum(names::PROCESS_RESIDENT_MEMORY) > 0.0);
    check_dashboard(&s, &[]);

    let (code, log) = run.finish(Some("-TERM"));
    assert_eq!(code, 0, "{log}");
}

/// `sample.pcap` as (link type, records) of a classic little-endian pcap.
fn sample_records() -> (Vec<u8>, Vec<Vec<u8>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/sample.pcap");
    let bytes = std::fs::read(path).expect("tests/pcaps/sample.pcap");
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "classic pcap, µs, LE"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let header = bytes[..24].to_vec();
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push(bytes[at..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    assert_eq!(at, bytes.len());
    (header, records)
}

/// An ARP request (198.18.0.1 asks for 198.18.0.2) as a pcap record: not IP, a decode drop.
fn arp_record() -> Vec<u8> {
    let mut frame = vec![0xff; 6]; // destination: broadcast
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // source
    frame.extend_from_slice(&[0x08, 0x06]); // EtherType ARP
    frame.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet/IPv4, request
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 198, 18, 0, 1]); // sender
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 198, 18, 0, 2]); // target
    let mut rec = Vec::new();
    rec.extend_from_slice(&1_700_000_000u32.to_le_bytes()); // ts seconds
    rec.extend_from_slice(&0u32.to_le_bytes()); // ts µs
    rec.extend_from_slice(&(frame.len() as u32).to_le_bytes()); // captured length
    rec.extend_from_slice(&(frame.len() as u32).to_le_bytes()); // wire length
    rec.extend_from_slice(&frame);
    rec
}

#[test]
fn pcap_mode_serves_metrics_while_it_reads_stdin() {
    let dir = std::env::temp_dir().join(format!("xdpflow-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let summary = dir.join("summary.json");
    let mut cmd = Command::new(xdpflow());
    cmd.args([
        "pcap",
        "-",
        "--workers",
        "1",
        "--progress",
        "never",
        "--json",
    ])
    .arg(dir.join("out.ndjson"))
    .arg("--summary-json")
    .arg(&summary)
    .args(["--metrics", "127.0.0.1:0"])
    .stdin(Stdio::piped());
    let mut run = Proc::spawn(cmd);
    // xdpflow reads the first bytes of its input (to identify the format) before it starts
    // serving: the header goes first. Then 10 ARP frames (read in the first batch, so their
    // drops are published while the pipe stays open), then the sample twice. The pipe stays
    // open until we have scraped.
    let (header, records) = sample_records();
    let mut stdin = run.child.stdin.take().expect("piped stdin");
    stdin.write_all(&header).expect("write");
    stdin.flush().expect("flush");
    let served = run.wait_for("Metrics served.");
    let addr = served
        .split("http://")
        .nth(1)
        .and_then(|s| s.split("/metrics").next())
        .unwrap_or_else(|| panic!("no address in `{served}`"))
        .to_string();
    for _ in 0..10 {
        stdin.write_all(&arp_record()).expect("write");
    }
    for _ in 0..2 {
        for r in &records {
            stdin.write_all(r).expect("write");
        }
    }
    stdin.flush().expect("flush");
    let decoded = 2.0 * records.len() as f64;

    let s = until(
        || scrape(&addr),
        "drops and a worker batch are published",
        |s| {
            s.0.contains_key(names::RECEIVED_PACKETS)
                && s.value(names::DECODE_DROPPED, &[("reason", "not_ip")]) == 10.0
                && s.value(names::RECEIVED_PACKETS, &[("queue", "worker0")]) > 0.0
        },
    );
    s.check_ours();
    let received = s.value(names::RECEIVED_PACKETS, &[("queue", "worker0")]);
    assert!(received <= decoded, "{received} of {decoded}");
    assert!(s.value(names::RECEIVED_BYTES, &[("queue", "worker0")]) > 0.0);
    assert!(s.value(names::FLOWS_CREATED, &[("queue", "worker0")]) > 0.0);
    assert_eq!(
        s.label_values(names::SINK_RECORDS, "sink"),
        ["json".to_string()].into()
    );
    assert_eq!(
        s.value(
            names::BUILD_INFO,
            &[("version", appliance::metrics::VERSION)]
        ),
        1.0
    );
    // No XDP program and no ring in pcap mode: those families are absent, not zero.
    let live_only = [
        names::XDP_PACKETS,
        names::RING_RX_DROPPED,
        names::RING_RX_RING_FULL,
        names::RING_FILL_RING_EMPTY,
        names::RING_INVALID_DESCS,
        names::RING_FREEZES,
    ];
    for n in live_only {
        assert!(!s.0.contains_key(n), "{n} in pcap mode");
    }
    // No flow has ended yet (the input is still open): no DPI category is counted yet.
    let mut optional = live_only.to_vec();
    optional.push(names::DPI_CLASSIFICATIONS);
    check_dashboard(&s, &optional);
    let mut other = TcpStream::connect(&addr).expect("connect");
    other
        .write_all(b"GET /other HTTP/1.1\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    other.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 404 "), "{response}");

    drop(stdin); // end of input: the run finishes
    let (code, log) = run.finish(None);
    assert_eq!(code, 0, "{log}");
    let sum: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(sum["frames"].as_u64(), Some(10 + 2 * records.len() as u64));
    assert_eq!(sum["drops"]["not_ip"].as_u64(), Some(10));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_busy_metrics_port_is_refused_with_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(xdpflow())
        .args([
            "pcap",
            "--progress",
            "never",
            "--json",
            "/dev/null",
            "--metrics",
            &addr,
        ])
        .output()
        .expect("xdpflow runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "usage error: {err}");
    assert!(
        err.contains(&addr) && err.contains("--metrics 127.0.0.1:PORT") && err.contains("off"),
        "names the address and the fix: {err}"
    );
}
