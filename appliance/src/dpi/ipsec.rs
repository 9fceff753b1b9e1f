//! IKE (IKEv1 RFC 2409, IKEv2 RFC 7296) on UDP 500 and 4500, the key exchange of IPsec (which
//! nDPI calls `IPSec`): the ISAKMP header with a non-zero initiator SPI, a known version and
//! exchange type, and a length equal to the datagram. On 4500 the IKE message follows the
//! four-zero-byte non-ESP marker (RFC 3948 §2.2).
//!
//! It does *not* identify ESP-in-UDP or NAT keepalives alone, nor parse payloads.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "IPSec";

/// IKE and NAT traversal ports.
const IKE_PORT: u16 = 500;
const NAT_T_PORT: u16 = 4500;

/// ISAKMP header length.
const HEADER: usize = 28;

/// The IKE dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ipsec;

/// True when `p` is exactly one IKE message.
fn is_ike(p: &[u8]) -> bool {
    let Some(h) = p.get(..HEADER) else {
        return false;
    };
    let major = h[17] >> 4;
    let exchange = h[18];
    let valid_exchange = match major {
        // IKEv1: base, identity protection, authentication only, aggressive, informational,
        // quick mode, new group (RFC 2408 §3.1, RFC 2409 §5).
        1 => matches!(exchange, 1..=5 | 32 | 33),
        // IKEv2: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_SESSION_RESUME,
        // IKE_INTERMEDIATE, IKE_FOLLOWUP_KE (RFC 7296 §3.1 and IANA).
        2 => matches!(exchange, 34..=38 | 43 | 44),
        _ => false,
    };
    valid_exchange
        && h[..8] != [0; 8]
        && u32::from_be_bytes([h[24], h[25], h[26], h[27]]) as usize == p.len()
}

impl Dissector for Ipsec {
    fn ports(&self) -> &'static [u16] {
        &[500, 4500]
    }

    fn name(&self) -> &'static str {
        "ipsec"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let on = |port| pkt.src_port == port || pkt.dst_port == port;
        let p = pkt.payload;
        let ike = if on(NAT_T_PORT) && p.starts_with(&[0; 4]) {
            is_ike(&p[4..])
        } else {
            on(IKE_PORT) && is_ike(p)
        };
        if ike {
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

    fn sa_init() -> Vec<u8> {
        let mut v = vec![0x5f, 0x54, 0x29, 0x89, 0x14, 0x2b, 0x6a, 0x31]; // initiator SPI
        v.extend_from_slice(&[0; 8]); // responder SPI
        v.extend_from_slice(&[
            0x21, // next payload: SA
            0x20, // version 2.0
            0x22, // exchange: IKE_SA_INIT
            0x08, // flags: initiator
            0, 0, 0, 0, // message id
            0, 0, 0, 0x24, // length 36
        ]);
        v.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0]); // (a payload)
        v
    }

    #[test]
    fn ike_on_both_ports() {
        let f = feed(Ipsec, 17, 500, 500, &[(0, &sa_init())]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        let mut v = vec![0; 4]; // non-ESP marker
        v.extend_from_slice(&sa_init());
        assert_eq!(
            feed(Ipsec, 17, 4500, 4500, &[(0, &v)]).result.master,
            Some(MASTER)
        );
        let mut v1 = sa_init();
        v1[17] = 0x10; // IKEv1
        v1[18] = 2; // identity protection
        assert_eq!(
            feed(Ipsec, 17, 500, 500, &[(0, &v1)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Ipsec, 17, 1, 2, &[(0, &sa_init())])
                .result
                .master
                .is_none()
        );
        // IKE on 4500 without the marker is ESP.
        assert!(
            feed(Ipsec, 17, 4500, 4500, &[(0, &sa_init())])
                .result
                .master
                .is_none()
        );
        let mut bad = Vec::new();
        let mut v = sa_init();
        v[..8].fill(0); // no initiator SPI
        bad.push(v);
        let mut v = sa_init();
        v[17] = 0x30; // version 3
        bad.push(v);
        let mut v = sa_init();
        v[18] = 2; // IKEv1 exchange in IKEv2
        bad.push(v);
        let mut v = sa_init();
        v.push(0); // length disagrees
        bad.push(v);
        bad.push(sa_init()[..27].to_vec());
        for (i, v) in bad.iter().enumerate() {
            let f = feed(Ipsec, 17, 500, 500, &[(0, v)]);
            assert!(f.result.master.is_none(), "case {i}");
            assert!(f.done);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60)) {
            let _ = feed(Ipsec, 17, 500, 4500, &[(0, &a)]);
        }
    }
}
