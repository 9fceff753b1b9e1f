//! BGP-4 (RFC 4271) over TCP: nDPI's `BGP`.
//!
//! Owns recognising the first message of a flow by its header (RFC 4271 §4.1): the 16-byte
//! all-ones marker, a length of at least 19 (and at most 65535: RFC 8654 extends the 4096 of
//! RFC 4271), a type from OPEN (1) to ROUTE-REFRESH (5, RFC 2918). From an OPEN (§4.2) it
//! records the sender's autonomous system (`bgp_as`, the 2-byte `My Autonomous System`; 23456
//! means a 4-byte AS in a capability, RFC 6793) and its BGP identifier (`bgp_id`).
//!
//! It does *not* decode UPDATEs, capabilities or anything past the first message. A flow whose
//! first payload is not a BGP message head is rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "BGP";

mod field {
    use crate::packet::Field;
    pub const MARKER: Field = 0..16;
    pub const LENGTH: Field = 16..18;
    pub const TYPE: usize = 18;
    pub const HEADER_END: usize = 19;
    /// OPEN: version (1), My Autonomous System (2), Hold Time (2), BGP Identifier (4).
    pub const OPEN_AS: Field = 20..22;
    pub const OPEN_ID: Field = 24..28;
}

/// BGP message type OPEN (RFC 4271 §4.1).
const OPEN: u8 = 1;

/// Recognises BGP messages.
#[derive(Debug, Default)]
pub struct Bgp;

impl Dissector for Bgp {
    fn ports(&self) -> &'static [u16] {
        &[179]
    }

    fn name(&self) -> &'static str {
        "bgp"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if p.len() < field::HEADER_END || p[field::MARKER].iter().any(|&b| b != 0xff) {
            return Verdict::Reject;
        }
        let len = usize::from(crate::packet::be16(&p[field::LENGTH]));
        let ty = p[field::TYPE];
        if len < field::HEADER_END || !(1..=5).contains(&ty) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        if ty == OPEN && len >= field::OPEN_ID.end && p.len() >= field::OPEN_ID.end {
            let r = ctx.result();
            r.set_meta("bgp_as", crate::packet::be16(&p[field::OPEN_AS]));
            let id = &p[field::OPEN_ID];
            r.set_meta(
                "bgp_id",
                std::net::Ipv4Addr::new(id[0], id[1], id[2], id[3]).to_string(),
            );
        }
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// An OPEN (`BGP_Cisco_hdlc_slarp.pcap`, first payload), cut after the identifier.
    #[rustfmt::skip]
    const OPEN_MSG: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0x00, 0x39,                         // length 57
        0x01,                               // type OPEN
        0x04,                               // version 4
        0x00, 0x01,                         // my AS 1
        0x00, 0xb4,                         // hold time 180
        0x0b, 0x0b, 0x0b, 0x0b,             // BGP identifier 11.11.11.11
    ];

    #[test]
    fn open() {
        let (verdict, r) = dissect_one(&Bgp, &packet(6, 0, 18324, 179, OPEN_MSG));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("BGP")));
        assert_eq!(r.meta("bgp_as"), Some(&1u16.into()));
        assert_eq!(r.meta("bgp_id"), Some(&"11.11.11.11".into()));
    }

    #[test]
    fn keepalive_from_the_server() {
        let mut p = OPEN_MSG[..19].to_vec();
        p[17] = 19; // length 19
        p[18] = 4; // KEEPALIVE
        let (verdict, r) = dissect_one(&Bgp, &packet(6, 1, 18324, 179, &p));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("BGP")));
        assert!(r.meta.is_empty());
    }

    #[test]
    fn rejects() {
        let reject = |p: &[u8]| {
            let (verdict, r) = dissect_one(&Bgp, &packet(6, 0, 1, 179, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(&OPEN_MSG[..18]); // no type
        let mut p = OPEN_MSG.to_vec();
        p[3] = 0xfe; // marker
        reject(&p);
        let mut p = OPEN_MSG.to_vec();
        p[17] = 18; // length below a header
        reject(&p);
        let mut p = OPEN_MSG.to_vec();
        p[18] = 6; // type
        reject(&p);
        let mut p = OPEN_MSG.to_vec();
        p[18] = 0;
        reject(&p);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let mut p = OPEN_MSG[..16].to_vec();
            p.extend_from_slice(&data);
            let _ = dissect_one(&Bgp, &packet(6, 0, 1, 179, &p));
        }
    }
}
