//! NAT-PMP (RFC 6886) and its successor PCP (RFC 6887) on UDP 5350/5351: version 0 requests
//! and responses of the sizes their opcodes imply, version 2 messages with a 24-byte header.
//! nDPI calls both `NAT-PMP`.
//!
//! It does *not* read mappings or the announced address.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "NAT-PMP";

/// Server port and the clients' multicast announcement port.
const PORTS: [u16; 2] = [5351, 5350];

/// PCP's common header (RFC 6887 §7).
const PCP_HEADER: usize = 24;

/// Largest PCP message (RFC 6887 §7: 1100 bytes).
const PCP_MAX: usize = 1100;

/// The NAT-PMP / PCP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct NatPmp;

/// True when `p` is a NAT-PMP message (RFC 6886 §3).
fn is_nat_pmp(p: &[u8]) -> bool {
    match (p.first(), p.get(1), p.len()) {
        // Requests: external address (2 bytes), UDP / TCP mapping (12).
        (Some(0), Some(0), 2) | (Some(0), Some(1 | 2), 12) => true,
        // Responses: address (12), mappings (16), with result code 0-5.
        (Some(0), Some(128), 12) | (Some(0), Some(129 | 130), 16) => {
            u16::from_be_bytes([p[2], p[3]]) <= 5
        }
        _ => false,
    }
}

/// True when `p` is a PCP message (RFC 6887 §7.1, §7.2): version 2, opcode ANNOUNCE, MAP or
/// PEER with or without the response bit, a whole number of 32-bit words.
fn is_pcp(p: &[u8]) -> bool {
    p.len() >= PCP_HEADER
        && p.len() <= PCP_MAX
        && p.len().is_multiple_of(4)
        && p[0] == 2
        && (p[1] & 0x7f) <= 2
}

impl Dissector for NatPmp {
    fn ports(&self) -> &'static [u16] {
        &[5351]
    }

    fn name(&self) -> &'static str {
        "nat-pmp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if (PORTS.contains(&pkt.src_port) || PORTS.contains(&pkt.dst_port))
            && (is_nat_pmp(p) || is_pcp(p))
        {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        Verdict::Reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    #[rustfmt::skip]
    const ADDRESS_RESPONSE: &[u8] = &[
        0x00,                   // version 0
        0x80,                   // opcode 128: external address response
        0x00, 0x00,             // result: success
        0x00, 0x00, 0x00, 0x21, // seconds since epoch
        192, 168, 1, 11,        // external address
    ];

    #[test]
    fn nat_pmp_and_pcp() {
        let f = feed(NatPmp, 17, 5351, 5350, &[(0, ADDRESS_RESPONSE)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        assert_eq!(
            feed(NatPmp, 17, 40000, 5351, &[(0, &[0, 0])]).result.master,
            Some(MASTER)
        );
        let mut announce = vec![2, 0x80, 0, 0, 0, 0, 0, 0x21];
        announce.resize(24, 0);
        assert_eq!(
            feed(NatPmp, 17, 5351, 5350, &[(0, &announce)])
                .result
                .master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(NatPmp, 17, 1, 2, &[(0, ADDRESS_RESPONSE)])
                .result
                .master
                .is_none()
        );
        let mut bad = Vec::new();
        let mut v = ADDRESS_RESPONSE.to_vec();
        v[3] = 9; // result code
        bad.push(v);
        bad.push(ADDRESS_RESPONSE[..11].to_vec()); // wrong size
        let mut v = ADDRESS_RESPONSE.to_vec();
        v[0] = 1; // version 1
        bad.push(v);
        let mut pcp = vec![2, 0x03]; // opcode 3
        pcp.resize(24, 0);
        bad.push(pcp);
        let mut pcp = vec![2, 0x01];
        pcp.resize(26, 0); // not a whole number of words
        bad.push(pcp);
        for (i, v) in bad.iter().enumerate() {
            let f = feed(NatPmp, 17, 5351, 5350, &[(0, v)]);
            assert!(f.result.master.is_none(), "case {i}");
            assert!(f.done);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let _ = feed(NatPmp, 17, 5351, 5350, &[(0, &a)]);
        }
    }
}
