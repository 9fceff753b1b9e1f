//! Test support for dissector authors: runs a public capture through a [`Dpi`] engine with a
//! simple flow table (no expiry: one flow per 5-tuple, oriented by its first packet) and
//! compares the masters found with nfstream's labels.

use std::collections::HashMap;

use super::dns::captures::{self, Key};
use super::{Dissector, Dpi, DpiConfig, FlowDpi, FlowIdentity, Packet};

/// One flow of a capture as the harness saw it.
#[derive(Debug)]
pub struct HarnessFlow {
    /// Identity in the flow's orientation.
    pub id: FlowIdentity,
    /// DPI state (result) if the flow carried payload.
    pub dpi: Option<Box<FlowDpi>>,
    packets: u32,
}

/// Runs `file` through `dissectors` (all built-ins when `None`); `None` when the capture is
/// missing (after printing "skipped: ...").
pub fn run_capture(
    file: &str,
    dissectors: Option<Vec<Box<dyn Dissector>>>,
) -> Option<(Dpi, HashMap<Key, HarnessFlow>)> {
    let cfg = DpiConfig::default();
    let mut dpi = match dissectors {
        Some(d) => Dpi::with_dissectors(cfg, d),
        None => Dpi::new(cfg),
    };
    let mut flows: HashMap<Key, HarnessFlow> = HashMap::new();
    let found = captures::for_each_payload(file, |t, flags, payload| {
        let key = captures::key(t);
        let f = flows.entry(key).or_insert_with(|| HarnessFlow {
            id: FlowIdentity {
                protocol: t.protocol,
                ip_version: t.ip_version,
                src_ip: t.src_ip,
                dst_ip: t.dst_ip,
                src_port: t.src_port,
                dst_port: t.dst_port,
            },
            dpi: None,
            packets: 0,
        });
        let index = f.packets;
        f.packets += 1;
        if payload.is_empty() || index >= dpi.n_dissections() {
            return;
        }
        let dir = u8::from(!(t.src_ip == f.id.src_ip && t.src_port == f.id.src_port));
        let pkt = Packet {
            payload,
            dir,
            protocol: t.protocol,
            src_port: f.id.src_port,
            dst_port: f.id.dst_port,
            tcp_flags: flags,
            index,
            ip_version: t.ip_version,
            src_ip: f.id.src_ip,
            dst_ip: f.id.dst_ip,
        };
        let state = f.dpi.get_or_insert_with(|| dpi.alloc());
        dpi.on_packet(state, &pkt);
    });
    found.then_some((dpi, flows))
}

/// For `file`: (flows nfstream labels with a master in `masters`, of those the ones whose
/// master we found equal). Prints each disagreement. `None` when the capture is missing.
pub fn master_agreement(file: &str, masters: &[&str]) -> Option<(usize, usize)> {
    let (_, flows) = run_capture(file, None)?;
    let theirs = captures::nfstream_names(file);
    let (mut total, mut equal) = (0, 0);
    for (key, rows) in &theirs {
        for (app, _) in rows {
            let master = app.split('.').next().unwrap_or("");
            if !masters.contains(&master) {
                continue;
            }
            total += 1;
            let ours = flows
                .get(key)
                .and_then(|f| f.dpi.as_ref())
                .and_then(|d| d.result.master);
            if ours == Some(master) {
                equal += 1;
            } else {
                println!("{file}: {key:?}: nfstream {app}, ours {ours:?}");
            }
        }
    }
    Some((total, equal))
}
