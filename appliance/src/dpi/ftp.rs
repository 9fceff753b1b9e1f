//! FTP (RFC 959): the control connection (nDPI's `FTP_CONTROL`) and, when it carries a
//! directory listing, the data connection (`FTP_DATA`).
//!
//! Owns, for the control connection: the greeting (`220`, RFC 959 §5.4 "Connection
//! Establishment"), then the client's first command, which must be an FTP one (`USER`,
//! `AUTH` RFC 4217, `FEAT` / `OPTS` RFC 2389, ...; SMTP shares the `220` greeting and is told
//! apart by its `EHLO`); a flow whose greeting was not captured is recognised by such a
//! command on port 21. It records the user (`ftp_user`), never a password. For the data
//! connection: a first payload that is a Unix `ls -l` listing line (`-rw-r--r-- 1 ...`) or its
//! `total N` header, the usual answer to `LIST` (RFC 959 leaves the format to the server).
//!
//! It does *not* tie data connections to their control connection (no state across flows:
//! the `PASV` / `PORT` addresses are not followed), so a data connection carrying a file is
//! not recognised (nfstream leaves `ftp.pcap`'s download Unknown too); it does not follow
//! `AUTH TLS`.
//!
//! State bound: [`Control`], 2 bytes per flow, for at most [`MAX_PAYLOADS`] payloads; the
//! data dissector keeps none.

use super::line::{self, capped_string, first_line, is_one_of, reply_code};
use super::{Context, Dissector, Packet, Transports, Verdict};

/// The control connection's master name (nDPI).
pub const MASTER_CONTROL: &str = "FTP_CONTROL";

/// The data connection's master name (nDPI).
pub const MASTER_DATA: &str = "FTP_DATA";

/// The port a client-first control flow (greeting not captured) is recognised on.
const PORT: u16 = 21;

/// Payloads of a control flow read at most: enough for greeting, features and login.
pub const MAX_PAYLOADS: u8 = 16;

/// Longest user name kept.
const MAX_USER: usize = 128;

/// Commands a client may open an FTP session with (RFC 959 §4.1.1, RFC 2228, RFC 2389,
/// RFC 4217, and clients' `CLNT` / `HOST` RFC 7151).
const OPENING: [&str; 11] = [
    "USER", "PASS", "ACCT", "AUTH", "FEAT", "OPTS", "SYST", "CLNT", "HOST", "PBSZ", "PROT",
];

/// Where a control connection's dialogue is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Nothing read yet.
    #[default]
    Start,
    /// The server greeted with 220.
    Greeted,
    /// Identified; waiting for the user name.
    Identified,
}

/// One control flow's state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Control {
    phase: Phase,
    payloads: u8,
}

/// Recognises FTP control connections.
#[derive(Debug, Default)]
pub struct FtpControl;

impl Dissector for FtpControl {
    fn ports(&self) -> &'static [u16] {
        &[21]
    }

    fn name(&self) -> &'static str {
        "ftp_control"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let line = first_line(pkt.payload);
        let command = line.and_then(line::command);
        // Stateless gate: before identification, every payload read is a reply line from
        // the server or an FTP opening command from the client.
        let plausible = match pkt.dir {
            1 => line.and_then(reply_code).is_some(),
            _ => command.is_some_and(|(v, _)| is_one_of(v, &OPENING)),
        };
        if !plausible && !ctx.is_identified() {
            return Verdict::Reject;
        }
        let identified = ctx.is_identified();
        let s = ctx.state::<Control>();
        s.payloads = s.payloads.saturating_add(1);
        if s.payloads > MAX_PAYLOADS {
            return if identified {
                Verdict::Done
            } else {
                Verdict::Reject
            };
        }
        match (s.phase, pkt.dir) {
            (Phase::Start, 1) => {
                if line.and_then(reply_code) != Some(220) {
                    return Verdict::Reject;
                }
                s.phase = Phase::Greeted;
                Verdict::Pending
            }
            (Phase::Greeted, 1) | (Phase::Identified, 1) => Verdict::Pending,
            (Phase::Start, _) if !pkt.has_port(PORT) => Verdict::Reject,
            (Phase::Start | Phase::Greeted, _) => {
                s.phase = Phase::Identified;
                ctx.identify(MASTER_CONTROL);
                on_command(ctx, command)
            }
            (Phase::Identified, _) => on_command(ctx, command),
        }
    }
}

fn on_command(ctx: &mut Context<'_>, command: Option<(&[u8], &[u8])>) -> Verdict {
    match command {
        Some((v, arg)) if v.eq_ignore_ascii_case(b"USER") => {
            if !arg.is_empty() {
                ctx.result()
                    .set_meta("ftp_user", capped_string(arg, MAX_USER));
            }
            Verdict::Done
        }
        Some((v, _)) if v.eq_ignore_ascii_case(b"QUIT") => Verdict::Done,
        _ => Verdict::Pending,
    }
}

/// Recognises FTP data connections that carry a directory listing.
#[derive(Debug, Default)]
pub struct FtpData;

impl Dissector for FtpData {
    fn ports(&self) -> &'static [u16] {
        &[20]
    }

    fn name(&self) -> &'static str {
        "ftp_data"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !is_listing(pkt.payload) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER_DATA);
        Verdict::Done
    }
}

/// True when `p` starts like `ls -l` output: a `total N` line, or a mode string (file type
/// and nine permission characters) followed by a space (or an ACL / SELinux marker).
fn is_listing(p: &[u8]) -> bool {
    if let Some(rest) = p.strip_prefix(b"total ") {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        return digits > 0 && matches!(rest.get(digits..digits + 1), Some(b"\r" | b"\n"));
    }
    let Some(mode) = p.get(..11) else {
        return false;
    };
    let perm = |c: u8, set: &[u8]| c == b'-' || set.contains(&c);
    matches!(mode[0], b'-' | b'd' | b'l' | b'c' | b'b' | b'p' | b's')
        && perm(mode[1], b"r")
        && perm(mode[2], b"w")
        && perm(mode[3], b"xsS")
        && perm(mode[4], b"r")
        && perm(mode[5], b"w")
        && perm(mode[6], b"xsS")
        && perm(mode[7], b"r")
        && perm(mode[8], b"w")
        && perm(mode[9], b"xtT")
        && matches!(mode[10], b' ' | b'+' | b'.' | b'@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{assert_rejected, dissect_flow, dissect_one, packet};

    fn run(port: u16, payloads: &[(u8, &[u8])]) -> (Vec<Verdict>, crate::dpi::DpiResult) {
        dissect_flow(&FtpControl, packet(6, 0, 50694, port, b""), payloads)
    }

    #[test]
    fn control_login() {
        let (v, r) = run(
            21,
            &[(1, b"220 (vsFTPd 3.0.3)\r\n"), (0, b"USER anonymous\r\n")],
        );
        assert_eq!(v, [Verdict::Pending, Verdict::Done]);
        assert_eq!(r.master, Some("FTP_CONTROL"));
        assert_eq!(r.meta("ftp_user"), Some(&"anonymous".into()));
    }

    #[test]
    fn control_tls_first_then_user_and_client_first() {
        let (v, r) = run(
            2121,
            &[
                (1, b"220-Welcome\r\n"),
                (1, b"220 ready\r\n"),
                (0, b"AUTH TLS\r\n"),
                (1, b"234 go\r\n"),
            ],
        );
        assert_eq!(v, [Verdict::Pending; 4]);
        assert_eq!(r.master, Some("FTP_CONTROL"));
        let (v, r) = run(21, &[(0, b"FEAT\r\n"), (1, b"211 x\r\n"), (0, b"QUIT\r\n")]);
        assert_eq!(v.last(), Some(&Verdict::Done));
        assert_eq!(r.master, Some("FTP_CONTROL"));
    }

    #[test]
    fn control_rejects() {
        let reject =
            |port: u16, payloads: &[(u8, &[u8])]| assert_rejected(run(port, payloads), payloads);
        reject(21, &[(1, b"+OK\r\n")]);
        reject(21, &[(1, b"421 busy\r\n")]); // not a greeting
        reject(21, &[(1, b"220 mx ESMTP\r\n"), (0, b"EHLO me\r\n")]); // SMTP
        reject(21, &[(0, b"RETR x\r\n")]); // not an opening command
        reject(2121, &[(0, b"USER bob\r\n")]); // client first off port 21
        reject(21, &[(0, b"\x16\x03\x01\x00\x05hello")]);
    }

    #[test]
    fn data_listing() {
        for p in [
            &b"-rw-r--r--    1 0        0        1073741824000 Feb 19  2016 1000GB.zip\r\n"[..],
            b"drwxr-sr-x+ 2 ftp ftp 4096 Jan 1 00:00 pub\r\n",
            b"total 12\r\n-rw-r--r-- 1 a a 1 Jan 1 00:00 x\r\n",
        ] {
            let (verdict, r) = dissect_one(&FtpData, &packet(6, 1, 50695, 25685, p));
            assert_eq!(
                (verdict, r.master),
                (Verdict::Done, Some("FTP_DATA")),
                "{p:?}"
            );
        }
    }

    #[test]
    fn data_rejects() {
        for p in [
            &b"PK\x03\x04\x14\x00\x00\x00"[..], // a zip file
            b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            b"-rw-r--r--",         // cut
            b"-rwxr-xr-q 1 a\r\n", // permission
            b"xrw-r--r-- 1 a\r\n", // type
            b"total \r\n",
            b"total 12 blocks\r\n",
            b"HTTP/1.1 200 OK\r\n",
        ] {
            let (verdict, r) = dissect_one(&FtpData, &packet(6, 1, 50695, 25685, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::num::u8::ANY, 1..80),
                        b in proptest::collection::vec(proptest::num::u8::ANY, 1..80)) {
            let _ = run(21, &[(1, b"220 x\r\n"), (0, &a), (1, &b)]);
            let _ = run(21, &[(0, &a), (1, &b)]);
            let _ = dissect_one(&FtpData, &packet(6, 1, 1, 2, &a));
        }
    }
}
