//! Test support and capture checks for the service dissectors (`registry::service_protocols`):
//! helpers that run one dissector over hand-written payloads, and the checks of every public
//! capture against nfstream's labels (agreement on the masters, no flow claimed that nfstream
//! labels otherwise).

use super::{Context, Dissector, DpiResult, FlowDpi, Packet, Verdict};

/// A packet of a flow from `src_port` to `dst_port` (addresses 10.0.0.1 → 10.0.0.2), sent by
/// the initiator (`dir` 0) or the responder (1).
pub fn packet(protocol: u8, dir: u8, src_port: u16, dst_port: u16, payload: &[u8]) -> Packet<'_> {
    let mut src_ip = [0; 16];
    src_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
    let mut dst_ip = [0; 16];
    dst_ip[..4].copy_from_slice(&[10, 0, 0, 2]);
    Packet {
        payload,
        dir,
        protocol,
        src_port,
        dst_port,
        tcp_flags: if protocol == 6 { 0x18 } else { 0 },
        index: 0,
        ip_version: 4,
        src_ip,
        dst_ip,
    }
}

/// Offers one packet to `d` on a fresh flow: its verdict and the flow's result.
pub fn dissect_one(d: &dyn Dissector, pkt: &Packet<'_>) -> (Verdict, DpiResult) {
    let (verdicts, r) = dissect_flow(d, *pkt, &[(pkt.dir, pkt.payload)]);
    (verdicts[0], r)
}

/// Offers the payloads `(dir, bytes)` of one flow to `d` in order, as the engine does to the
/// dissector that owns or may still claim the flow: until a verdict other than `Pending`.
/// Returns the verdicts given and the flow's result. `proto` gives the flow's transport and
/// ports.
pub fn dissect_flow(
    d: &dyn Dissector,
    proto: Packet<'_>,
    payloads: &[(u8, &[u8])],
) -> (Vec<Verdict>, DpiResult) {
    let mut flow = FlowDpi::default();
    let mut scratch = Vec::new();
    let mut verdicts = Vec::new();
    for (i, (dir, payload)) in payloads.iter().enumerate() {
        let pkt = Packet {
            payload,
            dir: *dir,
            index: i as u32,
            ..proto
        };
        let mut ctx = Context {
            flow: &mut flow,
            id: 0,
            scratch: &mut scratch,
        };
        let v = d.dissect(&pkt, &mut ctx);
        verdicts.push(v);
        if v != Verdict::Pending {
            break;
        }
    }
    (verdicts, flow.result)
}

/// Asserts that a flow [`dissect_flow`] ran over `payloads` ended rejected, unnamed.
#[track_caller]
pub fn assert_rejected((verdicts, r): (Vec<Verdict>, DpiResult), payloads: &[(u8, &[u8])]) {
    assert_eq!(
        (verdicts.last(), r.master),
        (Some(&Verdict::Reject), None),
        "{payloads:?}"
    );
}

/// The service dissectors, in registry order.
pub fn dissectors() -> Vec<Box<dyn Dissector>> {
    super::registry::service_protocols()
}

/// nDPI masters the service dissectors give, as nfstream names them (`NetBIOS` stands for
/// `NetBIOS.SMBv1` / `NetBIOS.SMBv23`; `NetBIOS` and `BitTorrent` over TCP only: over UDP
/// they are the LAN dissectors').
pub const MASTERS: [&str; 24] = [
    "Kerberos",
    "LDAP",
    "NetBIOS",
    "BitTorrent",
    "RDP",
    "BGP",
    "Modbus",
    "VNC",
    "MySQL",
    "PostgreSQL",
    "MsSQL-TDS",
    "Oracle",
    "Git",
    "Telnet",
    "SMTP",
    "SMTPS",
    "POP3",
    "POPS",
    "IMAP",
    "IMAPS",
    "FTP_CONTROL",
    "FTP_DATA",
    "RTSP",
    "SMBv23",
];

#[cfg(test)]
mod captures {
    use std::collections::{BTreeMap, HashMap};

    use super::MASTERS;
    use crate::dpi::dns::captures::{Key, KeyColumns, dir, nfstream_names};
    use crate::dpi::testing::{master_agreement, run_capture};

    /// nfstream's `application_is_guessed` per flow of `file`, from `expected/` (rows in the
    /// order of the `nfstream/` CSV); empty when the file is missing.
    fn guessed(file: &str) -> HashMap<Key, bool> {
        let read = |sub: &str| std::fs::read_to_string(dir().join(sub).join(format!("{file}.csv")));
        let (Ok(flows), Ok(expected)) = (read("nfstream"), read("expected")) else {
            return HashMap::new();
        };
        let head: Vec<&str> = flows
            .lines()
            .next()
            .unwrap_or_default()
            .split(',')
            .collect();
        let columns = KeyColumns::new(&head);
        let ehead: Vec<&str> = expected
            .lines()
            .next()
            .unwrap_or_default()
            .split(',')
            .collect();
        let Some(g) = ehead.iter().position(|h| *h == "application_is_guessed") else {
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for (f, e) in flows.lines().skip(1).zip(expected.lines().skip(1)) {
            let c: Vec<&str> = f.split(',').collect();
            out.insert(columns.key(&c), e.split(',').nth(g) == Some("1"));
        }
        out
    }

    /// Ports where a mail master is implicit TLS: the TLS dissector's flows, not ours.
    fn implicit_tls(key: &Key) -> bool {
        [465, 993, 995].contains(&key.1) || [465, 993, 995].contains(&key.3)
    }

    /// Counts per nfstream master.
    #[derive(Default, Debug)]
    struct Tally {
        /// Flows nfstream labels with the master.
        total: usize,
        /// ... that we identify with the same master.
        equal: usize,
        /// ... that we leave unidentified where nfstream guessed by port (or that carry no
        /// payload): the naming layer's port guess gives the same name.
        port_guess: usize,
        /// ... that we label otherwise.
        differ: usize,
    }

    /// Every public capture through the service dissectors alone: agreement with nfstream
    /// on the flows it labels with our masters, and no flow claimed that nfstream labels
    /// otherwise.
    #[test]
    fn public_captures_agree_with_nfstream() {
        let Ok(entries) = std::fs::read_dir(dir().join("nfstream")) else {
            println!("skipped: {} missing", dir().join("nfstream").display());
            return;
        };
        let mut files: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".csv").map(str::to_string))
            .collect();
        files.sort();
        let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
        let mut false_positives = Vec::new();
        let mut with_ours = Vec::new();
        for file in &files {
            let Some((_, flows)) = run_capture(file, Some(super::dissectors())) else {
                continue;
            };
            let theirs = nfstream_names(file);
            let guessed = guessed(file);
            // Ours against theirs, for every flow we identify.
            for (key, f) in &flows {
                let Some(ours) = f.dpi.as_ref().and_then(|d| d.result.master) else {
                    continue;
                };
                let rows = theirs.get(key).map(Vec::as_slice).unwrap_or_default();
                let agrees = rows
                    .iter()
                    .any(|(app, _)| app.split('.').next() == Some(ours));
                if !agrees {
                    false_positives
                        .push(format!("{file}: {key:?}: ours {ours}, nfstream {rows:?}"));
                }
            }
            // Theirs against ours, for every flow nfstream labels with one of our masters.
            let mut mine = false;
            for (key, rows) in &theirs {
                for (app, _) in rows {
                    let master = app.split('.').next().unwrap_or_default();
                    if !MASTERS.contains(&master)
                        || (matches!(master, "NetBIOS" | "BitTorrent") && key.4 != 6)
                        || implicit_tls(key)
                    {
                        continue;
                    }
                    mine = true;
                    let t = tally.entry(master.to_string()).or_default();
                    t.total += 1;
                    let flow = flows.get(key);
                    let ours = flow
                        .and_then(|f| f.dpi.as_ref())
                        .and_then(|d| d.result.master);
                    let had_payload = flow.is_some_and(|f| f.dpi.is_some());
                    if ours == Some(master) {
                        t.equal += 1;
                    } else if ours.is_none()
                        && (!had_payload || guessed.get(key).copied().unwrap_or(false))
                    {
                        t.port_guess += 1;
                    } else {
                        t.differ += 1;
                        println!("{file}: {key:?}: nfstream {app}, ours {ours:?}");
                    }
                }
            }
            if mine {
                with_ours.push(file.clone());
            }
        }
        println!(
            "master: nfstream flows = equal + port guess (no payload or nDPI guessed) + differ"
        );
        for (m, t) in &tally {
            println!(
                "{m}: {} = {} + {} + {}",
                t.total, t.equal, t.port_guess, t.differ
            );
        }
        println!("false positives: {}", false_positives.len());
        for fp in &false_positives {
            println!("  {fp}");
        }
        // The engine's own comparison (all built-in dissectors), for the record.
        for file in &with_ours {
            if let Some((total, equal)) = master_agreement(file, &MASTERS) {
                println!("master_agreement({file}): {equal}/{total}");
            }
        }
        let differ: usize = tally.values().map(|t| t.differ).sum();
        assert_eq!(
            differ, 0,
            "flows labelled otherwise than nfstream (see above)"
        );
        assert!(
            false_positives.is_empty(),
            "flows claimed that nfstream labels otherwise"
        );
        let equal: usize = tally.values().map(|t| t.equal).sum();
        // Every flow nfstream's nDPI identified by inspection (52 in the public captures); the
        // rest are its port guesses (no payload, or a first payload inside a message).
        assert!(equal >= 52, "{equal} flows identified");
    }

    /// Metadata against ndpiReader's (`[User: ]`, `[BT Hash: ]`) and nfstream's server
    /// names, on the captures that have them.
    #[test]
    fn public_captures_metadata() {
        use crate::dpi::Value;
        use crate::dpi::dns::captures::ndpi_fields;
        let checks: [(&str, &str, &str); 4] = [
            ("ftp.pcap", "User", "ftp_user"),
            ("imap.pcap", "User", "imap_user"),
            ("pop3.pcap", "User", "pop3_user"),
            ("bittorrent.pcap", "BT Hash", "bittorrent_info_hash"),
        ];
        let mut compared = 0;
        for (file, tag, meta) in checks {
            let Some((_, flows)) = run_capture(file, Some(super::dissectors())) else {
                continue;
            };
            for (key, want) in ndpi_fields(file, tag) {
                let ours = flows
                    .get(&key)
                    .and_then(|f| f.dpi.as_ref())
                    .and_then(|d| d.result.meta(meta).cloned());
                assert_eq!(ours, Some(Value::Str(want)), "{file} {key:?} {meta}");
                compared += 1;
            }
        }
        if let Some((_, flows)) = run_capture("smtp-starttls.pcap", Some(super::dissectors())) {
            let theirs = nfstream_names("smtp-starttls.pcap");
            for (key, rows) in theirs {
                let r = &flows[&key].dpi.as_ref().expect("payload").result;
                assert_eq!(r.master, Some("SMTPS"));
                assert_eq!(r.requested_server_name, rows[0].1);
                compared += 1;
            }
        }
        // kerberos.pcap: every message identified names the realm (ndpiReader prints it
        // lower-cased, `happycraft.org\\johnson-pc`; the messages use three spellings).
        if let Some((_, flows)) = run_capture("kerberos.pcap", Some(super::dissectors())) {
            for f in flows.values().filter_map(|f| f.dpi.as_ref()) {
                if f.result.master != Some("Kerberos") {
                    continue;
                }
                let Some(Value::Str(realm)) = f.result.meta("kerberos_realm") else {
                    panic!("no realm: {:?}", f.result);
                };
                assert!(
                    realm.to_ascii_lowercase().starts_with("happycraft"),
                    "{realm}"
                );
                compared += 1;
            }
        }
        println!("{compared} values compared");
        assert!(compared >= 39, "{compared}");
    }
}
