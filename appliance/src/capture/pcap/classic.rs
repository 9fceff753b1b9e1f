//! Classic pcap: a 24-byte file header, then records of a 16-byte header and the captured bytes
//! (draft-ietf-opsawg-pcap, "PCAP Capture File Format").
//!
//! This file owns the header and the record walk over a window of bytes. It does not read files
//! or keep the buffer (that is [`super::PcapSource`]).
//!
//! ```text
//! file header   magic(4) version(2+2) thiszone(4) sigfigs(4) snaplen(4) linktype(4)
//! record        ts_sec(4) ts_frac(4) incl_len(4) orig_len(4) data(incl_len)
//! ```
//!
//! The magic number, written in the writer's byte order, gives the byte order and whether
//! `ts_frac` counts microseconds (a1b2c3d4) or nanoseconds (a1b23c4d).

use super::{Part, Step, rd32};
use crate::capture::Frame;
use crate::packet::LinkType;

/// Size of the file header.
pub(super) const FILE_HEADER: usize = 24;
/// Size of a record header.
pub(super) const RECORD_HEADER: usize = 16;
/// Largest `incl_len` accepted: libpcap's `MAXIMUM_SNAPLEN`. Anything larger is a corrupt
/// length, not a packet (and would make us buffer gigabytes).
pub(super) const MAX_INCL: u32 = 256 * 1024;
/// The link type is the low 28 bits of its field; the top 4 say whether frames end with an FCS
/// and how long it is.
const LINKTYPE_MASK: u32 = 0x0fff_ffff;

/// Walks one classic pcap file.
#[derive(Debug)]
pub(super) struct Reader {
    /// Little-endian file.
    le: bool,
    /// Nanoseconds per unit of `ts_frac`: 1000 (µs magic) or 1 (ns magic).
    frac_ns: u64,
    /// The file's link type, once the header has been read.
    link: Option<LinkType>,
}

impl Reader {
    /// A reader for a file with this byte order and timestamp precision.
    pub(super) fn new(le: bool, nanos: bool) -> Self {
        Reader {
            le,
            frac_ns: if nanos { 1 } else { 1000 },
            link: None,
        }
    }

    /// Whether the file header has been read (so the file may end here).
    pub(super) fn started(&self) -> bool {
        self.link.is_some()
    }

    /// Delivers records from `data[*pos..]` until `*n == max` or the window runs out;
    /// `*pos` is left at the first record not delivered.
    pub(super) fn run(
        &mut self,
        data: &[u8],
        pos: &mut usize,
        n: &mut usize,
        max: usize,
        shared: Option<&super::super::SharedBytes>,
        f: &mut dyn FnMut(Frame<'_>),
    ) -> Step {
        let le = self.le;
        let link = match self.link {
            Some(link) => link,
            None => {
                let hdr = &data[*pos..];
                if hdr.len() < FILE_HEADER {
                    return Step::Need {
                        need: FILE_HEADER,
                        part: Part::FileHeader,
                    };
                }
                let link = LinkType::from_number(rd32(hdr, 20, le) & LINKTYPE_MASK);
                self.link = Some(link);
                *pos += FILE_HEADER;
                link
            }
        };
        let frac_ns = self.frac_ns;
        let (mut p, mut k) = (*pos, *n);
        let step = loop {
            if k >= max {
                break Step::Full;
            }
            let rest = &data[p..];
            if rest.len() < RECORD_HEADER {
                break Step::Need {
                    need: RECORD_HEADER,
                    part: Part::RecordHeader,
                };
            }
            let sec = u64::from(rd32(rest, 0, le));
            let frac = u64::from(rd32(rest, 4, le));
            let incl = rd32(rest, 8, le);
            let orig = rd32(rest, 12, le);
            if incl > MAX_INCL {
                break Step::Corrupt(format!(
                    "packet record claims {incl} captured bytes, more than the {MAX_INCL} a \
                     pcap record may hold"
                ));
            }
            let len = RECORD_HEADER + incl as usize;
            let Some(bytes) = rest.get(RECORD_HEADER..len) else {
                break Step::Need {
                    need: len,
                    part: Part::Record,
                };
            };
            // Cannot overflow: sec < 2^32, so sec * 1e9 < 4.3e18, and frac * 1000 < 4.3e12.
            let ts_ns = sec * 1_000_000_000 + frac * frac_ns;
            f(Frame {
                ts_ns,
                wire_len: orig,
                link,
                data: bytes,
                shared,
            });
            p += len;
            k += 1;
        };
        (*pos, *n) = (p, k);
        step
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{drain, drain_reader, truncated};
    use super::super::{DEFAULT_BUFFER, PcapSource};
    use crate::capture::mem::OwnedFrame;
    use crate::error::Error;
    use crate::packet::LinkType;

    /// Microseconds, little-endian, Ethernet, two records (the second cut to a snaplen of 4).
    const US_LE: &[u8] = &[
        0xd4, 0xc3, 0xb2, 0xa1, // magic a1b2c3d4, little-endian: microseconds
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0x00, 0x00, 0x04, 0x00, // snaplen 262144
        0x01, 0x00, 0x00, 0x00, // linktype 1 (Ethernet)
        // record 0 at offset 24
        0x10, 0x00, 0x00, 0x00, // ts_sec 16
        0x20, 0xa1, 0x07, 0x00, // ts_usec 500_000
        0x03, 0x00, 0x00, 0x00, // incl_len 3
        0x03, 0x00, 0x00, 0x00, // orig_len 3
        0xaa, 0xbb, 0xcc, // data
        // record 1 at offset 43
        0x11, 0x00, 0x00, 0x00, // ts_sec 17
        0x05, 0x00, 0x00, 0x00, // ts_usec 5
        0x04, 0x00, 0x00, 0x00, // incl_len 4
        0xdc, 0x05, 0x00, 0x00, // orig_len 1500
        0x01, 0x02, 0x03, 0x04, // data
    ];

    #[test]
    fn microseconds_little_endian() {
        let (frames, err) = drain(&mut PcapSource::from_bytes("us.pcap", US_LE), 16);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![
                OwnedFrame {
                    ts_ns: 16_500_000_000,
                    wire_len: 3,
                    link: LinkType::Ethernet,
                    data: vec![0xaa, 0xbb, 0xcc],
                },
                OwnedFrame {
                    ts_ns: 17_000_005_000,
                    wire_len: 1500,
                    link: LinkType::Ethernet,
                    data: vec![1, 2, 3, 4],
                },
            ]
        );
    }

    /// Nanoseconds, big-endian, raw IP with the FCS bits of the link type field set.
    const NS_BE: &[u8] = &[
        0xa1, 0xb2, 0x3c, 0x4d, // magic a1b23c4d, big-endian: nanoseconds
        0x00, 0x02, 0x00, 0x04, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0x00, 0x00, 0xff, 0xff, // snaplen 65535
        0x30, 0x00, 0x00, 0x65, // linktype 101 (raw IP); top bits: FCS present, 1 x 16 bits
        // record 0 at offset 24
        0x5f, 0x5e, 0x10, 0x00, // ts_sec 1_600_000_000
        0x3b, 0x9a, 0xc9, 0xff, // ts_nsec 999_999_999
        0x00, 0x00, 0x00, 0x02, // incl_len 2
        0x00, 0x00, 0x00, 0x40, // orig_len 64
        0x45, 0x00, // data
    ];

    #[test]
    fn nanoseconds_big_endian() {
        let (frames, err) = drain(&mut PcapSource::from_bytes("ns.pcap", NS_BE), 16);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![OwnedFrame {
                ts_ns: 1_600_000_000_999_999_999,
                wire_len: 64,
                link: LinkType::Raw,
                data: vec![0x45, 0x00],
            }]
        );
    }

    #[test]
    fn header_only_is_an_empty_capture() {
        let (frames, err) = drain(&mut PcapSource::from_bytes("empty.pcap", &US_LE[..24]), 16);
        assert!(frames.is_empty());
        assert!(err.is_none(), "{err:?}");
    }

    #[test]
    fn truncated_file_header() {
        let (frames, err) = drain(&mut PcapSource::from_bytes("t.pcap", &US_LE[..10]), 16);
        assert!(frames.is_empty());
        assert_eq!(
            truncated(err),
            (0, "pcap file header needs 24 bytes, 10 remain".into())
        );
        // Through the buffered path too: the head read at open is shorter than 16 bytes.
        let (_, err) = drain_reader(&US_LE[..10], DEFAULT_BUFFER, 16);
        assert_eq!(
            truncated(err),
            (0, "pcap file header needs 24 bytes, 10 remain".into())
        );
    }

    #[test]
    fn truncated_record_header() {
        // Both records, then 7 bytes of a third record header at offset 63.
        let mut bytes = US_LE.to_vec();
        bytes.extend_from_slice(&[0x12, 0, 0, 0, 0, 0, 0]);
        let (frames, err) = drain_reader(&bytes, DEFAULT_BUFFER, 16);
        assert_eq!(frames.len(), 2, "the complete records come first");
        assert_eq!(
            truncated(err),
            (63, "packet record header needs 16 bytes, 7 remain".into())
        );
    }

    #[test]
    fn truncated_record_data() {
        // Record 1 (offset 43) says 4 captured bytes; cut the last one.
        let bytes = &US_LE[..US_LE.len() - 1];
        for buf in [DEFAULT_BUFFER, 20] {
            let (frames, err) = drain_reader(bytes, buf, 16);
            assert_eq!(frames.len(), 1);
            assert_eq!(
                truncated(err),
                (
                    43,
                    "packet record needs 20 bytes (16-byte header and 4 captured), 19 remain"
                        .into()
                )
            );
        }
    }

    #[test]
    fn absurd_incl_len() {
        let mut bytes = US_LE[..24].to_vec();
        bytes.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, // ts_sec
            0x00, 0x00, 0x00, 0x00, // ts_usec
            0x01, 0x00, 0x04, 0x00, // incl_len 262145: one more than MAX_INCL
            0x01, 0x00, 0x04, 0x00, // orig_len
        ]);
        let (frames, err) = drain_reader(&bytes, DEFAULT_BUFFER, 16);
        assert!(frames.is_empty());
        match err {
            Some(Error::CaptureCorrupt {
                offset: 24, what, ..
            }) => {
                assert_eq!(
                    what,
                    "packet record claims 262145 captured bytes, more than the 262144 a pcap \
                     record may hold"
                );
            }
            other => panic!("expected CaptureCorrupt at 24, got {other:?}"),
        }
        // Exactly MAX_INCL is a valid length (here cut short, so truncated, not corrupt).
        bytes[32] = 0x00;
        let (_, err) = drain_reader(&bytes, DEFAULT_BUFFER, 16);
        assert!(
            matches!(err, Some(Error::CaptureTruncated { offset: 24, .. })),
            "{err:?}"
        );
    }
}
