//! A small NMSG reader: containers (from a file or one per datagram) → [`Nmsg`] bodies, with
//! fragment reassembly, zlib, and payload CRC checks (`shared/specs/nmsg.md` §1–§4). It exists
//! to check what the sink writes (unit and end-to-end tests, and the flags-0x03 case go-nmsg
//! cannot read), not to be a collector: fragment sets never expire and there is no loss
//! tracking.
//!
//! Malformed input is a [`Malformed`] value naming the byte offset, like a parser's drop
//! reason: it is data, not an `Error` of the appliance.

use std::collections::HashMap;
use std::io::Read as _;

use prost::Message;

use super::proto::{Nmsg, NmsgFragment};
use super::{FLAG_FRAGMENT, FLAG_ZLIB, HEADER_LEN, MAGIC, VERSION};

/// The largest body or inflated body accepted (`NMSG_RBUFSZ`, 2 × `NMSG_WBUFSZ_MAX`).
const MAX_BODY: usize = 2 * 1_048_576;

/// Why a container could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// Offset of the container in the input (for [`read_stream`]; 0 for one datagram).
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "malformed NMSG container at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for Malformed {}

/// Reassembles containers into bodies. Feed it every container in order of arrival.
#[derive(Debug, Default)]
pub struct Reader {
    /// Fragment sets being collected, by fragment id.
    pending: HashMap<u32, FragSet>,
    /// Fragment containers seen.
    pub fragments: u64,
}

/// The fragments of one container received so far.
#[derive(Debug, Default)]
struct FragSet {
    /// The container flags (zlib or not).
    flags: u8,
    /// Slices by index.
    slices: Vec<Option<Vec<u8>>>,
}

impl Reader {
    /// A reader with no pending fragments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one whole container (header and body; a UDP datagram must be exactly that).
    /// Returns the body when it is complete: at once for an unfragmented container, with the
    /// last missing fragment otherwise.
    ///
    /// # Errors
    ///
    /// Bad magic or version, a length that does not match, a body that does not inflate or
    /// parse.
    pub fn container(&mut self, c: &[u8]) -> Result<Option<Nmsg>, Malformed> {
        let bad = |what: String| Malformed { offset: 0, what };
        let (flags, len) = header(c).map_err(bad)?;
        if c.len() != HEADER_LEN + len {
            return Err(bad(format!(
                "header says {len} body bytes, container has {}",
                c.len() - HEADER_LEN
            )));
        }
        let body = &c[HEADER_LEN..];
        if flags & FLAG_FRAGMENT == 0 {
            return decode_body(flags, body).map(Some).map_err(bad);
        }
        self.fragments += 1;
        let frag = NmsgFragment::decode(body).map_err(|e| bad(format!("fragment: {e}")))?;
        if frag.current > frag.last || frag.last > 1 << 20 {
            return Err(bad(format!(
                "fragment {} of last {}",
                frag.current, frag.last
            )));
        }
        let n = frag.last as usize + 1;
        let FragSet { slices, .. } = self.pending.entry(frag.id).or_insert_with(|| FragSet {
            flags,
            slices: vec![None; n],
        });
        if slices.len() != n {
            return Err(bad(format!("fragment id {:#x}: `last` changed", frag.id)));
        }
        slices[frag.current as usize] = Some(frag.fragment);
        if slices.iter().any(Option::is_none) {
            return Ok(None);
        }
        let FragSet { flags, slices } = self.pending.remove(&frag.id).unwrap_or_default();
        let whole: Vec<u8> = slices.into_iter().flatten().flatten().collect();
        if let Some(crc) = frag.crc
            && crc != crc32c::crc32c(&whole).swap_bytes()
        {
            return Err(bad(format!(
                "fragment id {:#x}: reassembly CRC mismatch",
                frag.id
            )));
        }
        decode_body(flags & FLAG_ZLIB, &whole)
            .map(Some)
            .map_err(bad)
    }

    /// Fragment sets still incomplete.
    pub fn incomplete(&self) -> usize {
        self.pending.len()
    }
}

/// Reads a file's worth of containers back to back.
///
/// # Errors
///
/// A container is malformed or the input ends inside one.
pub fn read_stream(mut data: &[u8]) -> Result<Vec<Nmsg>, Malformed> {
    let mut reader = Reader::new();
    let mut out = Vec::new();
    let mut offset = 0;
    while !data.is_empty() {
        let at = |what: String| Malformed { offset, what };
        let (_, len) = header(data).map_err(at)?;
        let end = HEADER_LEN + len;
        if data.len() < end {
            return Err(at(format!(
                "input ends {} bytes into a {end}-byte container",
                data.len()
            )));
        }
        if let Some(n) = reader.container(&data[..end]).map_err(|m| at(m.what))? {
            out.push(n);
        }
        data = &data[end..];
        offset += end;
    }
    if reader.incomplete() > 0 {
        return Err(Malformed {
            offset,
            what: format!(
                "{} fragment sets incomplete at end of input",
                reader.incomplete()
            ),
        });
    }
    Ok(out)
}

/// Checks each payload against `payload_crcs`: `Some(ok)` per payload that has a CRC, `None`
/// beyond the CRC list (absent CRCs are not checked, as in libnmsg).
pub fn check_crcs(n: &Nmsg) -> Vec<Option<bool>> {
    n.payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            n.payload_crcs.get(i).map(|&crc| {
                crc == crc32c::crc32c(p.payload.as_deref().unwrap_or_default()).swap_bytes()
            })
        })
        .collect()
}

/// Flags and body length of the container at the start of `c`.
fn header(c: &[u8]) -> Result<(u8, usize), String> {
    if c.len() < HEADER_LEN {
        return Err(format!(
            "{} bytes, shorter than the 10-byte header",
            c.len()
        ));
    }
    if c[..4] != MAGIC {
        return Err(format!("magic {:02x?} is not `NMSG`", &c[..4]));
    }
    if c[5] != VERSION {
        return Err(format!("version {} (only 2 is read)", c[5]));
    }
    let len = u32::from_be_bytes([c[6], c[7], c[8], c[9]]) as usize;
    if len > MAX_BODY {
        return Err(format!("body length {len} is over {MAX_BODY}"));
    }
    Ok((c[4], len))
}

/// Inflates (flag 0x01) and parses a body.
fn decode_body(flags: u8, body: &[u8]) -> Result<Nmsg, String> {
    if flags & FLAG_ZLIB == 0 {
        return Nmsg::decode(body).map_err(|e| format!("body: {e}"));
    }
    let Some((raw_len, stream)) = body.split_first_chunk::<4>() else {
        return Err("zlib body shorter than its 4-byte length".into());
    };
    let raw_len = u32::from_be_bytes(*raw_len) as usize;
    if raw_len > MAX_BODY {
        return Err(format!("inflated length {raw_len} is over {MAX_BODY}"));
    }
    let mut raw = Vec::with_capacity(raw_len);
    flate2::read::ZlibDecoder::new(stream)
        .take(raw_len as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("zlib: {e}"))?;
    if raw.len() != raw_len {
        return Err(format!(
            "inflated to {} bytes, header says {raw_len}",
            raw.len()
        ));
    }
    Nmsg::decode(raw.as_slice()).map_err(|e| format!("inflated body: {e}"))
}
