//! The systemd service (issue 6): `deploy/systemd/xdpflow.service` says what it must, the
//! binary speaks `sd_notify` (READY, WATCHDOG, STOPPING) to a socket like systemd's, and the
//! capabilities the unit grants are exactly what capture needs as a non-root user: with them
//! capture works, without any one of them `xdpflow run` exits 1 naming it.
//!
//! The kernel-path tests need root, `setpriv` (util-linux) and `ip` (iproute2); without them
//! they print why they skip. `.ci/run` also checks the unit with `systemd-analyze verify` and
//! that the Debian package ships this very unit.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use appliance_tests::netns::{CAP_IF, GEN_IF, VethLab, skip_unless_root};
use appliance_tests::replay::Replay;
use serde_json::Value;

/// The unit, as shipped.
const UNIT: &str = include_str!("../deploy/systemd/xdpflow.service");
/// The example configuration the unit starts with (`/etc/xdpflow/xdpflow.toml`).
const CONFIG: &str = include_str!("../deploy/xdpflow.toml");

/// `nobody`: a user with no privileges of its own.
const NOBODY: u32 = 65534;

/// `[Service]` settings of the unit: key → every value given (in order; blank lines and
/// comments skipped).
fn service_section(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut section = "";
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[Service]"
            && let Some((k, v)) = line.split_once('=')
        {
            out.entry(k.trim().to_owned())
                .or_default()
                .push(v.trim().to_owned());
        }
    }
    out
}

/// The unit's capability set, lower case without `cap_` (as `setpriv` takes them). Panics
/// unless `AmbientCapabilities=` and `CapabilityBoundingSet=` list the same set.
fn unit_capabilities() -> Vec<String> {
    let s = service_section(UNIT);
    let set = |key: &str| -> Vec<String> {
        let mut caps: Vec<String> = s
            .get(key)
            .unwrap_or_else(|| panic!("the unit sets {key}="))
            .iter()
            .flat_map(|v| v.split_whitespace())
            .map(|c| {
                c.strip_prefix("CAP_")
                    .unwrap_or_else(|| panic!("{key}: {c} is not CAP_*"))
                    .to_ascii_lowercase()
            })
            .collect();
        caps.sort();
        caps
    };
    let ambient = set("AmbientCapabilities");
    assert_eq!(
        ambient,
        set("CapabilityBoundingSet"),
        "the unit grants (ambient) exactly what it allows (bounding set)"
    );
    ambient
}

#[test]
fn the_unit_says_what_it_must() {
    let s = service_section(UNIT);
    let one = |key: &str| -> &str {
        match s.get(key).map(Vec::as_slice) {
            Some([v]) => v,
            other => panic!("the unit must set {key}= once, has {other:?}"),
        }
    };
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        (
            "ExecStart",
            "/usr/bin/xdpflow run --config /etc/xdpflow/xdpflow.toml",
        ),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("WatchdogSec", "30s"),
        ("Restart", "on-failure"),
        ("RestartSec", "2s"),
        ("DynamicUser", "yes"),
        ("LimitMEMLOCK", "infinity"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RuntimeDirectory", "xdpflow"),
        ("StateDirectory", "xdpflow"),
        ("Environment", "TRAP_SOCKET_DIR=/run/xdpflow"),
    ] {
        assert_eq!(one(key), want, "{key}=");
    }
    assert!(
        !s.contains_key("User"),
        "no User=: a dynamic user, never root"
    );
    let caps = unit_capabilities();
    assert_eq!(
        caps,
        ["bpf", "ipc_lock", "net_admin", "net_raw", "perfmon"],
        "the capabilities tested below (a_unit_capability_set_*)"
    );
    assert!(UNIT.contains("WantedBy=multi-user.target"));
}

/// With `ProtectSystem=strict` the service can write only its own directories: every file the
/// example configuration writes must be under them.
#[test]
fn the_example_config_writes_only_where_the_unit_allows() {
    let mut paths = 0;
    for line in CONFIG.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        for quoted in line.split('"').skip(1).step_by(2) {
            let path = ["file:", "f:"]
                .iter()
                .find_map(|p| quoted.strip_prefix(p))
                .unwrap_or(quoted);
            if path.starts_with('/') {
                paths += 1;
                assert!(
                    path.starts_with("/var/lib/xdpflow/") || path.starts_with("/run/xdpflow/"),
                    "deploy/xdpflow.toml writes {path}, outside the unit's StateDirectory \
                     (/var/lib/xdpflow) and RuntimeDirectory (/run/xdpflow): `{line}`"
                );
            }
        }
    }
    assert!(paths > 0, "the example config writes a file");
}

/// The `xdpflow` binary (`common::xdpflow`), copied where any user may run it.
fn xdpflow() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = crate::common::xdpflow();
        remove_stale_copies();
        let dir = scratch("bin", 0o755);
        let copy = dir.join("xdpflow");
        std::fs::copy(&bin, &copy).expect("copy xdpflow");
        copy
    })
}

/// Removes the binary copies of earlier runs whose process is gone (a copy must outlive every
/// test of its run, so no run can remove its own).
fn remove_stale_copies() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("xdpflow-service-"))
            .and_then(|n| n.strip_suffix("-bin"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A fresh directory, `mode`, owned by `nobody` (so a capture running as that user can write
/// into it).
fn scratch(name: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("xdpflow-service-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).expect("chown scratch dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    dir
}

/// A running `xdpflow`, its stderr collected line by line.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xdpflow starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Running { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Waits until the log shows `needle`; `Err(log)` if the process exits or 20 s pass.
    fn wait_for(&mut self, needle: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no `{needle}` in 20 s:\n{}", self.log()))
    }

    /// SIGTERM, then the exit code and the log.
    fn stop(self) -> (i32, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM failed");
        self.wait()
    }

    /// Waits (30 s at most) for the exit: its code and the log.
    fn wait(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "xdpflow did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(200)); // the stderr thread's last lines
        (status.code().unwrap_or(-1), self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Datagrams received on `sock` until `until` matches one or `timeout` passes.
fn receive(sock: &UnixDatagram, timeout: Duration, until: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        let Ok(n) = sock.recv(&mut buf) else { break };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        let done = until(&msg);
        got.push(msg);
        if done {
            break;
        }
    }
    got
}

fn xdp_attached(lab: &VethLab) -> bool {
    let out = lab.exec(&["ip", "-d", "link", "show", CAP_IF]);
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

#[test]
fn sd_notify_ready_watchdog_stopping() {
    if !skip_unless_root("sd_notify_ready_watchdog_stopping") {
        return;
    }
    let dir = scratch("notify", 0o700);
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    let lab = VethLab::create(2);
    let mut cmd = lab.command(xdpflow().to_str().expect("utf-8 path"));
    cmd.args([
        "run",
        "-i",
        CAP_IF,
        "--json",
        "/dev/null",
        "--progress",
        "never",
    ])
    .env("NOTIFY_SOCKET", &path)
    .env("WATCHDOG_USEC", "2000000")
    .env_remove("WATCHDOG_PID");
    let run = Running::spawn(cmd);

    let first = receive(&sock, Duration::from_secs(20), |_| true);
    let ready = first.first().unwrap_or_else(|| {
        panic!("no notification in 20 s; log:\n{}", run.log());
    });
    assert!(
        ready.lines().any(|l| l == "READY=1") && ready.lines().any(|l| l.starts_with("STATUS=")),
        "the first notification is READY=1 with a STATUS= line: {ready:?}"
    );
    // READY comes once capture has started: the program is attached and the log says so.
    assert!(
        xdp_attached(&lab),
        "READY=1 before the XDP program was attached"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while !run.log().contains("Capture started.") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(run.log().contains("Capture started."), "{}", run.log());

    // WATCHDOG_USEC = 2 s: a ping every second (half of it), not at every 500 ms tick.
    let t0 = Instant::now();
    let pings = receive(&sock, Duration::from_millis(3200), |_| false);
    let watchdogs = pings.iter().filter(|m| m.trim() == "WATCHDOG=1").count();
    assert_eq!(
        watchdogs,
        pings.len(),
        "only WATCHDOG=1 while running: {pings:?}"
    );
    assert!(
        (2..=4).contains(&watchdogs),
        "about one WATCHDOG=1 per second in {:?}: {pings:?}",
        t0.elapsed()
    );

    let (code, log) = run.stop();
    let last = receive(&sock, Duration::from_secs(1), |m| m.contains("STOPPING=1"));
    assert!(
        last.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")),
        "STOPPING=1 after SIGTERM: {last:?}\n{log}"
    );
    assert_eq!(code, 0, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_notify_socket_is_logged_and_capture_goes_on() {
    if !skip_unless_root("a_missing_notify_socket_is_logged_and_capture_goes_on") {
        return;
    }
    let lab = VethLab::create(1);
    let mut cmd = lab.command(xdpflow().to_str().expect("utf-8 path"));
    cmd.args([
        "run",
        "-i",
        CAP_IF,
        "--json",
        "/dev/null",
        "--progress",
        "never",
    ])
    .env("NOTIFY_SOCKET", "/nonexistent/xdpflow-notify.sock")
    .env("WATCHDOG_USEC", "1000000");
    let mut run = Running::spawn(cmd);
    run.wait_for("Cannot notify systemd")
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1200)); // a watchdog ping or two fail too
    let (code, log) = run.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        log.matches("Cannot notify systemd").count(),
        1,
        "the failure is logged once (later ones at debug level): {log}"
    );
}

/// `xdpflow run` as `nobody`, with exactly `caps` (ambient, inheritable, bounding), under the
/// kernel's default 8 MiB RLIMIT_MEMLOCK, writing into `dir`.
fn run_as_nobody(lab: &VethLab, caps: &[String], dir: &Path) -> Running {
    let list = caps
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(",");
    let (inh, bounding) = if list.is_empty() {
        ("-all".to_owned(), "-all".to_owned())
    } else {
        (list.clone(), format!("-all,{list}"))
    };
    let mut cmd = lab.command("prlimit");
    cmd.args(["--memlock=8388608:8388608", "setpriv"])
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(format!("--inh-caps={inh}"))
        .arg(format!("--ambient-caps={inh}"))
        .arg(format!("--bounding-set={bounding}"))
        .arg(xdpflow())
        .args(["run", "-i", CAP_IF, "--progress", "never", "--json"])
        .arg(dir.join("flows.ndjson"))
        .arg("--summary-json")
        .arg(dir.join("summary.json"));
    Running::spawn(cmd)
}

fn tools_present(test: &str) -> bool {
    for tool in ["setpriv", "prlimit"] {
        if Command::new(tool).arg("--version").output().is_err() {
            println!("skipped {test}: {tool} (util-linux) is missing");
            return false;
        }
    }
    true
}

#[test]
fn a_unit_capability_set_captures_as_a_non_root_user() {
    let test = "a_unit_capability_set_captures_as_a_non_root_user";
    if !skip_unless_root(test) || !tools_present(test) {
        return;
    }
    let caps = unit_capabilities();
    let dir = scratch("caps", 0o755);
    let lab = VethLab::create(2);
    let mut run = run_as_nobody(&lab, &caps, &dir);
    run.wait_for("Capture started.")
        .unwrap_or_else(|e| panic!("capture as nobody with {caps:?}: {e}"));

    let replay = Replay::synthetic(200, 4000, 64, 2);
    let ns = lab.ns.clone();
    let sent = std::thread::spawn(move || {
        xdp_prog::enter_netns(&ns).expect("enter lab");
        replay.send(GEN_IF, 2, Some(20_000))
    })
    .join()
    .expect("generator")
    .expect("replay sent");
    std::thread::sleep(Duration::from_millis(300));
    let (code, log) = run.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        !log.contains("Cannot pin"),
        "workers pin without CAP_SYS_NICE: {log}"
    );

    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json")).expect("summary written by nobody"),
    )
    .expect("summary json");
    assert_eq!(s["frames"].as_u64(), Some(sent.frames), "{s}\n{log}");
    assert_eq!(s["flows_created"].as_u64(), Some(200), "{s}");
    assert_eq!(s["records_exported"].as_u64(), Some(200), "{s}");
    let flows = std::fs::read_to_string(dir.join("flows.ndjson")).expect("flows");
    assert_eq!(flows.lines().count(), 200, "every flow exported");
    println!(
        "{test}: {} frames, 200 flows as uid {NOBODY} with {caps:?}",
        sent.frames
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_unit_capability_set_minus_any_one_fails_naming_it() {
    let test = "a_unit_capability_set_minus_any_one_fails_naming_it";
    if !skip_unless_root(test) || !tools_present(test) {
        return;
    }
    let caps = unit_capabilities();
    let dir = scratch("missing", 0o755);
    let lab = VethLab::create(1);
    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
        let (code, log) = run_as_nobody(&lab, &fewer, &dir).wait();
        let name = format!("CAP_{}", missing.to_ascii_uppercase());
        assert_eq!(code, 1, "without {name}: {log}");
        let error = log
            .lines()
            .find(|l| l.starts_with("xdpflow: error:"))
            .unwrap_or_else(|| panic!("without {name}, an error line: {log}"));
        assert!(error.contains(&name), "the error names {name}: {error}");
        assert!(!xdp_attached(&lab), "nothing left attached without {name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
