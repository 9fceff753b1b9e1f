//! DPI fidelity with nfstream 6.6 (nDPI): for every public capture, our `application_name` and
//! `requested_server_name` against nfstream's in `nfstream/NAME.csv`, with DPI on as
//! `xdpflow pcap` runs it by default (`--n-dissections 20`), `--tcp-end off` as nfstream.
//!
//! Flows are paired on (src ip, src port, dst ip, dst port, protocol, vlan_id) — several flows
//! with one key are paired by packet count, then in order. Thresholds (issue 4):
//! application_name equal on ≥ 90 % of the flows nfstream labels (not `Unknown`), and
//! requested_server_name equal on ≥ 99 % of the flows where nfstream has one. The test prints
//! the per-protocol confusion table (nfstream's label → ours) for every difference.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use appliance::dpi::DpiConfig;
use appliance::flow::FlowRecord;

use crate::common::{captures, public_pcaps, run_files};
use crate::fidelity::{Key, csv_rows, nfstream_config, nfstream_csv, record_key as key_of};

/// One nfstream row: key, packets, application_name, category, requested_server_name.
struct Row {
    key: Key,
    packets: u64,
    app: String,
    category: String,
    server_name: String,
}

fn nfstream_rows(csv: &Path) -> Vec<Row> {
    let (header, rows) = nfstream_csv(csv);
    assert_eq!(
        header.last().map(String::as_str),
        Some("requested_server_name"),
        "the server name is the last column (it may hold commas)"
    );
    csv_rows(&header, rows)
        .iter()
        .map(|r| Row {
            key: r.key(),
            packets: r.num("bidirectional_packets"),
            app: r.get("application_name").to_string(),
            category: r.get("application_category_name").to_string(),
            server_name: r.get("requested_server_name").to_string(),
        })
        .collect()
}

/// Pairs each nfstream row with one of our records (or none).
fn pair<'a>(rows: &[Row], records: &'a [FlowRecord]) -> Vec<Option<&'a FlowRecord>> {
    let mut ours: HashMap<Key, Vec<&FlowRecord>> = HashMap::new();
    for r in records {
        ours.entry(key_of(r)).or_default().push(r);
    }
    for v in ours.values_mut() {
        v.sort_by_key(|r| r.bidirectional().first_seen_ms);
    }
    rows.iter()
        .map(|row| {
            let v = ours.get_mut(&row.key)?;
            let i = v
                .iter()
                .position(|r| r.bidirectional().packets == row.packets)
                .or_else(|| (!v.is_empty()).then_some(0))?;
            Some(v.remove(i))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    labelled: usize,
    app_equal: usize,
    category_equal: usize,
    named: usize,
    name_equal: usize,
    /// nfstream's label → our label → flows, for the differences.
    confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// nfstream's label → flows (all labelled rows), for the table.
    per_label: BTreeMap<String, (usize, usize)>,
    name_misses: Vec<String>,
}

#[test]
fn application_names_and_server_names_match_nfstream() {
    let Some(dir) = public_pcaps() else {
        eprintln!(
            "skipped: ../shared/pcaps/public not found (DPI fidelity needs the shared captures)"
        );
        return;
    };
    let mut cfg = nfstream_config(1);
    cfg.extras.dpi = Some(DpiConfig::default());
    let mut t = Tally::default();
    for pcap in captures(&dir) {
        let name = pcap.file_name().unwrap().to_string_lossy().to_string();
        let csv = dir.join("nfstream").join(format!("{name}.csv"));
        if !csv.exists() {
            continue;
        }
        let (_outcome, records) = run_files(std::slice::from_ref(&pcap), &cfg);
        let rows = nfstream_rows(&csv);
        for (row, ours) in rows.iter().zip(pair(&rows, &records)) {
            let dpi = ours.and_then(|r| r.dpi.as_deref());
            let our_app = dpi.map_or("(no flow)", |d| d.application_name.as_str());
            let our_cat = dpi.map_or("", |d| d.application_category_name.as_str());
            let our_name = dpi.map_or("", |d| d.requested_server_name.as_str());
            if row.app != "Unknown" {
                t.labelled += 1;
                let master = row.app.split('.').next().unwrap_or("").to_string();
                let e = t.per_label.entry(master).or_default();
                e.0 += 1;
                if our_app == row.app {
                    t.app_equal += 1;
                    e.1 += 1;
                } else {
                    *t.confusion
                        .entry(row.app.clone())
                        .or_default()
                        .entry(our_app.to_string())
                        .or_default() += 1;
                }
                t.category_equal += usize::from(our_cat == row.category);
            }
            if !row.server_name.is_empty() {
                t.named += 1;
                if our_name == row.server_name {
                    t.name_equal += 1;
                } else {
                    t.name_misses.push(format!(
                        "{name} {:?}: nfstream {:?} ({}), ours {our_name:?} ({our_app})",
                        row.key, row.server_name, row.app
                    ));
                }
            }
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let mut out = String::new();
    writeln!(out, "master\tnfstream flows\tapplication_name equal").unwrap();
    let mut labels: Vec<_> = t.per_label.iter().collect();
    labels.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
    for (label, (n, eq)) in labels {
        writeln!(out, "{label}\t{n}\t{eq}").unwrap();
    }
    writeln!(out, "\ndifferences (nfstream → ours: flows)").unwrap();
    let mut diffs: Vec<(usize, String)> = Vec::new();
    for (theirs, m) in &t.confusion {
        for (ours, n) in m {
            diffs.push((*n, format!("{theirs} → {ours}")));
        }
    }
    diffs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (n, d) in &diffs {
        writeln!(out, "{n}\t{d}").unwrap();
    }
    writeln!(out, "\nserver-name differences:").unwrap();
    for m in &t.name_misses {
        writeln!(out, "  {m}").unwrap();
    }
    writeln!(
        out,
        "\napplication_name: {}/{} ({:.2}%)  category: {}/{} ({:.2}%)  requested_server_name: {}/{} ({:.2}%)",
        t.app_equal,
        t.labelled,
        pct(t.app_equal, t.labelled),
        t.category_equal,
        t.labelled,
        pct(t.category_equal, t.labelled),
        t.name_equal,
        t.named,
        pct(t.name_equal, t.named)
    )
    .unwrap();
    eprintln!("{out}");
    assert!(t.labelled > 1000, "too few labelled flows: {}", t.labelled);
    assert!(
        pct(t.app_equal, t.labelled) >= 90.0,
        "application_name equal on {:.2}% of nfstream's labelled flows (< 90%)",
        pct(t.app_equal, t.labelled)
    );
    assert!(
        pct(t.name_equal, t.named) >= 99.0,
        "requested_server_name equal on {:.2}% of the flows nfstream names (< 99%)",
        pct(t.name_equal, t.named)
    );
}

/// Payloads reach the workers by reference into the reader's buffers (pcap files) or copied
/// (other sources): both give the same DPI fields. A 4 KiB read buffer makes the reader move to
/// another buffer at almost every refill while workers still hold payloads in the old one.
#[test]
fn payloads_by_reference_and_copied_give_the_same_dpi() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    let mut cfg = nfstream_config(2);
    cfg.extras.dpi = Some(DpiConfig::default());
    let mut compared = 0;
    for name in ["teams.pcap", "quic.pcap", "netflix.pcap", "1kxun.pcap"] {
        let path = dir.join(name);
        let bytes: &'static [u8] =
            Box::leak(std::fs::read(&path).expect("capture").into_boxed_slice());
        let mut shared = appliance::capture::pcap::PcapSource::open(std::slice::from_ref(&path))
            .expect("opens")
            .with_buffer_size(4096);
        let mut copied = appliance::capture::pcap::PcapSource::from_bytes(name, bytes);
        let (a, mut ra) = crate::common::run_source(&mut shared, &cfg);
        let (b, mut rb) = crate::common::run_source(&mut copied, &cfg);
        assert!(a.error.is_none() && b.error.is_none(), "{name}");
        let fields = |r: &mut Vec<FlowRecord>| -> Vec<(Key, u64, String, String, String)> {
            let mut v: Vec<_> = r
                .drain(..)
                .map(|r| {
                    let d = r.dpi.as_deref().expect("DPI on");
                    (
                        key_of(&r),
                        r.bidirectional().first_seen_ms,
                        d.application_name.clone(),
                        d.requested_server_name.clone(),
                        d.client_fingerprint.clone(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let (fa, fb) = (fields(&mut ra), fields(&mut rb));
        assert_eq!(fa, fb, "{name}");
        compared += fa.iter().filter(|f| !f.3.is_empty()).count();
    }
    assert!(compared > 50, "server names compared: {compared}");
}

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/sample.pcap")
}

fn xdpflow_json(args: &[&str]) -> (std::process::ExitStatus, Vec<serde_json::Value>, String) {
    let out = std::process::Command::new(crate::common::xdpflow())
        .arg("pcap")
        .arg(sample())
        .args(["--json", "-", "-q", "--progress", "never"])
        .args(args)
        .output()
        .expect("xdpflow runs");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (
        out.status,
        records,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The binary: DPI fields by default, none with `--n-dissections 0`, a user's application
/// file extends the names, a bad one is refused naming its line and the fix.
#[test]
fn the_cli_runs_dpi_by_default_and_takes_a_users_application_file() {
    let (ok, flows, _) = xdpflow_json(&[]);
    assert!(ok.success());
    let named = |flows: &[serde_json::Value], app: &str| {
        flows
            .iter()
            .filter(|f| {
                f["application_name"]
                    .as_str()
                    .is_some_and(|a| a.starts_with(app))
            })
            .count()
    };
    for master in ["DNS", "TLS", "HTTP", "QUIC", "SSH", "NTP"] {
        assert!(named(&flows, master) > 0, "no {master} flow in the sample");
    }
    assert!(
        flows
            .iter()
            .all(|f| f["application_category_name"].is_string())
    );

    let (ok, off, _) = xdpflow_json(&["--n-dissections", "0"]);
    assert!(ok.success());
    assert_eq!(off.len(), flows.len());
    assert!(off.iter().all(|f| f.get("application_name").is_none()));

    let dir = std::env::temp_dir().join(format!("xdpflow-dpi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("apps.toml");
    std::fs::write(
        &good,
        "[apps.MyCorp]\ncategory = \"Collaborative\"\nhosts = [\"example.com\"]\n",
    )
    .unwrap();
    let (ok, mine, _) = xdpflow_json(&["--dpi-apps", good.to_str().unwrap()]);
    assert!(ok.success());
    let corp: Vec<_> = mine
        .iter()
        .filter(|f| {
            f["application_name"]
                .as_str()
                .is_some_and(|a| a.ends_with(".MyCorp"))
        })
        .collect();
    assert!(!corp.is_empty(), "no flow named by the user's file");
    for f in &corp {
        let server = f["requested_server_name"].as_str().unwrap();
        assert!(
            server == "example.com" || server.ends_with(".example.com"),
            "{server}"
        );
    }

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[apps.MyCorp]\ncategory = \"Web\"\n[protocls]\n").unwrap();
    let (ok, _, err) = xdpflow_json(&["--dpi-apps", bad.to_str().unwrap()]);
    assert_eq!(ok.code(), Some(2), "{err}");
    assert!(
        err.contains("line 3") && err.contains("did you mean `protocols`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
