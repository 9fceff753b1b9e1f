//! RTP (RFC 3550) over UDP, seen without signalling: a flow whose datagrams carry RTP version 2
//! headers, two of them in one direction with the same SSRC and payload type and the sequence
//! number moving forward by a little. `header` is also what the STUN dissector uses to see
//! media after ICE.
//!
//! It does *not* tell SRTP from RTP (nDPI calls media after STUN `SRTP`, which the STUN
//! dissector does), identify RTCP-only flows, nor read payloads.
//!
//! State: per direction the last header seen (SSRC, sequence number, payload type): 24 bytes
//! (asserted in the tests), created by a datagram with a valid RTP header only.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "RTP";

/// Fixed header length.
const HEADER: usize = 12;

/// Largest forward step of the sequence number accepted between two datagrams of a direction
/// (losses and reordering in between).
const MAX_STEP: u16 = 16;

/// Datagrams examined before giving up.
const MAX_PACKETS: u32 = 8;

/// An RTP header's identifying fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Header {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// The RTP header at the start of `buf`: version 2, a payload type outside 64-95 (RFC 5761 §4:
/// that range would collide with RTCP's packet types 192-223), and room for the CSRC list.
pub(super) fn header(buf: &[u8]) -> Option<Header> {
    let h = buf.get(..HEADER)?;
    if h[0] >> 6 != 2 {
        return None;
    }
    let payload_type = h[1] & 0x7f;
    if (64..=95).contains(&payload_type) {
        return None;
    }
    let csrc = usize::from(h[0] & 0x0f);
    if HEADER + 4 * csrc > buf.len() {
        return None;
    }
    Some(Header {
        payload_type,
        seq: u16::from_be_bytes([h[2], h[3]]),
        ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// Per-flow state: the last header of each direction.
#[derive(Debug, Default)]
struct State {
    last: [Option<Header>; 2],
}

/// The RTP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rtp;

impl Dissector for Rtp {
    fn name(&self) -> &'static str {
        "rtp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(h) = header(pkt.payload) else {
            return Verdict::Reject;
        };
        if pkt.index >= MAX_PACKETS {
            return Verdict::Reject;
        }
        let dir = usize::from(pkt.dir & 1);
        let state = ctx.state::<State>();
        let prev = state.last[dir].replace(h);
        if let Some(prev) = prev
            && prev.ssrc == h.ssrc
            && prev.payload_type == h.payload_type
            && (1..=MAX_STEP).contains(&h.seq.wrapping_sub(prev.seq))
        {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        Verdict::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    fn rtp(seq: u16, ssrc: u32, pt: u8) -> Vec<u8> {
        let mut v = vec![
            0x80, pt, // version 2, no padding / extension / CSRC; marker 0, payload type
        ];
        v.extend_from_slice(&seq.to_be_bytes()); // sequence number
        v.extend_from_slice(&160u32.to_be_bytes()); // timestamp
        v.extend_from_slice(&ssrc.to_be_bytes()); // SSRC
        v.extend_from_slice(&[0xd5; 160]); // payload (G.711)
        v
    }

    #[test]
    fn two_in_sequence() {
        let (a, b) = (rtp(0x6fae, 0x3796cb71, 8), rtp(0x6faf, 0x3796cb71, 8));
        let f = feed(Rtp, 17, 30000, 40392, &[(0, &a), (0, &b)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        // Directions are followed apart.
        let other = rtp(0x1234, 0x1, 8);
        let f = feed(Rtp, 17, 30000, 40392, &[(0, &a), (1, &other), (0, &b)]);
        assert_eq!(f.result.master, Some(MASTER));
        // Wrapping sequence numbers.
        let (a, b) = (rtp(0xffff, 7, 0), rtp(0x0001, 7, 0));
        assert_eq!(
            feed(Rtp, 17, 1, 2, &[(0, &a), (0, &b)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn mismatches_wait_then_give_up() {
        let a = rtp(10, 1, 8);
        for b in [rtp(11, 2, 8), rtp(11, 1, 0), rtp(10, 1, 8), rtp(40, 1, 8)] {
            let f = feed(Rtp, 17, 1, 2, &[(0, &a), (0, &b)]);
            assert_eq!(f.result.master, None);
            assert!(!f.done);
        }
        let many: Vec<Vec<u8>> = (0..9).map(|i| rtp(i * 100, 1, 8)).collect();
        let pkts: Vec<(u8, &[u8])> = many.iter().map(|v| (0, v.as_slice())).collect();
        let f = feed(Rtp, 17, 1, 2, &pkts);
        assert!(f.done);
        assert_eq!(f.result.master, None);
    }

    #[test]
    fn rejects() {
        let mut v = rtp(1, 1, 8);
        v[0] = 0x40; // version 1
        assert!(feed(Rtp, 17, 1, 2, &[(0, &v)]).done);
        let rtcp = rtp(1, 1, 0xc8); // 200: sender report
        assert!(feed(Rtp, 17, 1, 2, &[(0, &rtcp)]).done);
        let mut v = rtp(1, 1, 8);
        v[0] = 0x8f; // 15 CSRCs that are not there
        v.truncate(20);
        assert!(feed(Rtp, 17, 1, 2, &[(0, &v)]).done);
        assert!(feed(Rtp, 17, 1, 2, &[(0, &[0x80, 8, 0, 1])]).done);
    }

    #[test]
    fn state_is_small() {
        assert!(std::mem::size_of::<State>() <= 24);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                        b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = feed(Rtp, 17, 1, 2, &[(0, &a), (0, &b)]);
        }
    }
}
