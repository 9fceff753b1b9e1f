//! PostgreSQL frontend/backend protocol 3.0 (PostgreSQL documentation, "Message Formats"): the
//! client's first message: nDPI's `PostgreSQL`.
//!
//! The first payload of the flow, from the client, is one message without a type byte: a
//! 4-byte length equal to the payload's, then a code: `StartupMessage` (protocol 3.0,
//! 196608) with its NUL-terminated parameter pairs, `SSLRequest` (80877103) or
//! `GSSENCRequest` (80877104), both 8 bytes, or `CancelRequest` (80877102, 16 bytes). It
//! records the `user` parameter (`postgres_user`). See [`super`] for what it does not do.

use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "PostgreSQL";

/// Protocol version 3.0 in a StartupMessage.
const PROTOCOL_3: u32 = 196_608;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// Recognises the PostgreSQL client's first message.
#[derive(Debug, Default)]
pub struct Postgres;

impl Dissector for Postgres {
    fn ports(&self) -> &'static [u16] {
        &[5432]
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if pkt.dir != 0 || p.len() < 8 || crate::packet::be32(&p[..4]) as usize != p.len() {
            return Verdict::Reject;
        }
        let user = match (crate::packet::be32(&p[4..8]), p.len()) {
            (SSL_REQUEST | GSSENC_REQUEST, 8) | (CANCEL_REQUEST, 16) => None,
            (PROTOCOL_3, _) => match startup_user(&p[8..]) {
                Some(user) => user,
                None => return Verdict::Reject,
            },
            _ => return Verdict::Reject,
        };
        ctx.identify(MASTER);
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            ctx.result().set_meta("postgres_user", super::text(u));
        }
        Verdict::Done
    }
}

/// Checks the parameter list of a StartupMessage (`name NUL value NUL` pairs, then a NUL;
/// `user` is required, so the list is not empty) and returns its `user` value. `None` when
/// the list is malformed.
fn startup_user(params: &[u8]) -> Option<Option<&[u8]>> {
    let pairs = params.strip_suffix(b"\0\0")?;
    let mut fields = pairs.split(|&b| b == 0);
    let mut user = None;
    while let Some(name) = fields.next() {
        let value = fields.next()?;
        if name.is_empty() {
            return None;
        }
        if name == b"user" {
            user = Some(value);
        }
    }
    Some(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    fn startup(params: &[u8]) -> Vec<u8> {
        let mut p = ((8 + params.len()) as u32).to_be_bytes().to_vec(); // length
        p.extend_from_slice(&PROTOCOL_3.to_be_bytes()); // protocol 3.0
        p.extend_from_slice(params);
        p
    }

    #[test]
    fn startup_and_requests() {
        let p = startup(b"user\0alice\0database\0db\0\0");
        let (verdict, r) = dissect_one(&Postgres, &packet(6, 0, 40000, 5432, &p));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("PostgreSQL")));
        assert_eq!(r.meta("postgres_user"), Some(&"alice".into()));
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]; // length 8, SSLRequest
        let (verdict, r) = dissect_one(&Postgres, &packet(6, 0, 40000, 5432, &ssl));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("PostgreSQL")));
        assert!(r.meta.is_empty());
    }

    #[test]
    fn rejects() {
        let reject = |dir: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&Postgres, &packet(6, dir, 40000, 5432, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        reject(1, &ssl); // from the server
        reject(0, &ssl[..7]); // short
        reject(0, &[0, 0, 0, 9, 0x04, 0xd2, 0x16, 0x2f, 0]); // length vs code
        reject(0, &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31]); // unknown code
        reject(0, &startup(b"user\0alice\0")); // no terminator
        reject(0, &startup(b"user\0\0")); // a name without a value
        reject(0, &startup(b"\0")); // no parameters
        reject(0, &startup(b"user\0a\0\0\0")); // empty name
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..60)) {
            let _ = dissect_one(&Postgres, &packet(6, 0, 1, 5432, &startup(&data)));
        }
    }
}
