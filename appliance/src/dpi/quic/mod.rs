//! QUIC client Initial dissection: from one UDP payload to the client's TLS ClientHello bytes.
//!
//! What this module owns:
//!
//! - [`parse_long_header`]: the long header of RFC 9000 §17.2 (version, connection IDs, packet
//!   type, token, Length, packet-number offset), for QUIC v1 (RFC 9000), v2 (RFC 9369 §3.2: its
//!   own packet-type bits), the IETF drafts 22–32, Facebook mvfst's draft versions and Google's
//!   T050/T051. Coalesced packets (RFC 9000 §12.2): [`LongHeader::rest`] is what follows.
//! - [`decrypt_client_initial`]: the Initial keys from the client's Destination Connection ID
//!   (RFC 9001 §5.2, RFC 9369 §3.3.1–3.3.2 for v2's salt and `quicv2` labels), header
//!   protection removal (RFC 9001 §5.4, AES-128-ECB mask), packet-number decoding, AEAD open
//!   (RFC 9001 §5.3, AEAD_AES_128_GCM) and the frames an Initial may carry (RFC 9000 §12.4,
//!   §19): PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE. The result is a list of CRYPTO
//!   fragments that point into the caller's reused buffer.
//! - [`CryptoReassembler`]: the client's Initial CRYPTO stream (RFC 9000 §19.6), out of order
//!   and overlapping, up to a byte cap (STYLE.md §6), until the ClientHello is complete.
//!
//! What it does not own: the ClientHello itself (SNI, ALPN, JA4: `crate::dpi::tls`), flow state
//! (which packets belong together: the caller), the server's side and every later packet number
//! space (their keys come from the TLS handshake, which an observer does not have), and Retry /
//! Version Negotiation beyond recognising them. Google QUIC's clear-text `CHLO` (Q024–Q046) is
//! [`gquic`]'s; Q050's own Initial protection is not handled: for this module those versions
//! are [`QuicError::UnknownVersion`].
//!
//! The dissector ([`Quic`]: naming, metadata, per-flow reassembly) is in `dissector.rs`.
//!
//! Every function is pure over its input and never panics, whatever the bytes (a proptest
//! checks it). Stateless decoding assumes the client's packet numbers are still small enough
//! to be their own truncated encoding, which holds for the first Initials of a connection
//! (RFC 9000 §17.1: they start at 0).

use std::fmt;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::AeadInOut;
use hkdf::Hkdf;
use sha2::Sha256;

/// RFC 9001 §5.2: initial salt of QUIC v1.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1: initial salt of QUIC v2.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (used by drafts 29 to 32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 §5.2 (used by drafts 23 to 28).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-21 §5.2 (drafts 21 and 22, mvfst 0xfaceb001).
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// Google T050 (TLS inside the IETF Initial), the salt Chromium's `quic_crypto` uses.
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google T051.
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// QUIC version 1 (RFC 9000 §15).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369 §3.1).
pub const VERSION_2: u32 = 0x6b33_43cf;

/// RFC 9000 §17.2: connection IDs are at most 20 bytes in versions we know.
const MAX_CID_LEN: usize = 20;
/// RFC 9001 §5.4.2: header-protection sample length.
const SAMPLE_LEN: usize = 16;
/// AEAD_AES_128_GCM tag length (RFC 9001 §5.3).
const TAG_LEN: usize = 16;
/// At most this many CRYPTO frames are reported per packet (Chrome splits its ClientHello into
/// a handful per packet; more is refused as [`QuicError::TooManyFragments`]).
pub const MAX_FRAGMENTS: usize = 32;
/// Default byte cap of a [`CryptoReassembler`]: a ClientHello with a post-quantum key share is
/// under 2 KiB; 8 KiB leaves room for large extensions without letting one flow hold more.
pub const DEFAULT_CRYPTO_CAP: usize = 8 * 1024;

/// Why a payload did not yield a client Initial's CRYPTO data. A `Copy` data-plane reason
/// (STYLE.md §4) that indexes a counter array; see [`QuicError::as_label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum QuicError {
    /// The payload ends inside the long header.
    Truncated,
    /// The first bit is 0: a short-header (1-RTT) packet, or not QUIC.
    ShortHeader,
    /// Version 0: a Version Negotiation packet (RFC 9000 §17.2.1).
    VersionNegotiation,
    /// A version whose Initial protection this module does not know.
    UnknownVersion,
    /// A connection ID longer than 20 bytes in a version that forbids it.
    BadConnectionId,
    /// The Length field runs past the end of the datagram.
    LengthTruncated,
    /// A long-header packet that is not an Initial (0-RTT, Handshake, Retry).
    NotInitial,
    /// Too short for the header-protection sample or the AEAD tag (RFC 9001 §5.4.2).
    TooShort,
    /// The AEAD tag did not verify: wrong keys (not the client's first DCID, a server Initial)
    /// or corrupt bytes.
    Decrypt,
    /// A frame runs past the end of the packet or has an impossible field.
    BadFrame,
    /// A frame type that may not appear in an Initial packet (RFC 9000 §12.4).
    UnexpectedFrame,
    /// More than [`MAX_FRAGMENTS`] CRYPTO frames in one packet.
    TooManyFragments,
    /// CRYPTO data past the reassembler's byte cap.
    Capped,
}

impl QuicError {
    /// Every variant, in counter-index order.
    pub const ALL: [QuicError; 13] = [
        QuicError::Truncated,
        QuicError::ShortHeader,
        QuicError::VersionNegotiation,
        QuicError::UnknownVersion,
        QuicError::BadConnectionId,
        QuicError::LengthTruncated,
        QuicError::NotInitial,
        QuicError::TooShort,
        QuicError::Decrypt,
        QuicError::BadFrame,
        QuicError::UnexpectedFrame,
        QuicError::TooManyFragments,
        QuicError::Capped,
    ];

    /// Label for a metrics `reason` (bounded set, snake case).
    pub fn as_label(self) -> &'static str {
        match self {
            QuicError::Truncated => "quic_truncated",
            QuicError::ShortHeader => "quic_short_header",
            QuicError::VersionNegotiation => "quic_version_negotiation",
            QuicError::UnknownVersion => "quic_unknown_version",
            QuicError::BadConnectionId => "quic_bad_connection_id",
            QuicError::LengthTruncated => "quic_length_truncated",
            QuicError::NotInitial => "quic_not_initial",
            QuicError::TooShort => "quic_too_short",
            QuicError::Decrypt => "quic_decrypt",
            QuicError::BadFrame => "quic_bad_frame",
            QuicError::UnexpectedFrame => "quic_unexpected_frame",
            QuicError::TooManyFragments => "quic_too_many_fragments",
            QuicError::Capped => "quic_capped",
        }
    }
}

impl fmt::Display for QuicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_label())
    }
}

/// Long-header packet type, after mapping v2's renumbered bits (RFC 9369 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// Initial (v1 0b00, v2 0b01).
    Initial,
    /// 0-RTT (v1 0b01, v2 0b10).
    ZeroRtt,
    /// Handshake (v1 0b10, v2 0b11).
    Handshake,
    /// Retry (v1 0b11, v2 0b00): no Length field; takes the rest of the datagram.
    Retry,
}

/// How a version protects its Initial packets.
#[derive(Clone, Copy)]
struct VersionParams {
    salt: &'static [u8; 20],
    /// RFC 9369 §3.3.2: `quicv2 key`/`iv`/`hp` instead of `quic key`/`iv`/`hp`.
    v2_labels: bool,
    /// RFC 9369 §3.2: Initial is 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
    v2_types: bool,
    /// Google T050/T051: IETF packet protection around gQUIC frame types (CRYPTO is 0x08,
    /// ACK is 0x40–0x7f, PADDING runs to the end), as Chromium and Wireshark parse them.
    gquic_frames: bool,
}

/// The Initial protection of `version`, or `None` if unknown.
fn version_params(version: u32) -> Option<VersionParams> {
    let v1 = |salt| {
        Some(VersionParams {
            salt,
            v2_labels: false,
            v2_types: false,
            gquic_frames: false,
        })
    };
    let google = |salt| {
        Some(VersionParams {
            salt,
            v2_labels: false,
            v2_types: false,
            gquic_frames: true,
        })
    };
    match version {
        VERSION_1 => v1(&SALT_V1),
        VERSION_2 => Some(VersionParams {
            salt: &SALT_V2,
            v2_labels: true,
            v2_types: true,
            gquic_frames: false,
        }),
        // IETF drafts: 0xff0000NN is draft NN.
        0xff00_0015..=0xff00_0016 | 0xface_b001 => v1(&SALT_DRAFT_22),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => v1(&SALT_DRAFT_23),
        0xff00_001d..=0xff00_0020 => v1(&SALT_DRAFT_29),
        0x5430_3530 => google(&SALT_T050), // "T050"
        0x5430_3531 => google(&SALT_T051), // "T051"
        _ => None,
    }
}

/// A bounds-checked big-endian reader (STYLE.md §3); every getter returns `None` past the end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn get_u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn get_bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn get_u32(&mut self) -> Option<u32> {
        let b = self.get_bytes(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// RFC 9000 §16 variable-length integer.
    fn get_varint(&mut self) -> Option<u64> {
        let first = self.get_u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut v = u64::from(first & 0x3f);
        for &b in self.get_bytes(extra)? {
            v = (v << 8) | u64::from(b);
        }
        Some(v)
    }

    /// A varint used as a byte count within this buffer.
    fn get_len(&mut self) -> Option<usize> {
        usize::try_from(self.get_varint()?).ok()
    }
}

/// A length-prefixed connection ID (RFC 9000 §17.2).
fn get_cid<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], QuicError> {
    let len = usize::from(c.get_u8().ok_or(QuicError::Truncated)?);
    if len > MAX_CID_LEN {
        return Err(QuicError::BadConnectionId);
    }
    c.get_bytes(len).ok_or(QuicError::Truncated)
}

/// A parsed long header (RFC 9000 §17.2), borrowing the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The first byte as sent (its low bits are still header-protected).
    pub first_byte: u8,
    /// Version field.
    pub version: u32,
    /// Packet type, with v2's numbering mapped.
    pub packet_type: PacketType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Token (Initial only; empty otherwise).
    pub token: &'a [u8],
    /// The Length field: packet-number plus protected-payload bytes (0 for Retry).
    pub length: u64,
    /// Offset of the packet number from the start of the packet.
    pub pn_offset: usize,
    /// This packet: header through the end of `length` (all that is left for Retry).
    pub packet: &'a [u8],
    /// The bytes after this packet: the next coalesced packet, or empty.
    pub rest: &'a [u8],
}

/// Parses the long header at the start of `payload` (one UDP payload, or the `rest` of a
/// previous packet).
///
/// # Errors
///
/// [`QuicError::ShortHeader`] (first bit clear), [`QuicError::Truncated`],
/// [`QuicError::VersionNegotiation`], [`QuicError::UnknownVersion`] (the type bits and
/// Length only mean something for known versions), [`QuicError::BadConnectionId`],
/// [`QuicError::LengthTruncated`].
pub fn parse_long_header(payload: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let mut c = Cursor::new(payload);
    let first_byte = c.get_u8().ok_or(QuicError::Truncated)?;
    if first_byte & 0x80 == 0 {
        return Err(QuicError::ShortHeader);
    }
    let version = c.get_u32().ok_or(QuicError::Truncated)?;
    if version == 0 {
        return Err(QuicError::VersionNegotiation);
    }
    let params = version_params(version).ok_or(QuicError::UnknownVersion)?;
    let dcid = get_cid(&mut c)?;
    let scid = get_cid(&mut c)?;
    let bits = (first_byte >> 4) & 0x03;
    let packet_type = match (params.v2_types, bits) {
        (false, 0) | (true, 1) => PacketType::Initial,
        (false, 1) | (true, 2) => PacketType::ZeroRtt,
        (false, 2) | (true, 3) => PacketType::Handshake,
        _ => PacketType::Retry,
    };
    let mut token: &[u8] = &[];
    if packet_type == PacketType::Retry {
        return Ok(LongHeader {
            first_byte,
            version,
            packet_type,
            dcid,
            scid,
            token,
            length: 0,
            pn_offset: c.pos,
            packet: payload,
            rest: &[],
        });
    }
    if packet_type == PacketType::Initial {
        let len = c.get_len().ok_or(QuicError::Truncated)?;
        token = c.get_bytes(len).ok_or(QuicError::Truncated)?;
    }
    let length = c.get_varint().ok_or(QuicError::Truncated)?;
    let pn_offset = c.pos;
    let end = usize::try_from(length)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|&end| end <= payload.len())
        .ok_or(QuicError::LengthTruncated)?;
    Ok(LongHeader {
        first_byte,
        version,
        packet_type,
        dcid,
        scid,
        token,
        length,
        pn_offset,
        packet: &payload[..end],
        rest: &payload[end..],
    })
}

/// One CRYPTO frame of a decrypted Initial: stream `offset` and where its data sits in the
/// caller's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CryptoFragment {
    /// Offset in the Initial CRYPTO stream (RFC 9000 §19.6).
    pub offset: u64,
    /// Start of the data in the `out` buffer given to [`decrypt_client_initial`].
    pub start: usize,
    /// Data length.
    pub len: usize,
}

impl CryptoFragment {
    /// The fragment's bytes in `out` (empty if `out` is not the buffer it came from).
    pub fn data<'o>(&self, out: &'o [u8]) -> &'o [u8] {
        self.start
            .checked_add(self.len)
            .and_then(|end| out.get(self.start..end))
            .unwrap_or(&[])
    }
}

/// What [`decrypt_client_initial`] found in one client Initial packet. Fixed size, no borrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialInfo {
    /// Version field of the packet.
    pub version: u32,
    /// Decoded packet number.
    pub packet_number: u32,
    /// Bytes of the payload this packet took: the next coalesced packet starts here.
    pub packet_len: usize,
    /// The packet carried a CONNECTION_CLOSE frame.
    pub connection_close: bool,
    fragments: [CryptoFragment; MAX_FRAGMENTS],
    fragment_count: u8,
}

impl InitialInfo {
    /// The CRYPTO frames, in packet order.
    pub fn fragments(&self) -> &[CryptoFragment] {
        &self.fragments[..usize::from(self.fragment_count)]
    }
}

/// Initial packet-protection keys of the client (RFC 9001 §5.2).
struct Keys {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for outputs up to 32 bytes.
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    // `out` is at most 32 bytes and labels are short, so neither cast truncates.
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(b"tls13 ".len() + label.len()) as u8];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    // Only fails for outputs longer than 255 * 32 bytes.
    let _ = prk.expand_multi_info(&info, out);
}

fn client_initial_keys(params: VersionParams, dcid: &[u8]) -> Keys {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(params.salt), dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, b"client in", &mut secret);
    // A 32-byte secret is always a valid SHA-256 PRK.
    let client = Hkdf::<Sha256>::from_prk(&secret).unwrap_or(initial);
    let (key, iv, hp): (&[u8], &[u8], &[u8]) = if params.v2_labels {
        (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
    } else {
        (b"quic key", b"quic iv", b"quic hp")
    };
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&client, key, &mut k.key);
    expand_label(&client, iv, &mut k.iv);
    expand_label(&client, hp, &mut k.hp);
    k
}

/// Decrypts the client Initial at the start of `payload` and lists its CRYPTO frames.
///
/// `out` is cleared and receives the unprotected header followed by the plaintext; the
/// fragments of the returned [`InitialInfo`] point into it. Reuse one buffer: once it has
/// grown to a datagram's size, no call allocates. Coalesced packets: call again on
/// `&payload[info.packet_len..]`.
///
/// # Errors
///
/// Everything [`parse_long_header`] returns; [`QuicError::NotInitial`];
/// [`QuicError::TooShort`] when the packet cannot hold the sample; [`QuicError::Decrypt`]
/// when the tag fails (a server Initial, or a client Initial after a Retry or version change,
/// whose DCID is not the one the keys came from); [`QuicError::BadFrame`],
/// [`QuicError::UnexpectedFrame`], [`QuicError::TooManyFragments`] for its frames.
pub fn decrypt_client_initial(payload: &[u8], out: &mut Vec<u8>) -> Result<InitialInfo, QuicError> {
    out.clear();
    let h = parse_long_header(payload)?;
    if h.packet_type != PacketType::Initial {
        return Err(QuicError::NotInitial);
    }
    let params = version_params(h.version).ok_or(QuicError::UnknownVersion)?;
    let keys = client_initial_keys(params, h.dcid);
    let packet = h.packet;

    // RFC 9001 §5.4.2: the sample starts 4 bytes after the packet number's start, as if the
    // packet number were 4 bytes long.
    let sample_at = h.pn_offset + 4;
    let sample = packet
        .get(sample_at..sample_at + SAMPLE_LEN)
        .ok_or(QuicError::TooShort)?;
    let mut mask = [0u8; 16];
    mask.copy_from_slice(sample);
    Aes128::new(&keys.hp.into()).encrypt_block((&mut mask).into());

    // RFC 9001 §5.4.1: long headers protect the low 4 bits of the first byte.
    let first = packet[0] ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = h.pn_offset + pn_len;
    // The sample check above guarantees `packet.len() >= pn_offset + 20 >= header_len + 16`.
    let tag_at = packet.len() - TAG_LEN;
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&packet[tag_at..]);

    out.extend_from_slice(&packet[..header_len]);
    out[0] = first;
    let mut pn = 0u32;
    for i in 0..pn_len {
        out[h.pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u32::from(out[h.pn_offset + i]);
    }
    out.extend_from_slice(&packet[header_len..tag_at]);

    // RFC 9001 §5.3: the nonce is the IV XORed with the packet number (left-padded to 12
    // bytes). The packet number is taken as sent: see the module docs.
    let mut nonce = keys.iv;
    for (n, p) in nonce[8..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let (aad, body) = out.split_at_mut(header_len);
    Aes128Gcm::new(&keys.key.into())
        .decrypt_inout_detached(&nonce.into(), aad, body.into(), &tag.into())
        .map_err(|_| QuicError::Decrypt)?;

    let mut info = InitialInfo {
        version: h.version,
        packet_number: pn,
        packet_len: packet.len(),
        connection_close: false,
        fragments: [CryptoFragment::default(); MAX_FRAGMENTS],
        fragment_count: 0,
    };
    if params.gquic_frames {
        parse_gquic_frames(out, header_len, &mut info)?;
    } else {
        parse_frames(out, header_len, &mut info)?;
    }
    Ok(info)
}

/// Walks the frames of a decrypted Initial (RFC 9000 §12.4, §19) in `out[start..]`.
fn parse_frames(out: &[u8], start: usize, info: &mut InitialInfo) -> Result<(), QuicError> {
    let mut c = Cursor::new(out);
    c.pos = start;
    while c.pos < out.len() {
        let ty = c.get_varint().ok_or(QuicError::BadFrame)?;
        match ty {
            // PADDING, PING.
            0x00 | 0x01 => {}
            // ACK, ACK with ECN counts (§19.3).
            0x02 | 0x03 => {
                let _largest = c.get_varint();
                let _delay = c.get_varint();
                let ranges = c.get_varint().ok_or(QuicError::BadFrame)?;
                c.get_varint().ok_or(QuicError::BadFrame)?; // first ACK range
                // Each range is two varints of at least one byte: a count beyond the bytes
                // left fails on the first missing one, so the loop is bounded by the packet.
                for _ in 0..ranges {
                    c.get_varint().ok_or(QuicError::BadFrame)?;
                    c.get_varint().ok_or(QuicError::BadFrame)?;
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        c.get_varint().ok_or(QuicError::BadFrame)?;
                    }
                }
            }
            // CRYPTO (§19.6).
            0x06 => {
                let offset = c.get_varint().ok_or(QuicError::BadFrame)?;
                let len = c.get_len().ok_or(QuicError::BadFrame)?;
                let begin = c.pos;
                c.get_bytes(len).ok_or(QuicError::BadFrame)?;
                // §19.6: offset + length may not exceed 2^62 - 1.
                if offset.saturating_add(len as u64) >= 1 << 62 {
                    return Err(QuicError::BadFrame);
                }
                info.add_fragment(offset, begin, len)?;
            }
            // CONNECTION_CLOSE (§19.19); 0x1d is not allowed in Initials but harmless.
            0x1c | 0x1d => {
                c.get_varint().ok_or(QuicError::BadFrame)?; // error code
                if ty == 0x1c {
                    c.get_varint().ok_or(QuicError::BadFrame)?; // frame type
                }
                let reason = c.get_len().ok_or(QuicError::BadFrame)?;
                c.get_bytes(reason).ok_or(QuicError::BadFrame)?;
                info.connection_close = true;
            }
            _ => return Err(QuicError::UnexpectedFrame),
        }
    }
    Ok(())
}

impl InitialInfo {
    fn add_fragment(&mut self, offset: u64, start: usize, len: usize) -> Result<(), QuicError> {
        let slot = self
            .fragments
            .get_mut(usize::from(self.fragment_count))
            .ok_or(QuicError::TooManyFragments)?;
        *slot = CryptoFragment { offset, start, len };
        self.fragment_count += 1;
        Ok(())
    }
}

/// Walks the gQUIC frames of a decrypted T050/T051 Initial (Chromium
/// `quic_framer.cc`; IETF varints for the CRYPTO offset and length).
fn parse_gquic_frames(out: &[u8], start: usize, info: &mut InitialInfo) -> Result<(), QuicError> {
    // Byte widths of the 2-bit length codes of the ACK frame.
    const WIDTH: [usize; 4] = [1, 2, 4, 6];
    let mut c = Cursor::new(out);
    c.pos = start;
    let skip = |c: &mut Cursor<'_>, n: usize| c.get_bytes(n).map(|_| ()).ok_or(QuicError::BadFrame);
    while let Some(ty) = c.get_u8() {
        match ty {
            // PADDING: the rest of the packet.
            0x00 => break,
            // PING.
            0x07 => {}
            // CRYPTO.
            0x08 => {
                let offset = c.get_varint().ok_or(QuicError::BadFrame)?;
                let len = c.get_len().ok_or(QuicError::BadFrame)?;
                let begin = c.pos;
                c.get_bytes(len).ok_or(QuicError::BadFrame)?;
                info.add_fragment(offset, begin, len)?;
            }
            // ACK, 0b01ntllmm: n = several blocks, ll = largest-acked width, mm = block width.
            0x40..=0x7f => {
                let block = WIDTH[usize::from(ty & 0x03)];
                skip(&mut c, WIDTH[usize::from((ty >> 2) & 0x03)] + 2)?; // largest, delay
                let blocks = if ty & 0x20 != 0 {
                    c.get_u8().ok_or(QuicError::BadFrame)?
                } else {
                    0
                };
                skip(&mut c, block)?; // first block
                for _ in 0..blocks {
                    skip(&mut c, 1 + block)?; // gap, block length
                }
                let timestamps = c.get_u8().ok_or(QuicError::BadFrame)?;
                if timestamps > 0 {
                    skip(&mut c, 1 + 4 + (usize::from(timestamps) - 1) * 3)?;
                }
            }
            _ => return Err(QuicError::UnexpectedFrame),
        }
    }
    Ok(())
}

/// The client's Initial CRYPTO stream, reassembled from fragments that may arrive out of order,
/// repeated or overlapping (RFC 9000 §19.6), up to a byte cap.
///
/// The buffer and a bitmap of the bytes received are allocated once, at construction: the
/// state's size is fixed by the cap (STYLE.md §6). Bytes at stream offsets at or past the cap
/// are dropped and reported as [`QuicError::Capped`]. Overlapping data overwrites what was
/// there; RFC 9000 §2.2 requires retransmitted bytes to be identical.
#[derive(Clone, Debug)]
pub struct CryptoReassembler {
    buf: Vec<u8>,
    have: Vec<u64>,
    /// Bytes `0..contiguous` are all present.
    contiguous: usize,
    capped: bool,
}

impl Default for CryptoReassembler {
    /// A reassembler capped at [`DEFAULT_CRYPTO_CAP`] bytes.
    fn default() -> Self {
        CryptoReassembler::new(DEFAULT_CRYPTO_CAP)
    }
}

impl CryptoReassembler {
    /// A reassembler keeping stream bytes `0..cap`.
    pub fn new(cap: usize) -> Self {
        CryptoReassembler {
            buf: vec![0; cap],
            have: vec![0; cap.div_ceil(64)],
            contiguous: 0,
            capped: false,
        }
    }

    /// Forgets everything received, keeping the allocation.
    pub fn clear(&mut self) {
        self.have.fill(0);
        self.contiguous = 0;
        self.capped = false;
    }

    /// Adds the stream bytes `data` at `offset`.
    ///
    /// # Errors
    ///
    /// [`QuicError::Capped`] when some of them lie past the cap (those are dropped; the rest is
    /// kept).
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Result<(), QuicError> {
        let cap = self.buf.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if start < cap {
            let kept = end.min(cap) - start;
            self.buf[start..start + kept].copy_from_slice(&data[..kept]);
            for i in start..start + kept {
                self.have[i / 64] |= 1 << (i % 64);
            }
            while self.contiguous < cap
                && self.have[self.contiguous / 64] & (1 << (self.contiguous % 64)) != 0
            {
                self.contiguous += 1;
            }
        }
        if end > cap {
            self.capped = true;
            return Err(QuicError::Capped);
        }
        Ok(())
    }

    /// Adds every CRYPTO fragment of a packet decrypted into `out`.
    ///
    /// # Errors
    ///
    /// [`QuicError::Capped`] if any fragment went past the cap; all fragments are still
    /// pushed.
    pub fn push_initial(&mut self, info: &InitialInfo, out: &[u8]) -> Result<(), QuicError> {
        let mut result = Ok(());
        for f in info.fragments() {
            if let Err(e) = self.push(f.offset, f.data(out)) {
                result = Err(e);
            }
        }
        result
    }

    /// Length of the gap-free prefix received so far.
    pub fn contiguous_len(&self) -> usize {
        self.contiguous
    }

    /// True once data past the cap was dropped.
    pub fn is_capped(&self) -> bool {
        self.capped
    }

    /// The complete ClientHello handshake message (type 1, 4-byte header and body, RFC 8446
    /// §4) once all its bytes have arrived; `None` before, if the stream starts with another
    /// message type, or if the message is larger than the cap.
    pub fn client_hello(&self) -> Option<&[u8]> {
        let have = &self.buf[..self.contiguous];
        let (&ty, rest) = have.split_first()?;
        let len = rest.get(..3)?;
        let len = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
        if ty != 1 {
            return None;
        }
        have.get(..4 + len)
    }
}

mod dissector;
pub mod gquic;
pub use self::dissector::{Quic, QuicFlow, version_name};

#[cfg(test)]
mod tests;
