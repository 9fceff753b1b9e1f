//! The DNS dissector: DNS over UDP and TCP on port 53 (`DNS`), multicast DNS on 5353
//! (`MDNS`), LLMNR on 5355 (`LLMNR`).
//!
//! A flow is claimed only on its ports *and* a message that looks like one a resolver or a
//! responder would send ([`plausible`]): DNSCrypt and other tunnels on port 53 carry bytes
//! that do not parse as DNS and are left to their own dissectors. The first message gives
//! the name (the first question's, or an mDNS announcement's first answer owner) and type;
//! the first response that carries records, when it comes in the same flow, renames the flow
//! after its question (see `on_message` for why), gives the rcode and answer count, and ends
//! dissection (for mDNS and LLMNR queries, whose answers come from other hosts and so in other
//! flows, the engine's packet limit ends it).
//!
//! Names are exported as nfstream prints them: ASCII letters lowercased; for DNS and LLMNR
//! any byte that is not printable ASCII becomes `?` (nfstream's `1kxun.pcap.csv` has an LLMNR
//! name of twelve `?` for four CJK characters), for mDNS UTF-8 is kept (`iphone.pcap.csv`:
//! `luca’s imac._odisk._tcp.local`).

use super::{
    DnsTcpReassembler, HEADER_LEN, Header, LLMNR_PORT, MDNS_PORT, PORT, TCP_MESSAGE_CAP,
    parse_message_into, sections_fit,
};
use crate::dpi::{Context, Dissector, DpiResult, Packet, Verdict};

/// The master for a flow's ports, `None` when no DNS port is on either side.
fn master(pkt: &Packet<'_>) -> Option<&'static str> {
    if pkt.has_port(PORT) {
        Some("DNS")
    } else if pkt.is_udp() && pkt.has_port(MDNS_PORT) {
        Some("MDNS")
    } else if pkt.has_port(LLMNR_PORT) {
        Some("LLMNR")
    } else {
        None
    }
}

/// Most questions accepted in one message (real ones have 1; mDNS queries a handful).
const MAX_QUESTIONS: u16 = 64;
/// Most records of each other section accepted (mDNS responses carry dozens).
const MAX_RECORDS: u16 = 512;

/// True when a parsed header and first question look like a real message: a standard
/// opcode (RFC 6895 §2.2: query, status, notify, update), sane section counts, something to
/// name, and a known class (RFC 6895 §3.2: IN, CH, HS, NONE, ANY; mDNS sets the top bit).
pub fn plausible(h: &Header) -> bool {
    if !matches!(h.opcode(), 0 | 2 | 4 | 5)
        || h.question_count > MAX_QUESTIONS
        || h.answer_count > MAX_RECORDS
        || h.authority_count > MAX_RECORDS
        || h.additional_count > MAX_RECORDS
    {
        return false;
    }
    let Some(q) = h.question.or(h.answer) else {
        return false;
    };
    // A query must ask something; only a response may come without a question.
    if h.question.is_none() && !h.is_response() {
        return false;
    }
    q.qtype != 0 && matches!(q.qclass(), 1 | 3 | 4 | 254 | 255)
}

/// Per-flow state of [`Dns`] over TCP: one [`DnsTcpReassembler`] per direction, each keeping
/// [`TCP_MESSAGE_CAP`] (512) bytes of the current message. Bound: about 1.1 KiB per flow. UDP
/// flows keep no state (each datagram is a whole message).
#[derive(Debug)]
pub struct DnsTcpFlow {
    dirs: [DnsTcpReassembler; 2],
}

impl Default for DnsTcpFlow {
    fn default() -> Self {
        DnsTcpFlow {
            dirs: [
                DnsTcpReassembler::new(TCP_MESSAGE_CAP),
                DnsTcpReassembler::new(TCP_MESSAGE_CAP),
            ],
        }
    }
}

/// DNS, mDNS and LLMNR (`DNS`, `MDNS`, `LLMNR`). State: [`DnsTcpFlow`] over TCP, none over
/// UDP.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dns;

impl Dissector for Dns {
    fn ports(&self) -> &'static [u16] {
        &[53, 5353, 5355]
    }

    fn name(&self) -> &'static str {
        "dns"
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(master) = master(pkt) else {
            return Verdict::Reject;
        };
        if pkt.is_udp() {
            return on_message(pkt.payload, master, ctx);
        }
        if !ctx.is_identified() {
            // RFC 1035 §4.2.2: a two-byte length, then the message. The first segment must
            // hold the length and a plausible header; the flow is claimed on that, before
            // any state exists, so that later segments need no second look.
            let p = pkt.payload;
            let Some((len, msg)) = p.split_first_chunk::<2>() else {
                return Verdict::Reject;
            };
            if usize::from(u16::from_be_bytes(*len)) < HEADER_LEN || !header_plausible(msg) {
                return Verdict::Reject;
            }
            ctx.identify(master);
        }
        // `Option` so that taking the state out and back allocates nothing.
        let mut st = std::mem::take(ctx.state::<Option<DnsTcpFlow>>()).unwrap_or_default();
        let mut verdict = Verdict::Pending;
        st.dirs[usize::from(pkt.dir & 1)].push(pkt.payload, &mut |msg| {
            if verdict == Verdict::Pending {
                verdict = on_message(msg, master, ctx);
            }
        });
        *ctx.state::<Option<DnsTcpFlow>>() = Some(st);
        // An identified flow is never rejected: a message that does not parse is skipped.
        if verdict == Verdict::Reject {
            Verdict::Pending
        } else {
            verdict
        }
    }
}

/// The header checks of [`plausible`] on raw bytes, without parsing the question (which
/// would allocate the name): at least a header, a standard opcode, sane counts, and a
/// question or an answer.
fn header_plausible(msg: &[u8]) -> bool {
    let Some((h, _)) = msg.split_first_chunk::<HEADER_LEN>() else {
        return false;
    };
    let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let opcode = (h[2] >> 3) & 0x0f;
    let (qd, an, ns, ar) = (word(4), word(6), word(8), word(10));
    matches!(opcode, 0 | 2 | 4 | 5)
        && qd <= MAX_QUESTIONS
        && an <= MAX_RECORDS
        && ns <= MAX_RECORDS
        && ar <= MAX_RECORDS
        && (qd > 0 || (an > 0 && h[2] & 0x80 != 0))
}

/// Reads one whole message (without the TCP length prefix). The first one that is
/// [`plausible`] identifies the flow and names it; a response carrying records (answers,
/// authority or additional) renames it after its own question, gives the rcode and answer
/// count, and ends dissection. That is the name nfstream reports: a resolver flow reused for
/// several queries is named after the query of the first answered response
/// (`tls_certificate_too_long.pcap`: the second of three queries; `bad-dns-traffic.pcap`: the
/// fifth), and an mDNS flow after its first packet unless an announcement follows. A
/// response without records (an empty NOERROR, a bare NXDOMAIN) gives the rcode only.
fn on_message(msg: &[u8], master: &'static str, ctx: &mut Context<'_>) -> Verdict {
    let identified = ctx.is_identified();
    // A flow is claimed only on a whole message: nDPI does not look at IP fragments, so a
    // fragmented response's first part is no evidence (nfstream's `badpackets.pcap`). Both
    // checks read the bytes without allocating; only then is the name decoded.
    if !(identified || (header_plausible(msg) && sections_fit(msg))) {
        return Verdict::Reject;
    }
    let mut name = String::new();
    let h = match parse_message_into(msg, false, &mut name) {
        Ok(h) if plausible(&h) => h,
        _ if identified => return Verdict::Pending,
        _ => return Verdict::Reject,
    };
    if !identified {
        ctx.identify(master);
    }
    let records = h.answer_count > 0 || h.authority_count > 0 || h.additional_count > 0;
    let answered = h.is_response() && records;
    let r = ctx.result();
    if !identified || answered {
        r.requested_server_name = export_name(&name, master);
        if let Some(q) = h.question.or(h.answer) {
            r.set_meta("dns_qtype", q.qtype);
        }
    }
    if h.is_response() && (answered || r.meta("dns_rcode").is_none()) {
        response_fields(&h, r);
    }
    if answered {
        Verdict::Done
    } else {
        Verdict::Pending
    }
}

fn response_fields(h: &Header, r: &mut DpiResult) {
    r.set_meta("dns_rcode", h.rcode());
    r.set_meta("dns_answers", h.answer_count);
}

/// A decoded name (escaped presentation form, see the parent module) as nfstream exports it:
/// the escapes undone, then for mDNS the bytes as UTF-8 (invalid sequences as U+FFFD), for
/// DNS and LLMNR every byte outside printable ASCII as `?`.
pub fn export_name(escaped: &str, master: &str) -> String {
    let mut raw = Vec::with_capacity(escaped.len());
    let b = escaped.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // `\DDD`: a decimal byte (RFC 4343 §2.1), always three digits from the parser.
        if b[i] == b'\\'
            && let Some(d) = b.get(i + 1..i + 4)
            && d.iter().all(u8::is_ascii_digit)
        {
            let v =
                u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
            raw.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            raw.push(b[i]);
            i += 1;
        }
    }
    if master == "MDNS" {
        return String::from_utf8_lossy(&raw).into_owned();
    }
    raw.iter()
        .map(|&c| {
            if c == b' ' || c.is_ascii_graphic() {
                char::from(c)
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::dns::captures::feed;
    use crate::dpi::{FlowDpi, Value};

    /// A message: header with `flags`, one question for `name` (unless `name` is `None`),
    /// then `answers` A records owned by the question's name (or by `owner`).
    fn message(flags: u16, name: Option<&[&[u8]]>, answers: u16, owner: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34]; // id
        m.extend(flags.to_be_bytes()); // flags
        m.extend(u16::from(name.is_some()).to_be_bytes()); // qdcount
        m.extend(answers.to_be_bytes()); // ancount
        m.extend([0, 0, 0, 0]); // nscount, arcount
        let labels = |m: &mut Vec<u8>, ls: &[&[u8]]| {
            for l in ls {
                m.push(l.len() as u8); // label length
                m.extend(*l);
            }
            m.push(0); // root
        };
        if let Some(n) = name {
            labels(&mut m, n);
            m.extend([0, 1, 0, 1]); // qtype A, qclass IN
        }
        for _ in 0..answers {
            if name.is_some() {
                m.extend([0xc0, 12]); // pointer to the question's name
            } else {
                labels(&mut m, owner);
            }
            m.extend([0, 1, 0, 1]); // type A, class IN
            m.extend([0, 0, 0, 60]); // ttl
            m.extend([0, 4, 10, 0, 0, 1]); // rdlength 4, 10.0.0.1
        }
        m
    }

    const QUERY: u16 = 0x0100; // RD
    const RESPONSE: u16 = 0x8180; // QR, RD, RA, NOERROR
    const NXDOMAIN: u16 = 0x8183;

    fn int(f: &FlowDpi, name: &str) -> Option<i64> {
        match f.result.meta(name) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    #[test]
    fn query_and_response() {
        let q = message(QUERY, Some(&[b"WWW", b"Example", b"com"]), 0, &[]);
        let r = message(RESPONSE, Some(&[b"www", b"example", b"com"]), 2, &[]);
        let f = feed(Box::new(Dns), (17, 40000, 53), &[(0, &q)]);
        assert!(!f.is_done());
        assert_eq!(f.result.master, Some("DNS"));
        assert_eq!(f.result.requested_server_name, "www.example.com");
        assert_eq!(int(&f, "dns_qtype"), Some(1));
        let f = feed(Box::new(Dns), (17, 40000, 53), &[(0, &q), (1, &r)]);
        assert!(f.is_done());
        assert_eq!(int(&f, "dns_rcode"), Some(0));
        assert_eq!(int(&f, "dns_answers"), Some(2));
    }

    #[test]
    fn reused_flow_is_named_after_the_first_answered_query() {
        let q1 = message(QUERY, Some(&[b"a", b"test"]), 0, &[]);
        let q2 = message(QUERY, Some(&[b"b", b"test"]), 0, &[]);
        let bare = message(NXDOMAIN, Some(&[b"a", b"test"]), 0, &[]);
        let r2 = message(RESPONSE, Some(&[b"b", b"test"]), 1, &[]);
        let f = feed(
            Box::new(Dns),
            (17, 40000, 53),
            &[(0, &q1), (0, &q2), (1, &bare)],
        );
        // A response without records gives the rcode, not the name.
        assert!(!f.is_done());
        assert_eq!(f.result.requested_server_name, "a.test");
        assert_eq!(int(&f, "dns_rcode"), Some(3));
        let f = feed(
            Box::new(Dns),
            (17, 40000, 53),
            &[(0, &q1), (0, &q2), (1, &bare), (1, &r2)],
        );
        assert!(f.is_done());
        assert_eq!(f.result.requested_server_name, "b.test");
        assert_eq!(int(&f, "dns_rcode"), Some(0));
        assert_eq!(int(&f, "dns_answers"), Some(1));
    }

    #[test]
    fn mdns_and_llmnr() {
        let announce = message(0x8400, None, 1, &["Luca’s iMac".as_bytes(), b"local"]);
        let f = feed(Box::new(Dns), (17, 5353, 5353), &[(0, &announce)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("MDNS"));
        // mDNS keeps UTF-8; ASCII is lowercased.
        assert_eq!(f.result.requested_server_name, "luca’s imac.local");
        let q = message(0, Some(&["小佛".as_bytes()]), 0, &[]);
        let f = feed(Box::new(Dns), (17, 50000, 5355), &[(0, &q)]);
        assert_eq!(f.result.master, Some("LLMNR"));
        // LLMNR (and DNS) replace every non-ASCII byte.
        assert_eq!(f.result.requested_server_name, "??????");
    }

    #[test]
    fn over_tcp() {
        let q = message(QUERY, Some(&[b"example", b"org"]), 0, &[]);
        let mut stream = (q.len() as u16).to_be_bytes().to_vec(); // length prefix
        stream.extend(&q);
        let r = message(RESPONSE, Some(&[b"example", b"org"]), 1, &[]);
        let mut resp = (r.len() as u16).to_be_bytes().to_vec();
        resp.extend(&r);
        let (a, b) = stream.split_at(16);
        let f = feed(Box::new(Dns), (6, 40000, 53), &[(0, a)]);
        assert_eq!(f.result.master, Some("DNS"));
        assert_eq!(f.result.requested_server_name, "");
        let f = feed(Box::new(Dns), (6, 40000, 53), &[(0, a), (0, b), (1, &resp)]);
        assert!(f.is_done());
        assert_eq!(f.result.requested_server_name, "example.org");
        assert_eq!(int(&f, "dns_answers"), Some(1));
    }

    #[test]
    fn rejects() {
        let q = message(QUERY, Some(&[b"example", b"org"]), 0, &[]);
        let patched = |at: usize, v: u8| {
            let mut m = q.clone();
            m[at] = v;
            m
        };
        let mut cut_response = message(RESPONSE, Some(&[b"a", b"test"]), 3, &[]);
        cut_response.truncate(cut_response.len() - 20); // a first IP fragment
        let cases: Vec<(&str, u16, Vec<u8>)> = vec![
            ("not a DNS port", 80, q.clone()),
            ("shorter than a header", 53, q[..11].to_vec()),
            ("opcode 3", 53, patched(2, 0x18)),
            ("too many questions", 53, patched(4, 0x10)),
            ("too many answers", 53, patched(6, 0x10)),
            ("query without a question", 53, patched(5, 0)),
            ("unknown class", 53, patched(q.len() - 1, 7)),
            ("type 0", 53, patched(q.len() - 3, 0)),
            ("extended label type", 53, patched(12, 0x40)),
            ("records past the end", 53, cut_response),
        ];
        for (why, port, payload) in cases {
            let f = feed(Box::new(Dns), (17, 40000, port), &[(0, &payload)]);
            assert!(f.is_done(), "{why}");
            assert_eq!(f.result.master, None, "{why}");
        }
        // Over TCP: a length smaller than a header, an implausible header, a lone prefix.
        for (why, payload) in [
            ("tcp length", [&[0u8, 11][..], &q].concat()),
            ("tcp header", [&[0u8, 40][..], &patched(2, 0x18)].concat()),
            ("tcp prefix alone", vec![0, 40]),
        ] {
            let f = feed(Box::new(Dns), (6, 40000, 53), &[(0, &payload)]);
            assert_eq!(f.result.master, None, "{why}");
        }
    }

    #[test]
    fn identified_flow_skips_garbage() {
        let q = message(QUERY, Some(&[b"a", b"test"]), 0, &[]);
        let f = feed(Box::new(Dns), (17, 40000, 53), &[(0, &q), (1, &[0xff; 7])]);
        assert!(!f.is_done());
        assert_eq!(f.result.requested_server_name, "a.test");
    }

    #[test]
    fn names_as_nfstream_prints_them() {
        assert_eq!(export_name("a\\046b.c", "DNS"), "a.b.c");
        assert_eq!(export_name("\\195\\169t\\195\\169", "MDNS"), "été");
        assert_eq!(export_name("\\195\\169t\\195\\169", "LLMNR"), "??t??");
        assert_eq!(export_name("\\255\\001", "MDNS"), "\u{fffd}\u{1}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(
            payloads in proptest::collection::vec(
                (0u8..2, proptest::collection::vec(proptest::num::u8::ANY, 1..300)), 1..5),
            tcp in proptest::bool::ANY,
            port in proptest::sample::select(vec![53u16, 5353, 5355]),
        ) {
            let q = message(QUERY, Some(&[b"a", b"test"]), 0, &[]);
            let mut packets: Vec<(u8, &[u8])> = vec![(0, &q)];
            packets.extend(payloads.iter().map(|(d, p)| (*d, p.as_slice())));
            let proto = if tcp { 6 } else { 17 };
            let _ = feed(Box::new(Dns), (proto, 40000, port), &packets);
            let _ = feed(Box::new(Dns), (proto, 40000, port), &packets[1..]);
        }
    }
}
