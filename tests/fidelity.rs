//! Fidelity with nfstream 6.6: for every capture in `../shared/pcaps/public`, our flows
//! (`--tcp-end off`, defaults otherwise) against nfstream's in `nfstream/NAME.csv`.
//!
//! Flows are matched on (src ip, src port, dst ip, dst port, protocol, vlan_id); a flow
//! *matches* when bidirectional packets and bytes and src2dst / dst2src packets are equal too.
//! `tests/golden/fidelity/nfstream.tsv` holds, per file, the number of nfstream flows we match
//! exactly; the test fails if any file falls below it. `UPDATE_GOLDEN=1` rewrites the file
//! (review the diff: a lower number is a regression). The deliberate differences are listed in
//! `tests/golden/fidelity/README.md`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use appliance::flow::{FlowConfig, FlowRecord};
use appliance::packet::DecoderConfig;
use appliance::pipeline::PipelineConfig;

use crate::common::{captures, public_pcaps, run_files};

/// A flow as both sides identify it: (src ip, src port, dst ip, dst port, protocol, vlan_id).
pub type Key = (String, u16, String, u16, u8, u16);
type Counts = (u64, u64, u64, u64);

/// One row of nfstream's CSV, its fields by column name.
pub struct CsvRow<'h> {
    header: &'h [String],
    fields: Vec<String>,
}

impl CsvRow<'_> {
    /// The field of column `name` (a panic names a column the CSV lacks).
    pub fn get(&self, name: &str) -> &str {
        let i = self.header.iter().position(|h| h == name).expect(name);
        &self.fields[i]
    }

    /// The numeric field of column `name`.
    pub fn num(&self, name: &str) -> u64 {
        self.get(name).parse().expect("number")
    }

    /// The row's flow key.
    pub fn key(&self) -> Key {
        (
            self.get("src_ip").to_string(),
            self.num("src_port") as u16,
            self.get("dst_ip").to_string(),
            self.num("dst_port") as u16,
            self.num("protocol") as u8,
            self.num("vlan_id") as u16,
        )
    }
}

/// nfstream's `NAME.csv`: its header and its rows. The last column (requested_server_name)
/// may hold commas; every other one does not.
pub fn nfstream_csv(csv: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(csv).expect("readable csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.splitn(header.len(), ',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The rows of `nfstream_csv`'s result, with their header.
pub fn csv_rows<'h>(header: &'h [String], rows: Vec<Vec<String>>) -> Vec<CsvRow<'h>> {
    rows.into_iter()
        .map(|fields| CsvRow { header, fields })
        .collect()
}

/// Our record's flow key.
pub fn record_key(r: &FlowRecord) -> Key {
    (
        r.src_addr().to_string(),
        r.src_port,
        r.dst_addr().to_string(),
        r.dst_port,
        r.protocol,
        r.vlan_id,
    )
}

fn nfstream_flows(csv: &Path) -> Vec<(Key, Counts)> {
    let (header, rows) = nfstream_csv(csv);
    csv_rows(&header, rows)
        .iter()
        .map(|r| {
            let counts = (
                r.num("bidirectional_packets"),
                r.num("bidirectional_bytes"),
                r.num("src2dst_packets"),
                r.num("dst2src_packets"),
            );
            (r.key(), counts)
        })
        .collect()
}

fn our_flows(records: &[FlowRecord]) -> Vec<(Key, Counts)> {
    records
        .iter()
        .map(|r| {
            let b = r.bidirectional();
            let counts = (b.packets, b.bytes, r.src2dst.packets, r.dst2src.packets);
            (record_key(r), counts)
        })
        .collect()
}

/// (nfstream flows, our flows, exact matches).
fn compare(theirs: &[(Key, Counts)], ours: &[(Key, Counts)]) -> (usize, usize, usize) {
    let mut pool: HashMap<(&Key, &Counts), usize> = HashMap::new();
    for (k, c) in ours {
        *pool.entry((k, c)).or_default() += 1;
    }
    let mut matched = 0;
    for (k, c) in theirs {
        if let Some(n) = pool.get_mut(&(k, c))
            && *n > 0
        {
            *n -= 1;
            matched += 1;
        }
    }
    (theirs.len(), ours.len(), matched)
}

pub fn nfstream_config(workers: usize) -> PipelineConfig {
    PipelineConfig {
        workers,
        flow: FlowConfig {
            tcp_end: false,
            max_flows: 1 << 20,
            ..FlowConfig::default()
        },
        decoder: DecoderConfig::default(),
        export: appliance::export::stage::StageConfig::default(),
        extras: appliance::flow::ShardExtras::default(),
    }
}

#[test]
fn flows_match_nfstream_on_public_captures() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found (fidelity needs the shared captures)");
        return;
    };
    let golden_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/fidelity/nfstream.tsv");
    let golden: HashMap<String, usize> = std::fs::read_to_string(&golden_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((f.first()?.to_string(), f.get(3)?.parse().ok()?))
        })
        .collect();

    let mut table = String::from("file\tnfstream\tours\tmatched\n");
    let (mut total_theirs, mut total_matched) = (0, 0);
    let mut regressions = Vec::new();
    for pcap in captures(&dir) {
        let name = pcap.file_name().unwrap().to_string_lossy().to_string();
        let csv = dir.join("nfstream").join(format!("{name}.csv"));
        if !csv.exists() {
            continue;
        }
        let (_outcome, records) = run_files(std::slice::from_ref(&pcap), &nfstream_config(1));
        let (theirs, ours, matched) = compare(&nfstream_flows(&csv), &our_flows(&records));
        total_theirs += theirs;
        total_matched += matched;
        writeln!(table, "{name}\t{theirs}\t{ours}\t{matched}").unwrap();
        if let Some(&floor) = golden.get(&name)
            && matched < floor
        {
            regressions.push(format!("{name}: {matched} matched, golden {floor}"));
        }
    }
    let pct = 100.0 * total_matched as f64 / total_theirs.max(1) as f64;
    writeln!(
        table,
        "# total\t{total_theirs}\t-\t{total_matched}\t({pct:.2}%)"
    )
    .unwrap();
    eprintln!("{table}");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
        std::fs::write(&golden_path, &table).unwrap();
        return;
    }
    assert!(
        !golden.is_empty(),
        "no golden file at {}: run with UPDATE_GOLDEN=1",
        golden_path.display()
    );
    assert!(
        regressions.is_empty(),
        "fidelity regressed:\n{}",
        regressions.join("\n")
    );
}

/// A file where we differ from nfstream on purpose, and the switch that restores nfstream's
/// behaviour: with it, every flow of the file must match.
struct Deliberate {
    file: &'static str,
    why: &'static str,
    as_nfstream: fn(&mut PipelineConfig),
}

fn no_tunnels(c: &mut PipelineConfig) {
    c.decoder.decode_tunnels = false;
}

fn drop_fragments(c: &mut PipelineConfig) {
    c.decoder.join_fragments = false;
}

const DELIBERATE: &[Deliberate] = &[
    Deliberate {
        file: "gre.pcapng",
        why: "GRE is decoded as a tunnel (nfstream keeps the outer flow)",
        as_nfstream: no_tunnels,
    },
    Deliberate {
        file: "vxlan.pcap",
        why: "VXLAN is decoded as a tunnel (nfstream keeps the outer flow)",
        as_nfstream: no_tunnels,
    },
    Deliberate {
        file: "dns_fragmented.pcap",
        why: "later IP fragments count in their flow (nfstream ignores them)",
        as_nfstream: drop_fragments,
    },
    Deliberate {
        file: "dnscrypt-v1-and-resolver-pings.pcap",
        why: "later IP fragments count in their flow (nfstream ignores them)",
        as_nfstream: drop_fragments,
    },
    Deliberate {
        file: "ip_fragmented_garbage.pcap",
        why: "later IP fragments count in their flow (nfstream ignores them)",
        as_nfstream: drop_fragments,
    },
];

#[test]
fn deliberate_differences_are_exactly_the_documented_switches() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    for d in DELIBERATE {
        let pcap = dir.join(d.file);
        let theirs = nfstream_flows(&dir.join("nfstream").join(format!("{}.csv", d.file)));
        let (_, ours) = run_files(std::slice::from_ref(&pcap), &nfstream_config(1));
        let (n, _, matched) = compare(&theirs, &our_flows(&ours));
        assert!(
            matched < n,
            "{}: no longer differs ({}); update the list",
            d.file,
            d.why
        );
        let mut cfg = nfstream_config(1);
        (d.as_nfstream)(&mut cfg);
        let (_, ours) = run_files(std::slice::from_ref(&pcap), &cfg);
        let (n, got, matched) = compare(&theirs, &our_flows(&ours));
        assert_eq!(
            (matched, got),
            (n, n),
            "{}: {} — with nfstream's behaviour",
            d.file,
            d.why
        );
    }
}

/// nfstream keeps packet sizes in 16 bits: this fuzzed frame claims 4,093,509,168 bytes on the
/// wire and nfstream reports 65,072 (the value mod 2^16). We report the length as captured.
#[test]
fn oversized_wire_length_is_not_wrapped() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    let file = "fuzz-2021-06-07-c6c72a0a56.pcap";
    let theirs = nfstream_flows(&dir.join("nfstream").join(format!("{file}.csv")));
    let (_, ours) = run_files(&[dir.join(file)], &nfstream_config(1));
    assert_eq!((theirs.len(), ours.len()), (1, 1));
    let bytes = ours[0].bidirectional().bytes;
    assert_eq!(bytes, 4_093_509_168);
    assert_eq!(theirs[0].1.1, bytes % 65_536);
    assert_eq!(theirs[0].0, our_flows(&ours)[0].0, "same flow key");
}

/// Two TCP frames of this capture have a data offset of 0 or options past the end of the
/// frame: nfstream counts them in the flow by their ports, we drop them as `tcp_truncated`
/// (a header we cannot read is not trusted for its ports).
#[test]
fn malformed_tcp_headers_are_dropped_not_counted() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    let file = "reasm_crash_anon.pcapng";
    let theirs = nfstream_flows(&dir.join("nfstream").join(format!("{file}.csv")));
    let (outcome, ours) = run_files(&[dir.join(file)], &nfstream_config(1));
    let tcp_truncated = appliance::packet::DropReason::TcpTruncated as usize;
    assert_eq!(outcome.summary.drops[tcp_truncated], 2);
    assert_eq!(outcome.summary.dropped(), 2);
    assert_eq!((theirs.len(), ours.len()), (1, 1));
    let ours = &our_flows(&ours)[0];
    assert_eq!(theirs[0].0, ours.0, "same flow key");
    assert_eq!(
        theirs[0].1.0,
        ours.1.0 + 2,
        "nfstream has the two dropped frames"
    );
}
