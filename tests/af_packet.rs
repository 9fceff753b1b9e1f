//! The AF_PACKET capture fallback on a real kernel: a `TPACKET_V3` ring on a veth in a
//! throw-away namespace, fanout between two rings, VLAN tags put back, statistics, the NIC
//! queries on veth, the missing-capability error, and `deploy/nic-setup.sh` on veth.
//!
//! Traffic must cross the veth: with 198.18.0.2 and 198.18.0.1 in one namespace the kernel
//! delivers it over `lo`. So [`GenNs`] moves `xfgen` into a second namespace and a sender
//! thread enters that one. Static neighbour entries on both sides mean no ARP, and IPv6 is off,
//! so the capture end receives exactly the test's datagrams. Its own replies (ICMP port
//! unreachable: nothing listens) go out of `xfcap` and must not be captured.
//!
//! Prerequisites: root and iproute2; `setpriv` (util-linux) for the capability test; python3
//! for the VLAN test (it injects raw frames); `ethtool` for the nic-setup test. Without them the tests print why they skip.

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use appliance_tests::netns::{CAP_ADDR, CAP_IF, GEN_ADDR, GEN_IF, VethLab, skip_unless_root};
use xdp_prog::Error;
use xdp_prog::nic::{self, Capability};
use xdp_prog::ring::{PacketRing, PacketRingConfig};

/// Destination port of the test's datagrams (nothing listens on it).
const DST_PORT: u16 = 5555;
/// Env var that turns [`child_without_net_raw`] from a no-op into the real check.
const CHILD_ENV: &str = "XDPFLOW_TEST_CHILD_WITHOUT_NET_RAW";

/// Small rings: a test sends a few hundred frames.
fn test_ring_config(fanout_group: Option<u16>) -> PacketRingConfig {
    PacketRingConfig {
        block_size: 1 << 16,
        block_count: 8,
        frame_size: 2048,
        block_timeout_ms: 10,
        fanout_group,
    }
}

/// A second namespace holding `xfgen` (198.18.0.2/24), deleted on drop.
struct GenNs {
    name: String,
}

impl GenNs {
    /// Moves the lab's `xfgen` into a new namespace and sets both ends up with static
    /// neighbours.
    fn split(lab: &VethLab) -> GenNs {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let gen_ns = GenNs {
            name: format!("xfg-{}-{seq}", std::process::id()),
        };
        let (lab_ns, g) = (lab.ns.as_str(), gen_ns.name.as_str());
        ip(&format!("netns add {g}"));
        // IPv6 off before the move, so xfgen sends no router solicitation or MLD report.
        ip(&format!(
            "netns exec {g} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
             net.ipv6.conf.default.disable_ipv6=1"
        ));
        ip(&format!("-n {lab_ns} link set {GEN_IF} netns {g}"));
        ip(&format!("-n {g} addr add {GEN_ADDR}/24 dev {GEN_IF}"));
        ip(&format!("-n {g} link set {GEN_IF} up"));
        ip(&format!("-n {g} link set lo up"));
        let cap_mac = mac(lab_ns, CAP_IF);
        let gen_mac = mac(g, GEN_IF);
        ip(&format!(
            "-n {g} neigh replace {CAP_ADDR} lladdr {cap_mac} dev {GEN_IF} nud permanent"
        ));
        ip(&format!(
            "-n {lab_ns} neigh replace {GEN_ADDR} lladdr {gen_mac} dev {CAP_IF} nud permanent"
        ));
        gen_ns
    }

    /// Sends `packets` datagrams on each of `flows` flows (source ports `40000 + flow`) from
    /// `src` to `dst:DST_PORT`, from a thread inside this namespace. Payload: flow, sequence.
    fn send(&self, src: &'static str, dst: &'static str, flows: u16, packets: u16) {
        let ns = self.name.clone();
        std::thread::spawn(move || {
            xdp_prog::enter_netns(&ns).expect("enter the generator namespace");
            let socks: Vec<UdpSocket> = (0..flows)
                .map(|f| UdpSocket::bind((src, 40_000 + f)).expect("bind the sender"))
                .collect();
            for seq in 0..packets {
                for (f, sock) in socks.iter().enumerate() {
                    let mut payload = [0u8; 32];
                    payload[..2].copy_from_slice(&(f as u16).to_be_bytes());
                    payload[2..4].copy_from_slice(&seq.to_be_bytes());
                    sock.send_to(&payload, (dst, DST_PORT)).expect("send");
                }
            }
        })
        .join()
        .expect("sender thread");
    }
}

impl Drop for GenNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// One captured frame, reduced to what the tests check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// IPv4 source, protocol and UDP destination port, when IPv4.
    src: Option<[u8; 4]>,
    proto: Option<u8>,
    dst_port: Option<u16>,
    /// UDP source port: the flow.
    src_port: Option<u16>,
    len: usize,
    wire_len: u32,
}

fn parse(frame: &[u8], wire_len: u32) -> Seen {
    let mut seen = Seen {
        src: None,
        proto: None,
        dst_port: None,
        src_port: None,
        len: frame.len(),
        wire_len,
    };
    let be16 = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let mut l3 = 14;
    let mut ethertype = be16(12);
    if ethertype == Some(0x8100) {
        ethertype = be16(16);
        l3 = 18;
    }
    if ethertype == Some(0x0800) && frame.len() >= l3 + 20 {
        let ihl = usize::from(frame[l3] & 0x0f) * 4;
        seen.src = frame[l3 + 12..l3 + 16].try_into().ok();
        seen.proto = Some(frame[l3 + 9]);
        if frame[l3 + 9] == 17 {
            seen.src_port = be16(l3 + ihl);
            seen.dst_port = be16(l3 + ihl + 2);
        }
    }
    seen
}

/// Reads every ring until `want` test datagrams arrived (or 5 s passed), then 200 ms more to
/// catch any extra frame. Returns what each ring saw.
fn collect(rings: &mut [PacketRing], want: usize) -> Vec<Vec<Seen>> {
    let mut seen: Vec<Vec<Seen>> = vec![Vec::new(); rings.len()];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut quiet_until = None;
    loop {
        for (ring, out) in rings.iter_mut().zip(&mut seen) {
            if ring.wait(20).expect("wait") {
                ring.recv(usize::MAX, |frame, wire_len, _ts| {
                    out.push(parse(frame, wire_len))
                })
                .expect("recv");
            }
        }
        let got = seen
            .iter()
            .flatten()
            .filter(|s| s.dst_port == Some(DST_PORT))
            .count();
        let now = Instant::now();
        match quiet_until {
            None if got >= want || now > deadline => {
                quiet_until = Some(now + Duration::from_millis(200))
            }
            Some(t) if now > t => return seen,
            _ => {}
        }
    }
}

#[test]
fn fanout_splits_flows_between_two_rings() {
    if !skip_unless_root("af_packet::fanout_splits_flows_between_two_rings") {
        return;
    }
    const FLOWS: u16 = 32;
    const PACKETS: u16 = 8;
    let want = usize::from(FLOWS * PACKETS);
    let lab = VethLab::create(2);
    let gen_ns = GenNs::split(&lab);
    lab.enter();
    let cfg = test_ring_config(Some(42));
    let mut rings = vec![
        PacketRing::open(CAP_IF, &cfg).expect("first fanout member"),
        PacketRing::open(CAP_IF, &cfg).expect("second fanout member"),
    ];
    let tx_before = lab.if_stat(CAP_IF, "tx_packets");

    gen_ns.send(GEN_ADDR, CAP_ADDR, FLOWS, PACKETS);
    let seen = collect(&mut rings, want);

    let gen_ip: [u8; 4] = [198, 18, 0, 2];
    let mut flow_members: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
    for (member, frames) in seen.iter().enumerate() {
        for s in frames {
            assert_eq!(
                s.src,
                Some(gen_ip),
                "member {member} saw a frame not sent by xfgen: {s:?}"
            );
            assert_eq!(
                s.dst_port,
                Some(DST_PORT),
                "member {member} saw an extra frame: {s:?}"
            );
            assert_eq!((s.len, s.wire_len), (14 + 20 + 8 + 32, 74), "{s:?}");
            flow_members
                .entry(s.src_port.unwrap())
                .or_default()
                .insert(member);
        }
    }
    let per_member: Vec<usize> = seen.iter().map(Vec::len).collect();
    assert_eq!(
        per_member.iter().sum::<usize>(),
        want,
        "per member: {per_member:?}"
    );
    assert_eq!(flow_members.len(), usize::from(FLOWS));
    for (port, members) in &flow_members {
        assert_eq!(
            members.len(),
            1,
            "flow from port {port} was split over {members:?}"
        );
    }
    assert!(
        per_member.iter().all(|&n| n > 0),
        "hash left a member idle: {per_member:?}"
    );

    // xfcap did transmit (ICMP port unreachable), and none of it was captured (checked above).
    assert!(
        lab.if_stat(CAP_IF, "tx_packets") > tx_before,
        "xfcap sent no reply to ignore"
    );

    for (ring, frames) in rings.iter_mut().zip(&seen) {
        let stats = ring.statistics().expect("statistics");
        assert_eq!(
            (stats.packets, stats.drops),
            (frames.len() as u64, 0),
            "{stats:?}"
        );
        // The kernel resets its counters on read; ours keep the total.
        assert_eq!(ring.statistics().expect("statistics again"), stats);
    }
}

/// Sends raw frames out of `xfgen` with Python (`AF_PACKET`): the test crate has no libc, and
/// this kernel has no VLAN devices or `act_vlan` to tag frames otherwise.
const RAW_SEND_PY: &str = "import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for frame in sys.argv[2:]:
    s.send(bytes.fromhex(frame))
";

#[test]
fn vlan_tags_reach_the_frame_as_sent() {
    if !skip_unless_root("af_packet::vlan_tags_reach_the_frame_as_sent") {
        return;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        println!("skipped af_packet::vlan_tags_reach_the_frame_as_sent: python3 is not installed");
        return;
    }
    let lab = VethLab::create(1);
    lab.enter();
    let mut ring = PacketRing::open(CAP_IF, &test_ring_config(None)).expect("ring");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let cap_mac = mac(&lab.ns, CAP_IF).replace(':', "");
    let gen_mac = mac(&lab.ns, GEN_IF).replace(':', "");
    // The receiving end moves the outer tag into skb metadata (skb_vlan_untag) before any
    // packet socket sees the frame; the ring must put it back. Inner tags stay in the frame.
    #[rustfmt::skip]
    let frames: Vec<Vec<u8>> = [
        "8100 2064",           // 802.1Q, PCP 1, VID 100
        "88a8 00c8 8100 012c", // 802.1ad VID 200 outside, 802.1Q VID 300 inside
        "",                    // untagged
    ]
    .iter()
    .enumerate()
    .map(|(i, tags)| {
        let text = format!(
            "{cap_mac}{gen_mac}{} 0800 \
             4500 0020 0000 4000 4011 0000 c6120002 c6120001 \
             9c40 {:04x} 000c 0000 {i:08x}", // UDP 40000 → DST_PORT, payload: index
            tags.replace(' ', ""),
            DST_PORT,
        );
        let text: String = text.split_whitespace().collect();
        (0..text.len()).step_by(2).map(|k| u8::from_str_radix(&text[k..k + 2], 16).unwrap()).collect()
    })
    .collect();
    let mut args = vec!["python3", "-c", RAW_SEND_PY, GEN_IF];
    let hexes: Vec<String> = frames.iter().map(|f| hex(f)).collect();
    args.extend(hexes.iter().map(String::as_str));
    let out = lab.exec(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut got: Vec<(Vec<u8>, u32)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < frames.len() && Instant::now() < deadline {
        if ring.wait(20).expect("wait") {
            ring.recv(usize::MAX, |frame, wire_len, _| {
                got.push((frame.to_vec(), wire_len))
            })
            .expect("recv");
        }
    }
    let want: Vec<(Vec<u8>, u32)> = frames.iter().map(|f| (f.clone(), f.len() as u32)).collect();
    assert_eq!(
        got, want,
        "captured frames equal the frames sent, tags included"
    );
}

#[test]
fn missing_interface_is_no_such_interface() {
    if !skip_unless_root("af_packet::missing_interface_is_no_such_interface") {
        return;
    }
    let lab = VethLab::create(1);
    lab.enter();
    let err = PacketRing::open("xfnope0", &test_ring_config(None)).expect_err("no such interface");
    assert!(
        matches!(&err, Error::NoSuchInterface { iface } if iface == "xfnope0"),
        "{err:?}"
    );
    assert!(matches!(
        nic::if_index("xfnope0"),
        Err(Error::NoSuchInterface { .. })
    ));
    assert!(matches!(
        nic::rss_key("xfnope0"),
        Err(Error::NoSuchInterface { .. })
    ));
    assert!(matches!(
        nic::rx_queue_count("xfnope0"),
        Err(Error::NoSuchInterface { .. })
    ));
}

#[test]
fn nic_queries_on_veth() {
    if !skip_unless_root("af_packet::nic_queries_on_veth") {
        return;
    }
    let lab = VethLab::create(2);
    lab.enter();
    // These look in the thread's namespace: xfcap exists only in the lab.
    assert!(nic::if_index(CAP_IF).expect("index") > 0);
    assert_eq!(
        nic::rss_key(CAP_IF).expect("rss key"),
        None,
        "veth has no RSS"
    );
    assert_eq!(nic::rx_queue_count(CAP_IF).expect("queues"), 2);
    assert_eq!(
        nic::missing_capabilities(&Capability::ALL).expect("CapEff"),
        vec![]
    );
    nic::require("testing", &Capability::ALL).expect("root has every capability");
    nic::memlock_limit().expect("limits");
}

#[test]
fn open_without_cap_net_raw_names_it() {
    if !skip_unless_root("af_packet::open_without_cap_net_raw_names_it") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!(
            "skipped af_packet::open_without_cap_net_raw_names_it: setpriv (util-linux) is not installed"
        );
        return;
    }
    // Root keeps every capability across exec except those dropped from the bounding set.
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-net_raw", "--"])
        .arg(exe)
        .args([
            "--exact",
            "af_packet::child_without_net_raw",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child without CAP_NET_RAW: ok"),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child half of [`open_without_cap_net_raw_names_it`]; passes at once unless run as that
/// child.
#[test]
fn child_without_net_raw() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    assert_eq!(
        nic::missing_capabilities(&[Capability::NetAdmin, Capability::NetRaw]).unwrap(),
        vec![Capability::NetRaw]
    );
    let err = nic::require("capturing", &[Capability::NetAdmin, Capability::NetRaw]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingCapability {
                cap: "CAP_NET_RAW",
                ..
            }
        ),
        "{err:?}"
    );
    let err = PacketRing::open("lo", &test_ring_config(None)).expect_err("no CAP_NET_RAW");
    assert!(
        matches!(
            err,
            Error::MissingCapability {
                cap: "CAP_NET_RAW",
                ..
            }
        ),
        "{err:?}"
    );
    println!("{err}");
    println!("child without CAP_NET_RAW: ok");
}

#[test]
fn nic_setup_script_on_veth() {
    if !skip_unless_root("af_packet::nic_setup_script_on_veth") {
        return;
    }
    if Command::new("ethtool").arg("--version").output().is_err() {
        println!("skipped af_packet::nic_setup_script_on_veth: ethtool is not installed");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nic-setup.sh");
    let lab = VethLab::create(2);

    let dry = lab.exec(&["bash", script, "--dry-run", CAP_IF, "2"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    for want in [
        "+ ethtool -L xfcap rx 2 tx 2",
        "+ ethtool -X xfcap hkey 6d:5a:6d:5a:",
        "+ ethtool -N xfcap rx-flow-hash tcp4 sdfn",
        "+ ethtool -N xfcap rx-flow-hash udp6 sdfn",
    ] {
        assert!(stdout.contains(want), "dry run lacks `{want}`:\n{stdout}");
    }

    let real = lab.exec(&["bash", script, CAP_IF, "2"]);
    let stderr = String::from_utf8_lossy(&real.stderr);
    assert_eq!(real.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: `ethtool -x xfcap' shows no RSS hash key")
            && stderr.contains("--capture af_packet"),
        "{stderr}"
    );

    let usage = lab.exec(&["bash", script, CAP_IF]);
    assert_eq!(usage.status.code(), Some(2));
    let missing = lab.exec(&["bash", script, "--dry-run", "xfnope0", "2"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("interface `xfnope0' does not exist")
    );
}

/// The MAC address of `dev` in namespace `ns`.
fn mac(ns: &str, dev: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", dev])
        .output()
        .expect("ip link show");
    let text = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "link/ether")
        .map(|w| w[1].to_owned())
        .unwrap_or_else(|| panic!("no MAC for {dev} in {ns}: {text}"))
}

/// Runs `ip` with the whitespace-separated `args`.
fn ip(args: &str) {
    let mut all = vec!["ip"];
    all.extend(args.split_whitespace());
    run(&all);
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
