//! The HTTP/1.x and SSDP dissectors.
//!
//! [`Http`] claims a TCP flow whose first payload opens a request line with a known method
//! (or, for a flow caught mid-way, a status line), and reads the first request head and the
//! first response head, each gathered across segments when needed ([`HttpHeaderBuffer`]).
//! The master is nDPI's: `HTTP`; `HTTP_Proxy` for a request in absolute form (RFC 9112 §3.2.2,
//! what clients send to a proxy); `HTTP_Connect` for `CONNECT`; `WebSocket` for an
//! `Upgrade: websocket` handshake (RFC 6455 §4.1). RTSP shares HTTP's framing (RFC 2326 §6.1)
//! and some of its methods: its start lines are refused here, for `dpi::rtsp` to name.
//!
//! [`Ssdp`] claims a UDP flow on an SSDP start line (UPnP Device Architecture 2.0 §1.3) and
//! reads its `HOST` and `USER-AGENT`.

use super::{
    HttpError, HttpHeaderBuffer, HttpRequest, HttpResponse, Method, SsdpKind, media_type,
    parse_request, parse_response, parse_ssdp,
};
use crate::dpi::{Context, Dissector, DpiResult, Packet, Transports, Verdict};

/// The longest method token looked at (`PROPPATCH`, and RTSP's `SET_PARAMETER`).
const MAX_METHOD_LEN: usize = 13;

/// RTSP/1.0 methods that HTTP does not have (RFC 2326 §10).
const RTSP_METHODS: [&[u8]; 9] = [
    b"DESCRIBE",
    b"ANNOUNCE",
    b"SETUP",
    b"PLAY",
    b"PAUSE",
    b"TEARDOWN",
    b"GET_PARAMETER",
    b"SET_PARAMETER",
    b"RECORD",
];

/// What the first segment of a flow opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// An HTTP request line.
    Request,
    /// An HTTP status line.
    Response,
    /// An RTSP request or status line (not ours: `dpi::rtsp`'s).
    Rtsp,
    /// Neither.
    No,
}

/// The first line of `p`, as far as the segment goes (without its terminator).
fn first_line(p: &[u8]) -> &[u8] {
    let end = p.iter().position(|&b| b == b'\n').unwrap_or(p.len());
    let line = &p[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Classifies a flow's first payload without allocating: a status line (`HTTP/1.x `,
/// `RTSP/1.0 `) or a known method token followed by a space; an RTSP method, or an HTTP method
/// whose line ends in `RTSP/1.0`, is RTSP.
fn classify(p: &[u8]) -> Start {
    if p.starts_with(b"HTTP/1.0 ") || p.starts_with(b"HTTP/1.1 ") {
        return Start::Response;
    }
    if p.starts_with(b"RTSP/1.0 ") {
        return Start::Rtsp;
    }
    let Some(sp) = p.iter().take(MAX_METHOD_LEN + 1).position(|&b| b == b' ') else {
        return Start::No;
    };
    let token = &p[..sp];
    let rtsp_version = first_line(p).ends_with(b" RTSP/1.0");
    if RTSP_METHODS.contains(&token) {
        return if rtsp_version { Start::Rtsp } else { Start::No };
    }
    match Method::from_token(token) {
        Some(_) if rtsp_version => Start::Rtsp,
        Some(_) => Start::Request,
        None => Start::No,
    }
}

/// `host` without a `:port` suffix, ASCII lowercased (a bracketed IPv6 literal keeps its
/// brackets: `[2001:db8::1]:8080` gives `[2001:db8::1]`).
pub fn host_without_port(host: &[u8]) -> String {
    let end = if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host.len(), |i| i + 1)
    } else {
        host.iter().position(|&b| b == b':').unwrap_or(host.len())
    };
    String::from_utf8_lossy(&host[..end]).to_ascii_lowercase()
}

/// One direction of an HTTP flow.
#[derive(Debug, Default)]
struct Direction {
    /// Allocated only when a head does not fit in the first segment.
    buf: Option<HttpHeaderBuffer>,
    /// The head of this direction is read, or the direction is not HTTP: nothing more to do.
    over: bool,
}

/// Per-flow state of [`Http`]. Bound: two [`HttpHeaderBuffer`]s of
/// [`super::DEFAULT_HEADER_CAP`] (4 KiB), each allocated only when a head spans segments,
/// plus a few flags: at most 8.1 KiB per flow.
#[derive(Debug, Default)]
pub struct HttpFlow {
    dirs: [Direction; 2],
    request: bool,
    response: bool,
}

impl HttpFlow {
    fn is_complete(&self) -> bool {
        (self.request && self.response) || self.dirs.iter().all(|d| d.over)
    }
}

/// HTTP/1.x (`HTTP`, `HTTP_Proxy`, `HTTP_Connect`, `WebSocket`). State: [`HttpFlow`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Http;

impl Dissector for Http {
    fn ports(&self) -> &'static [u16] {
        &[80, 8080]
    }

    fn name(&self) -> &'static str {
        "http"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !ctx.is_identified() {
            match classify(pkt.payload) {
                Start::No | Start::Rtsp => return Verdict::Reject,
                Start::Request | Start::Response => ctx.identify("HTTP"),
            }
        }
        // Move the state out so that the result can be written meanwhile (a default
        // `HttpFlow` owns no buffer: no allocation).
        let mut st = std::mem::take(ctx.state::<HttpFlow>());
        on_segment(&mut st, usize::from(pkt.dir & 1), pkt.payload, ctx);
        let done = st.is_complete();
        *ctx.state::<HttpFlow>() = st;
        if done {
            Verdict::Done
        } else {
            Verdict::Pending
        }
    }
}

/// Feeds one segment to its direction: a request head or a response head, whichever it opens.
fn on_segment(st: &mut HttpFlow, dir: usize, payload: &[u8], ctx: &mut Context<'_>) {
    let d = &mut st.dirs[dir];
    if d.over {
        return;
    }
    if let Some(buf) = &mut d.buf {
        buf.push(payload);
    }
    let data: &[u8] = d.buf.as_ref().map_or(payload, |b| b.bytes());
    let full = d.buf.as_ref().is_some_and(|b| b.is_full());
    let is_response = data.starts_with(b"HTTP/");
    let outcome = if is_response {
        let r = match &d.buf {
            Some(b) => b.response(),
            None => parse_response(data),
        };
        r.map(|r| {
            if !st.response {
                st.response = true;
                response_fields(&r, ctx.result());
            }
        })
    } else {
        let r = match &d.buf {
            Some(b) => b.request(),
            None => parse_request(data),
        };
        r.map(|r| {
            if !st.request {
                st.request = true;
                request_fields(&r, ctx);
            }
        })
    };
    match outcome {
        Ok(()) => d.over = true,
        Err(HttpError::Incomplete) if !full => {
            if d.buf.is_none() {
                let mut buf = HttpHeaderBuffer::default();
                buf.push(payload);
                d.buf = Some(buf);
            }
        }
        Err(_) => d.over = true,
    }
    if d.over {
        // The head is read: free its buffer now rather than when dissection ends.
        d.buf = None;
    }
}

fn request_fields(r: &HttpRequest<'_>, ctx: &mut Context<'_>) {
    let upgrade = r
        .upgrade
        .is_some_and(|u| u.eq_ignore_ascii_case(b"websocket"));
    let absolute = r.target.len() > 7 && r.target[..7].eq_ignore_ascii_case(b"http://");
    // nDPI's masters for a handshake, a proxy request, a tunnel.
    if upgrade {
        ctx.identify("WebSocket");
    } else if r.method == Method::Connect {
        ctx.identify("HTTP_Connect");
    } else if absolute {
        ctx.identify("HTTP_Proxy");
    }
    let out = ctx.result();
    let host = r.host.map(host_without_port).unwrap_or_default();
    out.set_meta("http_method", r.method.as_str());
    // nDPI's URL is the host followed by the target (ndpiReader `[URL: host/path]`).
    let mut url = String::with_capacity(host.len() + r.target.len());
    if r.target.first() == Some(&b'/') {
        url.push_str(&host);
    }
    url.push_str(&String::from_utf8_lossy(r.target));
    out.set_meta("http_url", url);
    if !host.is_empty() {
        out.requested_server_name = host;
    }
    if let Some(ua) = r.user_agent {
        out.user_agent = String::from_utf8_lossy(ua).into_owned();
    }
}

fn response_fields(r: &HttpResponse<'_>, out: &mut DpiResult) {
    out.set_meta("http_status", r.status);
    if let Some(server) = r.server {
        out.set_meta("http_server", String::from_utf8_lossy(server).into_owned());
    }
    if let Some(ct) = r.content_type {
        out.content_type = String::from_utf8_lossy(media_type(ct)).into_owned();
    }
}

/// The SSDP port (UDA 2.0 §1.3.2).
const SSDP_PORT: u16 = 1900;

/// SSDP (`SSDP`): searches and announcements on any port, search responses when a port is
/// 1900. Stateless: the first datagram tells everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ssdp;

impl Dissector for Ssdp {
    fn ports(&self) -> &'static [u16] {
        &[1900]
    }

    fn name(&self) -> &'static str {
        "ssdp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        // Cheap first-byte test before any parsing: `M-SEARCH`, `NOTIFY`, `HTTP/1.1`.
        if !matches!(p.first(), Some(b'M' | b'N' | b'H')) {
            return if ctx.is_identified() {
                Verdict::Pending
            } else {
                Verdict::Reject
            };
        }
        let msg = match parse_ssdp(p) {
            Ok(m) if m.kind != SsdpKind::Response || pkt.has_port(SSDP_PORT) => m,
            _ if ctx.is_identified() => return Verdict::Pending,
            _ => return Verdict::Reject,
        };
        ctx.identify("SSDP");
        let out = ctx.result();
        if let Some(host) = msg.host {
            out.requested_server_name = host_without_port(host);
        }
        if let Some(ua) = msg.user_agent {
            out.user_agent = String::from_utf8_lossy(ua).into_owned();
        }
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::dns::captures::feed;
    use crate::dpi::{FlowDpi, Value};

    const TCP: u8 = 6;
    const REQUEST: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\n\
        Host: WWW.Example.com:8080\r\n\
        User-Agent: curl/8.0\r\n\
        Accept: */*\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
        Server: nginx\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        Content-Length: 0\r\n\r\n";

    fn meta<'a>(f: &'a FlowDpi, name: &str) -> Option<&'a Value> {
        f.result.meta(name)
    }

    fn http(packets: &[(u8, &[u8])]) -> Box<FlowDpi> {
        feed(Box::new(Http), (TCP, 40000, 80), packets)
    }

    #[test]
    fn request_and_response() {
        let f = http(&[(0, REQUEST), (1, RESPONSE)]);
        assert!(f.is_done());
        let r = &f.result;
        assert_eq!(r.master, Some("HTTP"));
        assert_eq!(r.requested_server_name, "www.example.com");
        assert_eq!(r.user_agent, "curl/8.0");
        assert_eq!(r.content_type, "text/html");
        assert_eq!(meta(&f, "http_method"), Some(&Value::from("GET")));
        assert_eq!(
            meta(&f, "http_url"),
            Some(&Value::from("www.example.com/index.html?q=1"))
        );
        assert_eq!(meta(&f, "http_status"), Some(&Value::Int(200)));
        assert_eq!(meta(&f, "http_server"), Some(&Value::from("nginx")));
    }

    #[test]
    fn heads_across_segments() {
        let (a, b) = REQUEST.split_at(20);
        let (c, d) = RESPONSE.split_at(30);
        let f = http(&[(0, a), (0, b), (1, c)]);
        assert!(!f.is_done());
        assert_eq!(f.result.requested_server_name, "www.example.com");
        let f = http(&[(0, a), (0, b), (1, c), (1, d)]);
        assert!(f.is_done());
        assert_eq!(f.result.content_type, "text/html");
    }

    #[test]
    fn flow_caught_at_its_response() {
        let f = http(&[(0, RESPONSE)]);
        assert_eq!(f.result.master, Some("HTTP"));
        assert_eq!(meta(&f, "http_status"), Some(&Value::Int(200)));
        // The other direction is not HTTP: the flow is done.
        let f = http(&[(0, RESPONSE), (1, b"\x00\x01binary")]);
        assert!(f.is_done());
    }

    #[test]
    fn other_masters() {
        let ws = b"GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(http(&[(0, ws)]).result.master, Some("WebSocket"));
        let proxy = b"GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n";
        let f = http(&[(0, proxy)]);
        assert_eq!(f.result.master, Some("HTTP_Proxy"));
        assert_eq!(meta(&f, "http_url"), Some(&Value::from("http://a.test/x")));
        let connect = b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n";
        let f = http(&[(0, connect)]);
        assert_eq!(f.result.master, Some("HTTP_Connect"));
        assert_eq!(f.result.requested_server_name, "a.test");
        // RTSP is left to its own dissector, even with a method HTTP shares.
        for rtsp in [
            &b"OPTIONS rtsp://a.test/s RTSP/1.0\r\nCSeq: 1\r\n\r\n"[..],
            b"DESCRIBE rtsp://a.test/s RTSP/1.0\r\n",
            b"RTSP/1.0 200 OK\r\n",
        ] {
            let f = http(&[(0, rtsp)]);
            assert_eq!(f.result.master, None);
            assert!(f.is_done());
        }
    }

    #[test]
    fn host_forms() {
        assert_eq!(host_without_port(b"A.test:80"), "a.test");
        assert_eq!(host_without_port(b"[2001:DB8::1]:8080"), "[2001:db8::1]");
        assert_eq!(host_without_port(b"[::1"), "[::1");
        assert_eq!(
            host_without_port(b"239.255.255.250:1900"),
            "239.255.255.250"
        );
    }

    #[test]
    fn rejects() {
        let cases: [&[u8]; 8] = [
            b"\x16\x03\x01\x02\x00",         // TLS
            b"SSH-2.0-OpenSSH\r\n",          // SSH
            b"get / HTTP/1.1\r\n",           // methods are case-sensitive
            b"GETX / HTTP/1.1\r\n",          // unknown method
            b"GET",                          // no space after the token
            b"PROPPATCHXYZW / HTTP/1.1\r\n", // token longer than any method
            b"DESCRIBE / HTTP/1.1\r\n",      // an RTSP method in HTTP
            b"HTTP/2 200\r\n",               // not HTTP/1.x
        ];
        for p in cases {
            let f = http(&[(0, p)]);
            assert!(f.is_done(), "{p:?}");
            assert_eq!(f.result.master, None, "{p:?}");
        }
        // A request line that turns out malformed ends its direction, not the identification:
        // the response is still read.
        let bad: &[u8] = b"GET  HTTP/1.1\r\n\r\n";
        let f = http(&[(0, bad)]);
        assert_eq!(f.result.master, Some("HTTP"));
        assert!(!f.is_done());
        let f = http(&[(0, bad), (1, RESPONSE)]);
        assert!(f.is_done());
        assert_eq!(f.result.content_type, "text/html");
    }

    #[test]
    fn ssdp() {
        let search = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\
            MAN: \"ssdp:discover\"\r\nUSER-AGENT: Chromium/1\r\n\r\n";
        let f = feed(Box::new(Ssdp), (17, 50000, 1900), &[(0, search)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("SSDP"));
        assert_eq!(f.result.requested_server_name, "239.255.255.250");
        assert_eq!(f.result.user_agent, "Chromium/1");
        let notify = b"NOTIFY * HTTP/1.1\r\nHost: [FF02::C]:1900\r\nNTS: ssdp:alive\r\n";
        let f = feed(Box::new(Ssdp), (17, 1900, 1900), &[(0, notify)]);
        assert_eq!(f.result.requested_server_name, "[ff02::c]");
        let ok = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n";
        let f = feed(Box::new(Ssdp), (17, 1900, 50000), &[(0, ok)]);
        assert_eq!(f.result.master, Some("SSDP"));
        // Rejects: a response off port 1900, another method, another first byte, no line end.
        for (port, p) in [
            (8080, &ok[..]),
            (1900, b"GET / HTTP/1.1\r\n"),
            (1900, b"NOTIFY /x HTTP/1.1\r\n"),
            (1900, b"\x00\x01"),
            (1900, b"M-SEARCH * HTTP/1.1"),
        ] {
            let f = feed(Box::new(Ssdp), (17, 50000, port), &[(0, p)]);
            assert_eq!(f.result.master, None, "{p:?}");
            assert!(f.is_done(), "{p:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_segments_never_panic(
            segs in proptest::collection::vec(
                (0u8..2, proptest::collection::vec(proptest::num::u8::ANY, 1..300)), 1..6),
            request_first in proptest::bool::ANY,
        ) {
            let mut packets: Vec<(u8, &[u8])> = Vec::new();
            if request_first {
                packets.push((0, &REQUEST[..25]));
            }
            packets.extend(segs.iter().map(|(d, p)| (*d, p.as_slice())));
            let _ = http(&packets);
            let _ = feed(Box::new(Ssdp), (17, 40000, 1900), &packets);
            let _ = feed(Box::new(super::super::WebSocket), (TCP, 40000, 80), &packets);
        }
    }
}
