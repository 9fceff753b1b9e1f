//! Teredo (RFC 4380, UDP 3544): IPv6 packets in UDP, optionally behind an authentication
//! indicator (§5.1.1: `0x0001`, client id and value lengths, nonce, confirmation) and an origin
//! indication (§5.1.1: `0x0000`, obfuscated port and address).
//!
//! It does *not* decode the inner IPv6 packet beyond its version and length (the flow is the
//! outer UDP one, as in nfstream).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Teredo";

/// The server port.
const PORT: u16 = 3544;

/// IPv6 fixed header length.
const IPV6_HEADER: usize = 40;

/// The Teredo dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Teredo;

/// Skips the optional indicators in front of the IPv6 packet.
fn skip_indicators(mut p: &[u8]) -> Option<&[u8]> {
    // Authentication: type 1, id length, auth length, id, auth value, 8-byte nonce,
    // confirmation byte.
    if p.starts_with(&[0x00, 0x01]) {
        let id = usize::from(*p.get(2)?);
        let auth = usize::from(*p.get(3)?);
        p = p.get(4 + id + auth + 8 + 1..)?;
    }
    // Origin indication: type 0, port, address.
    if p.starts_with(&[0x00, 0x00]) {
        p = p.get(8..)?;
    }
    Some(p)
}

/// True when `p` is an IPv6 packet whose payload length matches.
fn is_ipv6(p: &[u8]) -> bool {
    p.len() >= IPV6_HEADER
        && p[0] >> 4 == 6
        && usize::from(u16::from_be_bytes([p[4], p[5]])) == p.len() - IPV6_HEADER
}

impl Dissector for Teredo {
    fn ports(&self) -> &'static [u16] {
        &[3544]
    }

    fn name(&self) -> &'static str {
        "teredo"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if pkt.dst_port != PORT && pkt.src_port != PORT {
            return Verdict::Reject;
        }
        match skip_indicators(pkt.payload) {
            Some(inner) if is_ipv6(inner) => {
                ctx.identify(MASTER);
                Verdict::Done
            }
            _ => Verdict::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    /// A router solicitation (ICMPv6 133), 8 bytes of payload.
    fn ipv6() -> Vec<u8> {
        let mut v = vec![
            0x60, 0x00, 0x00, 0x00, // version 6, class, flow label
            0x00, 0x08, // payload length 8
            0x3a, 0xff, // next header ICMPv6, hop limit
        ];
        v.extend_from_slice(&[
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        v.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02]);
        v.extend_from_slice(&[0x85, 0, 0x7d, 0x37, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn bare_and_with_indicators() {
        let f = feed(Teredo, 17, 52513, 3544, &[(0, &ipv6())]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        let mut v = vec![0x00, 0x01, 0x00, 0x00]; // authentication, no id, no value
        v.extend_from_slice(&[0xb1, 0x1b, 0x3f, 0xea, 0x46, 0xa9, 0xaf, 0xe9, 0x00]); // nonce, conf.
        v.extend_from_slice(&[0x00, 0x00, 0x00, 0x32, 0xde, 0x46, 0xf9, 0x3f]); // origin
        v.extend_from_slice(&ipv6());
        assert_eq!(
            feed(Teredo, 17, 3544, 52513, &[(0, &v)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Teredo, 17, 1, 2, &[(0, &ipv6())])
                .result
                .master
                .is_none()
        );
        let mut v = ipv6();
        v[0] = 0x45; // IPv4
        assert!(
            feed(Teredo, 17, 1, 3544, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = ipv6();
        v.push(0); // length disagrees
        assert!(
            feed(Teredo, 17, 1, 3544, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let f = feed(Teredo, 17, 1, 3544, &[(0, &[0x00, 0x01, 0x20, 0x20])]);
        assert!(f.result.master.is_none());
        assert!(f.done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = feed(Teredo, 17, 3544, 3544, &[(0, &a)]);
        }
    }
}
