//! Google QUIC's clear-text client hello: the `CHLO` handshake message that gQUIC versions up
//! to Q046 send unencrypted in the client's first packets, and the version field of their
//! headers.
//!
//! Owns two header layouts, as Chromium's `quic_framer.cc` and Wireshark's `packet-gquic.c`
//! describe them: the gQUIC public header (versions up to Q043: a flags byte whose 0x80 bit is
//! clear, 0x01 "version present" and 0x08 "8-byte connection ID"), and the long header of
//! Q046–Q050 (IETF invariants, first byte 0b11xxxxxx, a single byte with both connection-ID
//! lengths). The handshake message is a tag-value map (`CHLO`, entry count, then
//! `(tag, end offset)` pairs, then the values), found by its tag near the start of the packet
//! rather than by walking the gQUIC frames, whose layout changed from version to version.
//!
//! It does *not* handle anything encrypted: Q050 and later protect their Initials (T050/T051
//! are decrypted by the parent module; Q050's own scheme is not supported), and every server
//! packet is encrypted after the `REJ`.
//!
//! Every function is pure, never panics and never allocates.

/// A gQUIC version tag `Q0dd` (ASCII, e.g. `Q046` is `0x5130_3436`).
pub fn is_gquic_version(v: u32) -> bool {
    let [q, zero, a, b] = v.to_be_bytes();
    q == b'Q' && zero == b'0' && a.is_ascii_digit() && b.is_ascii_digit()
}

/// Public-header flag: the version field is present (client packets before negotiation).
const PUBLIC_FLAG_VERSION: u8 = 0x01;
/// Public-header flag: a public reset.
const PUBLIC_FLAG_RESET: u8 = 0x02;
/// Public-header flag: an 8-byte connection ID is present.
const PUBLIC_FLAG_CID: u8 = 0x08;

/// The gQUIC version a client packet announces in its header, if it is one: a public header
/// (≤ Q043) with the version flag, or a long header (Q046–Q050) with a `Q0dd` version.
pub fn client_version(p: &[u8]) -> Option<u32> {
    let &flags = p.first()?;
    let at = if flags & 0x80 != 0 {
        // Long header: the version follows the first byte.
        1
    } else {
        // Public header: flags, optional 8-byte connection ID, version.
        if flags & PUBLIC_FLAG_VERSION == 0 || flags & PUBLIC_FLAG_RESET != 0 {
            return None;
        }
        if flags & PUBLIC_FLAG_CID != 0 { 9 } else { 1 }
    };
    let v = p.get(at..at + 4)?;
    let v = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    is_gquic_version(v).then_some(v)
}

/// Tag of the client hello message.
const CHLO: [u8; 4] = *b"CHLO";
/// How far into a packet the `CHLO` tag is looked for: after the longest header (long header
/// with two 18-byte connection IDs, or public header with CID, version and a 6-byte packet
/// number), the 12-byte message hash and a stream frame header.
const CHLO_SEARCH_LEN: usize = 96;
/// Most entries accepted in a tag map (Chrome sends about 25).
const MAX_ENTRIES: usize = 128;

/// Server name indication tag.
pub const TAG_SNI: [u8; 4] = *b"SNI\0";
/// User agent id tag (Chrome: `Chrome/50.0.2661.102 Linux x86_64`).
pub const TAG_UAID: [u8; 4] = *b"UAID";

/// A client hello's tag-value map, borrowing the packet. The values may be cut by the packet's
/// end (a `CHLO` can span packets); [`Chlo::get`] returns only complete values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chlo<'a> {
    /// `(tag, end offset)` entries, 8 bytes each.
    entries: &'a [u8],
    /// The values that follow the entries, as far as the packet goes.
    values: &'a [u8],
}

impl<'a> Chlo<'a> {
    /// The value of `tag`, when it is entirely in this packet.
    pub fn get(&self, tag: [u8; 4]) -> Option<&'a [u8]> {
        let mut start = 0usize;
        for e in self.entries.chunks_exact(8) {
            let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
            if e[..4] == tag {
                return self.values.get(start..end);
            }
            start = end;
        }
        None
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len() / 8
    }

    /// True when the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Finds a `CHLO` message near the start of `p` and returns its map: entry count (u16, little
/// endian), two bytes of padding, then the entries, whose end offsets must not decrease.
pub fn find_chlo(p: &[u8]) -> Option<Chlo<'_>> {
    let window = &p[..p.len().min(CHLO_SEARCH_LEN)];
    let at = window.windows(4).position(|w| w == CHLO)?;
    let msg = &p[at + 4..];
    let n = usize::from(u16::from_le_bytes([*msg.first()?, *msg.get(1)?]));
    if n == 0 || n > MAX_ENTRIES {
        return None;
    }
    let entries = msg.get(4..4 + 8 * n)?;
    let mut last = 0u32;
    for e in entries.chunks_exact(8) {
        let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        if end < last {
            return None;
        }
        last = end;
    }
    Some(Chlo {
        entries,
        values: &msg[4 + 8 * n..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Q039-style public header and a CHLO with SNI, VER and UAID.
    fn q039_packet(sni: &[u8]) -> Vec<u8> {
        let mut p = vec![0x0d]; // flags: version, 8-byte CID, 1-byte packet number
        p.extend([0x11; 8]); // connection ID
        p.extend(b"Q039"); // version
        p.push(0x01); // packet number
        p.extend([0x22; 12]); // message authentication hash
        p.extend([0xa0, 0x01, 0x05, 0x14]); // stream frame header, stream 1
        p.extend(b"CHLO");
        p.extend([3, 0, 0, 0]); // 3 entries, padding
        let ends = [sni.len() as u32, sni.len() as u32 + 4, sni.len() as u32 + 9];
        for (tag, end) in [
            (TAG_SNI, ends[0]),
            (*b"VER\0", ends[1]),
            (TAG_UAID, ends[2]),
        ] {
            p.extend(tag); // tag
            p.extend(end.to_le_bytes()); // end offset
        }
        p.extend(sni);
        p.extend(b"Q039");
        p.extend(b"agent");
        p
    }

    #[test]
    fn public_header_chlo() {
        let p = q039_packet(b"www.example.com");
        assert_eq!(client_version(&p), Some(u32::from_be_bytes(*b"Q039")));
        let chlo = find_chlo(&p).unwrap();
        assert_eq!(chlo.len(), 3);
        assert!(!chlo.is_empty());
        assert_eq!(chlo.get(TAG_SNI), Some(&b"www.example.com"[..]));
        assert_eq!(chlo.get(TAG_UAID), Some(&b"agent"[..]));
        assert_eq!(chlo.get(*b"PAD\0"), None);
        // Values cut by the packet's end are not returned.
        let cut = &p[..p.len() - 2];
        assert_eq!(find_chlo(cut).unwrap().get(TAG_UAID), None);
        assert_eq!(
            find_chlo(cut).unwrap().get(TAG_SNI),
            Some(&b"www.example.com"[..])
        );
    }

    #[test]
    fn long_header_version() {
        let mut p = vec![0xc3]; // long header, Q046
        p.extend(b"Q046");
        p.push(0x50); // DCID length 8 (5 + 3), no SCID
        assert_eq!(client_version(&p), Some(u32::from_be_bytes(*b"Q046")));
    }

    #[test]
    fn rejects() {
        // No version flag, public reset, no CID and a version, IETF version, short.
        assert_eq!(client_version(&[0x0c, 0x11]), None);
        assert_eq!(client_version(b"\x0bAAAAAAAAQ043"), None);
        assert_eq!(client_version(b"\x01Q043"), Some(0x5130_3433));
        assert_eq!(client_version(&[0xc0, 0, 0, 0, 1]), None);
        assert_eq!(client_version(&[]), None);
        assert_eq!(client_version(b"\x09AAAAAAAAQ0"), None);
        assert!(!is_gquic_version(u32::from_be_bytes(*b"T050")));
        // No CHLO, CHLO too late, zero or too many entries, decreasing offsets, cut entries.
        assert_eq!(find_chlo(&[0; 200]), None);
        let mut late = vec![0; CHLO_SEARCH_LEN];
        late.extend(b"CHLO\x01\x00\x00\x00SNI\x00\x00\x00\x00\x00");
        assert_eq!(find_chlo(&late), None);
        assert_eq!(find_chlo(b"CHLO\x00\x00\x00\x00"), None);
        assert_eq!(find_chlo(b"CHLO\xff\x00\x00\x00"), None);
        assert_eq!(
            find_chlo(b"CHLO\x02\x00\x00\x00AAAA\x05\x00\x00\x00BBBB\x01\x00\x00\x00"),
            None
        );
        assert_eq!(find_chlo(b"CHLO\x02\x00\x00\x00AAAA\x05\x00\x00\x00"), None);
        assert_eq!(find_chlo(b"CHL"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = client_version(&bytes);
            if let Some(c) = find_chlo(&bytes) {
                let _ = (c.get(TAG_SNI), c.get(TAG_UAID), c.len());
            }
        }
    }
}
