//! A reader of BER / DER type-length-value elements (ITU-T X.690 §8.1), enough for the ASN.1
//! protocols the dissectors probe: Kerberos (RFC 4120 §5, DER) and LDAP (RFC 4511 §5.1, BER
//! without indefinite lengths).
//!
//! Owns one element's identifier and length octets, and walking the elements of a
//! constructed value. It does *not* decode types (integers and strings are the callers'), does
//! not support high tag numbers (X.690 §8.1.2.4: first octet `..11111`, unused by both
//! protocols) or the indefinite length form (X.690 §8.1.3.6, which DER and RFC 4511 §5.1
//! forbid), and refuses lengths over 2^32 - 1.
//!
//! Contract: every function takes arbitrary bytes, never panics and never allocates. Values
//! are borrowed, and may be *cut*: a dissector sees the first segment of a message, so an
//! element whose value runs past the buffer is returned with the bytes that are there
//! ([`Tlv::is_complete`] says whether it was all there).

/// Tag octets used by the callers (X.690 §8.1.2; universal class numbers from X.680 §8.4).
pub mod tag {
    /// UNIVERSAL 2, INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// UNIVERSAL 4, OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// UNIVERSAL 16, SEQUENCE / SEQUENCE OF, constructed.
    pub const SEQUENCE: u8 = 0x30;
    /// UNIVERSAL 27, GeneralString (Kerberos' `KerberosString`, RFC 4120 §5.2.1).
    pub const GENERAL_STRING: u8 = 0x1b;

    /// A constructed context-specific tag `[n]` (explicit tagging), n < 31.
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }

    /// A constructed application tag `[APPLICATION n]`, n < 31.
    pub const fn application(n: u8) -> u8 {
        0x60 | n
    }
}

/// One element: its identifier octet and (the available part of) its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, tag number < 31).
    pub tag: u8,
    /// The length the element declares.
    pub len: usize,
    /// The value bytes present in the buffer: `len` bytes, or fewer when the buffer ends
    /// first.
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// True when the whole value was in the buffer.
    pub fn is_complete(&self) -> bool {
        self.value.len() == self.len
    }

    /// The elements of this (constructed) value, in order.
    pub fn children(&self) -> Children<'a> {
        Children { rest: self.value }
    }

    /// The value as a non-negative integer when it is a complete INTEGER of 1 to 4 octets.
    pub fn as_u32(&self) -> Option<u32> {
        if self.tag != tag::INTEGER || !self.is_complete() || self.value.is_empty() {
            return None;
        }
        let v = self.value;
        // A leading 0x00 is allowed before a high bit (X.690 §8.3.2); negatives are refused.
        let v = if v.len() > 1 && v[0] == 0 { &v[1..] } else { v };
        if v.len() > 4 || (v[0] & 0x80 != 0 && self.value.len() == v.len()) {
            return None;
        }
        Some(v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }
}

/// Reads the element at the start of `buf`: `None` when the identifier or length octets are
/// missing or not supported (high tag number, indefinite length, length over 4 octets);
/// otherwise the element and the bytes after it (empty when the value was cut).
pub fn read(buf: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    let take = len.min(rest.len());
    let (value, after) = rest.split_at(take);
    Some((Tlv { tag, len, value }, after))
}

/// Reads the element at the start of `buf` and checks its tag.
pub fn expect(buf: &[u8], want: u8) -> Option<(Tlv<'_>, &[u8])> {
    read(buf).filter(|(t, _)| t.tag == want)
}

/// The elements of a constructed value; stops at the first unreadable one.
#[derive(Clone, Debug)]
pub struct Children<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Children<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        let (tlv, rest) = read(self.rest)?;
        self.rest = rest;
        Some(tlv)
    }
}

/// The first element of `children` with tag `want`.
pub fn find<'a>(mut children: Children<'a>, want: u8) -> Option<Tlv<'a>> {
    children.find(|t| t.tag == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let (t, rest) = read(&[0x04, 0x02, b'h', b'i', 0xff]).unwrap();
        assert_eq!(
            (t.tag, t.len, t.value, rest),
            (0x04, 2, &b"hi"[..], &[0xff][..])
        );
        assert!(t.is_complete());
        // 0x82 0x01 0x00: 256 bytes, of which 2 are there.
        let (t, rest) = read(&[0x30, 0x82, 0x01, 0x00, 1, 2]).unwrap();
        assert_eq!((t.len, t.value, rest.len()), (256, &[1, 2][..], 0));
        assert!(!t.is_complete());
    }

    #[test]
    fn refuses_unsupported_forms() {
        assert_eq!(read(&[]), None);
        assert_eq!(read(&[0x30]), None, "no length octet");
        assert_eq!(read(&[0x1f, 0x01, 0x00]), None, "high tag number");
        assert_eq!(read(&[0x30, 0x80, 0x00]), None, "indefinite length");
        assert_eq!(read(&[0x30, 0x85, 1, 1, 1, 1, 1]), None, "5 length octets");
        assert_eq!(read(&[0x30, 0x82, 0x01]), None, "cut length octets");
    }

    #[test]
    fn integers() {
        let int = |b: &[u8]| read(b).and_then(|(t, _)| t.as_u32());
        assert_eq!(int(&[0x02, 0x01, 0x05]), Some(5));
        assert_eq!(int(&[0x02, 0x02, 0x00, 0x80]), Some(128));
        assert_eq!(int(&[0x02, 0x01, 0x80]), None, "negative");
        assert_eq!(int(&[0x02, 0x00]), None, "empty");
        assert_eq!(int(&[0x02, 0x05, 1, 2, 3, 4, 5]), None, "too wide");
        assert_eq!(int(&[0x04, 0x01, 0x05]), None, "not an INTEGER");
        assert_eq!(int(&[0x02, 0x02, 0x05]), None, "cut");
    }

    #[test]
    fn children_and_find() {
        // SEQUENCE { [0] INTEGER 1, [1] OCTET STRING "a" }
        let buf = [0x30, 0x08, 0xa0, 0x03, 0x02, 0x01, 0x01, 0xa1, 0x01, 0x04];
        let (seq, _) = expect(&buf, tag::SEQUENCE).unwrap();
        let tags: Vec<u8> = seq.children().map(|t| t.tag).collect();
        assert_eq!(tags, [tag::context(0), tag::context(1)]);
        assert!(find(seq.children(), tag::context(1)).is_some());
        assert!(find(seq.children(), tag::context(2)).is_none());
        assert!(expect(&buf, tag::INTEGER).is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Some((t, _)) = read(&data) {
                let _ = t.as_u32();
                for c in t.children() {
                    let _ = c.children().count();
                }
            }
        }
    }
}
