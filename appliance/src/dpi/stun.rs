//! STUN and TURN (RFC 8489, RFC 8656; the classic RFC 3489 form without magic cookie; MS-TURN),
//! over UDP, and over TCP either bare or RFC 4571-framed. Also what rides the same flow once
//! STUN is seen: a DTLS handshake makes the flow `DTLS`, RTP makes it `SRTP` (nDPI's view:
//! media after ICE is encrypted), keeping the application found.
//!
//! The DTLS handshake itself is the TLS dissector's (`tls::Dtls`); this one only recognises a
//! DTLS record header after STUN.
//!
//! Owns: the message header and attribute walk, the REALM as the flow's server name (what
//! nfstream shows, e.g. `turner.facebook`), and the applications the attributes themselves
//! reveal: WhatsApp's private attributes (0x4000-0x4007), Microsoft's MS-ICE ones (Teams),
//! Zoom's 0x0101 in classic STUN, and a REALM naming Facebook or Google. It does *not* name
//! applications from server addresses (the naming table does), check MESSAGE-INTEGRITY or
//! FINGERPRINT, nor parse what DATA attributes carry.
//!
//! State: none (the flow's result and the packet's index are enough).

use super::rtp;
use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "STUN";

/// RFC 8489 §5: the fixed value in bytes 4..8 of every message.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// MS-TURN's MAGIC-COOKIE attribute: type 0x000f, length 4, value 0x72c64bc6.
const MS_TURN_COOKIE: [u8; 8] = [0x00, 0x0f, 0x00, 0x04, 0x72, 0xc6, 0x4b, 0xc6];

/// Message header length.
const HEADER: usize = 20;

/// Attribute types read (RFC 8489 §18.3, RFC 8656 §18).
mod attr {
    /// REALM: the server's authentication realm, often its domain.
    pub const REALM: u16 = 0x0014;
    /// Zoom's clients send it in classic (RFC 3489) binding requests.
    pub const ZOOM: u16 = 0x0101;
    /// WhatsApp's private attributes.
    pub const WHATSAPP: std::ops::RangeInclusive<u16> = 0x4000..=0x4007;
    /// MS-ICE2 (`[MS-ICE2]` §2.2.2): candidate identifier, service quality, implementation
    /// version; Teams (and Skype for Business) send them.
    pub const MS_ICE: [u16; 3] = [0x8054, 0x8055, 0x8070];
}

/// Classic (RFC 3489) and MS-TURN message types, which carry no magic cookie: binding,
/// shared secret, allocate, send, data, refresh in their request / response / error forms.
const CLASSIC_TYPES: [u16; 15] = [
    0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112, 0x0003, 0x0103, 0x0113, 0x0004, 0x0104, 0x0114,
    0x0115, 0x0016, 0x0017,
];

/// Packets of a flow on a TURN port waited through for Microsoft's relay session message.
const MAX_WAIT: u32 = 4;

/// The STUN / TURN dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stun;

/// One parsed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Message<'a> {
    /// Message type (class and method).
    kind: u16,
    /// True for RFC 5389+ messages (magic cookie present).
    cookie: bool,
    /// The attributes, as declared by the header's length.
    attrs: &'a [u8],
}

/// Parses a message at the start of `buf`. With `exact` (a datagram), the header's length must
/// account for every byte; otherwise (a stream) more may follow.
fn parse(buf: &[u8], exact: bool) -> Option<Message<'_>> {
    let header = buf.get(..HEADER)?;
    let kind = u16::from_be_bytes([header[0], header[1]]);
    // RFC 8489 §6: "The most significant 2 bits of every STUN message MUST be zeroes."
    if kind & 0xc000 != 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let end = HEADER + len;
    if end > buf.len() || (exact && end != buf.len()) {
        return None;
    }
    let cookie = header[4..8] == MAGIC_COOKIE;
    if !cookie && (len == 0 || !CLASSIC_TYPES.contains(&kind)) {
        return None;
    }
    let attrs = &buf[HEADER..end];
    // MS-TURN (`[MS-TURN]` §2.2.2.8) opens with its own MAGIC-COOKIE attribute; its later
    // attributes do not always walk (nDPI takes it as STUN too).
    if attrs.starts_with(&MS_TURN_COOKIE) {
        return Some(Message {
            kind,
            cookie,
            attrs,
        });
    }
    // Every attribute must fit; the last may lack its padding (WhatsApp).
    let mut rest = attrs;
    while !rest.is_empty() {
        let (_, _, next) = split_attr(rest)?;
        rest = next;
    }
    Some(Message {
        kind,
        cookie,
        attrs,
    })
}

/// Splits the first attribute off `buf`: (type, value, what follows its padding).
fn split_attr(buf: &[u8]) -> Option<(u16, &[u8], &[u8])> {
    let head = buf.get(..4)?;
    let kind = u16::from_be_bytes([head[0], head[1]]);
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let value = buf.get(4..4 + len)?;
    let padded = (4 + len + 3) & !3;
    Some((kind, value, buf.get(padded..).unwrap_or_default()))
}

/// The attributes of a parsed message.
fn attributes<'a>(m: &Message<'a>) -> impl Iterator<Item = (u16, &'a [u8])> {
    let mut rest = m.attrs;
    std::iter::from_fn(move || {
        let (kind, value, next) = split_attr(rest)?;
        rest = next;
        Some((kind, value))
    })
}

/// A REALM worth showing: printable ASCII without spaces (MS-TURN's realm is binary).
fn printable(v: &[u8]) -> Option<&str> {
    if v.is_empty() || !v.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    std::str::from_utf8(v).ok()
}

/// The message in a payload: bare, or behind an RFC 4571 length on TCP.
fn message<'a>(pkt: &Packet<'a>) -> Option<Message<'a>> {
    let p = pkt.payload;
    if pkt.protocol != 6 {
        return parse(p, true);
    }
    if let Some(m) = parse(p, false) {
        return Some(m);
    }
    let framed = usize::from(u16::from_be_bytes([*p.first()?, *p.get(1)?]));
    let body = p.get(2..)?;
    if framed > body.len() {
        return None;
    }
    parse(&body[..framed], true)
}

/// Microsoft's TURN relay on 3478 (seen in `teams.pcap`, labelled STUN by nDPI): a 37-byte
/// session message, type 3 followed by a GUID in text (`8-4-4-4-12` hex digits).
fn is_ms_relay_session(p: &[u8]) -> bool {
    if p.len() != 37 || p[0] != 0x03 {
        return false;
    }
    p[1..].iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

/// True when `p` opens with a DTLS record header (RFC 6347 §4.1, RFC 9147): a content type
/// 20-25, a DTLS version on the wire (1.0 `fe ff`, 1.2 `fe fd`, 1.3 `fe fc`) and a non-empty
/// fragment within the datagram. The handshake itself is the TLS dissector's business.
fn is_dtls_record(p: &[u8]) -> bool {
    let Some(h) = p.get(..13) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
    (20..=25).contains(&h[0])
        && h[1] == 0xfe
        && matches!(h[2], 0xff | 0xfd | 0xfc)
        && len != 0
        && 13 + len <= p.len()
}

/// Reads the attributes of a message into the flow's result.
fn read_attributes(m: &Message<'_>, ctx: &mut Context<'_>) {
    let r = ctx.result();
    for (kind, value) in attributes(m) {
        let app = match kind {
            attr::REALM => {
                let Some(realm) = printable(value) else {
                    continue;
                };
                if r.requested_server_name.is_empty() {
                    r.requested_server_name = realm.to_ascii_lowercase();
                }
                if realm.contains("facebook") {
                    Some("FacebookVoip")
                } else if realm.contains("google") {
                    Some("GoogleCall")
                } else {
                    None
                }
            }
            attr::ZOOM if !m.cookie => Some("Zoom"),
            k if attr::WHATSAPP.contains(&k) => Some("WhatsAppCall"),
            k if attr::MS_ICE.contains(&k) => Some("TeamsCall"),
            _ => None,
        };
        if let Some(app) = app
            && r.app.is_none()
        {
            r.app = Some(app);
        }
    }
}

impl Dissector for Stun {
    fn ports(&self) -> &'static [u16] {
        &[3478, 19302]
    }

    fn name(&self) -> &'static str {
        "stun"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let first = p.first().copied().unwrap_or(0xff);
        // Fast reject: a STUN type is below 0x0200 (and TCP may put a length first).
        if !ctx.is_identified() && first > 1 && pkt.protocol == 17 {
            let turn_port = |port: u16| (3478..=3481).contains(&port);
            if turn_port(pkt.src_port) || turn_port(pkt.dst_port) {
                if is_ms_relay_session(p) {
                    ctx.identify(MASTER);
                    return Verdict::Done;
                }
                if pkt.index < MAX_WAIT {
                    return Verdict::Pending;
                }
            }
            return Verdict::Reject;
        }
        if let Some(m) = message(pkt) {
            ctx.identify(MASTER);
            read_attributes(&m, ctx);
            // Keep reading: the REALM often comes in the server's first answer, and DTLS or
            // media may follow.
            return Verdict::Pending;
        }
        if !ctx.is_identified() {
            return Verdict::Reject;
        }
        // The first payload that is not STUN decides what the flow carries next.
        if pkt.protocol == 17 {
            if is_dtls_record(p) {
                ctx.identify("DTLS");
            } else if rtp::header(p).is_some() {
                ctx.identify("SRTP");
            }
        }
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::lan_voip_captures::{Fed, feed};

    #[rustfmt::skip]
    const BINDING: &[u8] = &[
        0x00, 0x01,             // binding request
        0x00, 0x08,             // length 8
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction id
        0x80, 0x28, 0x00, 0x04, // FINGERPRINT, length 4
        0xde, 0xad, 0xbe, 0xef, // crc
    ];

    #[rustfmt::skip]
    const ALLOCATE_ERROR: &[u8] = &[
        0x01, 0x13,             // allocate error response
        0x00, 0x14,             // length 20
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction id
        0x00, 0x14, 0x00, 0x0f, // REALM, length 15
        b't', b'u', b'r', b'n', b'e', b'r', b'.', b'f', b'a', b'c', b'e', b'b', b'o', b'o', b'k',
        0x00,                   // padding
    ];

    #[rustfmt::skip]
    const CLASSIC_ZOOM: &[u8] = &[
        0x00, 0x01,             // binding request
        0x00, 0x08,             // length 8
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // transaction id (RFC 3489)
        0x01, 0x01, 0x00, 0x04, // Zoom's attribute 0x0101, length 4
        b'1', b'2', b'3', b'4',
    ];

    fn udp(pkts: &[(u8, &[u8])]) -> Fed {
        feed(Stun, 17, 40000, 3478, pkts)
    }

    fn with_attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = BINDING[..20].to_vec();
        v.extend_from_slice(&kind.to_be_bytes());
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        let len = (v.len() - 20) as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v
    }

    #[test]
    fn binding_then_realm() {
        let f = udp(&[(0, BINDING), (1, ALLOCATE_ERROR)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(!f.done, "still reading");
        assert_eq!(f.result.requested_server_name, "turner.facebook");
        assert_eq!(f.result.app, Some("FacebookVoip"));
    }

    #[test]
    fn applications_from_attributes() {
        let wa = with_attr(0x4000, &[5, 3, 8, 0x26]);
        assert_eq!(udp(&[(0, &wa)]).result.app, Some("WhatsAppCall"));
        let teams = with_attr(0x8070, &[0, 0, 0, 7]);
        assert_eq!(udp(&[(0, &teams)]).result.app, Some("TeamsCall"));
        let google = with_attr(attr::REALM, b"turn.l.google.com");
        let f = udp(&[(0, &google)]);
        assert_eq!(f.result.app, Some("GoogleCall"));
        assert_eq!(f.result.requested_server_name, "turn.l.google.com");
        let f = udp(&[(0, CLASSIC_ZOOM)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert_eq!(f.result.app, Some("Zoom"));
        // 0x0101 with a magic cookie is not Zoom's.
        let other = with_attr(0x0101, b"1234");
        assert_eq!(udp(&[(0, &other)]).result.app, None);
        // A binary REALM (MS-TURN) is no name.
        let binary = with_attr(attr::REALM, &[0x4e, 0x9f, 0x00, 0x7a]);
        assert_eq!(udp(&[(0, &binary)]).result.requested_server_name, "");
    }

    #[test]
    fn ms_turn_without_walk() {
        #[rustfmt::skip]
        let v = [
            0x00, 0x03,             // allocate request
            0x00, 0x10,             // length 16
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // transaction id
            0x00, 0x0f, 0x00, 0x04, // MAGIC-COOKIE
            0x72, 0xc6, 0x4b, 0xc6,
            0x00, 0x38, 0x02, 0x00, // an attribute longer than the message
            0x00, 0x24, 0x90, 0xa0,
        ];
        assert_eq!(udp(&[(0, &v)]).result.master, Some(MASTER));
        let mut other = v;
        other[23] = 0xc7; // not the cookie: the walk fails
        assert_eq!(udp(&[(0, &other)]).result.master, None);
    }

    #[test]
    fn unpadded_last_attribute() {
        let mut v = with_attr(0x4000, &[1, 2, 3]);
        v.pop();
        v[3] -= 1;
        assert_eq!(udp(&[(0, &v)]).result.master, Some(MASTER));
    }

    #[test]
    fn dtls_record_header() {
        #[rustfmt::skip]
        let ok = [
            0x17,                   // application data
            0xfe, 0xfd,             // DTLS 1.2
            0x00, 0x01,             // epoch
            0, 0, 0, 0, 0, 7,       // sequence number
            0x00, 0x01,             // length
            0xaa,
        ];
        assert!(is_dtls_record(&ok));
        for (at, value) in [(0, 0x26), (1, 0x03), (2, 0x01), (12, 0x00), (12, 0x02)] {
            let mut v = ok;
            v[at] = value;
            assert!(!is_dtls_record(&v), "byte {at} = {value}");
        }
        assert!(!is_dtls_record(&ok[..12]));
    }

    #[test]
    fn dtls_or_media_after_stun() {
        let dtls = [
            0x16, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,    // record header, length 1
            0x01, // handshake type
        ];
        let f = udp(&[(0, BINDING), (0, &dtls)]);
        assert_eq!(f.result.master, Some("DTLS"));
        assert!(f.done);
        let rtp = [0x80, 0x78, 0, 1, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0x55];
        let f = udp(&[(0, BINDING), (1, &rtp)]);
        assert_eq!(f.result.master, Some("SRTP"));
        // RTCP (or anything else) ends dissection, still STUN.
        let rtcp = [0x80, 0xc9, 0, 1, 0, 0, 0, 1];
        let f = udp(&[(0, BINDING), (1, &rtcp), (1, &rtp)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn tcp_bare_and_framed() {
        let f = feed(Stun, 6, 40000, 3478, &[(0, BINDING)]);
        assert_eq!(f.result.master, Some(MASTER));
        let mut framed = (BINDING.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(BINDING);
        let f = feed(Stun, 6, 40000, 42000, &[(0, &framed)]);
        assert_eq!(f.result.master, Some(MASTER));
        let mut short = framed.clone();
        short[1] += 4; // frame longer than the segment
        assert_eq!(feed(Stun, 6, 1, 2, &[(0, &short)]).result.master, None);
    }

    #[test]
    fn ms_relay_session() {
        let mut v = vec![0x03];
        v.extend_from_slice(b"3bff6a15-6841-4607-8c27-9ecebeed93b2");
        let f = udp(&[(0, &[0x06; 900]), (1, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        v[9] = b'x';
        assert_eq!(udp(&[(0, &[0x06; 900]), (1, &v)]).result.master, None);
        // Off the TURN ports the first byte rejects at once.
        assert!(feed(Stun, 17, 1000, 2000, &[(0, &[0x06; 40])]).done);
        // On them, a few packets are waited through.
        let waits = udp(&[(0, &[6; 40]), (0, &[6; 40]), (0, &[6; 40]), (0, &[6; 40])]);
        assert!(!waits.done);
        let five: Vec<(u8, &[u8])> = (0..5).map(|_| (0, &[6u8; 40][..])).collect();
        assert!(udp(&five).done);
    }

    #[test]
    fn rejects() {
        // Top bits set.
        let mut v = BINDING.to_vec();
        v[0] = 0x40;
        assert_eq!(feed(Stun, 17, 1, 2, &[(0, &v)]).result.master, None);
        // Length disagrees with the datagram.
        let mut v = BINDING.to_vec();
        v[3] = 12;
        assert_eq!(udp(&[(0, &v)]).result.master, None);
        // Attribute overruns the message.
        let mut v = BINDING.to_vec();
        v[23] = 8;
        assert_eq!(udp(&[(0, &v)]).result.master, None);
        // Trailing bytes too short for an attribute header.
        let mut v = BINDING.to_vec();
        v.extend_from_slice(&[0, 0]);
        v[3] = 10;
        assert_eq!(udp(&[(0, &v)]).result.master, None);
        // No cookie and not a classic type.
        let mut v = CLASSIC_ZOOM.to_vec();
        v[1] = 0x09;
        assert_eq!(udp(&[(0, &v)]).result.master, None);
        // No cookie and no attributes.
        let v = &CLASSIC_ZOOM[..20];
        let mut v = v.to_vec();
        v[3] = 0;
        assert_eq!(udp(&[(0, &v)]).result.master, None);
        // Too short.
        assert_eq!(udp(&[(0, &BINDING[..10])]).result.master, None);
        assert!(feed(Stun, 17, 1, 2, &[(0, &BINDING[..10])]).done);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                        b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                        tcp in proptest::prelude::any::<bool>()) {
            let proto = if tcp { 6 } else { 17 };
            let _ = feed(Stun, proto, 3478, 3478, &[(0, &a), (1, &b)]);
            let mut s = BINDING.to_vec();
            s.extend_from_slice(&a);
            let _ = feed(Stun, proto, 3478, 3478, &[(0, BINDING), (1, &s), (0, &b)]);
        }
    }
}
