//! POP3 (RFC 1939) and its STLS upgrade (RFC 2595 §4): nDPI's `POP3` and `POPS`.
//!
//! Owns the greeting (`+OK`, RFC 1939 §4), the client commands (§5–7, `CAPA` RFC 2449,
//! `AUTH` RFC 5034, `STLS` RFC 2595) that decide a greeting not naming POP, and the `STLS`
//! exchange. It records the user of a `USER` command (`pop3_user`), never a password.
//!
//! It does *not* read mailbox listings or messages: the dissection ends once the user is known
//! or at `QUIT`. See [`super`] for how a flow is recognised and the state bound.

use super::{Phase, Session};
use crate::dpi::line::{self, capped_string, first_line, is_one_of};
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "POP3";

/// The master after an STLS upgrade (nDPI).
pub const MASTER_TLS: &str = "POPS";

/// The port a client-first flow (greeting not captured) is recognised on.
const PORT: u16 = 110;

/// Longest user name kept.
const MAX_USER: usize = 128;

/// POP3 commands (RFC 1939, 2449, 2595, 5034).
const COMMANDS: [&str; 16] = [
    "USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP",
    "RSET", "TOP", "UIDL", "UTF8",
];

/// True for a status line (`+OK`, `-ERR`; RFC 1939 §3) or a SASL continuation (`+ `).
fn is_status(l: &[u8]) -> bool {
    l.starts_with(b"+OK") || l.starts_with(b"-ERR") || l.starts_with(b"+ ") || l == b"+"
}

/// Recognises POP3 sessions and their upgrade to TLS.
#[derive(Debug, Default)]
pub struct Pop3;

impl Dissector for Pop3 {
    fn ports(&self) -> &'static [u16] {
        &[110]
    }

    fn name(&self) -> &'static str {
        "pop3"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let line = first_line(pkt.payload);
        let command = line
            .and_then(line::command)
            .filter(|(v, _)| is_one_of(v, &COMMANDS));
        // Stateless gate: before identification, every payload read is a status line from
        // the server or a POP3 command from the client.
        let plausible = match pkt.dir {
            1 => line.is_some_and(is_status),
            _ => command.is_some(),
        };
        let s = match super::admit(ctx, plausible) {
            Ok(s) => s,
            Err(v) => return v,
        };
        match s.phase {
            Phase::Start | Phase::Greeted => {
                if pkt.dir == 1 {
                    if s.phase == Phase::Greeted {
                        return Verdict::Pending;
                    }
                    if !line.is_some_and(|l| l.starts_with(b"+OK")) {
                        return Verdict::Reject;
                    }
                    s.phase = Phase::Greeted;
                    if line.is_some_and(|l| line::contains_ignore_case(l, "POP")) {
                        ctx.identify(MASTER);
                        ctx.state::<Session>().phase = Phase::Identified;
                    }
                    return Verdict::Pending;
                }
                if s.phase == Phase::Start && !pkt.has_port(PORT) {
                    return Verdict::Reject;
                }
                s.phase = Phase::Identified;
                ctx.identify(MASTER);
                on_command(ctx, command)
            }
            Phase::Identified if pkt.dir == 0 => on_command(ctx, command),
            Phase::Identified => Verdict::Pending,
            Phase::TlsAsked => {
                if pkt.dir == 0 {
                    return Verdict::Done;
                }
                if line.is_some_and(|l| l.starts_with(b"+OK")) {
                    s.phase = Phase::TlsAccepted;
                } else {
                    s.phase = Phase::Identified;
                }
                Verdict::Pending
            }
            Phase::TlsAccepted => {
                super::after_upgrade(pkt, ctx, MASTER_TLS);
                Verdict::Done
            }
        }
    }
}

/// A client command of an identified flow.
fn on_command(ctx: &mut Context<'_>, command: Option<(&[u8], &[u8])>) -> Verdict {
    match command {
        Some((v, arg)) if v.eq_ignore_ascii_case(b"USER") => {
            if !arg.is_empty() {
                ctx.result()
                    .set_meta("pop3_user", capped_string(arg, MAX_USER));
            }
            Verdict::Done
        }
        Some((v, _)) if v.eq_ignore_ascii_case(b"STLS") => {
            ctx.state::<Session>().phase = Phase::TlsAsked;
            Verdict::Pending
        }
        Some((v, _)) if v.eq_ignore_ascii_case(b"QUIT") => Verdict::Done,
        _ => Verdict::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::mail::tests::CLIENT_HELLO;
    use crate::dpi::service_testing::{assert_rejected, dissect_flow, packet};

    fn run(port: u16, payloads: &[(u8, &[u8])]) -> (Vec<Verdict>, crate::dpi::DpiResult) {
        dissect_flow(&Pop3, packet(6, 0, 35287, port, b""), payloads)
    }

    #[test]
    fn login() {
        let (v, r) = run(
            110,
            &[
                (1, b"+OK POP server ready H migmxus005\r\n"),
                (0, b"user cicciopernacchio@mail.com\r\n"),
            ],
        );
        assert_eq!(v, [Verdict::Pending, Verdict::Done]);
        assert_eq!(r.master, Some("POP3"));
        assert_eq!(
            r.meta("pop3_user"),
            Some(&"cicciopernacchio@mail.com".into())
        );
    }

    #[test]
    fn greeting_without_the_name_then_capa() {
        let (v, r) = run(
            1110,
            &[
                (1, b"+OK ready\r\n"),
                (0, b"CAPA\r\n"),
                (1, b"+OK Capability list follows\r\nSTLS\r\n.\r\n"),
                (0, b"QUIT\r\n"),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(r.master, Some("POP3"));
    }

    #[test]
    fn stls() {
        let (v, r) = run(
            110,
            &[
                (1, b"+OK ready\r\n"),
                (0, b"STLS\r\n"),
                (1, b"+OK Begin TLS negotiation\r\n"),
                (0, CLIENT_HELLO),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(r.master, Some("POPS"));
        assert_eq!(r.requested_server_name, "mail.example.org");
        // A refused upgrade goes on as POP3.
        let (_, r) = run(
            110,
            &[(0, b"STLS\r\n"), (1, b"-ERR no\r\n"), (0, b"USER bob\r\n")],
        );
        assert_eq!(r.master, Some("POP3"));
        assert_eq!(r.meta("pop3_user"), Some(&"bob".into()));
    }

    #[test]
    fn rejects() {
        let reject =
            |port: u16, payloads: &[(u8, &[u8])]| assert_rejected(run(port, payloads), payloads);
        reject(110, &[(1, b"220 mail ESMTP\r\n")]);
        reject(110, &[(1, b"-ERR busy\r\n")]); // not a greeting
        reject(110, &[(1, b"+OK")]); // no line end
        reject(110, &[(0, b"EHLO me\r\n")]);
        reject(6379, &[(0, b"QUIT\r\n")]); // client first off port 110
        reject(6379, &[(1, b"+OK\r\n"), (0, b"*1\r\n$4\r\nPING\r\n")]); // Redis-like
        reject(110, &[(0, b"\x00\x01binary\r\n")]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::num::u8::ANY, 1..80),
                        b in proptest::collection::vec(proptest::num::u8::ANY, 1..80)) {
            let _ = run(110, &[(1, b"+OK\r\n"), (0, b"STLS\r\n"), (1, b"+OK\r\n"), (0, &a)]);
            let _ = run(110, &[(1, &a), (0, &b)]);
            let _ = run(110, &[(0, &a), (1, &b)]);
        }
    }
}
