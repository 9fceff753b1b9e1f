//! Sink throughput (issue 5): records/s encoded and written by each sink on one thread, side by
//! side. Records are synthetic (IPv4/IPv6 mix, varied addresses, ports and counters, no
//! `--stats`/`--splt`); each sink writes them in batches of 1024 to a file under `$TMPDIR`
//! (page cache), then flushes. Median of `--runs` (default 5).
//!
//!     cargo run --release -p appliance-bench --bin sinks -- [--records N] [--runs R]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use appliance::export::ExportSink;
use appliance::export::json::{JsonConfig, JsonSink, JsonTarget};
use appliance::export::nmsg::{NmsgConfig, NmsgMessages, NmsgSink, NmsgTarget};
use appliance::export::unirec::{TrapConfig, TrapSink, TrapTarget};
use appliance::flow::FlowRecord;
use appliance_bench::{XorShift, synthetic_record};

fn records(n: usize) -> Vec<FlowRecord> {
    let mut rng = XorShift::default();
    (0..n)
        .map(|i| synthetic_record(i as u64, rng.next_u64(), i % 8 == 0))
        .collect()
}

fn run(sink: &mut dyn ExportSink, recs: &[FlowRecord]) -> Duration {
    let start = Instant::now();
    for chunk in recs.chunks(1024) {
        sink.write_batch(chunk).expect("write");
    }
    sink.flush().expect("flush");
    start.elapsed()
}

fn main() {
    let mut n = 500_000usize;
    let mut runs = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => {
                n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--records N")
            }
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs R"),
            other => panic!("unknown argument {other}; use --records N --runs R"),
        }
    }
    let recs = records(n);
    let dir = std::env::temp_dir().join(format!("xdpflow-sinks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = |name: &str| -> PathBuf { dir.join(name) };
    type Make = Box<dyn Fn() -> Box<dyn ExportSink>>;
    let sinks: Vec<(&str, Make)> = vec![
        (
            "json (file)",
            Box::new(move || -> Box<dyn ExportSink> {
                let p = std::env::temp_dir().join(format!("xdpflow-sinks-{}", std::process::id()));
                let cfg = JsonConfig::new(JsonTarget::File(p.join("out.ndjson")));
                Box::new(JsonSink::new(cfg).expect("json sink"))
            }),
        ),
        (
            "unirec (trap f:)",
            Box::new({
                let p = path("out.trap");
                move || -> Box<dyn ExportSink> {
                    Box::new(
                        TrapSink::new(TrapConfig::new(TrapTarget::File(p.clone()))).expect("trap"),
                    )
                }
            }),
        ),
        (
            "nmsg ipconn (file)",
            Box::new({
                let p = path("out.nmsg");
                move || -> Box<dyn ExportSink> {
                    let mut cfg = NmsgConfig::new(NmsgTarget::File(p.clone()));
                    cfg.messages = NmsgMessages {
                        ipconn: true,
                        encode: false,
                    };
                    Box::new(NmsgSink::new(cfg).expect("nmsg"))
                }
            }),
        ),
        (
            "nmsg ipconn + encode JSON (file)",
            Box::new({
                let p = path("out2.nmsg");
                move || -> Box<dyn ExportSink> {
                    Box::new(
                        NmsgSink::new(NmsgConfig::new(NmsgTarget::File(p.clone()))).expect("nmsg"),
                    )
                }
            }),
        ),
    ];
    println!(
        "\n### sinks: {n} records per run, one thread, batches of 1024, file in the page cache, median of {runs}\n"
    );
    println!("| sink | median s | records/s | bytes/record | runs (s) |");
    println!("|---|---:|---:|---:|---|");
    for (name, make) in &sinks {
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let mut sink = make();
            times.push(run(sink.as_mut(), &recs));
            bytes = sink.stats().bytes;
        }
        let mut sorted = times.clone();
        sorted.sort();
        let median = sorted[runs / 2];
        let list: Vec<String> = times
            .iter()
            .map(|t| format!("{:.3}", t.as_secs_f64()))
            .collect();
        println!(
            "| {name} | {:.3} | {:.2} M | {} | {} |",
            median.as_secs_f64(),
            n as f64 / median.as_secs_f64() / 1e6,
            bytes / n as u64,
            list.join(" ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
