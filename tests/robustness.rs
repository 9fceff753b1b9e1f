//! Bad input: every public capture (several are fuzzed or malformed) runs without a panic;
//! truncated and non-capture files give clear errors, and flows built before the break are
//! still exported.

use std::io::Write;

use appliance::Error;
use appliance::capture::pcap::PcapSource;

use crate::common::{captures, public_pcaps, run_files, run_source};
use crate::fidelity::nfstream_config;

#[test]
fn every_public_capture_runs_without_a_panic() {
    let Some(dir) = public_pcaps() else {
        eprintln!("skipped: ../shared/pcaps/public not found");
        return;
    };
    for pcap in captures(&dir) {
        let (outcome, _) = run_files(std::slice::from_ref(&pcap), &nfstream_config(2));
        let s = &outcome.summary;
        assert_eq!(
            s.decoded + s.dropped(),
            s.frames,
            "{}: every frame accounted",
            pcap.display()
        );
        assert_eq!(
            s.flows_created,
            s.records_exported,
            "{}: every flow exported",
            pcap.display()
        );
        if let Some(e) = &outcome.error {
            eprintln!("{}: {e}", pcap.display());
        }
    }
}

fn sample() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/sample.pcap")).expect("sample")
}

#[test]
fn truncated_capture_names_file_and_offset_and_keeps_flows() {
    let bytes = sample();
    let cut = bytes.len() * 2 / 3;
    let dir = std::env::temp_dir().join(format!("xdpflow-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.pcap");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes[..cut])
        .unwrap();
    let (outcome, records) = run_files(std::slice::from_ref(&path), &nfstream_config(2));
    let err = outcome.error.expect("a truncated file is an error");
    assert!(matches!(err, Error::CaptureTruncated { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("cut.pcap") && msg.contains("offset"), "{msg}");
    assert!(!records.is_empty(), "flows before the cut are exported");
    assert_eq!(
        outcome.summary.flows_created,
        outcome.summary.records_exported
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_capture_file_is_refused_by_name() {
    let path = std::env::temp_dir().join(format!("xdpflow-notpcap-{}.txt", std::process::id()));
    std::fs::write(&path, b"hello, this is not a capture\n").unwrap();
    let err = PcapSource::open(std::slice::from_ref(&path)).unwrap_err();
    assert!(matches!(err, Error::NotACapture { .. }), "{err:?}");
    assert!(err.to_string().contains("not a pcap or pcapng"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_sample_capture_makes_flows() {
    let mut src = PcapSource::from_bytes("sample", Box::leak(sample().into_boxed_slice()));
    let (outcome, records) = run_source(&mut src, &nfstream_config(1));
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(records.len() > 50, "{} flows", records.len());
    assert_eq!(outcome.summary.dropped(), 0, "{:?}", outcome.summary.drops);
}
