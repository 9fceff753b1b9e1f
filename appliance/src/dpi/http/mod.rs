//! HTTP/1.0 and HTTP/1.1 message heads (RFC 9112): the request line or status line and the
//! few header fields a flow record keeps.
//!
//! Owns the start line (RFC 9112 §3, §4), the header section up to the empty line (§2.1, §5),
//! a byte-capped buffer to gather a head split over several segments ([`HttpHeaderBuffer`]),
//! and SSDP's HTTP-over-UDP heads ([`parse_ssdp`]). The dissectors built on them ([`Http`],
//! [`Ssdp`], and [`WebSocket`] for frames caught without their handshake) are in
//! `dissector.rs` and `websocket.rs`.
//!
//! It does *not* read bodies, chunked coding, HTTP/2 or HTTP/0.9, and does not follow a
//! connection past its first request and first response.
//!
//! # Contract
//!
//! [`parse_request`] and [`parse_response`] never panic, never allocate and return views
//! borrowed from the payload. Values are raw bytes (RFC 9110 §5.5 allows obs-text, which need
//! not be UTF-8), with surrounding spaces and tabs trimmed.
//!
//! # Fields and their nfstream names
//!
//! nfstream (nDPI) exports `requested_server_name` = the request's `Host`, `user_agent` =
//! `User-Agent` and `content_type` = the media type of `Content-Type` ([`media_type`]; ndpiReader prints the response's, e.g.
//! `http_auth.pcap`: `[Content-Type: text/html]`), and ndpiReader `[URL: host + target]`,
//! `[StatusCode: ...]`. Field names match case-insensitively (RFC 9110 §5.1); when a field
//! repeats, the first one wins.
//!
//! # Leniency
//!
//! A probe sees what servers accept, so: a bare LF ends a line as CRLF does (RFC 9112 §2.2
//! allows it); a line without a colon in the header section is skipped rather than
//! rejected; obsolete line folding (a line starting with space or tab, §5.2) is ignored, so a
//! folded value keeps its first line only.

use super::CappedBuffer;

/// Why a payload is not an HTTP/1.x message head. `Copy`, to index a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HttpError {
    /// The head is not finished (no empty line yet): feed more bytes, up to a cap.
    Incomplete,
    /// The request does not start with a known method followed by a space.
    UnknownMethod,
    /// The start line is malformed (missing or empty request-target, bad spacing, bad status
    /// code).
    BadStartLine,
    /// The version is not `HTTP/1.0` or `HTTP/1.1`.
    BadVersion,
}

impl HttpError {
    /// A short stable label for metrics.
    pub fn as_label(self) -> &'static str {
        match self {
            HttpError::Incomplete => "http_incomplete",
            HttpError::UnknownMethod => "http_unknown_method",
            HttpError::BadStartLine => "http_bad_start_line",
            HttpError::BadVersion => "http_bad_version",
        }
    }
}

/// Request methods recognised (RFC 9110 §9, RFC 5789 PATCH, and the WebDAV methods of
/// RFC 4918 seen on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// `PROPFIND`
    Propfind,
    /// `PROPPATCH`
    Proppatch,
    /// `MKCOL`
    Mkcol,
    /// `COPY`
    Copy,
    /// `MOVE`
    Move,
    /// `LOCK`
    Lock,
    /// `UNLOCK`
    Unlock,
}

impl Method {
    /// Every method, for lookup.
    const ALL: [Method; 16] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
        Method::Propfind,
        Method::Proppatch,
        Method::Mkcol,
        Method::Copy,
        Method::Move,
        Method::Lock,
        Method::Unlock,
    ];

    /// The method token (methods are case-sensitive, RFC 9110 §9.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Propfind => "PROPFIND",
            Method::Proppatch => "PROPPATCH",
            Method::Mkcol => "MKCOL",
            Method::Copy => "COPY",
            Method::Move => "MOVE",
            Method::Lock => "LOCK",
            Method::Unlock => "UNLOCK",
        }
    }

    /// The method named by `token`, if known.
    pub fn from_token(token: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == token)
    }
}

/// Protocol version of a message head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

impl Version {
    fn parse(token: &[u8]) -> Result<Version, HttpError> {
        match token {
            b"HTTP/1.1" => Ok(Version::Http11),
            b"HTTP/1.0" => Ok(Version::Http10),
            _ => Err(HttpError::BadVersion),
        }
    }
}

/// A request head (RFC 9112 §3), borrowed from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// The method.
    pub method: Method,
    /// The request-target as sent (origin form `/path?q`, absolute form, `host:port` for
    /// CONNECT, or `*`).
    pub target: &'a [u8],
    /// The version.
    pub version: Version,
    /// `Host`, trimmed.
    pub host: Option<&'a [u8]>,
    /// `User-Agent`, trimmed.
    pub user_agent: Option<&'a [u8]>,
    /// `Content-Type`, trimmed.
    pub content_type: Option<&'a [u8]>,
    /// `Upgrade`, trimmed (RFC 9110 §7.8; `websocket` for RFC 6455 §4.1).
    pub upgrade: Option<&'a [u8]>,
    /// False when the head was cut (only from [`HttpHeaderBuffer`] once full): the fields are
    /// those of the complete lines before the cut.
    pub complete: bool,
}

/// A response head (RFC 9112 §4), borrowed from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// The version.
    pub version: Version,
    /// The three-digit status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: &'a [u8],
    /// `Server`, trimmed.
    pub server: Option<&'a [u8]>,
    /// `Content-Type`, trimmed.
    pub content_type: Option<&'a [u8]>,
    /// As [`HttpRequest::complete`].
    pub complete: bool,
}

/// Parses a request head at the start of `payload`.
///
/// # Errors
///
/// [`HttpError::Incomplete`] until the empty line that ends the head is there (a request line
/// alone that is already malformed is rejected at once); otherwise what is wrong.
pub fn parse_request(payload: &[u8]) -> Result<HttpRequest<'_>, HttpError> {
    parse_request_head(payload, false)
}

/// Parses a response head at the start of `payload`.
///
/// # Errors
///
/// As [`parse_request`].
pub fn parse_response(payload: &[u8]) -> Result<HttpResponse<'_>, HttpError> {
    parse_response_head(payload, false)
}

/// The lines of a head: yields each line without its terminator, and tells whether the empty
/// line was reached.
struct Lines<'a> {
    rest: &'a [u8],
    ended: bool,
}

impl<'a> Lines<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Lines {
            rest: buf,
            ended: false,
        }
    }

    /// The next complete line, `None` at the empty line or when no terminator is left.
    fn next_line(&mut self) -> Option<&'a [u8]> {
        if self.ended {
            return None;
        }
        let nl = self.rest.iter().position(|&b| b == b'\n')?;
        let line = &self.rest[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.rest = &self.rest[nl + 1..];
        if line.is_empty() {
            self.ended = true;
            return None;
        }
        Some(line)
    }
}

/// Fields of a header section that the callers keep.
#[derive(Default)]
struct Fields<'a> {
    host: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    server: Option<&'a [u8]>,
    upgrade: Option<&'a [u8]>,
}

/// Reads header lines until the empty line; `Ok(true)` if it was reached, `Ok(false)` if the
/// buffer ended first and `partial` allows it.
fn read_fields<'a>(
    lines: &mut Lines<'a>,
    f: &mut Fields<'a>,
    partial: bool,
) -> Result<bool, HttpError> {
    while let Some(line) = lines.next_line() {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue; // obs-fold
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        let slot = if name.eq_ignore_ascii_case(b"host") {
            &mut f.host
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            &mut f.user_agent
        } else if name.eq_ignore_ascii_case(b"content-type") {
            &mut f.content_type
        } else if name.eq_ignore_ascii_case(b"server") {
            &mut f.server
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            &mut f.upgrade
        } else {
            continue;
        };
        slot.get_or_insert(value);
    }
    match (lines.ended, partial) {
        (true, _) => Ok(true),
        (false, true) => Ok(false),
        (false, false) => Err(HttpError::Incomplete),
    }
}

/// Trims spaces and tabs (RFC 9110 §5.5 OWS).
fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The start line, or `Incomplete` when its terminator is missing (after checking what is
/// there, so garbage is rejected early).
fn start_line<'a>(
    lines: &mut Lines<'a>,
    check: impl Fn(&[u8]) -> bool,
) -> Result<&'a [u8], HttpError> {
    let buf = lines.rest;
    match lines.next_line() {
        Some(l) => Ok(l),
        None if lines.ended => Err(HttpError::BadStartLine),
        None if check(buf) => Err(HttpError::Incomplete),
        None => Err(HttpError::UnknownMethod),
    }
}

/// Could `buf` (an unfinished first line) still become a request line?
fn could_be_request(buf: &[u8]) -> bool {
    let token_end = buf.iter().position(|&b| b == b' ').unwrap_or(buf.len());
    let token = &buf[..token_end];
    Method::ALL.into_iter().any(|m| {
        let name = m.as_str().as_bytes();
        if token_end == buf.len() {
            name.starts_with(token)
        } else {
            name == token
        }
    })
}

fn parse_request_head(buf: &[u8], partial: bool) -> Result<HttpRequest<'_>, HttpError> {
    let mut lines = Lines::new(buf);
    let line = start_line(&mut lines, could_be_request)?;
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts
        .next()
        .and_then(Method::from_token)
        .ok_or(HttpError::UnknownMethod)?;
    let target = parts.next().ok_or(HttpError::BadStartLine)?;
    let version = parts.next().ok_or(HttpError::BadStartLine)?;
    if target.is_empty() {
        return Err(HttpError::BadStartLine);
    }
    let version = Version::parse(version)?;
    let mut f = Fields::default();
    let complete = read_fields(&mut lines, &mut f, partial)?;
    Ok(HttpRequest {
        method,
        target,
        version,
        host: f.host,
        user_agent: f.user_agent,
        content_type: f.content_type,
        upgrade: f.upgrade,
        complete,
    })
}

fn parse_response_head(buf: &[u8], partial: bool) -> Result<HttpResponse<'_>, HttpError> {
    let mut lines = Lines::new(buf);
    let prefix = |b: &[u8]| {
        let n = b.len().min(5);
        b[..n] == b"HTTP/"[..n]
    };
    let line = start_line(&mut lines, prefix).map_err(|e| match e {
        HttpError::UnknownMethod => HttpError::BadVersion,
        e => e,
    })?;
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = Version::parse(parts.next().unwrap_or_default())?;
    let code = parts.next().ok_or(HttpError::BadStartLine)?;
    let status = match code {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(HttpError::BadStartLine),
    };
    let reason = parts.next().unwrap_or_default();
    let mut f = Fields::default();
    let complete = read_fields(&mut lines, &mut f, partial)?;
    Ok(HttpResponse {
        version,
        status,
        reason,
        server: f.server,
        content_type: f.content_type,
        complete,
    })
}

/// The kind of an SSDP message (UPnP Device Architecture 2.0 §1.3: HTTP over UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsdpKind {
    /// `M-SEARCH * HTTP/1.1`: a search.
    MSearch,
    /// `NOTIFY * HTTP/1.1`: an announcement (`ssdp:alive`, `ssdp:byebye`).
    Notify,
    /// `HTTP/1.1 200 OK`: a search response.
    Response,
}

/// An SSDP message head, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SsdpMessage<'a> {
    /// Search, announcement or response.
    pub kind: SsdpKind,
    /// `HOST`, trimmed (`239.255.255.250:1900`).
    pub host: Option<&'a [u8]>,
    /// `USER-AGENT`, trimmed.
    pub user_agent: Option<&'a [u8]>,
    /// `SERVER`, trimmed.
    pub server: Option<&'a [u8]>,
}

/// Parses an SSDP datagram: the start line (exactly `M-SEARCH * HTTP/1.1`, `NOTIFY *
/// HTTP/1.1` or `HTTP/1.1 200 OK`, as UDA 2.0 §1.3.2 requires) and the header fields of the
/// complete lines after it (a datagram cut before the empty line still yields those).
///
/// # Errors
///
/// [`HttpError::BadStartLine`] for any other first line, [`HttpError::Incomplete`] when the
/// first line has no end.
pub fn parse_ssdp(payload: &[u8]) -> Result<SsdpMessage<'_>, HttpError> {
    let mut lines = Lines::new(payload);
    let line = lines.next_line().ok_or(HttpError::Incomplete)?;
    let kind = match line {
        b"M-SEARCH * HTTP/1.1" => SsdpKind::MSearch,
        b"NOTIFY * HTTP/1.1" => SsdpKind::Notify,
        _ if line.starts_with(b"HTTP/1.1 200") => SsdpKind::Response,
        _ => return Err(HttpError::BadStartLine),
    };
    let mut f = Fields::default();
    read_fields(&mut lines, &mut f, true)?;
    Ok(SsdpMessage {
        kind,
        host: f.host,
        user_agent: f.user_agent,
        server: f.server,
    })
}

/// The media type of a `Content-Type` value: what comes before any `;` parameter, trimmed
/// (RFC 9110 §8.3.1). nfstream's `content_type` is this (`WebattackSQLinj.pcap`:
/// `text/html;charset=utf-8` on the wire, `text/html` in ndpiReader's output).
pub fn media_type(content_type: &[u8]) -> &[u8] {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    trim(&content_type[..end])
}

/// Default cap of [`HttpHeaderBuffer`]: 4 KiB holds the head of nearly every request.
pub const DEFAULT_HEADER_CAP: usize = 4096;

/// Gathers one direction's message head across TCP segments, up to a fixed number of bytes
/// (allocated once by [`HttpHeaderBuffer::new`]). Once full, [`HttpHeaderBuffer::request`]
/// and [`HttpHeaderBuffer::response`] parse what fits, with `complete = false`, instead of
/// answering [`HttpError::Incomplete`].
///
/// Segments must be pushed in order, without gaps.
#[derive(Clone, Debug)]
pub struct HttpHeaderBuffer(CappedBuffer);

impl std::ops::Deref for HttpHeaderBuffer {
    type Target = CappedBuffer;
    fn deref(&self) -> &CappedBuffer {
        &self.0
    }
}

impl std::ops::DerefMut for HttpHeaderBuffer {
    fn deref_mut(&mut self) -> &mut CappedBuffer {
        &mut self.0
    }
}

impl Default for HttpHeaderBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_HEADER_CAP)
    }
}

impl HttpHeaderBuffer {
    /// A buffer holding at most `cap` bytes (push, read and clear it through
    /// [`CappedBuffer`]).
    pub fn new(cap: usize) -> Self {
        HttpHeaderBuffer(CappedBuffer::new(cap))
    }

    /// Parses the gathered bytes as a request head.
    ///
    /// # Errors
    ///
    /// As [`parse_request`], except that a full buffer is never [`HttpError::Incomplete`].
    pub fn request(&self) -> Result<HttpRequest<'_>, HttpError> {
        parse_request_head(self.bytes(), self.is_full())
    }

    /// Parses the gathered bytes as a response head.
    ///
    /// # Errors
    ///
    /// As [`parse_response`], except that a full buffer is never [`HttpError::Incomplete`].
    pub fn response(&self) -> Result<HttpResponse<'_>, HttpError> {
        parse_response_head(self.bytes(), self.is_full())
    }
}

mod dissector;
mod websocket;
pub use self::dissector::{Http, HttpFlow, Ssdp, host_without_port};
pub use self::websocket::{WebSocket, WebSocketFlow};

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /search/?q=x HTTP/1.1\r\n\
        host:  www.example.net \r\n\
        User-Agent: Mozilla/5.0 (X11)\r\n\
        Accept: */*\r\n\
        CONTENT-TYPE:\ttext/plain\r\n\
        Host: second.example\r\n\
        \r\n\
        body";

    const RESPONSE: &[u8] = b"HTTP/1.0 401 Unauthorized\r\n\
        Server: Apache/2.2\r\n\
        X-Folded: a\r\n  b\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        \r\n";

    #[test]
    fn request_fields() {
        let r = parse_request(REQUEST).unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.target, b"/search/?q=x");
        assert_eq!(r.version, Version::Http11);
        assert_eq!(r.host, Some(&b"www.example.net"[..]));
        assert_eq!(r.user_agent, Some(&b"Mozilla/5.0 (X11)"[..]));
        assert_eq!(r.content_type, Some(&b"text/plain"[..]));
        assert!(r.complete);
    }

    #[test]
    fn response_fields() {
        let r = parse_response(RESPONSE).unwrap();
        assert_eq!(r.version, Version::Http10);
        assert_eq!(r.status, 401);
        assert_eq!(r.reason, b"Unauthorized");
        assert_eq!(r.server, Some(&b"Apache/2.2"[..]));
        assert_eq!(r.content_type, Some(&b"text/html; charset=utf-8"[..]));
        assert!(r.complete);
    }

    #[test]
    fn bare_lf_and_no_fields() {
        let r = parse_request(b"POST / HTTP/1.0\nx\n\n").unwrap();
        assert_eq!((r.method, r.host, r.user_agent), (Method::Post, None, None));
        let r = parse_response(b"HTTP/1.1 204\r\n\r\n").unwrap();
        assert_eq!((r.status, r.reason), (204, &b""[..]));
    }

    #[test]
    fn every_method() {
        for m in Method::ALL {
            let line = format!("{} * HTTP/1.1\r\n\r\n", m.as_str());
            assert_eq!(parse_request(line.as_bytes()).unwrap().method, m);
        }
        assert_eq!(Method::from_token(b"get"), None);
    }

    #[test]
    fn incomplete() {
        for cut in [0, 1, 3, 4, 10, 26, 40, REQUEST.len() - 8] {
            assert_eq!(
                parse_request(&REQUEST[..cut]).unwrap_err(),
                HttpError::Incomplete,
                "cut at {cut}"
            );
        }
        for cut in [0, 4, 5, 12, 30] {
            assert_eq!(
                parse_response(&RESPONSE[..cut]).unwrap_err(),
                HttpError::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn rejects() {
        let cases: [(&[u8], HttpError); 9] = [
            (b"FOO / HTTP/1.1\r\n\r\n", HttpError::UnknownMethod),
            (b"GETX", HttpError::UnknownMethod),
            (b"\x16\x03\x01\x02", HttpError::UnknownMethod),
            (b"GET /\r\n\r\n", HttpError::BadStartLine),
            (b"GET  HTTP/1.1\r\n\r\n", HttpError::BadStartLine),
            (b"\r\n", HttpError::BadStartLine),
            (b"GET / HTTP/2.0\r\n\r\n", HttpError::BadVersion),
            (b"GET / HTTP/1.1 x\r\n\r\n", HttpError::BadVersion),
            (b"GET\r\n\r\n", HttpError::BadStartLine),
        ];
        for (input, err) in cases {
            assert_eq!(parse_request(input).unwrap_err(), err, "{input:?}");
        }
        let cases: [(&[u8], HttpError); 6] = [
            (b"HTTP/1.2 200 OK\r\n\r\n", HttpError::BadVersion),
            (b"SSH-2.0-x\r\n", HttpError::BadVersion),
            (b"HTTP/1.1 20 OK\r\n\r\n", HttpError::BadStartLine),
            (b"HTTP/1.1 099 OK\r\n\r\n", HttpError::BadStartLine),
            (b"HTTP/1.1\r\n\r\n", HttpError::BadStartLine),
            (b"\n", HttpError::BadStartLine),
        ];
        for (input, err) in cases {
            assert_eq!(parse_response(input).unwrap_err(), err, "{input:?}");
        }
    }

    #[test]
    fn header_buffer() {
        let mut b = HttpHeaderBuffer::default();
        assert_eq!(b.push(&REQUEST[..30]), 30);
        assert_eq!(b.request().unwrap_err(), HttpError::Incomplete);
        b.push(&REQUEST[30..]);
        assert_eq!(b.request().unwrap().host, Some(&b"www.example.net"[..]));
        b.clear();
        assert!(b.bytes().is_empty());
        b.push(RESPONSE);
        assert_eq!(b.response().unwrap().status, 401);
    }

    #[test]
    fn header_buffer_full() {
        let mut b = HttpHeaderBuffer::new(60);
        assert_eq!(b.push(REQUEST), 60);
        assert!(b.is_full());
        assert_eq!(b.push(b"more"), 0);
        let r = b.request().unwrap();
        assert!(!r.complete);
        assert_eq!(r.host, Some(&b"www.example.net"[..]));
        assert_eq!(r.user_agent, None); // cut mid-line
        let mut b = HttpHeaderBuffer::new(50);
        b.push(RESPONSE);
        let r = b.response().unwrap();
        assert_eq!((r.complete, r.server), (false, Some(&b"Apache/2.2"[..])));
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type(b"text/html; charset=UTF-8"), b"text/html");
        assert_eq!(media_type(b"text/html;charset=utf-8"), b"text/html");
        assert_eq!(media_type(b"application/json"), b"application/json");
        assert_eq!(media_type(b" ;x"), b"");
    }

    #[test]
    fn labels_are_distinct() {
        let all = [
            HttpError::Incomplete,
            HttpError::UnknownMethod,
            HttpError::BadStartLine,
            HttpError::BadVersion,
        ];
        let labels: std::collections::HashSet<_> = all.iter().map(|e| e.as_label()).collect();
        assert_eq!(labels.len(), all.len());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
                        cap in 0usize..128) {
            let _ = parse_request(&data);
            let _ = parse_response(&data);
            let mut b = HttpHeaderBuffer::new(cap);
            b.push(&data);
            let _ = b.request();
            let _ = b.response();
        }

        #[test]
        fn never_panics_after_prefix(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut v = b"GET / HTTP/1.1\r\nHost:".to_vec();
            v.extend_from_slice(&tail);
            let _ = parse_request(&v);
            let mut v = b"HTTP/1.1 200 OK\r\nServer:".to_vec();
            v.extend_from_slice(&tail);
            let _ = parse_response(&v);
        }
    }

    /// The HTTP captures: Host against nfstream's `requested_server_name`, User-Agent and
    /// Content-Type against ndpiReader's `[User-Agent: ]` / `[Content-Type: ]` (nfstream's CSV
    /// has no such columns). Flows are matched by 5-tuple; the first request and first
    /// response of each flow are compared. Prints match rates.
    #[test]
    fn public_captures_match_nfstream() {
        use super::super::dns::captures::{for_each_payload, key, ndpi_fields, nfstream_names};
        use std::collections::HashMap;
        let files = [
            "aimini-http.pcap",
            "http_ipv6.pcap",
            "http_auth.pcap",
            "WebattackSQLinj.pcap",
            "websocket.pcap",
            "exe_download.pcap",
        ];
        let s = |v: Option<&[u8]>| v.map(|v| String::from_utf8_lossy(v).into_owned());
        let mt = |v: Option<&[u8]>| s(v.map(media_type));
        let mut totals = [(0, 0); 3];
        for file in files {
            // Per flow: (host, user agent, request content type, response content type).
            type Seen = (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let mut got: HashMap<_, Seen> = HashMap::new();
            let mut bufs: HashMap<_, (HttpHeaderBuffer, bool)> = HashMap::new();
            let present = for_each_payload(file, |t, _, p| {
                if t.protocol != 6 || p.is_empty() {
                    return;
                }
                let k = key(t);
                let (buf, done) = bufs.entry((k.clone(), t.src_port)).or_default();
                if *done {
                    return;
                }
                buf.push(p);
                let e = got.entry(k).or_default();
                match buf.request() {
                    Ok(r) => {
                        *done = true;
                        e.0 = s(r.host);
                        e.1 = s(r.user_agent);
                        e.2 = mt(r.content_type);
                    }
                    Err(HttpError::Incomplete) => return,
                    Err(_) => {}
                }
                match buf.response() {
                    Ok(r) => {
                        *done = true;
                        e.3 = mt(r.content_type);
                    }
                    Err(HttpError::Incomplete) => {}
                    Err(_) => *done = true,
                }
            });
            if !present {
                continue;
            }
            let names = nfstream_names(file);
            let agents = ndpi_fields(file, "User-Agent");
            let types = ndpi_fields(file, "Content-Type");
            let mut counts = [(0, 0); 3];
            for (k, rows) in &names {
                for (app, want) in rows {
                    if want.is_empty() || !app.contains("HTTP") {
                        continue;
                    }
                    let ours = got.get(k).and_then(|g| g.0.clone());
                    counts[0].0 += 1;
                    if ours.as_deref() == Some(want.as_str()) {
                        counts[0].1 += 1;
                    } else {
                        println!("{file}: {k:?}: host: nfstream {want:?}, ours {ours:?}");
                    }
                }
            }
            for (i, map) in [(1, &agents), (2, &types)] {
                for (k, want) in map {
                    if k.4 != 6 {
                        continue; // QUIC's user agent (http_ipv6.pcap) is not HTTP/1.x
                    }
                    let g = got.get(k);
                    let ours = g.and_then(|g| {
                        if i == 1 {
                            g.1.clone()
                        } else {
                            g.3.clone().or(g.2.clone())
                        }
                    });
                    counts[i].0 += 1;
                    if ours.as_deref() == Some(want.as_str()) {
                        counts[i].1 += 1;
                    } else {
                        println!("{file}: {k:?}: field {i}: ndpiReader {want:?}, ours {ours:?}");
                    }
                }
            }
            println!(
                "{file}: host {}/{}, user-agent {}/{}, content-type {}/{}",
                counts[0].1, counts[0].0, counts[1].1, counts[1].0, counts[2].1, counts[2].0
            );
            for (t, c) in totals.iter_mut().zip(counts) {
                t.0 += c.0;
                t.1 += c.1;
            }
        }
        println!(
            "http: host {}/{} (nfstream), user-agent {}/{}, content-type {}/{} (ndpiReader)",
            totals[0].1, totals[0].0, totals[1].1, totals[1].0, totals[2].1, totals[2].0
        );
    }
}
