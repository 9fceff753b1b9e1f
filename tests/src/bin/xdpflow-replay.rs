//! The kernel-path traffic generator as a command, for `bench/live.sh`: replays capture files
//! or a synthetic UDP load into an interface through AF_XDP TX sockets, one per queue, each
//! frame on the queue its flow hashes to (see `appliance_tests::replay`).
//!
//! Usage:
//!   xdpflow-replay --netns NS --iface IF --queues N \[--rate PPS\] \[--loops K\]
//!                  (--synthetic FLOWS:PACKETS\[:LEN\] | FILE...)
//! Prints one JSON line: frames, bytes, seconds, pps.

use std::path::PathBuf;
use std::process::ExitCode;

use appliance_tests::replay::Replay;

fn main() -> ExitCode {
    let mut netns = None;
    let mut iface = None;
    let mut queues = 1u32;
    let mut rate = None;
    let mut loops = 1u32;
    let mut synthetic = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--netns" => netns = Some(val("--netns")),
            "--iface" => iface = Some(val("--iface")),
            "--queues" => queues = num(&val("--queues"), "--queues"),
            "--rate" => rate = Some(num(&val("--rate"), "--rate")),
            "--loops" => loops = num(&val("--loops"), "--loops"),
            "--synthetic" => synthetic = Some(val("--synthetic")),
            "-h" | "--help" => usage(""),
            f => files.push(PathBuf::from(f)),
        }
    }
    let iface = iface.unwrap_or_else(|| usage("--iface is required"));
    let replay = match synthetic {
        Some(spec) => {
            let parts: Vec<u64> = spec.split(':').map(|p| num(p, "--synthetic")).collect();
            let (flows, packets) = match parts[..] {
                [f, p] | [f, p, _] => (f, p),
                _ => usage("--synthetic FLOWS:PACKETS[:LEN]"),
            };
            let len = parts.get(2).copied().unwrap_or(64);
            Replay::synthetic(flows as u32, packets, len as usize, queues)
        }
        None if !files.is_empty() => Replay::load(&files, queues),
        None => usage("give capture files or --synthetic"),
    };
    if let Some(ns) = netns
        && let Err(e) = xdp_prog::enter_netns(&ns)
    {
        eprintln!("xdpflow-replay: {e}");
        return ExitCode::from(1);
    }
    let (mut frames, mut bytes, mut secs) = (0u64, 0u64, 0f64);
    for _ in 0..loops {
        match replay.send(&iface, queues, rate) {
            Ok(r) => {
                frames += r.frames;
                bytes += r.bytes;
                secs += r.elapsed.as_secs_f64();
            }
            Err(e) => {
                eprintln!("xdpflow-replay: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "{{\"frames\":{frames},\"bytes\":{bytes},\"seconds\":{secs:.3},\"pps\":{:.0}}}",
        frames as f64 / secs.max(1e-9)
    );
    ExitCode::SUCCESS
}

fn num<T: std::str::FromStr>(s: &str, name: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| usage(&format!("{name}: `{s}` is not a number")))
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("xdpflow-replay: {msg}");
    }
    eprintln!(
        "usage: xdpflow-replay --netns NS --iface IF --queues N [--rate PPS] [--loops K] \
         (--synthetic FLOWS:PACKETS[:LEN] | FILE...)"
    );
    std::process::exit(2)
}
