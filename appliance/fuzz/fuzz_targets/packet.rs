//! Any bytes through the decoder and the flow table: no panic, and the decoder's promises hold.
//! `data[0]` picks the link type; the rest is the frame. Frames are fed twice, the second time
//! through a shard, so first/later IP fragments and flow expiry see each other.
#![no_main]

use appliance::flow::{EndReason, FlowConfig, FlowPacket, KeyHasher, Shard};
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
    let mut shard = Shard::new(FlowConfig { max_flows: 2, ..FlowConfig::default() }, 0, 1);
    let mut out = Vec::new();
    // Split the input into up to 4 frames at 0xff 0xfe markers, so one input can hold a first
    // fragment and its later fragments.
    for (n, frame) in rest.split(|&b| b == 0xfe).take(4).enumerate() {
        let ts = n as u64 * 1_000_000_000;
        if let Ok(d) = decoder.decode(link, frame, ts) {
            let end = d.payload_offset as usize + d.payload_len as usize;
            assert!(end <= frame.len(), "payload past the frame end");
            shard.process(&FlowPacket::new(&hasher, d, ts, frame.len() as u32), &mut out);
        }
    }
    shard.drain(EndReason::Shutdown, &mut out);
    assert_eq!(shard.live(), 0);
});
