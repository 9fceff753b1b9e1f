//! Live capture on a real kernel path: a network namespace with a veth pair (2 queues each),
//! `xdpflow run` on `xfcap`, the AF_XDP replay generator (`appliance_tests::replay`) on
//! `xfgen`. The flows of a live capture must equal those of `xdpflow pcap` on the very frames
//! sent, and every counter must add up. Without root these tests print why they skip.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use appliance_tests::netns::{CAP_IF, GEN_IF, VethLab, skip_unless_root};
use appliance_tests::replay::Replay;
use serde_json::Value;

use crate::common::{public_pcaps, xdpflow};

/// Captures replayed by the equality tests (~12 k frames, ~450 flows): TLS, QUIC, DNS, HTTP
/// over IPv6, SSH, SIP, FTP, BitTorrent, mDNS, WireGuard; VXLAN, GTP-U and 6in4 tunnels; IP
/// fragments.
const CAPTURES: &[&str] = &[
    "dns_doh.pcap",
    "quic.pcap",
    "http_ipv6.pcap",
    "ssh.pcap",
    "sip.pcap",
    "vxlan.pcap",
    "dhcp.pcap",
    "ftp.pcap",
    "instagram.pcap",
    "teams.pcap",
    "wireguard.pcap",
    "bittorrent.pcap",
    "dns_fragmented.pcap",
    "gtp-u.pcap",
    "6in4tunnel.pcap",
    "mdns.pcap",
    "youtube_quic.pcap",
    "signal.pcap",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xdpflow-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A running `xdpflow run` inside the lab, with its stderr collected.
struct Running {
    child: Child,
    stderr: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Running {
    /// Starts `xdpflow run ARGS` in the lab and waits for "Capture started." (or its exit).
    fn start(lab: &VethLab, args: &[&str]) -> Result<Running, String> {
        let mut child = lab
            .command(xdpflow().to_str().expect("utf-8 path"))
            .arg("run")
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xdpflow starts");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut run = Running {
            child,
            stderr: rx,
            log: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match run.stderr.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let ready = line.contains("Capture started.");
                    run.log.push(line);
                    if ready {
                        return Ok(run);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = run.child.try_wait() {
                        run.drain();
                        return Err(format!("exited with {status}:\n{}", run.log.join("\n")));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = run.child.wait().expect("wait");
                    return Err(format!("exited with {status}:\n{}", run.log.join("\n")));
                }
            }
        }
        let _ = run.child.kill();
        Err(format!("not ready in 20 s:\n{}", run.log.join("\n")))
    }

    fn drain(&mut self) {
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.log.push(line);
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// SIGTERM, then the exit code and the whole log.
    fn stop(mut self) -> (i32, String) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "xdpflow did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        self.drain();
        (status.code().unwrap_or(-1), self.log.join("\n"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Flow identity and counters, as a sortable key, from an NDJSON file.
fn flows(path: &Path) -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(path).expect("ndjson output");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("one JSON object per line");
        let key = [
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "vlan_id",
            "tunnel_id",
            "bidirectional_packets",
            "bidirectional_bytes",
            "src2dst_packets",
            "dst2src_packets",
            "src2dst_bytes",
            // DPI (on by default): live workers get payloads copied from the ring, pcap mode
            // by reference into its read buffer; the labels must not differ.
            "application_name",
            "requested_server_name",
            "client_fingerprint",
            "server_fingerprint",
        ]
        .iter()
        .map(|k| v[*k].to_string())
        .collect::<Vec<_>>()
        .join(" ");
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn summary(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary json")).expect("json")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The reference: `xdpflow pcap` over the frames sent.
fn pcap_reference(dir: &Path, replay: &Replay) -> BTreeMap<String, u32> {
    let sent = dir.join("sent.pcap");
    replay.write_pcap(&sent);
    let out = dir.join("pcap.ndjson");
    let status = Command::new(xdpflow())
        .args(["pcap", "-q", "--progress", "never", "--json"])
        .arg(&out)
        .arg(&sent)
        .status()
        .expect("xdpflow pcap runs");
    assert!(status.success());
    flows(&out)
}

fn load_captures(leave_out: &[&str]) -> Option<Replay> {
    let Some(dir) = public_pcaps() else {
        println!("skipped: ../shared/pcaps/public is missing");
        return None;
    };
    let paths: Vec<PathBuf> = CAPTURES
        .iter()
        .filter(|c| !leave_out.contains(c))
        .map(|c| dir.join(c))
        .collect();
    let r = Replay::load(&paths, 2);
    println!(
        "replaying {} frames of {} captures (left out: {} not Ethernet, {} cut by the snaplen, \
         {} larger than an AF_XDP frame)",
        r.frames.len(),
        paths.len(),
        r.skipped_link,
        r.skipped_truncated,
        r.skipped_size
    );
    Some(r)
}

/// Replays `replay` into the lab while `xdpflow run ARGS` captures; checks the flows equal
/// pcap mode's and returns the run's summary.
fn capture_equals_pcap(test: &str, extra: &[&str], replay: &Replay) -> Value {
    let dir = scratch(test);
    let lab = VethLab::create(2);
    let live = dir.join("live.ndjson");
    let sum = dir.join("live.json");
    let mut args = vec![
        "-i",
        CAP_IF,
        "--progress",
        "never",
        "--json",
        live.to_str().unwrap(),
        "--summary-json",
        sum.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = Running::start(&lab, &args).unwrap_or_else(|e| panic!("xdpflow run: {e}"));

    // The generator runs in this thread, inside the lab.
    let sender = {
        let ns = lab.ns.clone();
        let replay = replay.clone();
        std::thread::spawn(move || {
            xdp_prog::enter_netns(&ns).expect("enter lab");
            replay.send(GEN_IF, 2, Some(40_000))
        })
    };
    let sent = sender
        .join()
        .expect("generator thread")
        .expect("replay sent");
    assert_eq!(sent.frames, replay.frames.len() as u64);
    std::thread::sleep(Duration::from_millis(300));
    let (code, log) = run.stop();
    assert_eq!(code, 0, "xdpflow run exit code; log:\n{log}");

    let s = summary(&sum);
    let frames = u(&s["frames"]);
    assert_eq!(
        frames, sent.frames,
        "every frame sent reached a worker; log:\n{log}"
    );
    assert_eq!(frames, u(&s["decoded"]) + u(&s["dropped"]));
    let queues = s["queues"].as_array().expect("queues");
    assert_eq!(queues.len(), 2);
    for q in queues {
        assert!(u(&q["frames"]) > 0, "both queues carry traffic: {q}");
        let ring = &q["ring"];
        assert_eq!(
            u(&ring["dropped"]),
            0,
            "no ring drops at a modest rate: {q}"
        );
    }
    assert_eq!(u(&s["records_dropped"]), 0);
    assert_eq!(u(&s["flows_created"]), u(&s["records_exported"]));

    let reference = pcap_reference(&dir, replay);
    let got = flows(&live);
    let missing: Vec<_> = reference
        .iter()
        .filter(|(k, n)| got.get(*k) != Some(n))
        .take(5)
        .collect();
    let extra_flows: Vec<_> = got
        .iter()
        .filter(|(k, n)| reference.get(*k) != Some(n))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra_flows.is_empty(),
        "live flows differ from pcap mode ({} vs {} distinct): missing {missing:?}, extra \
         {extra_flows:?}",
        got.len(),
        reference.len()
    );
    // The comparison covers DPI for real: many flows are identified (the key holds the labels).
    let labelled = got
        .keys()
        .filter(|k| k.contains("\"TLS") || k.contains("\"QUIC") || k.contains("\"DNS"))
        .count();
    assert!(labelled > 50, "{test}: only {labelled} TLS/QUIC/DNS flows");
    println!(
        "{test}: {} frames, {} flows equal to pcap mode ({labelled} of them TLS/QUIC/DNS)",
        frames,
        got.values().sum::<u32>()
    );
    let _ = std::fs::remove_dir_all(&dir);
    s
}

#[test]
fn af_xdp_capture_equals_pcap_mode_and_counters_add_up() {
    if !skip_unless_root("af_xdp_capture_equals_pcap_mode_and_counters_add_up") {
        return;
    }
    let Some(replay) = load_captures(&[]) else {
        return;
    };
    let s = capture_equals_pcap("afxdp", &[], &replay);
    let x = &s["xdp"];
    let seen = u(&x["seen"]);
    assert_eq!(
        seen,
        u(&x["redirected"])
            + u(&x["passed"])
            + u(&x["filtered"])
            + u(&x["sampled_out"])
            + u(&x["redirect_errors"]),
        "XDP counters add up: {x}"
    );
    assert_eq!(u(&x["redirected"]), u(&s["frames"]), "{x}");
    assert_eq!(u(&x["filtered"]) + u(&x["sampled_out"]), 0);
}

#[test]
fn af_packet_fallback_gives_the_same_flows() {
    if !skip_unless_root("af_packet_fallback_gives_the_same_flows") {
        return;
    }
    // Deliberate difference: the fanout reassembles IP fragments (PACKET_FANOUT_FLAG_DEFRAG,
    // so that every fragment reaches its flow's member), so a fragmented datagram counts as
    // one packet there and as several in pcap mode. The fragments capture is left out.
    let Some(replay) = load_captures(&["dns_fragmented.pcap"]) else {
        return;
    };
    let s = capture_equals_pcap(
        "afpacket",
        &["--capture", "af-packet", "--queues", "0-1"],
        &replay,
    );
    assert!(s["xdp"].is_null());
}

/// Whether `ip link` shows an XDP program on `xfcap` in the lab.
fn xdp_attached(lab: &VethLab) -> bool {
    let out = lab.exec(&["ip", "-d", "link", "show", CAP_IF]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("prog/xdp") || text.contains("xdp/id") || text.contains(" xdp ")
}

#[test]
fn sigkill_leaves_no_program_and_a_second_instance_is_refused() {
    if !skip_unless_root("sigkill_leaves_no_program_and_a_second_instance_is_refused") {
        return;
    }
    let lab = VethLab::create(2);
    let first = Running::start(&lab, &["-i", CAP_IF, "--json", "/dev/null"])
        .unwrap_or_else(|e| panic!("first instance: {e}"));
    assert!(xdp_attached(&lab), "the program is attached while running");

    let second = Running::start(&lab, &["-i", CAP_IF, "--json", "/dev/null"]);
    let err = second.err().expect("a second instance must not start");
    // The first instance holds the program through a BPF link: it cannot be replaced, only
    // stopped, and the error says by whom.
    assert!(
        err.contains("already carries XDP program") && err.contains("stop pid"),
        "the error names the problem and the fix: {err}"
    );
    assert!(err.contains("exited with exit status: 1"), "{err}");

    first.signal("-KILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while xdp_attached(&lab) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !xdp_attached(&lab),
        "SIGKILL leaves no program attached (bpf_link)"
    );
    // And the interface is usable again.
    let again = Running::start(&lab, &["-i", CAP_IF, "--json", "/dev/null"])
        .unwrap_or_else(|e| panic!("after SIGKILL: {e}"));
    let (code, log) = again.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("XDP program detached."), "{log}");
    assert!(!xdp_attached(&lab), "SIGTERM detaches");
}

#[test]
fn the_kernel_prefilter_drops_what_it_should() {
    if !skip_unless_root("the_kernel_prefilter_drops_what_it_should") {
        return;
    }
    use appliance_tests::replay::udp_frame;
    let dir = scratch("prefilter");
    let lab = VethLab::create(2);
    let out = dir.join("live.ndjson");
    let sum = dir.join("live.json");
    let run = Running::start(
        &lab,
        &[
            "-i",
            CAP_IF,
            "--queues",
            "0",
            "--deny",
            "198.19.0.0/16",
            "--protocols",
            "udp,icmp",
            "--json",
            out.to_str().unwrap(),
            "--summary-json",
            sum.to_str().unwrap(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // 100 kept (198.18 ⇄ 198.18, UDP), 40 denied by prefix, 30 denied by protocol (TCP).
    let mut frames: Vec<(u32, Vec<u8>)> = Vec::new();
    for i in 0..100u16 {
        frames.push((
            0,
            udp_frame([198, 18, 1, 1], [198, 18, 2, 2], 1000 + i % 10, 53, 80),
        ));
    }
    for i in 0..40u16 {
        frames.push((
            0,
            udp_frame([198, 18, 1, 1], [198, 19, 9, 9], 2000 + i, 53, 80),
        ));
    }
    for i in 0..30u16 {
        let mut f = udp_frame([198, 18, 1, 1], [198, 18, 2, 2], 3000 + i, 80, 80);
        f[14 + 9] = 6; // TCP
        frames.push((0, f));
    }
    let replay = Replay {
        frames,
        ..Replay::default()
    };
    let ns = lab.ns.clone();
    std::thread::spawn(move || {
        xdp_prog::enter_netns(&ns).expect("enter lab");
        replay.send(GEN_IF, 1, Some(10_000))
    })
    .join()
    .expect("generator")
    .expect("sent");
    std::thread::sleep(Duration::from_millis(300));
    let (code, log) = run.stop();
    assert_eq!(code, 0, "{log}");
    let s = summary(&sum);
    let x = &s["xdp"];
    assert_eq!(u(&x["seen"]), 170, "{x}");
    assert_eq!(u(&x["filtered"]), 70, "{x}");
    assert_eq!(u(&x["redirected"]), 100, "{x}");
    assert_eq!(u(&s["frames"]), 100);
    let got = flows(&out);
    assert_eq!(got.values().sum::<u32>(), 10, "ten kept UDP flows: {got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_capability_is_named() {
    if !skip_unless_root("a_missing_capability_is_named") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipped a_missing_capability_is_named: setpriv (util-linux) is missing");
        return;
    }
    let lab = VethLab::create(1);
    for (cap, capture) in [
        ("bpf", "af-xdp"),
        ("net_raw", "af-packet"),
        ("net_admin", "af-xdp"),
    ] {
        let drop = format!("-{cap}");
        let out = lab.exec(&[
            "setpriv",
            "--inh-caps",
            &drop,
            "--bounding-set",
            &drop,
            xdpflow().to_str().unwrap(),
            "run",
            "-i",
            CAP_IF,
            "--capture",
            capture,
            "--json",
            "/dev/null",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cap}: {err}");
        let name = format!("CAP_{}", cap.to_ascii_uppercase());
        assert!(err.contains(&name), "the error names {name}: {err}");
    }
}

#[test]
fn sigterm_during_a_replay_loses_no_flow() {
    if !skip_unless_root("sigterm_during_a_replay_loses_no_flow") {
        return;
    }
    let dir = scratch("sigterm");
    let lab = VethLab::create(2);
    let out = dir.join("live.ndjson");
    let sum = dir.join("live.json");
    let run = Running::start(
        &lab,
        &[
            "-i",
            CAP_IF,
            "--json",
            out.to_str().unwrap(),
            "--summary-json",
            sum.to_str().unwrap(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // 4 s of traffic over 20 000 flows; SIGTERM after 1 s, while it is still arriving.
    let replay = Replay::synthetic(20_000, 400_000, 64, 2);
    let ns = lab.ns.clone();
    let sender = std::thread::spawn(move || {
        xdp_prog::enter_netns(&ns).expect("enter lab");
        replay.send(GEN_IF, 2, Some(100_000))
    });
    std::thread::sleep(Duration::from_secs(1));
    let (code, log) = run.stop();
    assert_eq!(code, 0, "{log}");
    sender.join().expect("generator").expect("sent");
    let s = summary(&sum);
    let created = u(&s["flows_created"]);
    assert!(created > 1000, "the run saw traffic: {created} flows");
    assert_eq!(
        u(&s["flows_ended"]["shutdown"]),
        created,
        "every flow ended at shutdown"
    );
    assert_eq!(
        u(&s["records_exported"]),
        created,
        "every flow was exported"
    );
    assert_eq!(u(&s["records_dropped"]), 0);
    let lines = std::fs::read_to_string(&out)
        .expect("ndjson")
        .lines()
        .count() as u64;
    assert_eq!(lines, created, "every record reached the file");
    let _ = std::fs::remove_dir_all(&dir);
}
