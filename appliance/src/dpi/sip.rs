//! SIP (RFC 3261) over UDP and TCP: a request line (`METHOD sip:...`, also `sips:` and `tel:`
//! URIs) or a status line (`SIP/2.0 NNN`) at the start of a datagram or of the stream. CRLF
//! keep-alives (RFC 5626 §3.5.1) on the SIP ports are waited through.
//!
//! It does *not* parse headers or SDP, nor follow the media the SDP announces.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "SIP";

/// Request methods (RFC 3261 §7.1 and the extensions RFC 3262, 3265, 3903, 6086, 3515, 3428,
/// 3311).
const METHODS: [&[u8]; 14] = [
    b"INVITE",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"REGISTER",
    b"OPTIONS",
    b"PRACK",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PUBLISH",
    b"INFO",
    b"REFER",
    b"MESSAGE",
    b"UPDATE",
];

/// URI schemes of a request line.
const SCHEMES: [&[u8]; 3] = [b"sip:", b"sips:", b"tel:"];

/// Plain and TLS ports, where keep-alives are waited through.
const PORTS: [u16; 2] = [5060, 5061];

/// Keep-alive packets waited through before giving up.
const MAX_KEEPALIVES: u32 = 4;

/// The SIP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sip;

/// True when `p` opens with a SIP request or status line.
fn is_sip(p: &[u8]) -> bool {
    if let Some(rest) = p.strip_prefix(b"SIP/2.0 ") {
        return rest.len() >= 4
            && rest[..3].iter().all(u8::is_ascii_digit)
            && (1..=6).contains(&(rest[0] - b'0'))
            && rest[3] == b' ';
    }
    METHODS.iter().any(|m| {
        p.strip_prefix(*m)
            .and_then(|r| r.strip_prefix(b" "))
            .is_some_and(|uri| {
                SCHEMES.iter().any(|s| {
                    uri.get(..s.len())
                        .is_some_and(|u| u.eq_ignore_ascii_case(s))
                })
            })
    })
}

impl Dissector for Sip {
    fn ports(&self) -> &'static [u16] {
        &[5060, 5061]
    }

    fn name(&self) -> &'static str {
        "sip"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if is_sip(p) {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        let on_port = PORTS.contains(&pkt.src_port) || PORTS.contains(&pkt.dst_port);
        if on_port && pkt.index < MAX_KEEPALIVES && p.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return Verdict::Pending;
        }
        Verdict::Reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    const REGISTER: &[u8] =
        b"REGISTER sip:sip.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2:5060\r\n\r\n";

    #[test]
    fn requests_and_responses() {
        let f = feed(Sip, 17, 5060, 5060, &[(0, REGISTER)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        for m in [
            &b"SIP/2.0 401 Unauthorized\r\n"[..],
            b"INVITE SIPS:bob@example.com SIP/2.0\r\n",
            b"MESSAGE tel:+15551234 SIP/2.0\r\n",
        ] {
            assert_eq!(
                feed(Sip, 6, 40000, 5060, &[(0, m)]).result.master,
                Some(MASTER)
            );
        }
    }

    #[test]
    fn keepalives_then_sip() {
        let f = feed(Sip, 17, 5060, 5060, &[(0, b"\r\n\r\n"), (1, REGISTER)]);
        assert_eq!(f.result.master, Some(MASTER));
        let f = feed(Sip, 17, 40000, 40001, &[(0, b"\r\n\r\n")]);
        assert!(f.done, "keep-alives count only on the SIP ports");
        let ka: Vec<(u8, &[u8])> = (0..5).map(|_| (0, &b"\r\n"[..])).collect();
        assert!(feed(Sip, 17, 5060, 5060, &ka).done);
    }

    #[test]
    fn rejects() {
        for m in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"NOTIFY * HTTP/1.1\r\n",
            b"INVITE http://x SIP/2.0\r\n",
            b"INVITEsip:x",
            b"SIP/2.0 099 x",
            b"SIP/2.0 20",
            b"SIP/2.0 2000",
            b"",
        ] {
            let f = feed(Sip, 17, 5060, 5060, &[(0, m)]);
            assert!(f.result.master.is_none(), "{m:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let _ = feed(Sip, 17, 5060, 5060, &[(0, &a)]);
            let mut v = b"SIP/2.0 ".to_vec();
            v.extend_from_slice(&a);
            let _ = feed(Sip, 17, 5060, 5060, &[(0, &v)]);
        }
    }
}
