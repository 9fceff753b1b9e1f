//! WebSocket frames without their handshake (RFC 6455 §5.2): a flow caught after its HTTP
//! `Upgrade` (which [`super::Http`] names `WebSocket` itself) is claimed when its first two
//! payloads, one from each side, are each exactly one well-formed frame, the client's masked
//! and the server's not (§5.1: "a client MUST mask all frames that it sends to the server",
//! "a server MUST NOT mask any frames"). nfstream's `websocket.pcap` is such a flow.

use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// A frame's shape, when `p` is exactly one frame: FIN set, RSV bits clear (no extension
/// negotiated, §5.2), a defined opcode (text, binary, close, ping, pong; a continuation needs
/// an earlier fragment), a payload length that accounts for every byte. Returns whether it is
/// masked.
fn single_frame(p: &[u8]) -> Option<bool> {
    let (&b0, rest) = p.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    if b0 & 0xf0 != 0x80 || !matches!(b0 & 0x0f, 0x1 | 0x2 | 0x8 | 0x9 | 0xa) {
        return None;
    }
    let masked = b1 & 0x80 != 0;
    let (len, rest) = match b1 & 0x7f {
        126 => {
            let (l, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*l)), rest)
        }
        127 => {
            let (l, rest) = rest.split_first_chunk::<8>()?;
            (usize::try_from(u64::from_be_bytes(*l)).ok()?, rest)
        }
        n => (usize::from(n), rest),
    };
    // §5.5: control frames carry at most 125 bytes.
    if b0 & 0x08 != 0 && len > 125 {
        return None;
    }
    let mask_len = if masked { 4 } else { 0 };
    (rest.len() == len.checked_add(mask_len)?).then_some(masked)
}

/// Per-flow state of [`WebSocket`]: the first frame's direction and mask bit. Bound: 2 bytes.
#[derive(Debug, Default)]
pub struct WebSocketFlow {
    first: Option<(u8, bool)>,
}

/// WebSocket (`WebSocket`) from its frames. State: [`WebSocketFlow`], only for flows whose
/// first payload is one frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebSocket;

impl Dissector for WebSocket {
    fn name(&self) -> &'static str {
        "websocket"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(masked) = single_frame(pkt.payload) else {
            return Verdict::Reject;
        };
        let st = ctx.state::<WebSocketFlow>();
        match st.first {
            None => {
                st.first = Some((pkt.dir, masked));
                Verdict::Pending
            }
            Some((dir, _)) if dir == pkt.dir => Verdict::Pending,
            Some((_, first_masked)) if first_masked != masked => {
                ctx.identify("WebSocket");
                Verdict::Done
            }
            Some(_) => Verdict::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::dns::captures::feed;

    /// A frame: FIN + `opcode`, masked with a zero key when `masked`, `len` payload bytes.
    fn frame(opcode: u8, masked: bool, len: usize) -> Vec<u8> {
        let mut f = vec![0x80 | opcode]; // FIN, opcode
        let mask_bit = if masked { 0x80 } else { 0 };
        match len {
            0..=125 => f.push(mask_bit | len as u8), // 7-bit length
            126..=0xffff => {
                f.push(mask_bit | 126);
                f.extend((len as u16).to_be_bytes()); // 16-bit length
            }
            _ => {
                f.push(mask_bit | 127);
                f.extend((len as u64).to_be_bytes()); // 64-bit length
            }
        }
        if masked {
            f.extend([0; 4]); // masking key
        }
        f.extend(std::iter::repeat_n(b'x', len));
        f
    }

    fn ws(packets: &[(u8, &[u8])]) -> Box<crate::dpi::FlowDpi> {
        feed(Box::new(WebSocket), (6, 12345, 50999), packets)
    }

    #[test]
    fn server_then_client_frames() {
        let s = frame(0x1, false, 23);
        let c = frame(0x1, true, 12);
        let f = ws(&[(0, &s)]);
        assert!(!f.is_done());
        let f = ws(&[(0, &s), (0, &frame(0x2, false, 300)), (1, &c)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("WebSocket"));
        let f = ws(&[(0, &frame(0x2, true, 70000)), (1, &frame(0x9, false, 0))]);
        assert_eq!(f.result.master, Some("WebSocket"));
    }

    #[test]
    fn rejects() {
        let good = frame(0x1, false, 10);
        let mut rsv = good.clone();
        rsv[0] |= 0x40;
        let mut no_fin = good.clone();
        no_fin[0] &= 0x7f;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("one byte", vec![0x81]),
            ("rsv bit", rsv),
            ("not final", no_fin),
            ("continuation", frame(0x0, false, 10)),
            ("reserved opcode", frame(0x3, false, 10)),
            ("long control frame", frame(0x8, false, 126)),
            ("bytes left over", [good.clone(), vec![0]].concat()),
            ("cut", good[..8].to_vec()),
            ("cut 16-bit length", vec![0x81, 126, 0]),
        ];
        for (why, p) in cases {
            let f = ws(&[(0, &p)]);
            assert_eq!(f.result.master, None, "{why}");
            assert!(f.is_done(), "{why}");
        }
        // Both directions unmasked: not a client and a server.
        let f = ws(&[(0, &good), (1, &good)]);
        assert_eq!(f.result.master, None);
        assert!(f.is_done());
    }
}
