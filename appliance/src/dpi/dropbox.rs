//! Dropbox's LAN sync (UDP 17500): the discovery broadcasts, JSON objects with a `host_int`
//! member, and the peer-to-peer exchanges on the same port, whose messages name their
//! `Bus17Cmd` channel in clear.
//!
//! It does *not* parse the JSON nor identify Dropbox's TCP or HTTPS traffic (TLS and the
//! naming table do).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Dropbox";

/// The LAN sync port.
const PORT: u16 = 17500;

/// Bytes searched for a marker (the markers sit in the first ~30 bytes of a message).
const WINDOW: usize = 128;

/// The discovery broadcast's member and the peer channel's name.
const MARKERS: [&[u8]; 2] = [b"\"host_int\"", b"Bus17Cmd"];

/// The Dropbox LAN sync dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dropbox;

/// True when `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl Dissector for Dropbox {
    fn ports(&self) -> &'static [u16] {
        &[17500]
    }

    fn name(&self) -> &'static str {
        "dropbox"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if pkt.dst_port != PORT && pkt.src_port != PORT {
            return Verdict::Reject;
        }
        let p = pkt.payload;
        let head = &p[..p.len().min(WINDOW)];
        // Discovery is JSON from 17500 to 17500; the peer channel is searched in any packet.
        let discovery = pkt.src_port == PORT && pkt.dst_port == PORT && p.first() == Some(&b'{');
        if (discovery && contains(p, MARKERS[0])) || contains(head, MARKERS[1]) {
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

    const DISCOVERY: &[u8] =
        br#"{"version": [2, 0], "port": 17500, "host_int": 330402624013167112717714583297153688482, "displayname": ""}"#;

    #[test]
    fn discovery() {
        let f = feed(Dropbox, 17, 17500, 17500, &[(0, DISCOVERY)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn peer_channel() {
        #[rustfmt::skip]
        let v = [
            0x43, 0x03, 0x35, 0x01, 0x6f, 0x52, 0x4d, 0x72, 0x44, 0x5c, 0x41, 0x72, 0x08, // header
            b'B', b'u', b's', b'1', b'7', b'C', b'm', b'd', // channel
            0x11, 0x32, 0xff, b'{', b'}',
        ];
        assert_eq!(
            feed(Dropbox, 17, 50311, 17500, &[(0, &v)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Dropbox, 17, 17501, 17502, &[(0, DISCOVERY)])
                .result
                .master
                .is_none()
        );
        // JSON from another port is not discovery.
        assert!(
            feed(Dropbox, 17, 40000, 17500, &[(0, DISCOVERY)])
                .result
                .master
                .is_none()
        );
        let f = feed(Dropbox, 17, 17500, 17500, &[(0, b"{\"hello\": 1}")]);
        assert!(f.result.master.is_none());
        assert!(f.done);
        // The channel name past the window.
        let mut v = vec![0; WINDOW];
        v.extend_from_slice(b"Bus17Cmd");
        assert!(
            feed(Dropbox, 17, 1, 17500, &[(0, &v)])
                .result
                .master
                .is_none()
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = feed(Dropbox, 17, 17500, 17500, &[(0, &a)]);
        }
    }
}
