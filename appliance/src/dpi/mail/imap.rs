//! IMAP (RFC 9051, RFC 3501) and its STARTTLS upgrade (RFC 2595 §3.1, RFC 9051 §6.2.1):
//! nDPI's `IMAP` and `IMAPS`.
//!
//! Owns the greeting (`* OK`, `* PREAUTH`, `* BYE`; RFC 9051 §7.1), the tagged client
//! commands (`tag SP command`, §2.2.1) that decide a greeting not naming IMAP, and the
//! `STARTTLS` exchange. It records the user of a `LOGIN` command (`imap_user`), never a
//! password.
//!
//! It does *not* read mailboxes or messages: the dissection ends once the user is known or
//! at `LOGOUT`. See [`super`] for how a flow is recognised and the state bound.

use super::{Phase, Session};
use crate::dpi::line::{self, first_line, is_one_of};
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "IMAP";

/// The master after a STARTTLS upgrade (nDPI).
pub const MASTER_TLS: &str = "IMAPS";

/// The port a client-first flow (greeting not captured) is recognised on.
const PORT: u16 = 143;

/// Longest user name kept.
const MAX_USER: usize = 128;

/// Longest tag accepted (RFC 9051 sets no limit; clients use a few characters).
const MAX_TAG: usize = 32;

/// IMAP commands a session may start with, or send before selecting a mailbox (RFC 9051
/// §6.1–6.3, `ID` RFC 2971, `IDLE` RFC 2177, `NAMESPACE` RFC 2342).
const COMMANDS: [&str; 20] = [
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "AUTHENTICATE",
    "LOGIN",
    "ENABLE",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "NAMESPACE",
    "STATUS",
    "ID",
    "IDLE",
];

/// A tagged command line: its tag, verb and the rest.
fn tagged_command(l: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let sp = l.iter().position(|&b| b == b' ')?;
    let (tag, rest) = (&l[..sp], &l[sp + 1..]);
    // tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9).
    let tag_ok = (1..=MAX_TAG).contains(&tag.len())
        && tag.iter().all(|&b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    if !tag_ok {
        return None;
    }
    let (verb, arg) = line::command(rest)?;
    is_one_of(verb, &COMMANDS).then_some((tag, verb, arg))
}

/// True for a server line: untagged (`* `), continuation (`+`) or a tagged status.
fn is_server_line(l: &[u8]) -> bool {
    l.starts_with(b"* ") || l.starts_with(b"+") || {
        let mut w = l.splitn(3, |&b| b == b' ');
        w.next().is_some() && w.next().is_some_and(|s| is_one_of(s, &["OK", "NO", "BAD"]))
    }
}

/// Recognises IMAP sessions and their upgrade to TLS.
#[derive(Debug, Default)]
pub struct Imap;

impl Dissector for Imap {
    fn ports(&self) -> &'static [u16] {
        &[143]
    }

    fn name(&self) -> &'static str {
        "imap"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let line = first_line(pkt.payload);
        let command = line.and_then(tagged_command);
        // Stateless gate: before identification, every payload read is an IMAP server line
        // or a tagged IMAP command.
        let plausible = match pkt.dir {
            1 => line.is_some_and(is_server_line),
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
                    let Some(l) = line.filter(|l| {
                        l.starts_with(b"* OK")
                            || l.starts_with(b"* PREAUTH")
                            || l.starts_with(b"* BYE")
                    }) else {
                        return Verdict::Reject;
                    };
                    s.phase = Phase::Greeted;
                    if line::contains_ignore_case(l, "IMAP") {
                        s.phase = Phase::Identified;
                        ctx.identify(MASTER);
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
                // Untagged lines may come first; the tagged reply decides.
                let mut w = line.unwrap_or_default().splitn(3, |&b| b == b' ');
                let (tag, status) = (w.next().unwrap_or_default(), w.next());
                if tag != b"*" {
                    s.phase = if status.is_some_and(|st| st.eq_ignore_ascii_case(b"OK")) {
                        Phase::TlsAccepted
                    } else {
                        Phase::Identified
                    };
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
fn on_command(ctx: &mut Context<'_>, command: Option<(&[u8], &[u8], &[u8])>) -> Verdict {
    match command {
        Some((_, v, arg)) if v.eq_ignore_ascii_case(b"LOGIN") => {
            // userid = astring: an atom or a quoted string (RFC 9051 §9).
            let user = match arg.strip_prefix(b"\"") {
                Some(q) => q.split(|&b| b == b'"').next().unwrap_or_default(),
                None => arg.split(|&b| b == b' ').next().unwrap_or_default(),
            };
            if !user.is_empty() {
                let user = &user[..user.len().min(MAX_USER)];
                ctx.result()
                    .set_meta("imap_user", String::from_utf8_lossy(user).into_owned());
            }
            Verdict::Done
        }
        Some((_, v, _)) if v.eq_ignore_ascii_case(b"STARTTLS") => {
            ctx.state::<Session>().phase = Phase::TlsAsked;
            Verdict::Pending
        }
        Some((_, v, _)) if is_one_of(v, &["LOGOUT", "AUTHENTICATE"]) => Verdict::Done,
        _ => Verdict::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::mail::tests::CLIENT_HELLO;
    use crate::dpi::service_testing::{assert_rejected, dissect_flow, packet};

    fn run(port: u16, payloads: &[(u8, &[u8])]) -> (Vec<Verdict>, crate::dpi::DpiResult) {
        dissect_flow(&Imap, packet(6, 0, 46045, port, b""), payloads)
    }

    #[test]
    fn login() {
        let (v, r) = run(
            143,
            &[
                (1, b"* OK IMAP4Rev1 Server Version 4.9.04.012\r\n"),
                (0, b"C00000 CAPABILITY\r\n"),
                (1, b"* CAPABILITY IMAP4rev1 IDLE AUTH=LOGIN\r\n"),
                (1, b"C00000 OK CAPABILITY completed\r\n"),
                (0, b"C00001 LOGIN samir pfres\r\n"),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(v.len(), 5);
        assert_eq!(r.master, Some("IMAP"));
        assert_eq!(r.meta("imap_user"), Some(&"samir".into()));
    }

    #[test]
    fn quoted_user_after_a_plain_greeting() {
        let (v, r) = run(
            1143,
            &[
                (1, b"* OK ready\r\n"),
                (0, b"a1 login \"bob smith\" \"pw\"\r\n"),
            ],
        );
        assert_eq!(v, [Verdict::Pending, Verdict::Done]);
        assert_eq!(r.master, Some("IMAP"));
        assert_eq!(r.meta("imap_user"), Some(&"bob smith".into()));
    }

    #[test]
    fn starttls() {
        let (v, r) = run(
            143,
            &[
                (1, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
                (0, b"a STARTTLS\r\n"),
                (1, b"a OK Begin TLS negotiation now\r\n"),
                (0, CLIENT_HELLO),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(r.master, Some("IMAPS"));
        assert_eq!(r.requested_server_name, "mail.example.org");
        let (_, r) = run(
            143,
            &[
                (0, b"a STARTTLS\r\n"), // client first on 143
                (1, b"* BYE no\r\n"),
                (1, b"a NO not now\r\n"),
                (0, b"b LOGOUT\r\n"),
            ],
        );
        assert_eq!(r.master, Some("IMAP"));
    }

    #[test]
    fn rejects() {
        let reject =
            |port: u16, payloads: &[(u8, &[u8])]| assert_rejected(run(port, payloads), payloads);
        reject(143, &[(1, b"+OK POP3\r\n")]); // a continuation line, not a greeting
        reject(143, &[(1, b"* 1 EXISTS\r\n")]); // not a greeting
        reject(143, &[(1, b"220 x\r\n")]);
        reject(143, &[(0, b"GET / HTTP/1.1\r\n")]);
        reject(143, &[(0, b"a FETCH 1 BODY[]\r\n")]); // not an opening command
        reject(143, &[(0, b"+x LOGIN a b\r\n")]); // bad tag
        reject(1143, &[(0, b"a LOGIN a b\r\n")]); // client first off 143
        reject(143, &[(1, b"* OK hi\r\n"), (0, b"USER bob\r\n")]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::num::u8::ANY, 1..80),
                        b in proptest::collection::vec(proptest::num::u8::ANY, 1..80)) {
            let _ = run(143, &[(1, b"* OK\r\n"), (0, b"a STARTTLS\r\n"), (1, &a), (0, &b)]);
            let _ = run(143, &[(1, &a), (0, &b)]);
            let _ = run(143, &[(0, &a), (1, &b)]);
        }
    }
}
