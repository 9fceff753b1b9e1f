//! Determinism: for the same input, the set of records (ids aside) is identical for any
//! `--workers` (issue 2, item 7).

use appliance::flow::FlowRecord;

use crate::common::{captures, public_pcaps, run_files};
use crate::fidelity::nfstream_config;

/// A record without its id, as a comparable string (every field, Debug-formatted).
fn canonical(records: &[FlowRecord]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| format!("{:?}", FlowRecord { id: 0, ..r.clone() }))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn records_do_not_depend_on_the_worker_count() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    // The whole public set as one input: many flows, tunnels, fragments, odd link types.
    let files = captures(&dir);
    let mut cfg = nfstream_config(1);
    cfg.flow.tcp_end = true;
    cfg.flow.stats = true;
    cfg.flow.splt = 5;
    let (_, one) = run_files(&files, &cfg);
    assert!(one.len() > 3000, "{} records", one.len());
    let one = canonical(&one);
    for workers in [2, 3, 7] {
        cfg.workers = workers;
        let (_, many) = run_files(&files, &cfg);
        let many = canonical(&many);
        assert_eq!(one.len(), many.len(), "record count with {workers} workers");
        let diff: Vec<_> = one
            .iter()
            .zip(&many)
            .filter(|(a, b)| a != b)
            .take(3)
            .collect();
        assert!(diff.is_empty(), "{workers} workers differ, e.g. {diff:#?}");
    }
}
