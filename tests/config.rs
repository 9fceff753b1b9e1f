//! The configuration file end to end (issue 6): the `xdpflow` binary reads `--config FILE`,
//! the command line overrides it, and `xdpflow check-config` accepts the shipped example and
//! names the line of each mistake.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::xdpflow;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("xdpflow-config-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(args: &[&str]) -> (i32, String) {
    let Output { status, stderr, .. } = Command::new(xdpflow())
        .args(args)
        .output()
        .expect("xdpflow runs");
    (
        status.code().expect("exited"),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The records of an NDJSON file.
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

fn count(records: &[Value], end_reason: &str) -> usize {
    records
        .iter()
        .filter(|r| r["end_reason"] == end_reason)
        .count()
}

#[test]
fn check_config_accepts_the_deployed_example() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/xdpflow.toml");
    let (code, err) = run(&["check-config", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("xdpflow.toml is valid"), "{err}");
}

#[test]
fn check_config_names_each_mistake_and_its_line() {
    let dir = scratch("check");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "# a sensor\n\
         [capture]\n\
         iface = \"eth1\"\n\
         [flow]\n\
         idle_timout = 30\n\
         active_timeout = 0\n\
         queues = \"0-3\"\n",
    )
    .unwrap();
    let (code, err) = run(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let f = file.display();
    for want in [
        format!("{f} has 3 errors:"),
        format!(
            "{f} line 5: `idle_timout = 30`: unknown key `idle_timout`; did you mean \
             `idle_timeout` (in [flow])?"
        ),
        format!("{f} line 6: `active_timeout = 0`: must be at least 1 second"),
        format!(
            "{f} line 7: `queues = \"0-3\"`: `queues` belongs in [capture], not [flow]: move \
             it there"
        ),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    // `run` refuses the same file before touching anything, with the same messages.
    let (code, run_err) = run(&["run", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{run_err}");
    assert!(
        run_err.contains("line 6: `active_timeout = 0`"),
        "{run_err}"
    );
    let (code, err) = run(&["check-config", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read config file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pcap_runs_with_the_file_and_the_command_line_overrides_it() {
    let dir = scratch("pcap");
    let from_file = dir.join("file.ndjson");
    let from_cli = dir.join("cli.ndjson");
    let config = dir.join("xdpflow.toml");
    // [capture] is for `run`: `pcap` skips it, so one file serves both.
    std::fs::write(
        &config,
        format!(
            "[capture]\niface = \"eth1\"\n\
             [flow]\ntcp_end = \"off\"\n\
             [output]\njson = [\"{}\"]\nquiet = true\nprogress = \"never\"\n",
            from_file.display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();

    // The file alone: its sink, TCP flows kept until a timeout, no summary.
    let (code, err) = run(&["pcap", "--config", c]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("flows "), "quiet = true: no summary\n{err}");
    let got = records(&from_file);
    assert!(!got.is_empty());
    assert_eq!(
        count(&got, "end"),
        0,
        "tcp_end = off: no flow ends on FIN/RST"
    );

    // The command line wins: its `--json` replaces the file's list, `--tcp-end on` the value.
    std::fs::remove_file(&from_file).unwrap();
    let (code, err) = run(&[
        "pcap",
        "--tcp-end",
        "on",
        "--config",
        c,
        "--json",
        from_cli.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!from_file.exists(), "the file's json sink was replaced");
    let got = records(&from_cli);
    assert!(
        count(&got, "end") > 0,
        "--tcp-end on: TCP flows end on FIN/RST"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
