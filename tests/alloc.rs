//! The hot path allocates nothing in steady state (STYLE.md §7): the sample capture is replayed
//! twice through decoder + shard under a counting global allocator (`stats_alloc`); the second
//! pass must not allocate at all (the table, free list, fragment table and output vector are
//! all warm by then).
//!
//! The allocator counts process-wide, and other tests of this binary run in parallel, so the
//! test re-runs itself in a child process of this test binary where it is the only test. Even
//! there, libtest's main thread does a little bookkeeping (it allocates) right after it starts
//! the test's thread, and on a loaded machine that can land inside a measured pass. So the
//! test settles first, then measures three warm passes and requires one of them to allocate
//! nothing: an allocation on the hot path would show up in every pass.

use appliance::capture::PacketSource;
use appliance::capture::mem::MemSource;
use appliance::capture::pcap::PcapSource;
use appliance::flow::{EndReason, FlowConfig, FlowPacket, KeyHasher, Shard};
use appliance::packet::{Decoder, DecoderConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const CHILD: &str = "XDPFLOW_ALLOC_CHILD";

#[test]
fn second_pass_through_decoder_and_shard_allocates_nothing() {
    if std::env::var_os(CHILD).is_none() {
        let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "alloc::second_pass_through_decoder_and_shard_allocates_nothing",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .status()
            .expect("re-run the test binary");
        assert!(
            status.success(),
            "the measurement in the child process failed"
        );
        return;
    }
    // The counter must be live, or a zero below would prove nothing.
    let probe = Region::new(GLOBAL);
    let boxed = std::hint::black_box(Box::new([0u8; 64]));
    assert!(
        probe.change().allocations >= 1,
        "the counting allocator is not installed"
    );
    drop(boxed);

    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/sample.pcap"))
        .expect("tests/pcaps/sample.pcap");
    let mut pcap = PcapSource::from_bytes("sample", Box::leak(bytes.into_boxed_slice()));
    let mut mem = MemSource::collect(&mut pcap).expect("sample reads");
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut shard = Shard::new(
        FlowConfig {
            max_flows: 1 << 14,
            ..FlowConfig::default()
        },
        0,
        1,
    );
    let mut out = Vec::with_capacity(1 << 14);

    let mut pass = |mem: &mut MemSource, out: &mut Vec<_>| -> (usize, usize) {
        mem.rewind();
        out.clear();
        let region = Region::new(GLOBAL);
        let mut now = 0;
        while mem
            .next_batch(256, &mut |f| {
                now = f.ts_ns;
                if let Ok(d) = decoder.decode(f.link, f.data, f.ts_ns) {
                    shard.process(&FlowPacket::new(&hasher, d, f.ts_ns, f.wire_len), out);
                }
            })
            .expect("memory source")
            > 0
        {
            shard.advance(now, out);
        }
        shard.drain(EndReason::Shutdown, out);
        let change = region.change();
        (change.allocations + change.reallocations, out.len())
    };
    let (first_allocs, first_records) = pass(&mut mem, &mut out);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut warm = Vec::new();
    for _ in 0..3 {
        let (allocs, records) = pass(&mut mem, &mut out);
        assert_eq!(records, first_records, "every pass makes the same records");
        warm.push(allocs);
    }
    eprintln!("first pass: {first_allocs} allocations; warm passes: {warm:?}");
    assert!(first_records > 50, "{first_records} records");
    let least = warm.iter().copied().min().unwrap_or(usize::MAX);
    assert_eq!(least, 0, "every warm pass allocated: {warm:?}");
}
