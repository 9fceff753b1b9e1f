//! The engine's contract with dissectors (`Dpi::on_packet`), with test doubles: who is offered
//! which packet, in which order, and when dissection ends.

use std::sync::{Arc, Mutex};

use super::*;

/// A dissector that logs its calls and answers from a script (`Pending` once the script ends).
struct Scripted {
    name: &'static str,
    transports: Transports,
    ports: &'static [u16],
    /// (verdict, identify as) per call.
    script: Vec<(Verdict, Option<&'static str>)>,
    log: Arc<Mutex<Vec<(&'static str, u32)>>>,
}

impl Dissector for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }

    fn transports(&self) -> Transports {
        self.transports
    }

    fn ports(&self) -> &'static [u16] {
        self.ports
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let mut log = self.log.lock().unwrap();
        let calls = log.iter().filter(|(n, _)| *n == self.name).count();
        log.push((self.name, pkt.index));
        let counter: &mut u32 = ctx.state();
        *counter += 1;
        let counter = *counter;
        let (verdict, identify) = self
            .script
            .get(calls)
            .copied()
            .unwrap_or((Verdict::Pending, None));
        if let Some(master) = identify {
            ctx.identify(master);
            ctx.result().requested_server_name = format!("{}-{}", self.name, counter);
        }
        verdict
    }
}

type Log = Arc<Mutex<Vec<(&'static str, u32)>>>;

fn scripted(
    name: &'static str,
    transports: Transports,
    ports: &'static [u16],
    script: Vec<(Verdict, Option<&'static str>)>,
    log: &Log,
) -> Box<dyn Dissector> {
    Box::new(Scripted {
        name,
        transports,
        ports,
        script,
        log: Arc::clone(log),
    })
}

fn packet(index: u32, protocol: u8, dst_port: u16) -> Packet<'static> {
    Packet {
        payload: b"payload",
        dir: (index % 2) as u8,
        protocol,
        src_port: 40000,
        dst_port,
        tcp_flags: 0,
        index,
        ip_version: 4,
        src_ip: [0; 16],
        dst_ip: [0; 16],
    }
}

fn engine(n: u32, dissectors: Vec<Box<dyn Dissector>>) -> Dpi {
    Dpi::with_dissectors(
        DpiConfig {
            n_dissections: n,
            apps: Arc::new(apps::AppTable::builtin()),
        },
        dissectors,
    )
}

#[test]
fn a_rejecting_dissector_is_never_offered_the_flow_again() {
    let log = Log::default();
    let mut dpi = engine(
        20,
        vec![
            scripted(
                "a",
                Transports::Both,
                &[],
                vec![(Verdict::Reject, None)],
                &log,
            ),
            scripted("b", Transports::Both, &[], vec![], &log),
        ],
    );
    let mut flow = dpi.alloc();
    for i in 0..3 {
        assert!(!dpi.on_packet(&mut flow, &packet(i, 6, 80)));
    }
    let log = log.lock().unwrap();
    assert_eq!(*log, [("a", 0), ("b", 0), ("b", 1), ("b", 2)]);
}

#[test]
fn once_identified_only_the_owner_sees_packets_until_it_is_done() {
    let log = Log::default();
    let mut dpi = engine(
        20,
        vec![
            scripted(
                "owner",
                Transports::Both,
                &[],
                vec![
                    (Verdict::Pending, Some("TLS")),
                    (Verdict::Pending, None),
                    (Verdict::Done, None),
                ],
                &log,
            ),
            scripted("other", Transports::Both, &[], vec![], &log),
        ],
    );
    let mut flow = dpi.alloc();
    assert!(!dpi.on_packet(&mut flow, &packet(0, 6, 443)));
    assert!(!dpi.on_packet(&mut flow, &packet(1, 6, 443)));
    assert!(
        dpi.on_packet(&mut flow, &packet(2, 6, 443)),
        "Done ends dissection"
    );
    assert!(
        dpi.on_packet(&mut flow, &packet(3, 6, 443)),
        "and it stays ended"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [("owner", 0), ("owner", 1), ("owner", 2)]
    );
    assert_eq!(flow.result.master, Some("TLS"));
    assert!(
        flow.states.is_empty(),
        "states are freed when dissection ends"
    );
    // The result survives; its owner's state counted 1 call when it identified.
    assert_eq!(flow.result.requested_server_name, "owner-1");
}

#[test]
fn dissection_ends_at_n_packets_and_when_every_dissector_rejected() {
    let log = Log::default();
    let mut dpi = engine(3, vec![scripted("p", Transports::Both, &[], vec![], &log)]);
    let mut flow = dpi.alloc();
    assert!(!dpi.on_packet(&mut flow, &packet(0, 17, 53)));
    assert!(!dpi.on_packet(&mut flow, &packet(1, 17, 53)));
    assert!(
        dpi.on_packet(&mut flow, &packet(2, 17, 53)),
        "the 3rd packet is the last"
    );
    assert_eq!(log.lock().unwrap().len(), 3);

    // A TCP flow: the UDP-only dissector is never asked, and the TCP one rejecting is enough
    // to end dissection at once.
    let log = Log::default();
    let mut dpi = engine(
        20,
        vec![
            scripted("udp", Transports::Udp, &[], vec![], &log),
            scripted(
                "tcp",
                Transports::Tcp,
                &[],
                vec![(Verdict::Reject, None)],
                &log,
            ),
        ],
    );
    let mut flow = dpi.alloc();
    assert!(dpi.on_packet(&mut flow, &packet(0, 6, 80)));
    assert_eq!(*log.lock().unwrap(), [("tcp", 0)]);
    assert_eq!(flow.result.master, None);
}

#[test]
fn the_dissector_of_a_well_known_port_goes_first() {
    let log = Log::default();
    let mut dpi = engine(
        20,
        vec![
            scripted("first", Transports::Both, &[], vec![], &log),
            scripted(
                "dns",
                Transports::Udp,
                &[53],
                vec![(Verdict::Done, Some("DNS"))],
                &log,
            ),
        ],
    );
    let mut flow = dpi.alloc();
    assert!(dpi.on_packet(&mut flow, &packet(0, 17, 53)));
    assert_eq!(
        *log.lock().unwrap(),
        [("dns", 0)],
        "identified before the others ran"
    );

    // On another port, registry order.
    let log2 = Log::default();
    let mut dpi = engine(
        20,
        vec![
            scripted("first", Transports::Both, &[], vec![], &log2),
            scripted(
                "dns",
                Transports::Udp,
                &[53],
                vec![(Verdict::Done, Some("DNS"))],
                &log2,
            ),
        ],
    );
    let mut flow = dpi.alloc();
    assert!(dpi.on_packet(&mut flow, &packet(0, 17, 5353)));
    assert_eq!(*log2.lock().unwrap(), [("first", 0), ("dns", 0)]);
}

#[test]
fn finished_states_go_back_to_the_pool_empty() {
    let log = Log::default();
    let mut dpi = engine(
        20,
        vec![scripted(
            "x",
            Transports::Both,
            &[],
            vec![(Verdict::Done, Some("HTTP"))],
            &log,
        )],
    );
    let mut flow = dpi.alloc();
    dpi.on_packet(&mut flow, &packet(0, 6, 80));
    let id = FlowIdentity {
        protocol: 6,
        ip_version: 4,
        dst_port: 80,
        ..FlowIdentity::default()
    };
    let fields = dpi.finish(Some(flow), &id);
    assert_eq!(fields.application_name, "HTTP");
    assert_eq!(fields.application_confidence, Confidence::Dpi);
    let again = dpi.alloc();
    assert_eq!(
        again.result,
        DpiResult::default(),
        "a reused state starts blank"
    );
    assert!(again.owner.is_none() && !again.done && again.rejected == 0);
    assert_eq!(dpi.counters().flows, 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Every built-in dissector, through the engine, on arbitrary payloads in both directions
    /// on arbitrary or well-known ports: no panic, and the engine stops by the N-th packet.
    #[test]
    fn any_bytes_through_every_builtin_dissector(
        payloads in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 1..1600),
            1..24,
        ),
        udp in proptest::prelude::any::<bool>(),
        port in proptest::sample::select(vec![
            22u16, 25, 53, 67, 80, 88, 110, 123, 137, 143, 389, 443, 445, 1194, 1900, 3478,
            5060, 5353, 5355, 6881, 17500, 40000,
        ]),
    ) {
        let mut dpi = Dpi::new(DpiConfig { n_dissections: 20, ..DpiConfig::default() });
        let mut flow = dpi.alloc();
        let mut ended = false;
        for (i, p) in payloads.iter().enumerate() {
            let pkt = Packet {
                payload: p,
                dir: (i % 2) as u8,
                protocol: if udp { 17 } else { 6 },
                src_port: 50000,
                dst_port: port,
                tcp_flags: 0x18,
                index: i as u32,
                ip_version: 4,
                src_ip: [0; 16],
                dst_ip: [0; 16],
            };
            ended = dpi.on_packet(&mut flow, &pkt);
        }
        proptest::prop_assert!(ended || payloads.len() < 20);
        let _ = dpi.finish(Some(flow), &FlowIdentity::default());
    }
}
