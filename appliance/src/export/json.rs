//! NDJSON: one JSON object per flow and line, with nfstream's field names.
//!
//! Field order: `id, expiration_id, end_reason, src_ip, src_mac, src_port, dst_ip, dst_mac,
//! dst_port, protocol, ip_version, vlan_id, tunnel_id`, then for `bidirectional`, `src2dst` and
//! `dst2src`: `_first_seen_ms, _last_seen_ms, _duration_ms, _packets, _bytes`; then the `--stats`
//! set (`{dir}_{min,mean,stddev,max}_ps`, `{dir}_{min,mean,stddev,max}_piat_ms`,
//! `{dir}_{syn,cwr,ece,urg,ack,psh,rst,fin}_packets`) and `splt_direction`, `splt_ps`,
//! `splt_piat_ms` when present. The encoder writes into a reused buffer with `itoa`/`ryu`: no
//! allocation per record once the buffer has grown.

use std::io::Write;
use std::path::PathBuf;

use super::ExportSink;
use crate::error::Error;
use crate::flow::stats::{PREFIXES, Running};
use crate::flow::{DirCounters, FlowRecord};

/// Appends `r` as one JSON line (with the trailing `\n`) to `buf`.
pub fn encode(r: &FlowRecord, buf: &mut Vec<u8>) {
    let mut w = Obj::new(buf);
    w.uint("id", r.id);
    w.int("expiration_id", i64::from(r.end_reason.expiration_id()));
    w.str("end_reason", r.end_reason.as_label());
    w.ip("src_ip", r.ip_version, &r.src_ip);
    w.mac("src_mac", &r.src_mac);
    w.uint("src_port", u64::from(r.src_port));
    w.ip("dst_ip", r.ip_version, &r.dst_ip);
    w.mac("dst_mac", &r.dst_mac);
    w.uint("dst_port", u64::from(r.dst_port));
    w.uint("protocol", u64::from(r.protocol));
    w.uint("ip_version", u64::from(r.ip_version));
    w.uint("vlan_id", u64::from(r.vlan_id));
    w.uint("tunnel_id", u64::from(r.tunnel_id));
    let dirs: [DirCounters; 3] = [r.bidirectional(), r.src2dst, r.dst2src];
    for (prefix, d) in PREFIXES.iter().zip(&dirs) {
        w.prefixed_uint(prefix, "_first_seen_ms", d.first_seen_ms);
        w.prefixed_uint(prefix, "_last_seen_ms", d.last_seen_ms);
        w.prefixed_uint(prefix, "_duration_ms", d.duration_ms());
        w.prefixed_uint(prefix, "_packets", d.packets);
        w.prefixed_uint(prefix, "_bytes", d.bytes);
    }
    if let Some(st) = &r.stats {
        for (i, prefix) in PREFIXES.iter().enumerate() {
            w.running(prefix, "ps", &st.ps[i]);
        }
        for (i, prefix) in PREFIXES.iter().enumerate() {
            w.running(prefix, "piat_ms", &st.piat_ms[i]);
        }
        for (i, prefix) in PREFIXES.iter().enumerate() {
            for (flag, n) in st.flags[i].fields() {
                w.key_parts(&[prefix, "_", flag, "_packets"]);
                w.raw_uint(u64::from(n));
            }
        }
    }
    if let Some(s) = &r.splt {
        w.array("splt_direction", s.direction.iter().map(|&v| i64::from(v)));
        w.array("splt_ps", s.ps.iter().map(|&v| i64::from(v)));
        w.array("splt_piat_ms", s.piat_ms.iter().copied());
    }
    w.close();
}

/// Writes records as NDJSON to a file or stdout, through a buffer flushed per batch.
pub struct JsonSink {
    path: PathBuf,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for JsonSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl JsonSink {
    /// Creates (truncates) `path`, or writes to stdout when it is `-`.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub fn create(path: PathBuf) -> Result<Self, Error> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            let f = std::fs::File::create(&path).map_err(|source| Error::OutputIo {
                path: path.clone(),
                source,
            })?;
            Box::new(f)
        };
        Ok(JsonSink {
            path,
            out,
            buf: Vec::with_capacity(1 << 20),
        })
    }

    /// Writes to any writer (tests, benchmarks), named `name` in errors.
    pub fn to_writer(name: &str, out: Box<dyn Write + Send>) -> Self {
        JsonSink {
            path: PathBuf::from(name),
            out,
            buf: Vec::with_capacity(1 << 20),
        }
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::OutputIo {
            path: self.path.clone(),
            source,
        }
    }
}

impl ExportSink for JsonSink {
    fn name(&self) -> &'static str {
        "json"
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
        for r in records {
            encode(r, &mut self.buf);
        }
        if self.buf.len() >= 1 << 19 {
            self.out.write_all(&self.buf).map_err(|e| self.io(e))?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out.write_all(&self.buf).map_err(|e| self.io(e))?;
        self.buf.clear();
        self.out.flush().map_err(|e| self.io(e))
    }
}

/// A JSON object being written; keys are trusted ASCII, values escaped where they are strings.
struct Obj<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    fn key_parts(&mut self, parts: &[&str]) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        for p in parts {
            self.buf.extend_from_slice(p.as_bytes());
        }
        self.buf.extend_from_slice(b"\":");
    }

    fn raw_uint(&mut self, v: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn uint(&mut self, k: &str, v: u64) {
        self.key_parts(&[k]);
        self.raw_uint(v);
    }

    fn prefixed_uint(&mut self, prefix: &str, k: &str, v: u64) {
        self.key_parts(&[prefix, k]);
        self.raw_uint(v);
    }

    fn int(&mut self, k: &str, v: i64) {
        self.key_parts(&[k]);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn float(&mut self, v: f64) {
        if v.is_finite() {
            self.buf
                .extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
    }

    /// A string value with no characters that need escaping (labels we own).
    fn str(&mut self, k: &str, v: &str) {
        self.key_parts(&[k]);
        self.buf.push(b'"');
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.push(b'"');
    }

    fn ip(&mut self, k: &str, version: u8, b: &[u8; 16]) {
        self.key_parts(&[k]);
        self.buf.push(b'"');
        if version == 4 {
            for (i, octet) in b[..4].iter().enumerate() {
                if i > 0 {
                    self.buf.push(b'.');
                }
                self.buf
                    .extend_from_slice(itoa::Buffer::new().format(*octet).as_bytes());
            }
        } else {
            // Writing to a Vec cannot fail.
            let _ = write!(self.buf, "{}", std::net::Ipv6Addr::from(*b));
        }
        self.buf.push(b'"');
    }

    fn mac(&mut self, k: &str, m: &[u8; 6]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key_parts(&[k]);
        self.buf.push(b'"');
        for (i, byte) in m.iter().enumerate() {
            if i > 0 {
                self.buf.push(b':');
            }
            self.buf.push(HEX[usize::from(byte >> 4)]);
            self.buf.push(HEX[usize::from(byte & 0xf)]);
        }
        self.buf.push(b'"');
    }

    fn running(&mut self, prefix: &str, what: &str, r: &Running) {
        self.key_parts(&[prefix, "_min_", what]);
        self.raw_uint(r.min());
        self.key_parts(&[prefix, "_mean_", what]);
        self.float(r.mean());
        self.key_parts(&[prefix, "_stddev_", what]);
        self.float(r.stddev());
        self.key_parts(&[prefix, "_max_", what]);
        self.raw_uint(r.max());
    }

    fn array(&mut self, k: &str, values: impl Iterator<Item = i64>) {
        self.key_parts(&[k]);
        self.buf.push(b'[');
        for (i, v) in values.enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
        self.buf.push(b']');
    }

    fn close(self) {
        self.buf.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{EndReason, FlowStats, Splt};

    fn record() -> FlowRecord {
        let mut src_ip = [0u8; 16];
        src_ip[..4].copy_from_slice(&[198, 18, 0, 1]);
        let mut dst_ip = [0u8; 16];
        dst_ip[..4].copy_from_slice(&[198, 19, 255, 254]);
        FlowRecord {
            id: 7,
            end_reason: EndReason::Idle,
            src_ip,
            dst_ip,
            src_mac: [0x02, 0, 0, 0, 0xab, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            src_port: 40000,
            dst_port: 53,
            protocol: 17,
            ip_version: 4,
            vlan_id: 100,
            tunnel_id: 0,
            src2dst: DirCounters {
                first_seen_ms: 1000,
                last_seen_ms: 1500,
                packets: 2,
                bytes: 150,
            },
            dst2src: DirCounters {
                first_seen_ms: 1200,
                last_seen_ms: 1200,
                packets: 1,
                bytes: 90,
            },
            stats: None,
            splt: None,
        }
    }

    fn parse(r: &FlowRecord) -> serde_json::Value {
        let mut buf = Vec::new();
        encode(r, &mut buf);
        assert_eq!(buf.last(), Some(&b'\n'));
        serde_json::from_slice(&buf).expect("valid JSON")
    }

    #[test]
    fn encodes_nfstream_fields() {
        let v = parse(&record());
        assert_eq!(v["id"], 7);
        assert_eq!(v["expiration_id"], 0);
        assert_eq!(v["end_reason"], "idle");
        assert_eq!(v["src_ip"], "198.18.0.1");
        assert_eq!(v["dst_ip"], "198.19.255.254");
        assert_eq!(v["src_mac"], "02:00:00:00:ab:01");
        assert_eq!(v["src_port"], 40000);
        assert_eq!(v["vlan_id"], 100);
        assert_eq!(v["bidirectional_first_seen_ms"], 1000);
        assert_eq!(v["bidirectional_last_seen_ms"], 1500);
        assert_eq!(v["bidirectional_duration_ms"], 500);
        assert_eq!(v["bidirectional_packets"], 3);
        assert_eq!(v["bidirectional_bytes"], 240);
        assert_eq!(v["dst2src_packets"], 1);
        assert!(v.get("bidirectional_mean_ps").is_none());
        assert!(v.get("splt_ps").is_none());
    }

    #[test]
    fn encodes_ipv6_shortest_form() {
        let mut r = record();
        r.ip_version = 6;
        r.src_ip = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(parse(&r)["src_ip"], "2001:db8::1");
    }

    #[test]
    fn encodes_stats_and_splt() {
        let mut r = record();
        let mut st = FlowStats::default();
        st.push(1, 100, None, None, 0x02);
        st.push(2, 60, Some(3), None, 0x12);
        r.stats = Some(Box::new(st));
        r.splt = Some(Box::new(Splt {
            direction: vec![0, 1, -1],
            ps: vec![100, 60, -1],
            piat_ms: vec![0, 3, -1],
        }));
        let v = parse(&r);
        assert_eq!(v["bidirectional_min_ps"], 60);
        assert_eq!(v["bidirectional_mean_ps"], 80.0);
        assert_eq!(v["src2dst_max_ps"], 100);
        assert_eq!(v["bidirectional_max_piat_ms"], 3);
        assert_eq!(v["bidirectional_syn_packets"], 2);
        assert_eq!(v["dst2src_ack_packets"], 1);
        assert_eq!(v["splt_direction"], serde_json::json!([0, 1, -1]));
        assert_eq!(v["splt_piat_ms"], serde_json::json!([0, 3, -1]));
    }
}
