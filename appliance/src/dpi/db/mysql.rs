//! MySQL / MariaDB client/server protocol: the server's initial handshake (MySQL Internals,
//! "Protocol::HandshakeV10"): nDPI's `MySQL`.
//!
//! The first payload of the flow, from the server: a packet header (3-byte little-endian
//! length equal to the rest of the payload, sequence id 0), protocol version 10, then the
//! server version as a NUL-terminated string that starts with a digit. It records the
//! version (`mysql_version`). See [`super`] for what it does not do.

use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "MySQL";

/// Recognises the MySQL server greeting.
#[derive(Debug, Default)]
pub struct MySql;

impl Dissector for MySql {
    fn ports(&self) -> &'static [u16] {
        &[3306]
    }

    fn name(&self) -> &'static str {
        "mysql"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let Some(version) = greeting_version(pkt) else {
            return Verdict::Reject;
        };
        ctx.identify(MASTER);
        ctx.result().set_meta("mysql_version", super::text(version));
        Verdict::Done
    }
}

/// The server version of a HandshakeV10 packet from the server.
fn greeting_version<'a>(pkt: &Packet<'a>) -> Option<&'a [u8]> {
    let p = pkt.payload;
    if pkt.dir != 1 || p.len() < 6 {
        return None;
    }
    let len = usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16;
    if len != p.len() - 4 || p[3] != 0 || p[4] != 10 {
        return None;
    }
    let rest = &p[5..];
    let end = rest.iter().take(64).position(|&b| b == 0)?;
    let version = &rest[..end];
    let ok = version.first().is_some_and(u8::is_ascii_digit)
        && version.iter().all(|&b| b.is_ascii_graphic());
    ok.then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    #[rustfmt::skip]
    const GREETING: &[u8] = &[
        0x14, 0x00, 0x00,                   // payload length 20
        0x00,                               // sequence id
        0x0a,                               // protocol version 10
        b'8', b'.', b'0', b'.', b'3', b'6', 0x00, // server version
        0x08, 0x00, 0x00, 0x00,             // connection id
        b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', // auth-plugin-data part 1 (cut)
    ];

    #[test]
    fn greeting() {
        let (verdict, r) = dissect_one(&MySql, &packet(6, 1, 40000, 3306, GREETING));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("MySQL")));
        assert_eq!(r.meta("mysql_version"), Some(&"8.0.36".into()));
    }

    #[test]
    fn rejects() {
        let reject = |dir: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&MySql, &packet(6, dir, 40000, 3306, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(0, GREETING); // from the client
        reject(1, &GREETING[..5]); // short
        reject(1, &GREETING[..20]); // length != payload
        let mut p = GREETING.to_vec();
        p[3] = 1; // sequence id
        reject(1, &p);
        let mut p = GREETING.to_vec();
        p[4] = 9; // protocol version
        reject(1, &p);
        let mut p = GREETING.to_vec();
        p[5] = b'v'; // version not starting with a digit
        reject(1, &p);
        let mut p = GREETING.to_vec();
        p[11] = b'x'; // no NUL
        p.truncate(12);
        p[0] = 8;
        reject(1, &p);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..80)) {
            let _ = dissect_one(&MySql, &packet(6, 1, 1, 3306, &data));
        }
    }
}
