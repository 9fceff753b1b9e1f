//! Flow plugins, through the two examples of `appliance/examples/` run as programs on the
//! shipped sample capture, checked against `xdpflow pcap --splt` on the same file (the first
//! packets' sizes, computed by the flow table itself, not by a plugin).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{example, xdpflow};

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/sample.pcap")
}

fn ndjson(out: std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Flow key and first-seen time: the same flow in two runs.
fn key(v: &Value) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        v["src_ip"],
        v["src_port"],
        v["dst_ip"],
        v["dst_port"],
        v["protocol"],
        v["bidirectional_first_seen_ms"]
    )
}

/// Every flow of the sample with its first 255 packet sizes (wire length), by key.
fn reference() -> HashMap<String, Vec<i64>> {
    let out = Command::new(xdpflow())
        .arg("pcap")
        .arg(sample())
        .args(["--splt", "255", "--json", "-", "-q", "--progress", "never"])
        .output()
        .expect("xdpflow runs");
    ndjson(out)
        .iter()
        .map(|v| {
            let ps = v["splt_ps"].as_array().expect("splt_ps");
            let sizes = ps.iter().map(|x| x.as_i64().unwrap()).filter(|&s| s >= 0);
            (key(v), sizes.collect())
        })
        .collect()
}

#[test]
fn metric_plugin_counts_packets_over_1000_bytes() {
    let flows = ndjson(
        Command::new(example("big_packets"))
            .arg(sample())
            .output()
            .expect("example runs"),
    );
    let reference = reference();
    assert_eq!(flows.len(), reference.len(), "same flows as xdpflow pcap");
    let mut big = 0;
    for f in &flows {
        let sizes = &reference[&key(f)];
        assert!(sizes.len() < 255, "flow longer than the reference window");
        let expected = sizes.iter().filter(|&&s| s > 1000).count() as i64;
        assert_eq!(f["udps"]["packets_over_1000"], expected, "flow {}", key(f));
        big += expected;
    }
    assert!(big > 0, "the sample has packets over 1000 bytes");
}

#[test]
fn classifier_plugin_labels_flows_and_can_end_them_early() {
    let reference = reference();
    let label = |s: &[i64]| -> &str {
        if s.len() < 3 {
            "short"
        } else if s[..3].iter().any(|&x| x >= 1000) {
            "bulk"
        } else if s[..3].iter().all(|&x| x < 200) {
            "chatty"
        } else {
            "mixed"
        }
    };
    let flows = ndjson(
        Command::new(example("size_classifier"))
            .arg(sample())
            .output()
            .expect("example runs"),
    );
    assert_eq!(flows.len(), reference.len());
    let mut seen = HashMap::new();
    for f in &flows {
        let want = label(&reference[&key(f)]);
        assert_eq!(f["udps"]["size_label"], want, "flow {}", key(f));
        *seen.entry(want).or_insert(0) += 1;
    }
    assert!(seen.len() >= 3, "the sample gives several labels: {seen:?}");

    // --end-early: every flow that reached 3 packets ends there, with end_reason "plugin";
    // its remaining packets make new flows, so no packet is lost.
    let early = ndjson(
        Command::new(example("size_classifier"))
            .arg(sample())
            .arg("--end-early")
            .output()
            .expect("example runs"),
    );
    let total = |v: &[Value]| -> i64 {
        v.iter()
            .map(|f| f["bidirectional_packets"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(total(&early), total(&flows), "no packet lost");
    let ended: Vec<&Value> = early
        .iter()
        .filter(|f| f["end_reason"] == "plugin")
        .collect();
    assert!(!ended.is_empty());
    for f in &ended {
        assert_eq!(f["bidirectional_packets"], 3, "ended at its third packet");
        assert_ne!(f["udps"]["size_label"], "short");
    }
    assert!(
        early.len() > flows.len(),
        "the rest of long flows start new flows"
    );
}
