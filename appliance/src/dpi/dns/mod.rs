//! DNS messages (RFC 1035), as carried over UDP and TCP, and by multicast DNS (RFC 6762) and
//! LLMNR (RFC 4795), which reuse the DNS message format.
//!
//! Owns the 12-byte header (RFC 1035 §4.1.1), the *first* question (§4.1.2) — or, in a
//! message without questions, the first answer's owner name, type and class — with its name
//! decoded through compression pointers (§4.1.4), the TCP two-byte length prefix (§4.2.2) and a
//! small byte-capped reassembler for it ([`DnsTcpReassembler`]). It does *not* decode resource
//! records: the answer count is the header's `ANCOUNT`, and [`sections_fit`] only checks that
//! they lie within the message. It does not decide from ports whether a flow is DNS; [`is_dns`],
//! [`is_mdns`] and [`is_llmnr`] only name the well-known ports: that is the dissector's job
//! ([`Dns`], in `dissector.rs`).
//!
//! # Contract
//!
//! [`parse_message`] and [`parse_message_into`] never panic and never read past `payload`; the
//! only allocation is the decoded name (reuse a `String` with [`parse_message_into`]). The
//! reassembler's buffer is allocated once, at construction.
//!
//! # Names
//!
//! The name is written in presentation form: labels joined by `.`, without the trailing dot,
//! the root as the empty string. ASCII letters are lowercased, as nfstream's
//! `requested_server_name` is (`mdns.pcap`: `Christys-iPad.local` on the wire,
//! `christys-ipad.local` in `shared/pcaps/public/nfstream/mdns.pcap.csv`); DNS names compare
//! case-insensitively anyway (RFC 4343). Bytes
//! other than printable ASCII and space, and `.` or `\` inside a label, are escaped as `\DDD`
//! (decimal, RFC 4343 §2.1), so the output is always ASCII and never ambiguous. Space is kept
//! (mDNS service instance names have spaces, and nfstream keeps them). nfstream keeps only the
//! *last* 79 characters of a longer name (nDPI's hostname buffer); that cut is the exporter's
//! business, not this parser's.
//!
//! Decoding follows pointers only *backwards* (to an offset before the label that holds the
//! pointer), which rules out loops by construction; [`MAX_POINTER_JUMPS`] bounds the work
//! anyway. Labels of type `01` and `10` (RFC 6891 §5, obsolete extended labels) are rejected,
//! as are names longer than 255 octets on the wire (RFC 1035 §3.1).
//!
//! # mDNS and LLMNR
//!
//! - mDNS (RFC 6762, UDP 5353): same format; in a *question* the top bit of QCLASS is the
//!   "unicast response" bit (§5.4), reported by [`Question::unicast_response`] (meaningless for
//!   plain DNS, where that bit is part of the class). Queries usually have ID 0.
//! - LLMNR (RFC 4795, UDP and TCP 5355): same format, but the header flag bits after the
//!   opcode mean C (conflict), TC and T (tentative) instead of AA, TC and RD (§2.1.1);
//!   [`DnsMessage::flags`] keeps the raw 16 bits for that reason. Opcode must be 0 and QDCOUNT
//!   1 in LLMNR queries; this parser does not enforce either.

use std::fmt::Write as _;

/// Most compression pointers followed while decoding one name.
pub const MAX_POINTER_JUMPS: usize = 16;

/// Longest name on the wire, length octets included (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;

/// Length of the fixed header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

/// The DNS port (UDP and TCP).
pub const PORT: u16 = 53;
/// The multicast DNS port (RFC 6762).
pub const MDNS_PORT: u16 = 5353;
/// The LLMNR port (RFC 4795 §2).
pub const LLMNR_PORT: u16 = 5355;

/// True for the DNS port, 53.
pub fn is_dns(port: u16) -> bool {
    port == PORT
}

/// True for the multicast DNS port, 5353 (RFC 6762 §3).
pub fn is_mdns(port: u16) -> bool {
    port == MDNS_PORT
}

/// True for the LLMNR port, 5355 (RFC 4795 §2). Header flags differ from DNS: see the module
/// docs.
pub fn is_llmnr(port: u16) -> bool {
    port == LLMNR_PORT
}

/// Why a payload is not a DNS message this parser understands. `Copy`, to index a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DnsError {
    /// Shorter than the 12-byte header.
    HeaderTruncated,
    /// Over TCP: fewer than 2 bytes, or the length prefix says more than the payload holds.
    TcpIncomplete,
    /// Over TCP: the length prefix is smaller than a header.
    TcpLengthTooSmall,
    /// The question's name or its type/class runs past the end of the message.
    QuestionTruncated,
    /// A label type `01` or `10` (extended or obsolete label).
    BadLabelType,
    /// The name is longer than 255 octets on the wire.
    NameTooLong,
    /// A compression pointer that does not point backwards, or too many of them.
    BadPointer,
}

impl DnsError {
    /// A short stable label for metrics.
    pub fn as_label(self) -> &'static str {
        match self {
            DnsError::HeaderTruncated => "dns_header_truncated",
            DnsError::TcpIncomplete => "dns_tcp_incomplete",
            DnsError::TcpLengthTooSmall => "dns_tcp_length_too_small",
            DnsError::QuestionTruncated => "dns_question_truncated",
            DnsError::BadLabelType => "dns_bad_label_type",
            DnsError::NameTooLong => "dns_name_too_long",
            DnsError::BadPointer => "dns_bad_pointer",
        }
    }
}

/// The first question of a message (RFC 1035 §4.1.2), without its name (see
/// [`parse_message_into`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// QTYPE (1 A, 28 AAAA, 12 PTR, 33 SRV, 255 ANY, ...).
    pub qtype: u16,
    /// QCLASS as sent, top bit included.
    pub qclass_raw: u16,
}

impl Question {
    /// QCLASS without the mDNS unicast-response bit (1 = IN).
    pub fn qclass(&self) -> u16 {
        self.qclass_raw & 0x7fff
    }

    /// mDNS only: the question asks for a unicast response (QU, RFC 6762 §5.4).
    pub fn unicast_response(&self) -> bool {
        self.qclass_raw & 0x8000 != 0
    }
}

/// A DNS header and its first question (or first answer), as returned by
/// [`parse_message_into`] (the name went into the caller's `String`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message ID.
    pub id: u16,
    /// The 16 flag bits as sent (QR, opcode, AA/C, TC, RD/T, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// QDCOUNT.
    pub question_count: u16,
    /// ANCOUNT.
    pub answer_count: u16,
    /// NSCOUNT.
    pub authority_count: u16,
    /// ARCOUNT.
    pub additional_count: u16,
    /// The first question, `None` when QDCOUNT is 0.
    pub question: Option<Question>,
    /// When QDCOUNT is 0 and ANCOUNT is not (mDNS announcements, RFC 6762 §8.3): the first
    /// answer's type and class (top class bit = mDNS cache-flush, §10.2); its owner name is
    /// the decoded name. `None` otherwise.
    pub answer: Option<Question>,
}

impl Header {
    /// QR: true for a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// OPCODE (0 query, 4 notify, 5 update).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    /// RCODE (0 no error, 2 server failure, 3 name error, ...); the header's 4 bits only
    /// (EDNS extended rcodes live in the OPT record, which is not parsed).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0f) as u8
    }

    /// TC: the message was truncated by the sender.
    pub fn is_truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

/// A parsed DNS message: header, first question and its decoded name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    /// Header fields and the first question's type and class.
    pub header: Header,
    /// The first question's name (or, without a question, the first answer's owner name) in
    /// presentation form (see the module docs); empty when there is neither, or for the root.
    pub name: String,
}

impl DnsMessage {
    /// Message ID.
    pub fn id(&self) -> u16 {
        self.header.id
    }

    /// The raw flag bits (see [`Header::flags`]).
    pub fn flags(&self) -> u16 {
        self.header.flags
    }

    /// QR: true for a response.
    pub fn is_response(&self) -> bool {
        self.header.is_response()
    }

    /// OPCODE.
    pub fn opcode(&self) -> u8 {
        self.header.opcode()
    }

    /// RCODE.
    pub fn rcode(&self) -> u8 {
        self.header.rcode()
    }

    /// ANCOUNT.
    pub fn answer_count(&self) -> u16 {
        self.header.answer_count
    }

    /// The first question's type and class, `None` when QDCOUNT is 0.
    pub fn question(&self) -> Option<Question> {
        self.header.question
    }
}

/// Parses the header and first question of one DNS message.
///
/// With `over_tcp`, `payload` starts with the two-byte length prefix (RFC 1035 §4.2.2) and
/// only the first message is read; use [`DnsTcpReassembler`] for several or partial ones.
///
/// # Errors
///
/// A [`DnsError`] saying which part is missing or malformed.
pub fn parse_message(payload: &[u8], over_tcp: bool) -> Result<DnsMessage, DnsError> {
    let mut name = String::new();
    let header = parse_message_into(payload, over_tcp, &mut name)?;
    Ok(DnsMessage { header, name })
}

/// As [`parse_message`], but writes the name into `name` (cleared first), so that its buffer
/// can be reused across calls. On error `name` holds whatever was decoded before the error.
///
/// # Errors
///
/// As [`parse_message`].
pub fn parse_message_into(
    payload: &[u8],
    over_tcp: bool,
    name: &mut String,
) -> Result<Header, DnsError> {
    name.clear();
    let msg = if over_tcp {
        let Some((len, rest)) = payload.split_first_chunk::<2>() else {
            return Err(DnsError::TcpIncomplete);
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if len < HEADER_LEN {
            return Err(DnsError::TcpLengthTooSmall);
        }
        rest.get(..len).ok_or(DnsError::TcpIncomplete)?
    } else {
        payload
    };
    let Some((hdr, _)) = msg.split_first_chunk::<HEADER_LEN>() else {
        return Err(DnsError::HeaderTruncated);
    };
    let word = |i: usize| u16::from_be_bytes([hdr[i], hdr[i + 1]]);
    let mut header = Header {
        id: word(0),
        flags: word(2),
        question_count: word(4),
        answer_count: word(6),
        authority_count: word(8),
        additional_count: word(10),
        question: None,
        answer: None,
    };
    if header.question_count > 0 || header.answer_count > 0 {
        // The first question, or (mDNS announcements have none) the first answer's owner
        // name, type and class: both start at the same offset with the same layout.
        let end = decode_name(msg, HEADER_LEN, name)?;
        let fixed = msg.get(end..end + 4).ok_or(DnsError::QuestionTruncated)?;
        let q = Question {
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass_raw: u16::from_be_bytes([fixed[2], fixed[3]]),
        };
        if header.question_count > 0 {
            header.question = Some(q);
        } else {
            header.answer = Some(q);
        }
    }
    Ok(header)
}

/// True when every section of `msg` (a message without the TCP length prefix) lies within it:
/// QDCOUNT questions, then ANCOUNT + NSCOUNT + ARCOUNT resource records (RFC 1035 §4.1.3),
/// their names skipped without decoding (labels up to a pointer or the root), their RDATA by
/// RDLENGTH. A message cut by the capture, or the first fragment of a fragmented datagram,
/// fails; bytes after the last record are allowed. Reads at most `msg.len()` bytes, allocates
/// nothing.
pub fn sections_fit(msg: &[u8]) -> bool {
    let Some((h, _)) = msg.split_first_chunk::<HEADER_LEN>() else {
        return false;
    };
    let word = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
    let mut pos = HEADER_LEN;
    // Skips a name: labels until the root or a pointer (which ends the name, §4.1.4).
    let skip_name = |mut pos: usize| -> Option<usize> {
        loop {
            let len = *msg.get(pos)?;
            match len & 0xc0 {
                0x00 if len == 0 => return Some(pos + 1),
                0x00 => pos += 1 + usize::from(len),
                0xc0 => return (pos + 2 <= msg.len()).then_some(pos + 2),
                _ => return None,
            }
        }
    };
    for _ in 0..word(4) {
        match skip_name(pos) {
            Some(p) if p + 4 <= msg.len() => pos = p + 4,
            _ => return false,
        }
    }
    for _ in 0..word(6) + word(8) + word(10) {
        // TYPE, CLASS, TTL, RDLENGTH, then RDATA.
        let Some(p) = skip_name(pos) else {
            return false;
        };
        let Some(fixed) = msg.get(p..p + 10) else {
            return false;
        };
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        pos = p + 10 + rdlength;
        if pos > msg.len() {
            return false;
        }
    }
    true
}

/// Decodes the name at `start` in `msg` into `out` and returns the offset just after it (after
/// the first pointer, if any).
fn decode_name(msg: &[u8], start: usize, out: &mut String) -> Result<usize, DnsError> {
    let mut pos = start;
    // Where the name ends in the message: set by the first pointer.
    let mut end = None;
    let mut jumps = 0;
    // Octets of the name on the wire, length octets and the final zero included.
    let mut wire_len = 1;
    // Pointers must go strictly before this offset (the earliest label read so far).
    let mut floor = start;
    loop {
        let &len = msg.get(pos).ok_or(DnsError::QuestionTruncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(end.unwrap_or(pos + 1)),
            0x00 => {
                let len = usize::from(len);
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(DnsError::NameTooLong);
                }
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(DnsError::QuestionTruncated)?;
                if !out.is_empty() {
                    out.push('.');
                }
                push_label(out, label);
                pos += 1 + len;
            }
            0xc0 => {
                let &low = msg.get(pos + 1).ok_or(DnsError::QuestionTruncated)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                jumps += 1;
                if target >= floor || jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                floor = target;
                pos = target;
            }
            _ => return Err(DnsError::BadLabelType),
        }
    }
}

/// Appends `label` in presentation form, ASCII letters lowercased (RFC 4343 §2.1 escapes for
/// anything not printable).
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        if (b.is_ascii_graphic() || b == b' ') && b != b'.' && b != b'\\' {
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:03}");
        }
    }
}

/// Bytes of each TCP DNS message kept by [`DnsTcpReassembler`] by default: enough for the
/// header and any question (12 + 255 + 4), the rest of the message is skipped.
pub const TCP_MESSAGE_CAP: usize = 512;

/// Splits one direction of a DNS-over-TCP stream (RFC 1035 §4.2.2, RFC 7766) into messages:
/// follows the two-byte length prefixes across segments, keeps at most a fixed number of
/// bytes of each message (the header and first question need fewer than 300) and skips the
/// rest. Its state has a fixed size; the buffer is allocated once by [`DnsTcpReassembler::new`].
///
/// Segments must be pushed in order, without gaps (the caller's TCP tracking decides that).
#[derive(Clone, Debug)]
pub struct DnsTcpReassembler {
    /// Length prefix bytes seen so far.
    prefix: [u8; 2],
    prefix_len: u8,
    /// Length of the current message, from its prefix.
    msg_len: usize,
    /// Bytes of the current message seen (kept or skipped).
    seen: usize,
    /// The kept start of the current message.
    buf: Box<[u8]>,
    kept: usize,
}

impl Default for DnsTcpReassembler {
    fn default() -> Self {
        Self::new(TCP_MESSAGE_CAP)
    }
}

impl DnsTcpReassembler {
    /// A reassembler keeping the first `cap` bytes of each message (at least the header).
    pub fn new(cap: usize) -> Self {
        DnsTcpReassembler {
            prefix: [0; 2],
            prefix_len: 0,
            msg_len: 0,
            seen: 0,
            buf: vec![0; cap.max(HEADER_LEN)].into_boxed_slice(),
            kept: 0,
        }
    }

    /// Feeds the next bytes of the stream and calls `on_message` with the kept start of every
    /// message completed by them (possibly several). Returns how many messages completed. Pass
    /// each to [`parse_message`] with `over_tcp = false`; a message longer than the cap is
    /// cut, which only matters if its question is.
    pub fn push(&mut self, mut data: &[u8], on_message: &mut dyn FnMut(&[u8])) -> usize {
        let mut done = 0;
        while !data.is_empty() {
            if self.prefix_len < 2 {
                self.prefix[usize::from(self.prefix_len)] = data[0];
                self.prefix_len += 1;
                data = &data[1..];
                if self.prefix_len == 2 {
                    self.msg_len = usize::from(u16::from_be_bytes(self.prefix));
                    self.seen = 0;
                    self.kept = 0;
                    if self.msg_len == 0 {
                        // An empty message: nothing to report.
                        self.prefix_len = 0;
                    }
                }
                continue;
            }
            let n = data.len().min(self.msg_len - self.seen);
            let keep = n.min(self.buf.len() - self.kept);
            self.buf[self.kept..self.kept + keep].copy_from_slice(&data[..keep]);
            self.kept += keep;
            self.seen += n;
            data = &data[n..];
            if self.seen == self.msg_len {
                on_message(&self.buf[..self.kept]);
                done += 1;
                self.prefix_len = 0;
            }
        }
        done
    }

    /// Forgets any partial message (after a gap in the stream).
    pub fn reset(&mut self) {
        self.prefix_len = 0;
        self.seen = 0;
        self.kept = 0;
    }

    /// True when a message is partly received.
    pub fn is_mid_message(&self) -> bool {
        self.prefix_len != 0
    }
}

#[cfg(test)]
pub(super) mod captures;

mod dissector;
pub use self::dissector::{Dns, DnsTcpFlow, export_name, plausible};

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const QUERY: [u8; 33] = [
        0x12, 0x34,             // id
        0x01, 0x00,             // flags: query, opcode 0, RD
        0x00, 0x01,             // qdcount 1
        0x00, 0x00,             // ancount 0
        0x00, 0x00,             // nscount 0
        0x00, 0x00,             // arcount 0
        3, b'w', b'w', b'w',    // label "www"
        7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', // label "Example"
        3, b'c', b'o', b'm',    // label "com"
        0,                      // root
        0x00, 0x1c,             // qtype AAAA
        0x00, 0x01,             // qclass IN
    ];

    #[rustfmt::skip]
    const RESPONSE: [u8; 35] = [
        0xab, 0xcd,             // id
        0x81, 0x83,             // flags: response, RD, RA, rcode 3 (NXDOMAIN)
        0x00, 0x01,             // qdcount 1
        0x00, 0x01,             // ancount 1
        0x00, 0x00,             // nscount 0
        0x00, 0x00,             // arcount 0
        1, b'a',                // label "a"
        0,                      // root (question name "a" at offset 12)
        0x00, 0x01,             // qtype A
        0x00, 0x01,             // qclass IN
        0xc0, 0x0c,             // answer name: pointer to 12
        0x00, 0x01, 0x00, 0x01, // type A, class IN
        0x00, 0x00, 0x00, 0x3c, // ttl
        0x00, 0x04, 10, 0, 0, 1, // rdlength 4, 10.0.0.1
    ];

    fn header(flags: u16, qd: u16) -> Vec<u8> {
        let mut v = vec![0x00, 0x01];
        v.extend_from_slice(&flags.to_be_bytes());
        v.extend_from_slice(&qd.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn query_fields() {
        let m = parse_message(&QUERY, false).unwrap();
        assert_eq!(m.id(), 0x1234);
        assert!(!m.is_response());
        assert_eq!(m.opcode(), 0);
        assert_eq!(m.rcode(), 0);
        assert_eq!(m.answer_count(), 0);
        assert_eq!(m.header.question_count, 1);
        assert_eq!(m.name, "www.example.com");
        let q = m.question().unwrap();
        assert_eq!(q.qtype, 28);
        assert_eq!(q.qclass(), 1);
        assert!(!q.unicast_response());
        assert!(!m.header.is_truncated());
    }

    #[test]
    fn response_fields() {
        let m = parse_message(&RESPONSE, false).unwrap();
        assert_eq!(m.id(), 0xabcd);
        assert!(m.is_response());
        assert_eq!(m.rcode(), 3);
        assert_eq!(m.answer_count(), 1);
        assert_eq!(m.name, "a");
        assert_eq!(m.flags(), 0x8183);
    }

    #[test]
    fn opcode_and_tc() {
        let mut v = header(0x2a00, 0); // opcode 5 (update), TC
        v.truncate(HEADER_LEN);
        let m = parse_message(&v, false).unwrap();
        assert_eq!(m.opcode(), 5);
        assert!(m.header.is_truncated());
        assert_eq!(m.question(), None);
        assert_eq!(m.name, "");
    }

    #[test]
    fn mdns_unicast_bit() {
        let mut v = header(0, 1);
        v.extend_from_slice(&[5, b'_', b'h', b't', b't', b'p', 0]);
        v.extend_from_slice(&[0x00, 0x0c, 0x80, 0x01]); // PTR, QU + IN
        let q = parse_message(&v, false).unwrap().question().unwrap();
        assert_eq!(q.qtype, 12);
        assert_eq!(q.qclass(), 1);
        assert!(q.unicast_response());
        assert!(is_mdns(5353) && is_llmnr(5355) && is_dns(53) && !is_mdns(53));
    }

    #[test]
    fn compressed_question_name() {
        // A question whose name is "x" + pointer back to a name placed in the header area is
        // impossible (pointers must go backwards from offset 12, into the header): rejected.
        let mut v = header(0, 1);
        v.extend_from_slice(&[1, b'x', 0xc0, 0x00, 0, 1, 0, 1]);
        // Pointer to 0 is before 12, so it is followed: the header bytes decode as labels.
        // id 0x0001 -> label length 0 at offset 0: root. So the name is "x".
        let m = parse_message(&v, false).unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.question().unwrap().qtype, 1);
    }

    #[test]
    fn escapes() {
        let mut v = header(0, 1);
        v.extend_from_slice(&[4, b'a', b'.', 0xff, b' ', 0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap().name, "a\\046\\255 ");
    }

    #[test]
    fn root_name() {
        let mut v = header(0, 1);
        v.extend_from_slice(&[0, 0, 2, 0, 1]);
        let m = parse_message(&v, false).unwrap();
        assert_eq!(m.name, "");
        assert_eq!(m.question().unwrap().qtype, 2);
    }

    #[test]
    fn reuse_buffer() {
        let mut s = String::from("old");
        let h = parse_message_into(&QUERY, false, &mut s).unwrap();
        assert_eq!(s, "www.example.com");
        assert_eq!(h.id, 0x1234);
    }

    #[test]
    fn header_truncated() {
        assert_eq!(
            parse_message(&QUERY[..11], false).unwrap_err(),
            DnsError::HeaderTruncated
        );
    }

    #[test]
    fn question_truncated() {
        for cut in [12, 13, 20, 29, 30, 32] {
            assert_eq!(
                parse_message(&QUERY[..cut], false).unwrap_err(),
                DnsError::QuestionTruncated,
                "cut at {cut}"
            );
        }
        // A pointer cut after its first byte.
        let mut v = header(0, 1);
        v.push(0xc0);
        assert_eq!(
            parse_message(&v, false).unwrap_err(),
            DnsError::QuestionTruncated
        );
    }

    #[test]
    fn bad_label_type() {
        for t in [0x40, 0x80] {
            let mut v = header(0, 1);
            v.extend_from_slice(&[t, 0, 0, 1, 0, 1]);
            assert_eq!(
                parse_message(&v, false).unwrap_err(),
                DnsError::BadLabelType
            );
        }
    }

    #[test]
    fn name_too_long() {
        let mut v = header(0, 1);
        for _ in 0..5 {
            v.push(63);
            v.extend_from_slice(&[b'a'; 63]);
        }
        v.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap_err(), DnsError::NameTooLong);
        // 253 characters (the longest legal name) is accepted: 3 x 63 + 61.
        let mut v = header(0, 1);
        for _ in 0..3 {
            v.push(63);
            v.extend_from_slice(&[b'a'; 63]);
        }
        v.push(61);
        v.extend_from_slice(&[b'b'; 61]);
        v.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap().name.len(), 253);
    }

    #[test]
    fn bad_pointers() {
        // Pointer to itself.
        let mut v = header(0, 1);
        v.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap_err(), DnsError::BadPointer);
        // Forward pointer.
        let mut v = header(0, 1);
        v.extend_from_slice(&[0xc0, 14, 0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap_err(), DnsError::BadPointer);
        // A loop through the header: 12 -> 2, and at 2 a pointer 0xc0 0x0c back to 12.
        let mut v = header(0, 1);
        v[2] = 0xc0;
        v[3] = 0x0c;
        v.extend_from_slice(&[0xc0, 2, 0, 1, 0, 1]);
        assert_eq!(parse_message(&v, false).unwrap_err(), DnsError::BadPointer);
    }

    #[test]
    fn too_many_jumps() {
        // A chain of backward pointers longer than the limit: each 2-byte slot points to the
        // previous one; the first slot (offset 12) holds a root label.
        let mut v = header(0, 0);
        v.extend_from_slice(&[0, 0]); // offset 12: root
        let mut prev = 12u16;
        for _ in 0..MAX_POINTER_JUMPS + 1 {
            let here = v.len() as u16;
            v.extend_from_slice(&(0xc000 | prev).to_be_bytes());
            prev = here;
        }
        let mut out = String::new();
        assert_eq!(
            decode_name(&v, usize::from(prev), &mut out).unwrap_err(),
            DnsError::BadPointer
        );
        let mut out = String::new();
        let ok_start = 12 + 2 * MAX_POINTER_JUMPS;
        assert!(decode_name(&v, ok_start, &mut out).is_ok());
    }

    #[test]
    fn over_tcp() {
        let mut v = (QUERY.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&QUERY);
        assert_eq!(parse_message(&v, true).unwrap().name, "www.example.com");
        assert_eq!(
            parse_message(&v[..1], true).unwrap_err(),
            DnsError::TcpIncomplete
        );
        assert_eq!(
            parse_message(&v[..20], true).unwrap_err(),
            DnsError::TcpIncomplete
        );
        assert_eq!(
            parse_message(&[0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], true).unwrap_err(),
            DnsError::TcpLengthTooSmall
        );
    }

    #[test]
    fn reassembler_splits_and_joins() {
        let mut stream = Vec::new();
        for msg in [&QUERY[..], &RESPONSE[..]] {
            stream.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            stream.extend_from_slice(msg);
        }
        stream.extend_from_slice(&[0, 0]); // an empty message: ignored
        // Every split point, in one, two and byte-sized pieces.
        for split in 0..=stream.len() {
            let mut r = DnsTcpReassembler::default();
            let mut names = Vec::new();
            let mut f = |m: &[u8]| names.push(parse_message(m, false).unwrap().name);
            let n = r.push(&stream[..split], &mut f) + r.push(&stream[split..], &mut f);
            assert_eq!(n, 2);
            assert_eq!(names, ["www.example.com", "a"]);
            assert!(!r.is_mid_message());
        }
        let mut r = DnsTcpReassembler::default();
        let mut count = 0;
        for b in &stream {
            count += r.push(std::slice::from_ref(b), &mut |_| {});
        }
        assert_eq!(count, 2);
    }

    #[test]
    fn reassembler_caps() {
        let mut r = DnsTcpReassembler::new(20);
        let mut msg = QUERY.to_vec();
        msg.extend_from_slice(&[0xee; 1000]);
        let mut stream = (msg.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&msg);
        let mut lens = Vec::new();
        r.push(&stream[..500], &mut |m| lens.push(m.len()));
        assert!(r.is_mid_message());
        r.push(&stream[500..], &mut |m| lens.push(m.len()));
        assert_eq!(lens, [20]);
        r.push(&[0, 5, 1], &mut |_| {});
        assert!(r.is_mid_message());
        r.reset();
        assert!(!r.is_mid_message());
    }

    #[test]
    fn labels_are_distinct() {
        let all = [
            DnsError::HeaderTruncated,
            DnsError::TcpIncomplete,
            DnsError::TcpLengthTooSmall,
            DnsError::QuestionTruncated,
            DnsError::BadLabelType,
            DnsError::NameTooLong,
            DnsError::BadPointer,
        ];
        let labels: std::collections::HashSet<_> = all.iter().map(|e| e.as_label()).collect();
        assert_eq!(labels.len(), all.len());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
                        tcp in proptest::bool::ANY, cap in 0usize..64) {
            let _ = parse_message(&data, tcp);
            let mut r = DnsTcpReassembler::new(cap);
            let mid = data.len() / 2;
            r.push(&data[..mid], &mut |m| { let _ = parse_message(m, false); });
            r.push(&data[mid..], &mut |m| { let _ = parse_message(m, false); });
        }

        #[test]
        fn never_panics_with_header(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut v = header(0, 1);
            v.extend_from_slice(&tail);
            if let Ok(m) = parse_message(&v, false) {
                proptest::prop_assert!(m.name.is_ascii());
            }
        }
    }

    #[test]
    fn answer_name_without_question() {
        let mut v = header(0x8400, 0); // mDNS announcement: response, AA, no question
        v[7] = 1; // ancount 1
        v.extend_from_slice(&[
            4, b'H', b'o', b's', b't', 5, b'l', b'o', b'c', b'a', b'l', 0,
        ]);
        v.extend_from_slice(&[0x00, 0x01, 0x80, 0x01]); // A, cache-flush + IN
        v.extend_from_slice(&[0, 0, 0, 120, 0, 4, 10, 0, 0, 2]); // ttl, rdlength, rdata
        let m = parse_message(&v, false).unwrap();
        assert_eq!(m.name, "host.local");
        assert_eq!(m.question(), None);
        let a = m.header.answer.unwrap();
        assert_eq!((a.qtype, a.qclass(), a.unicast_response()), (1, 1, true));
    }

    /// Every DNS/mDNS flow of the DNS captures: the names we parse in the flow's first 20
    /// packets (nfstream's `n_dissections`) against nfstream's `requested_server_name`.
    /// Prints the match rates (first name, last name, any name); asserts nothing about them,
    /// so a changed capture cannot break the build, but asserts that every flow parses.
    #[test]
    fn public_captures_match_nfstream() {
        use super::captures::{for_each_payload, key, nfstream_names};
        use std::collections::HashMap;
        let files = [
            "dns-tunnel-iodine.pcap",
            "dns_exfiltration.pcap",
            "dns_fragmented.pcap",
            "dns_long_domainname.pcap",
            "dns_dot.pcap",
            "dnscrypt-v1-and-resolver-pings.pcap",
            "mdns.pcap",
            "googledns_android10.pcap",
            "bad-dns-traffic.pcap",
            "malformed_dns.pcap",
        ];
        let (mut flows, mut first_ok, mut last_ok, mut any_ok) = (0, 0, 0, 0);
        for file in files {
            let want = nfstream_names(file);
            // Packets seen and names parsed per flow, in order.
            let mut got: HashMap<_, (usize, Vec<String>)> = HashMap::new();
            let mut tcp: HashMap<_, DnsTcpReassembler> = HashMap::new();
            let present = for_each_payload(file, |t, _, p| {
                let k = key(t);
                let e = got.entry(k.clone()).or_default();
                e.0 += 1;
                let dns_port = |p: u16| is_dns(p) || is_mdns(p) || is_llmnr(p);
                if e.0 > 20 || !(dns_port(t.src_port) || dns_port(t.dst_port)) {
                    return;
                }
                if t.protocol == 6 {
                    let r = tcp.entry((k, t.src_port)).or_default();
                    r.push(p, &mut |m| {
                        if let Ok(m) = parse_message(m, false) {
                            e.1.push(m.name);
                        }
                    });
                } else if let Ok(m) = parse_message(p, false) {
                    e.1.push(m.name);
                }
            });
            if !present {
                continue;
            }
            let (mut f, mut first, mut last, mut any) = (0, 0, 0, 0);
            for (k, rows) in &want {
                for (app, expected) in rows {
                    if expected.is_empty() || !matches!(app.as_str(), "DNS" | "MDNS" | "LLMNR") {
                        continue;
                    }
                    f += 1;
                    let names = got.get(k).map(|g| g.1.as_slice()).unwrap_or_default();
                    // nfstream keeps the last 79 characters of a name.
                    let names: Vec<&str> = names
                        .iter()
                        .filter(|n| !n.is_empty())
                        .map(|n| &n[n.len().saturating_sub(79)..])
                        .collect();
                    let expected = expected.as_str();
                    first += usize::from(names.first() == Some(&expected));
                    last += usize::from(names.last() == Some(&expected));
                    // Every flow that nfstream names parses.
                    assert!(!names.is_empty(), "{file}: {k:?}: no name parsed");
                    if names.contains(&expected) {
                        any += 1;
                    } else {
                        println!("{file}: {k:?}: nfstream {expected:?}, ours {names:?}");
                    }
                }
            }
            println!("{file}: {f} flows; first {first}, last {last}, any {any}");
            flows += f;
            first_ok += first;
            last_ok += last;
            any_ok += any;
        }
        println!(
            "dns: {flows} flows with a name in nfstream; ours equal: first {first_ok}, \
             last {last_ok}, any {any_ok}"
        );
    }
}
