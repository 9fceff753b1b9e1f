//! Writes the sample capture shipped as `tests/pcaps/sample.pcap`.
//!
//! Usage: `cargo run -p appliance-tests --bin gen-sample-pcap -- tests/pcaps/sample.pcap`
//! (`-` writes to standard output). It prints the per-kind flow table that
//! `tests/pcaps/README.md` carries; the generator itself lives in `appliance_tests::pcapgen`.

use std::io::Write as _;
use std::process::ExitCode;

use appliance_tests::pcapgen;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: gen-sample-pcap <output.pcap | ->");
        return ExitCode::from(2);
    };
    let sample = pcapgen::generate();
    let written = if path == "-" {
        std::io::stdout().lock().write_all(&sample.pcap)
    } else {
        std::fs::write(&path, &sample.pcap)
    };
    if let Err(err) = written {
        eprintln!("error: writing `{}` failed: {err}", path.to_string_lossy());
        return ExitCode::from(1);
    }
    eprintln!(
        "wrote {} bytes: {} packets, {} flows over {:.1} s",
        sample.pcap.len(),
        sample.packets(),
        sample.flows(),
        sample.duration_us as f64 / 1e6
    );
    eprint!("{}", sample.markdown_table());
    ExitCode::SUCCESS
}
