//! The MessagePack form of a [`FlowRecord`] for `base/encode` payloads (`EncodeType::MSGPACK`):
//! one map with exactly the keys, order and values of the NDJSON encoder (`export::json`), so a
//! consumer sees the same document either way. Strings stay strings (addresses and MACs in their
//! text form), integers use the smallest MessagePack integer, non-finite floats become `nil`
//! (JSON writes `null`).
//!
//! Written with `rmp`'s low-level encoders into a reused buffer: no allocation per record once
//! the buffers have grown. This file does not frame anything (that is `mod.rs`).

use std::io::Write as _;

use crate::flow::stats::{PREFIXES, Running};
use crate::flow::{DirCounters, FlowRecord};

/// Keys always present: 13 identity fields, then 5 per direction.
const BASE_KEYS: u32 = 13 + 3 * 5;
/// Keys added by `--stats`: 4 `ps`, 4 `piat_ms` and 8 flag counters per direction.
const STATS_KEYS: u32 = 3 * (4 + 4 + 8);
/// Keys added by `--splt`.
const SPLT_KEYS: u32 = 3;
/// Keys added by DPI, besides its protocol-specific ones.
const DPI_KEYS: u32 = 9;

/// Appends `r` as one MessagePack map to `buf`. `scratch` is a reused buffer for text forms.
pub fn encode(r: &FlowRecord, buf: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    let mut n = BASE_KEYS;
    if r.stats.is_some() {
        n += STATS_KEYS;
    }
    if r.splt.is_some() {
        n += SPLT_KEYS;
    }
    if let Some(d) = &r.dpi {
        n += DPI_KEYS + len32(d.meta.len());
    }
    if r.udps.is_some() {
        n += 1;
    }
    let mut w = Map { buf, scratch };
    w.len(n);
    w.key(&["id"]);
    w.uint(r.id);
    w.key(&["expiration_id"]);
    w.int(i64::from(r.end_reason.expiration_id()));
    w.key(&["end_reason"]);
    w.str(r.end_reason.as_label());
    w.key(&["src_ip"]);
    w.ip(r.ip_version, &r.src_ip);
    w.key(&["src_mac"]);
    w.mac(&r.src_mac);
    w.key(&["src_port"]);
    w.uint(u64::from(r.src_port));
    w.key(&["dst_ip"]);
    w.ip(r.ip_version, &r.dst_ip);
    w.key(&["dst_mac"]);
    w.mac(&r.dst_mac);
    w.key(&["dst_port"]);
    w.uint(u64::from(r.dst_port));
    w.key(&["protocol"]);
    w.uint(u64::from(r.protocol));
    w.key(&["ip_version"]);
    w.uint(u64::from(r.ip_version));
    w.key(&["vlan_id"]);
    w.uint(u64::from(r.vlan_id));
    w.key(&["tunnel_id"]);
    w.uint(u64::from(r.tunnel_id));
    let dirs: [DirCounters; 3] = [r.bidirectional(), r.src2dst, r.dst2src];
    for (prefix, d) in PREFIXES.iter().zip(&dirs) {
        w.key(&[prefix, "_first_seen_ms"]);
        w.uint(d.first_seen_ms);
        w.key(&[prefix, "_last_seen_ms"]);
        w.uint(d.last_seen_ms);
        w.key(&[prefix, "_duration_ms"]);
        w.uint(d.duration_ms());
        w.key(&[prefix, "_packets"]);
        w.uint(d.packets);
        w.key(&[prefix, "_bytes"]);
        w.uint(d.bytes);
    }
    if let Some(st) = &r.stats {
        for (i, prefix) in PREFIXES.iter().enumerate() {
            w.running(prefix, "ps", &st.ps[i]);
        }
        for (i, prefix) in PREFIXES.iter().enumerate() {
            w.running(prefix, "piat_ms", &st.piat_ms[i]);
        }
        for (i, prefix) in PREFIXES.iter().enumerate() {
            for (flag, v) in st.flags[i].fields() {
                w.key(&[prefix, "_", flag, "_packets"]);
                w.uint(u64::from(v));
            }
        }
    }
    if let Some(s) = &r.splt {
        w.key(&["splt_direction"]);
        w.array(s.direction.iter().map(|&v| i64::from(v)), s.direction.len());
        w.key(&["splt_ps"]);
        w.array(s.ps.iter().map(|&v| i64::from(v)), s.ps.len());
        w.key(&["splt_piat_ms"]);
        w.array(s.piat_ms.iter().copied(), s.piat_ms.len());
    }
    if let Some(d) = &r.dpi {
        for (k, v) in [
            ("application_name", &d.application_name),
            ("application_category_name", &d.application_category_name),
        ] {
            w.key(&[k]);
            w.str(v);
        }
        w.key(&["application_is_guessed"]);
        w.uint(u64::from(d.application_is_guessed));
        w.key(&["application_confidence"]);
        w.uint(d.application_confidence as u64);
        for (k, v) in [
            ("requested_server_name", &d.requested_server_name),
            ("client_fingerprint", &d.client_fingerprint),
            ("server_fingerprint", &d.server_fingerprint),
            ("user_agent", &d.user_agent),
            ("content_type", &d.content_type),
        ] {
            w.key(&[k]);
            w.str(v);
        }
        for (k, v) in &d.meta {
            w.key(&[k]);
            w.value(v);
        }
    }
    if let Some(u) = &r.udps {
        w.key(&["udps"]);
        w.len(len32(u.iter().count()));
        for (k, v) in u.iter() {
            w.key(&[k]);
            w.value(v);
        }
    }
}

/// A map being written. Every `rmp` write below goes to a `Vec`, which cannot fail, so their
/// `Result`s are dropped.
struct Map<'a> {
    buf: &'a mut Vec<u8>,
    scratch: &'a mut Vec<u8>,
}

/// Lengths in a record (keys, text, arrays) are far below `u32::MAX`; saturate rather than
/// cast so a broken invariant gives a bad document, not a panic.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Map<'_> {
    fn len(&mut self, n: u32) {
        let _ = rmp::encode::write_map_len(self.buf, n);
    }

    /// A key given in parts (`bidirectional` + `_packets`), written without joining them.
    fn key(&mut self, parts: &[&str]) {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        let _ = rmp::encode::write_str_len(self.buf, len32(n));
        for p in parts {
            self.buf.extend_from_slice(p.as_bytes());
        }
    }

    fn uint(&mut self, v: u64) {
        let _ = rmp::encode::write_uint(self.buf, v);
    }

    fn int(&mut self, v: i64) {
        let _ = rmp::encode::write_sint(self.buf, v);
    }

    fn float(&mut self, v: f64) {
        if v.is_finite() {
            let _ = rmp::encode::write_f64(self.buf, v);
        } else {
            let _ = rmp::encode::write_nil(self.buf);
        }
    }

    fn str(&mut self, v: &str) {
        let _ = rmp::encode::write_str(self.buf, v);
    }

    fn value(&mut self, v: &crate::dpi::Value) {
        match v {
            crate::dpi::Value::Str(s) => self.str(s),
            crate::dpi::Value::Int(i) => self.int(*i),
        }
    }

    /// The text in `scratch` as a string value.
    fn scratch_str(&mut self) {
        let _ = rmp::encode::write_str_len(self.buf, len32(self.scratch.len()));
        self.buf.extend_from_slice(self.scratch);
    }

    fn ip(&mut self, version: u8, b: &[u8; 16]) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{}", crate::flow::record::ip_addr(version, b));
        self.scratch_str();
    }

    fn mac(&mut self, m: &[u8; 6]) {
        self.scratch.clear();
        let _ = write!(
            self.scratch,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
        self.scratch_str();
    }

    fn running(&mut self, prefix: &str, what: &str, r: &Running) {
        self.key(&[prefix, "_min_", what]);
        self.uint(r.min());
        self.key(&[prefix, "_mean_", what]);
        self.float(r.mean());
        self.key(&[prefix, "_stddev_", what]);
        self.float(r.stddev());
        self.key(&[prefix, "_max_", what]);
        self.uint(r.max());
    }

    fn array(&mut self, values: impl Iterator<Item = i64>, n: usize) {
        let _ = rmp::encode::write_array_len(self.buf, len32(n));
        for v in values {
            self.int(v);
        }
    }
}
