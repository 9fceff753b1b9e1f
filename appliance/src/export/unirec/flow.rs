//! The flow template: which UniRec fields a [`FlowRecord`] becomes and how each value is
//! computed. The field list and its meaning are documented in the parent module; this file is
//! the single place that maps record fields to UniRec values.

use super::template::{Elem, Field, Template, TooLong, Type, put_ip, time_ms};
use crate::flow::FlowRecord;

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    PacketsRev,
    BytesRev,
    TimeFirst,
    TimeLast,
    TcpFlags,
    TcpFlagsRev,
    DirBitField,
    SrcMac,
    DstMac,
    LinkBitField,
    PpiPktDirections,
    PpiPktLengths,
    PpiPktTimes,
}

const fn field(ty: Type, name: &'static str, source: Source) -> (Field, Source) {
    (Field { ty, name }, source)
}

/// ipfixprobe's `basic` group with `LINK_BIT_FIELD`, in ipfixprobe's order (the wire order is
/// UniRec's, see [`Template::new`]).
const BASIC: [(Field, Source); 17] = [
    field(Type::IpAddr, "SRC_IP", Source::SrcIp),
    field(Type::IpAddr, "DST_IP", Source::DstIp),
    field(Type::U16, "SRC_PORT", Source::SrcPort),
    field(Type::U16, "DST_PORT", Source::DstPort),
    field(Type::U8, "PROTOCOL", Source::Protocol),
    field(Type::U32, "PACKETS", Source::Packets),
    field(Type::U64, "BYTES", Source::Bytes),
    field(Type::U32, "PACKETS_REV", Source::PacketsRev),
    field(Type::U64, "BYTES_REV", Source::BytesRev),
    field(Type::Time, "TIME_FIRST", Source::TimeFirst),
    field(Type::Time, "TIME_LAST", Source::TimeLast),
    field(Type::U8, "TCP_FLAGS", Source::TcpFlags),
    field(Type::U8, "TCP_FLAGS_REV", Source::TcpFlagsRev),
    field(Type::U8, "DIR_BIT_FIELD", Source::DirBitField),
    field(Type::MacAddr, "SRC_MAC", Source::SrcMac),
    field(Type::MacAddr, "DST_MAC", Source::DstMac),
    field(Type::U64, "LINK_BIT_FIELD", Source::LinkBitField),
];

/// Dynamic fields: ipfixprobe's `pstats` arrays we can fill from `--splt`. DPI fields join this
/// list when `dpi/` lands (see the parent module).
const DYNAMIC: [(Field, Source); 3] = [
    field(
        Type::Array(Elem::U16),
        "PPI_PKT_LENGTHS",
        Source::PpiPktLengths,
    ),
    field(
        Type::Array(Elem::Time),
        "PPI_PKT_TIMES",
        Source::PpiPktTimes,
    ),
    field(
        Type::Array(Elem::I8),
        "PPI_PKT_DIRECTIONS",
        Source::PpiPktDirections,
    ),
];

/// Bytes the PPI arrays take per packet: int8 + uint16 + time.
const PPI_BYTES_PER_PACKET: usize = 1 + 2 + 8;

/// Turns flow records into UniRec records of the flow template.
#[derive(Clone, Debug)]
pub struct FlowEncoder {
    template: Template,
    /// `sources[i]` fills `template.slots()[i]`.
    sources: Vec<Source>,
    link_bit_field: u64,
    dir_bit_field: u8,
    /// PPI arrays are cut to this many packets so a record always fits a container.
    max_ppi: usize,
}

impl FlowEncoder {
    /// The flow template; arrays are cut so a record fits in `max_record` bytes.
    pub fn new(link_bit_field: u64, dir_bit_field: u8, max_record: usize) -> Self {
        let all: Vec<(Field, Source)> = BASIC.iter().chain(DYNAMIC.iter()).copied().collect();
        let fields: Vec<Field> = all.iter().map(|(f, _)| *f).collect();
        let template = Template::new(&fields);
        let sources = template
            .slots()
            .iter()
            .map(|s| {
                all.iter()
                    .find(|(f, _)| f.name == s.field.name)
                    .map(|(_, src)| *src)
                    .expect("every slot comes from the list")
            })
            .collect();
        let max_ppi = max_record.saturating_sub(template.static_size()) / PPI_BYTES_PER_PACKET;
        FlowEncoder {
            template,
            sources,
            link_bit_field,
            dir_bit_field,
            max_ppi,
        }
    }

    /// The template (for the hello).
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Appends `r` as one UniRec record to `out`; returns its length.
    ///
    /// # Errors
    ///
    /// Never with the flow template (arrays are cut to fit); kept for the generic encoder.
    #[inline]
    pub fn encode(&self, r: &FlowRecord, out: &mut Vec<u8>) -> Result<usize, TooLong> {
        let bi = r.bidirectional();
        let [flags, flags_rev] = r.tcp_flags;
        let ppi = match &r.splt {
            Some(s) => s
                .direction
                .iter()
                .take(self.max_ppi)
                .take_while(|&&d| d >= 0)
                .count(),
            None => 0,
        };
        self.template.encode(out, |i, out| match self.sources[i] {
            Source::SrcIp => put_ip(out, r.ip_version, &r.src_ip),
            Source::DstIp => put_ip(out, r.ip_version, &r.dst_ip),
            Source::SrcPort => out.extend_from_slice(&r.src_port.to_le_bytes()),
            Source::DstPort => out.extend_from_slice(&r.dst_port.to_le_bytes()),
            Source::Protocol => out.push(r.protocol),
            Source::Packets => out.extend_from_slice(&sat32(r.src2dst.packets).to_le_bytes()),
            Source::Bytes => out.extend_from_slice(&r.src2dst.bytes.to_le_bytes()),
            Source::PacketsRev => {
                out.extend_from_slice(&sat32(r.dst2src.packets).to_le_bytes());
            }
            Source::BytesRev => out.extend_from_slice(&r.dst2src.bytes.to_le_bytes()),
            Source::TimeFirst => out.extend_from_slice(&time_ms(bi.first_seen_ms).to_le_bytes()),
            Source::TimeLast => out.extend_from_slice(&time_ms(bi.last_seen_ms).to_le_bytes()),
            Source::TcpFlags => out.push(flags),
            Source::TcpFlagsRev => out.push(flags_rev),
            Source::DirBitField => out.push(self.dir_bit_field),
            Source::SrcMac => out.extend_from_slice(&r.src_mac),
            Source::DstMac => out.extend_from_slice(&r.dst_mac),
            Source::LinkBitField => out.extend_from_slice(&self.link_bit_field.to_le_bytes()),
            Source::PpiPktDirections => {
                if let Some(s) = &r.splt {
                    // ipfixprobe pstats: 1 = src→dst, −1 = dst→src.
                    let dst = grow(out, ppi);
                    for (b, &d) in dst.iter_mut().zip(&s.direction[..ppi]) {
                        *b = if d == 0 { 1 } else { 0xff };
                    }
                }
            }
            Source::PpiPktLengths => {
                if let Some(s) = &r.splt {
                    let dst = grow(out, ppi * 2);
                    for (b, &ps) in dst.chunks_exact_mut(2).zip(&s.ps[..ppi]) {
                        let v = u16::try_from(ps.max(0)).unwrap_or(u16::MAX);
                        b.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            Source::PpiPktTimes => {
                if let Some(s) = &r.splt {
                    // The first packet is the flow's first; each later one is `piat_ms`
                    // after the previous one.
                    let mut t = bi.first_seen_ms;
                    let dst = grow(out, ppi * 8);
                    for (b, &piat) in dst.chunks_exact_mut(8).zip(&s.piat_ms[..ppi]) {
                        t = t.saturating_add(piat.max(0) as u64);
                        b.copy_from_slice(&time_ms(t).to_le_bytes());
                    }
                }
            }
        })
    }
}

/// Appends `n` zero bytes to `out` and returns them, to be filled in place.
#[inline]
fn grow(out: &mut Vec<u8>, n: usize) -> &mut [u8] {
    let at = out.len();
    out.resize(at + n, 0);
    &mut out[at..]
}

fn sat32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::flow::stats::{DST2SRC, FlowStats, SRC2DST};
    use crate::flow::{DirCounters, EndReason, Splt};

    /// A TCP flow 192.0.2.1:51000 → 198.51.100.7:443 with `--stats` and `--splt 4`.
    pub(in super::super) fn sample_record() -> FlowRecord {
        let mut src_ip = [0u8; 16];
        src_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
        let mut dst_ip = [0u8; 16];
        dst_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
        let mut stats = FlowStats::default();
        stats.flags[SRC2DST].push(0x02); // SYN
        stats.flags[SRC2DST].push(0x10); // ACK
        stats.flags[DST2SRC].push(0x12); // SYN+ACK
        FlowRecord {
            id: 1,
            end_reason: EndReason::Idle,
            src_ip,
            dst_ip,
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            src_port: 51000,
            dst_port: 443,
            protocol: 6,
            ip_version: 4,
            vlan_id: 0,
            tunnel_id: 0,
            tcp_flags: [0x12, 0x12], // SYN|ACK each way, as the stats below say
            src2dst: DirCounters {
                first_seen_ms: 1_700_000_000_500,
                last_seen_ms: 1_700_000_000_520,
                packets: 2,
                bytes: 120,
            },
            dst2src: DirCounters {
                first_seen_ms: 1_700_000_000_510,
                last_seen_ms: 1_700_000_000_510,
                packets: 1,
                bytes: 60,
            },
            stats: Some(Box::new(stats)),
            splt: Some(Box::new(Splt {
                direction: vec![0, 1, 0, -1],
                ps: vec![60, 60, 60, -1],
                piat_ms: vec![0, 10, 10, -1],
            })),
            kind: crate::flow::RecordKind::End,
            dpi: None,
            udps: None,
        }
    }

    #[test]
    fn basic_part_is_ipfixprobes_template() {
        // Spec §5.1: the basic group + LINK_BIT_FIELD as a C module sends it, and its offsets.
        let fields: Vec<Field> = BASIC.iter().map(|(f, _)| *f).collect();
        let t = Template::new(&fields);
        assert_eq!(
            t.spec(),
            "ipaddr DST_IP,ipaddr SRC_IP,uint64 BYTES,uint64 BYTES_REV,uint64 LINK_BIT_FIELD,\
             time TIME_FIRST,time TIME_LAST,macaddr DST_MAC,macaddr SRC_MAC,uint32 PACKETS,\
             uint32 PACKETS_REV,uint16 DST_PORT,uint16 SRC_PORT,uint8 DIR_BIT_FIELD,\
             uint8 PROTOCOL,uint8 TCP_FLAGS,uint8 TCP_FLAGS_REV"
        );
        let offsets: Vec<(usize, &str)> =
            t.slots().iter().map(|s| (s.offset, s.field.name)).collect();
        assert_eq!(
            offsets,
            [
                (0, "DST_IP"),
                (16, "SRC_IP"),
                (32, "BYTES"),
                (40, "BYTES_REV"),
                (48, "LINK_BIT_FIELD"),
                (56, "TIME_FIRST"),
                (64, "TIME_LAST"),
                (72, "DST_MAC"),
                (78, "SRC_MAC"),
                (84, "PACKETS"),
                (88, "PACKETS_REV"),
                (92, "DST_PORT"),
                (94, "SRC_PORT"),
                (96, "DIR_BIT_FIELD"),
                (97, "PROTOCOL"),
                (98, "TCP_FLAGS"),
                (99, "TCP_FLAGS_REV"),
            ]
        );
        assert_eq!(t.static_size(), 100);
    }

    #[test]
    fn flow_template_adds_the_ppi_arrays_after_the_static_part() {
        let e = FlowEncoder::new(1, 0, 65_535);
        let t = e.template();
        assert!(t.spec().ends_with(
            "uint8 TCP_FLAGS_REV,int8* PPI_PKT_DIRECTIONS,uint16* PPI_PKT_LENGTHS,\
             time* PPI_PKT_TIMES"
        ));
        let dynamic: Vec<(usize, &str)> = t.slots()[17..]
            .iter()
            .map(|s| (s.offset, s.field.name))
            .collect();
        assert_eq!(
            dynamic,
            [
                (100, "PPI_PKT_DIRECTIONS"),
                (104, "PPI_PKT_LENGTHS"),
                (108, "PPI_PKT_TIMES")
            ]
        );
        assert_eq!(t.static_size(), 112);
    }

    #[test]
    fn a_flow_record_byte_for_byte() {
        let e = FlowEncoder::new(4, 1, 65_535);
        let mut out = Vec::new();
        let len = e.encode(&sample_record(), &mut out).unwrap();
        let t500 = [0x00, 0x00, 0x00, 0x80, 0x00, 0xf1, 0x53, 0x65]; // 1700000000.500
        let t510 = [0x28, 0x5c, 0x8f, 0x82, 0x00, 0xf1, 0x53, 0x65]; // .510
        let t520 = [0x51, 0xb8, 0x1e, 0x85, 0x00, 0xf1, 0x53, 0x65]; // .520
        let mut want: Vec<u8> = Vec::new();
        want.extend([
            0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 7, 0xff, 0xff, 0xff, 0xff,
        ]); // DST_IP
        want.extend([0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1, 0xff, 0xff, 0xff, 0xff]); // SRC_IP
        want.extend([120, 0, 0, 0, 0, 0, 0, 0]); // BYTES
        want.extend([60, 0, 0, 0, 0, 0, 0, 0]); // BYTES_REV
        want.extend([4, 0, 0, 0, 0, 0, 0, 0]); // LINK_BIT_FIELD
        want.extend(t500); // TIME_FIRST
        want.extend(t520); // TIME_LAST
        want.extend([0x02, 0, 0, 0, 0, 0x02]); // DST_MAC
        want.extend([0x02, 0, 0, 0, 0, 0x01]); // SRC_MAC
        want.extend([2, 0, 0, 0]); // PACKETS
        want.extend([1, 0, 0, 0]); // PACKETS_REV
        want.extend([0xbb, 0x01]); // DST_PORT 443
        want.extend([0x38, 0xc7]); // SRC_PORT 51000
        want.push(1); // DIR_BIT_FIELD
        want.push(6); // PROTOCOL
        want.push(0x12); // TCP_FLAGS: SYN | ACK
        want.push(0x12); // TCP_FLAGS_REV: SYN | ACK
        want.extend([0, 0, 3, 0]); // PPI_PKT_DIRECTIONS: offset 0, 3 bytes
        want.extend([3, 0, 6, 0]); // PPI_PKT_LENGTHS: offset 3, 6 bytes
        want.extend([9, 0, 24, 0]); // PPI_PKT_TIMES: offset 9, 24 bytes
        want.extend([1, 0xff, 1]); // directions: src→dst, dst→src, src→dst
        want.extend([60, 0, 60, 0, 60, 0]); // lengths
        want.extend(t500); // times: first packet,
        want.extend(t510); // +10 ms,
        want.extend(t520); // +10 ms
        assert_eq!(out, want);
        assert_eq!(len, 112 + 33);
    }

    #[test]
    fn without_stats_and_splt_flags_come_from_the_record_and_arrays_are_empty() {
        let mut r = sample_record();
        r.stats = None;
        r.splt = None;
        r.tcp_flags = [0x1b, 0x04]; // FIN|SYN|PSH|ACK, RST
        let e = FlowEncoder::new(1, 0, 65_535);
        let mut out = Vec::new();
        assert_eq!(e.encode(&r, &mut out), Ok(112));
        assert_eq!(&out[98..100], [0x1b, 0x04]); // TCP_FLAGS, TCP_FLAGS_REV
        assert_eq!(&out[100..112], [0; 12]); // three empty dynamic fields
    }

    #[test]
    fn arrays_are_cut_to_fit_the_record_limit() {
        let mut r = sample_record();
        let n = 10_000;
        r.splt = Some(Box::new(Splt {
            direction: vec![1; n],
            ps: vec![1500; n],
            piat_ms: vec![1; n],
        }));
        let e = FlowEncoder::new(1, 0, 1000);
        let mut out = Vec::new();
        let len = e.encode(&r, &mut out).unwrap();
        assert!(len <= 1000, "{len}");
        assert_eq!(len, 112 + (1000 - 112) / 11 * 11);
        let e = FlowEncoder::new(1, 0, 65_535);
        out.clear();
        assert!(e.encode(&r, &mut out).unwrap() <= 65_535);
    }

    #[test]
    fn counters_saturate_at_u32() {
        let mut r = sample_record();
        r.src2dst.packets = u64::from(u32::MAX) + 5;
        let e = FlowEncoder::new(1, 0, 65_535);
        let mut out = Vec::new();
        e.encode(&r, &mut out).unwrap();
        assert_eq!(&out[84..88], [0xff; 4]);
    }
}
