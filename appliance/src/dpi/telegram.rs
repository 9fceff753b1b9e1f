//! Telegram's voice relays over UDP (libtgvoip's reflector protocol): every datagram opens
//! with the call's 16-byte peer tag; a client's ping and the relay's answer follow it with
//! twelve `0xff` bytes, which is what identifies the flow.
//!
//! It does *not* read the encrypted packets after the pings; Telegram's other flows (MTProto
//! over TCP, TLS) are named from the server addresses by the naming table.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Telegram";

/// The peer tag's length.
const TAG: usize = 16;

/// The special-packet marker after the tag.
const MARKER: [u8; 12] = [0xff; 12];

/// The Telegram relay dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Telegram;

impl Dissector for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        // The tag is random: a tag of 0xff (or of zeroes) is padding of something else.
        let marked = p.get(TAG..TAG + MARKER.len()) == Some(&MARKER[..]);
        let tag_random = p[..TAG.min(p.len())].iter().any(|&b| b != 0xff && b != 0);
        if marked && tag_random {
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
    const PING: &[u8] = &[
        0xdc, 0x4c, 0x00, 0x29, 0x15, 0x65, 0xb7, 0xac, // peer tag
        0xbc, 0x23, 0x6d, 0xa9, 0xed, 0xa0, 0xd5, 0x97,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0xff, 0xff, 0xff, 0xff,
        0xfe, 0xff, 0xff, 0xff,                         // type
        0x28, 0xf9, 0x46, 0x11, 0x26, 0x01, 0xa2, 0xf0, // query id
    ];

    #[test]
    fn ping() {
        let f = feed(Telegram, 17, 23174, 521, &[(0, PING)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects() {
        let mut v = PING.to_vec();
        v[20] = 0; // marker broken
        assert!(feed(Telegram, 17, 1, 2, &[(0, &v)]).result.master.is_none());
        let mut v = PING.to_vec();
        v[..16].fill(0xff); // all 0xff: padding, no tag
        assert!(feed(Telegram, 17, 1, 2, &[(0, &v)]).result.master.is_none());
        let f = feed(Telegram, 17, 1, 2, &[(0, &PING[..27])]);
        assert!(f.result.master.is_none());
        assert!(f.done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let _ = feed(Telegram, 17, 1, 2, &[(0, &a)]);
        }
    }
}
