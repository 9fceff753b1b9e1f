//! Mail access and transfer over TCP: SMTP ([`smtp`]), POP3 ([`pop3`]) and IMAP ([`imap`]),
//! with their in-band TLS upgrade (SMTP `STARTTLS`, RFC 3207; POP3 `STLS` and IMAP
//! `STARTTLS`, RFC 2595), after which nDPI names the flow `SMTPS`, `POPS` or `IMAPS`.
//!
//! Owns the session state the three share ([`Session`]: where the dialogue is, a payload
//! count, the server greeting), the check each payload passes first ([`admit`]) and the step
//! that follows an accepted upgrade (the client's TLS ClientHello, whose SNI becomes the
//! server name when it has one; parsing is [`crate::dpi::tls`]'s). Each protocol's file owns
//! its greeting, commands and replies.
//!
//! It does *not* see implicit TLS (465, 993, 995: those flows are TLS from their first byte,
//! the TLS dissector's), reassemble lines across segments, or read messages.
//!
//! # How a flow is recognised
//!
//! The server speaks first. A greeting that names the protocol identifies the flow at once;
//! any other greeting waits for the client's first command, which must be one of the
//! protocol's (so `220` greetings, shared by SMTP and FTP, are told apart by `EHLO` versus
//! `USER`). A flow whose capture missed the greeting is recognised by a client command on the
//! protocol's well-known port. Anything else is rejected on its first payload, and, before
//! any state exists, only by looking at that payload: state is created for payloads that are
//! lines of the protocol only.
//!
//! State bound: [`Session`], 136 bytes per flow and dissector, for at most
//! [`MAX_PAYLOADS`] payloads.

use super::tls;
use super::{Context, Packet, Verdict};

pub mod imap;
pub mod pop3;
pub mod smtp;

/// Payloads a mail dissector reads at most (before or after identifying the flow): enough
/// for greeting, capabilities, login and the upgrade.
pub const MAX_PAYLOADS: u8 = 16;

/// Longest server greeting kept (the first line; longer ones are cut).
pub const GREETING_CAP: usize = 128;

/// Where a mail dialogue stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Nothing read yet.
    #[default]
    Start,
    /// The server greeted; the client's first command decides.
    Greeted,
    /// Identified: reading metadata, watching for the TLS upgrade.
    Identified,
    /// The client asked for the TLS upgrade.
    TlsAsked,
    /// The server accepted it: the client's next bytes are a TLS ClientHello.
    TlsAccepted,
}

/// One flow's mail state (fixed size).
#[derive(Clone, Debug)]
pub struct Session {
    /// Where the dialogue is.
    pub phase: Phase,
    /// Payloads read so far.
    pub payloads: u8,
    greeting: [u8; GREETING_CAP],
    greeting_len: u8,
}

// The bound the module documentation gives.
const _: () = assert!(size_of::<Session>() <= 136);

impl Default for Session {
    fn default() -> Self {
        Session {
            phase: Phase::Start,
            payloads: 0,
            greeting: [0; GREETING_CAP],
            greeting_len: 0,
        }
    }
}

impl Session {
    /// Keeps (the start of) the greeting line.
    pub fn set_greeting(&mut self, line: &[u8]) {
        let n = line.len().min(GREETING_CAP);
        self.greeting[..n].copy_from_slice(&line[..n]);
        self.greeting_len = n as u8;
    }

    /// The greeting kept by [`Session::set_greeting`].
    pub fn greeting(&self) -> &[u8] {
        &self.greeting[..usize::from(self.greeting_len)]
    }

    /// Counts a payload; false once [`MAX_PAYLOADS`] were read.
    pub fn count(&mut self) -> bool {
        self.payloads = self.payloads.saturating_add(1);
        self.payloads <= MAX_PAYLOADS
    }
}

/// The check every mail dissector opens with. Before identification a payload that is not
/// `plausible` (a line of the protocol, from the side that sends it) is rejected without
/// creating state; past [`MAX_PAYLOADS`] the dissection ends, done when identified. Otherwise
/// the flow's session, to go on with.
pub fn admit<'c>(ctx: &'c mut Context<'_>, plausible: bool) -> Result<&'c mut Session, Verdict> {
    let identified = ctx.is_identified();
    if !plausible && !identified {
        return Err(Verdict::Reject);
    }
    let s = ctx.state::<Session>();
    if !s.count() {
        return Err(if identified {
            Verdict::Done
        } else {
            Verdict::Reject
        });
    }
    Ok(s)
}

/// True when `p` starts with a TLS handshake record header (RFC 8446 §5.1: type 22, major
/// version 3).
pub fn is_tls_handshake(p: &[u8]) -> bool {
    p.len() >= 5 && p[0] == tls::content_type::HANDSHAKE && p[1] == 3
}

/// The SNI of the ClientHello in the TLS record at the start of `p`, when the record holds
/// the whole message.
pub fn client_hello_sni(p: &[u8]) -> Option<&str> {
    let len = usize::from(u16::from_be_bytes([*p.get(3)?, *p.get(4)?]));
    let body = p.get(5..5 + len)?;
    let (ty, hello) = tls::split_handshake(body)?;
    if ty != tls::handshake_type::CLIENT_HELLO {
        return None;
    }
    tls::parse_client_hello(hello).ok()?.server_name
}

/// The client's first payload after an accepted upgrade: a TLS handshake makes the flow
/// `tls_master` (and its SNI the server name). Either way the dissection is over.
pub fn after_upgrade(pkt: &Packet<'_>, ctx: &mut Context<'_>, tls_master: &'static str) {
    if pkt.dir == 0 && is_tls_handshake(pkt.payload) {
        ctx.identify(tls_master);
        if let Some(sni) = client_hello_sni(pkt.payload) {
            ctx.result().requested_server_name = sni.to_string();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TLS 1.2 ClientHello record with SNI `mail.example.org`, nothing else.
    #[rustfmt::skip]
    pub(crate) const CLIENT_HELLO: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x48,       // record: handshake, TLS 1.0, length 72
        0x01, 0x00, 0x00, 0x44,             // ClientHello, length 68
        0x03, 0x03,                         // legacy_version TLS 1.2
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random
        0x00,                               // session id: empty
        0x00, 0x02, 0x00, 0x2f,             // cipher suites: TLS_RSA_WITH_AES_128_CBC_SHA
        0x01, 0x00,                         // compression: null
        0x00, 0x19,                         // extensions length 25
        0x00, 0x00, 0x00, 0x15,             // server_name, length 21
        0x00, 0x13, 0x00, 0x00, 0x10,       // list length 19, host_name, length 16
        b'm', b'a', b'i', b'l', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e',
        b'.', b'o', b'r', b'g',
    ];

    #[test]
    fn sni_of_a_client_hello() {
        assert!(is_tls_handshake(CLIENT_HELLO));
        assert_eq!(client_hello_sni(CLIENT_HELLO), Some("mail.example.org"));
        assert_eq!(client_hello_sni(&CLIENT_HELLO[..40]), None, "cut record");
        let mut server_hello = CLIENT_HELLO.to_vec();
        server_hello[5] = 2;
        assert_eq!(client_hello_sni(&server_hello), None);
        assert!(!is_tls_handshake(b"\x17\x03\x03\x00\x10"));
        assert!(!is_tls_handshake(b"\x16\x03"));
    }

    #[test]
    fn session_greeting_and_count() {
        let mut s = Session::default();
        s.set_greeting(&[b'a'; 300]);
        assert_eq!(s.greeting().len(), GREETING_CAP);
        for _ in 0..MAX_PAYLOADS {
            assert!(s.count());
        }
        assert!(!s.count());
    }
}
