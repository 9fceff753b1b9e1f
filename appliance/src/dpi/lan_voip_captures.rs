//! Test support and capture checks for the LAN discovery, VoIP and VPN dissectors
//! ([`super::registry`]'s `lan_and_voip_protocols`): a helper that feeds hand-written payloads
//! through an engine holding one dissector, and the checks of every public capture against
//! nfstream's labels (agreement per master, server names, false positives).
//!
//! It owns no dissector; it does not check the other groups' protocols.

use std::collections::BTreeMap;

use super::testing::run_capture;
use super::{Dissector, Dpi, DpiConfig, DpiResult, Packet};

/// How a hand-fed flow ended: its result and whether dissection is over.
#[derive(Debug)]
pub(super) struct Fed {
    /// What the dissector found.
    pub result: DpiResult,
    /// True when the engine stopped offering the flow (identified and done, or rejected).
    pub done: bool,
}

/// Feeds `pkts` (direction, payload) of one flow (`proto`, initiator port `sport`, responder
/// port `dport`) to an engine holding only `d`.
pub(super) fn feed<D: Dissector + 'static>(
    d: D,
    proto: u8,
    sport: u16,
    dport: u16,
    pkts: &[(u8, &[u8])],
) -> Fed {
    let mut dpi = Dpi::with_dissectors(DpiConfig::default(), vec![Box::new(d)]);
    let mut flow = dpi.alloc();
    let mut done = false;
    for (i, (dir, payload)) in pkts.iter().enumerate() {
        let mut src_ip = [0; 16];
        src_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
        let mut dst_ip = [0; 16];
        dst_ip[..4].copy_from_slice(&[198, 51, 100, 2]);
        let pkt = Packet {
            payload,
            dir: *dir,
            protocol: proto,
            src_port: sport,
            dst_port: dport,
            tcp_flags: if proto == 6 { 0x18 } else { 0 },
            index: i as u32,
            ip_version: 4,
            src_ip,
            dst_ip,
        };
        done = dpi.on_packet(&mut flow, &pkt);
        if done {
            break;
        }
    }
    Fed {
        result: flow.result.clone(),
        done,
    }
}

/// The masters this group identifies (nDPI's names).
pub(super) const MASTERS: &[&str] = &[
    "DNScrypt",
    "STUN",
    "DTLS",
    "SRTP",
    "RTP",
    "DHCP",
    "DHCPV6",
    "NetBIOS",
    "Dropbox",
    "Spotify",
    "Mikrotik",
    "Teredo",
    "NTP",
    "SIP",
    "WireGuard",
    "OpenVPN",
    "IPSec",
    "Syslog",
    "Radius",
    "NAT-PMP",
    "BitTorrent",
    "Zoom",
    "Telegram",
];

/// The names of this group's dissectors ([`Dissector::name`]).
pub(super) const NAMES: &[&str] = &[
    "dnscrypt",
    "dhcp",
    "dhcpv6",
    "netbios",
    "dropbox",
    "spotify",
    "mikrotik",
    "teredo",
    "ntp",
    "nat-pmp",
    "radius",
    "syslog",
    "ipsec",
    "sip",
    "stun",
    "telegram",
    "zoom",
    "wireguard",
    "openvpn",
    "bittorrent-udp",
    "rtp",
];

/// This group's dissectors, in the registry's order.
fn ours() -> Vec<Box<dyn Dissector>> {
    super::registry::builtin()
        .into_iter()
        .filter(|d| NAMES.contains(&d.name()))
        .collect()
}

/// Every public capture with its nfstream CSV.
fn captures() -> Vec<String> {
    let dir = super::dns::captures::dir().join("nfstream");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".csv").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Counts of one master over every capture.
#[derive(Debug, Default)]
struct Tally {
    /// nfstream flows with this master whose flow carried payload in its first 20 packets.
    with_payload: usize,
    /// Of those, the ones we label with the same master.
    equal: usize,
    /// nfstream flows with this master without payload (port guesses, left to naming).
    without_payload: usize,
    /// nfstream flows with this master and a server name.
    named: usize,
    /// Of those, the ones where our name is equal.
    named_equal: usize,
    /// nfstream flows with this master and an application (`STUN.TeamsCall`).
    apps: usize,
    /// Of those, the ones whose application we found in the payload (the naming table finds
    /// the others from names and addresses).
    apps_equal: usize,
    /// Flows where we name an application and nfstream none.
    apps_extra: usize,
}

/// What one comparison found.
#[derive(Debug, Default)]
struct Comparison {
    /// Per master.
    tally: BTreeMap<&'static str, Tally>,
    /// Flows (or names) where we differ from nfstream.
    differ: Vec<String>,
    /// Flows nfstream labels with a master not ours that we claim.
    false_pos: Vec<String>,
    /// Flows we claim that nfstream does not have: inner flows of tunnels it does not
    /// decode (GRE, VXLAN), which our decoder follows.
    not_in_nfstream: Vec<String>,
    /// nfstream flows with our masters that another group's dissector owns (TCP BitTorrent's
    /// peer wire protocol, SMB's `NetBIOS.SMBv*` on TCP 445).
    others: Vec<String>,
}

/// True for nfstream flows of our masters that another group identifies.
fn owned_by_others(master: &str, key: &super::dns::captures::Key) -> bool {
    let tcp = key.4 == 6;
    (tcp && master == "BitTorrent")
        || (tcp && master == "NetBIOS" && (key.1 == 445 || key.3 == 445))
}

/// Runs every capture through `dissectors()` (ours alone, or every built-in) and compares
/// with nfstream: per master agreement over flows with payload, server names, and flows we
/// claim that nfstream labels otherwise.
fn compare_all(dissectors: fn() -> Vec<Box<dyn Dissector>>) -> Comparison {
    let mut c = Comparison::default();
    for file in captures() {
        let Some((_, flows)) = run_capture(&file, Some(dissectors())) else {
            continue;
        };
        let theirs = super::dns::captures::nfstream_names(&file);
        for (key, rows) in &theirs {
            let our_res = flows
                .get(key)
                .and_then(|f| f.dpi.as_ref())
                .map(|d| &d.result);
            let our_master = our_res.and_then(|r| r.master);
            for (app, name) in rows {
                let master = app.split('.').next().unwrap_or("");
                let Some(m) = MASTERS.iter().find(|m| **m == master) else {
                    if let Some(o) = our_master.filter(|o| MASTERS.contains(o)) {
                        c.false_pos
                            .push(format!("{file}: {key:?}: nfstream {app}, ours {o}"));
                    }
                    continue;
                };
                if owned_by_others(m, key) {
                    c.others.push(format!(
                        "{file}: {key:?}: nfstream {app}, ours {our_master:?}"
                    ));
                    continue;
                }
                let t = c.tally.entry(m).or_default();
                let Some(r) = our_res else {
                    t.without_payload += 1;
                    continue;
                };
                t.with_payload += 1;
                if our_master == Some(master) {
                    t.equal += 1;
                } else {
                    c.differ.push(format!(
                        "{file}: {key:?}: nfstream {app}, ours {our_master:?}"
                    ));
                }
                if !app.contains('.')
                    && let Some(a) = r.app
                {
                    t.apps_extra += 1;
                    c.differ
                        .push(format!("{file}: {key:?}: nfstream {app}, ours app {a}"));
                }
                if let Some((_, their_app)) = app.split_once('.') {
                    t.apps += 1;
                    if r.app == Some(their_app) {
                        t.apps_equal += 1;
                    } else {
                        c.differ.push(format!(
                            "{file}: {key:?}: nfstream app {their_app}, ours {:?}",
                            r.app
                        ));
                    }
                }
                if !name.is_empty() {
                    t.named += 1;
                    if r.requested_server_name == *name {
                        t.named_equal += 1;
                    } else {
                        c.differ.push(format!(
                            "{file}: {key:?}: nfstream name {name:?}, ours {:?}",
                            r.requested_server_name
                        ));
                    }
                }
            }
        }
        for (key, f) in &flows {
            if let Some(m) = f.dpi.as_ref().and_then(|d| d.result.master)
                && MASTERS.contains(&m)
                && !theirs.contains_key(key)
            {
                c.not_in_nfstream.push(format!("{file}: {key:?}: ours {m}"));
            }
        }
    }
    c
}

/// Prints a comparison; returns (equal, with payload, names equal, named).
fn report(title: &str, c: &Comparison) -> (usize, usize, usize, usize) {
    let (mut total, mut equal, mut named, mut named_equal) = (0, 0, 0, 0);
    println!(
        "== {title}: master: equal/with payload (without payload) names equal/named \
         apps from payload/apps (apps nfstream does not name)"
    );
    for (m, t) in &c.tally {
        println!(
            "{m}: {}/{} ({}) names {}/{} apps {}/{} ({})",
            t.equal,
            t.with_payload,
            t.without_payload,
            t.named_equal,
            t.named,
            t.apps_equal,
            t.apps,
            t.apps_extra
        );
        total += t.with_payload;
        equal += t.equal;
        named += t.named;
        named_equal += t.named_equal;
    }
    println!("all: {equal}/{total} names {named_equal}/{named}");
    for d in &c.differ {
        println!("differs: {d}");
    }
    for f in &c.false_pos {
        println!("false positive: {f}");
    }
    for f in &c.not_in_nfstream {
        println!("not in nfstream (tunnel inner flow): {f}");
    }
    for f in &c.others {
        println!("another group's: {f}");
    }
    (equal, total, named_equal, named)
}

/// Every capture through this group's dissectors alone: ≥ 95% of the payload-bearing flows
/// nfstream labels with our masters get the same master, every server name nfstream gives
/// matches, and we claim no flow nfstream labels otherwise. Prints the table and every
/// difference (`--nocapture`).
#[test]
fn public_captures_agree_with_nfstream() {
    let c = compare_all(ours);
    if c.tally.is_empty() {
        println!("skipped: no public captures");
        return;
    }
    let (equal, total, named_equal, named) = report("our dissectors alone", &c);
    assert!(equal * 100 >= total * 95, "agreement {equal}/{total}");
    assert!(
        named_equal * 100 >= named * 95,
        "names {named_equal}/{named}"
    );
    assert!(
        c.false_pos.is_empty(),
        "{} false positives",
        c.false_pos.len()
    );
}

/// The same with every built-in dissector, in registry order: what the exported records get.
/// Prints only; the other groups' dissectors decide part of it.
#[test]
fn public_captures_with_every_dissector() {
    let c = compare_all(super::registry::builtin);
    if !c.tally.is_empty() {
        report("every dissector", &c);
    }
}
