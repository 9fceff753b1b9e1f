//! The TLS-over-TCP and DTLS dissectors: the capped state machines around this module's pure
//! parsers.
//!
//! [`Tls`] claims a TCP flow when the first payload of a direction opens a handshake record
//! (content type 22, version 3.x) holding a ClientHello or a ServerHello, reassembles each
//! direction's handshake records ([`RecordReassembler`]), and reads the ClientHello (SNI,
//! ALPN, JA3, JA4), the ServerHello (version, JA3S) and, for TLS ≤ 1.2, the server's leaf
//! certificate (subject and issuer CN). It stops once the server's first flight is read
//! (ServerHelloDone, or the first encrypted record: ChangeCipherSpec, application data) or a
//! reassembler's cap is reached.
//!
//! [`Dtls`] claims a UDP flow on a DTLS 1.0/1.2/1.3 handshake record (RFC 6347 §4.1, RFC 9147
//! §4) holding a ClientHello, ServerHello or HelloVerifyRequest, and reads an unfragmented
//! ClientHello's SNI, ALPN and JA4. It keeps no per-flow state.
//!
//! Neither reorders TCP segments: the engine hands them over in arrival order, without
//! sequence numbers. A segment equal to the previous one of its direction (same length and
//! first bytes) is taken for a retransmission and skipped; any other loss or reordering
//! garbles that direction's later messages, which then fail to parse and are left out
//! (`teams.pcap` has one such certificate).
//!
//! nDPI names TLS on the implicit-TLS mail ports by the service: 993 `IMAPS`, 995 `POPS`, 465
//! `SMTPS` (nfstream's `imaps.pcap`: `IMAPS.ntop`); everything else is `TLS` (the naming
//! table turns the SNI into `TLS.YouTube` and the like).

use super::{
    DEFAULT_REASSEMBLY_CAP, Progress, RecordReassembler, Transport, content_type, handshake_type,
    ja3_hash, ja3s_hash, ja4, parse_certificate, parse_client_hello, parse_dtls_client_hello,
    parse_server_hello, subject_issuer_cn, version_name,
};
use crate::dpi::{Context, Dissector, DpiResult, Packet, Transports, Verdict};

/// Smallest ClientHello body (version, random, empty session id, one cipher suite, one
/// compression method): 2 + 32 + 1 + 2 + 2 + 1 + 1 = 41 bytes. A ServerHello is at least
/// 2 + 32 + 1 + 2 + 1 = 38.
const MIN_HELLO_LEN: usize = 38;

/// Bytes compared to spot a retransmitted segment.
const RETRANSMIT_PROBE: usize = 16;

/// nDPI's master for TLS on `pkt`'s ports: the implicit-TLS mail services have their own
/// names.
fn tls_master(pkt: &Packet<'_>) -> &'static str {
    if pkt.has_port(993) {
        "IMAPS"
    } else if pkt.has_port(995) {
        "POPS"
    } else if pkt.has_port(465) {
        "SMTPS"
    } else {
        "TLS"
    }
}

/// True when `p` can be the first segment of a direction of a TLS connection, checked
/// without allocating: a record header (RFC 8446 §5.1: content type 22, legacy version
/// 3.0–3.4, a length of at most 2^14 + 2048), then the handshake header (RFC 8446 §4: a
/// ClientHello or ServerHello of at least [`MIN_HELLO_LEN`] bytes) and the hello's own version
/// major (3), as far as the segment goes. A first segment of fewer than 6 bytes (record header
/// and handshake type) is refused: real stacks never cut a hello there, and deciding on such a
/// stub would mean keeping state for every flow that starts with byte 22.
fn is_hello_start(p: &[u8]) -> bool {
    let n = p.len();
    if n < 6 || p[0] != content_type::HANDSHAKE || p[1] != 3 || p[2] > 4 {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
    if !(4..=(1 << 14) + 2048).contains(&len)
        || !matches!(
            p[5],
            handshake_type::CLIENT_HELLO | handshake_type::SERVER_HELLO
        )
    {
        return false;
    }
    if n >= 9 {
        let len = usize::from(p[6]) << 16 | usize::from(p[7]) << 8 | usize::from(p[8]);
        if len < MIN_HELLO_LEN {
            return false;
        }
    }
    n <= 9 || p[9] == 3
}

/// True when `p` is the first segment of a flow caught after its handshake, checked without
/// allocating: one or more whole records of ChangeCipherSpec, Alert or application data
/// (RFC 8446 §5.1; record versions 3.1–3.4, RFC 8446 §5.1 `legacy_record_version`), each
/// header valid, the last one allowed to continue past the segment. nDPI names such flows
/// TLS too (nfstream's `signal.pcap`, `teams.pcap`: flows that open with application data).
fn is_record_stream(p: &[u8]) -> bool {
    let mut rest = p;
    let mut records = 0;
    while let Some((h, body)) = rest.split_first_chunk::<5>() {
        let [ct, major, minor, hi, lo] = *h;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let ok = matches!(
            ct,
            content_type::CHANGE_CIPHER_SPEC | content_type::ALERT | content_type::APPLICATION_DATA
        ) && major == 3
            && (1..=4).contains(&minor)
            && (1..=(1 << 14) + 2048).contains(&len);
        if !ok {
            return false;
        }
        records += 1;
        match body.get(len..) {
            Some(next) => rest = next,
            // The last record continues in the next segment.
            None => return true,
        }
    }
    // Whole records only, nothing left over.
    records > 0 && rest.is_empty()
}

/// One direction of a TLS flow.
#[derive(Debug, Default)]
struct Direction {
    reasm: RecordReassembler,
    /// Handshake messages of this direction already acted on.
    handled: usize,
    /// Length and first bytes of the last segment, to skip retransmissions.
    last_len: usize,
    last_head: [u8; RETRANSMIT_PROBE],
}

impl Direction {
    /// True for a segment identical (length and first bytes) to the previous one.
    fn is_retransmission(&mut self, p: &[u8]) -> bool {
        let n = p.len().min(RETRANSMIT_PROBE);
        let same = self.last_len == p.len() && self.last_head[..n] == p[..n];
        self.last_len = p.len();
        self.last_head[..n].copy_from_slice(&p[..n]);
        same
    }

    fn is_over(&self) -> bool {
        self.reasm.progress() != Progress::NeedMore
    }
}

/// Per-flow state of [`Tls`]. Bound: two [`RecordReassembler`]s of
/// [`DEFAULT_REASSEMBLY_CAP`] (16 KiB) handshake bytes each, grown on demand (a ClientHello
/// takes one segment's worth; only the server's certificate chain gets near the cap), plus
/// about 100 bytes of fixed fields: at most 32.1 KiB per flow.
#[derive(Debug, Default)]
pub struct TlsFlow {
    dirs: [Direction; 2],
    /// The direction that sent the ServerHello.
    server_dir: Option<usize>,
    /// The direction that sent the ClientHello.
    client_dir: Option<usize>,
    /// The negotiated version, once the ServerHello is read.
    server_version: Option<u16>,
    client_hello: bool,
    /// The leaf certificate was read (or is out of reach).
    certificate: bool,
    /// ServerHelloDone was read (TLS ≤ 1.2), or the ServerHello said TLS 1.3 (everything
    /// after it is encrypted).
    server_flight_done: bool,
}

impl TlsFlow {
    /// Feeds one segment of direction `dir` and acts on the messages it completes.
    fn on_segment(&mut self, dir: usize, payload: &[u8], out: &mut DpiResult) -> Verdict {
        let d = &mut self.dirs[dir];
        if !d.is_retransmission(payload) && !d.is_over() {
            d.reasm.push(payload);
            self.read_messages(dir, out);
        }
        if self.is_complete() {
            Verdict::Done
        } else {
            Verdict::Pending
        }
    }

    /// Acts on the complete handshake messages of `dir` not handled yet.
    fn read_messages(&mut self, dir: usize, out: &mut DpiResult) {
        let d = &mut self.dirs[dir];
        for (ty, body) in d.reasm.messages().skip(d.handled) {
            d.handled += 1;
            match ty {
                handshake_type::CLIENT_HELLO if !self.client_hello => {
                    self.client_hello = true;
                    self.client_dir = Some(dir);
                    if let Ok(ch) = parse_client_hello(body) {
                        client_hello_fields(&ch, Transport::Tcp, out);
                        if self.server_version.is_none()
                            && let Some(v) = version_name(ch.tls_version())
                        {
                            out.set_meta("tls_version", v);
                        }
                    }
                }
                handshake_type::SERVER_HELLO if self.server_dir.is_none() => {
                    self.server_dir = Some(dir);
                    if let Ok(sh) = parse_server_hello(body) {
                        let ja3s = ja3s_hash(&sh);
                        out.set_meta("tls_ja3s", ja3s.as_str());
                        out.server_fingerprint = ja3s;
                        let v = sh.version();
                        self.server_version = Some(v);
                        if let Some(name) = version_name(v) {
                            out.set_meta("tls_version", name);
                        }
                        // RFC 8446 §4.4.2: TLS 1.3 encrypts the rest of the flight.
                        if v > 0x0303 {
                            self.server_flight_done = true;
                        }
                    }
                }
                // RFC 5246 §7.4.2: in TLS ≤ 1.2 the server's Certificate follows its
                // ServerHello in clear.
                handshake_type::CERTIFICATE
                    if self.server_dir == Some(dir) && !self.certificate =>
                {
                    self.certificate = true;
                    if self.server_version.is_some_and(|v| v <= 0x0303)
                        && let Some(leaf) = parse_certificate(body).ok().and_then(|c| c.leaf())
                    {
                        let (subject, issuer) = subject_issuer_cn(leaf);
                        if let Some(s) = subject {
                            out.set_meta("tls_server_cn", s);
                        }
                        if let Some(i) = issuer {
                            out.set_meta("tls_issuer_cn", i);
                        }
                    }
                }
                handshake_type::SERVER_HELLO_DONE if self.server_dir == Some(dir) => {
                    self.server_flight_done = true;
                }
                _ => {}
            }
        }
    }

    /// True when nothing more is to be learnt: the server's first flight is read (or its
    /// direction ended: encrypted records, cap, not TLS) and so is the client's hello (or its
    /// direction ended).
    fn is_complete(&self) -> bool {
        let all_over = self.dirs.iter().all(|d| d.is_over());
        let server = self.server_dir.or(self.client_dir.map(|c| c ^ 1));
        let server_over =
            self.server_flight_done || server.is_some_and(|s| self.dirs[s].is_over()) || all_over;
        server_over && (self.client_hello || all_over)
    }
}

/// Writes what a ClientHello tells: SNI, JA4, JA3, the ALPN list.
fn client_hello_fields(ch: &super::ClientHello<'_>, transport: Transport, out: &mut DpiResult) {
    if let Some(sni) = ch.server_name {
        out.requested_server_name.clear();
        out.requested_server_name.push_str(sni);
    }
    out.client_fingerprint = ja4(ch, transport);
    out.set_meta("tls_ja3", ja3_hash(ch));
    if !ch.alpn.is_empty() {
        out.set_meta("tls_alpn", ch.alpn.joined());
    }
}

/// TLS over TCP (`TLS`, or `IMAPS` / `POPS` / `SMTPS` on their ports). State: [`TlsFlow`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Tls;

impl Dissector for Tls {
    fn ports(&self) -> &'static [u16] {
        &[443, 465, 853, 993, 995, 5223, 8443]
    }

    fn name(&self) -> &'static str {
        "tls"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !ctx.is_identified() {
            // Decide on the first payload, before any state exists.
            if is_record_stream(pkt.payload) {
                // Caught after the handshake: nothing to read.
                ctx.identify(tls_master(pkt));
                return Verdict::Done;
            }
            if !is_hello_start(pkt.payload) {
                return Verdict::Reject;
            }
            ctx.identify(tls_master(pkt));
        }
        // The state and the result are both borrowed from `ctx`: move the state out and
        // back (no allocation: a default `TlsFlow` owns no buffer).
        let mut st = std::mem::take(ctx.state::<TlsFlow>());
        let verdict = st.on_segment(usize::from(pkt.dir & 1), pkt.payload, ctx.result());
        *ctx.state::<TlsFlow>() = st;
        verdict
    }
}

/// DTLS handshake record header (RFC 6347 §4.1): type, version, epoch, sequence number,
/// length.
const DTLS_RECORD_HEADER_LEN: usize = 13;
/// DTLS handshake header (RFC 6347 §4.2.2): type, length, message_seq, fragment_offset,
/// fragment_length.
const DTLS_HANDSHAKE_HEADER_LEN: usize = 12;
/// HelloVerifyRequest (RFC 6347 §4.2.1).
const HELLO_VERIFY_REQUEST: u8 = 3;

/// DTLS over UDP (`DTLS`). Stateless: each datagram is read on its own; the first one that
/// opens a hello identifies the flow, an unfragmented ClientHello gives SNI, ALPN and JA4.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dtls;

impl Dissector for Dtls {
    fn name(&self) -> &'static str {
        "dtls"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let header_ok = p.len() >= DTLS_RECORD_HEADER_LEN + DTLS_HANDSHAKE_HEADER_LEN
            && p[0] == content_type::HANDSHAKE
            && p[1] == 0xfe
            && matches!(p[2], 0xff | 0xfd | 0xfc);
        if !header_ok {
            // Once identified, other datagrams (application data, alerts) are just skipped.
            return if ctx.is_identified() {
                Verdict::Pending
            } else {
                Verdict::Reject
            };
        }
        let record_len = usize::from(u16::from_be_bytes([p[11], p[12]]));
        let record = &p[DTLS_RECORD_HEADER_LEN..];
        // The handshake header: checked present with the length above.
        let h = &record[..DTLS_HANDSHAKE_HEADER_LEN];
        let msg_len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        let frag_off = usize::from(h[6]) << 16 | usize::from(h[7]) << 8 | usize::from(h[8]);
        let frag_len = usize::from(h[9]) << 16 | usize::from(h[10]) << 8 | usize::from(h[11]);
        let is_hello = matches!(
            h[0],
            handshake_type::CLIENT_HELLO | handshake_type::SERVER_HELLO | HELLO_VERIFY_REQUEST
        );
        if !ctx.is_identified() {
            if !is_hello
                || record_len > record.len()
                || record_len < DTLS_HANDSHAKE_HEADER_LEN
                || frag_off.saturating_add(frag_len) > msg_len
            {
                return Verdict::Reject;
            }
            ctx.identify("DTLS");
        }
        if h[0] == handshake_type::CLIENT_HELLO
            && frag_off == 0
            && frag_len == msg_len
            && let Some(body) =
                record.get(DTLS_HANDSHAKE_HEADER_LEN..DTLS_HANDSHAKE_HEADER_LEN + msg_len)
        {
            let mut scratch = std::mem::take(ctx.scratch());
            if let Ok(ch) = parse_dtls_client_hello(body, &mut scratch) {
                client_hello_fields(&ch, Transport::Dtls, ctx.result());
                if let Some(v) = dtls_version_name(ch.tls_version()) {
                    ctx.result().set_meta("tls_version", v);
                }
            }
            *ctx.scratch() = scratch;
            return Verdict::Done;
        }
        if h[0] == handshake_type::SERVER_HELLO {
            return Verdict::Done;
        }
        Verdict::Pending
    }
}

/// DTLS version names (RFC 6347 §4.1: the one's complement of the TLS version).
fn dtls_version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0xfeff => "DTLSv1.0",
        0xfefd => "DTLSv1.2",
        0xfefc => "DTLSv1.3",
        _ => return None,
    })
}

/// Default cap, for the per-flow bound in the docs.
const _: () = assert!(DEFAULT_REASSEMBLY_CAP == 16 * 1024);

#[cfg(test)]
mod tests {
    use super::super::tests::{
        CLIENT_HELLO, OID_C, SERVER_HELLO, certificate, handshake, name, record,
    };
    use super::super::{OID_COMMON_NAME, content_type as ct, handshake_type as hs};
    use super::*;
    use crate::dpi::Value;
    use crate::dpi::dns::captures::feed;

    const TCP: u8 = 6;

    fn client_hello_record() -> Vec<u8> {
        record(ct::HANDSHAKE, &handshake(hs::CLIENT_HELLO, CLIENT_HELLO))
    }

    /// A TLS 1.2 server flight: ServerHello (no extensions), Certificate, ServerHelloDone.
    fn server_flight_12() -> Vec<u8> {
        let issuer = name(&[(OID_C, 19, b"US"), (&OID_COMMON_NAME, 19, b"Test CA")]);
        let subject = name(&[(&OID_COMMON_NAME, 12, b"example.com")]);
        let der = certificate(&issuer, &subject, 10);
        let mut chain = vec![0, 0, 0]; // certificate_list length, patched below
        let n = der.len();
        chain.extend([(n >> 16) as u8, (n >> 8) as u8, n as u8]); // ASN.1Cert length
        chain.extend(&der);
        let list = chain.len() - 3;
        chain[..3].copy_from_slice(&[(list >> 16) as u8, (list >> 8) as u8, list as u8]);
        let msgs = [
            handshake(hs::SERVER_HELLO, &SERVER_HELLO[..39]),
            handshake(hs::CERTIFICATE, &chain),
            handshake(hs::SERVER_HELLO_DONE, &[]),
        ]
        .concat();
        record(ct::HANDSHAKE, &msgs)
    }

    fn meta<'a>(f: &'a crate::dpi::FlowDpi, name: &str) -> Option<&'a str> {
        match f.result.meta(name) {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    #[test]
    fn tls12_handshake_fields() {
        let ch = client_hello_record();
        let sf = server_flight_12();
        let f = feed(Box::new(Tls), (TCP, 40000, 443), &[(0, &ch), (1, &sf)]);
        assert!(f.is_done());
        let r = &f.result;
        assert_eq!(r.master, Some("TLS"));
        assert_eq!(r.requested_server_name, "example.com");
        assert!(
            r.client_fingerprint.starts_with("t13d"),
            "{}",
            r.client_fingerprint
        );
        assert_eq!(r.server_fingerprint.len(), 32);
        assert_eq!(meta(&f, "tls_ja3s"), Some(r.server_fingerprint.as_str()));
        assert_eq!(meta(&f, "tls_ja3").map(str::len), Some(32));
        assert_eq!(meta(&f, "tls_alpn"), Some("h2,http/1.1"));
        // The server's choice wins over the client's offer (TLS 1.3).
        assert_eq!(meta(&f, "tls_version"), Some("TLSv1.2"));
        assert_eq!(meta(&f, "tls_server_cn"), Some("example.com"));
        assert_eq!(meta(&f, "tls_issuer_cn"), Some("Test CA"));
    }

    #[test]
    fn tls13_done_after_server_hello() {
        let ch = client_hello_record();
        let sh = record(ct::HANDSHAKE, &handshake(hs::SERVER_HELLO, SERVER_HELLO));
        let f = feed(Box::new(Tls), (TCP, 40000, 443), &[(0, &ch), (1, &sh)]);
        assert!(f.is_done());
        assert_eq!(meta(&f, "tls_version"), Some("TLSv1.3"));
        assert_eq!(meta(&f, "tls_server_cn"), None);
    }

    #[test]
    fn client_hello_alone_is_pending() {
        let ch = client_hello_record();
        let f = feed(Box::new(Tls), (TCP, 40000, 443), &[(0, &ch)]);
        assert!(!f.is_done());
        assert_eq!(f.result.master, Some("TLS"));
        assert_eq!(meta(&f, "tls_version"), Some("TLSv1.3"));
    }

    #[test]
    fn mail_ports_have_their_names() {
        let ch = client_hello_record();
        for (port, master) in [(993, "IMAPS"), (995, "POPS"), (465, "SMTPS"), (853, "TLS")] {
            let f = feed(Box::new(Tls), (TCP, 40000, port), &[(0, &ch)]);
            assert_eq!(f.result.master, Some(master), "{port}");
        }
    }

    #[test]
    fn split_hello_and_retransmission() {
        let ch = client_hello_record();
        let (a, b) = ch.split_at(7);
        let sf = server_flight_12();
        let f = feed(
            Box::new(Tls),
            (TCP, 40000, 443),
            &[(0, a), (0, a), (0, b), (1, &sf)],
        );
        assert!(f.is_done());
        assert_eq!(f.result.requested_server_name, "example.com");
        assert_eq!(meta(&f, "tls_server_cn"), Some("example.com"));
    }

    #[test]
    fn flow_seen_from_its_server_hello() {
        let sf = server_flight_12();
        let f = feed(Box::new(Tls), (TCP, 443, 40000), &[(0, &sf)]);
        assert_eq!(f.result.master, Some("TLS"));
        assert_eq!(meta(&f, "tls_issuer_cn"), Some("Test CA"));
        // No ClientHello will come: the flow stays open until the server direction ends.
        assert!(!f.is_done());
    }

    #[test]
    fn flow_caught_after_the_handshake() {
        let data = [
            record(ct::APPLICATION_DATA, &[0xaa; 40]),
            record(ct::ALERT, &[1; 26]),
        ]
        .concat();
        let f = feed(Box::new(Tls), (TCP, 40000, 443), &[(0, &data)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("TLS"));
        // A record that goes on in the next segment.
        let cut = &record(ct::APPLICATION_DATA, &[0xaa; 2000])[..1448];
        let f = feed(Box::new(Tls), (TCP, 40000, 993), &[(1, cut)]);
        assert_eq!(f.result.master, Some("IMAPS"));
    }

    #[test]
    fn rejects() {
        let ch = client_hello_record();
        let patched = |at: usize, v: u8| {
            let mut c = ch.clone();
            c[at] = v;
            c
        };
        let too_long = {
            let mut c = ch.clone();
            c[3..5].copy_from_slice(&((1u16 << 14) + 2049).to_be_bytes());
            c
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("http", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
            (
                "shorter than a record and handshake header",
                ch[..5].to_vec(),
            ),
            ("content type", patched(0, 24)),
            ("record major version", patched(1, 2)),
            ("record minor version", patched(2, 5)),
            ("record length over the maximum", too_long),
            ("handshake type", patched(5, hs::CERTIFICATE)),
            ("hello shorter than its fields", {
                let mut c = ch.clone();
                c[6..9].copy_from_slice(&[0, 0, 20]);
                c
            }),
            ("hello version", patched(9, 2)),
            (
                "application data with bytes left over",
                [record(ct::APPLICATION_DATA, &[1; 10]), vec![0x17, 3]].concat(),
            ),
            (
                "empty application data record",
                record(ct::APPLICATION_DATA, &[]),
            ),
            ("record stream, bad version", {
                let mut r = record(ct::APPLICATION_DATA, &[1; 10]);
                r[2] = 0;
                r
            }),
        ];
        for (why, payload) in cases {
            let f = feed(Box::new(Tls), (TCP, 40000, 443), &[(0, &payload)]);
            assert!(f.is_done(), "{why}");
            assert_eq!(f.result.master, None, "{why}");
        }
    }

    #[test]
    fn not_tls_server_ends_the_flow() {
        let ch = client_hello_record();
        let f = feed(
            Box::new(Tls),
            (TCP, 40000, 443),
            &[(0, &ch), (1, b"HTTP/1.1 400 Bad Request\r\n\r\n")],
        );
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("TLS"));
    }

    /// A DTLS 1.2 ClientHello datagram: record header, handshake header, body with a cookie.
    fn dtls_client_hello(cookie: &[u8], fragment: Option<(usize, usize)>) -> Vec<u8> {
        let tls_body = CLIENT_HELLO;
        // Insert the cookie after version, random and session id (2 + 32 + 1 + 2).
        let (head, tail) = tls_body.split_at(2 + 32 + 3);
        let mut body = head.to_vec();
        body.push(cookie.len() as u8); // cookie length
        body.extend(cookie);
        body.extend(tail);
        let n = body.len();
        let (off, len) = fragment.unwrap_or((0, n));
        let mut hs_msg = vec![hs::CLIENT_HELLO];
        hs_msg.extend([(n >> 16) as u8, (n >> 8) as u8, n as u8]); // length
        hs_msg.extend([0, 0]); // message_seq
        hs_msg.extend([(off >> 16) as u8, (off >> 8) as u8, off as u8]); // fragment_offset
        hs_msg.extend([(len >> 16) as u8, (len >> 8) as u8, len as u8]); // fragment_length
        hs_msg.extend(&body[off..off + len]);
        let mut d = vec![ct::HANDSHAKE, 0xfe, 0xfd]; // DTLS 1.2
        d.extend([0, 0]); // epoch
        d.extend([0, 0, 0, 0, 0, 1]); // sequence number
        d.extend((hs_msg.len() as u16).to_be_bytes()); // length
        d.extend(hs_msg);
        d
    }

    #[test]
    fn dtls_client_hello_fields() {
        let d = dtls_client_hello(&[7; 20], None);
        let f = feed(Box::new(Dtls), (17, 40000, 4433), &[(0, &d)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("DTLS"));
        assert_eq!(f.result.requested_server_name, "example.com");
        assert!(f.result.client_fingerprint.starts_with("d13d"));
        // A fragment: identified, no fields, waits for more.
        let d = dtls_client_hello(&[], Some((0, 50)));
        let f = feed(Box::new(Dtls), (17, 40000, 4433), &[(0, &d)]);
        assert!(!f.is_done());
        assert_eq!(f.result.master, Some("DTLS"));
        assert_eq!(f.result.requested_server_name, "");
    }

    #[test]
    fn dtls_rejects() {
        let good = dtls_client_hello(&[], None);
        let patched = |at: usize, v: u8| {
            let mut c = good.clone();
            c[at] = v;
            c
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("short", good[..24].to_vec()),
            ("content type", patched(0, 23)),
            ("version major", patched(1, 3)),
            ("version minor", patched(2, 0xfe)),
            ("handshake type", patched(13, hs::CERTIFICATE)),
            ("record length past the datagram", patched(11, 0xff)),
            ("fragment past the message", patched(22, 0xff)),
        ];
        for (why, payload) in cases {
            let f = feed(Box::new(Dtls), (17, 40000, 4433), &[(0, &payload)]);
            assert_eq!(f.result.master, None, "{why}");
            assert!(f.is_done(), "{why}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_segments_never_panic(
            segs in proptest::collection::vec(
                (0u8..2, proptest::collection::vec(proptest::num::u8::ANY, 1..300)), 1..6),
            hello_first in proptest::bool::ANY,
        ) {
            let mut packets: Vec<(u8, Vec<u8>)> = Vec::new();
            if hello_first {
                packets.push((0, client_hello_record()));
            }
            packets.extend(segs);
            let refs: Vec<(u8, &[u8])> = packets.iter().map(|(d, p)| (*d, p.as_slice())).collect();
            let _ = feed(Box::new(Tls), (TCP, 40000, 443), &refs);
            let _ = feed(Box::new(Dtls), (17, 40000, 443), &refs);
        }
    }
}
