//! NTP (RFC 5905; control and private modes of RFC 1305 and ntpd) over UDP 123: the first
//! byte's version (1-4) and mode, and the length the mode implies (48 bytes and more for
//! modes 1-5, a 12-byte header for mode 6, 8 or more for mode 7).
//!
//! It does *not* read timestamps or the reference id, nor NTS extension fields.
//!
//! State: none.

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "NTP";

/// The NTP port.
const PORT: u16 = 123;

/// Header length of modes 1-5.
const HEADER: usize = 48;

/// Largest datagram considered (header, extension fields, MAC).
const MAX_LEN: usize = 1024;

/// The NTP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ntp;

/// True when `p` looks like NTP by its first byte and length.
fn is_ntp(p: &[u8]) -> bool {
    let Some(&first) = p.first() else {
        return false;
    };
    let version = (first >> 3) & 0x07;
    let mode = first & 0x07;
    if !(1..=4).contains(&version) || p.len() > MAX_LEN {
        return false;
    }
    match mode {
        // Symmetric, client, server, broadcast: stratum 0-16 (RFC 5905 §7.3; 16 is
        // unsynchronised), a poll exponent within 0-17 (signed, some send small negatives).
        1..=5 => p.len() >= HEADER && p[1] <= 16 && (p[2] <= 17 || p[2] >= 0xf0),
        // Control (RFC 1305 appendix B): 12-byte header and its count of data bytes.
        6 => p.len() >= 12 && usize::from(u16::from_be_bytes([p[10], p[11]])) <= p.len() - 12,
        // Private (ntpdc): at least the 8-byte header.
        7 => p.len() >= 8 && version >= 2,
        _ => false,
    }
}

impl Dissector for Ntp {
    fn ports(&self) -> &'static [u16] {
        &[123]
    }

    fn name(&self) -> &'static str {
        "ntp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if (pkt.dst_port == PORT || pkt.src_port == PORT) && is_ntp(pkt.payload) {
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

    fn client() -> Vec<u8> {
        let mut v = vec![
            0x23, // LI 0, version 4, mode 3 (client)
            0x02, // stratum
            0x07, // poll
            0xeb, // precision
        ];
        v.resize(HEADER, 0);
        v
    }

    #[test]
    fn modes() {
        let f = feed(Ntp, 17, 123, 123, &[(0, &client())]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        let control = [0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]; // v2 mode 6 read status
        assert_eq!(
            feed(Ntp, 17, 40000, 123, &[(0, &control)]).result.master,
            Some(MASTER)
        );
        let private = [0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0]; // v2 mode 7
        assert_eq!(
            feed(Ntp, 17, 40000, 123, &[(0, &private)]).result.master,
            Some(MASTER)
        );
    }

    #[test]
    fn rejects() {
        assert!(
            feed(Ntp, 17, 1, 2, &[(0, &client())])
                .result
                .master
                .is_none()
        );
        let mut cases = Vec::new();
        let mut v = client();
        v[0] = 0x03; // version 0
        cases.push(v);
        let mut v = client();
        v[0] = 0x28; // mode 0
        cases.push(v);
        let mut v = client();
        v[1] = 17; // stratum
        cases.push(v);
        let mut v = client();
        v[2] = 40; // poll
        cases.push(v);
        cases.push(client()[..47].to_vec());
        cases.push(vec![0x23; MAX_LEN + 1]);
        cases.push(vec![0x16, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]); // control: count past the end
        cases.push(vec![0x0f, 0, 0, 0, 0, 0, 0, 0]); // private, version 1
        cases.push(vec![]);
        for (i, v) in cases.iter().enumerate() {
            let f = feed(Ntp, 17, 123, 123, &[(0, v)]);
            assert!(f.result.master.is_none(), "case {i}");
            assert!(f.done, "case {i}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = feed(Ntp, 17, 123, 123, &[(0, &a)]);
        }
    }
}
