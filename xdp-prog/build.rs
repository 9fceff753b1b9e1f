//! Picks the XDP steering program that `loader.rs` embeds.
//!
//! With `clang` on `PATH`, compiles `bpf/xdp_steer.bpf.c` into `OUT_DIR` through `bpf/build.sh`
//! (one command, one set of flags, for cargo and CI alike). Without it, or with
//! `XDPFLOW_BPF_PREBUILT=1`, uses the committed `bpf/xdp_steer.bpf.o`, so a fresh `cargo build`
//! needs no clang. Never writes into the source tree: refreshing the committed object is a
//! deliberate `bpf/build.sh`, which `.ci/run` checks was done.
//!
//! Either way the chosen path is passed to the crate as `XDP_STEER_OBJ`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let bpf = manifest.join("../bpf");
    for file in ["xdp_steer.bpf.c", "common.h", "build.sh", "xdp_steer.bpf.o"] {
        println!("cargo:rerun-if-changed={}", bpf.join(file).display());
    }
    println!("cargo:rerun-if-env-changed=XDPFLOW_BPF_PREBUILT");
    println!("cargo:rerun-if-env-changed=CLANG");

    let committed = bpf.join("xdp_steer.bpf.o");
    let prebuilt = env::var_os("XDPFLOW_BPF_PREBUILT").is_some_and(|v| v == "1");
    let obj = if !prebuilt && clang_available() {
        let out =
            PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("xdp_steer.bpf.o");
        compile(&bpf, &out);
        out
    } else {
        committed
    };
    println!("cargo:rustc-env=XDP_STEER_OBJ={}", obj.display());
}

fn clang_available() -> bool {
    let clang = env::var_os("CLANG").unwrap_or_else(|| "clang".into());
    Command::new(clang)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `bpf/build.sh OUT`; a failure stops the build with clang's message, because a source
/// that does not compile must not be papered over by a stale committed object.
fn compile(bpf: &Path, out: &Path) {
    let result = Command::new("sh")
        .arg(bpf.join("build.sh"))
        .arg(out)
        .output();
    match result {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "bpf/build.sh failed ({}); fix bpf/xdp_steer.bpf.c, or build with \
             XDPFLOW_BPF_PREBUILT=1 to embed the committed object:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("running bpf/build.sh: {e}"),
    }
}
