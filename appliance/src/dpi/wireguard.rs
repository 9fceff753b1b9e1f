//! WireGuard (whitepaper §5.4) over UDP: handshake initiation (type 1, 148 bytes), response
//! (type 2, 92 bytes) and cookie reply (type 3, 64 bytes) identify by their exact sizes; a
//! flow caught after its handshake is identified by two transport-data messages (type 4, 16
//! bytes of header plus a multiple of 16) of one direction with the same receiver index and a
//! counter moving forward.
//!
//! It does *not* verify MACs or decrypt anything.
//!
//! State: per direction the last receiver index and counter: 48 bytes (asserted in the
//! tests), created by a transport-data message only.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "WireGuard";

/// Transport data: type, reserved, receiver index, counter, then at least the AEAD tag.
const DATA_HEADER: usize = 16;
const MIN_DATA: usize = DATA_HEADER + 16;

/// Largest counter step accepted between two data messages of a direction.
const MAX_STEP: u64 = 64;

/// Data messages examined before giving up.
const MAX_PACKETS: u32 = 8;

/// Per-flow state: the last (receiver index, counter) of each direction.
#[derive(Debug, Default)]
struct State {
    last: [Option<(u32, u64)>; 2],
}

/// The WireGuard dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireGuard;

impl Dissector for WireGuard {
    fn ports(&self) -> &'static [u16] {
        &[51820]
    }

    fn name(&self) -> &'static str {
        "wireguard"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        // Every message: one type byte, three reserved zero bytes.
        if p.len() < 4 || p[1..4] != [0, 0, 0] {
            return Verdict::Reject;
        }
        match (p[0], p.len()) {
            (1, 148) | (2, 92) | (3, 64) => {
                ctx.identify(MASTER);
                Verdict::Done
            }
            (4, n) if n >= MIN_DATA && n.is_multiple_of(16) && pkt.index < MAX_PACKETS => {
                let receiver = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
                let mut c = [0u8; 8];
                c.copy_from_slice(&p[8..16]);
                let counter = u64::from_le_bytes(c);
                let dir = usize::from(pkt.dir & 1);
                let prev = ctx.state::<State>().last[dir].replace((receiver, counter));
                match prev {
                    Some((r, c))
                        if r == receiver && (1..=MAX_STEP).contains(&counter.wrapping_sub(c)) =>
                    {
                        ctx.identify(MASTER);
                        Verdict::Done
                    }
                    _ => Verdict::Pending,
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

    fn data(receiver: u32, counter: u64, len: usize) -> Vec<u8> {
        let mut v = vec![4, 0, 0, 0]; // type 4, reserved
        v.extend_from_slice(&receiver.to_le_bytes()); // receiver index
        v.extend_from_slice(&counter.to_le_bytes()); // counter
        v.resize(len, 0xa5); // encrypted packet and tag
        v
    }

    #[test]
    fn handshake_messages() {
        for (kind, len) in [(1u8, 148usize), (2, 92), (3, 64)] {
            let mut v = vec![kind, 0, 0, 0];
            v.resize(len, 0x11);
            let f = feed(WireGuard, 17, 40000, 51820, &[(0, &v)]);
            assert_eq!(f.result.master, Some(MASTER), "type {kind}");
            assert!(f.done);
            v.push(0);
            assert!(
                feed(WireGuard, 17, 1, 2, &[(0, &v)])
                    .result
                    .master
                    .is_none()
            );
        }
    }

    #[test]
    fn transport_data() {
        let (a, b) = (data(0x8d6940be, 0x6b, 800), data(0x8d6940be, 0x6c, 144));
        let f = feed(WireGuard, 17, 51820, 36116, &[(0, &a), (0, &b)]);
        assert_eq!(f.result.master, Some(MASTER));
        // The other direction has its own index.
        let other = data(0x5e61a66d, 0x70, 96);
        let f = feed(
            WireGuard,
            17,
            51820,
            36116,
            &[(0, &a), (1, &other), (0, &b)],
        );
        assert_eq!(f.result.master, Some(MASTER));
        for c in [
            data(1, 0x6c, 144),
            data(0x8d6940be, 0x6b, 144),
            data(0x8d6940be, 0x1000, 144),
        ] {
            let f = feed(WireGuard, 17, 1, 2, &[(0, &a), (0, &c)]);
            assert!(f.result.master.is_none());
            assert!(!f.done);
        }
    }

    #[test]
    fn rejects() {
        let mut v = data(1, 1, 64);
        v[2] = 1; // reserved not zero
        assert!(feed(WireGuard, 17, 1, 2, &[(0, &v)]).done);
        assert!(feed(WireGuard, 17, 1, 2, &[(0, &data(1, 1, 40))]).done); // not a multiple of 16
        assert!(feed(WireGuard, 17, 1, 2, &[(0, &data(1, 1, 16))]).done); // no tag
        assert!(feed(WireGuard, 17, 1, 2, &[(0, &[5, 0, 0, 0, 0, 0])]).done);
        assert!(feed(WireGuard, 17, 1, 2, &[(0, &[4, 0, 0])]).done);
        let many: Vec<Vec<u8>> = (0..9).map(|i| data(i, 0, 32)).collect();
        let pkts: Vec<(u8, &[u8])> = many.iter().map(|v| (0, v.as_slice())).collect();
        assert!(feed(WireGuard, 17, 1, 2, &pkts).done);
    }

    #[test]
    fn state_is_small() {
        assert!(std::mem::size_of::<State>() <= 48);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160)) {
            let _ = feed(WireGuard, 17, 1, 2, &[(0, &data(1, 1, 32)), (0, &a)]);
        }
    }
}
