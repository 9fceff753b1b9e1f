//! LDAP (RFC 4511) and connectionless LDAP over UDP (RFC 1798, as Active Directory's "LDAP
//! ping" still uses it): nDPI's `LDAP`.
//!
//! Owns recognising the first `LDAPMessage` of a flow on the LDAP ports (389, and 3268 for the
//! Active Directory global catalog): `SEQUENCE { messageID INTEGER, protocolOp
//! [APPLICATION n] }` with n one of the operations of RFC 4511 §4.2–4.14 (§5.1 forbids the
//! indefinite length form, so any other encoding is not LDAP). From a `BindRequest` it takes
//! the bind DN (`ldap_bind_dn`); it always records the operation (`ldap_operation`).
//!
//! It does *not* read past the first message, decode filters or results, or see LDAP over TLS
//! (636, 3269: the TLS dissector's). A flow whose first payload is not an LDAPMessage head is
//! rejected: `kerberos.pcap`'s LDAP flows start inside a message (the capture kept one segment
//! of each request), and nfstream labels them by port.
//!
//! State: none (the verdict is given on the first payload).

use super::ber::{self, tag};
use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "LDAP";

/// Longest bind DN kept in the metadata.
const MAX_DN: usize = 256;

/// Ports LDAP is recognised on: LDAP (RFC 4511) and the global catalog.
const PORTS: [u16; 2] = [389, 3268];

/// Recognises LDAP messages on the LDAP ports.
#[derive(Debug, Default)]
pub struct Ldap;

impl Dissector for Ldap {
    fn ports(&self) -> &'static [u16] {
        &[389]
    }

    fn name(&self) -> &'static str {
        "ldap"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !PORTS.iter().any(|&p| pkt.has_port(p)) {
            return Verdict::Reject;
        }
        let Some((op, bind_dn)) = parse(pkt.payload) else {
            return Verdict::Reject;
        };
        ctx.identify(MASTER);
        let r = ctx.result();
        r.set_meta("ldap_operation", op);
        if let Some(dn) = bind_dn.filter(|d| !d.is_empty()) {
            let dn = &dn[..dn.len().min(MAX_DN)];
            r.set_meta("ldap_bind_dn", String::from_utf8_lossy(dn).into_owned());
        }
        Verdict::Done
    }
}

/// The operation name of a `protocolOp` tag (RFC 4511 §4.2–4.14, Appendix B), `None` for a
/// tag that is not an LDAP operation.
fn operation(t: u8) -> Option<&'static str> {
    Some(match t {
        0x60 => "bindRequest",
        0x61 => "bindResponse",
        0x42 => "unbindRequest",
        0x63 => "searchRequest",
        0x64 => "searchResEntry",
        0x65 => "searchResDone",
        0x73 => "searchResRef",
        0x66 => "modifyRequest",
        0x67 => "modifyResponse",
        0x68 => "addRequest",
        0x69 => "addResponse",
        0x4a => "delRequest",
        0x6b => "delResponse",
        0x6c => "modDNRequest",
        0x6d => "modDNResponse",
        0x6e => "compareRequest",
        0x6f => "compareResponse",
        0x50 => "abandonRequest",
        0x77 => "extendedRequest",
        0x78 => "extendedResponse",
        0x79 => "intermediateResponse",
        _ => return None,
    })
}

/// The operation of the LDAPMessage at the start of `buf`, and the DN of a BindRequest.
fn parse(buf: &[u8]) -> Option<(&'static str, Option<&[u8]>)> {
    if buf.first() != Some(&tag::SEQUENCE) {
        return None;
    }
    let (msg, _) = ber::read(buf)?;
    let mut fields = msg.children();
    // messageID ::= INTEGER (0 .. maxInt), RFC 4511 §4.1.1.1.
    fields.next().and_then(|id| id.as_u32())?;
    let op = fields.next()?;
    let name = operation(op.tag)?;
    let mut dn = None;
    if op.tag == 0x60 {
        // BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER (1 .. 127), name
        // LDAPDN, authentication }
        let mut f = op.children();
        let version = f.next().and_then(|v| v.as_u32())?;
        if !(1..=127).contains(&version) {
            return None;
        }
        dn = f
            .next()
            .filter(|t| t.tag == tag::OCTET_STRING)
            .map(|t| t.value);
    }
    Some((name, dn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// A simple bind of `cn=admin` with password `pw`.
    #[rustfmt::skip]
    const BIND: &[u8] = &[
        0x30, 0x16,                         // SEQUENCE (LDAPMessage)
        0x02, 0x01, 0x01,                   //   messageID 1
        0x60, 0x11,                         //   [APPLICATION 0] BindRequest
        0x02, 0x01, 0x03,                   //     version 3
        0x04, 0x08, b'c', b'n', b'=', b'a', b'd', b'm', b'i', b'n', // name
        0x80, 0x02, b'p', b'w',             //     simple [0] "pw"
    ];

    /// A BindResponse (success) with a 4-byte long-form length, as Active Directory sends.
    #[rustfmt::skip]
    const BIND_RESPONSE: &[u8] = &[
        0x30, 0x84, 0x00, 0x00, 0x00, 0x10, // SEQUENCE, length 16 in the long form
        0x02, 0x01, 0x03,                   //   messageID 3
        0x61, 0x84, 0x00, 0x00, 0x00, 0x07, //   [APPLICATION 1] BindResponse
        0x0a, 0x01, 0x00,                   //     resultCode success
        0x04, 0x00,                         //     matchedDN ""
        0x04, 0x00,                         //     diagnosticMessage ""
    ];

    #[test]
    fn bind_request() {
        let (verdict, r) = dissect_one(&Ldap, &packet(6, 0, 50000, 389, BIND));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("LDAP")));
        assert_eq!(r.meta("ldap_operation"), Some(&"bindRequest".into()));
        assert_eq!(r.meta("ldap_bind_dn"), Some(&"cn=admin".into()));
    }

    #[test]
    fn bind_response_from_the_server_over_udp() {
        let (verdict, r) = dissect_one(&Ldap, &packet(17, 1, 50000, 389, BIND_RESPONSE));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("LDAP")));
        assert_eq!(r.meta("ldap_operation"), Some(&"bindResponse".into()));
        assert_eq!(r.meta("ldap_bind_dn"), None);
    }

    #[test]
    fn rejects() {
        let reject = |port: u16, p: &[u8]| {
            let (verdict, r) = dissect_one(&Ldap, &packet(6, 0, 50000, port, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(80, BIND); // not an LDAP port
        reject(389, &BIND[1..]); // not a SEQUENCE
        reject(389, &[0x30]); // no length
        reject(389, &[0x30, 0x03, 0x04, 0x01, 0x01]); // messageID not an INTEGER
        reject(389, &[0x30, 0x03, 0x02, 0x01, 0x01]); // no protocolOp
        reject(389, &[0x30, 0x05, 0x02, 0x01, 0x01, 0x30, 0x00]); // not an operation
        let mut p = BIND.to_vec();
        p[9] = 0; // version 0
        reject(389, &p);
        // The inside of a message, as kerberos.pcap's LDAP flows start.
        reject(389, &[0xf1, 0x36, 0x5c, 0xd0, 0xb0, 0xcc]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..200)) {
            let _ = dissect_one(&Ldap, &packet(6, 0, 1, 389, &data));
            let mut m = BIND[..7].to_vec();
            m.extend_from_slice(&data);
            let _ = dissect_one(&Ldap, &packet(17, 0, 1, 389, &m));
        }
    }
}
