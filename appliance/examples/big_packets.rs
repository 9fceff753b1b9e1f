//! A flow plugin that measures something: the packets over 1000 bytes on the wire, per flow,
//! exported as `udps.packets_over_1000` (nfstream's NFPlugin example, in Rust).
//!
//! ```sh
//! cargo run --release -p appliance --example big_packets -- capture.pcap > flows.ndjson
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use appliance::export::json::JsonSink;
use appliance::flow::{FlowPlugin, FlowView, PluginAction, PluginPacket, Udps};
use appliance::pipeline::{PipelineConfig, run_files};

/// Counts packets over `threshold` bytes.
struct BigPackets {
    threshold: u32,
}

impl BigPackets {
    fn count(&self, pkt: &PluginPacket<'_>, udps: &mut Udps) {
        let n = udps.int("packets_over_1000") + i64::from(pkt.wire_len > self.threshold);
        udps.set("packets_over_1000", n);
    }
}

impl FlowPlugin for BigPackets {
    fn on_init(&mut self, pkt: &PluginPacket<'_>, _flow: &FlowView, udps: &mut Udps) {
        self.count(pkt, udps);
    }

    fn on_update(&mut self, pkt: &PluginPacket<'_>, _: &FlowView, udps: &mut Udps) -> PluginAction {
        self.count(pkt, udps);
        PluginAction::Continue
    }
}

fn main() -> ExitCode {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        eprintln!("usage: big_packets CAPTURE...   (flows as NDJSON on stdout)");
        return ExitCode::from(2);
    }
    let mut cfg = PipelineConfig::default();
    cfg.extras
        .plugins
        .push(Arc::new(|| Box::new(BigPackets { threshold: 1000 })));
    let sink = JsonSink::to_writer("stdout", Box::new(std::io::stdout()));
    match run_files(&files, &cfg, vec![Box::new(sink)]).error {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
