//! UniRec templates: field types, the field order of a record, the specifier text of the hello,
//! and the value encodings (`../shared/specs/unirec-trap.md` §5).
//!
//! A [`Template`] is built once from a field list; [`Template::encode`] then appends records
//! to a caller's buffer with no allocation. This file knows nothing about flows (`flow.rs`
//! maps a [`crate::flow::FlowRecord`] onto a template) nor about TRAP framing (`trap.rs`).

use std::cmp::Ordering;

/// A UniRec field type, as written in the template specifier (§5, types table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `char`, 1 byte.
    Char,
    /// `uint8`.
    U8,
    /// `int8`.
    I8,
    /// `uint16`, LE.
    U16,
    /// `int16`, LE.
    I16,
    /// `uint32`, LE.
    U32,
    /// `int32`, LE.
    I32,
    /// `uint64`, LE.
    U64,
    /// `int64`, LE.
    I64,
    /// `float`, IEEE-754 LE.
    Float,
    /// `double`, IEEE-754 LE.
    Double,
    /// `ipaddr`, 16 bytes (IPv4 as 8 zero bytes, the address, `ff ff ff ff`).
    IpAddr,
    /// `macaddr`, 6 bytes.
    MacAddr,
    /// `time`, u64 LE: seconds << 32 | fraction in 2⁻³² s.
    Time,
    /// `string`: dynamic, bytes without a NUL.
    String,
    /// `bytes`: dynamic, opaque.
    Bytes,
    /// `T*`: dynamic array of a static type (not `char`).
    Array(Elem),
}

/// Element type of a UniRec array (`T*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `uint8*`.
    U8,
    /// `int8*`.
    I8,
    /// `uint16*`.
    U16,
    /// `int16*`.
    I16,
    /// `uint32*`.
    U32,
    /// `int32*`.
    I32,
    /// `uint64*`.
    U64,
    /// `int64*`.
    I64,
    /// `float*`.
    Float,
    /// `double*`.
    Double,
    /// `ipaddr*`.
    IpAddr,
    /// `macaddr*`.
    MacAddr,
    /// `time*`.
    Time,
}

impl Elem {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::U16 | Elem::I16 => 2,
            Elem::U32 | Elem::I32 | Elem::Float => 4,
            Elem::U64 | Elem::I64 | Elem::Double | Elem::Time => 8,
            Elem::IpAddr => 16,
            Elem::MacAddr => 6,
        }
    }

    /// The specifier name, with the `*`.
    pub fn name(self) -> &'static str {
        match self {
            Elem::U8 => "uint8*",
            Elem::I8 => "int8*",
            Elem::U16 => "uint16*",
            Elem::I16 => "int16*",
            Elem::U32 => "uint32*",
            Elem::I32 => "int32*",
            Elem::U64 => "uint64*",
            Elem::I64 => "int64*",
            Elem::Float => "float*",
            Elem::Double => "double*",
            Elem::IpAddr => "ipaddr*",
            Elem::MacAddr => "macaddr*",
            Elem::Time => "time*",
        }
    }
}

impl Type {
    /// Byte size of a static type; `None` for dynamic ones.
    pub fn static_size(self) -> Option<usize> {
        Some(match self {
            Type::Char | Type::U8 | Type::I8 => 1,
            Type::U16 | Type::I16 => 2,
            Type::U32 | Type::I32 | Type::Float => 4,
            Type::U64 | Type::I64 | Type::Double | Type::Time => 8,
            Type::IpAddr => 16,
            Type::MacAddr => 6,
            Type::String | Type::Bytes | Type::Array(_) => return None,
        })
    }

    /// The size UniRec sorts by (§5 step 1): the static size, or minus the element size of a
    /// dynamic type (`string`/`bytes` count as 1-byte elements).
    pub fn sort_size(self) -> i32 {
        match self {
            Type::String | Type::Bytes => -1,
            Type::Array(e) => -(e.size() as i32),
            t => t.static_size().unwrap_or(0) as i32,
        }
    }

    /// The type as written in the specifier (`ipaddr`, `uint16*`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Char => "char",
            Type::U8 => "uint8",
            Type::I8 => "int8",
            Type::U16 => "uint16",
            Type::I16 => "int16",
            Type::U32 => "uint32",
            Type::I32 => "int32",
            Type::U64 => "uint64",
            Type::I64 => "int64",
            Type::Float => "float",
            Type::Double => "double",
            Type::IpAddr => "ipaddr",
            Type::MacAddr => "macaddr",
            Type::Time => "time",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array(e) => e.name(),
        }
    }
}

/// One field of a template: its type and its NEMEA name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Type.
    pub ty: Type,
    /// Name, `[A-Za-z][A-Za-z0-9_]*`.
    pub name: &'static str,
}

/// A field at its place in the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The field.
    pub field: Field,
    /// Offset in the static part: of the value, or of the `u16 offset ‖ u16 length` pair of a
    /// dynamic field.
    pub offset: usize,
}

/// Fields in UniRec order with their offsets, and the specifier text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    slots: Vec<Slot>,
    /// Index of the first dynamic field (= number of static fields).
    first_dynamic: usize,
    static_size: usize,
    spec: String,
}

/// Why a record could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// The record's length; a UniRec record is at most 65 535 bytes.
    pub len: usize,
}

/// Largest UniRec record (its length travels as a u16).
pub const MAX_RECORD: usize = u16::MAX as usize;

impl Template {
    /// Sorts `fields` into UniRec order (size descending, then name byte-wise ascending; a
    /// repeated name keeps its first definition) and lays them out.
    pub fn new(fields: &[Field]) -> Template {
        let mut unique: Vec<Field> = Vec::with_capacity(fields.len());
        for f in fields {
            if !unique.iter().any(|u| u.name == f.name) {
                unique.push(*f);
            }
        }
        unique.sort_by(|a, b| match b.ty.sort_size().cmp(&a.ty.sort_size()) {
            Ordering::Equal => a.name.as_bytes().cmp(b.name.as_bytes()),
            o => o,
        });
        let mut offset = 0;
        let mut slots = Vec::with_capacity(unique.len());
        for field in unique {
            slots.push(Slot { field, offset });
            offset += field.ty.static_size().unwrap_or(4);
        }
        let first_dynamic = slots
            .iter()
            .position(|s| s.field.ty.static_size().is_none())
            .unwrap_or(slots.len());
        let spec = slots
            .iter()
            .map(|s| format!("{} {}", s.field.ty.name(), s.field.name))
            .collect::<Vec<_>>()
            .join(",");
        Template {
            slots,
            first_dynamic,
            static_size: offset,
            spec,
        }
    }

    /// The fields in record order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Static part size: static values plus 4 bytes per dynamic field.
    pub fn static_size(&self) -> usize {
        self.static_size
    }

    /// The specifier sent in the hello: `type NAME` items in record order, joined by `,`.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Appends one record to `out`. `put(i, out)` appends the value of field `i` (index into
    /// [`Template::slots`]): exactly its size for a static field, any length for a dynamic one.
    /// Static fields are asked for first, then dynamic ones, each in record order, so the
    /// dynamic values end up contiguous as §5 step 3 describes.
    ///
    /// # Errors
    ///
    /// The record would exceed 65 535 bytes; `out` is left as it was.
    ///
    /// # Panics
    ///
    /// In debug builds, if `put` writes a static value of the wrong size.
    #[inline]
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        mut put: impl FnMut(usize, &mut Vec<u8>),
    ) -> Result<usize, TooLong> {
        let start = out.len();
        for i in 0..self.first_dynamic {
            let before = out.len();
            put(i, out);
            debug_assert_eq!(
                out.len() - before,
                self.slots[i].field.ty.static_size().unwrap_or(0),
                "{}",
                self.slots[i].field.name
            );
        }
        let var_base = start + self.static_size;
        out.resize(var_base, 0);
        for i in self.first_dynamic..self.slots.len() {
            let at = out.len();
            put(i, out);
            let (offset, len) = (at - var_base, out.len() - at);
            if out.len() - start > MAX_RECORD {
                let len = out.len() - start;
                out.truncate(start);
                return Err(TooLong { len });
            }
            let slot = start + self.slots[i].offset;
            // Both fit in u16: the whole record is at most 65 535 bytes (checked above).
            out[slot..slot + 2].copy_from_slice(&(offset as u16).to_le_bytes());
            out[slot + 2..slot + 4].copy_from_slice(&(len as u16).to_le_bytes());
        }
        Ok(out.len() - start)
    }
}

/// Appends an `ipaddr`: IPv6 as is; IPv4 (`version == 4`, address in the first 4 bytes of
/// `addr`) as 8 zero bytes, the 4 address bytes, `ff ff ff ff` — UniRec's own IPv4 layout,
/// not `::ffff:a.b.c.d`.
#[inline]
pub fn put_ip(out: &mut Vec<u8>, version: u8, addr: &[u8; 16]) {
    if version == 4 {
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&addr[..4]);
        out.extend_from_slice(&[0xff; 4]);
    } else {
        out.extend_from_slice(addr);
    }
}

/// UniRec `time` from seconds and nanoseconds: seconds in the high 32 bits, the fraction of a
/// second in units of 2⁻³² in the low ones (`ur_time.h`: `frac = nsec × 0x44B82FA0A >> 32`,
/// which ur_time decodes to the same nanoseconds or 1 ns more).
#[inline]
pub fn time(sec: u64, nsec: u32) -> u64 {
    let frac = (u64::from(nsec.min(999_999_999)) * 0x4_4B82_FA0A) >> 32;
    (sec << 32) | frac
}

/// UniRec `time` from milliseconds since the epoch.
#[inline]
pub fn time_ms(ms: u64) -> u64 {
    time(ms / 1000, (ms % 1000) as u32 * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ty: Type, name: &'static str) -> Field {
        Field { ty, name }
    }

    #[test]
    fn sorts_by_size_then_name_and_drops_duplicates() {
        let t = Template::new(&[
            f(Type::String, "Z"),
            f(Type::Array(Elem::IpAddr), "IPS"),
            f(Type::U8, "B"),
            f(Type::U8, "A"),
            f(Type::Array(Elem::U16), "LENS"),
            f(Type::IpAddr, "SRC_IP"),
            f(Type::Bytes, "RAW"),
            f(Type::MacAddr, "MAC"),
            f(Type::U64, "A"),
            f(Type::Time, "T"),
            f(Type::U32, "N"),
        ]);
        assert_eq!(
            t.spec(),
            "ipaddr SRC_IP,time T,macaddr MAC,uint32 N,uint8 A,uint8 B,\
             bytes RAW,string Z,uint16* LENS,ipaddr* IPS"
        );
        let offsets: Vec<usize> = t.slots().iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [0, 16, 24, 30, 34, 35, 36, 40, 44, 48]);
        assert_eq!(t.static_size(), 52);
    }

    #[test]
    fn time_follows_ur_time() {
        // Spec §6: 1700000000.5 → sec 0x6553f100, frac 0x80000000.
        assert_eq!(time(1_700_000_000, 500_000_000), 0x6553_f100_8000_0000);
        assert_eq!(time_ms(1_700_000_000_500), 0x6553_f100_8000_0000);
        // ur_time's decoder gives back the nanoseconds or 1 ns more (152 ms → 152000001 ns),
        // so every millisecond survives the round trip.
        let decode = |t: u64| ((t & 0xffff_ffff) * 1_000_000_000 + 0xffff_ffff) >> 32;
        for ms in 0..1000u64 {
            let d = decode(time_ms(ms)) - ms * 1_000_000;
            assert!(d <= 1, "{ms} ms: +{d} ns");
        }
        for nsec in [0u32, 1, 999, 123_456_789, 999_999_999] {
            let d = decode(time(0, nsec)) - u64::from(nsec);
            assert!(d <= 1, "{nsec} ns: +{d} ns");
        }
    }

    #[test]
    fn ipv4_is_not_v4_mapped() {
        let mut out = Vec::new();
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 0, 2, 1]);
        put_ip(&mut out, 4, &a);
        assert_eq!(
            out,
            [
                0, 0, 0, 0, 0, 0, 0, 0, // 8 zero bytes
                192, 0, 2, 1, // the address
                0xff, 0xff, 0xff, 0xff, // IPv4 marker
            ]
        );
        out.clear();
        let v6: [u8; 16] = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        put_ip(&mut out, 6, &v6);
        assert_eq!(out, v6);
    }

    #[test]
    fn a_record_over_65535_bytes_is_refused_and_leaves_the_buffer() {
        let t = Template::new(&[f(Type::U8, "A"), f(Type::Bytes, "B")]);
        let mut out = vec![7u8];
        let r = t.encode(&mut out, |i, o| match i {
            0 => o.push(1),
            _ => o.resize(o.len() + MAX_RECORD, 0),
        });
        assert_eq!(
            r,
            Err(TooLong {
                len: 5 + MAX_RECORD
            })
        );
        assert_eq!(out, [7]);
        let r = t.encode(&mut out, |i, o| match i {
            0 => o.push(1),
            _ => o.resize(o.len() + MAX_RECORD - 5, 0),
        });
        assert_eq!(r, Ok(MAX_RECORD));
    }
}
