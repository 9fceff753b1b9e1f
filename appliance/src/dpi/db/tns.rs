//! Oracle Net's Transparent Network Substrate: the client's Connect packet (type 1) that opens
//! a session: nDPI's `Oracle`.
//!
//! Oracle does not publish TNS; the layout used is the one network analysers decode: an
//! 8-byte header (2-byte packet length, 2-byte packet checksum, type,
//! reserved byte, 2-byte header checksum) then, for a Connect, fixed fields and a connect
//! descriptor in Oracle Net's `(DESCRIPTION=...)` syntax. The evidence here is the header
//! (length equal to the payload's, type Connect, zero reserved byte) and the descriptor's
//! `(DESCRIPTION=` or `(CONNECT_DATA=` in the payload. It records nothing. See [`super`] for
//! what it does not do.

use crate::dpi::line::contains_ignore_case;
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "Oracle";

/// TNS packet type Connect.
const CONNECT: u8 = 1;

/// Recognises the TNS Connect packet.
#[derive(Debug, Default)]
pub struct Tns;

impl Dissector for Tns {
    fn ports(&self) -> &'static [u16] {
        &[1521]
    }

    fn name(&self) -> &'static str {
        "tns"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let header_ok = pkt.dir == 0
            && p.len() > 8
            && usize::from(crate::packet::be16(&p[..2])) == p.len()
            && p[4] == CONNECT
            && p[5] == 0;
        if !header_ok
            || !(contains_ignore_case(&p[8..], "(DESCRIPTION=")
                || contains_ignore_case(&p[8..], "(CONNECT_DATA="))
        {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    fn connect(descriptor: &[u8]) -> Vec<u8> {
        let len = 8 + 26 + descriptor.len();
        let mut p = vec![
            (len >> 8) as u8,
            len as u8, // packet length
            0x00,
            0x00, // packet checksum
            0x01, // type: Connect
            0x00, // reserved
            0x00,
            0x00, // header checksum
        ];
        p.extend_from_slice(&[0x01, 0x3a, 0x01, 0x2c]); // version 314, lowest compatible 300
        p.extend_from_slice(&[0; 22]); // service options .. connect data offset (unchecked)
        p.extend_from_slice(descriptor);
        p
    }

    #[test]
    fn connect_packet() {
        let p =
            connect(b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl))(ADDRESS=(PROTOCOL=TCP)))");
        let (verdict, r) = dissect_one(&Tns, &packet(6, 0, 40000, 1521, &p));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("Oracle")));
    }

    #[test]
    fn rejects() {
        let reject = |dir: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&Tns, &packet(6, dir, 40000, 1521, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        let good = connect(b"(DESCRIPTION=(CONNECT_DATA=))");
        reject(1, &good); // from the server
        reject(0, &good[..8]); // header only
        reject(0, &good[..good.len() - 1]); // length != payload
        let mut p = good.clone();
        p[4] = 2; // Accept, not Connect
        reject(0, &p);
        let mut p = good.clone();
        p[5] = 1; // reserved
        reject(0, &p);
        reject(0, &connect(b"(ADDRESS=(PROTOCOL=TCP))")); // no descriptor
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = dissect_one(&Tns, &packet(6, 0, 1, 1521, &connect(&data)));
            let _ = dissect_one(&Tns, &packet(6, 0, 1, 1521, &data));
        }
    }
}
