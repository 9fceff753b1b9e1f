//! Capture files: classic pcap (`classic.rs`) and pcapng (`ng.rs`), read in order as one
//! [`PacketSource`].
//!
//! This module owns reading the bytes: opening every input up front, one large reusable buffer,
//! and frames that borrow from it. It does not decode frames ([`crate::packet`]), does not strip
//! a trailing FCS (frames are delivered exactly as captured), and does not sort by time (frames
//! come in file order, files in the order given).
//!
//! # Reading
//!
//! [`PcapSource::open`] opens every path (`-` is stdin) and reads its first bytes, so a missing
//! file or a file that is not a capture fails before any work starts. All inputs stay open until
//! they are read. Each file is then read with `read(2)` into one buffer ([`DEFAULT_BUFFER`] bytes)
//! and the parsers hand out `&[u8]` slices of it: nothing is copied per frame and nothing is
//! allocated per frame. Only a record that straddles the end of the buffer is moved to the front
//! (with whatever follows it) before the next read; a record larger than the whole buffer grows
//! the buffer once. [`PcapSource::from_bytes`] parses a `&'static [u8]` in place, without a
//! buffer.
//!
//! # Errors and what follows them
//!
//! A file that ends inside a header or a record is [`Error::CaptureTruncated`], with the offset
//! of the record that is cut short; impossible lengths are [`Error::CaptureCorrupt`], with the
//! offset of the record or block. A file of fewer than 4 bytes (including an empty file) cannot
//! be identified and is [`Error::NotACapture`]. Every complete record before the bad one is
//! delivered first: a batch that meets an error returns `Ok(n)` with the frames it delivered,
//! and the *next* call returns the error. After an error has been returned once, the source is
//! finished: every later [`PacketSource::next_batch`] returns `Ok(0)`, and the remaining files
//! are not read.

mod classic;
mod ng;

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{Frame, PacketSource, SharedBytes};
use crate::error::Error;

/// Default size of the read buffer: large enough that `read(2)` calls are few, small enough to
/// stay in the L2/L3 caches while the parser walks it.
pub const DEFAULT_BUFFER: usize = 1 << 20;

/// How many bytes [`PcapSource::open`] reads to identify a file (and shows when it is not a
/// capture).
const HEAD_LEN: usize = 16;

/// Reads capture files (classic pcap or pcapng, told apart by their magic number) in order.
pub struct PcapSource {
    /// Inputs not started yet, in order.
    queue: VecDeque<Input>,
    /// The input being read.
    cur: Option<Current>,
    /// The read buffer, shared by all inputs; allocated on first use. Frames point into it
    /// ([`Frame::shared`]); when a refill finds it still held downstream, the window moves to
    /// another buffer (see [`writable`]).
    buf: SharedBytes,
    /// Buffers waiting for their last holder to let go, for reuse.
    spare: Vec<SharedBytes>,
    /// Size of `buf` when it is allocated.
    buf_size: usize,
    /// Bytes of the inputs already finished.
    done_bytes: u64,
    /// Sum of the input sizes, when every input is a regular file or in memory.
    total_bytes: Option<u64>,
    /// Whether an error is waiting to be returned or was returned.
    health: Health,
}

/// A source of bytes.
enum Src {
    /// A file or stdin, read into the buffer.
    Read(Box<dyn Read + Send>),
    /// A capture held in memory, parsed in place.
    Static(&'static [u8]),
}

/// The parser for one input, chosen by its magic number.
#[derive(Debug)]
enum Format {
    /// Classic pcap.
    Classic(classic::Reader),
    /// pcapng.
    Ng(ng::Reader),
}

/// An opened input, not started yet.
struct Input {
    /// Its name in errors.
    path: PathBuf,
    /// Its bytes, after `head` for a [`Src::Read`].
    src: Src,
    /// The first bytes, read by `open` to identify it (empty for [`Src::Static`]).
    head: Vec<u8>,
    /// The parser; `None` if the magic is not a capture's (only from `from_bytes`).
    format: Option<Format>,
}

/// The input being read, and the window of its bytes in the buffer.
struct Current {
    /// Its name in errors.
    path: PathBuf,
    /// Where more bytes come from.
    src: Src,
    /// Its parser and the parser's state.
    format: Format,
    /// Start of the next record in the window.
    pos: usize,
    /// End of the valid bytes in the window.
    end: usize,
    /// File offset of window index 0.
    base: u64,
    /// The source has no more bytes than the window holds.
    eof: bool,
}

/// Whether the source has failed.
#[derive(Debug)]
enum Health {
    /// Reading.
    Ok,
    /// An error met after some frames of a batch; returned by the next call.
    Pending(Error),
    /// The error was returned; the source is finished.
    Failed,
}

/// What a parser asks of the window when it stops.
#[derive(Debug)]
enum Step {
    /// It delivered as many frames as were asked for.
    Full,
    /// The record at `pos` needs `need` bytes from `pos`, and the window has fewer.
    Need {
        /// Bytes needed from `pos`.
        need: usize,
        /// What they are, for the truncation message.
        part: Part,
    },
    /// The record at `pos` is impossible; the message says why.
    Corrupt(String),
}

/// The part of a capture that a file may end inside.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// The 24-byte classic pcap file header.
    FileHeader,
    /// A 16-byte classic record header.
    RecordHeader,
    /// A classic record (header and captured bytes).
    Record,
    /// The first 12 bytes of a pcapng block.
    BlockHeader,
    /// A whole pcapng block, of this type.
    Block(u32),
}

impl Part {
    /// The `what` of [`Error::CaptureTruncated`].
    fn describe(self, need: usize, remain: usize) -> String {
        match self {
            Part::FileHeader => format!("pcap file header needs {need} bytes, {remain} remain"),
            Part::RecordHeader => {
                format!("packet record header needs {need} bytes, {remain} remain")
            }
            Part::Record => format!(
                "packet record needs {need} bytes (16-byte header and {} captured), {remain} remain",
                need - classic::RECORD_HEADER
            ),
            Part::BlockHeader => {
                format!("pcapng block header needs {need} bytes, {remain} remain")
            }
            Part::Block(t) => {
                format!("pcapng block of type {t:#010x} needs {need} bytes, {remain} remain")
            }
        }
    }
}

/// Reads a `u16` in the capture's byte order.
#[inline]
fn rd16(b: &[u8], at: usize, le: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if le {
        u16::from_le_bytes(v)
    } else {
        u16::from_be_bytes(v)
    }
}

/// Reads a `u32` in the capture's byte order.
#[inline]
fn rd32(b: &[u8], at: usize, le: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if le {
        u32::from_le_bytes(v)
    } else {
        u32::from_be_bytes(v)
    }
}

/// Picks the parser from the first four bytes.
fn detect(head: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let classic = |le, nanos| Some(Format::Classic(classic::Reader::new(le, nanos)));
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => classic(true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => classic(false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => classic(true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => classic(false, true),
        // Section Header Block type; the same in both byte orders.
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(Format::Ng(ng::Reader::new())),
        _ => None,
    }
}

/// Reads up to [`HEAD_LEN`] bytes (fewer only at end of file).
fn read_head(path: &Path, r: &mut dyn Read) -> Result<Vec<u8>, Error> {
    let mut head = vec![0; HEAD_LEN];
    let mut len = 0;
    while len < HEAD_LEN {
        match r.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(k) => len += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::CaptureIo {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    head.truncate(len);
    Ok(head)
}

impl Input {
    /// Reads the head of `src` and identifies it.
    fn read(path: PathBuf, mut src: Box<dyn Read + Send>) -> Result<Input, Error> {
        let head = read_head(&path, &mut src)?;
        let Some(format) = detect(&head) else {
            return Err(Error::NotACapture { path, magic: head });
        };
        Ok(Input {
            path,
            src: Src::Read(src),
            head,
            format: Some(format),
        })
    }
}

impl PcapSource {
    /// A source over `inputs`, with the default buffer.
    fn new(inputs: Vec<Input>, total_bytes: Option<u64>) -> Self {
        PcapSource {
            queue: inputs.into(),
            cur: None,
            buf: SharedBytes::default(),
            spare: Vec::new(),
            buf_size: DEFAULT_BUFFER,
            done_bytes: 0,
            total_bytes,
            health: Health::Ok,
        }
    }

    /// Opens `paths` in order; `-` is stdin. Every file is opened and identified now (stdin
    /// too: this blocks until it has 16 bytes or ends), and stays open until it has been read.
    ///
    /// # Errors
    ///
    /// [`Error::CaptureIo`] for a file that cannot be opened or read, [`Error::NotACapture`] for
    /// one that does not start with a pcap or pcapng magic number (or has fewer than 4 bytes).
    pub fn open(paths: &[PathBuf]) -> Result<Self, Error> {
        let mut inputs = Vec::with_capacity(paths.len());
        let mut total = Some(0u64);
        for path in paths {
            let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
                total = None;
                Box::new(io::stdin())
            } else {
                let io_err = |source| Error::CaptureIo {
                    path: path.clone(),
                    source,
                };
                let file = File::open(path).map_err(io_err)?;
                let meta = file.metadata().map_err(io_err)?;
                total = total.filter(|_| meta.is_file()).map(|t| t + meta.len());
                Box::new(file)
            };
            inputs.push(Input::read(path.clone(), src)?);
        }
        Ok(PcapSource::new(inputs, total))
    }

    /// Reads a capture from any reader (a pipe, a decompressor), named `name` in errors. Its
    /// first bytes are read now to identify it.
    ///
    /// # Errors
    ///
    /// As [`PcapSource::open`].
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>) -> Result<Self, Error> {
        Ok(PcapSource::new(
            vec![Input::read(PathBuf::from(name), reader)?],
            None,
        ))
    }

    /// Reads a capture held in memory (the embedded sample), named `name` in errors. It is
    /// parsed in place; if it is not a capture, the first [`PacketSource::next_batch`] says so.
    pub fn from_bytes(name: &str, bytes: &'static [u8]) -> Self {
        let input = Input {
            path: PathBuf::from(name),
            src: Src::Static(bytes),
            head: bytes[..bytes.len().min(HEAD_LEN)].to_vec(),
            format: detect(bytes),
        };
        PcapSource::new(vec![input], Some(bytes.len() as u64))
    }

    /// Sets the size of the read buffer (default [`DEFAULT_BUFFER`]). A record larger than the
    /// buffer still reads: the buffer grows to hold it. Takes effect if called before the first
    /// [`PacketSource::next_batch`]; tests use tiny buffers to make records straddle refills.
    #[must_use]
    pub fn with_buffer_size(mut self, bytes: usize) -> Self {
        self.buf_size = bytes.max(1);
        self
    }

    /// Bytes consumed so far over all files (for progress): whole files already read, plus the
    /// offset of the next record in the current one.
    pub fn bytes_read(&self) -> u64 {
        self.done_bytes + self.cur.as_ref().map_or(0, |c| c.base + c.pos as u64)
    }

    /// Sum of the sizes of all inputs, known when every input is a regular file (or in memory);
    /// `None` with stdin or a pipe. At the end, [`PcapSource::bytes_read`] equals it.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// The file being read (before the first batch: the first file; at the end: `None`).
    pub fn current_path(&self) -> Option<&Path> {
        match &self.cur {
            Some(c) => Some(&c.path),
            None => self.queue.front().map(|i| i.path.as_path()),
        }
    }

    /// Makes `input` the current one, with its head at the start of the buffer.
    fn start(&mut self, input: Input) -> Result<(), Error> {
        let Input {
            path,
            src,
            head,
            format,
        } = input;
        let Some(format) = format else {
            return Err(Error::NotACapture { path, magic: head });
        };
        let (end, eof) = match &src {
            Src::Static(bytes) => (bytes.len(), true),
            Src::Read(_) => {
                let buf = writable(
                    &mut self.buf,
                    &mut self.spare,
                    0..0,
                    self.buf_size.max(HEAD_LEN),
                );
                buf[..head.len()].copy_from_slice(&head);
                // `read_head` stops short of HEAD_LEN only at end of file.
                (head.len(), head.len() < HEAD_LEN)
            }
        };
        self.cur = Some(Current {
            path,
            src,
            format,
            pos: 0,
            end,
            base: 0,
            eof,
        });
        Ok(())
    }

    /// Delivers frames until `*n == max`, the inputs are exhausted, or an error.
    fn fill(
        &mut self,
        max: usize,
        n: &mut usize,
        f: &mut dyn FnMut(Frame<'_>),
    ) -> Result<(), Error> {
        while *n < max {
            let Some(cur) = self.cur.as_mut() else {
                match self.queue.pop_front() {
                    Some(input) => self.start(input)?,
                    None => return Ok(()),
                }
                continue;
            };
            let (data, shared): (&[u8], _) = match &cur.src {
                Src::Static(bytes) => (bytes, None),
                Src::Read(_) => (&self.buf[..cur.end], Some(&self.buf)),
            };
            let step = match &mut cur.format {
                Format::Classic(r) => r.run(data, &mut cur.pos, n, max, shared, f),
                Format::Ng(r) => r.run(data, &mut cur.pos, n, max, shared, f),
            };
            match step {
                Step::Full => return Ok(()),
                Step::Corrupt(what) => {
                    return Err(Error::CaptureCorrupt {
                        path: cur.path.clone(),
                        offset: cur.base + cur.pos as u64,
                        what,
                    });
                }
                Step::Need { need, part } => {
                    if !cur.eof {
                        refill(&mut self.buf, &mut self.spare, cur, need)?;
                        continue;
                    }
                    let remain = cur.end - cur.pos;
                    let started = match &cur.format {
                        Format::Classic(r) => r.started(),
                        Format::Ng(_) => true,
                    };
                    if remain == 0 && started {
                        // A clean end between records: on to the next input.
                        self.done_bytes += cur.base + cur.pos as u64;
                        self.cur = None;
                        continue;
                    }
                    return Err(Error::CaptureTruncated {
                        path: cur.path.clone(),
                        offset: cur.base + cur.pos as u64,
                        what: part.describe(need, remain),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Most buffers kept for reuse while their frames are held downstream.
const MAX_SPARE: usize = 8;

/// The read buffer, writable, at least `min_len` long, with the bytes `keep` moved to its
/// front. Frames of earlier batches may still point into the current buffer (the pipeline
/// holds payloads until the workers are done with them): then `keep` is copied into another
/// buffer (a spare nobody holds any more, or a new one) and the old one stays untouched until
/// its last holder lets it go. Otherwise the bytes move within the buffer.
fn writable<'b>(
    buf: &'b mut SharedBytes,
    spare: &mut Vec<SharedBytes>,
    keep: std::ops::Range<usize>,
    min_len: usize,
) -> &'b mut Vec<u8> {
    if std::sync::Arc::strong_count(buf) > 1 {
        let fresh = match spare
            .iter()
            .position(|b| std::sync::Arc::strong_count(b) == 1)
        {
            Some(i) => spare.swap_remove(i),
            None => SharedBytes::default(),
        };
        let old = std::mem::replace(buf, fresh);
        // Unique (a free spare or a new buffer): no clone is made.
        let v = std::sync::Arc::make_mut(buf);
        let len = old.len().max(min_len);
        if v.len() < len {
            v.resize(len, 0);
        }
        v[..keep.len()].copy_from_slice(&old[keep]);
        if spare.len() < MAX_SPARE {
            spare.push(old);
        }
        v
    } else {
        let v = std::sync::Arc::make_mut(buf);
        if keep.start > 0 {
            v.copy_within(keep, 0);
        }
        if v.len() < min_len {
            // A record larger than the buffer (bounded by the parsers' length caps).
            v.resize(min_len, 0);
        }
        v
    }
}

/// Moves the unread bytes of `cur` to the front of the buffer and reads until the window
/// holds `need` bytes from its start or the source ends (then `cur.eof` is set).
fn refill(
    buf: &mut SharedBytes,
    spare: &mut Vec<SharedBytes>,
    cur: &mut Current,
    need: usize,
) -> Result<(), Error> {
    let Src::Read(reader) = &mut cur.src else {
        cur.eof = true;
        return Ok(());
    };
    let buf = writable(buf, spare, cur.pos..cur.end, need);
    cur.end -= cur.pos;
    cur.base += cur.pos as u64;
    cur.pos = 0;
    while cur.end < need {
        // Ask for all the free space, so that a file is read in buffer-sized chunks.
        match reader.read(&mut buf[cur.end..]) {
            Ok(0) => {
                cur.eof = true;
                break;
            }
            Ok(k) => cur.end += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::CaptureIo {
                    path: cur.path.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

impl PacketSource for PcapSource {
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        Some((self.bytes_read(), self.total_bytes()))
    }

    /// Delivers up to `max` frames. See the module doc for what happens at and after an error:
    /// the error comes after every frame before it, once, then `Ok(0)` forever.
    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error> {
        match std::mem::replace(&mut self.health, Health::Failed) {
            Health::Ok => self.health = Health::Ok,
            Health::Pending(e) => return Err(e),
            Health::Failed => return Ok(0),
        }
        let mut n = 0;
        match self.fill(max, &mut n, f) {
            Ok(()) => Ok(n),
            Err(e) if n > 0 => {
                self.health = Health::Pending(e);
                Ok(n)
            }
            Err(e) => {
                self.health = Health::Failed;
                Err(e)
            }
        }
    }
}

impl fmt::Debug for PcapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapSource")
            .field("current", &self.cur.as_ref().map(|c| (&c.path, &c.format)))
            .field(
                "queued",
                &self.queue.iter().map(|i| &i.path).collect::<Vec<_>>(),
            )
            .field("bytes_read", &self.bytes_read())
            .field("total_bytes", &self.total_bytes)
            .field("buffer", &self.buf.len())
            .field("health", &self.health)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};
    use std::path::{Path, PathBuf};

    use super::{DEFAULT_BUFFER, PcapSource};
    use crate::capture::mem::OwnedFrame;
    use crate::capture::{Frame, PacketSource};
    use crate::error::Error;
    use crate::packet::LinkType;

    fn own(f: Frame<'_>) -> OwnedFrame {
        OwnedFrame {
            ts_ns: f.ts_ns,
            wire_len: f.wire_len,
            link: f.link,
            data: f.data.to_vec(),
        }
    }

    /// Reads `src` to its end in batches of `batch`: the frames, and the error if any. Checks
    /// that an error is returned once, then `Ok(0)`.
    pub(super) fn drain(src: &mut PcapSource, batch: usize) -> (Vec<OwnedFrame>, Option<Error>) {
        let mut frames = Vec::new();
        loop {
            match src.next_batch(batch, &mut |f| frames.push(own(f))) {
                Ok(0) => return (frames, None),
                Ok(n) => assert!(n <= batch),
                Err(e) => {
                    assert_eq!(
                        src.next_batch(batch, &mut |_| panic!("after an error"))
                            .ok(),
                        Some(0)
                    );
                    return (frames, Some(e));
                }
            }
        }
    }

    /// Reads `bytes` through the buffered path (as a file would be), with a buffer of `buf`.
    pub(super) fn drain_reader(
        bytes: &[u8],
        buf: usize,
        batch: usize,
    ) -> (Vec<OwnedFrame>, Option<Error>) {
        match PcapSource::from_reader("t.pcap", Box::new(Cursor::new(bytes.to_vec()))) {
            Ok(src) => drain(&mut src.with_buffer_size(buf), batch),
            Err(e) => (Vec::new(), Some(e)),
        }
    }

    /// The offset and message of a `CaptureTruncated`.
    pub(super) fn truncated(err: Option<Error>) -> (u64, String) {
        match err {
            Some(Error::CaptureTruncated { offset, what, .. }) => (offset, what),
            other => panic!("expected CaptureTruncated, got {other:?}"),
        }
    }

    /// A reader that returns at most 1..=7 bytes per call, like a slow pipe.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            let k = (self.calls % 7 + 1)
                .min(out.len())
                .min(self.data.len() - self.pos);
            out[..k].copy_from_slice(&self.data[self.pos..self.pos + k]);
            self.pos += k;
            Ok(k)
        }
    }

    /// A file in the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("xdpflow-pcap-test-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("write temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A classic µs little-endian Ethernet capture of records with 0..=299 bytes, built with
    /// [`classic_record`]: sizes vary so records straddle every buffer boundary.
    fn classic_capture(records: usize) -> Vec<u8> {
        let mut out = vec![
            0xd4, 0xc3, 0xb2, 0xa1, // magic, little-endian µs
            0x02, 0x00, 0x04, 0x00, // version 2.4
            0, 0, 0, 0, 0, 0, 0, 0, // thiszone, sigfigs
            0x00, 0x00, 0x04, 0x00, // snaplen 262144
            0x01, 0x00, 0x00, 0x00, // Ethernet
        ];
        for i in 0..records {
            classic_record(&mut out, i);
        }
        out
    }

    /// Record `i`: ts i s + i µs, `i * 37 % 300` bytes of `i as u8`, orig_len 1000 + i.
    fn classic_record(out: &mut Vec<u8>, i: usize) {
        let len = i * 37 % 300;
        for v in [i, i, len, 1000 + i] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend(std::iter::repeat_n(i as u8, len));
    }

    /// A pcapng capture (little-endian) with two interfaces, EPBs, SPBs and skipped blocks of
    /// varied sizes.
    fn ng_capture(packets: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut block = |btype: u32, body: &[u8]| {
            let len = (12 + body.len()).next_multiple_of(4) as u32;
            out.extend_from_slice(&btype.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(body);
            out.resize(out.len().next_multiple_of(4), 0);
            out.extend_from_slice(&len.to_le_bytes());
        };
        block(
            0x0a0d0d0a,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        block(1, &[1, 0, 0, 0, 0, 0, 0, 0]); // Ethernet, snaplen 0, µs
        block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0]); // raw IP, ns
        for i in 0..packets {
            let len = i * 53 % 400;
            let data: Vec<u8> = std::iter::repeat_n(i as u8, len).collect();
            match i % 5 {
                3 => {
                    let mut body = (len as u32).to_le_bytes().to_vec();
                    body.extend_from_slice(&data);
                    block(3, &body);
                }
                4 => block(5, &data), // statistics: skipped
                _ => {
                    let mut body = Vec::new();
                    for v in [i % 2, 0, i * 1000, len, len + 4] {
                        body.extend_from_slice(&(v as u32).to_le_bytes());
                    }
                    body.extend_from_slice(&data);
                    block(6, &body);
                }
            }
        }
        out
    }

    #[test]
    fn source_moves_to_a_worker_thread() {
        fn is_send<T: Send>() {}
        is_send::<PcapSource>();
    }

    #[test]
    fn records_straddling_the_buffer_read_the_same() {
        for (bytes, frames) in [(classic_capture(2000), 2000), (ng_capture(2000), 1600)] {
            let reference = drain(&mut PcapSource::from_bytes("t", bytes.clone().leak()), 1000);
            assert!(reference.1.is_none(), "{:?}", reference.1);
            assert_eq!(reference.0.len(), frames);
            for buf in [1, 64, 100, 4096, DEFAULT_BUFFER] {
                for batch in [1, 7, 1000] {
                    let (got, err) = drain_reader(&bytes, buf, batch);
                    assert!(err.is_none(), "buffer {buf}, batch {batch}: {err:?}");
                    assert!(got == reference.0, "buffer {buf}, batch {batch}");
                }
            }
            let trickle = Trickle {
                data: bytes.clone(),
                pos: 0,
                calls: 0,
            };
            let src = PcapSource::from_reader("t", Box::new(trickle)).expect("a capture");
            let (got, err) = drain(&mut src.with_buffer_size(64), 13);
            assert!(err.is_none(), "{err:?}");
            assert!(got == reference.0, "short reads");
        }
    }

    #[test]
    fn classic_records_carry_their_fields() {
        let (frames, _) = drain(
            &mut PcapSource::from_bytes("t", classic_capture(3).leak()),
            8,
        );
        assert_eq!(
            frames[2],
            OwnedFrame {
                ts_ns: 2_000_002_000,
                wire_len: 1002,
                link: LinkType::Ethernet,
                data: vec![2; 74],
            }
        );
    }

    #[test]
    fn several_files_in_order() {
        let a = TempFile::new("a.pcap", &classic_capture(5));
        let b = TempFile::new("b.pcapng", &ng_capture(10));
        let c = TempFile::new("c.pcap", &classic_capture(0)); // header only
        let paths = [a.0.clone(), c.0.clone(), b.0.clone(), a.0.clone()];
        let mut src = PcapSource::open(&paths)
            .expect("open")
            .with_buffer_size(256);
        let size = |t: &TempFile| std::fs::metadata(&t.0).expect("stat").len();
        assert_eq!(src.total_bytes(), Some(2 * size(&a) + size(&b) + size(&c)));
        assert_eq!(src.current_path(), Some(a.0.as_path()));
        assert_eq!(src.bytes_read(), 0);
        let mut seen = Vec::new();
        while src
            .next_batch(3, &mut |f| seen.push((f.link, f.ts_ns)))
            .expect("no error")
            > 0
        {}
        let classic: Vec<_> = (0..5u64)
            .map(|i| (LinkType::Ethernet, i * 1_000_001_000))
            .collect();
        // ng_capture: EPB on interface i % 2 (0: Ethernet µs, 1: raw IP ns) at i * 1000 units,
        // except i % 5 == 3 (SPB: interface 0, the previous timestamp) and 4 (skipped).
        let epb = |i: u64| match i % 2 {
            0 => (LinkType::Ethernet, i * 1_000_000),
            _ => (LinkType::Raw, i * 1000),
        };
        let ng: Vec<_> = (0..10u64)
            .filter(|i| i % 5 != 4)
            .map(|i| {
                if i % 5 == 3 {
                    (LinkType::Ethernet, epb(i - 1).1)
                } else {
                    epb(i)
                }
            })
            .collect();
        assert_eq!(seen, [&classic[..], &ng[..], &classic[..]].concat());
        assert_eq!(src.bytes_read(), src.total_bytes().expect("files"));
        assert_eq!(src.current_path(), None);
    }

    #[test]
    fn open_fails_before_reading_anything() {
        let good = TempFile::new("good.pcap", &classic_capture(1));
        let missing = std::env::temp_dir().join("xdpflow-pcap-test-does-not-exist.pcap");
        match PcapSource::open(&[good.0.clone(), missing.clone()]) {
            Err(Error::CaptureIo { path, source }) => {
                assert_eq!(path, missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected CaptureIo, got {other:?}"),
        }
        let text = TempFile::new("notes.txt", b"GET / HTTP/1.1\r\nHost: x\r\n");
        match PcapSource::open(&[good.0.clone(), text.0.clone()]) {
            Err(Error::NotACapture { path, magic }) => {
                assert_eq!(path, text.0);
                assert_eq!(magic, b"GET / HTTP/1.1\r\n");
            }
            other => panic!("expected NotACapture, got {other:?}"),
        }
        // An empty file cannot be identified: not a capture, with no bytes to show.
        let empty = TempFile::new("empty.pcap", b"");
        match PcapSource::open(std::slice::from_ref(&empty.0)) {
            Err(Error::NotACapture { magic, .. }) => assert!(magic.is_empty()),
            other => panic!("expected NotACapture, got {other:?}"),
        }
        // A directory opens but cannot be read.
        let dir = std::env::temp_dir();
        assert!(matches!(
            PcapSource::open(&[dir]),
            Err(Error::CaptureIo { .. })
        ));
    }

    #[test]
    fn not_a_capture_in_memory_fails_on_first_batch() {
        let mut src = PcapSource::from_bytes("sample", b"\x1f\x8b\x08\x00");
        let (frames, err) = drain(&mut src, 8);
        assert!(frames.is_empty());
        match err {
            Some(Error::NotACapture { path, magic }) => {
                assert_eq!(path, Path::new("sample"));
                assert_eq!(magic, [0x1f, 0x8b, 0x08, 0x00]);
            }
            other => panic!("expected NotACapture, got {other:?}"),
        }
    }

    #[test]
    fn an_error_comes_after_the_frames_before_it_then_ok_0() {
        let mut bytes = classic_capture(10);
        bytes.truncate(bytes.len() - 1); // the last record is cut
        let mut src = PcapSource::from_bytes("t", bytes.leak());
        let mut n = 0;
        assert_eq!(
            src.next_batch(100, &mut |_| n += 1).ok(),
            Some(9),
            "frames first"
        );
        let err = src
            .next_batch(100, &mut |_| n += 1)
            .expect_err("then the error");
        assert!(matches!(err, Error::CaptureTruncated { .. }), "{err:?}");
        assert_eq!(
            src.next_batch(100, &mut |_| n += 1).ok(),
            Some(0),
            "then Ok(0)"
        );
        assert_eq!(n, 9);
        // The file after the bad one is not read.
        let bad = TempFile::new("bad.pcap", &classic_capture(10)[..100]);
        let good = TempFile::new("good2.pcap", &classic_capture(10));
        let mut src = PcapSource::open(&[bad.0.clone(), good.0.clone()]).expect("open");
        let (frames, err) = drain(&mut src, 100);
        // Records of 0 and 37 bytes end at 93; the next one needs 16 + 74 bytes.
        assert_eq!(frames.len(), 2);
        assert!(
            matches!(err, Some(Error::CaptureTruncated { offset: 93, .. })),
            "{err:?}"
        );
    }

    /// Where the public captures are, if this checkout has them.
    fn public_pcaps() -> Option<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public");
        if dir.is_dir() {
            Some(dir)
        } else {
            println!("skipped: ../shared/pcaps/public not found");
            None
        }
    }

    #[test]
    fn public_captures_match_their_packet_counts() {
        let Some(dir) = public_pcaps() else { return };
        let summary = std::fs::read_to_string(dir.join("labels_summary.csv")).expect("summary");
        let mut lines = summary.lines();
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        let col = |name| header.iter().position(|h| *h == name).expect("column");
        let (file_col, packets_col) = (col("file"), col("packets"));
        let expected: std::collections::HashMap<String, usize> = lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .map(|f| {
                (
                    f[file_col].to_owned(),
                    f[packets_col].parse().expect("count"),
                )
            })
            .collect();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 100, "{} captures", paths.len());
        let mut total = 0;
        for path in &paths {
            let name = path.file_name().expect("name").to_string_lossy();
            let mut src = PcapSource::open(std::slice::from_ref(path)).expect("open");
            let (frames, err) = drain(&mut src, 256);
            assert!(
                err.is_none(),
                "{name}: {}",
                err.map(|e| e.to_string()).unwrap_or_default()
            );
            assert_eq!(Some(&frames.len()), expected.get(&*name), "{name}");
            total += frames.len();
        }
        // All at once, in order, with a small buffer.
        let mut src = PcapSource::open(&paths)
            .expect("open")
            .with_buffer_size(4096);
        let mut n = 0;
        while src.next_batch(1000, &mut |_| n += 1).expect("no error") > 0 {}
        assert_eq!(n, total);
        assert_eq!(Some(src.bytes_read()), src.total_bytes());
    }

    /// `cargo test -p appliance --release --lib capture::pcap::tests::throughput -- --ignored
    /// --nocapture`: frames/s over tor.pcap, in memory and from the page cache.
    #[test]
    #[ignore = "a measurement, not a check; run with --release"]
    fn throughput() {
        let Some(dir) = public_pcaps() else { return };
        // tor: pcapng, ~820-byte frames; synscan: classic, ~58-byte frames (per-frame cost).
        for name in ["tor.pcap", "synscan.pcap"] {
            let path = dir.join(name);
            let bytes: &'static [u8] = std::fs::read(&path).expect("read").leak();
            let rounds = 2_000_000_000 / bytes.len();
            let measure = |how: &str, make: &dyn Fn() -> PcapSource| {
                let start = std::time::Instant::now();
                let (mut frames, mut sum) = (0u64, 0u64);
                for _ in 0..rounds {
                    let mut src = make();
                    let mut f =
                        |f: Frame<'_>| sum = sum.wrapping_add(u64::from(f.data[0]) + f.ts_ns);
                    while let n @ 1.. = src.next_batch(256, &mut f).expect("no error") {
                        frames += n as u64;
                    }
                }
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{name}, {how}: {:.1} M frames/s, {:.0} MB/s (checksum {sum})",
                    frames as f64 / secs / 1e6,
                    rounds as f64 * bytes.len() as f64 / secs / 1e6
                );
            };
            measure("in place (from_bytes)", &|| {
                PcapSource::from_bytes(name, bytes)
            });
            measure("buffered (Cursor)", &|| {
                PcapSource::from_reader(name, Box::new(Cursor::new(bytes))).expect("capture")
            });
            measure("file (page cache)", &|| {
                PcapSource::open(std::slice::from_ref(&path)).expect("open")
            });
        }
    }
}
