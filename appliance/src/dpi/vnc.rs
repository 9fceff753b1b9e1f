//! VNC's Remote Framebuffer protocol (RFC 6143): nDPI's `VNC`.
//!
//! Owns recognising the ProtocolVersion handshake (RFC 6143 §7.1.1) that opens every RFB
//! connection, from the server and echoed by the client: exactly 12 bytes, `RFB xxx.yyy\n`
//! with three-digit major and minor versions. It records the version (`vnc_version`,
//! `003.008`).
//!
//! It does *not* follow the security handshake or anything after it. A flow whose first
//! payload is not a ProtocolVersion message is rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "VNC";

/// Recognises the RFB ProtocolVersion message.
#[derive(Debug, Default)]
pub struct Vnc;

impl Dissector for Vnc {
    fn ports(&self) -> &'static [u16] {
        &[5900, 5901]
    }

    fn name(&self) -> &'static str {
        "vnc"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let ok = p.len() == 12
            && p.starts_with(b"RFB ")
            && p[11] == b'\n'
            && p[7] == b'.'
            && p[4..7].iter().chain(&p[8..11]).all(u8::is_ascii_digit);
        if !ok {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        let version = String::from_utf8_lossy(&p[4..11]).into_owned();
        ctx.result().set_meta("vnc_version", version);
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    #[test]
    fn protocol_version() {
        let (verdict, r) = dissect_one(&Vnc, &packet(6, 1, 40000, 5900, b"RFB 003.008\n"));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("VNC")));
        assert_eq!(r.meta("vnc_version"), Some(&"003.008".into()));
    }

    #[test]
    fn rejects() {
        for p in [
            &b"RFB 003.008"[..], // short
            b"RFB 003.008\r\n",  // long
            b"RFB 003,008\n",    // separator
            b"RFB 0x3.008\n",    // digits
            b"RFC 003.008\n",    // magic
            b"RFB 003.008 ",     // line end
        ] {
            let (verdict, r) = dissect_one(&Vnc, &packet(6, 1, 1, 5900, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..20)) {
            let _ = dissect_one(&Vnc, &packet(6, 0, 1, 5900, &data));
        }
    }
}
