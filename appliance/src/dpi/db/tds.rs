//! Microsoft SQL Server's Tabular Data Stream (\[MS-TDS\]): the client's PRELOGIN message
//! (§2.2.6.5) that opens every connection: nDPI's `MsSQL-TDS`.
//!
//! The first payload of the flow, from the client: a packet header (§2.2.3.1) of type
//! PRELOGIN (0x12), status end-of-message, a length equal to the payload's, window 0, then
//! option tokens (type, 2-byte offset, 2-byte length) closed by the terminator 0xFF, the first
//! of which is VERSION (0x00), each pointing inside the message. It records nothing. See
//! [`super`] for what it does not do.

use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "MsSQL-TDS";

/// PRELOGIN packet type (\[MS-TDS\] §2.2.3.1.1).
const PRELOGIN: u8 = 0x12;

/// Header length (\[MS-TDS\] §2.2.3.1).
const HEADER: usize = 8;

/// Most option tokens read (there are 9 defined).
const MAX_OPTIONS: usize = 16;

/// Recognises the TDS PRELOGIN request.
#[derive(Debug, Default)]
pub struct Tds;

impl Dissector for Tds {
    fn ports(&self) -> &'static [u16] {
        &[1433]
    }

    fn name(&self) -> &'static str {
        "tds"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if pkt.dir != 0 || !is_prelogin(pkt.payload) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        Verdict::Done
    }
}

fn is_prelogin(p: &[u8]) -> bool {
    if p.len() < HEADER + 6
        || p[0] != PRELOGIN
        || p[1] & 0x01 == 0
        || usize::from(crate::packet::be16(&p[2..4])) != p.len()
        || p[7] != 0
        || p[HEADER] != 0x00
    {
        return false;
    }
    let data = &p[HEADER..];
    for (i, token) in data.chunks(5).take(MAX_OPTIONS).enumerate() {
        if token[0] == 0xff {
            return i > 0;
        }
        if token.len() < 5 {
            return false;
        }
        let offset = usize::from(crate::packet::be16(&token[1..3]));
        let len = usize::from(crate::packet::be16(&token[3..5]));
        if offset + len > data.len() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    #[rustfmt::skip]
    const PRELOGIN_MSG: &[u8] = &[
        0x12, 0x01, 0x00, 0x1a,             // PRELOGIN, end of message, length 26
        0x00, 0x00, 0x01, 0x00,             // SPID, packet id 1, window 0
        0x00, 0x00, 0x0b, 0x00, 0x06,       // VERSION at 11, 6 bytes
        0x01, 0x00, 0x11, 0x00, 0x01,       // ENCRYPTION at 17, 1 byte
        0xff,                               // terminator
        0x0f, 0x00, 0x07, 0xd0, 0x00, 0x00, // version 15.0.2000
        0x02,                               // encryption: not supported
    ];

    #[test]
    fn prelogin() {
        let (verdict, r) = dissect_one(&Tds, &packet(6, 0, 40000, 1433, PRELOGIN_MSG));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("MsSQL-TDS")));
    }

    #[test]
    fn rejects() {
        let reject = |dir: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&Tds, &packet(6, dir, 40000, 1433, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(1, PRELOGIN_MSG); // from the server
        reject(0, &PRELOGIN_MSG[..13]); // short
        for (i, v) in [
            (0, 0x10),
            (1, 0x00),
            (3, 0x1b),
            (7, 1),
            (8, 0x01),
            (16, 0x10),
        ] {
            let mut p = PRELOGIN_MSG.to_vec();
            p[i] = v; // type, status, length, window, first token, an offset past the end
            reject(0, &p);
        }
        let mut p = PRELOGIN_MSG.to_vec();
        p[18] = 0x02; // no terminator
        reject(0, &p);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..60)) {
            let mut p = vec![0x12, 0x01, 0, (data.len() + 8) as u8, 0, 0, 1, 0];
            p.extend_from_slice(&data);
            let _ = dissect_one(&Tds, &packet(6, 0, 1, 1433, &p));
        }
    }
}
