//! DNSCrypt (version 2 protocol, `dnscrypt.info/protocol`): the certificate query a client
//! sends in clear DNS (a `TXT` question for `2.dnscrypt-cert.<provider>`), its answer, and the
//! encrypted exchange, whose responses open with the resolver magic `r6fnvWj8`.
//!
//! It does *not* decrypt anything, nor read the certificate, nor claim any other DNS message:
//! the DNS dissector runs after this one and must keep every ordinary query.
//!
//! State: none (decisions use the packet's direction and index only).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "DNScrypt";

/// Opens every encrypted response (`DNSCRYPT_RESOLVER_MAGIC`, the spec's
/// `0x72 0x36 0x66 0x6e 0x76 0x57 0x6a 0x38`).
const RESOLVER_MAGIC: &[u8; 8] = b"r6fnvWj8";

/// The first two labels of a certificate query's name, wire format (`2.dnscrypt-cert.`).
const CERT_LABELS: &[u8] = b"\x012\x0ddnscrypt-cert";

/// DNS header length (RFC 1035 §4.1.1).
const DNS_HEADER: usize = 12;

/// Smallest encrypted query: client magic (8), client public key (32), half nonce (12), MAC
/// (16).
const MIN_QUERY: usize = 68;

/// Initiator packets waited through for a first response before giving up.
const MAX_QUERIES: u32 = 4;

/// The DNSCrypt dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct DnsCrypt;

/// True when `msg` is a DNS message (query or response, opcode 0) whose first question is a
/// DNSCrypt certificate name.
fn is_cert_message(msg: &[u8]) -> bool {
    let Some(header) = msg.get(..DNS_HEADER) else {
        return false;
    };
    let opcode = (header[2] >> 3) & 0x0f;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    if opcode != 0 || questions == 0 {
        return false;
    }
    msg.get(DNS_HEADER..DNS_HEADER + CERT_LABELS.len())
        .is_some_and(|name| name.eq_ignore_ascii_case(CERT_LABELS))
}

impl Dissector for DnsCrypt {
    fn ports(&self) -> &'static [u16] {
        &[53]
    }

    fn name(&self) -> &'static str {
        "dnscrypt"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        // DNS over TCP (and DNSCrypt over TCP) prefixes each message with its length.
        let msg = if pkt.protocol == 6 {
            match pkt.payload.get(2..) {
                Some(m) => m,
                None => return Verdict::Reject,
            }
        } else {
            pkt.payload
        };
        if is_cert_message(msg) || (pkt.dir == 1 && msg.starts_with(RESOLVER_MAGIC)) {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        // An encrypted query says nothing by itself (its magic is the server's choice): wait
        // for the first response, which must carry the resolver magic.
        if pkt.dir == 0 && pkt.protocol == 17 && msg.len() >= MIN_QUERY && pkt.index < MAX_QUERIES {
            return Verdict::Pending;
        }
        Verdict::Reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    #[rustfmt::skip]
    const CERT_QUERY: &[u8] = &[
        0x7f, 0x47,             // id
        0x01, 0x00,             // flags: query, opcode 0, RD
        0x00, 0x01,             // qdcount 1
        0x00, 0x00, 0x00, 0x00, // ancount, nscount
        0x00, 0x01,             // arcount 1 (EDNS)
        1, b'2',                // label "2"
        13, b'd', b'n', b's', b'c', b'r', b'y', b'p', b't', b'-', b'c', b'e', b'r', b't',
        3, b'f', b'o', b'o',    // label "foo"
        0,                      // root
        0x00, 0x10,             // qtype TXT
        0x00, 0x01,             // qclass IN
    ];

    fn udp(pkts: &[(u8, &[u8])]) -> crate::dpi::lan_voip_captures::Fed {
        feed(DnsCrypt, 17, 40000, 443, pkts)
    }

    #[test]
    fn certificate_query() {
        let f = udp(&[(0, CERT_QUERY)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        // Upper case, as some clients randomise the case (0x20 encoding).
        let mut upper = CERT_QUERY.to_vec();
        upper[14..27].make_ascii_uppercase();
        assert_eq!(udp(&[(0, &upper)]).result.master, Some(MASTER));
    }

    #[test]
    fn certificate_query_over_tcp() {
        let mut v = (CERT_QUERY.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(CERT_QUERY);
        let f = feed(DnsCrypt, 6, 40000, 443, &[(0, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(feed(DnsCrypt, 6, 40000, 443, &[(0, &[0])]).done);
    }

    #[test]
    fn encrypted_exchange() {
        let query = [0x5a; 576];
        let mut response = b"r6fnvWj8".to_vec();
        response.extend_from_slice(&[0x11; 200]);
        let f = udp(&[(0, &query), (1, &response)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects_ordinary_dns() {
        let mut q = CERT_QUERY.to_vec();
        q[13] = b'3'; // "3.dnscrypt-cert"
        let f = udp(&[(0, &q)]);
        assert_eq!(f.result.master, None);
        assert!(f.done, "short ordinary query: rejected at once");
        let mut op = CERT_QUERY.to_vec();
        op[2] = 0x28; // opcode 5 (update)
        assert_eq!(udp(&[(0, &op)]).result.master, None);
        let mut none = CERT_QUERY.to_vec();
        none[5] = 0; // no question
        assert_eq!(udp(&[(0, &none)]).result.master, None);
    }

    #[test]
    fn rejects_response_without_magic() {
        let query = [0x5a; 576];
        let f = udp(&[(0, &query), (1, &[0x11; 200])]);
        assert_eq!(f.result.master, None);
        assert!(f.done);
    }

    #[test]
    fn magic_from_the_initiator_is_not_enough() {
        let mut p = b"r6fnvWj8".to_vec();
        p.resize(40, 0);
        assert!(udp(&[(0, &p)]).done);
        assert_eq!(udp(&[(0, &p)]).result.master, None);
    }

    #[test]
    fn gives_up_without_response() {
        let q = [0x5a; 576];
        let f = udp(&[(0, &q), (0, &q), (0, &q), (0, &q), (0, &q)]);
        assert!(f.done);
        assert_eq!(f.result.master, None);
        assert!(!udp(&[(0, &q)]).done, "waits for the response");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
                        dir in 0u8..2, tcp in proptest::prelude::any::<bool>()) {
            let proto = if tcp { 6 } else { 17 };
            let _ = feed(DnsCrypt, proto, 1, 2, &[(dir, &data)]);
        }
    }
}
