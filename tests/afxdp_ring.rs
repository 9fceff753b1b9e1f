//! AF_XDP sockets (`xdp_prog::ring::XskSocket`) on a real veth pair in a throw-away namespace
//! (`appliance_tests::netns::VethLab`).
//!
//! TX needs no XDP program: a socket bound to queue q of `xfgen` sends straight to `xfcap`,
//! where the frames arrive on RX queue q. RX needs the steering program
//! (`xdp_prog::loader::Steer`) on `xfcap` to redirect frames into the socket. veth has no
//! zero-copy, so every socket here runs in copy mode.
//!
//! Frames are built by hand: Ethernet/IPv4/UDP, 198.18.0.2 → 198.18.0.1, addressed to a MAC
//! that is not `xfcap`'s, so the host stack drops them quietly (no ICMP, no ARP): the interface
//! counters move by exactly the frames sent.
//!
//! Needs root (netns, veth, AF_XDP, BPF) and iproute2 (plus ethtool for the per-queue check);
//! otherwise each test says it skips and passes.

use std::process::Command;
use std::time::{Duration, Instant};

use appliance_tests::netns::{self, CAP_IF, GEN_IF, VethLab};
use xdp_prog::Error;
use xdp_prog::loader::{Steer, SteerFilter, XdpMode};
use xdp_prog::ring::{BindMode, XskConfig, XskSocket};

/// Locally administered and not `xfcap`'s: the stack sees PACKET_OTHERHOST and drops.
const OTHER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const GEN_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// An Ethernet/IPv4/UDP frame 198.18.0.2:`src_port` → 198.18.0.1:9 (discard) carrying
/// `payload`, with a correct IPv4 header checksum (UDP checksum 0: none, RFC 768).
fn udp_frame(src_port: u16, payload: &[u8]) -> Vec<u8> {
    let ip_len = 20 + 8 + payload.len();
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&OTHER_MAC); // destination MAC
    f.extend_from_slice(&GEN_MAC); // source MAC
    f.extend_from_slice(&[0x08, 0x00]); // EtherType IPv4
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0x00]); // version 4, IHL 5; DSCP/ECN 0
    f.extend_from_slice(&(ip_len as u16).to_be_bytes()); // total length
    f.extend_from_slice(&[0x00, 0x00, 0x40, 0x00]); // id 0; DF, fragment offset 0
    f.extend_from_slice(&[0x40, 0x11]); // TTL 64, protocol 17 (UDP)
    f.extend_from_slice(&[0x00, 0x00]); // header checksum, filled below
    f.extend_from_slice(&[198, 18, 0, 2]); // source 198.18.0.2
    f.extend_from_slice(&[198, 18, 0, 1]); // destination 198.18.0.1
    let sum = ipv4_checksum(&f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&src_port.to_be_bytes()); // UDP source port
    f.extend_from_slice(&9u16.to_be_bytes()); // UDP destination port 9
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes()); // UDP length
    f.extend_from_slice(&[0x00, 0x00]); // UDP checksum: none
    f.extend_from_slice(payload);
    f
}

/// RFC 1071 one's-complement sum over the header (checksum field zero).
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `n` distinct frames: the source port and the payload carry the index.
fn frames(n: usize, payload_len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut payload = vec![0u8; payload_len.max(4)];
            payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
            udp_frame(10_000 + (i % 50_000) as u16, &payload)
        })
        .collect()
}

/// Sends every frame (again and again while TX is full), then waits until all completed.
///
/// # Panics
///
/// When the kernel stops taking frames for 5 s.
fn send_all(tx: &mut XskSocket, frames: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let mut sent = 0;
    let mut last_progress = Instant::now();
    while sent < refs.len() {
        let n = tx.send(&refs[sent..]).expect("send");
        if n > 0 {
            last_progress = Instant::now();
        }
        assert!(
            last_progress.elapsed() < Duration::from_secs(5),
            "TX stalled after {sent} of {} frames",
            refs.len()
        );
        sent += n;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while tx.tx_in_flight().expect("tx_in_flight") > 0 {
        assert!(
            Instant::now() < deadline,
            "frames still in flight after 5 s"
        );
    }
}

/// Waits (up to 2 s) for `read` to reach `want`; returns the last value read.
fn settle(want: u64, read: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let v = read();
        if v >= want || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ethtool -S IF` counter `name`, read inside the lab; `None` when absent.
fn ethtool_stat(lab: &VethLab, ifname: &str, name: &str) -> Option<u64> {
    let out = lab.exec(&["ethtool", "-S", ifname]);
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        (k.trim() == name).then(|| v.trim().parse().ok())?
    })
}

fn have_ethtool() -> bool {
    Command::new("ethtool").arg("--version").output().is_ok()
}

#[test]
fn afxdp_ring_tx_reaches_the_peer() {
    if !netns::skip_unless_root("afxdp_ring_tx_reaches_the_peer") {
        return;
    }
    let lab = VethLab::create(2);
    lab.enter();
    let mut tx = XskSocket::open(GEN_IF, 0, &XskConfig::transmitter()).expect("open TX socket");
    assert!(
        !tx.zero_copy(),
        "veth has no zero-copy: auto falls back to copy"
    );
    assert_eq!(tx.queue(), 0);

    let batch = frames(1000, 18); // 60-byte frames, the Ethernet minimum without FCS
    let before = lab.if_stat(CAP_IF, "rx_packets");
    send_all(&mut tx, &batch);
    let after = settle(before + 1000, || lab.if_stat(CAP_IF, "rx_packets"));
    assert_eq!(after - before, 1000, "xfcap rx_packets");
    assert_eq!(lab.if_stat(GEN_IF, "tx_dropped"), 0);
    let stats = tx.statistics().expect("statistics");
    assert_eq!(stats.tx_invalid_descs, 0, "{stats:?}");
}

#[test]
fn afxdp_ring_tx_queue_maps_to_the_peer_rx_queue() {
    if !netns::skip_unless_root("afxdp_ring_tx_queue_maps_to_the_peer_rx_queue") {
        return;
    }
    if !have_ethtool() {
        println!("skipped afxdp_ring_tx_queue_maps_to_the_peer_rx_queue: `ethtool` is missing");
        return;
    }
    let lab = VethLab::create(2);
    // veth counts per RX queue only on its NAPI path. Without an XDP program it takes that
    // path for frames from a sender without TSO to a receiver with GRO
    // (`veth_skb_is_eligible_for_gro`).
    for (ifname, feature, on) in [(CAP_IF, "gro", "on"), (GEN_IF, "tso", "off")] {
        let out = lab.exec(&["ethtool", "-K", ifname, feature, on]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    lab.enter();
    let mut tx = XskSocket::open(GEN_IF, 1, &XskConfig::transmitter()).expect("open TX q1");
    let stat = |q: u32| ethtool_stat(&lab, CAP_IF, &format!("rx_queue_{q}_xdp_packets"));
    let (q0, q1) = (stat(0).expect("veth per-queue stats"), stat(1).expect("q1"));
    send_all(&mut tx, &frames(500, 18));
    let q1_after = settle(q1 + 500, || stat(1).unwrap_or(0));
    assert_eq!(
        q1_after - q1,
        500,
        "frames sent on xfgen TX queue 1 arrive on xfcap RX queue 1"
    );
    assert_eq!(stat(0), Some(q0), "nothing on RX queue 0");
}

#[test]
fn afxdp_ring_open_names_a_missing_queue_or_interface() {
    if !netns::skip_unless_root("afxdp_ring_open_names_a_missing_queue_or_interface") {
        return;
    }
    let lab = VethLab::create(2);
    lab.enter();
    let err = XskSocket::open(GEN_IF, 5, &XskConfig::transmitter()).unwrap_err();
    assert!(
        matches!(&err, Error::XskNoSuchQueue { iface, queue: 5, available: 2 } if iface == GEN_IF),
        "{err:?}"
    );
    println!("{err}");
    let err = XskSocket::open(CAP_IF, 2, &XskConfig::default()).unwrap_err();
    assert!(
        matches!(err, Error::XskNoSuchQueue { available: 2, .. }),
        "{err:?}"
    );
    let err = XskSocket::open("xfnope", 0, &XskConfig::default()).unwrap_err();
    assert!(matches!(err, Error::NoSuchInterface { .. }), "{err:?}");
    drop(lab);
}

#[test]
fn afxdp_ring_receiver_binds_in_copy_mode() {
    if !netns::skip_unless_root("afxdp_ring_receiver_binds_in_copy_mode") {
        return;
    }
    let lab = VethLab::create(2);
    lab.enter();
    let rx = XskSocket::open(CAP_IF, 0, &XskConfig::default()).expect("open RX socket");
    assert!(!rx.zero_copy(), "veth: copy mode");
    assert_eq!(rx.statistics().expect("statistics"), Default::default());

    // Forcing zero-copy fails with a hint; a second socket on the same queue is refused.
    let zc = XskConfig {
        bind: BindMode::ZeroCopy,
        ..XskConfig::default()
    };
    let err = XskSocket::open(CAP_IF, 1, &zc).unwrap_err();
    assert!(
        matches!(
            err,
            Error::XskBind {
                mode: "zero-copy",
                ..
            }
        ),
        "{err:?}"
    );
    println!("{err}: {:?}", std::error::Error::source(&err));
    let err = XskSocket::open(CAP_IF, 0, &XskConfig::default()).unwrap_err();
    assert!(
        matches!(&err, Error::XskBind { hint, .. } if hint.contains("another AF_XDP socket")),
        "{err:?}"
    );
    // Once the first is closed, the queue is free again; the kernel releases it from a work
    // queue, so it may take a moment.
    drop(rx);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match XskSocket::open(CAP_IF, 0, &XskConfig::default()) {
            Ok(_) => break,
            Err(Error::XskBind { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("queue 0 still taken 2 s after the socket was dropped: {e:?}"),
        }
    }
}

#[test]
fn afxdp_ring_rx_round_trip_through_the_steering_program() {
    if !netns::skip_unless_root("afxdp_ring_rx_round_trip_through_the_steering_program") {
        return;
    }
    let lab = VethLab::create(2);
    lab.enter();
    let queue = 1;
    let mut rx = XskSocket::open(CAP_IF, queue, &XskConfig::default()).expect("open RX");
    let mut steer = Steer::attach(CAP_IF, XdpMode::Auto, false, &SteerFilter::default())
        .expect("attach the steering program");
    steer.register(queue, rx.fd()).expect("register the socket");
    let mut tx = XskSocket::open(GEN_IF, queue, &XskConfig::transmitter()).expect("open TX");

    // Mixed sizes up to the largest frame the MTU lets through (1500 + 14).
    let sent: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            let len = [18, 100, 700, 1472][i % 4];
            let mut payload = vec![(i % 251) as u8; len];
            payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
            udp_frame(20_000 + i as u16, &payload)
        })
        .collect();
    let mut got: Vec<Vec<u8>> = Vec::new();
    for chunk in sent.chunks(100) {
        send_all(&mut tx, chunk);
        let want = got.len() + chunk.len();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            if rx.wait(100).expect("wait") {
                rx.recv(64, |f| got.push(f.to_vec())).expect("recv");
            }
        }
    }
    let counters = steer.counters().expect("counters");
    let stats = rx.statistics().expect("statistics");
    assert_eq!(
        got.len(),
        sent.len(),
        "steer {counters:?}, socket {stats:?}"
    );
    assert!(got == sent, "frames arrive intact and in order");
    assert_eq!(counters.redirected, sent.len() as u64, "{counters:?}");
    assert_eq!(stats, Default::default(), "no drops");
    assert!(!rx.wait(0).expect("wait"), "nothing else arrived");
}

/// Not a pass/fail test: prints what one copy-mode TX socket and one copy-mode RX socket move
/// on this machine (`--nocapture` to see it).
#[test]
fn afxdp_ring_throughput() {
    if !netns::skip_unless_root("afxdp_ring_throughput") {
        return;
    }
    let lab = VethLab::create(1);
    lab.enter();
    let n = 200_000;
    let batch = frames(4096, 18);

    // TX alone: the stack drops the frames on xfcap.
    let mut tx = XskSocket::open(GEN_IF, 0, &XskConfig::transmitter()).expect("open TX");
    let start = Instant::now();
    for _ in 0..n / batch.len() {
        send_all(&mut tx, &batch);
    }
    let sent = (n / batch.len() * batch.len()) as f64;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "afxdp_ring_throughput: TX {:.2} Mpps ({sent} 60-byte frames in {secs:.3} s)",
        sent / secs / 1e6
    );

    // TX → steering program → RX socket, both driven by this thread.
    let mut rx = XskSocket::open(CAP_IF, 0, &XskConfig::default()).expect("open RX");
    let mut steer =
        Steer::attach(CAP_IF, XdpMode::Auto, false, &SteerFilter::default()).expect("attach");
    steer.register(0, rx.fd()).expect("register");
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    let window = 256;
    let start = Instant::now();
    let (mut queued, mut received) = (0usize, 0usize);
    let mut last_rx = Instant::now();
    while received < n && last_rx.elapsed() < Duration::from_secs(2) {
        // Keep fewer frames in flight than the RX ring holds, so none are dropped.
        if queued < n && queued - received < 1024 {
            let at = queued % (refs.len() - window);
            let k = window.min(n - queued);
            queued += tx.send(&refs[at..at + k]).expect("send");
        } else {
            tx.tx_in_flight().expect("in flight");
        }
        let k = rx.recv(256, |_| {}).expect("recv");
        if k > 0 {
            received += k;
            last_rx = Instant::now();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = rx.statistics().expect("statistics");
    println!(
        "afxdp_ring_throughput: TX→XDP→RX {:.2} Mpps ({received} frames in {secs:.3} s; lost \
         {}; {stats:?})",
        received as f64 / secs / 1e6,
        queued - received
    );
}
