//! BitTorrent peer wire protocol over TCP (BEP 3, "peer protocol"): nDPI's `BitTorrent`.
//!
//! Owns recognising the handshake that opens every peer connection: the byte 19 followed by
//! `BitTorrent protocol`, 8 reserved bytes, the 20-byte info hash and the 20-byte peer id. It
//! records the info hash (`bittorrent_info_hash`, 40 lower-case hex digits, as ndpiReader's
//! `BT Hash`) and, for peer ids in the Azureus style `-XXnnnn-` (BEP 20), the client and
//! version (`bittorrent_client`, e.g. `UM1860`).
//!
//! It does *not* read the messages after the handshake, the DHT or uTP (UDP), trackers (HTTP or
//! UDP), or Message Stream Encryption (whose handshake is random bytes by design). A flow whose
//! first payload is not a handshake is rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "BitTorrent";

/// `pstrlen` and `pstr` of the handshake (BEP 3).
const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

mod field {
    use crate::packet::Field;
    /// The info hash, after `pstr` and the 8 reserved bytes.
    pub const INFO_HASH: Field = 28..48;
    /// The peer id.
    pub const PEER_ID: Field = 48..68;
}

/// Recognises the BitTorrent handshake.
#[derive(Debug, Default)]
pub struct BitTorrent;

impl Dissector for BitTorrent {
    fn ports(&self) -> &'static [u16] {
        &[6881]
    }

    fn name(&self) -> &'static str {
        "bittorrent"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if !p.starts_with(PROTOCOL) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        let r = ctx.result();
        if let Some(hash) = p.get(field::INFO_HASH) {
            let mut hex = String::with_capacity(40);
            for b in hash {
                hex.push(char::from(HEX[usize::from(b >> 4)]));
                hex.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            r.set_meta("bittorrent_info_hash", hex);
        }
        if let Some(client) = p.get(field::PEER_ID).and_then(azureus_client) {
            r.set_meta("bittorrent_client", client);
        }
        Verdict::Done
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The `XXnnnn` of an Azureus-style peer id `-XXnnnn-...` (BEP 20).
fn azureus_client(peer_id: &[u8]) -> Option<&str> {
    let id = peer_id.get(..8)?;
    if id[0] != b'-' || id[7] != b'-' || !id[1..7].iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    std::str::from_utf8(&id[1..7]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// The handshake of `bittorrent.pcap`'s first flow.
    #[rustfmt::skip]
    const HANDSHAKE: &[u8] = &[
        0x13,                               // pstrlen
        b'B', b'i', b't', b'T', b'o', b'r', b'r', b'e', b'n', b't', b' ',
        b'p', b'r', b'o', b't', b'o', b'c', b'o', b'l', // pstr
        0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, // reserved (extension bits)
        0xdc, 0xfc, 0xdc, 0xcf, 0xb9, 0xe6, 0x70, 0xcc, 0xc3, 0xdd,
        0x40, 0xc7, 0x8c, 0x16, 0x1f, 0x2b, 0xea, 0x24, 0x31, 0x26, // info_hash
        b'-', b'U', b'M', b'1', b'8', b'6', b'0', b'-',
        0x41, 0x8e, 0x18, 0x1a, 0xc9, 0xba, 0x17, 0x98, 0x71, 0x52, 0x66, 0x3e, // peer_id
    ];

    #[test]
    fn handshake() {
        let (verdict, r) = dissect_one(&BitTorrent, &packet(6, 0, 52888, 38305, HANDSHAKE));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("BitTorrent")));
        assert_eq!(
            r.meta("bittorrent_info_hash"),
            Some(&"dcfcdccfb9e670ccc3dd40c78c161f2bea243126".into())
        );
        assert_eq!(r.meta("bittorrent_client"), Some(&"UM1860".into()));
    }

    #[test]
    fn short_handshake_and_other_peer_ids() {
        let (verdict, r) = dissect_one(&BitTorrent, &packet(6, 1, 1, 2, &HANDSHAKE[..30]));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("BitTorrent")));
        assert!(r.meta.is_empty());
        let mut p = HANDSHAKE.to_vec();
        p[48] = b'M'; // Mainline style "M4-3-6--"
        let (_, r) = dissect_one(&BitTorrent, &packet(6, 0, 1, 2, &p));
        assert_eq!(r.meta("bittorrent_client"), None);
    }

    #[test]
    fn rejects() {
        for p in [
            &HANDSHAKE[..19],
            &HANDSHAKE[1..],
            b"GET /announce?info_hash=x HTTP/1.1\r\n",
        ] {
            let (verdict, r) = dissect_one(&BitTorrent, &packet(6, 0, 1, 2, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let mut p = PROTOCOL.to_vec();
            p.extend_from_slice(&data);
            let _ = dissect_one(&BitTorrent, &packet(6, 0, 1, 2, &p));
        }
    }
}
