//! Any bytes through the decoder, the flow table and DPI (every built-in dissector, with each
//! frame's payload): no panic, and the decoder's promises hold. `data[0]` picks the link type;
//! the rest is up to 4 frames, so first/later IP fragments, flow expiry and multi-packet
//! dissection see each other.
#![no_main]

use std::sync::OnceLock;

use appliance::dpi::DpiConfig;
use appliance::flow::{EndReason, FlowConfig, FlowPacket, KeyHasher, Shard, ShardExtras};
use appliance::packet::{Decoder, DecoderConfig, LinkType};
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 12] = [0, 1, 9, 50, 101, 104, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let link = LinkType::from_number(LINKS[usize::from(pick) % LINKS.len()]);
    let mut decoder = Decoder::new(DecoderConfig { max_fragments: 4, ..DecoderConfig::default() });
    let hasher = KeyHasher::default();
    // Built once: the application table is parsed at start in the appliance too.
    static EXTRAS: OnceLock<ShardExtras> = OnceLock::new();
    let extras = EXTRAS
        .get_or_init(|| ShardExtras { dpi: Some(DpiConfig::default()), plugins: Vec::new() });
    let mut shard =
        Shard::with_extras(FlowConfig { max_flows: 2, ..FlowConfig::default() }, 0, 1, extras);
    let mut out = Vec::new();
    // Split the input into up to 4 frames at 0xff 0xfe markers, so one input can hold a first
    // fragment and its later fragments.
    for (n, frame) in rest.split(|&b| b == 0xfe).take(4).enumerate() {
        let ts = n as u64 * 1_000_000_000;
        if let Ok(d) = decoder.decode(link, frame, ts) {
            let end = d.payload_offset as usize + d.payload_len as usize;
            assert!(end <= frame.len(), "payload past the frame end");
            let payload = &frame[d.payload_offset as usize..end];
            let p = FlowPacket::new(&hasher, d, ts, frame.len() as u32);
            shard.process_with(&p, payload, &mut out);
        }
    }
    shard.drain(EndReason::Shutdown, &mut out);
    assert_eq!(shard.live(), 0);
});
