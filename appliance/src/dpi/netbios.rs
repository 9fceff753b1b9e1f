//! NetBIOS over TCP/IP (RFC 1001, RFC 1002): the name service (UDP 137), the datagram service
//! (UDP 138) and the session service's session request (TCP 139).
//!
//! Owns the first-level decoding of NetBIOS names (RFC 1001 §14.1: each byte as two letters
//! `A`-`P`). The flow's server name is the decoded 15-character name without its suffix byte,
//! trailing spaces trimmed, lower-cased: the question (or answer) of a name service packet, the
//! source name of a datagram. A datagram carrying SMB (`\xffSMB`, browser announcements) gets
//! the application `SMBv1`, as nDPI names it.
//!
//! It does *not* parse SMB, nor read name service answers' resource data.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "NetBIOS";

/// Ports of the three services (RFC 1002 §3).
const NAME_PORT: u16 = 137;
const DATAGRAM_PORT: u16 = 138;
const SESSION_PORT: u16 = 139;

/// An encoded first-level name: its length byte (32) and 32 letters.
const ENCODED: usize = 33;

/// Name service header length (RFC 1002 §4.2.1.1).
const NS_HEADER: usize = 12;

/// Datagram header length before the source name, for direct and broadcast datagrams (RFC
/// 1002 §4.4.1).
const DGM_HEADER: usize = 14;

/// The NetBIOS dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetBios;

/// Decodes the encoded name at the start of `buf` (length byte 32, then 32 letters `A`-`P`)
/// into its 16 bytes.
fn decode_name(buf: &[u8]) -> Option<[u8; 16]> {
    let b = buf.get(..ENCODED)?;
    if b[0] != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in b[1..].chunks_exact(2).enumerate() {
        let (hi, lo) = (pair[0].wrapping_sub(b'A'), pair[1].wrapping_sub(b'A'));
        if hi > 15 || lo > 15 {
            return None;
        }
        out[i] = (hi << 4) | lo;
    }
    Some(out)
}

/// The name as nfstream shows it: the first 15 bytes (the 16th is the suffix), printable ones
/// only, trailing spaces trimmed, lower-cased.
fn display(name: &[u8; 16]) -> String {
    let s: String = name[..15]
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect();
    s.trim_end().to_string()
}

/// A name service packet: opcode (RFC 1002 §4.2.1.1) query, registration, release, WACK,
/// refresh or multi-homed registration, a question or an answer, and a name right after the
/// header.
fn name_service(p: &[u8]) -> Option<[u8; 16]> {
    let h = p.get(..NS_HEADER)?;
    let opcode = (h[2] >> 3) & 0x0f;
    if !matches!(opcode, 0 | 5..=9 | 15) {
        return None;
    }
    let questions = u16::from_be_bytes([h[4], h[5]]);
    let answers = u16::from_be_bytes([h[6], h[7]]);
    if questions == 0 && answers == 0 {
        return None;
    }
    decode_name(&p[NS_HEADER..])
}

/// What a datagram service packet tells.
enum Datagram<'a> {
    /// Direct unique, direct group or broadcast (0x10-0x12): the source name and user data.
    Named([u8; 16], &'a [u8]),
    /// Error and query datagrams (0x13-0x16), which carry no source name.
    Unnamed,
}

/// A datagram service packet (RFC 1002 §4.4), `None` when it is not one.
fn datagram(p: &[u8]) -> Option<Datagram<'_>> {
    let kind = *p.first()?;
    match kind {
        0x10..=0x12 => {
            let src = decode_name(p.get(DGM_HEADER..)?)?;
            // The source name ends with its scope (labels, then 0); the destination follows.
            let mut at = DGM_HEADER + ENCODED;
            loop {
                let len = usize::from(*p.get(at)?);
                at += 1 + len;
                if len == 0 {
                    break;
                }
            }
            decode_name(p.get(at..)?)?;
            at += ENCODED;
            loop {
                let len = usize::from(*p.get(at)?);
                at += 1 + len;
                if len == 0 {
                    break;
                }
            }
            Some(Datagram::Named(src, p.get(at..).unwrap_or_default()))
        }
        0x13 if p.len() == 11 => Some(Datagram::Unnamed),
        0x14..=0x16 => decode_name(p.get(10..)?).map(|_| Datagram::Unnamed),
        _ => None,
    }
}

/// A session request (RFC 1002 §4.3.2): type 0x81, length, called and calling names.
fn session_request(p: &[u8]) -> Option<[u8; 16]> {
    let h = p.get(..4)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] != 0x81 || h[1] & 0xfe != 0 || len != p.len() - 4 {
        return None;
    }
    decode_name(&p[4..])
}

impl Dissector for NetBios {
    fn ports(&self) -> &'static [u16] {
        &[137, 138, 139]
    }

    fn name(&self) -> &'static str {
        "netbios"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let on = |port| pkt.src_port == port || pkt.dst_port == port;
        let p = pkt.payload;
        let (name, smb) = if pkt.protocol == 6 {
            if !on(SESSION_PORT) {
                return Verdict::Reject;
            }
            match session_request(p) {
                Some(n) => (Some(n), false),
                None => return Verdict::Reject,
            }
        } else if on(NAME_PORT)
            && let Some(n) = name_service(p)
        {
            (Some(n), false)
        } else if on(DATAGRAM_PORT) {
            match datagram(p) {
                Some(Datagram::Named(n, data)) => (Some(n), data.starts_with(b"\xffSMB")),
                Some(Datagram::Unnamed) => (None, false),
                None => return Verdict::Reject,
            }
        } else {
            return Verdict::Reject;
        };
        ctx.identify(MASTER);
        let r = ctx.result();
        if let Some(n) = name
            && r.requested_server_name.is_empty()
        {
            r.requested_server_name = display(&n);
        }
        if smb {
            r.app = Some("SMBv1");
        }
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::feed;

    /// The encoded form of `name` padded to 15 with spaces, then `suffix`.
    fn encode(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        let mut v = vec![32];
        for b in raw {
            v.push(b'A' + (b >> 4));
            v.push(b'A' + (b & 0x0f));
        }
        v
    }

    fn query(name: &str) -> Vec<u8> {
        let mut v = vec![
            0xf0, 0xf9, // transaction id
            0x01, 0x10, // flags: query, recursion desired, broadcast
            0x00, 0x01, // qdcount
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // an, ns, ar
        ];
        v.extend_from_slice(&encode(name, 0x00));
        v.push(0); // scope: none
        v.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]); // NB, IN
        v
    }

    fn datagram_packet(src: &str, data: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x11, // direct group
            0x0a, // flags
            0x80, 0x01, // datagram id
            192, 168, 1, 252, // source ip
            0x00, 0x8a, // source port
            0x00, 0x00, // length (not checked)
            0x00, 0x00, // packet offset
        ];
        v.extend_from_slice(&encode(src, 0x00));
        v.push(0);
        v.extend_from_slice(&encode("WORKGROUP", 0x1d));
        v.push(0);
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn name_query() {
        let f = feed(NetBios, 17, 137, 137, &[(0, &query("SC.ARRANCAR.ORG"))]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        assert_eq!(f.result.requested_server_name, "sc.arrancar.org");
        let f = feed(NetBios, 17, 59461, 137, &[(0, &query("WPAD"))]);
        assert_eq!(f.result.requested_server_name, "wpad");
    }

    #[test]
    fn datagram_with_smb() {
        let v = datagram_packet("ENDIAN-PC", b"\xffSMB\x25");
        let f = feed(NetBios, 17, 138, 138, &[(0, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert_eq!(f.result.requested_server_name, "endian-pc");
        assert_eq!(f.result.app, Some("SMBv1"));
        let v = datagram_packet("ENDIAN-PC", b"other");
        assert_eq!(feed(NetBios, 17, 138, 138, &[(0, &v)]).result.app, None);
        // Error datagram: no name.
        let err = [0x13, 0x02, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x8a, 0x82];
        assert_eq!(
            feed(NetBios, 17, 138, 138, &[(0, &err)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn session_request_over_tcp() {
        let mut body = encode("SERVER", 0x20);
        body.push(0);
        body.extend_from_slice(&encode("CLIENT", 0x00));
        body.push(0);
        let mut v = vec![0x81, 0x00];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(&body);
        let f = feed(NetBios, 6, 40000, 139, &[(0, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert_eq!(f.result.requested_server_name, "server");
        v[0] = 0x85; // keep-alive is no request
        assert!(
            feed(NetBios, 6, 40000, 139, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        assert!(
            feed(NetBios, 6, 40000, 445, &[(0, &v)])
                .result
                .master
                .is_none()
        );
    }

    #[test]
    fn rejects() {
        let q = query("WPAD");
        assert!(
            feed(NetBios, 17, 1000, 53, &[(0, &q)])
                .result
                .master
                .is_none()
        );
        let mut v = q.clone();
        v[12] = 31; // name length
        assert!(
            feed(NetBios, 17, 137, 137, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = q.clone();
        v[13] = b'Z'; // not a letter A-P
        assert!(
            feed(NetBios, 17, 137, 137, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = q.clone();
        v[2] = 0x21; // opcode 4
        assert!(
            feed(NetBios, 17, 137, 137, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let mut v = q.clone();
        v[5] = 0; // no question, no answer
        assert!(
            feed(NetBios, 17, 137, 137, &[(0, &v)])
                .result
                .master
                .is_none()
        );
        let d = datagram_packet("A", b"");
        assert!(
            feed(NetBios, 17, 138, 138, &[(0, &d[..40])])
                .result
                .master
                .is_none()
        );
        let mut d2 = d.clone();
        d2[0] = 0x20;
        let f = feed(NetBios, 17, 138, 138, &[(0, &d2)]);
        assert!(f.result.master.is_none());
        assert!(f.done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            for (proto, port) in [(17, 137), (17, 138), (6, 139)] {
                let _ = feed(NetBios, proto, port, port, &[(0, &a)]);
            }
            let mut d = datagram_packet("A", b"");
            d.truncate(14 + 33);
            d.extend_from_slice(&a);
            let _ = feed(NetBios, 17, 138, 138, &[(0, &d)]);
        }
    }
}
