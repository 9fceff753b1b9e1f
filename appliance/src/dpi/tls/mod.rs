//! TLS handshake dissection: SNI, ALPN, version, JA3 / JA3S / JA4 fingerprints and the server
//! certificate's subject and issuer common names.
//!
//! Owns the handshake layer of TLS 1.0–1.3 as seen on the wire: the record framing of content
//! type 22 (RFC 8446 §5.1, RFC 5246 §6.2), the handshake header (RFC 8446 §4), ClientHello and
//! ServerHello (RFC 8446 §4.1.2–4.1.3, RFC 5246 §7.4.1), the extensions `server_name` (RFC 6066
//! §3), ALPN (RFC 7301 §3.1), `supported_versions`, `signature_algorithms`,
//! `supported_groups` (RFC 8446 §4.2) and `ec_point_formats` (RFC 8422 §5.1.2), GREASE values
//! (RFC 8701 §2), and the TLS ≤ 1.2 Certificate message (RFC 5246 §7.4.2) with just enough DER
//! (X.690) to read the leaf's subject and issuer commonName (X.520, OID 2.5.4.3).
//!
//! Fingerprints: JA3 and JA3S as published by Salesforce (decimal fields joined by `,`, list
//! items by `-`, GREASE removed, MD5 in lower-case hex); JA4 as specified by FoxIO
//! (`technical_details/JA4.md`, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`).
//!
//! The dissectors built on these parsers ([`Tls`] over TCP, [`Dtls`] over UDP: naming,
//! metadata, when to stop) are in `dissector.rs`.
//!
//! It does *not* decrypt anything (TLS 1.3 certificates are encrypted and so out of reach; QUIC
//! Initial decryption is `dpi::quic`, which hands the ClientHello it finds to
//! [`parse_client_hello`]), does not reorder TCP segments (the caller feeds
//! [`RecordReassembler`] in sequence order), and keeps no state outside the reassembler and
//! the dissector's [`TlsFlow`].
//!
//! Contract: every function takes arbitrary bytes and returns a borrowed view or a
//! [`TlsError`]; none panics (a property test feeds random bytes to each). Parsing allocates
//! nothing; the fingerprint functions allocate the returned string (and JA4 one sort buffer),
//! and [`subject_issuer_cn`] the two returned names.

use std::fmt::Write as _;

use md5::Digest as _;
use sha2::Digest as _;

/// Default byte cap of a [`RecordReassembler`]: enough for a ClientHello, or a ServerHello with
/// a typical certificate chain.
pub const DEFAULT_REASSEMBLY_CAP: usize = 16 * 1024;

mod field {
    /// Record header: content type (1), legacy version (2), length (2). RFC 8446 §5.1.
    pub const RECORD_HEADER_LEN: usize = 5;
    /// Handshake header: type (1), length (3). RFC 8446 §4.
    pub const HANDSHAKE_HEADER_LEN: usize = 4;
    /// `Random` of both hellos.
    pub const RANDOM_LEN: usize = 32;
    /// `legacy_session_id<0..32>`.
    pub const MAX_SESSION_ID_LEN: usize = 32;
    /// Largest record fragment: 2^14 plus the 2048 of expansion RFC 5246 §6.2.3 allows a
    /// TLSCiphertext. Anything longer is not TLS.
    pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
}

/// TLS record content types (RFC 8446 §5.1).
pub mod content_type {
    /// ChangeCipherSpec: everything after it in this direction is encrypted.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// Alert.
    pub const ALERT: u8 = 21;
    /// Handshake.
    pub const HANDSHAKE: u8 = 22;
    /// Application data.
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub mod handshake_type {
    /// ClientHello.
    pub const CLIENT_HELLO: u8 = 1;
    /// ServerHello (also HelloRetryRequest).
    pub const SERVER_HELLO: u8 = 2;
    /// Certificate.
    pub const CERTIFICATE: u8 = 11;
    /// ServerKeyExchange (TLS ≤ 1.2).
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// ServerHelloDone (TLS ≤ 1.2): the server's first flight is complete.
    pub const SERVER_HELLO_DONE: u8 = 14;
}

/// Extension types this module decodes (IANA "TLS ExtensionType Values").
pub mod extension_type {
    /// server_name (RFC 6066 §3).
    pub const SERVER_NAME: u16 = 0;
    /// supported_groups, formerly elliptic_curves (RFC 8446 §4.2.7).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats (RFC 8422 §5.1.2).
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms (RFC 8446 §4.2.3).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation (RFC 7301 §3.1).
    pub const ALPN: u16 = 16;
    /// supported_versions (RFC 8446 §4.2.1).
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// Why a handshake message was rejected. `Copy` and `repr(u8)` so a caller can count by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[repr(u8)]
pub enum TlsError {
    /// A field or a length prefix reaches past the end of its enclosing structure.
    #[error("tls message truncated: a length reaches past its enclosing field")]
    Truncated,
    /// Bytes left over after the last field of a structure.
    #[error("tls message has trailing bytes after its last field")]
    TrailingBytes,
    /// A length outside what the RFC allows (session id over 32 bytes, odd-sized u16 list).
    #[error("tls field length out of range")]
    BadLength,
    /// A list the RFC requires to be non-empty is empty (cipher suites, compression methods,
    /// server names, ALPN names, supported versions).
    #[error("tls list that must not be empty is empty")]
    EmptyList,
    /// The server_name extension is malformed.
    #[error("tls server_name extension malformed")]
    BadServerName,
    /// The ALPN extension is malformed.
    #[error("tls alpn extension malformed")]
    BadAlpn,
    /// Another decoded extension (supported_versions, ...) has a body of the wrong shape.
    #[error("tls extension body malformed")]
    BadExtension,
}

impl TlsError {
    /// Stable label for metrics.
    pub fn as_label(self) -> &'static str {
        match self {
            TlsError::Truncated => "tls_truncated",
            TlsError::TrailingBytes => "tls_trailing_bytes",
            TlsError::BadLength => "tls_bad_length",
            TlsError::EmptyList => "tls_empty_list",
            TlsError::BadServerName => "tls_bad_server_name",
            TlsError::BadAlpn => "tls_bad_alpn",
            TlsError::BadExtension => "tls_bad_extension",
        }
    }
}

/// A bounds-checked cursor over a TLS structure (STYLE.md §3): every read either returns the
/// bytes or [`TlsError::Truncated`].
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        let (head, rest) = self.buf.split_at_checked(n).ok_or(TlsError::Truncated)?;
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TlsError> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TlsError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Result<usize, TlsError> {
        let b = self.bytes(3)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    /// `opaque x<0..2^8-1>`.
    fn vec8(&mut self) -> Result<&'a [u8], TlsError> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }

    /// `opaque x<0..2^16-1>`.
    fn vec16(&mut self) -> Result<&'a [u8], TlsError> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// `opaque x<0..2^24-1>`.
    fn vec24(&mut self) -> Result<&'a [u8], TlsError> {
        let n = self.u24()?;
        self.bytes(n)
    }

    fn finish(&self) -> Result<(), TlsError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(TlsError::TrailingBytes)
        }
    }
}

/// True for a GREASE value (RFC 8701 §2: `0x?A?A` with both bytes equal), which fingerprints
/// ignore.
#[inline]
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// A borrowed list of big-endian `u16` values (cipher suites, groups, signature schemes,
/// versions), kept as its wire bytes. Its length is even, checked when it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U16List<'a> {
    buf: &'a [u8],
}

impl<'a> U16List<'a> {
    fn new(buf: &'a [u8]) -> Result<Self, TlsError> {
        if !buf.len().is_multiple_of(2) {
            return Err(TlsError::BadLength);
        }
        Ok(U16List { buf })
    }

    fn non_empty(buf: &'a [u8]) -> Result<Self, TlsError> {
        if buf.is_empty() {
            return Err(TlsError::EmptyList);
        }
        U16List::new(buf)
    }

    /// The values in wire order, GREASE included.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.buf
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// Number of values, GREASE included.
    pub fn len(&self) -> usize {
        self.buf.len() / 2
    }

    /// True when the list has no value.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// A borrowed, validated extension block: `Extension extensions<0..2^16-1>` without its length
/// prefix. Every entry's length fits, checked when it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extensions<'a> {
    buf: &'a [u8],
}

impl<'a> Extensions<'a> {
    fn new(buf: &'a [u8]) -> Result<Self, TlsError> {
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            r.u16()?;
            r.vec16()?;
        }
        Ok(Extensions { buf })
    }

    /// `(type, data)` of each extension in wire order, GREASE and duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> + 'a {
        let mut r = Reader::new(self.buf);
        std::iter::from_fn(move || Some((r.u16().ok()?, r.vec16().ok()?)))
    }

    /// Data of the first extension of type `ty`.
    pub fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.iter().find(|&(t, _)| t == ty).map(|(_, d)| d)
    }

    /// Number of extensions, GREASE included.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there is no extension.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The wire bytes (without the block's length prefix).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// A borrowed, validated ALPN `ProtocolNameList` (RFC 7301 §3.1) without its length prefix:
/// at least one name, none empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlpnList<'a> {
    buf: &'a [u8],
}

impl<'a> AlpnList<'a> {
    /// Parses the extension body (`ProtocolNameList` with its 2-byte length).
    fn parse(data: &'a [u8]) -> Result<Self, TlsError> {
        let mut outer = Reader::new(data);
        let list = outer.vec16().map_err(|_| TlsError::BadAlpn)?;
        outer.finish().map_err(|_| TlsError::BadAlpn)?;
        if list.is_empty() {
            return Err(TlsError::BadAlpn);
        }
        let mut r = Reader::new(list);
        while !r.is_empty() {
            // ProtocolName protocol_name_list<2..2^16-1>; opaque ProtocolName<1..2^8-1>.
            if r.vec8().map_err(|_| TlsError::BadAlpn)?.is_empty() {
                return Err(TlsError::BadAlpn);
            }
        }
        Ok(AlpnList { buf: list })
    }

    /// The protocol names in wire order (e.g. `b"h2"`, `b"http/1.1"`).
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut r = Reader::new(self.buf);
        std::iter::from_fn(move || r.vec8().ok())
    }

    /// The first name, if any.
    pub fn first(&self) -> Option<&'a [u8]> {
        self.iter().next()
    }

    /// True when the list is absent or empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The names joined by `,` (`h2,http/1.1`), bytes that are not UTF-8 as U+FFFD.
    pub fn joined(&self) -> String {
        let mut s = String::with_capacity(self.buf.len());
        for (i, name) in self.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&String::from_utf8_lossy(name));
        }
        s
    }
}

/// Which transport carried a ClientHello: the first character of JA4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC CRYPTO frames (`q`).
    Quic,
    /// DTLS over UDP (`d`).
    Dtls,
}

/// Operator name of a protocol version as nDPI prints it: `TLSv1.2`, `TLSv1.3`, `TLSv1` (1.0),
/// `SSLv3`; `None` for anything else (GREASE, drafts, DTLS).
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => return None,
    })
}

/// A parsed ClientHello body (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2), borrowing the message.
#[derive(Clone, Copy, Debug)]
pub struct ClientHello<'a> {
    /// `legacy_version` (the version field of the message, 0x0303 for TLS 1.3).
    pub legacy_version: u16,
    /// The 32 random bytes.
    pub random: &'a [u8],
    /// `legacy_session_id` (0–32 bytes).
    pub session_id: &'a [u8],
    /// `cipher_suites` in wire order, GREASE included (never empty).
    pub cipher_suites: U16List<'a>,
    /// `legacy_compression_methods` (never empty).
    pub compression_methods: &'a [u8],
    /// Every extension (empty when the message ends after the compression methods, as SSLv3
    /// and early TLS allow).
    pub extensions: Extensions<'a>,
    /// True when a server_name extension is present, whatever it holds (JA4's `d`).
    pub has_server_name: bool,
    /// The first `host_name` of server_name when it is printable ASCII (0x21–0x7e) and not
    /// empty; raw bytes are in [`ClientHello::server_name_raw`].
    pub server_name: Option<&'a str>,
    /// The first `host_name` of server_name as sent.
    pub server_name_raw: Option<&'a [u8]>,
    /// ALPN protocol names (empty when the extension is absent).
    pub alpn: AlpnList<'a>,
    /// supported_versions, GREASE included (empty when absent).
    pub supported_versions: U16List<'a>,
    /// signature_algorithms in wire order (empty when absent).
    pub signature_algorithms: U16List<'a>,
    /// supported_groups in wire order (empty when absent).
    pub supported_groups: U16List<'a>,
    /// ec_point_formats (empty when absent).
    pub ec_point_formats: &'a [u8],
}

impl ClientHello<'_> {
    /// The version the client offers: the highest non-GREASE supported_versions entry if the
    /// extension has one, else `legacy_version` (RFC 8446 §4.2.1; the same rule JA4 uses).
    pub fn tls_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// Splits a handshake message: its type and exactly its body, when `buf` starts with a
/// complete message (RFC 8446 §4: type u8, length u24). `None` when `buf` is shorter.
pub fn split_handshake(buf: &[u8]) -> Option<(u8, &[u8])> {
    let mut r = Reader::new(buf);
    let ty = r.u8().ok()?;
    let body = r.vec24().ok()?;
    Some((ty, body))
}

/// Parses a ClientHello body (handshake type 1, without the 4-byte handshake header) from TLS
/// over TCP or from QUIC CRYPTO frames.
///
/// Decoded extensions take their first occurrence (RFC 8446 §4.2 forbids duplicates). A
/// server_name entry of a type other than `host_name` ends the name list without error: only
/// `host_name` is defined (RFC 6066 §3), so the layout of anything after it is unknown.
///
/// # Errors
///
/// [`TlsError::Truncated`] when a field or length prefix overruns the body or its extension,
/// [`TlsError::TrailingBytes`] for bytes after the extensions, [`TlsError::BadLength`] for a
/// session id over 32 bytes or an odd-sized u16 list, [`TlsError::EmptyList`] for empty cipher
/// suites, compression methods or supported_versions, [`TlsError::BadServerName`] /
/// [`TlsError::BadAlpn`] / [`TlsError::BadExtension`] for a malformed decoded extension.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello<'_>, TlsError> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16()?;
    let random = r.bytes(field::RANDOM_LEN)?;
    let session_id = r.vec8()?;
    if session_id.len() > field::MAX_SESSION_ID_LEN {
        return Err(TlsError::BadLength);
    }
    let cipher_suites = U16List::non_empty(r.vec16()?)?;
    let compression_methods = r.vec8()?;
    if compression_methods.is_empty() {
        return Err(TlsError::EmptyList);
    }
    // RFC 5246 §7.4.1.2: "the presence of extensions can be detected by determining whether
    // there are bytes following the compression_methods".
    let extensions = if r.is_empty() {
        Extensions::default()
    } else {
        Extensions::new(r.vec16()?)?
    };
    r.finish()?;

    let mut ch = ClientHello {
        legacy_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extensions,
        has_server_name: false,
        server_name: None,
        server_name_raw: None,
        alpn: AlpnList::default(),
        supported_versions: U16List::default(),
        signature_algorithms: U16List::default(),
        supported_groups: U16List::default(),
        ec_point_formats: &[],
    };
    let mut seen = 0u8;
    for (ty, data) in extensions.iter() {
        let bit = match ty {
            extension_type::SERVER_NAME => 1,
            extension_type::ALPN => 2,
            extension_type::SUPPORTED_VERSIONS => 4,
            extension_type::SIGNATURE_ALGORITHMS => 8,
            extension_type::SUPPORTED_GROUPS => 16,
            extension_type::EC_POINT_FORMATS => 32,
            _ => continue,
        };
        if seen & bit != 0 {
            continue;
        }
        seen |= bit;
        match ty {
            extension_type::SERVER_NAME => {
                ch.has_server_name = true;
                // RFC 6066 §3 allows an empty extension_data in the *server's* hello only;
                // a client's must hold a list, but an empty one is seen in the wild and
                // carries no name, so it is tolerated as "no name".
                if !data.is_empty() {
                    ch.server_name_raw = parse_server_name(data)?;
                    ch.server_name = ch.server_name_raw.and_then(printable_ascii);
                }
            }
            extension_type::ALPN => ch.alpn = AlpnList::parse(data)?,
            extension_type::SUPPORTED_VERSIONS => {
                // ProtocolVersion versions<2..254> in a ClientHello.
                let mut e = Reader::new(data);
                let list = e.vec8().map_err(|_| TlsError::BadExtension)?;
                e.finish().map_err(|_| TlsError::BadExtension)?;
                ch.supported_versions = U16List::non_empty(list)?;
            }
            extension_type::SIGNATURE_ALGORITHMS => ch.signature_algorithms = u16_ext(data)?,
            extension_type::SUPPORTED_GROUPS => ch.supported_groups = u16_ext(data)?,
            _ => {
                // ECPointFormat ec_point_format_list<1..2^8-1>.
                let mut e = Reader::new(data);
                ch.ec_point_formats = e.vec8().map_err(|_| TlsError::BadExtension)?;
                e.finish().map_err(|_| TlsError::BadExtension)?;
            }
        }
    }
    Ok(ch)
}

/// Parses a DTLS ClientHello body (RFC 6347 §4.2.1, RFC 9147 §5.3): a TLS ClientHello with a
/// `cookie<0..2^8-1>` after the session id. The body without the cookie is copied into
/// `scratch` (cleared first; reuse it and no call allocates once it has grown) and parsed
/// there, so the result borrows `scratch`.
///
/// # Errors
///
/// [`TlsError::Truncated`] when the fields before the cookie are cut, then as
/// [`parse_client_hello`].
pub fn parse_dtls_client_hello<'s>(
    body: &[u8],
    scratch: &'s mut Vec<u8>,
) -> Result<ClientHello<'s>, TlsError> {
    let mut r = Reader::new(body);
    let fixed = r.bytes(2 + field::RANDOM_LEN)?;
    let session_id = r.vec8()?;
    r.vec8()?; // cookie
    scratch.clear();
    scratch.extend_from_slice(fixed);
    scratch.push(session_id.len() as u8);
    scratch.extend_from_slice(session_id);
    scratch.extend_from_slice(r.buf);
    parse_client_hello(scratch)
}

/// A `u16` list extension body with its own 2-byte length (signature_algorithms,
/// supported_groups).
fn u16_ext(data: &[u8]) -> Result<U16List<'_>, TlsError> {
    let mut e = Reader::new(data);
    let list = e.vec16().map_err(|_| TlsError::BadExtension)?;
    e.finish().map_err(|_| TlsError::BadExtension)?;
    U16List::new(list).map_err(|_| TlsError::BadExtension)
}

/// The first `host_name` of a ServerNameList (RFC 6066 §3).
fn parse_server_name(data: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let mut outer = Reader::new(data);
    let list = outer.vec16().map_err(|_| TlsError::BadServerName)?;
    outer.finish().map_err(|_| TlsError::BadServerName)?;
    if list.is_empty() {
        return Err(TlsError::BadServerName);
    }
    // Only the first entry is read: RFC 6066 §3 allows one name per type and defines one type.
    let mut r = Reader::new(list);
    let name_type = r.u8().map_err(|_| TlsError::BadServerName)?;
    if name_type != 0 {
        // Unknown NameType: its body layout is undefined, so the list cannot be walked on.
        return Ok(None);
    }
    let name = r.vec16().map_err(|_| TlsError::BadServerName)?;
    if name.is_empty() {
        return Err(TlsError::BadServerName);
    }
    Ok(Some(name))
}

/// `b` as `&str` when it is non-empty printable ASCII without spaces.
fn printable_ascii(b: &[u8]) -> Option<&str> {
    if b.is_empty() || !b.iter().all(|c| (0x21..=0x7e).contains(c)) {
        return None;
    }
    std::str::from_utf8(b).ok()
}

/// A parsed ServerHello body (RFC 8446 §4.1.3; RFC 5246 §7.4.1.3), borrowing the message.
/// A HelloRetryRequest has the same shape; see [`ServerHello::is_hello_retry_request`].
#[derive(Clone, Copy, Debug)]
pub struct ServerHello<'a> {
    /// `legacy_version` (0x0303 for TLS 1.3).
    pub legacy_version: u16,
    /// The 32 random bytes.
    pub random: &'a [u8],
    /// `legacy_session_id_echo`.
    pub session_id: &'a [u8],
    /// The selected cipher suite.
    pub cipher_suite: u16,
    /// The selected compression method.
    pub compression_method: u8,
    /// Every extension in wire order (empty if none were sent).
    pub extensions: Extensions<'a>,
    /// The selected version from supported_versions (TLS 1.3), if present.
    pub supported_version: Option<u16>,
    /// The selected ALPN protocol, if present.
    pub alpn: Option<&'a [u8]>,
}

/// SHA-256 of "HelloRetryRequest": the `random` of a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

impl ServerHello<'_> {
    /// The negotiated version: supported_versions if present, else `legacy_version`.
    pub fn version(&self) -> u16 {
        self.supported_version.unwrap_or(self.legacy_version)
    }

    /// True when this is a HelloRetryRequest, not a real ServerHello.
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }
}

/// Parses a ServerHello body (handshake type 2, without the handshake header).
///
/// # Errors
///
/// [`TlsError::Truncated`], [`TlsError::TrailingBytes`] and [`TlsError::BadLength`] as
/// [`parse_client_hello`]; [`TlsError::BadExtension`] when supported_versions is not exactly
/// one version; [`TlsError::BadAlpn`] when ALPN is malformed or names more than one protocol.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello<'_>, TlsError> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16()?;
    let random = r.bytes(field::RANDOM_LEN)?;
    let session_id = r.vec8()?;
    if session_id.len() > field::MAX_SESSION_ID_LEN {
        return Err(TlsError::BadLength);
    }
    let cipher_suite = r.u16()?;
    let compression_method = r.u8()?;
    let extensions = if r.is_empty() {
        Extensions::default()
    } else {
        Extensions::new(r.vec16()?)?
    };
    r.finish()?;
    let supported_version = match extensions.get(extension_type::SUPPORTED_VERSIONS) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        Some(_) => return Err(TlsError::BadExtension),
        None => None,
    };
    let alpn = match extensions.get(extension_type::ALPN) {
        Some(data) => {
            let list = AlpnList::parse(data)?;
            let mut names = list.iter();
            let first = names.next();
            // RFC 7301 §3.1: the server's list "MUST contain exactly one".
            if names.next().is_some() {
                return Err(TlsError::BadAlpn);
            }
            first
        }
        None => None,
    };
    Ok(ServerHello {
        legacy_version,
        random,
        session_id,
        cipher_suite,
        compression_method,
        extensions,
        supported_version,
        alpn,
    })
}

/// A TLS ≤ 1.2 Certificate message (RFC 5246 §7.4.2): the chain of DER certificates, leaf
/// first. Every entry's length fits and none is empty, checked when it was made.
#[derive(Clone, Copy, Debug, Default)]
pub struct Certificates<'a> {
    buf: &'a [u8],
}

impl<'a> Certificates<'a> {
    /// The DER certificates in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut r = Reader::new(self.buf);
        std::iter::from_fn(move || r.vec24().ok())
    }

    /// The leaf (first) certificate.
    pub fn leaf(&self) -> Option<&'a [u8]> {
        self.iter().next()
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True for an empty chain (a client declining to authenticate).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Parses a TLS ≤ 1.2 Certificate body (handshake type 11, without the handshake header). A
/// TLS 1.3 Certificate (encrypted on the wire anyway) has a different layout and is rejected or
/// misread.
///
/// # Errors
///
/// [`TlsError::Truncated`] when a length overruns, [`TlsError::TrailingBytes`] after the list,
/// [`TlsError::EmptyList`] for a zero-length certificate entry.
pub fn parse_certificate(body: &[u8]) -> Result<Certificates<'_>, TlsError> {
    let mut r = Reader::new(body);
    let list = r.vec24()?;
    r.finish()?;
    let mut c = Reader::new(list);
    while !c.is_empty() {
        // ASN.1Cert certificate_list<0..2^24-1>; opaque ASN.1Cert<1..2^24-1>.
        if c.vec24()?.is_empty() {
            return Err(TlsError::EmptyList);
        }
    }
    Ok(Certificates { buf: list })
}

/// One DER TLV (X.690 §8.1): tag, contents, rest. Only low-tag-number form and definite
/// lengths up to 4 length bytes, which is all a certificate uses (DER forbids indefinite).
fn der_tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (len_bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// Contents of the TLV at the front of `buf` when its tag is `tag`, and the rest.
fn der_expect(buf: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = der_tlv(buf)?;
    (t == tag).then_some((content, rest))
}

const DER_SEQUENCE: u8 = 0x30;
const DER_SET: u8 = 0x31;
const DER_OID: u8 = 0x06;
const DER_INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version` of TBSCertificate.
const DER_VERSION: u8 = 0xa0;
/// id-at-commonName, 2.5.4.3, in DER.
const OID_COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];

/// The commonName (OID 2.5.4.3) of the subject and of the issuer of a DER X.509 certificate
/// (RFC 5280 §4.1), as `(subject, issuer)`. Reads UTF8String, PrintableString, IA5String,
/// T61String (as Latin-1), BMPString (UTF-16) and UniversalString (UTF-32); invalid code
/// units become U+FFFD. When a name has several CNs the last one is returned (the most
/// specific in the usual order). Whatever cannot be reached (truncated or malformed DER)
/// is `None`; the issuer comes before the subject, so a cut certificate may give only it.
pub fn subject_issuer_cn(der: &[u8]) -> (Option<String>, Option<String>) {
    let Some((cert, _)) = der_expect(der, DER_SEQUENCE) else {
        return (None, None);
    };
    let Some((tbs, _)) = der_expect(cert, DER_SEQUENCE) else {
        return (None, None);
    };
    let mut r = tbs;
    if let Some((_, rest)) = der_expect(r, DER_VERSION) {
        r = rest;
    }
    let issuer = (|| {
        let (_, rest) = der_expect(r, DER_INTEGER)?; // serialNumber
        let (_, rest) = der_expect(rest, DER_SEQUENCE)?; // signature AlgorithmIdentifier
        der_expect(rest, DER_SEQUENCE) // issuer Name
    })();
    let Some((issuer_name, rest)) = issuer else {
        return (None, None);
    };
    let issuer_cn = name_cn(issuer_name);
    let subject_cn = der_expect(rest, DER_SEQUENCE) // validity
        .and_then(|(_, rest)| der_expect(rest, DER_SEQUENCE)) // subject Name
        .and_then(|(name, _)| name_cn(name));
    (subject_cn, issuer_cn)
}

/// The last commonName in the contents of a `Name` (RDNSequence: SEQUENCE OF SET OF
/// AttributeTypeAndValue).
fn name_cn(mut rdns: &[u8]) -> Option<String> {
    let mut found = None;
    while let Some((set, rest)) = der_expect(rdns, DER_SET) {
        rdns = rest;
        let mut atvs = set;
        while let Some((atv, rest)) = der_expect(atvs, DER_SEQUENCE) {
            atvs = rest;
            let Some((oid, value)) = der_expect(atv, DER_OID) else {
                continue;
            };
            if oid != OID_COMMON_NAME {
                continue;
            }
            if let Some((tag, bytes, _)) = der_tlv(value)
                && let Some(s) = der_string(tag, bytes)
            {
                found = Some(s);
            }
        }
    }
    found
}

/// Decodes an X.680 character string of universal tag `tag`.
fn der_string(tag: u8, b: &[u8]) -> Option<String> {
    Some(match tag {
        // UTF8String, PrintableString, IA5String.
        12 | 19 | 22 => String::from_utf8_lossy(b).into_owned(),
        // T61String: in practice Latin-1 (what every certificate tool assumes).
        20 => b.iter().map(|&c| char::from(c)).collect(),
        // BMPString: UCS-2, big-endian.
        30 => char::decode_utf16(b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        // UniversalString: UCS-4, big-endian.
        28 => b
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => return None,
    })
}

/// What [`RecordReassembler::push`] found so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Only handshake records so far; more may come.
    NeedMore,
    /// A ChangeCipherSpec, application-data or encrypted Alert record arrived: handshake
    /// bytes after it are encrypted (or the handshake is over), so nothing more is collected.
    /// A plaintext Alert (2 bytes, RFC 8446 §6) is skipped instead: servers send a warning
    /// `unrecognized_name` before their ServerHello (`http_ipv6.pcap`).
    Done,
    /// The byte cap was reached; bytes past it were dropped and nothing more is collected.
    Capped,
    /// A record header that is not TLS (unknown content type, major version not 3, length
    /// over 2^14 + 2048, empty handshake record); nothing more is collected.
    NotTls,
}

/// Collects the handshake bytes of one direction of a TLS-over-TCP connection from its
/// payload segments, and yields the complete handshake messages.
///
/// Records may split anywhere across segments (headers included), a record may hold several
/// messages and a message may span records. Segments must be fed in TCP sequence order
/// without gaps or duplicates: reordering and retransmissions are the caller's job.
///
/// Bound: at most `cap` handshake bytes are kept (the buffer grows on demand to `cap` and is
/// never larger), plus 5 bytes of a partial record header. After a terminal [`Progress`]
/// (`Done`, `Capped`, `NotTls`) `push` ignores its input.
#[derive(Clone, Debug)]
pub struct RecordReassembler {
    buf: Vec<u8>,
    cap: usize,
    header: [u8; field::RECORD_HEADER_LEN],
    header_len: usize,
    record_left: usize,
    /// Bytes of a skipped record (plaintext Alert) still to come.
    skip_left: usize,
    state: Progress,
}

impl Default for RecordReassembler {
    fn default() -> Self {
        RecordReassembler::new(DEFAULT_REASSEMBLY_CAP)
    }
}

impl RecordReassembler {
    /// An empty reassembler keeping at most `cap` handshake bytes. Allocates nothing until
    /// handshake bytes arrive.
    pub fn new(cap: usize) -> Self {
        RecordReassembler {
            buf: Vec::new(),
            cap,
            header: [0; field::RECORD_HEADER_LEN],
            header_len: 0,
            record_left: 0,
            skip_left: 0,
            state: Progress::NeedMore,
        }
    }

    /// Feeds the next TCP payload segment of this direction.
    pub fn push(&mut self, segment: &[u8]) -> Progress {
        let mut s = segment;
        while self.state == Progress::NeedMore && !s.is_empty() {
            if self.skip_left > 0 {
                let take = self.skip_left.min(s.len());
                self.skip_left -= take;
                s = &s[take..];
            } else if self.record_left == 0 {
                let take = (field::RECORD_HEADER_LEN - self.header_len).min(s.len());
                let (head, rest) = s.split_at(take);
                self.header[self.header_len..self.header_len + take].copy_from_slice(head);
                self.header_len += take;
                s = rest;
                if self.header_len == field::RECORD_HEADER_LEN {
                    self.header_len = 0;
                    self.state = self.start_record();
                }
            } else {
                let take = self.record_left.min(s.len());
                let room = self.cap.saturating_sub(self.buf.len());
                if take > room {
                    self.buf.extend_from_slice(&s[..room]);
                    self.state = Progress::Capped;
                    break;
                }
                let (data, rest) = s.split_at(take);
                self.buf.extend_from_slice(data);
                self.record_left -= take;
                s = rest;
            }
        }
        self.state
    }

    /// Acts on a complete record header in `self.header`.
    fn start_record(&mut self) -> Progress {
        let [ct, major, _minor, len_hi, len_lo] = self.header;
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if major != 3 || len > field::MAX_RECORD_LEN {
            return Progress::NotTls;
        }
        match ct {
            // RFC 8446 §5.1: "Implementations MUST NOT send zero-length fragments of
            // Handshake types".
            content_type::HANDSHAKE if len > 0 => {
                self.record_left = len;
                Progress::NeedMore
            }
            // RFC 8446 §6: a plaintext Alert is a level and a description; anything longer
            // is encrypted.
            content_type::ALERT if len == 2 => {
                self.skip_left = len;
                Progress::NeedMore
            }
            content_type::CHANGE_CIPHER_SPEC
            | content_type::ALERT
            | content_type::APPLICATION_DATA => Progress::Done,
            _ => Progress::NotTls,
        }
    }

    /// State after the last [`RecordReassembler::push`].
    pub fn progress(&self) -> Progress {
        self.state
    }

    /// The handshake bytes collected (at most the cap).
    pub fn handshake_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The complete handshake messages collected so far, as `(handshake type, body)` in
    /// order; a message still incomplete (or cut by the cap) ends the iteration.
    pub fn messages(&self) -> impl Iterator<Item = (u8, &[u8])> + '_ {
        let mut rest = self.buf.as_slice();
        std::iter::from_fn(move || {
            let (ty, body) = split_handshake(rest)?;
            rest = &rest[field::HANDSHAKE_HEADER_LEN + body.len()..];
            Some((ty, body))
        })
    }

    /// Body of the first complete message of type `ty`.
    pub fn message(&self, ty: u8) -> Option<&[u8]> {
        self.messages().find(|&(t, _)| t == ty).map(|(_, b)| b)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// Appends `items` to `s` as decimals separated by `-`.
fn push_dec_list(s: &mut String, items: impl Iterator<Item = u16>) {
    for (i, v) in items.enumerate() {
        if i > 0 {
            s.push('-');
        }
        // Writing into a String cannot fail.
        let _ = write!(s, "{v}");
    }
}

/// The JA3 string of a ClientHello:
/// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, decimal, list
/// items joined by `-`, GREASE values left out of the first four lists; SSLVersion is
/// `legacy_version`. Example: `771,4865-4866,0-23-65281,29-23,0`.
pub fn ja3(ch: &ClientHello<'_>) -> String {
    let mut s = String::with_capacity(64 + 6 * (ch.cipher_suites.len() + 2 * 32));
    let _ = write!(s, "{},", ch.legacy_version);
    push_dec_list(&mut s, ch.cipher_suites.iter().filter(|&v| !is_grease(v)));
    s.push(',');
    push_dec_list(
        &mut s,
        ch.extensions
            .iter()
            .map(|(t, _)| t)
            .filter(|&v| !is_grease(v)),
    );
    s.push(',');
    push_dec_list(
        &mut s,
        ch.supported_groups.iter().filter(|&v| !is_grease(v)),
    );
    s.push(',');
    push_dec_list(&mut s, ch.ec_point_formats.iter().map(|&b| u16::from(b)));
    s
}

/// MD5 of [`ja3`] in lower-case hex: the JA3 fingerprint (nDPI's `JA3C`).
pub fn ja3_hash(ch: &ClientHello<'_>) -> String {
    hex(&md5::Md5::digest(ja3(ch).as_bytes()))
}

/// The JA3S string of a ServerHello: `SSLVersion,Cipher,Extensions`, decimal, extensions
/// joined by `-` (GREASE left out); SSLVersion is `legacy_version`.
pub fn ja3s(sh: &ServerHello<'_>) -> String {
    let mut s = String::with_capacity(64);
    let _ = write!(s, "{},{},", sh.legacy_version, sh.cipher_suite);
    push_dec_list(
        &mut s,
        sh.extensions
            .iter()
            .map(|(t, _)| t)
            .filter(|&v| !is_grease(v)),
    );
    s
}

/// MD5 of [`ja3s`] in lower-case hex: the JA3S fingerprint.
pub fn ja3s_hash(sh: &ServerHello<'_>) -> String {
    hex(&md5::Md5::digest(ja3s(sh).as_bytes()))
}

/// JA4 version code (JA4.md "TLS and DTLS Version").
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's two ALPN characters: first and last byte of the first name when both are ASCII
/// alphanumeric, else the first and last hex digit of the name; `00` when there is none.
fn ja4_alpn(alpn: &AlpnList<'_>) -> [u8; 2] {
    match alpn.first() {
        Some([first, .., last]) | Some([first @ last]) => {
            if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
                [*first, *last]
            } else {
                [HEX[usize::from(first >> 4)], HEX[usize::from(last & 0xf)]]
            }
        }
        _ => *b"00",
    }
}

/// First 12 hex digits of SHA-256 over `values` as 4-digit lower-case hex joined by `,`,
/// then, when `tail` is non-empty, `_` and `tail` likewise; `000000000000` when `values` is
/// empty (JA4.md "Cipher hash", "Extension hash").
fn ja4_hash(values: &[u16], tail: impl Iterator<Item = u16>) -> String {
    if values.is_empty() {
        return "000000000000".to_owned();
    }
    let mut h = sha2::Sha256::new();
    let hex4 = |v: u16| {
        let b = v.to_be_bytes();
        [
            HEX[usize::from(b[0] >> 4)],
            HEX[usize::from(b[0] & 0xf)],
            HEX[usize::from(b[1] >> 4)],
            HEX[usize::from(b[1] & 0xf)],
        ]
    };
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(hex4(v));
    }
    for (i, v) in tail.enumerate() {
        h.update(if i == 0 { b"_" } else { b"," });
        h.update(hex4(v));
    }
    let digest = h.finalize();
    hex(&digest[..6])
}

/// The JA4 fingerprint of a ClientHello (FoxIO JA4.md), e.g.
/// `t13d1516h2_8daaf6152771_e5627efa2ab1`: transport, version (highest supported_versions
/// entry, else `legacy_version`), `d`/`i` for server_name present or not, cipher and extension
/// counts (GREASE excluded, at most 99), ALPN characters; then the truncated SHA-256 of the
/// sorted cipher list; then that of the sorted extension list without server_name and ALPN,
/// followed by `_` and the signature algorithms in wire order (left out when there are none).
/// GREASE is ignored everywhere.
pub fn ja4(ch: &ClientHello<'_>, transport: Transport) -> String {
    let mut s = String::with_capacity(36);
    s.push(match transport {
        Transport::Tcp => 't',
        Transport::Quic => 'q',
        Transport::Dtls => 'd',
    });
    s.push_str(ja4_version(ch.tls_version()));
    s.push(if ch.has_server_name { 'd' } else { 'i' });
    let mut sorted: Vec<u16> = ch.cipher_suites.iter().filter(|&v| !is_grease(v)).collect();
    let exts = || {
        ch.extensions
            .iter()
            .map(|(t, _)| t)
            .filter(|&v| !is_grease(v))
    };
    let _ = write!(
        s,
        "{:02}{:02}",
        sorted.len().min(99),
        exts().count().min(99)
    );
    for c in ja4_alpn(&ch.alpn) {
        s.push(char::from(c));
    }
    s.push('_');
    sorted.sort_unstable();
    s.push_str(&ja4_hash(&sorted, std::iter::empty()));
    s.push('_');
    sorted.clear();
    sorted
        .extend(exts().filter(|&t| t != extension_type::SERVER_NAME && t != extension_type::ALPN));
    sorted.sort_unstable();
    let sigs = ch.signature_algorithms.iter().filter(|&v| !is_grease(v));
    s.push_str(&ja4_hash(&sorted, sigs));
    s
}

mod dissector;
pub use self::dissector::{Dtls, Tls, TlsFlow};

#[cfg(test)]
mod tests;
