//! Helpers: locating `../shared`, running the engine over files into memory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use appliance::capture::PacketSource;
use appliance::capture::pcap::PcapSource;
use appliance::export::ExportSink;
use appliance::flow::FlowRecord;
use appliance::pipeline::{Counters, Outcome, PipelineConfig, run_offline};

/// The `xdpflow` binary of this workspace (same profile as the tests), rebuilt once per test
/// run so no test runs a stale binary (cargo builds the binary for `cargo test --workspace`,
/// but not when only this crate's tests run).
pub fn xdpflow() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| build(&["--bin", "xdpflow"]).join("xdpflow"))
        .clone()
}

/// The plugin examples of `appliance/examples/`, built once per test run; returns the path of
/// example `name`.
pub fn example(name: &str) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| build(&["--examples"]).join("examples"))
        .join(name)
}

/// `cargo build -p appliance ARGS` in the tests' profile; returns `target/<profile>`.
fn build(args: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "appliance"]).args(args);
    if dir.file_name() == Some("release".as_ref()) {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().expect("cargo runs").success(),
        "cargo build -p appliance {args:?} failed"
    );
    dir.to_path_buf()
}

/// `../shared/pcaps/public` next to the repository, if present.
pub fn public_pcaps() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public");
    dir.is_dir().then_some(dir)
}

/// Every capture file in `dir`, sorted by name.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable pcaps dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    v
}

/// Collects records in memory.
pub struct Collect(pub Arc<Mutex<Vec<FlowRecord>>>);

impl ExportSink for Collect {
    fn name(&self) -> &'static str {
        "collect"
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), appliance::Error> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(records);
        Ok(())
    }
}

/// Runs `source` through the pipeline; returns the outcome and every record.
pub fn run_source(
    source: &mut dyn PacketSource,
    cfg: &PipelineConfig,
) -> (Outcome, Vec<FlowRecord>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sinks: Vec<Box<dyn ExportSink>> = vec![Box::new(Collect(Arc::clone(&got)))];
    let outcome = run_offline(source, cfg, sinks, &Arc::new(Counters::default()), None);
    let records = std::mem::take(&mut *got.lock().expect("not poisoned"));
    (outcome, records)
}

/// Runs files through the pipeline.
pub fn run_files(files: &[PathBuf], cfg: &PipelineConfig) -> (Outcome, Vec<FlowRecord>) {
    let mut source = PcapSource::open(files).expect("capture opens");
    run_source(&mut source, cfg)
}
