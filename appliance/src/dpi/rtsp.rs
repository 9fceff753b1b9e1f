//! RTSP 1.0 (RFC 2326) and 2.0 (RFC 7826) over TCP: nDPI's `RTSP`.
//!
//! Owns recognising the first line of a flow: a request line `Method SP Request-URI SP
//! RTSP-Version` (RFC 2326 §6.1) with one of RTSP's methods (§10) and version `RTSP/1.0` or
//! `RTSP/2.0`, or a status line starting with that version (§7.1). It records the request's
//! method (`rtsp_method`).
//!
//! It does *not* read headers, SDP bodies, or the RTP streams RTSP sets up, nor RTSP over
//! UDP or interleaved in HTTP. A flow whose first payload is not an RTSP start line is
//! rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::line::{first_line, is_one_of};
use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "RTSP";

/// RTSP methods (RFC 2326 §10, RFC 7826 §13).
const METHODS: [&str; 11] = [
    "OPTIONS",
    "DESCRIBE",
    "ANNOUNCE",
    "SETUP",
    "PLAY",
    "PAUSE",
    "TEARDOWN",
    "GET_PARAMETER",
    "SET_PARAMETER",
    "REDIRECT",
    "RECORD",
];

/// Recognises RTSP request and status lines.
#[derive(Debug, Default)]
pub struct Rtsp;

impl Dissector for Rtsp {
    fn ports(&self) -> &'static [u16] {
        &[554]
    }

    fn name(&self) -> &'static str {
        "rtsp"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        // Cheap first-byte test: methods are upper case, a status line starts with 'R'.
        if !p.first().is_some_and(u8::is_ascii_uppercase) {
            return Verdict::Reject;
        }
        let Some(line) = first_line(p) else {
            return Verdict::Reject;
        };
        let is_version = |v: &[u8]| v == b"RTSP/1.0" || v == b"RTSP/2.0";
        let mut words = line.split(|&b| b == b' ');
        let first = words.next().unwrap_or_default();
        if is_version(first) {
            ctx.identify(MASTER);
            return Verdict::Done;
        }
        let (uri, version) = (words.next(), words.next());
        if !is_one_of(first, &METHODS)
            || uri.is_none_or(<[u8]>::is_empty)
            || !version.is_some_and(is_version)
            || words.next().is_some()
        {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        let method = String::from_utf8_lossy(first).into_owned();
        ctx.result().set_meta("rtsp_method", method);
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    #[test]
    fn request_and_status() {
        let req = b"OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n";
        let (verdict, r) = dissect_one(&Rtsp, &packet(6, 0, 40000, 554, req));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("RTSP")));
        assert_eq!(r.meta("rtsp_method"), Some(&"OPTIONS".into()));
        let status = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n";
        let (verdict, r) = dissect_one(&Rtsp, &packet(6, 1, 40000, 554, status));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("RTSP")));
    }

    #[test]
    fn rejects() {
        for p in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"OPTIONS * HTTP/1.1\r\n",
            b"PLAY rtsp://x RTSP/1.0", // no line end
            b"PLAY  RTSP/1.0\r\n",     // empty URI
            b"PLAY rtsp://x RTSP/1.0 extra\r\n",
            b"rtsp/1.0 200 OK\r\n",
            b"\x16\x03\x01",
        ] {
            let (verdict, r) = dissect_one(&Rtsp, &packet(6, 0, 40000, 554, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..60)) {
            let mut p = b"SETUP ".to_vec();
            p.extend_from_slice(&data);
            let _ = dissect_one(&Rtsp, &packet(6, 0, 1, 554, &p));
        }
    }
}
