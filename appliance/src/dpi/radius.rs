//! RADIUS (RFC 2865, RFC 2866 accounting, RFC 5176 dynamic authorization) over UDP 1812/1813,
//! the old 1645/1646 and 3799: a known code, the length field equal to the datagram, and
//! attributes (type, length ≥ 2) that fill it exactly.
//!
//! It does *not* read attributes (no user name) nor RADIUS over TLS/TCP (RFC 6614).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Radius";

/// Authentication, accounting (and their pre-RFC ports), dynamic authorization.
const PORTS: [u16; 5] = [1812, 1813, 1645, 1646, 3799];

/// Code, identifier, length, authenticator (RFC 2865 §3).
const HEADER: usize = 20;

/// Largest packet (RFC 2865 §3).
const MAX_LEN: usize = 4096;

/// The RADIUS dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Radius;

/// True when `p` is a RADIUS packet.
fn is_radius(p: &[u8]) -> bool {
    if p.len() < HEADER || p.len() > MAX_LEN {
        return false;
    }
    // Access-Request..Accounting-Response, Access-Challenge, Status-Server/-Client,
    // Disconnect and CoA request / ACK / NAK (RFC 2865 §3, RFC 5176 §3).
    if !matches!(p[0], 1..=5 | 11..=13 | 40..=45) {
        return false;
    }
    if usize::from(u16::from_be_bytes([p[2], p[3]])) != p.len() {
        return false;
    }
    let mut attrs = &p[HEADER..];
    while !attrs.is_empty() {
        let len = usize::from(*attrs.get(1).unwrap_or(&0));
        if len < 2 || len > attrs.len() {
            return false;
        }
        attrs = &attrs[len..];
    }
    true
}

impl Dissector for Radius {
    fn ports(&self) -> &'static [u16] {
        &[1812, 1813]
    }

    fn name(&self) -> &'static str {
        "radius"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if (PORTS.contains(&pkt.dst_port) || PORTS.contains(&pkt.src_port))
            && is_radius(pkt.payload)
        {
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

    fn access_request() -> Vec<u8> {
        let mut v = vec![
            0x01, // Access-Request
            0x2a, // identifier
            0x00, 0x1b, // length 27
        ];
        v.extend_from_slice(&[0x11; 16]); // request authenticator
        v.extend_from_slice(&[0x01, 0x07, b'a', b'l', b'i', b'c', b'e']); // User-Name
        v
    }

    #[test]
    fn access_request_identifies() {
        let f = feed(Radius, 17, 40000, 1812, &[(0, &access_request())]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Radius, 17, 1, 2, &[(0, &access_request())])
                .result
                .master
                .is_none()
        );
        let mut bad = Vec::new();
        let mut v = access_request();
        v[0] = 6; // unknown code
        bad.push(v);
        let mut v = access_request();
        v[3] = 0x1c; // length disagrees
        bad.push(v);
        let mut v = access_request();
        v[21] = 1; // attribute length < 2
        bad.push(v);
        let mut v = access_request();
        v[21] = 9; // attribute past the end
        bad.push(v);
        let mut v = access_request();
        v.push(1); // lone attribute type
        v[3] = 0x1c;
        bad.push(v);
        bad.push(access_request()[..19].to_vec());
        for (i, v) in bad.iter().enumerate() {
            let f = feed(Radius, 17, 40000, 1812, &[(0, v)]);
            assert!(f.result.master.is_none(), "case {i}");
            assert!(f.done);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = feed(Radius, 17, 1812, 1812, &[(0, &a)]);
            let mut v = access_request();
            v.truncate(20);
            v.extend_from_slice(&a);
            let len = (v.len() as u16).to_be_bytes();
            v[2..4].copy_from_slice(&len);
            let _ = feed(Radius, 17, 1812, 1812, &[(0, &v)]);
        }
    }
}
