//! MikroTik Neighbor Discovery (MNDP, UDP 5678): a 4-byte header (version, TTL, sequence)
//! and type-length-value fields (MAC address, identity, version, platform, ...), the whole
//! datagram made of them.
//!
//! It does *not* read the fields (identity, board) nor MikroTik's other protocols (Winbox).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Mikrotik";

/// The discovery port.
const PORT: u16 = 5678;

/// Header before the fields.
const HEADER: usize = 4;

/// Field type of the sender's MAC address, always present (6 bytes).
const MAC_ADDRESS: u16 = 1;

/// Highest field type known (0x11: IPv4 address).
const MAX_TYPE: u16 = 0x20;

/// The MNDP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mikrotik;

/// True when `fields` is exactly a sequence of known fields including a 6-byte MAC address.
fn fields_fit(fields: &[u8]) -> bool {
    let mut mac = false;
    let fit = super::tlv16_fit(fields, |kind, len| {
        mac |= kind == MAC_ADDRESS && len == 6;
        kind <= MAX_TYPE
    });
    fit && mac
}

impl Dissector for Mikrotik {
    fn ports(&self) -> &'static [u16] {
        &[5678]
    }

    fn name(&self) -> &'static str {
        "mikrotik"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if pkt.dst_port != PORT && pkt.src_port != PORT {
            return Verdict::Reject;
        }
        match pkt.payload.get(HEADER..) {
            Some(fields) if fields_fit(fields) => {
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
    const ANNOUNCE: &[u8] = &[
        0x00, 0x00,             // version, ttl
        0xa9, 0x1d,             // sequence
        0x00, 0x01, 0x00, 0x06, // MAC address
        0x4c, 0x5e, 0x0c, 0xea, 0x03, 0x88,
        0x00, 0x05, 0x00, 0x05, // identity
        b'4', b'M', b'N', b'A', b'T',
        0x00, 0x08, 0x00, 0x08, // platform
        b'M', b'i', b'k', b'r', b'o', b'T', b'i', b'k',
    ];

    #[test]
    fn announcement() {
        let f = feed(Mikrotik, 17, 50925, 5678, &[(0, ANNOUNCE)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Mikrotik, 17, 1, 2, &[(0, ANNOUNCE)])
                .result
                .master
                .is_none()
        );
        let mut v = ANNOUNCE.to_vec();
        v.push(0); // trailing byte
        assert!(
            feed(Mikrotik, 17, 5678, 5678, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = ANNOUNCE.to_vec();
        v[4] = 0x10; // unknown type
        assert!(
            feed(Mikrotik, 17, 5678, 5678, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let v = [&ANNOUNCE[..4], &ANNOUNCE[14..]].concat(); // no MAC address
        assert!(
            feed(Mikrotik, 17, 5678, 5678, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let f = feed(Mikrotik, 17, 5678, 5678, &[(0, &ANNOUNCE[..3])]);
        assert!(f.result.master.is_none());
        assert!(f.done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = feed(Mikrotik, 17, 5678, 5678, &[(0, &a)]);
        }
    }
}
