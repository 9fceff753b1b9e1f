//! Syslog (RFC 5424, the BSD format of RFC 3164) on port 514 (UDP, and TCP as rsyslog sends
//! it, RFC 6587): a message that opens with its priority, `<PRI>`, 0-191, one to three digits
//! without a leading zero, followed by printable text.
//!
//! It does *not* parse headers (timestamp, host, app), nor syslog over TLS (6514).
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "Syslog";

/// The syslog port.
const PORT: u16 = 514;

/// Highest priority: facility 23 × 8 + severity 7.
const MAX_PRI: u16 = 191;

/// The Syslog dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Syslog;

/// True when `p` opens with a valid `<PRI>` and a printable character after it.
fn is_syslog(p: &[u8]) -> bool {
    let Some(rest) = p.strip_prefix(b"<") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) || (digits > 1 && rest[0] == b'0') {
        return false;
    }
    let pri = rest[..digits]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    pri <= MAX_PRI
        && rest.get(digits) == Some(&b'>')
        && rest
            .get(digits + 1)
            .is_some_and(|b| b.is_ascii_graphic() || *b == b' ')
}

impl Dissector for Syslog {
    fn ports(&self) -> &'static [u16] {
        &[514]
    }

    fn name(&self) -> &'static str {
        "syslog"
    }

    fn transports(&self) -> Transports {
        Transports::Both
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if (pkt.dst_port == PORT || pkt.src_port == PORT) && is_syslog(pkt.payload) {
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

    #[test]
    fn messages() {
        for m in [
            &b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"[..],
            b"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - msg",
            b"<0>kernel panic",
        ] {
            let f = feed(Syslog, 17, 40000, 514, &[(0, m)]);
            assert_eq!(f.result.master, Some(MASTER));
            assert!(f.done);
        }
        assert_eq!(
            feed(Syslog, 6, 40000, 514, &[(0, b"<13>x")]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Syslog, 17, 1, 2, &[(0, b"<34>x")])
                .result
                .master
                .is_none()
        );
        for m in [
            &b"34>x"[..],
            b"<>x",
            b"<192>x",
            b"<1000>x",
            b"<034>x",
            b"<34x",
            b"<34>",
            b"<34>\x01",
        ] {
            let f = feed(Syslog, 17, 40000, 514, &[(0, m)]);
            assert!(f.result.master.is_none(), "{m:?}");
            assert!(f.done);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20)) {
            let _ = feed(Syslog, 17, 514, 514, &[(0, &a)]);
            let mut v = b"<".to_vec();
            v.extend_from_slice(&a);
            let _ = feed(Syslog, 17, 514, 514, &[(0, &v)]);
        }
    }
}
