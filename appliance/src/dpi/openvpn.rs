//! OpenVPN's control channel (OpenVPN's `ssl_pkt.h` / the protocol's documentation) over UDP,
//! and over TCP behind a 2-byte packet length: the first packet is a client hard reset (opcode
//! 7 or 10, or 1 in the old protocol; key id 0) with the client's 8-byte session id. The flow is
//! OpenVPN when the session id comes back: in a server packet (its ACK names it) or in the
//! client's next control packet.
//!
//! It does *not* read the TLS inside the control channel, tls-auth HMACs or data packets.
//!
//! State: the client's session id, 8 bytes and a flag (9 bytes, asserted in the tests),
//! created by a client reset only.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "OpenVPN";

/// Opcodes (high five bits of the first byte).
mod op {
    /// Client hard resets: old, v2, v3 (tls-crypt-v2).
    pub const CLIENT_RESETS: [u8; 3] = [1, 7, 10];
    /// Control packets a client sends after its reset: soft reset, control, ack, control
    /// with wrapped key.
    pub const CLIENT_CONTROL: [u8; 4] = [3, 4, 5, 11];
    /// Packets a server answers with: resets (old, v2), soft reset, control, ack.
    pub const SERVER_CONTROL: [u8; 5] = [2, 3, 4, 5, 8];
}

/// Opcode, key id, session id.
const HEADER: usize = 9;

/// Largest control packet looked at (a reset with tls-crypt-v2's wrapped key included).
const MAX_CONTROL: usize = 1500;

/// Bytes of a server packet searched for the client's session id (HMAC, packet id and ACK
/// array come before it).
const SEARCH: usize = 128;

/// Packets examined before giving up.
const MAX_PACKETS: u32 = 12;

/// Per-flow state: the client's session id.
#[derive(Debug, Default)]
struct State {
    session: Option<[u8; 8]>,
}

/// The OpenVPN dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenVpn;

/// The packet without TCP's length prefix, or `None` if the prefix disagrees.
fn unframe<'a>(pkt: &Packet<'a>) -> Option<&'a [u8]> {
    let p = pkt.payload;
    if pkt.protocol != 6 {
        return Some(p);
    }
    let len = usize::from(u16::from_be_bytes([*p.first()?, *p.get(1)?]));
    let body = p.get(2..)?;
    (len <= body.len()).then(|| &body[..len])
}

impl Dissector for OpenVpn {
    fn ports(&self) -> &'static [u16] {
        &[1194]
    }

    fn name(&self) -> &'static str {
        "openvpn"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(p) = unframe(pkt) else {
            return Verdict::Reject;
        };
        if p.len() < HEADER || p.len() > MAX_CONTROL || pkt.index >= MAX_PACKETS {
            return Verdict::Reject;
        }
        let (opcode, key_id) = (p[0] >> 3, p[0] & 0x07);
        let mut sid = [0u8; 8];
        sid.copy_from_slice(&p[1..HEADER]);
        if pkt.dir == 0 && op::CLIENT_RESETS.contains(&opcode) && key_id == 0 {
            let state = ctx.state::<State>();
            return match state.session {
                None => {
                    state.session = Some(sid);
                    Verdict::Pending
                }
                // A retransmitted reset (its packet id moved on): still waiting.
                Some(s) if s == sid => Verdict::Pending,
                Some(_) => Verdict::Reject,
            };
        }
        // Anything else only counts after a reset; a datagram flow's first packet is its
        // first payload, so no state need be looked up (and allocated) to reject it.
        let plausible = if pkt.dir == 0 {
            op::CLIENT_CONTROL.contains(&opcode)
        } else {
            op::SERVER_CONTROL.contains(&opcode)
        };
        if !plausible || (pkt.protocol == 17 && pkt.index == 0) {
            return Verdict::Reject;
        }
        let Some(s) = ctx.state::<State>().session else {
            return Verdict::Reject;
        };
        if pkt.dir == 0 {
            if s != sid {
                return Verdict::Reject;
            }
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        let window = &p[HEADER..p.len().min(SEARCH)];
        if window.windows(8).any(|w| w == s) {
            ctx.identify(MASTER);
            Verdict::Done
        } else {
            // tls-crypt hides the ACK: wait for the client's next control packet.
            Verdict::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    const CLIENT_SID: [u8; 8] = [0xb0, 0x2c, 0xcf, 0xf1, 0xb5, 0xf0, 0x17, 0x4f];
    const SERVER_SID: [u8; 8] = [0xf7, 0x7f, 0xc2, 0xef, 0xdb, 0xe2, 0x3f, 0x57];

    fn client_reset() -> Vec<u8> {
        let mut v = vec![0x38]; // opcode 7 (hard reset client v2), key id 0
        v.extend_from_slice(&CLIENT_SID); // session id
        v.extend_from_slice(&[0x11; 20]); // tls-auth HMAC
        v.extend_from_slice(&[0, 0, 0, 1, 0x57, 0xa1, 0xc1, 0x5f]); // packet id, time
        v.push(0); // ACK array length
        v.extend_from_slice(&[0, 0, 0, 0]); // message packet id
        v
    }

    fn server_reset() -> Vec<u8> {
        let mut v = vec![0x40]; // opcode 8 (hard reset server v2), key id 0
        v.extend_from_slice(&SERVER_SID);
        v.extend_from_slice(&[0x22; 20]); // HMAC
        v.extend_from_slice(&[0, 0, 0, 1, 0x57, 0xa1, 0xc1, 0x5f]); // packet id, time
        v.push(1); // ACK array length
        v.extend_from_slice(&[0, 0, 0, 0]); // acked packet id
        v.extend_from_slice(&CLIENT_SID); // remote session id
        v.extend_from_slice(&[0, 0, 0, 0]); // message packet id
        v
    }

    #[test]
    fn reset_and_answer() {
        let f = feed(
            OpenVpn,
            17,
            41507,
            13680,
            &[(0, &client_reset()), (1, &server_reset())],
        );
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn reset_then_client_control() {
        let mut ack = vec![0x28]; // opcode 5 (ack)
        ack.extend_from_slice(&CLIENT_SID);
        ack.extend_from_slice(&[0; 20]);
        let f = feed(
            OpenVpn,
            17,
            13680,
            13680,
            &[(0, &client_reset()), (0, &ack)],
        );
        assert_eq!(f.result.master, Some(MASTER));
        // tls-crypt: the server's answer hides the ACK; the client's next packet decides.
        let mut hidden = server_reset();
        let at = hidden.len() - 12;
        hidden[at..at + 8].fill(0x33);
        let f = feed(
            OpenVpn,
            17,
            13680,
            13680,
            &[(0, &client_reset()), (1, &hidden), (0, &ack)],
        );
        assert_eq!(f.result.master, Some(MASTER));
    }

    #[test]
    fn over_tcp() {
        let frame = |v: Vec<u8>| {
            let mut f = (v.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&v);
            f
        };
        let f = feed(
            OpenVpn,
            6,
            60140,
            443,
            &[(0, &frame(client_reset())), (1, &frame(server_reset()))],
        );
        assert_eq!(f.result.master, Some(MASTER));
        let mut bad = frame(client_reset());
        bad[1] += 1; // length past the segment
        assert!(feed(OpenVpn, 6, 60140, 443, &[(0, &bad)]).done);
    }

    #[test]
    fn rejects() {
        let mut v = client_reset();
        v[0] = 0x39; // key id 1
        assert!(feed(OpenVpn, 17, 1, 2, &[(0, &v)]).done);
        let mut v = client_reset();
        v[0] = 0x20; // control before any reset
        assert!(feed(OpenVpn, 17, 1, 2, &[(0, &v)]).done);
        assert!(feed(OpenVpn, 17, 1, 2, &[(0, &client_reset()[..8])]).done);
        // Another session id from the client.
        let mut other = client_reset();
        other[0] = 0x20;
        other[1] ^= 0xff;
        let f = feed(OpenVpn, 17, 1, 2, &[(0, &client_reset()), (0, &other)]);
        assert!(f.done);
        assert!(f.result.master.is_none());
        // A data packet from the server is no answer.
        let mut data = server_reset();
        data[0] = 0x48; // opcode 9
        assert!(feed(OpenVpn, 17, 1, 2, &[(0, &client_reset()), (1, &data)]).done);
        // Too late.
        let mut pkts: Vec<(u8, &[u8])> = Vec::new();
        let reset = client_reset();
        let hidden = vec![0x40; 40];
        pkts.push((0, &reset));
        for _ in 0..12 {
            pkts.push((1, &hidden));
        }
        let f = feed(OpenVpn, 17, 1, 2, &pkts);
        assert!(f.done);
        assert!(f.result.master.is_none());
    }

    #[test]
    fn state_is_small() {
        assert!(std::mem::size_of::<State>() <= 9);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
                        tcp in proptest::prelude::any::<bool>()) {
            let proto = if tcp { 6 } else { 17 };
            let _ = feed(OpenVpn, proto, 1, 2, &[(0, &client_reset()), (1, &a), (0, &a)]);
        }
    }
}
