//! Spotify's LAN discovery (UDP 57621): broadcasts that open with `SpotUdp0`.
//!
//! It does *not* identify Spotify's streaming (TLS and the naming table do).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Spotify";

/// The discovery port.
const PORT: u16 = 57621;

/// What every discovery datagram opens with.
const MAGIC: &[u8] = b"SpotUdp0";

/// The Spotify LAN discovery dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spotify;

impl Dissector for Spotify {
    fn ports(&self) -> &'static [u16] {
        &[57621]
    }

    fn name(&self) -> &'static str {
        "spotify"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if (pkt.src_port == PORT || pkt.dst_port == PORT) && pkt.payload.starts_with(MAGIC) {
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

    #[test]
    fn discovery() {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[0xdc, 0x15, 0x74, 0x28, 0x2e, 0x52, 0x62, 0x4c, 0x00, 0x01]);
        let f = feed(Spotify, 17, 57621, 57621, &[(0, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Spotify, 17, 1, 2, &[(0, MAGIC)])
                .result
                .master
                .is_none()
        );
        let f = feed(Spotify, 17, 57621, 57621, &[(0, b"SpotUdp1")]);
        assert!(f.result.master.is_none());
        assert!(f.done);
        assert!(
            feed(Spotify, 17, 57621, 57621, &[(0, b"Spot")])
                .result
                .master
                .is_none()
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let _ = feed(Spotify, 17, 57621, 57621, &[(0, &a)]);
        }
    }
}
