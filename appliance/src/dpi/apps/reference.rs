//! Agreement with nfstream 6.6 (nDPI 5.0) on the reference captures: for every labelled flow
//! of `/work/shared/pcaps/public/nfstream/*.csv` (or `$XDPFLOW_NFSTREAM_CSV`), the input nDPI
//! had is rebuilt from the row (master = the label's part before the first `.` when it is a
//! protocol of the table, the row's server name, addresses, ports, IP protocol) and the
//! output of [`AppTable::classify`] compared with nfstream's name and category.
//!
//! Rows of `synscan.pcap` (SYN probes) and of portless protocols are classified as flows
//! without payload. Applications that dissectors decide from the payload itself cannot be
//! rebuilt from a CSV row: the test also reports the agreement when the dissector's
//! application is given ([`DISSECTOR_APPS`]), but asserts on the plain rows.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::tests::flow;
use super::*;

/// Applications that nDPI's (and xdpflow's) dissectors name from the payload: STUN
/// attributes (WhatsApp, MS-ICE, Zoom's classic STUN, Google's realm), TLS heuristics (Tor,
/// AnyDesk), HTTP (OCSP), SMB (dialect).
const DISSECTOR_APPS: [&str; 10] = [
    "WhatsAppCall",
    "TeamsCall",
    "Zoom",
    "GoogleCall",
    "FacebookVoip",
    "Tor",
    "AnyDesk",
    "OCSP",
    "SMBv1",
    "SMBv23",
];

/// Where the CSVs are.
fn csv_dir() -> PathBuf {
    std::env::var_os("XDPFLOW_NFSTREAM_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/pcaps/public/nfstream"))
}

/// One labelled flow.
#[derive(Debug)]
struct Row {
    file: String,
    protocol: u8,
    id: FlowIdentity,
    name: String,
    category: String,
    server_name: String,
}

fn read_rows() -> Option<Vec<Row>> {
    let dir = csv_dir();
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable CSV");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in text.lines().skip(1) {
            // src_ip,src_port,dst_ip,dst_port,protocol,ip_version,vlan_id,bidirectional_packets,
            // bidirectional_bytes,src2dst_packets,dst2src_packets,application_name,
            // application_category_name,requested_server_name (last; may hold commas)
            let cols: Vec<&str> = line.splitn(14, ',').collect();
            assert!(cols.len() >= 13, "{file}: short row {line}");
            let protocol: u8 = cols[4].parse().expect("protocol");
            rows.push(Row {
                file: file.clone(),
                protocol,
                id: flow(
                    protocol,
                    cols[0],
                    cols[1].parse().expect("src_port"),
                    cols[2],
                    cols[3].parse().expect("dst_port"),
                ),
                name: cols[11].to_string(),
                category: cols[12].to_string(),
                server_name: cols.get(13).copied().unwrap_or("").to_string(),
            });
        }
    }
    Some(rows)
}

/// Row classes reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// `Master.App` labels.
    App,
    /// A master alone.
    Master,
    /// An application without master (known by address).
    Address,
    /// Portless IP protocols.
    IpProtocol,
    /// synscan.pcap's port guesses.
    Synscan,
}

#[derive(Default)]
struct Tally {
    rows: usize,
    ok: usize,
    ok_with_dissector_apps: usize,
    /// Expected label → (rows, ok, wrong outputs).
    labels: BTreeMap<String, (usize, usize, BTreeMap<String, usize>)>,
}

fn percent(ok: usize, rows: usize) -> f64 {
    if rows == 0 {
        100.0
    } else {
        100.0 * ok as f64 / rows as f64
    }
}

#[test]
fn agrees_with_nfstream() {
    let Some(rows) = read_rows() else {
        println!("skipped: {} missing", csv_dir().display());
        return;
    };
    let t = AppTable::builtin();
    let mut statics: HashMap<String, &'static str> = HashMap::new();
    let mut name = |s: &str| -> &'static str {
        statics
            .entry(s.to_string())
            .or_insert_with(|| Box::leak(s.to_string().into_boxed_str()))
    };
    let mut tallies: BTreeMap<Class, Tally> = BTreeMap::new();
    let (mut unknown_rows, mut unknown_named) = (0usize, BTreeMap::<String, usize>::new());
    for row in &rows {
        let synscan = row.file.starts_with("synscan.");
        let portless = row.protocol != 6 && row.protocol != 17;
        let (first, app) = match row.name.split_once('.') {
            Some((m, a)) => (m, Some(a)),
            None => (row.name.as_str(), None),
        };
        let mut input = DpiResult {
            requested_server_name: row.server_name.clone(),
            ..DpiResult::default()
        };
        let payload = !(synscan || portless);
        if payload && t.is_protocol(first) {
            input.master = Some(name(first));
        }
        let got = |r: &DpiResult| {
            let f = t.classify(payload.then_some(r), &row.id);
            (f.application_name, f.application_category_name)
        };
        let out = got(&input);
        if row.name == "Unknown" {
            unknown_rows += 1;
            if out.0 != "Unknown" {
                *unknown_named.entry(out.0).or_default() += 1;
            }
            continue;
        }
        let class = if synscan {
            Class::Synscan
        } else if portless {
            Class::IpProtocol
        } else if app.is_some() {
            Class::App
        } else if input.master.is_some() {
            Class::Master
        } else {
            Class::Address
        };
        let ok = out.0 == row.name && out.1 == row.category;
        let ok_dissector = ok
            || app.is_some_and(|a| DISSECTOR_APPS.contains(&a)) && {
                input.app = app.map(&mut name);
                let o = got(&input);
                o.0 == row.name && o.1 == row.category
            };
        let tally = tallies.entry(class).or_default();
        tally.rows += 1;
        tally.ok += usize::from(ok);
        tally.ok_with_dissector_apps += usize::from(ok_dissector);
        let label = tally
            .labels
            .entry(format!("{} ({})", row.name, row.category))
            .or_default();
        label.0 += 1;
        label.1 += usize::from(ok);
        if !ok {
            let wrong = format!("{} ({}) for {:?}", out.0, out.1, row.server_name);
            *label.2.entry(wrong).or_default() += 1;
        }
    }
    println!(
        "agreement with nfstream 6.6 on {} ({} rows)",
        csv_dir().display(),
        rows.len()
    );
    for (class, tally) in &tallies {
        println!(
            "{class:?}: {}/{} = {:.1}% (with dissector apps: {:.1}%)",
            tally.ok,
            tally.rows,
            percent(tally.ok, tally.rows),
            percent(tally.ok_with_dissector_apps, tally.rows)
        );
        for (label, (n, ok, wrong)) in &tally.labels {
            if ok < n {
                println!("  {label}: {ok}/{n}");
                for (w, k) in wrong {
                    println!("      got {w} x{k}");
                }
            }
        }
    }
    println!(
        "Unknown rows named by a guess: {}/{unknown_rows} {unknown_named:?}",
        unknown_named.values().sum::<usize>()
    );
    let rate = |c: Class| tallies.get(&c).map_or(100.0, |t| percent(t.ok, t.rows));
    let with_dissector_apps = tallies
        .get(&Class::App)
        .map_or(100.0, |t| percent(t.ok_with_dissector_apps, t.rows));
    // Plain rows miss what only the payload tells (STUN attributes, SMB dialects, Tor, ...).
    assert!(
        rate(Class::App) >= 88.0,
        "Master.App rows: {:.1}%",
        rate(Class::App)
    );
    assert!(
        with_dissector_apps >= 97.0,
        "Master.App rows with dissector apps: {with_dissector_apps:.1}%"
    );
    assert!(
        rate(Class::Synscan) >= 100.0,
        "synscan rows: {:.1}%",
        rate(Class::Synscan)
    );
    assert!(
        rate(Class::IpProtocol) >= 100.0,
        "IP protocol rows: {:.1}%",
        rate(Class::IpProtocol)
    );
    assert!(
        rate(Class::Address) >= 100.0,
        "address rows: {:.1}%",
        rate(Class::Address)
    );
    // Misses: HTTP categories from response types the CSV does not have.
    assert!(
        rate(Class::Master) >= 96.0,
        "master rows: {:.1}%",
        rate(Class::Master)
    );
}
