//! Remote Desktop Protocol, its connection sequence start (\[MS-RDPBCGR\] §2.2.1.1–2.2.1.2):
//! nDPI's `RDP`.
//!
//! Owns recognising the first message of a flow: a TPKT header (RFC 1006 §6: version 3, a
//! length equal to the payload's) carrying an X.224 Connection Request or Connection Confirm
//! (ITU-T X.224 §13.3–13.4: length indicator matching the TPKT length, code 0xE0 or 0xD0,
//! class 0) whose user data is RDP's: a `Cookie: mstshash=` line (or a routing token `Cookie: msts=`), an
//! `RDP_NEG_REQ` / `RDP_NEG_RSP` / `RDP_NEG_FAILURE` (types 1, 2, 3, length 8), or nothing
//! on port 3389. It records the cookie's user name (`rdp_cookie`).
//!
//! It does *not* follow the MCS / TLS / CredSSP exchange that follows. The same TPKT + X.224
//! framing carries ISO-TSAP protocols (Siemens S7 on port 102); their connection requests
//! carry X.224 parameters (0xC0–0xC2) where RDP has its user data, and are rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "RDP";

/// The registered port (IANA `ms-wbt-server`).
const PORT: u16 = 3389;

/// Longest cookie value kept in the metadata (\[MS-RDPBCGR\] truncates user names to 9 bytes,
/// but routing tokens are longer).
const MAX_COOKIE: usize = 64;

mod field {
    use crate::packet::Field;
    /// TPKT: version (3), reserved, length (2, the whole TPKT).
    pub const TPKT_LEN: Field = 2..4;
    /// X.224 length indicator: the header length without this byte.
    pub const LI: usize = 4;
    /// X.224 TPDU code (high nibble) and credit.
    pub const CODE: usize = 5;
    /// Class and options, after DST-REF and SRC-REF.
    pub const CLASS: usize = 10;
    /// End of the fixed X.224 CR / CC header; user data follows.
    pub const X224_END: usize = 11;
}

/// Recognises RDP connection requests and confirms.
#[derive(Debug, Default)]
pub struct Rdp;

impl Dissector for Rdp {
    fn ports(&self) -> &'static [u16] {
        &[3389]
    }

    fn name(&self) -> &'static str {
        "rdp"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(data) = x224_user_data(pkt.payload) else {
            return Verdict::Reject;
        };
        let cookie = data.strip_prefix(b"Cookie: ");
        let neg = data.len() >= 8 && {
            // The negotiation structure ends the user data: type, flags, length 8 (LE).
            let n = &data[data.len() - 8..];
            matches!(n[0], 1..=3) && n[2..4] == [8, 0]
        };
        if cookie.is_none() && !neg && !(data.is_empty() && pkt.has_port(PORT)) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        if let Some(c) = cookie {
            let line = c.split(|&b| b == b'\r').next().unwrap_or_default();
            let value = line.strip_prefix(b"mstshash=").unwrap_or(line);
            let value = &value[..value.len().min(MAX_COOKIE)];
            if !value.is_empty() {
                let v = String::from_utf8_lossy(value).into_owned();
                ctx.result().set_meta("rdp_cookie", v);
            }
        }
        Verdict::Done
    }
}

/// The user data of the X.224 Connection Request / Confirm in the TPKT at `p`.
fn x224_user_data(p: &[u8]) -> Option<&[u8]> {
    if p.len() < field::X224_END || p[0] != 3 || p[1] != 0 {
        return None;
    }
    let tpkt_len = usize::from(crate::packet::be16(&p[field::TPKT_LEN]));
    let code = p[field::CODE] & 0xf0;
    if tpkt_len != p.len()
        || usize::from(p[field::LI]) + field::LI + 1 != tpkt_len
        || !(code == 0xe0 || code == 0xd0)
        || p[field::CLASS] & 0xf0 != 0
    {
        return None;
    }
    let data = &p[field::X224_END..];
    // X.224 variable-part parameters (TSAP ids 0xC1/0xC2, TPDU size 0xC0): ISO-TSAP, not RDP.
    if matches!(data.first(), Some(0xc0..=0xc2)) {
        return None;
    }
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// The Connection Request of `rdp.pcap` (no cookie, RDP_NEG_REQ).
    #[rustfmt::skip]
    const CR: &[u8] = &[
        0x03, 0x00, 0x00, 0x13,             // TPKT: version 3, length 19
        0x0e,                               // X.224 LI 14
        0xe0,                               // CR
        0x00, 0x00, 0x00, 0x00,             // DST-REF, SRC-REF
        0x00,                               // class 0
        0x01, 0x00, 0x08, 0x00,             // RDP_NEG_REQ, flags, length 8
        0x0b, 0x00, 0x00, 0x00,             // requested protocols: TLS | CredSSP | RDSTLS
    ];

    fn with_cookie() -> Vec<u8> {
        let cookie = b"Cookie: mstshash=alice\r\n";
        let len = CR.len() + cookie.len();
        let mut p = vec![3, 0, 0, len as u8, (len - 5) as u8, 0xe0, 0, 0, 0, 0, 0];
        p.extend_from_slice(cookie);
        p.extend_from_slice(&CR[11..]);
        p
    }

    #[test]
    fn connection_request() {
        let (verdict, r) = dissect_one(&Rdp, &packet(6, 0, 52494, 3389, CR));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("RDP")));
        assert_eq!(r.meta("rdp_cookie"), None);
        let (verdict, r) = dissect_one(&Rdp, &packet(6, 0, 52494, 13389, &with_cookie()));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("RDP")));
        assert_eq!(r.meta("rdp_cookie"), Some(&"alice".into()));
    }

    #[test]
    fn connection_confirm_and_bare_request_on_3389() {
        // Connection Confirm with RDP_NEG_RSP, from the server.
        let mut cc = CR.to_vec();
        cc[5] = 0xd0;
        cc[11] = 0x02;
        let (verdict, _) = dissect_one(&Rdp, &packet(6, 1, 52494, 3389, &cc));
        assert_eq!(verdict, Verdict::Done);
        let bare = [3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0];
        let (verdict, _) = dissect_one(&Rdp, &packet(6, 0, 52494, 3389, &bare));
        assert_eq!(verdict, Verdict::Done);
        let (verdict, _) = dissect_one(&Rdp, &packet(6, 0, 52494, 102, &bare));
        assert_eq!(verdict, Verdict::Reject, "no RDP evidence off 3389");
    }

    #[test]
    fn rejects() {
        let reject = |p: &[u8]| {
            let (verdict, r) = dissect_one(&Rdp, &packet(6, 0, 1, 3389, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(&CR[..10]); // short
        let mut p = CR.to_vec();
        p[0] = 2; // TPKT version
        reject(&p);
        reject(&CR[..18]); // TPKT length != payload
        let mut p = CR.to_vec();
        p[4] = 13; // LI
        reject(&p);
        let mut p = CR.to_vec();
        p[5] = 0xf0; // DT TPDU
        reject(&p);
        let mut p = CR.to_vec();
        p[10] = 0x40; // class 4
        reject(&p);
        let mut p = CR.to_vec();
        p[13] = 9; // not a negotiation structure
        reject(&p);
        // An S7comm (ISO-TSAP) connection request: TPDU size and TSAP parameters.
        reject(&[
            3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2,
        ]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..60)) {
            let mut p = vec![3, 0, 0, (data.len() + 11) as u8, (data.len() + 6) as u8, 0xe0,
                             0, 0, 0, 0, 0];
            p.extend_from_slice(&data);
            let _ = dissect_one(&Rdp, &packet(6, 0, 1, 3389, &p));
            let _ = dissect_one(&Rdp, &packet(6, 0, 1, 3389, &data));
        }
    }
}
