//! DHCPv6 (RFC 8415) over UDP 546/547: a client/server message (type 1-11, 3-byte transaction
//! id) or a relay message (12-13, hop count and two addresses), then options that must end
//! exactly with the datagram.
//!
//! It does *not* read options (no FQDN, no DUID) nor follow relayed messages.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "DHCPV6";

/// Client and server/relay ports (RFC 8415 §7.2).
const PORTS: [u16; 2] = [546, 547];

/// Relay-forward and relay-reply (RFC 8415 §7.3).
const RELAY: std::ops::RangeInclusive<u8> = 12..=13;

/// Header lengths: client/server messages (type, transaction id) and relay messages (type,
/// hop count, link address, peer address).
const HEADER: usize = 4;
const RELAY_HEADER: usize = 34;

/// The DHCPv6 dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dhcpv6;

/// True when `opts` is exactly a sequence of options (code, length, value).
fn options_fit(opts: &[u8]) -> bool {
    super::tlv16_fit(opts, |_, _| true)
}

impl Dissector for Dhcpv6 {
    fn ports(&self) -> &'static [u16] {
        &[546, 547]
    }

    fn name(&self) -> &'static str {
        "dhcpv6"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !PORTS.contains(&pkt.src_port) || !PORTS.contains(&pkt.dst_port) {
            return Verdict::Reject;
        }
        let p = pkt.payload;
        let Some(&kind) = p.first() else {
            return Verdict::Reject;
        };
        let header = match kind {
            1..=11 => HEADER,
            k if RELAY.contains(&k) => RELAY_HEADER,
            _ => return Verdict::Reject,
        };
        // At least one option: every message carries some (client id, relay message, ...).
        match p.get(header..) {
            Some(opts) if !opts.is_empty() && options_fit(opts) => {
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

    #[rustfmt::skip]
    const INFORMATION_REQUEST: &[u8] = &[
        0x0b,                   // information-request
        0x27, 0x73, 0x1d,       // transaction id
        0x00, 0x01, 0x00, 0x0e, // client id, length 14
        0x00, 0x01, 0x00, 0x01, 0x1d, 0xb8, 0xe6, 0xfb, 0x70, 0x3e, 0xac, 0xf0, 0xf0, 0x07,
        0x00, 0x06, 0x00, 0x04, // option request, length 4
        0x00, 0x17, 0x00, 0x18,
        0x00, 0x08, 0x00, 0x02, // elapsed time, length 2
        0x00, 0x00,
    ];

    #[test]
    fn information_request() {
        let f = feed(Dhcpv6, 17, 546, 547, &[(0, INFORMATION_REQUEST)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn relay_forward() {
        let mut v = vec![12, 0]; // relay-forward, hop count
        v.extend_from_slice(&[0; 32]); // link and peer addresses
        v.extend_from_slice(&[0x00, 0x09, 0x00, 0x02, 0xaa, 0xbb]); // relay message
        assert_eq!(
            feed(Dhcpv6, 17, 547, 547, &[(0, &v)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Dhcpv6, 17, 546, 53, &[(0, INFORMATION_REQUEST)])
                .result
                .master
                .is_none()
        );
        let mut v = INFORMATION_REQUEST.to_vec();
        v[0] = 14; // no such type
        assert!(
            feed(Dhcpv6, 17, 546, 547, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = INFORMATION_REQUEST.to_vec();
        v.push(0); // trailing byte
        assert!(
            feed(Dhcpv6, 17, 546, 547, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let f = feed(Dhcpv6, 17, 546, 547, &[(0, &INFORMATION_REQUEST[..4])]);
        assert!(f.result.master.is_none(), "no options");
        assert!(f.done);
        assert!(feed(Dhcpv6, 17, 546, 547, &[(0, &[])]).done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = feed(Dhcpv6, 17, 546, 547, &[(0, &a)]);
        }
    }
}
