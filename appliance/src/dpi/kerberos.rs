//! Kerberos V5 (RFC 4120) over TCP and UDP: nDPI's `Kerberos`.
//!
//! Owns recognising the first message of a flow, over UDP as sent and over TCP after the
//! 4-byte record mark (RFC 4120 §7.2.2): `AS-REQ` / `TGS-REQ` (`[APPLICATION 10 / 12]
//! KDC-REQ`, §5.4.1), `AS-REP` / `TGS-REP` (`[APPLICATION 11 / 13] KDC-REP`, §5.4.2) and
//! `KRB-ERROR` (`[APPLICATION 30]`, §5.9.1). The evidence is structural: the application tag,
//! a SEQUENCE whose first two fields are `pvno` = 5 and a `msg-type` equal to the application
//! number. Metadata comes from what the first segment holds: the realm, the client and
//! service principal names and the error code.
//!
//! It does *not* reassemble a message across segments, decrypt anything, or follow the flow
//! after its first message. A flow whose first payload is not a Kerberos message head (the
//! capture started inside a message) is rejected, as nDPI does: nfstream labels those flows by
//! port (`kerberos.pcap`: 13 of 24).
//!
//! State: none (the verdict is given on the first payload).

use super::ber::{self, Tlv, tag};
use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "Kerberos";

/// Longest principal or realm name kept in the metadata.
const MAX_NAME: usize = 128;

/// Largest TCP record mark accepted: Kerberos messages with a PAC stay far below.
const MAX_RECORD: u32 = 1 << 20;

/// Kerberos message types (RFC 4120 §7.5.7), also the application tag numbers.
mod msg_type {
    pub const AS_REQ: u8 = 10;
    pub const AS_REP: u8 = 11;
    pub const TGS_REQ: u8 = 12;
    pub const TGS_REP: u8 = 13;
    pub const KRB_ERROR: u8 = 30;
}

/// Recognises Kerberos messages; sets `kerberos_msg_type`, `kerberos_realm`,
/// `kerberos_cname`, `kerberos_sname` and `kerberos_error_code` when present.
#[derive(Debug, Default)]
pub struct Kerberos;

impl Dissector for Kerberos {
    fn ports(&self) -> &'static [u16] {
        &[88]
    }

    fn name(&self) -> &'static str {
        "kerberos"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let msg = if pkt.is_tcp() {
            // Record mark: the high bit is reserved and must be 0 (RFC 4120 §7.2.2).
            match pkt.payload.split_first_chunk::<4>() {
                Some((mark, rest)) if (1..=MAX_RECORD).contains(&u32::from_be_bytes(*mark)) => rest,
                _ => return Verdict::Reject,
            }
        } else {
            pkt.payload
        };
        let Some(head) = parse(msg) else {
            return Verdict::Reject;
        };
        ctx.identify(MASTER);
        let r = ctx.result();
        r.set_meta("kerberos_msg_type", head.name());
        if let Some(realm) = head.realm {
            r.set_meta("kerberos_realm", text(realm));
        }
        if let Some(cname) = head.cname {
            r.set_meta("kerberos_cname", principal(cname));
        }
        if let Some(sname) = head.sname {
            r.set_meta("kerberos_sname", principal(sname));
        }
        if let Some(code) = head.error_code {
            r.set_meta("kerberos_error_code", code);
        }
        Verdict::Done
    }
}

/// What the head of a message tells.
#[derive(Debug, Default, PartialEq)]
struct Head<'a> {
    msg_type: u8,
    realm: Option<&'a [u8]>,
    /// The `name-string` SEQUENCE OF KerberosString of `cname`.
    cname: Option<Tlv<'a>>,
    /// The same for `sname`.
    sname: Option<Tlv<'a>>,
    error_code: Option<u32>,
}

impl Head<'_> {
    fn name(&self) -> &'static str {
        match self.msg_type {
            msg_type::AS_REQ => "AS-REQ",
            msg_type::AS_REP => "AS-REP",
            msg_type::TGS_REQ => "TGS-REQ",
            msg_type::TGS_REP => "TGS-REP",
            _ => "KRB-ERROR",
        }
    }
}

/// Checks the head of a message (`msg` starts at its application tag) and reads what the
/// available bytes hold. `None` when it is not a Kerberos message.
fn parse(msg: &[u8]) -> Option<Head<'_>> {
    let (&first, _) = msg.split_first()?;
    let ty = first.checked_sub(0x60)?;
    if !matches!(
        ty,
        msg_type::AS_REQ
            | msg_type::AS_REP
            | msg_type::TGS_REQ
            | msg_type::TGS_REP
            | msg_type::KRB_ERROR
    ) {
        return None;
    }
    let (app, _) = ber::read(msg)?;
    let (seq, _) = ber::expect(app.value, tag::SEQUENCE)?;
    // KDC-REQ numbers its fields from [1], KDC-REP and KRB-ERROR from [0].
    let base = u8::from(matches!(ty, msg_type::AS_REQ | msg_type::TGS_REQ));
    let mut fields = seq.children();
    let pvno = fields.next().filter(|t| t.tag == tag::context(base))?;
    let mtype = fields.next().filter(|t| t.tag == tag::context(base + 1))?;
    if int(pvno) != Some(5) || int(mtype) != Some(u32::from(ty)) {
        return None;
    }
    let mut head = Head {
        msg_type: ty,
        ..Head::default()
    };
    match ty {
        msg_type::AS_REQ | msg_type::TGS_REQ => {
            // KDC-REQ-BODY: cname [1], realm [2], sname [3].
            if let Some(body) = ber::find(fields, tag::context(4))
                .and_then(|b| ber::expect(b.value, tag::SEQUENCE))
                .map(|(s, _)| s)
            {
                for f in body.children() {
                    match f.tag {
                        t if t == tag::context(1) => head.cname = name_strings(f),
                        t if t == tag::context(2) => head.realm = string(f),
                        t if t == tag::context(3) => head.sname = name_strings(f),
                        _ => {}
                    }
                }
            }
        }
        msg_type::AS_REP | msg_type::TGS_REP => {
            // KDC-REP: crealm [3], cname [4].
            for f in fields {
                match f.tag {
                    t if t == tag::context(3) => head.realm = string(f),
                    t if t == tag::context(4) => head.cname = name_strings(f),
                    _ => {}
                }
            }
        }
        _ => {
            // KRB-ERROR: error-code [6], cname [8], realm [9], sname [10].
            for f in fields {
                match f.tag {
                    t if t == tag::context(6) => head.error_code = int(f),
                    t if t == tag::context(8) => head.cname = name_strings(f),
                    t if t == tag::context(9) => head.realm = string(f),
                    t if t == tag::context(10) => head.sname = name_strings(f),
                    _ => {}
                }
            }
        }
    }
    Some(head)
}

/// The INTEGER inside an explicit tag.
fn int(field: Tlv<'_>) -> Option<u32> {
    ber::read(field.value).and_then(|(t, _)| t.as_u32())
}

/// The complete KerberosString inside an explicit tag.
fn string(field: Tlv<'_>) -> Option<&[u8]> {
    ber::expect(field.value, tag::GENERAL_STRING)
        .filter(|(t, _)| t.is_complete())
        .map(|(t, _)| t.value)
}

/// The `name-string [1] SEQUENCE OF KerberosString` of a PrincipalName inside an explicit
/// tag (RFC 4120 §5.2.2).
fn name_strings(field: Tlv<'_>) -> Option<Tlv<'_>> {
    let (name, _) = ber::expect(field.value, tag::SEQUENCE)?;
    let strings = ber::find(name.children(), tag::context(1))?;
    ber::expect(strings.value, tag::SEQUENCE).map(|(s, _)| s)
}

/// A principal name as text, components joined by `/` (RFC 4120 §5.2.2 string form),
/// capped at [`MAX_NAME`] bytes.
fn principal(strings: Tlv<'_>) -> String {
    let mut out = String::new();
    for s in strings.children() {
        if s.tag != tag::GENERAL_STRING || !s.is_complete() {
            break;
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&String::from_utf8_lossy(s.value));
        if out.len() >= MAX_NAME {
            break;
        }
    }
    cap(out)
}

fn text(b: &[u8]) -> String {
    cap(String::from_utf8_lossy(b).into_owned())
}

fn cap(mut s: String) -> String {
    if s.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// An AS-REQ for `bob@EX.ORG` to `krbtgt/EX.ORG`, DER written out by hand.
    #[rustfmt::skip]
    const AS_REQ: &[u8] = &[
        0x6a, 0x52,                         // [APPLICATION 10] AS-REQ
        0x30, 0x50,                         //   SEQUENCE (KDC-REQ)
        0xa1, 0x03, 0x02, 0x01, 0x05,       //     pvno [1] 5
        0xa2, 0x03, 0x02, 0x01, 0x0a,       //     msg-type [2] 10
        0xa4, 0x44,                         //     req-body [4]
        0x30, 0x42,                         //       SEQUENCE (KDC-REQ-BODY)
        0xa0, 0x07, 0x03, 0x05, 0x00, 0x40, 0x81, 0x00, 0x10, // kdc-options [0]
        0xa1, 0x10, 0x30, 0x0e,             //       cname [1] PrincipalName
        0xa0, 0x03, 0x02, 0x01, 0x01,       //         name-type [0] 1
        0xa1, 0x07, 0x30, 0x05,             //         name-string [1]
        0x1b, 0x03, b'b', b'o', b'b',       //           "bob"
        0xa2, 0x08, 0x1b, 0x06, b'E', b'X', b'.', b'O', b'R', b'G', // realm [2]
        0xa3, 0x1b, 0x30, 0x19,             //       sname [3] PrincipalName
        0xa0, 0x03, 0x02, 0x01, 0x02,       //         name-type [0] 2
        0xa1, 0x12, 0x30, 0x10,             //         name-string [1]
        0x1b, 0x06, b'k', b'r', b'b', b't', b'g', b't', // "krbtgt"
        0x1b, 0x06, b'E', b'X', b'.', b'O', b'R', b'G', // "EX.ORG"
    ];

    /// A KRB-ERROR (KDC_ERR_PREAUTH_REQUIRED, 25) to `bob`.
    #[rustfmt::skip]
    const KRB_ERROR: &[u8] = &[
        0x7e, 0x2d,                         // [APPLICATION 30] KRB-ERROR
        0x30, 0x2b,                         //   SEQUENCE
        0xa0, 0x03, 0x02, 0x01, 0x05,       //     pvno [0] 5
        0xa1, 0x03, 0x02, 0x01, 0x1e,       //     msg-type [1] 30
        0xa6, 0x03, 0x02, 0x01, 0x19,       //     error-code [6] 25
        0xa8, 0x10, 0x30, 0x0e,             //     cname [8]
        0xa0, 0x03, 0x02, 0x01, 0x01,       //       name-type [0] 1
        0xa1, 0x07, 0x30, 0x05,             //       name-string [1]
        0x1b, 0x03, b'b', b'o', b'b',       //         "bob"
        0xa9, 0x08, 0x1b, 0x06, b'E', b'X', b'.', b'O', b'R', b'G', // realm [9]
    ];

    fn tcp(msg: &[u8]) -> Vec<u8> {
        let mut v = (msg.len() as u32).to_be_bytes().to_vec(); // record mark
        v.extend_from_slice(msg);
        v
    }

    #[test]
    fn as_req_over_tcp_and_udp() {
        for (proto, payload) in [(6, tcp(AS_REQ)), (17, AS_REQ.to_vec())] {
            let (verdict, r) = dissect_one(&Kerberos, &packet(proto, 0, 50000, 88, &payload));
            assert_eq!(verdict, Verdict::Done);
            assert_eq!(r.master, Some("Kerberos"));
            assert_eq!(r.meta("kerberos_msg_type"), Some(&"AS-REQ".into()));
            assert_eq!(r.meta("kerberos_realm"), Some(&"EX.ORG".into()));
            assert_eq!(r.meta("kerberos_cname"), Some(&"bob".into()));
            assert_eq!(r.meta("kerberos_sname"), Some(&"krbtgt/EX.ORG".into()));
        }
    }

    #[test]
    fn krb_error_from_the_server() {
        let (verdict, r) = dissect_one(&Kerberos, &packet(6, 1, 50000, 88, &tcp(KRB_ERROR)));
        assert_eq!(verdict, Verdict::Done);
        assert_eq!(r.meta("kerberos_msg_type"), Some(&"KRB-ERROR".into()));
        assert_eq!(r.meta("kerberos_error_code"), Some(&25u32.into()));
        assert_eq!(r.meta("kerberos_cname"), Some(&"bob".into()));
        assert_eq!(r.meta("kerberos_realm"), Some(&"EX.ORG".into()));
    }

    #[test]
    fn first_segment_of_a_long_message() {
        // The record mark announces more than the segment holds: the head still decides.
        let mut p = tcp(AS_REQ);
        p[2] = 0x05; // record mark: 1280 + 84 bytes
        p.truncate(30);
        let (verdict, r) = dissect_one(&Kerberos, &packet(6, 0, 50000, 88, &p));
        assert_eq!(verdict, Verdict::Done);
        assert_eq!(r.meta("kerberos_realm"), None);
    }

    #[test]
    fn rejects() {
        let reject = |proto: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&Kerberos, &packet(proto, 0, 50000, 88, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(6, &[0, 0]); // no record mark
        reject(6, &[0, 0, 0, 0, 0x6a]); // empty record
        reject(6, &[0x80, 0, 0, 5, 0x6a]); // reserved bit of the record mark
        reject(6, &tcp(&[0x16, 0x03, 0x01])); // not an application tag
        reject(6, &tcp(&[0x6e, 0x02, 0x30, 0x00])); // AP-REQ is not a KDC exchange
        reject(17, &[0x6a]); // no length
        reject(17, &[0x6a, 0x04, 0x04, 0x02, 0x00, 0x00]); // not a SEQUENCE
        let mut p = AS_REQ.to_vec();
        p[8] = 4; // pvno 4
        reject(17, &p);
        let mut p = AS_REQ.to_vec();
        p[13] = 12; // msg-type TGS in an AS-REQ
        reject(17, &p);
        let mut p = AS_REQ.to_vec();
        p[4] = 0xa0; // pvno under [0]: a reply's numbering
        reject(17, &p);
        // The tail of a message (the capture started inside it), as in kerberos.pcap.
        reject(6, &AS_REQ[40..]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..300),
                        udp: bool) {
            let _ = dissect_one(&Kerberos, &packet(if udp { 17 } else { 6 }, 0, 1, 88, &data));
            let mut m = tcp(AS_REQ);
            m.extend_from_slice(&data);
            let _ = dissect_one(&Kerberos, &packet(6, 0, 1, 88, &m[..m.len() - data.len() / 2]));
        }
    }
}
