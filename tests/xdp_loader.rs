//! The XDP steering program on a real interface: `xdp_prog::loader::Steer` attached to the
//! capture end of a veth pair in a throw-away namespace (`appliance_tests::netns::VethLab`).
//!
//! Traffic: the test thread enters the lab's namespace and sends UDP from `198.18.0.2` (the
//! generator end) to `198.19.0.0/24`, which a static route and neighbour entry send out of
//! `xfgen` to the MAC of `xfcap`, so every datagram crosses the pair once and meets the
//! program. No AF_XDP socket is registered here (the ring has its own tests), so kept frames
//! are counted as *passed*. The parsing corners (VLAN, IPv6 extension headers, symmetry) are
//! covered by the program-run unit tests in `xdp-prog/src/loader.rs`.
//!
//! Needs root (netns, veth, CAP_BPF, CAP_NET_ADMIN) and iproute2; otherwise each test says it
//! skips and passes.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use appliance_tests::netns::{self, CAP_IF, GEN_ADDR, GEN_IF, VethLab};
use xdp_prog::Error;
use xdp_prog::loader::{IpPrefix, Steer, SteerCounters, SteerFilter, XdpMode};

/// The committed object, for attaching a "foreign" program with iproute2.
const OBJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../bpf/xdp_steer.bpf.o");
/// Routed out of `xfgen` towards `xfcap` by [`Lab::new`].
const FAR_NET: &str = "198.19.0.0/24";
const FAR: &str = "198.19.0.9";
/// Set in the child process of [`xdp_loader_killed_process_leaves_nothing_attached`].
const CHILD_ENV: &str = "XDPFLOW_TEST_XDP_CHILD_NS";

/// A lab whose namespace the calling thread has entered, with the route to [`FAR_NET`].
struct Lab {
    lab: VethLab,
}

impl Lab {
    fn new() -> Lab {
        let lab = VethLab::create(2);
        let mac = link_json(&lab, CAP_IF)["address"]
            .as_str()
            .expect("xfcap has a MAC address")
            .to_owned();
        for args in [
            vec![
                "ip",
                "neigh",
                "add",
                "198.18.0.254",
                "lladdr",
                &mac,
                "dev",
                GEN_IF,
            ],
            vec![
                "ip",
                "route",
                "add",
                FAR_NET,
                "via",
                "198.18.0.254",
                "dev",
                GEN_IF,
                "onlink",
            ],
        ] {
            let out = lab.exec(&args);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        lab.enter();
        Lab { lab }
    }

    /// The id of the XDP program on `xfcap`, as `ip` sees it.
    fn xdp_prog_id(&self) -> Option<u64> {
        link_json(&self.lab, CAP_IF)
            .get("xdp")
            .and_then(|x| x["prog"]["id"].as_u64())
    }
}

fn link_json(lab: &VethLab, ifname: &str) -> serde_json::Value {
    let out = lab.exec(&["ip", "-j", "link", "show", "dev", ifname]);
    assert!(
        out.status.success(),
        "ip link show: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j prints JSON");
    v[0].clone()
}

/// Sends `n` datagrams from the generator address to `FAR:port`.
fn send(n: usize, port: u16) {
    let socket = UdpSocket::bind((GEN_ADDR, 0)).expect("bind to the generator address");
    for _ in 0..n {
        socket
            .send_to(b"xdpflow", (FAR, port))
            .expect("send over the veth pair");
    }
}

/// Polls the counters until `done` holds (at most 5 s), then returns them.
fn settle(steer: &Steer, done: impl Fn(&SteerCounters) -> bool) -> SteerCounters {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = steer.counters().expect("counters readable");
        if done(&c) {
            // Let stragglers (if any) land before the caller checks exact numbers.
            std::thread::sleep(Duration::from_millis(20));
            return steer.counters().expect("counters readable");
        }
        assert!(Instant::now() < deadline, "counters never settled: {c:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn attach(filter: &SteerFilter) -> Steer {
    let steer = Steer::attach(CAP_IF, XdpMode::Auto, false, filter)
        .unwrap_or_else(|e| panic!("attach: {}", chain(&e)));
    assert_eq!(steer.mode(), XdpMode::Driver, "veth supports native XDP");
    steer
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(e) = src {
        s += &format!(": {e}");
        src = e.source();
    }
    s
}

fn prefix(s: &str) -> IpPrefix {
    s.parse().expect("valid prefix")
}

#[test]
fn xdp_loader_passes_everything_without_sockets() {
    if !netns::skip_unless_root("xdp_loader_passes_everything_without_sockets") {
        return;
    }
    let lab = Lab::new();
    let steer = attach(&SteerFilter::default());
    let id = steer.program_id().expect("program id known");
    assert_eq!(
        lab.xdp_prog_id(),
        Some(u64::from(id)),
        "ip shows our program on xfcap"
    );

    send(20, 7000);
    let c = settle(&steer, |c| c.passed >= 20);
    assert_eq!(c.seen, c.outcomes(), "{c:?}");
    assert_eq!(
        (c.redirected, c.filtered, c.sampled_out, c.redirect_errors),
        (0, 0, 0, 0)
    );
}

#[test]
fn xdp_loader_deny_prefix_filters_live() {
    if !netns::skip_unless_root("xdp_loader_deny_prefix_filters_live") {
        return;
    }
    let _lab = Lab::new();
    let mut steer = attach(&SteerFilter {
        deny: vec![prefix(FAR_NET)],
        ..SteerFilter::default()
    });
    send(10, 7000);
    let c = settle(&steer, |c| c.filtered >= 10);
    assert_eq!(c.filtered, 10, "{c:?}");
    assert_eq!(c.seen, c.outcomes(), "{c:?}");

    // Live update: capture everything again.
    steer
        .set_filter(&SteerFilter::default())
        .expect("live update");
    let before = c.passed;
    send(10, 7001);
    let c = settle(&steer, |c| c.passed >= before + 10);
    assert_eq!(c.filtered, 10, "nothing filtered after the update: {c:?}");
    assert_eq!(c.seen, c.outcomes(), "{c:?}");
}

#[test]
fn xdp_loader_protocol_set_without_udp_filters_udp() {
    if !netns::skip_unless_root("xdp_loader_protocol_set_without_udp_filters_udp") {
        return;
    }
    let _lab = Lab::new();
    let mut steer = attach(&SteerFilter {
        protocols: vec![6, 1],
        ..SteerFilter::default()
    });
    send(12, 7000);
    let c = settle(&steer, |c| c.filtered >= 12);
    assert_eq!(c.filtered, 12, "{c:?}");

    steer
        .set_filter(&SteerFilter {
            protocols: vec![17],
            ..SteerFilter::default()
        })
        .expect("live update");
    let before = c.passed;
    send(12, 7000);
    let c = settle(&steer, |c| c.passed >= before + 12);
    assert_eq!(c.filtered, 12, "{c:?}");
    assert_eq!(c.seen, c.outcomes(), "{c:?}");
}

#[test]
fn xdp_loader_sampling_keeps_whole_flows() {
    if !netns::skip_unless_root("xdp_loader_sampling_keeps_whole_flows") {
        return;
    }
    let _lab = Lab::new();
    let steer = attach(&SteerFilter {
        sample_one_in: 4,
        ..SteerFilter::default()
    });
    const FLOWS: u16 = 48;
    const PER_FLOW: u64 = 4;
    let (mut kept, mut dropped) = (0, 0);
    let mut last = steer.counters().expect("counters");
    for port in 9000..9000 + FLOWS {
        send(PER_FLOW as usize, port);
        let c = settle(&steer, |c| c.seen >= last.seen + PER_FLOW);
        let sampled = c.sampled_out - last.sampled_out;
        let passed = c.passed - last.passed;
        match sampled {
            0 => kept += 1,
            PER_FLOW => dropped += 1,
            _ => panic!("flow to port {port} was split: {sampled} sampled out, {passed} kept"),
        }
        assert!(passed + sampled >= PER_FLOW, "{last:?} -> {c:?}");
        last = c;
    }
    assert_eq!(kept + dropped, FLOWS);
    assert!(
        kept >= 2 && dropped >= 2,
        "1 in 4 of {FLOWS} flows: {kept} kept, {dropped} not"
    );
    assert_eq!(last.sampled_out, u64::from(dropped) * PER_FLOW, "{last:?}");
    assert_eq!(last.seen, last.outcomes(), "{last:?}");
}

#[test]
fn xdp_loader_refuses_a_busy_interface_and_detaches_on_drop() {
    if !netns::skip_unless_root("xdp_loader_refuses_a_busy_interface_and_detaches_on_drop") {
        return;
    }
    let lab = Lab::new();
    let first = attach(&SteerFilter::default());
    let id = first.program_id().expect("program id");

    let e = Steer::attach(CAP_IF, XdpMode::Auto, false, &SteerFilter::default())
        .expect_err("a second program is refused");
    assert!(matches!(e, Error::XdpBusy { .. }), "{e:?}");
    let msg = e.to_string();
    for needle in [
        "`xfcap`".to_owned(),
        format!("id {id} `xdp_steer`"),
        "driver mode".to_owned(),
        "BPF link".to_owned(),
        format!("pid {}", std::process::id()),
    ] {
        assert!(msg.contains(&needle), "`{needle}` missing from: {msg}");
    }
    // A link held by a live process cannot be taken over, not even with replace.
    let e = Steer::attach(CAP_IF, XdpMode::Skb, true, &SteerFilter::default())
        .expect_err("a link cannot be replaced");
    assert!(e.to_string().contains("cannot take over"), "{e}");
    assert_eq!(
        lab.xdp_prog_id(),
        Some(u64::from(id)),
        "the first program is untouched"
    );

    drop(first);
    assert_eq!(
        lab.xdp_prog_id(),
        None,
        "dropping the Steer detaches the program"
    );
}

#[test]
fn xdp_loader_replaces_a_netlink_attached_program() {
    if !netns::skip_unless_root("xdp_loader_replaces_a_netlink_attached_program") {
        return;
    }
    let lab = Lab::new();
    let out = lab.lab.exec(&[
        "ip",
        "link",
        "set",
        "dev",
        CAP_IF,
        "xdpgeneric",
        "obj",
        OBJECT,
        "sec",
        "xdp",
    ]);
    assert!(
        out.status.success(),
        "ip attaches: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let foreign = lab.xdp_prog_id().expect("ip attached a program");

    let e = Steer::attach(CAP_IF, XdpMode::Auto, false, &SteerFilter::default())
        .expect_err("busy without replace");
    let msg = e.to_string();
    assert!(msg.contains(&format!("id {foreign}")), "{msg}");
    assert!(
        msg.contains("generic mode, attached through netlink"),
        "{msg}"
    );
    assert!(
        msg.contains("ip link set dev xfcap xdpgeneric off"),
        "{msg}"
    );
    assert!(msg.contains("--xdp-replace"), "{msg}");

    let steer = Steer::attach(CAP_IF, XdpMode::Auto, true, &SteerFilter::default())
        .unwrap_or_else(|e| panic!("replace: {}", chain(&e)));
    assert_eq!(steer.mode(), XdpMode::Driver);
    let ours = steer.program_id().map(u64::from);
    assert_eq!(
        lab.xdp_prog_id(),
        ours,
        "our program replaced the foreign one"
    );
    send(5, 7000);
    settle(&steer, |c| c.passed >= 5);
    drop(steer);
    assert_eq!(lab.xdp_prog_id(), None);
}

#[test]
fn xdp_loader_killed_process_leaves_nothing_attached() {
    if !netns::skip_unless_root("xdp_loader_killed_process_leaves_nothing_attached") {
        return;
    }
    let lab = Lab::new();
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "xdp_loader::killed_process_helper",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, &lab.lab.ns)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the test binary");
    let stdout = child.stdout.take().expect("piped");
    let attached = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ATTACHED ").map(str::to_owned));
    let Some(id) = attached else {
        let _ = child.kill();
        panic!("the child did not attach: {:?}", child.wait());
    };
    assert_eq!(
        lab.xdp_prog_id().map(|i| i.to_string()),
        Some(id),
        "child's program on xfcap"
    );

    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.xdp_prog_id().is_some() {
        assert!(
            Instant::now() < deadline,
            "the program outlived its killed process"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a test of its own: the child of the test above (selected by `CHILD_ENV`). Attaches,
/// says so, and waits to be killed. Without the variable it does nothing.
#[test]
fn killed_process_helper() {
    let Ok(ns) = std::env::var(CHILD_ENV) else {
        return;
    };
    xdp_prog::enter_netns(&ns).expect("enter the parent's lab");
    let steer = Steer::attach(CAP_IF, XdpMode::Auto, false, &SteerFilter::default())
        .expect("child attaches");
    println!("ATTACHED {}", steer.program_id().expect("program id"));
    std::thread::sleep(Duration::from_secs(60));
    panic!("the parent should have killed this process");
}

#[test]
fn xdp_loader_register_checks_socket_and_queue() {
    if !netns::skip_unless_root("xdp_loader_register_checks_socket_and_queue") {
        return;
    }
    let _lab = Lab::new();
    let mut steer = attach(&SteerFilter::default());
    let udp = UdpSocket::bind((GEN_ADDR, 0)).expect("a socket that is not AF_XDP");
    let e = steer
        .register(0, udp.as_fd())
        .expect_err("not an AF_XDP socket");
    assert!(matches!(e, Error::Map { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("queue 0") && msg.contains("`xfcap`") && msg.contains("steer_xsks"),
        "{msg}"
    );
    let e = steer
        .register(5000, udp.as_fd())
        .expect_err("queue out of range");
    assert!(e.to_string().contains("queue 5000"), "{e}");
    steer
        .unregister(0)
        .expect("unregistering an empty queue is fine");
}

#[test]
fn xdp_loader_names_a_missing_interface() {
    if !netns::skip_unless_root("xdp_loader_names_a_missing_interface") {
        return;
    }
    let _lab = Lab::new();
    let e = Steer::attach("xfnosuch0", XdpMode::Auto, false, &SteerFilter::default())
        .expect_err("no such interface");
    assert!(matches!(e, Error::NoSuchInterface { .. }), "{e:?}");
    assert!(e.to_string().contains("`xfnosuch0`"), "{e}");
}
