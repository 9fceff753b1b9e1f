//! pcapng: a sequence of blocks (draft-ietf-opsawg-pcapng, "PCAP Next Generation Dump File
//! Format"), each `type(4) total_length(4) body total_length(4)`.
//!
//! This file owns the block walk over a window of bytes: sections and their byte order,
//! interfaces with their link type and timestamp resolution, and the three packet blocks
//! (Enhanced, Simple, and the obsolete Packet Block). Every other block type (name resolution,
//! interface statistics, decryption secrets, custom, ...) is skipped by its length. It does not
//! read files or keep the buffer (that is [`super::PcapSource`]), and ignores per-packet options
//! (flags, hashes, comments).
//!
//! Every block is checked before it is used: its length is at least 12, a multiple of 4, at
//! most [`MAX_BLOCK`], and repeated at its end.

use super::{Part, Step, rd16, rd32};
use crate::capture::Frame;
use crate::packet::LinkType;

/// Section Header Block; a palindrome, so it reads the same in both byte orders.
const SHB: u32 = 0x0a0d_0d0a;
/// Interface Description Block.
const IDB: u32 = 1;
/// Packet Block (obsolete, still written by old tools).
const PB: u32 = 2;
/// Simple Packet Block.
const SPB: u32 = 3;
/// Enhanced Packet Block.
const EPB: u32 = 6;
/// Smallest block: type, length, and the trailing length.
const MIN_BLOCK: usize = 12;
/// Largest block accepted. Larger lengths are corrupt, not data (and would make us buffer
/// gigabytes); 16 MiB leaves room for big name-resolution or decryption-secrets blocks.
pub(super) const MAX_BLOCK: u32 = 16 << 20;
/// Fixed part of the SHB body: byte-order magic(4), major(2), minor(2), section length(8).
const SHB_FIXED: usize = 16;
/// Fixed part of the IDB body: link type(2), reserved(2), snaplen(4).
const IDB_FIXED: usize = 8;
/// Fixed part of the EPB and PB bodies: interface(4, or 2+2 drops in a PB), timestamp high(4)
/// and low(4), captured length(4), original length(4).
const PACKET_FIXED: usize = 20;
/// Fixed part of the SPB body: original length(4).
const SPB_FIXED: usize = 4;
/// `opt_endofopt`.
const OPT_END: u16 = 0;
/// `if_tsresol`: one byte, the resolution of the interface's timestamps.
const IF_TSRESOL: u16 = 9;
/// `if_tsoffset`: eight bytes, seconds to add to the interface's timestamps.
const IF_TSOFFSET: u16 = 14;

/// How to turn an interface's timestamp units into nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsUnit {
    /// Units of 10^-k s with k ≤ 9: multiply by 10^(9-k).
    Mul(u64),
    /// Units of 10^-k s with k > 9: divide by 10^(k-9).
    Div(u64),
    /// Units of 2^-k s.
    Pow2(u8),
}

impl TsUnit {
    /// The default resolution when an interface has no `if_tsresol`: microseconds.
    const MICROS: TsUnit = TsUnit::Mul(1000);

    /// Reads an `if_tsresol` byte: "If the Most Significant Bit is equal to zero, the remaining
    /// bits indicates the resolution of the timestamp as a negative power of 10 [...]. If the
    /// Most Significant Bit is equal to one, the remaining bits indicates the resolution as
    /// negative power of 2."
    fn from_tsresol(v: u8) -> TsUnit {
        let k = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            TsUnit::Pow2(v & 0x7f)
        } else if k <= 9 {
            TsUnit::Mul(10u64.pow(9 - k))
        } else {
            // Finer than 10^-28 s: every timestamp is below one nanosecond.
            TsUnit::Div(10u64.checked_pow(k - 9).unwrap_or(u64::MAX))
        }
    }

    /// Converts `ts` units to nanoseconds, saturating.
    #[inline]
    fn to_ns(self, ts: u64) -> u64 {
        match self {
            TsUnit::Mul(m) => ts.saturating_mul(m),
            TsUnit::Div(d) => ts / d,
            TsUnit::Pow2(k) => {
                // ts * 1e9 < 2^94 fits a u128; k < 128, so the shift is defined.
                let ns = (u128::from(ts) * 1_000_000_000) >> k;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

/// One interface of the current section.
#[derive(Clone, Copy, Debug)]
struct Interface {
    /// How to read its frames.
    link: LinkType,
    /// Its snapshot length (0: unlimited); bounds the data of a Simple Packet Block.
    snaplen: u32,
    /// Its timestamp unit.
    unit: TsUnit,
    /// `if_tsoffset`, in nanoseconds.
    offset_ns: i64,
}

impl Interface {
    /// The timestamp of a packet, in nanoseconds since the epoch.
    #[inline]
    fn ts_ns(&self, units: u64) -> u64 {
        self.unit.to_ns(units).saturating_add_signed(self.offset_ns)
    }
}

/// Walks one pcapng file.
#[derive(Debug)]
pub(super) struct Reader {
    /// Byte order of the current section.
    le: bool,
    /// Interfaces of the current section, by id.
    interfaces: Vec<Interface>,
    /// Timestamp of the last packet that had one, for Simple Packet Blocks.
    last_ts: u64,
}

impl Reader {
    /// A reader at the start of a file (which begins with a Section Header Block).
    pub(super) fn new() -> Self {
        Reader {
            le: true,
            interfaces: Vec::new(),
            last_ts: 0,
        }
    }

    /// Delivers packets from `data[*pos..]` until `*n == max` or the window runs out;
    /// `*pos` is left at the first block not processed.
    pub(super) fn run(
        &mut self,
        data: &[u8],
        pos: &mut usize,
        n: &mut usize,
        max: usize,
        shared: Option<&super::super::SharedBytes>,
        f: &mut dyn FnMut(Frame<'_>),
    ) -> Step {
        let (mut p, mut k) = (*pos, *n);
        let step = loop {
            if k >= max {
                break Step::Full;
            }
            let rest = &data[p..];
            if rest.len() < MIN_BLOCK {
                break Step::Need {
                    need: MIN_BLOCK,
                    part: Part::BlockHeader,
                };
            }
            let mut le = self.le;
            let btype = rd32(rest, 0, le);
            if btype == SHB {
                // A new section may change the byte order; its length is already in it.
                le = match rest[8..12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => true,
                    [0x1a, 0x2b, 0x3c, 0x4d] => false,
                    ref other => {
                        break Step::Corrupt(format!(
                            "section header byte-order magic is {other:02x?}, expected 1a2b3c4d \
                             in either byte order"
                        ));
                    }
                };
            }
            let blen = rd32(rest, 4, le);
            if (blen as usize) < MIN_BLOCK {
                break Step::Corrupt(format!(
                    "pcapng block of type {btype:#010x} has length {blen}, less than the \
                     minimum of 12"
                ));
            }
            if !blen.is_multiple_of(4) {
                break Step::Corrupt(format!(
                    "pcapng block of type {btype:#010x} has length {blen}, not a multiple of 4"
                ));
            }
            if blen > MAX_BLOCK {
                break Step::Corrupt(format!(
                    "pcapng block of type {btype:#010x} claims {blen} bytes, more than the \
                     {MAX_BLOCK} allowed"
                ));
            }
            let blen = blen as usize;
            let Some(block) = rest.get(..blen) else {
                break Step::Need {
                    need: blen,
                    part: Part::Block(btype),
                };
            };
            let trailer = rd32(block, blen - 4, le);
            if trailer as usize != blen {
                break Step::Corrupt(format!(
                    "pcapng block of type {btype:#010x} starts with length {blen} but ends with \
                     {trailer}"
                ));
            }
            let body = &block[8..blen - 4];
            let frame = match btype {
                EPB => self.packet(body, false),
                SHB => self.section(body, le).map(|()| None),
                IDB => self.interface(body).map(|()| None),
                SPB => self.simple(body),
                PB => self.packet(body, true),
                _ => Ok(None),
            };
            match frame {
                Ok(Some(frame)) => {
                    f(Frame { shared, ..frame });
                    k += 1;
                }
                Ok(None) => {}
                Err(what) => break Step::Corrupt(what),
            }
            p += blen;
        };
        (*pos, *n) = (p, k);
        step
    }

    /// An Enhanced Packet Block, or an obsolete Packet Block: their layouts differ only in the
    /// interface id, 32 bits in an EPB and 16 (then 16 bits of drop count) in a PB.
    #[inline]
    fn packet<'a>(&mut self, body: &'a [u8], obsolete: bool) -> Result<Option<Frame<'a>>, String> {
        let le = self.le;
        let name = if obsolete {
            "packet block"
        } else {
            "enhanced packet block"
        };
        if body.len() < PACKET_FIXED {
            return Err(format!(
                "{name} is {} bytes, less than the minimum of {}",
                body.len() + MIN_BLOCK,
                PACKET_FIXED + MIN_BLOCK
            ));
        }
        let id = if obsolete {
            u32::from(rd16(body, 0, le))
        } else {
            rd32(body, 0, le)
        };
        let Some(iface) = self.interfaces.get(id as usize) else {
            return Err(undeclared(name, id, self.interfaces.len()));
        };
        let units = (u64::from(rd32(body, 4, le)) << 32) | u64::from(rd32(body, 8, le));
        let caplen = rd32(body, 12, le);
        let wire_len = rd32(body, 16, le);
        let Some(data) = body[PACKET_FIXED..].get(..caplen as usize) else {
            return Err(format!(
                "{name} captured length {caplen} exceeds the {} data bytes of the block",
                body.len() - PACKET_FIXED
            ));
        };
        let ts_ns = iface.ts_ns(units);
        self.last_ts = ts_ns;
        Ok(Some(Frame {
            ts_ns,
            wire_len,
            link: iface.link,
            data,
            shared: None,
        }))
    }

    /// A Simple Packet Block: interface 0, no timestamp (the previous packet's is used), and
    /// the captured length is the smallest of the original length, the interface's snaplen and
    /// the block's room.
    fn simple<'a>(&mut self, body: &'a [u8]) -> Result<Option<Frame<'a>>, String> {
        let Some(iface) = self.interfaces.first() else {
            return Err(undeclared("simple packet block", 0, 0));
        };
        if body.len() < SPB_FIXED {
            return Err(format!(
                "simple packet block is {} bytes, less than the minimum of {}",
                body.len() + MIN_BLOCK,
                SPB_FIXED + MIN_BLOCK
            ));
        }
        let wire_len = rd32(body, 0, self.le);
        let room = body.len() - SPB_FIXED;
        let mut caplen = (wire_len as usize).min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let data = &body[SPB_FIXED..SPB_FIXED + caplen];
        Ok(Some(Frame {
            ts_ns: self.last_ts,
            wire_len,
            link: iface.link,
            data,
            shared: None,
        }))
    }

    /// A Section Header Block: a new byte order, and no interfaces yet.
    fn section(&mut self, body: &[u8], le: bool) -> Result<(), String> {
        if body.len() < SHB_FIXED {
            return Err(format!(
                "section header block is {} bytes, less than the minimum of {}",
                body.len() + MIN_BLOCK,
                SHB_FIXED + MIN_BLOCK
            ));
        }
        let (major, minor) = (rd16(body, 4, le), rd16(body, 6, le));
        if major != 1 {
            return Err(format!(
                "pcapng version {major}.{minor} is not supported (only 1.x); convert the file \
                 with `editcap -F pcapng`"
            ));
        }
        self.le = le;
        self.interfaces.clear();
        Ok(())
    }

    /// An Interface Description Block: the next interface id of the section.
    fn interface(&mut self, body: &[u8]) -> Result<(), String> {
        let le = self.le;
        if body.len() < IDB_FIXED {
            return Err(format!(
                "interface description block is {} bytes, less than the minimum of {}",
                body.len() + MIN_BLOCK,
                IDB_FIXED + MIN_BLOCK
            ));
        }
        let mut iface = Interface {
            link: LinkType::from_number(u32::from(rd16(body, 0, le))),
            snaplen: rd32(body, 4, le),
            unit: TsUnit::MICROS,
            offset_ns: 0,
        };
        // Options: code(2) length(2) value, padded to 4 bytes. The body length is a multiple
        // of 4, so whatever remains is either empty or holds an option header.
        let mut opts = &body[IDB_FIXED..];
        while opts.len() >= 4 {
            let code = rd16(opts, 0, le);
            let len = usize::from(rd16(opts, 2, le));
            if code == OPT_END {
                break;
            }
            let Some(value) = opts[4..].get(..len) else {
                return Err(format!(
                    "interface description option {code} has length {len}, but only {} bytes \
                     of the block remain",
                    opts.len() - 4
                ));
            };
            match (code, value) {
                (IF_TSRESOL, &[v]) => iface.unit = TsUnit::from_tsresol(v),
                (IF_TSOFFSET, &[a, b, c, d, e, f, g, h]) => {
                    let bytes = [a, b, c, d, e, f, g, h];
                    let secs = if le {
                        i64::from_le_bytes(bytes)
                    } else {
                        i64::from_be_bytes(bytes)
                    };
                    iface.offset_ns = secs.saturating_mul(1_000_000_000);
                }
                (IF_TSRESOL, _) => {
                    return Err(format!("if_tsresol option has {len} bytes, expected 1"));
                }
                (IF_TSOFFSET, _) => {
                    return Err(format!("if_tsoffset option has {len} bytes, expected 8"));
                }
                _ => {}
            }
            let padded = (4 + len + 3) & !3;
            opts = opts.get(padded..).unwrap_or_default();
        }
        self.interfaces.push(iface);
        Ok(())
    }
}

/// The message for a packet naming an interface the section has not declared.
fn undeclared(name: &str, id: u32, declared: usize) -> String {
    format!(
        "{name} names interface {id}, but this section declares {declared} interface(s) before \
         it; the interface description block is missing"
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{drain, drain_reader, truncated};
    use super::super::{DEFAULT_BUFFER, PcapSource};
    use super::TsUnit;
    use crate::capture::mem::OwnedFrame;
    use crate::error::Error;
    use crate::packet::LinkType;

    /// Section Header Block, little-endian, no options (28 bytes).
    const SHB_LE: [u8; 28] = [
        0x0a, 0x0d, 0x0d, 0x0a, // block type: SHB
        0x1c, 0x00, 0x00, 0x00, // block length 28
        0x4d, 0x3c, 0x2b, 0x1a, // byte-order magic 1a2b3c4d, little-endian
        0x01, 0x00, 0x00, 0x00, // version 1.0
        0xff, 0xff, 0xff, 0xff, // section length -1 (unknown)
        0xff, 0xff, 0xff, 0xff, //
        0x1c, 0x00, 0x00, 0x00, // block length 28
    ];

    /// Interface 0 of a little-endian section: Ethernet, snaplen 65535, if_tsresol 6 (µs).
    const IDB_ETH_US: [u8; 32] = [
        0x01, 0x00, 0x00, 0x00, // block type: IDB
        0x20, 0x00, 0x00, 0x00, // block length 32
        0x01, 0x00, 0x00, 0x00, // link type 1 (Ethernet), reserved
        0xff, 0xff, 0x00, 0x00, // snaplen 65535
        0x09, 0x00, 0x01, 0x00, // option if_tsresol, length 1
        0x06, 0x00, 0x00, 0x00, // 10^-6, 3 bytes padding
        0x00, 0x00, 0x00, 0x00, // opt_endofopt
        0x20, 0x00, 0x00, 0x00, // block length 32
    ];

    /// An interface: raw IP, snaplen 0, if_tsresol 9 (ns), if_tsoffset 10 s (40 bytes).
    const IDB_RAW_NS: [u8; 40] = [
        0x01, 0x00, 0x00, 0x00, // block type: IDB
        0x28, 0x00, 0x00, 0x00, // block length 40
        0x65, 0x00, 0x00, 0x00, // link type 101 (raw IP), reserved
        0x00, 0x00, 0x00, 0x00, // snaplen 0 (unlimited)
        0x09, 0x00, 0x01, 0x00, // option if_tsresol, length 1
        0x09, 0x00, 0x00, 0x00, // 10^-9, padding
        0x0e, 0x00, 0x08, 0x00, // option if_tsoffset, length 8
        0x0a, 0x00, 0x00, 0x00, // 10 seconds
        0x00, 0x00, 0x00, 0x00, //
        0x28, 0x00, 0x00, 0x00, // block length 40 (no opt_endofopt: the block ends)
    ];

    /// An Enhanced Packet Block on interface `id`, timestamp 1_000_001 units, 3 bytes of data
    /// (36 bytes).
    const fn epb(id: u8) -> [u8; 36] {
        [
            0x06, 0x00, 0x00, 0x00, // block type: EPB
            0x24, 0x00, 0x00, 0x00, // block length 36
            id, 0x00, 0x00, 0x00, // interface id
            0x00, 0x00, 0x00, 0x00, // timestamp, high 32 bits
            0x41, 0x42, 0x0f, 0x00, // timestamp, low 32 bits: 1_000_001
            0x03, 0x00, 0x00, 0x00, // captured length 3
            0x3c, 0x00, 0x00, 0x00, // original length 60
            0xde, 0xad, 0xbe, 0x00, // data, 1 byte padding
            0x24, 0x00, 0x00, 0x00, // block length 36
        ]
    }

    /// Concatenates blocks into one capture.
    fn cat(blocks: &[&[u8]]) -> Vec<u8> {
        blocks.concat()
    }

    /// A capture made by [`cat`], read in place.
    fn read(bytes: Vec<u8>) -> (Vec<OwnedFrame>, Option<Error>) {
        drain(&mut PcapSource::from_bytes("t.pcapng", bytes.leak()), 16)
    }

    /// The offset and message of a `CaptureCorrupt`.
    fn corrupt(err: Option<Error>) -> (u64, String) {
        match err {
            Some(Error::CaptureCorrupt { offset, what, .. }) => (offset, what),
            other => panic!("expected CaptureCorrupt, got {other:?}"),
        }
    }

    fn frame(ts_ns: u64, link: LinkType) -> OwnedFrame {
        OwnedFrame {
            ts_ns,
            wire_len: 60,
            link,
            data: vec![0xde, 0xad, 0xbe],
        }
    }

    #[test]
    fn two_interfaces_with_their_own_link_type_and_resolution() {
        let (frames, err) = read(cat(&[
            &SHB_LE,
            &IDB_ETH_US,
            &IDB_RAW_NS,
            &epb(0),
            &epb(1),
            &epb(0),
        ]));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![
                frame(1_000_001_000, LinkType::Ethernet), // µs
                frame(10_001_000_001, LinkType::Raw),     // ns, plus 10 s of if_tsoffset
                frame(1_000_001_000, LinkType::Ethernet),
            ]
        );
    }

    /// A big-endian section: SHB, IDB (Linux SLL, no options) and an EPB on interface 0 with a
    /// timestamp above 2^32 µs.
    const SECTION_BE: [u8; 28 + 20 + 36] = [
        0x0a, 0x0d, 0x0d, 0x0a, // block type: SHB
        0x00, 0x00, 0x00, 0x1c, // block length 28
        0x1a, 0x2b, 0x3c, 0x4d, // byte-order magic, big-endian
        0x00, 0x01, 0x00, 0x00, // version 1.0
        0xff, 0xff, 0xff, 0xff, // section length -1
        0xff, 0xff, 0xff, 0xff, //
        0x00, 0x00, 0x00, 0x1c, // block length 28
        // IDB at +28
        0x00, 0x00, 0x00, 0x01, // block type: IDB
        0x00, 0x00, 0x00, 0x14, // block length 20
        0x00, 0x71, 0x00, 0x00, // link type 113 (Linux SLL), reserved
        0x00, 0x00, 0x00, 0x00, // snaplen 0; no options: default resolution µs
        0x00, 0x00, 0x00, 0x14, // block length 20
        // EPB at +48
        0x00, 0x00, 0x00, 0x06, // block type: EPB
        0x00, 0x00, 0x00, 0x24, // block length 36
        0x00, 0x00, 0x00, 0x00, // interface 0
        0x00, 0x05, 0xaf, 0x31, // timestamp high: 0x5af31
        0x07, 0xa4, 0x00, 0x00, // timestamp low: 0x07a40000 (1_600_000_000 s, in µs)
        0x00, 0x00, 0x00, 0x02, // captured length 2
        0x00, 0x00, 0x00, 0x02, // original length 2
        0x12, 0x34, 0x00, 0x00, // data, padding
        0x00, 0x00, 0x00, 0x24, // block length 36
    ];

    #[test]
    fn two_sections_each_with_its_byte_order_and_interfaces() {
        let first = cat(&[&SHB_LE, &IDB_ETH_US, &IDB_RAW_NS, &epb(1)]);
        let (frames, err) = read(cat(&[&first, &SECTION_BE]));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![
                frame(10_001_000_001, LinkType::Raw),
                OwnedFrame {
                    ts_ns: 1_600_000_000_000_000_000,
                    wire_len: 2,
                    link: LinkType::LinuxSll,
                    data: vec![0x12, 0x34],
                },
            ]
        );
        // The second section has only interface 0: interface 1 was the first section's.
        let mut epb1_be = SECTION_BE[48..].to_vec();
        epb1_be[11] = 1; // interface 1
        let (_, err) = read(cat(&[&first, &SECTION_BE, &epb1_be]));
        let (offset, what) = corrupt(err);
        assert_eq!(offset, (first.len() + SECTION_BE.len()) as u64);
        assert_eq!(
            what,
            "enhanced packet block names interface 1, but this section declares 1 \
             interface(s) before it; the interface description block is missing"
        );
    }

    /// A Simple Packet Block with original length 6 and 8 bytes of room (24 bytes).
    const SPB_BLOCK: [u8; 24] = [
        0x03, 0x00, 0x00, 0x00, // block type: SPB
        0x18, 0x00, 0x00, 0x00, // block length 24
        0x06, 0x00, 0x00, 0x00, // original length 6
        0x01, 0x02, 0x03, 0x04, // data
        0x05, 0x06, 0x00, 0x00, // data, padding
        0x18, 0x00, 0x00, 0x00, // block length 24
    ];

    #[test]
    fn simple_packet_block_takes_interface_0_and_the_previous_timestamp() {
        let (frames, err) = read(cat(&[
            &SHB_LE,
            &IDB_ETH_US,
            &SPB_BLOCK,
            &epb(0),
            &SPB_BLOCK,
        ]));
        assert!(err.is_none(), "{err:?}");
        let spb = |ts_ns| OwnedFrame {
            ts_ns,
            wire_len: 6,
            link: LinkType::Ethernet,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(
            frames,
            vec![
                spb(0),
                frame(1_000_001_000, LinkType::Ethernet),
                spb(1_000_001_000)
            ]
        );
    }

    #[test]
    fn simple_packet_block_is_cut_to_the_snaplen() {
        let mut idb = IDB_ETH_US;
        idb[12] = 4; // snaplen 4
        idb[13] = 0;
        let (frames, err) = read(cat(&[&SHB_LE, &idb, &SPB_BLOCK]));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames[0].data, [1, 2, 3, 4]);
        assert_eq!(frames[0].wire_len, 6);
    }

    #[test]
    fn simple_packet_block_without_an_interface() {
        let (_, err) = read(cat(&[&SHB_LE, &SPB_BLOCK]));
        assert_eq!(
            corrupt(err),
            (
                28,
                "simple packet block names interface 0, but this section declares 0 \
                 interface(s) before it; the interface description block is missing"
                    .into()
            )
        );
    }

    #[test]
    fn obsolete_packet_block() {
        let pb: [u8; 36] = [
            0x02, 0x00, 0x00, 0x00, // block type: PB
            0x24, 0x00, 0x00, 0x00, // block length 36
            0x01, 0x00, 0x07, 0x00, // interface 1, drops count 7
            0x00, 0x00, 0x00, 0x00, // timestamp high
            0x05, 0x00, 0x00, 0x00, // timestamp low: 5 ns
            0x03, 0x00, 0x00, 0x00, // captured length 3
            0x3c, 0x00, 0x00, 0x00, // original length 60
            0xde, 0xad, 0xbe, 0x00, // data, padding
            0x24, 0x00, 0x00, 0x00, // block length 36
        ];
        let (frames, err) = read(cat(&[&SHB_LE, &IDB_ETH_US, &IDB_RAW_NS, &pb]));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames, vec![frame(10_000_000_005, LinkType::Raw)]);
    }

    #[test]
    fn other_blocks_are_skipped() {
        let nrb: [u8; 24] = [
            0x04, 0x00, 0x00, 0x00, // block type: Name Resolution Block
            0x18, 0x00, 0x00, 0x00, // block length 24
            0x01, 0x00, 0x04, 0x00, // nrb_record_ipv4, length 4 (truncated record: unread)
            0x7f, 0x00, 0x00, 0x01, // 127.0.0.1
            0x00, 0x00, 0x00, 0x00, // nrb_record_end
            0x18, 0x00, 0x00, 0x00, // block length 24
        ];
        let custom: [u8; 16] = [
            0xad, 0x0b, 0x00, 0x40, // block type: custom, not to be copied (0x40000bad)
            0x10, 0x00, 0x00, 0x00, // block length 16
            0x01, 0x02, 0x03, 0x04, // private enterprise number, no data
            0x10, 0x00, 0x00, 0x00, // block length 16
        ];
        let isb: [u8; 12] = [
            0x05, 0x00, 0x00, 0x00, // block type: Interface Statistics Block
            0x0c, 0x00, 0x00, 0x00, // block length 12 (empty body: never parsed)
            0x0c, 0x00, 0x00, 0x00, // block length 12
        ];
        let (frames, err) = read(cat(&[
            &SHB_LE,
            &nrb,
            &IDB_ETH_US,
            &custom,
            &epb(0),
            &isb,
            &epb(0),
        ]));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn undeclared_interface() {
        let (frames, err) = read(cat(&[&SHB_LE, &IDB_ETH_US, &epb(0), &epb(2)]));
        assert_eq!(
            frames.len(),
            1,
            "the packet before the bad block is delivered"
        );
        assert_eq!(
            corrupt(err),
            (
                96,
                "enhanced packet block names interface 2, but this section declares 1 \
                 interface(s) before it; the interface description block is missing"
                    .into()
            )
        );
    }

    #[test]
    fn bad_block_lengths() {
        let head = cat(&[&SHB_LE, &IDB_ETH_US]); // 60 bytes
        let bad = |len: u32, trailer: u32| {
            let mut b = epb(0);
            b[4..8].copy_from_slice(&len.to_le_bytes());
            b[32..36].copy_from_slice(&trailer.to_le_bytes());
            b
        };
        let cases = [
            (
                bad(8, 36),
                "pcapng block of type 0x00000006 has length 8, less than the minimum of 12",
            ),
            (
                bad(34, 36),
                "pcapng block of type 0x00000006 has length 34, not a multiple of 4",
            ),
            (
                bad(16 << 20 | 4, 36),
                "pcapng block of type 0x00000006 claims 16777220 bytes, more than the 16777216 \
                 allowed",
            ),
            (
                bad(36, 32),
                "pcapng block of type 0x00000006 starts with length 36 but ends with 32",
            ),
        ];
        for (block, want) in cases {
            let (frames, err) = read(cat(&[&head, &epb(0), &block]));
            assert_eq!(frames.len(), 1);
            assert_eq!(corrupt(err), (96, want.into()));
        }
    }

    #[test]
    fn bad_section_headers() {
        let mut bom = SHB_LE;
        bom[8..12].copy_from_slice(&[1, 2, 3, 4]);
        let (_, err) = read(bom.to_vec());
        assert_eq!(
            corrupt(err),
            (
                0,
                "section header byte-order magic is [01, 02, 03, 04], expected 1a2b3c4d in \
                 either byte order"
                    .into()
            )
        );
        let mut version = SHB_LE;
        version[12] = 2; // version 2.0
        let (_, err) = read(version.to_vec());
        assert_eq!(
            corrupt(err),
            (
                0,
                "pcapng version 2.0 is not supported (only 1.x); convert the file with \
                 `editcap -F pcapng`"
                    .into()
            )
        );
        let short: [u8; 16] = [
            0x0a, 0x0d, 0x0d, 0x0a, // block type: SHB
            0x10, 0x00, 0x00, 0x00, // block length 16: no room for version and section length
            0x4d, 0x3c, 0x2b, 0x1a, // byte-order magic
            0x10, 0x00, 0x00, 0x00, // block length 16
        ];
        let (_, err) = read(short.to_vec());
        assert_eq!(
            corrupt(err),
            (
                0,
                "section header block is 16 bytes, less than the minimum of 28".into()
            )
        );
    }

    #[test]
    fn bad_interface_descriptions() {
        let short: [u8; 16] = [
            0x01, 0x00, 0x00, 0x00, // block type: IDB
            0x10, 0x00, 0x00, 0x00, // block length 16: no snaplen
            0x01, 0x00, 0x00, 0x00, // link type 1
            0x10, 0x00, 0x00, 0x00, // block length 16
        ];
        let (_, err) = read(cat(&[&SHB_LE, &short]));
        assert_eq!(
            corrupt(err),
            (
                28,
                "interface description block is 16 bytes, less than the minimum of 20".into()
            )
        );
        let mut overrun = IDB_ETH_US;
        overrun[18] = 9; // if_tsresol length 9: past the 8 bytes that follow
        let (_, err) = read(cat(&[&SHB_LE, &overrun]));
        assert_eq!(
            corrupt(err),
            (
                28,
                "interface description option 9 has length 9, but only 8 bytes of the block \
                 remain"
                    .into()
            )
        );
        let mut resol = IDB_ETH_US;
        resol[18] = 2; // if_tsresol length 2
        let (_, err) = read(cat(&[&SHB_LE, &resol]));
        assert_eq!(
            corrupt(err),
            (28, "if_tsresol option has 2 bytes, expected 1".into())
        );
        let mut offset = IDB_RAW_NS;
        offset[26] = 4; // if_tsoffset length 4
        let (_, err) = read(cat(&[&SHB_LE, &offset]));
        assert_eq!(
            corrupt(err),
            (28, "if_tsoffset option has 4 bytes, expected 8".into())
        );
    }

    #[test]
    fn bad_packet_blocks() {
        let head = cat(&[&SHB_LE, &IDB_ETH_US]); // 60 bytes
        let short: [u8; 28] = [
            0x06, 0x00, 0x00, 0x00, // block type: EPB
            0x1c, 0x00, 0x00, 0x00, // block length 28: no original length
            0x00, 0x00, 0x00, 0x00, // interface 0
            0x00, 0x00, 0x00, 0x00, // timestamp high
            0x00, 0x00, 0x00, 0x00, // timestamp low
            0x00, 0x00, 0x00, 0x00, // captured length 0
            0x1c, 0x00, 0x00, 0x00, // block length 28
        ];
        let (_, err) = read(cat(&[&head, &short]));
        assert_eq!(
            corrupt(err),
            (
                60,
                "enhanced packet block is 28 bytes, less than the minimum of 32".into()
            )
        );
        let mut long = epb(0);
        long[20] = 5; // captured length 5, but the block has room for 4
        let (_, err) = read(cat(&[&head, &long]));
        assert_eq!(
            corrupt(err),
            (
                60,
                "enhanced packet block captured length 5 exceeds the 4 data bytes of the block"
                    .into()
            )
        );
        let spb: [u8; 12] = [
            0x03, 0x00, 0x00, 0x00, // block type: SPB
            0x0c, 0x00, 0x00, 0x00, // block length 12: no original length
            0x0c, 0x00, 0x00, 0x00, // block length 12
        ];
        let (_, err) = read(cat(&[&head, &spb]));
        assert_eq!(
            corrupt(err),
            (
                60,
                "simple packet block is 12 bytes, less than the minimum of 16".into()
            )
        );
    }

    #[test]
    fn truncated_blocks() {
        let whole = cat(&[&SHB_LE, &IDB_ETH_US, &epb(0)]); // EPB at 60..96
        for buf in [DEFAULT_BUFFER, 24] {
            let (frames, err) = drain_reader(&whole[..90], buf, 16);
            assert!(frames.is_empty());
            assert_eq!(
                truncated(err),
                (
                    60,
                    "pcapng block of type 0x00000006 needs 36 bytes, 30 remain".into()
                )
            );
            let (_, err) = drain_reader(&whole[..65], buf, 16);
            assert_eq!(
                truncated(err),
                (60, "pcapng block header needs 12 bytes, 5 remain".into())
            );
        }
    }

    #[test]
    fn timestamp_units() {
        assert_eq!(TsUnit::from_tsresol(6), TsUnit::Mul(1000));
        assert_eq!(TsUnit::from_tsresol(0), TsUnit::Mul(1_000_000_000));
        assert_eq!(TsUnit::from_tsresol(12), TsUnit::Div(1000));
        assert_eq!(TsUnit::from_tsresol(12).to_ns(5_000), 5);
        assert_eq!(
            TsUnit::from_tsresol(127).to_ns(u64::MAX - 1),
            0,
            "10^-127 s"
        );
        // 2^-10 s: 1024 units are one second.
        assert_eq!(
            TsUnit::from_tsresol(0x8a).to_ns(1024 * 3 + 512),
            3_500_000_000
        );
        assert_eq!(
            TsUnit::from_tsresol(0x80).to_ns(u64::MAX),
            u64::MAX,
            "saturates"
        );
        assert_eq!(TsUnit::Mul(1000).to_ns(u64::MAX), u64::MAX, "saturates");
    }

    #[test]
    fn power_of_two_resolution_and_negative_offset() {
        let idb: [u8; 40] = [
            0x01, 0x00, 0x00, 0x00, // block type: IDB
            0x28, 0x00, 0x00, 0x00, // block length 40
            0x01, 0x00, 0x00, 0x00, // link type 1 (Ethernet)
            0x00, 0x00, 0x00, 0x00, // snaplen 0
            0x09, 0x00, 0x01, 0x00, // option if_tsresol, length 1
            0x94, 0x00, 0x00, 0x00, // 2^-20, padding
            0x0e, 0x00, 0x08, 0x00, // option if_tsoffset, length 8
            0xff, 0xff, 0xff, 0xff, // -1 second
            0xff, 0xff, 0xff, 0xff, //
            0x28, 0x00, 0x00, 0x00, // block length 40
        ];
        let (frames, err) = read(cat(&[&SHB_LE, &idb, &epb(0)]));
        assert!(err.is_none(), "{err:?}");
        // 1_000_001 / 2^20 s = 953_675_270.08 ns (floored), minus one second saturates at 0.
        assert_eq!(frames[0].ts_ns, 0);
        let mut later = epb(0);
        later[12] = 0x01; // timestamp high 1: (2^32 + 1_000_001) / 2^20 s
        let (frames, _) = read(cat(&[&SHB_LE, &idb, &later]));
        assert_eq!(frames[0].ts_ns, 4_095_953_675_270);
    }
}
