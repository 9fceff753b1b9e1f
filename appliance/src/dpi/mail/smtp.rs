//! SMTP (RFC 5321) and its STARTTLS upgrade (RFC 3207): nDPI's `SMTP` and `SMTPS`.
//!
//! Owns the greeting (`220`, §4.2 and §3.1), the client's hello (`EHLO` / `HELO`, §4.1.1.1)
//! that decides a greeting not naming SMTP, and the `STARTTLS` exchange. The server name
//! (`requested_server_name`) is the host the greeting names (`220 mx.google.com ESMTP ...`,
//! §4.3.1: "the server's identity"), replaced by the ClientHello's SNI after an upgrade when
//! it has one; `smtp_banner` is the greeting line and `smtp_helo` the client's hello domain.
//!
//! It does *not* read mail transactions (`MAIL`, `RCPT`, `DATA`): the dissection ends at the
//! first command that is neither a hello nor `STARTTLS`. See [`super`] for how a flow is
//! recognised and the state bound.

use super::{Phase, Session};
use crate::dpi::line::{self, capped_string, first_line, is_host_name, is_one_of, reply_code};
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "SMTP";

/// The master after a STARTTLS upgrade (nDPI).
pub const MASTER_TLS: &str = "SMTPS";

/// Ports a client-first flow (greeting not captured) is recognised on: SMTP, submission.
const PORTS: [u16; 2] = [25, 587];

/// Longest hello domain kept.
const MAX_HELO: usize = 128;

/// Commands of RFC 5321 §4.1 and its extensions that a client may send before a
/// transaction: a first client line that is none of them is not SMTP.
const COMMANDS: [&str; 14] = [
    "EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
    "STARTTLS", "AUTH",
];

/// Recognises SMTP sessions and their upgrade to TLS.
#[derive(Debug, Default)]
pub struct Smtp;

impl Dissector for Smtp {
    fn ports(&self) -> &'static [u16] {
        &[25, 587]
    }

    fn name(&self) -> &'static str {
        "smtp"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let line = first_line(pkt.payload);
        // Stateless gate: before identification, every payload read is a reply line from
        // the server or an SMTP command from the client.
        let plausible = match (pkt.dir, line) {
            (1, Some(l)) => reply_code(l).is_some(),
            (0, Some(l)) => line::command(l).is_some_and(|(v, _)| is_one_of(v, &COMMANDS)),
            _ => false,
        };
        let s = match super::admit(ctx, plausible) {
            Ok(s) => s,
            Err(v) => return v,
        };
        match s.phase {
            Phase::Start | Phase::Greeted => {
                let Some(l) = line else {
                    return Verdict::Reject;
                };
                if pkt.dir == 1 {
                    if s.phase == Phase::Greeted {
                        return Verdict::Pending; // more greeting lines
                    }
                    if reply_code(l) != Some(220) {
                        return Verdict::Reject;
                    }
                    s.set_greeting(l);
                    s.phase = Phase::Greeted;
                    if line::contains_ignore_case(l, "SMTP") {
                        identify(ctx);
                    }
                    return Verdict::Pending;
                }
                let Some((verb, arg)) = line::command(l) else {
                    return Verdict::Reject;
                };
                let hello = is_one_of(verb, &["EHLO", "HELO"]);
                if !hello || (s.phase == Phase::Start && !PORTS.iter().any(|&p| pkt.has_port(p))) {
                    return Verdict::Reject;
                }
                identify(ctx);
                set_helo(ctx, arg);
                Verdict::Pending
            }
            Phase::Identified => {
                if pkt.dir == 1 {
                    return Verdict::Pending;
                }
                match line.and_then(line::command) {
                    Some((v, arg)) if is_one_of(v, &["EHLO", "HELO"]) => {
                        set_helo(ctx, arg);
                        Verdict::Pending
                    }
                    Some((v, _)) if v.eq_ignore_ascii_case(b"STARTTLS") => {
                        ctx.state::<Session>().phase = Phase::TlsAsked;
                        Verdict::Pending
                    }
                    _ => Verdict::Done,
                }
            }
            Phase::TlsAsked => {
                if pkt.dir == 0 {
                    return Verdict::Done;
                }
                if line.and_then(reply_code) == Some(220) {
                    s.phase = Phase::TlsAccepted;
                    Verdict::Pending
                } else {
                    Verdict::Done
                }
            }
            Phase::TlsAccepted => {
                super::after_upgrade(pkt, ctx, MASTER_TLS);
                Verdict::Done
            }
        }
    }
}

/// Identifies the flow (once the greeting or the hello decided): the greeting's host and line
/// go into the result.
fn identify(ctx: &mut Context<'_>) {
    if ctx.is_identified() {
        return;
    }
    ctx.identify(MASTER);
    let s = ctx.state::<Session>();
    s.phase = Phase::Identified;
    let greeting = s.greeting();
    let banner = (!greeting.is_empty()).then(|| String::from_utf8_lossy(greeting).into_owned());
    // "220 SP domain [SP text]" (RFC 5321 §4.2, the Greeting rule).
    let host = greeting
        .get(4..)
        .map(|rest| rest.split(|&b| b == b' ').next().unwrap_or_default())
        .filter(|h| is_host_name(h))
        .map(|h| String::from_utf8_lossy(h).into_owned());
    let r = ctx.result();
    if let Some(b) = banner {
        r.set_meta("smtp_banner", b);
    }
    if let Some(h) = host {
        r.requested_server_name = h;
    }
}

fn set_helo(ctx: &mut Context<'_>, arg: &[u8]) {
    if !arg.is_empty() {
        ctx.result()
            .set_meta("smtp_helo", capped_string(arg, MAX_HELO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::mail::tests::CLIENT_HELLO;
    use crate::dpi::service_testing::{assert_rejected, dissect_flow, packet};

    const GREETING: &[u8] = b"220 mx.google.com ESMTP s4si9696358qcc.63 - gsmtp\r\n";

    fn run(port: u16, payloads: &[(u8, &[u8])]) -> (Vec<Verdict>, crate::dpi::DpiResult) {
        dissect_flow(&Smtp, packet(6, 0, 57406, port, b""), payloads)
    }

    #[test]
    fn starttls_session() {
        let (v, r) = run(
            25,
            &[
                (1, GREETING),
                (0, b"EHLO client.example.com\r\n"),
                (1, b"250-mx.google.com at your service\r\n250 STARTTLS\r\n"),
                (0, b"STARTTLS\r\n"),
                (1, b"220 2.0.0 Ready to start TLS\r\n"),
                (0, CLIENT_HELLO),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(v.len(), 6);
        assert_eq!(r.master, Some("SMTPS"));
        // The SNI replaces the greeting's host.
        assert_eq!(r.requested_server_name, "mail.example.org");
        assert_eq!(
            r.meta("smtp_banner"),
            Some(&"220 mx.google.com ESMTP s4si9696358qcc.63 - gsmtp".into())
        );
        assert_eq!(r.meta("smtp_helo"), Some(&"client.example.com".into()));
    }

    #[test]
    fn plain_session_ends_at_the_transaction() {
        let (v, r) = run(
            2525,
            &[
                (1, b"220 relay.example.net ready\r\n"), // does not name SMTP
                (0, b"HELO me\r\n"),
                (1, b"250 relay.example.net\r\n"),
                (0, b"MAIL FROM:<a@b.c>\r\n"),
            ],
        );
        assert_eq!(
            v,
            [
                Verdict::Pending,
                Verdict::Pending,
                Verdict::Pending,
                Verdict::Done
            ]
        );
        assert_eq!(r.master, Some("SMTP"));
        assert_eq!(r.requested_server_name, "relay.example.net");
    }

    #[test]
    fn refused_upgrade_and_client_first() {
        let (v, r) = run(
            25,
            &[
                (0, b"EHLO me\r\n"), // greeting not captured
                (0, b"STARTTLS\r\n"),
                (1, b"454 TLS not available\r\n"),
            ],
        );
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(r.master, Some("SMTP"));
        assert_eq!(r.requested_server_name, "");
        // After an accepted upgrade, anything but TLS ends the dissection as SMTP.
        let (_, r) = run(
            25,
            &[
                (1, GREETING),
                (0, b"EHLO me\r\n"),
                (0, b"STARTTLS\r\n"),
                (1, b"220 go\r\n"),
                (0, b"QUIT\r\n"),
            ],
        );
        assert_eq!(r.master, Some("SMTP"));
    }

    #[test]
    fn rejects() {
        let reject =
            |port: u16, payloads: &[(u8, &[u8])]| assert_rejected(run(port, payloads), payloads);
        reject(25, &[(1, b"\x16\x03\x01\x00\x10")]); // binary
        reject(25, &[(1, b"220 no line end")]);
        reject(25, &[(1, b"554 go away\r\n")]); // not a greeting
        reject(25, &[(0, b"GET / HTTP/1.1\r\n")]); // not an SMTP command
        reject(8025, &[(0, b"EHLO me\r\n")]); // client first off the SMTP ports
        reject(
            21,
            &[(1, b"220 (vsFTPd 3.0.3)\r\n"), (0, b"USER anonymous\r\n")],
        ); // FTP
        reject(25, &[(1, b"220 hi\r\n"), (0, b"QUIT\r\n")]); // no hello
        reject(25, &[(1, b"+OK POP3 ready\r\n")]);
    }

    #[test]
    fn payload_cap() {
        let mut p: Vec<(u8, &[u8])> = vec![(1, b"220 x\r\n")];
        p.extend(std::iter::repeat_n((1u8, &b"220-more\r\n"[..]), 20));
        let (v, _) = run(25, &p);
        assert_eq!(v.len(), usize::from(crate::dpi::mail::MAX_PAYLOADS) + 1);
        assert_eq!(v.last(), Some(&Verdict::Reject));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::num::u8::ANY, 1..80),
                        b in proptest::collection::vec(proptest::num::u8::ANY, 1..80)) {
            let _ = run(25, &[(1, GREETING), (0, b"EHLO x\r\n"), (0, b"STARTTLS\r\n"),
                              (1, b"220 go\r\n"), (0, &a)]);
            let _ = run(25, &[(1, &a), (0, &b)]);
            let _ = run(25, &[(0, &a), (1, &b)]);
        }
    }
}
