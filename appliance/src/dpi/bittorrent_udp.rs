//! BitTorrent over UDP: the DHT (BEP 5, bencoded KRPC messages), Local Service Discovery
//! (BEP 14, `BT-SEARCH` announcements on 6771), uTP (BEP 29: a SYN answered by a STATE that
//! acknowledges it on the same connection id, or a BitTorrent handshake carried in a DATA
//! packet) and the UDP tracker protocol (BEP 15, the connect request's protocol id).
//!
//! The TCP peer wire protocol is another dissector's. It does *not* decode bencoding beyond
//! the opening keys, nor follow uTP streams.
//!
//! State: the uTP SYN's connection id and sequence number, 4 bytes and a flag (6 bytes,
//! asserted in the tests), created by a uTP SYN only.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "BitTorrent";

/// KRPC messages open with their first key: `a` (query arguments), `r` (response), `e`
/// (error), or `ip` (BEP 42's echoed address, before `r`).
const DHT_PREFIXES: [&[u8]; 4] = [b"d1:ad2:id20:", b"d1:rd2:id20:", b"d1:eli", b"d2:ip6:"];

/// What a BEP 42 response has after its `ip` member.
const DHT_RESPONSE: &[u8] = b"1:rd2:id20:";

/// The LSD announcement's request line.
const LSD: &[u8] = b"BT-SEARCH * HTTP/1.1\r\n";

/// The peer wire handshake's opening: length 19, then the protocol name.
const HANDSHAKE: &[u8] = b"\x13BitTorrent protocol";

/// BEP 15's connect request: the protocol id `0x41727101980`, action 0.
const TRACKER_CONNECT: [u8; 12] = [0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0];

/// uTP header length (without extensions).
const UTP_HEADER: usize = 20;

/// uTP's first byte for the packet types read (type in the high nibble, version 1).
const ST_DATA: u8 = 0x01;
const ST_STATE: u8 = 0x21;
const ST_SYN: u8 = 0x41;

/// Packets examined before giving up on a uTP handshake.
const MAX_PACKETS: u32 = 6;

/// Per-flow state: the SYN's connection id and sequence number.
#[derive(Debug, Default)]
struct State {
    syn: Option<(u16, u16)>,
}

/// The BitTorrent-over-UDP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct BitTorrentUdp;

/// True when `p` is a DHT message.
fn is_dht(p: &[u8]) -> bool {
    DHT_PREFIXES.iter().any(|d| p.starts_with(d))
        && (!p.starts_with(b"d2:ip6:")
            || p.windows(DHT_RESPONSE.len())
                .take(48)
                .any(|w| w == DHT_RESPONSE))
}

/// The uTP header fields read: (first byte, connection id, sequence number, ack number), and
/// the payload after the extension chain. `None` when the version or an extension is wrong.
fn utp(p: &[u8]) -> Option<(u8, u16, u16, u16, &[u8])> {
    let h = p.get(..UTP_HEADER)?;
    if h[0] & 0x0f != 1 || h[0] >> 4 > 4 {
        return None;
    }
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    // Extensions: (next type, length, data) while the type is not 0.
    let mut next = h[1];
    let mut rest = &p[UTP_HEADER..];
    while next != 0 {
        if next > 4 {
            return None;
        }
        let (&n, tail) = rest.split_first()?;
        let (&len, tail) = tail.split_first()?;
        rest = tail.get(usize::from(len)..)?;
        next = n;
    }
    Some((h[0], be(2), be(16), be(18), rest))
}

impl Dissector for BitTorrentUdp {
    fn ports(&self) -> &'static [u16] {
        &[6881]
    }

    fn name(&self) -> &'static str {
        "bittorrent-udp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let first = p.first().copied().unwrap_or(0);
        let clear = match first {
            b'd' => is_dht(p),
            b'B' => p.starts_with(LSD),
            0 => p.len() == 16 && p.starts_with(&TRACKER_CONNECT),
            _ => false,
        };
        if clear {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        if pkt.index >= MAX_PACKETS {
            return Verdict::Reject;
        }
        let Some((kind, conn, seq, ack, payload)) = utp(p) else {
            return Verdict::Reject;
        };
        match (kind, pkt.dir) {
            (ST_DATA, _) if payload.starts_with(HANDSHAKE) => {
                ctx.identify(MASTER);
                Verdict::Done
            }
            (ST_SYN, 0) => {
                ctx.state::<State>().syn = Some((conn, seq));
                Verdict::Pending
            }
            (ST_STATE, 1) if pkt.index > 0 => match ctx.state::<State>().syn {
                Some((c, s)) if c == conn && s == ack => {
                    ctx.identify(MASTER);
                    Verdict::Done
                }
                _ => Verdict::Reject,
            },
            _ => Verdict::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    fn utp_packet(first: u8, conn: u16, seq: u16, ack: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![first, 0x00]; // type/version, no extension
        v.extend_from_slice(&conn.to_be_bytes()); // connection id
        v.extend_from_slice(&[0x10, 0xee, 0xb2, 0xf0]); // timestamp
        v.extend_from_slice(&[0; 4]); // timestamp difference
        v.extend_from_slice(&[0, 0x10, 0, 0]); // window size
        v.extend_from_slice(&seq.to_be_bytes()); // sequence number
        v.extend_from_slice(&ack.to_be_bytes()); // ack number
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn clear_messages() {
        for m in [
            &b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"[..],
            b"d2:ip6:\x01\x02\x03\x04\x05\x061:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re",
            b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n\r\n",
            &[
                0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4,
            ],
        ] {
            let f = feed(BitTorrentUdp, 17, 6771, 6771, &[(0, m)]);
            assert_eq!(f.result.master, Some(MASTER), "{m:?}");
            assert!(f.done);
        }
    }

    #[test]
    fn utp_handshake() {
        let syn = utp_packet(ST_SYN, 0x5302, 0xe7f5, 0, b"");
        let state = utp_packet(ST_STATE, 0x5302, 0x49c7, 0xe7f5, b"");
        let f = feed(BitTorrentUdp, 17, 64969, 40959, &[(0, &syn), (1, &state)]);
        assert_eq!(f.result.master, Some(MASTER));
        let wrong = utp_packet(ST_STATE, 0x5303, 0x49c7, 0xe7f5, b"");
        let f = feed(BitTorrentUdp, 17, 64969, 40959, &[(0, &syn), (1, &wrong)]);
        assert!(f.result.master.is_none());
        assert!(f.done);
        let mut with_ext = utp_packet(ST_DATA, 1, 2, 3, b"");
        with_ext[1] = 2; // extension 2 follows
        with_ext.extend_from_slice(&[0, 4, 0, 0, 0, 0]); // last extension, 4 bytes
        with_ext.extend_from_slice(HANDSHAKE);
        let f = feed(BitTorrentUdp, 17, 1, 2, &[(0, &with_ext)]);
        assert_eq!(f.result.master, Some(MASTER));
    }

    #[test]
    fn rejects() {
        for m in [
            &b"d1:xd2:id20:"[..],
            b"d2:ip6:\x01\x02\x03\x04\x05\x06xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"BT-SEARCH * HTTP/1.0\r\n",
            &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 1, 1, 2, 3, 4],
            &utp_packet(0x42, 1, 1, 1, b""), // version 2
            &utp_packet(0x51, 1, 1, 1, b""), // type 5
            &utp_packet(ST_DATA, 1, 1, 1, b"data"),
            &utp_packet(ST_STATE, 1, 1, 1, b""), // STATE without SYN
            &[0x41; 19],
        ] {
            let f = feed(BitTorrentUdp, 17, 1, 2, &[(0, m)]);
            assert!(f.result.master.is_none(), "{m:?}");
            assert!(f.done, "{m:?}");
        }
        let mut bad_ext = utp_packet(ST_DATA, 1, 2, 3, b"");
        bad_ext[1] = 9;
        bad_ext.extend_from_slice(&[0, 0]);
        assert!(feed(BitTorrentUdp, 17, 1, 2, &[(0, &bad_ext)]).done);
    }

    #[test]
    fn state_is_small() {
        assert!(std::mem::size_of::<State>() <= 6);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let syn = utp_packet(ST_SYN, 1, 1, 0, b"");
            let _ = feed(BitTorrentUdp, 17, 1, 2, &[(0, &syn), (1, &a)]);
            let mut e = utp_packet(ST_DATA, 1, 1, 0, b"");
            e[1] = 1;
            e.extend_from_slice(&a);
            let _ = feed(BitTorrentUdp, 17, 1, 2, &[(0, &e)]);
        }
    }
}
