//! Telnet option negotiation (RFC 854, RFC 855): nDPI's `Telnet`.
//!
//! Owns recognising a first payload made only of Telnet commands: `IAC WILL / WONT / DO /
//! DONT option` (RFC 854 "The Telnet Command Structure") and subnegotiations `IAC SB ... IAC
//! SE` (RFC 855), as both ends send them when a session opens. Such a payload is strong
//! evidence when it holds two commands or more, or one on the Telnet port.
//!
//! It does *not* follow the session or read the terminal text (nor log-in prompts); servers
//! that send text before negotiating are not recognised. A flow whose first payload is not
//! negotiation is rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "Telnet";

/// The Telnet port.
const PORT: u16 = 23;

/// Telnet command codes (RFC 854).
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;

/// Longest subnegotiation accepted (terminal type, window size... are short).
const MAX_SB: usize = 256;

/// Recognises Telnet option negotiation.
#[derive(Debug, Default)]
pub struct Telnet;

impl Dissector for Telnet {
    fn ports(&self) -> &'static [u16] {
        &[23]
    }

    fn name(&self) -> &'static str {
        "telnet"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        match commands(pkt.payload) {
            Some(n) if n >= 2 || pkt.has_port(PORT) => {
                ctx.identify(MASTER);
                Verdict::Done
            }
            _ => Verdict::Reject,
        }
    }
}

/// How many commands `p` consists of, when it is nothing but negotiation.
fn commands(p: &[u8]) -> Option<usize> {
    let mut rest = p;
    let mut n = 0;
    while !rest.is_empty() {
        match rest {
            // WILL, WONT, DO, DONT + option.
            [IAC, 251..=254, _, tail @ ..] => rest = tail,
            [IAC, SB, body @ ..] => {
                let end = body.windows(2).take(MAX_SB).position(|w| w == [IAC, SE])?;
                rest = &body[end + 2..];
            }
            _ => return None,
        }
        n += 1;
    }
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    #[test]
    fn negotiation() {
        #[rustfmt::skip]
        let p = [
            0xff, 0xfd, 0x18,                   // DO TERMINAL-TYPE
            0xff, 0xfd, 0x20,                   // DO TERMINAL-SPEED
            0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0, // SB TERMINAL-TYPE SEND SE
        ];
        let (verdict, r) = dissect_one(&Telnet, &packet(6, 1, 40000, 2323, &p));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("Telnet")));
        let (verdict, _) = dissect_one(&Telnet, &packet(6, 1, 40000, 23, &p[..3]));
        assert_eq!(verdict, Verdict::Done, "one command on port 23");
    }

    #[test]
    fn rejects() {
        for p in [
            &[0xff, 0xfd, 0x18][..],         // one command off port 23
            &[0xff, 0xfd],                   // cut
            &[0xff, 0xfa, 0x18, 0x01, 0xff], // unterminated subnegotiation
            &[0xff, 0xf1, 0xff, 0xf1],       // NOP: not a negotiation
            b"login: ",
            &[0xff, 0xfd, 0x18, b'x'],
        ] {
            let (verdict, r) = dissect_one(&Telnet, &packet(6, 1, 40000, 2323, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..60)) {
            let _ = dissect_one(&Telnet, &packet(6, 0, 1, 23, &data));
        }
    }
}
