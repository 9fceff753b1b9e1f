//! A flow plugin that classifies: the sizes of a flow's first three packets give it a label,
//! exported as `udps.size_label` — `bulk` (one of them ≥ 1000 bytes), `chatty` (all under
//! 200), `mixed`, or `short` (the flow ended before its third packet). With `--end-early` the
//! flow is ended as soon as it has its label (`end_reason` `plugin`), as nfstream classifiers
//! do with `expiration_id = -1`: later packets start a new flow.
//!
//! ```sh
//! cargo run --release -p appliance --example size_classifier -- capture.pcap [--end-early]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use appliance::export::json::JsonSink;
use appliance::flow::{FlowPlugin, FlowView, PluginAction, PluginPacket, Udps};
use appliance::pipeline::{PipelineConfig, run_files};

const SIZES: [&str; 3] = ["size_1", "size_2", "size_3"];

struct SizeClassifier {
    end_early: bool,
}

/// The label of three packet sizes.
fn label(sizes: [i64; 3]) -> &'static str {
    if sizes.iter().any(|&s| s >= 1000) {
        "bulk"
    } else if sizes.iter().all(|&s| s < 200) {
        "chatty"
    } else {
        "mixed"
    }
}

impl SizeClassifier {
    /// Records the packet's size while the flow has fewer than three; labels it at the third.
    fn see(&self, pkt: &PluginPacket<'_>, flow: &FlowView, udps: &mut Udps) -> PluginAction {
        let n = flow.bidirectional_packets() as usize;
        if n > SIZES.len() {
            return PluginAction::Continue;
        }
        udps.set(SIZES[n - 1], i64::from(pkt.wire_len));
        if n < SIZES.len() {
            return PluginAction::Continue;
        }
        udps.set("size_label", label(SIZES.map(|k| udps.int(k))));
        if self.end_early {
            PluginAction::EndFlow
        } else {
            PluginAction::Continue
        }
    }
}

impl FlowPlugin for SizeClassifier {
    fn on_init(&mut self, pkt: &PluginPacket<'_>, flow: &FlowView, udps: &mut Udps) {
        self.see(pkt, flow, udps);
    }

    fn on_update(
        &mut self,
        pkt: &PluginPacket<'_>,
        flow: &FlowView,
        udps: &mut Udps,
    ) -> PluginAction {
        self.see(pkt, flow, udps)
    }

    fn on_expire(&mut self, _flow: &FlowView, udps: &mut Udps) {
        if udps.get("size_label").is_none() {
            udps.set("size_label", "short");
        }
    }
}

fn main() -> ExitCode {
    let mut end_early = false;
    let mut files = Vec::new();
    for a in std::env::args_os().skip(1) {
        if a == "--end-early" {
            end_early = true;
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        eprintln!("usage: size_classifier CAPTURE... [--end-early]   (flows as NDJSON on stdout)");
        return ExitCode::from(2);
    }
    let mut cfg = PipelineConfig::default();
    cfg.extras
        .plugins
        .push(Arc::new(move || Box::new(SizeClassifier { end_early })));
    let sink = JsonSink::to_writer("stdout", Box::new(std::io::stdout()));
    match run_files(&files, &cfg, vec![Box::new(sink)]).error {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
