//! Zoom's own media transport over UDP 8801-8810: the session opens with a client hello
//! (type one) whose 16-byte session token the server's answer (type two) repeats, which
//! identifies the flow. Zoom's STUN is the STUN dissector's.
//!
//! It does *not* parse the media encapsulation after the handshake, nor Zoom over TCP/TLS.
//!
//! State: the client's token, 16 bytes and a flag (17 bytes, asserted in the tests), created
//! by a client hello only.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Zoom";

/// Zoom's multimedia router ports.
const PORTS: std::ops::RangeInclusive<u16> = 8801..=8810;

/// The token's place in both hello messages.
const TOKEN: std::ops::Range<usize> = 3..19;

/// Per-flow state: the client hello's token.
#[derive(Debug, Default)]
struct State {
    token: Option<[u8; 16]>,
}

/// The Zoom media dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Zoom;

impl Dissector for Zoom {
    fn ports(&self) -> &'static [u16] {
        &[8801]
    }

    fn name(&self) -> &'static str {
        "zoom"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !PORTS.contains(&pkt.dst_port) && !PORTS.contains(&pkt.src_port) {
            return Verdict::Reject;
        }
        let p = pkt.payload;
        let Some(token) = p.get(TOKEN) else {
            return Verdict::Reject;
        };
        match (pkt.dir, p[0]) {
            (0, 1) => {
                let mut t = [0u8; 16];
                t.copy_from_slice(token);
                ctx.state::<State>().token = Some(t);
                Verdict::Pending
            }
            (1, 2) => {
                if ctx.state::<State>().token.is_some_and(|t| t[..] == *token) {
                    ctx.identify(MASTER);
                    Verdict::Done
                } else {
                    Verdict::Reject
                }
            }
            _ => Verdict::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    fn hello(kind: u8) -> Vec<u8> {
        let mut v = vec![kind, 0x00, if kind == 1 { 2 } else { 1 }]; // type, flags
        v.extend_from_slice(&[
            0x7d, 0x46, 0x4d, 0x35, 0xff, 0xfd, 0xa2, 0x34, // token
            0x49, 0x5d, 0x0d, 0x6d, 0x3b, 0x51, 0xe8, 0x96,
        ]);
        v.extend_from_slice(&[0x00, 0x5a, 0x0e, 0x3e, 0x00, 0x7a]);
        v
    }

    #[test]
    fn handshake() {
        let f = feed(Zoom, 17, 58327, 8801, &[(0, &hello(1)), (1, &hello(2))]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects() {
        assert!(feed(Zoom, 17, 1, 2, &[(0, &hello(1))]).done);
        let mut other = hello(2);
        other[5] ^= 1; // another token
        let f = feed(Zoom, 17, 58327, 8801, &[(0, &hello(1)), (1, &other)]);
        assert!(f.result.master.is_none());
        assert!(f.done);
        // An answer without hello, a hello from the server, a short packet.
        assert!(feed(Zoom, 17, 58327, 8801, &[(0, &hello(2))]).done);
        assert!(feed(Zoom, 17, 58327, 8801, &[(0, &[0; 4]), (1, &hello(1))]).done);
        assert!(feed(Zoom, 17, 58327, 8801, &[(0, &hello(1)[..18])]).done);
    }

    #[test]
    fn state_is_small() {
        assert!(std::mem::size_of::<State>() <= 17);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let _ = feed(Zoom, 17, 58327, 8801, &[(0, &hello(1)), (1, &a)]);
        }
    }
}
