//! The QUIC dissector: claims a UDP flow on a client Initial that decrypts (IETF QUIC v1, v2,
//! drafts 22–32, mvfst, Google T050/T051), or on a Google QUIC client packet that announces
//! its version in clear (Q024–Q046, and Q050 whose Initial this module cannot open), and reads
//! the ClientHello: SNI, ALPN and JA4 from the TLS ClientHello carried in CRYPTO frames
//! (reassembled over several Initials), SNI and user agent from gQUIC's clear `CHLO`.
//!
//! Decryption output goes to the worker's scratch buffer ([`Context::scratch`]): once it has
//! grown to a datagram, no packet allocates. A flow's state exists only once it is identified.

use super::gquic::{self, TAG_SNI, TAG_UAID};
use super::{
    CryptoReassembler, PacketType, VERSION_1, VERSION_2, decrypt_client_initial, parse_long_header,
};
use crate::dpi::tls::{self, Transport};
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// The name of a QUIC version, for `quic_version`: `V-1`, `V-2`, `Draft-29`, `mvfst-1`,
/// Google's tags as they read (`Q046`, `T051`), else the hex value.
pub fn version_name(v: u32) -> String {
    match v {
        VERSION_1 => "V-1".to_owned(),
        VERSION_2 => "V-2".to_owned(),
        0xff00_0000..=0xff00_00ff => format!("Draft-{}", v & 0xff),
        0xface_b000..=0xface_b0ff => format!("mvfst-{}", v & 0xff),
        _ => {
            let b = v.to_be_bytes();
            if matches!(b[0], b'Q' | b'T') && b[1..].iter().all(u8::is_ascii_alphanumeric) {
                b.iter().map(|&c| char::from(c)).collect()
            } else {
                format!("0x{v:08x}")
            }
        }
    }
}

/// `quic_transport_parameters` (RFC 9001 §8.2), and its number in drafts before 33.
const TRANSPORT_PARAMETERS: [u16; 2] = [0x0039, 0xffa5];
/// Chromium's `google_user_agent` transport parameter (what nDPI reports as the user agent
/// of a QUIC flow, e.g. `quic-27.pcap`: `beta Chrome/84.0.4147.45 ...`).
const GOOGLE_USER_AGENT: u64 = 0x3129;

/// The value of Chromium's user-agent transport parameter, if the ClientHello has one.
/// Parameters are `(varint id, varint length, value)` since draft-27 (RFC 9000 §18); before,
/// the list had a 2-byte length and each parameter 2-byte id and length (draft-ietf-quic-
/// transport-23 §18; Google's T050 still uses that form).
fn google_user_agent<'a>(ch: &tls::ClientHello<'a>) -> Option<&'a [u8]> {
    let params = TRANSPORT_PARAMETERS
        .iter()
        .find_map(|&t| ch.extensions.get(t))?;
    let mut c = super::Cursor::new(params);
    while let Some(id) = c.get_varint() {
        let Some(value) = c.get_len().and_then(|len| c.get_bytes(len)) else {
            break;
        };
        if id == GOOGLE_USER_AGENT {
            return Some(value);
        }
    }
    // The draft-23 form.
    let (len, mut rest) = params.split_first_chunk::<2>()?;
    rest = rest.get(..usize::from(u16::from_be_bytes(*len)))?;
    while let Some((head, tail)) = rest.split_first_chunk::<4>() {
        let id = u16::from_be_bytes([head[0], head[1]]);
        let (value, next) =
            tail.split_at_checked(usize::from(u16::from_be_bytes([head[2], head[3]])))?;
        if u64::from(id) == GOOGLE_USER_AGENT {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// Smallest datagram that carries a client Initial (RFC 9000 §14.1).
const MIN_INITIAL_DATAGRAM: usize = 1200;

/// The version of a client's first datagram when it is one of the versions reserved to force
/// version negotiation (RFC 9000 §15: `0x?a?a?a?a`): a long header with the fixed bit
/// (§17.2), connection IDs of at most 20 bytes, padded to [`MIN_INITIAL_DATAGRAM`]. Such an
/// Initial is protected as the client's own version would be (`quic_interop_V.pcapng`: with
/// draft-29 keys), which the version field does not tell; like nDPI, which names these
/// flows QUIC without a server name, only the invariants (RFC 8999 §5.1) are checked.
fn reserved_version_initial(p: &[u8]) -> Option<u32> {
    if p.len() < MIN_INITIAL_DATAGRAM || p[0] & 0xc0 != 0xc0 {
        return None;
    }
    let v = u32::from_be_bytes([p[1], p[2], p[3], p[4]]);
    if v & 0x0f0f_0f0f != 0x0a0a_0a0a {
        return None;
    }
    let dcid = usize::from(p[5]);
    let scid = usize::from(*p.get(6 + dcid)?);
    (dcid <= 20 && scid <= 20).then_some(v)
}

/// Per-flow state of [`Quic`]: the client's Initial CRYPTO stream. Bound: one
/// [`CryptoReassembler`] of [`super::DEFAULT_CRYPTO_CAP`] (8 KiB) plus its 1 KiB bitmap,
/// allocated when the flow is identified.
#[derive(Debug, Default)]
pub struct QuicFlow {
    crypto: CryptoReassembler,
}

/// QUIC (`QUIC`), IETF and Google. State: [`QuicFlow`] (IETF versions only; gQUIC's clear
/// `CHLO` needs none).
#[derive(Clone, Copy, Debug, Default)]
pub struct Quic;

impl Dissector for Quic {
    fn ports(&self) -> &'static [u16] {
        &[443]
    }

    fn name(&self) -> &'static str {
        "quic"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if let Some(v) = gquic::client_version(p) {
            return gquic_packet(v, p, ctx);
        }
        if !ctx.is_identified()
            && let Some(v) = reserved_version_initial(p)
        {
            // A client probing version negotiation: QUIC, nothing readable.
            ctx.identify("QUIC");
            ctx.result().set_meta("quic_version", version_name(v));
            return Verdict::Done;
        }
        // RFC 9000 §17.2: a long header has the top bit set; the client's first datagram
        // starts with an Initial.
        let version = match parse_long_header(p) {
            Ok(h) if h.packet_type == PacketType::Initial => h.version,
            // Short headers (1-RTT), Handshake, Version Negotiation, ...: nothing to read.
            _ if ctx.is_identified() => return Verdict::Pending,
            _ => return Verdict::Reject,
        };
        let mut out = std::mem::take(ctx.scratch());
        let verdict = initials(version, p, &mut out, ctx);
        *ctx.scratch() = out;
        verdict
    }
}

/// A gQUIC client packet with its version in clear.
fn gquic_packet(version: u32, p: &[u8], ctx: &mut Context<'_>) -> Verdict {
    if !ctx.is_identified() {
        ctx.identify("QUIC");
        ctx.result().set_meta("quic_version", version_name(version));
    }
    // Q050 and later encrypt their Initials with keys this module does not derive.
    if version >= u32::from_be_bytes(*b"Q050") {
        return Verdict::Done;
    }
    let Some(chlo) = gquic::find_chlo(p) else {
        return Verdict::Pending;
    };
    let r = ctx.result();
    if let Some(sni) = chlo.get(TAG_SNI) {
        r.requested_server_name = String::from_utf8_lossy(sni).into_owned();
    }
    if let Some(ua) = chlo.get(TAG_UAID) {
        r.user_agent = String::from_utf8_lossy(ua).into_owned();
    }
    Verdict::Done
}

/// The Initials of one datagram (coalesced packets, RFC 9000 §12.2), decrypted into `out`.
fn initials(version: u32, mut p: &[u8], out: &mut Vec<u8>, ctx: &mut Context<'_>) -> Verdict {
    let mut decrypted = false;
    while !p.is_empty() {
        let info = match decrypt_client_initial(p, out) {
            Ok(info) => info,
            // Later coalesced packets (0-RTT, Handshake) and server Initials do not open
            // with the client's keys: nothing more to read in this datagram.
            Err(_) => break,
        };
        if !ctx.is_identified() {
            ctx.identify("QUIC");
            ctx.result().set_meta("quic_version", version_name(version));
        }
        decrypted = true;
        let st = ctx.state::<QuicFlow>();
        // Bytes past the cap are dropped: the hello is then out of reach, which
        // `client_hello` reports as `None`.
        let _ = st.crypto.push_initial(&info, out);
        p = &p[info.packet_len..];
    }
    if !ctx.is_identified() {
        return Verdict::Reject;
    }
    if !decrypted {
        return Verdict::Pending;
    }
    let st = ctx.state::<QuicFlow>();
    if st.crypto.is_capped() && st.crypto.client_hello().is_none() {
        return Verdict::Done;
    }
    let Some(hello) = st.crypto.client_hello() else {
        return Verdict::Pending;
    };
    // Copy out of the state into the scratch buffer (already taken out of `ctx`) so that the
    // result can be written while the hello is borrowed.
    out.clear();
    out.extend_from_slice(hello);
    if let Some((_, body)) = tls::split_handshake(out)
        && let Ok(ch) = tls::parse_client_hello(body)
    {
        let r = ctx.result();
        if let Some(sni) = ch.server_name {
            r.requested_server_name = sni.to_owned();
        }
        r.client_fingerprint = tls::ja4(&ch, Transport::Quic);
        r.set_meta("tls_ja3", tls::ja3_hash(&ch));
        if let Some(ua) = google_user_agent(&ch) {
            r.user_agent = String::from_utf8_lossy(ua).into_owned();
        }
        if !ch.alpn.is_empty() {
            r.set_meta("quic_alpn", ch.alpn.joined());
        }
    }
    Verdict::Done
}
