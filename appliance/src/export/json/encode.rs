//! The NDJSON encoding: one JSON object per flow and line, with nfstream's field names. Other
//! sinks reuse [`encode`]; this file knows nothing about where the bytes go.
//!
//! Field order: `id, expiration_id, end_reason, src_ip, src_mac, src_port, dst_ip, dst_mac,
//! dst_port, protocol, ip_version, vlan_id, tunnel_id`, then for `bidirectional`, `src2dst` and
//! `dst2src`: `_first_seen_ms, _last_seen_ms, _duration_ms, _packets, _bytes`; then the `--stats`
//! set (`{dir}_{min,mean,stddev,max}_ps`, `{dir}_{min,mean,stddev,max}_piat_ms`,
//! `{dir}_{syn,cwr,ece,urg,ack,psh,rst,fin}_packets`) and `splt_direction`, `splt_ps`,
//! `splt_piat_ms` when present. The encoder writes into a reused buffer with `itoa`/`ryu`: no
//! allocation per record once the buffer has grown.

use std::io::Write;

use crate::flow::FlowRecord;
use crate::flow::stats::Running;

/// Appends `r` as one JSON line (with the trailing `\n`) to `buf`.
///
/// Every key is a literal that carries its separators (`,"src_port":`), so a field costs one
/// copy for the key and one for the value. Assembling keys from parts (prefix, `_`, name,
/// quotes) took about as long as everything else together: a handful of tiny copies per key.
pub fn encode(r: &FlowRecord, buf: &mut Vec<u8>) {
    put(buf, b"{\"id\":");
    put_u64(buf, r.id);
    put(buf, b",\"expiration_id\":");
    put_i64(buf, i64::from(r.end_reason.expiration_id()));
    put(buf, b",\"end_reason\":\"");
    put(buf, r.end_reason.as_label().as_bytes());
    put(buf, b"\",\"src_ip\":\"");
    put_ip(buf, r.ip_version, &r.src_ip);
    put(buf, b"\",\"src_mac\":\"");
    put_mac(buf, &r.src_mac);
    put(buf, b"\",\"src_port\":");
    put_u64(buf, u64::from(r.src_port));
    put(buf, b",\"dst_ip\":\"");
    put_ip(buf, r.ip_version, &r.dst_ip);
    put(buf, b"\",\"dst_mac\":\"");
    put_mac(buf, &r.dst_mac);
    put(buf, b"\",\"dst_port\":");
    put_u64(buf, u64::from(r.dst_port));
    put(buf, b",\"protocol\":");
    put_u64(buf, u64::from(r.protocol));
    put(buf, b",\"ip_version\":");
    put_u64(buf, u64::from(r.ip_version));
    put(buf, b",\"vlan_id\":");
    put_u64(buf, u64::from(r.vlan_id));
    put(buf, b",\"tunnel_id\":");
    put_u64(buf, u64::from(r.tunnel_id));
    for (keys, d) in DIR_KEYS
        .iter()
        .zip([r.bidirectional(), r.src2dst, r.dst2src])
    {
        let values = [
            d.first_seen_ms,
            d.last_seen_ms,
            d.duration_ms(),
            d.packets,
            d.bytes,
        ];
        for (key, v) in keys.iter().zip(values) {
            put(buf, key.as_bytes());
            put_u64(buf, v);
        }
    }
    if let Some(st) = &r.stats {
        for (keys, run) in PS_KEYS.iter().zip(&st.ps) {
            put_running(buf, keys, run);
        }
        for (keys, run) in PIAT_KEYS.iter().zip(&st.piat_ms) {
            put_running(buf, keys, run);
        }
        for (keys, flags) in FLAG_KEYS.iter().zip(&st.flags) {
            for (key, (_, n)) in keys.iter().zip(flags.fields()) {
                put(buf, key.as_bytes());
                put_u64(buf, u64::from(n));
            }
        }
    }
    if let Some(s) = &r.splt {
        put(buf, b",\"splt_direction\":");
        put_array(buf, s.direction.iter().map(|&v| i64::from(v)));
        put(buf, b",\"splt_ps\":");
        put_array(buf, s.ps.iter().map(|&v| i64::from(v)));
        put(buf, b",\"splt_piat_ms\":");
        put_array(buf, s.piat_ms.iter().copied());
    }
    if let Some(d) = &r.dpi {
        put(buf, b",\"application_name\":");
        put_str(buf, &d.application_name);
        put(buf, b",\"application_category_name\":");
        put_str(buf, &d.application_category_name);
        put(buf, b",\"application_is_guessed\":");
        put_u64(buf, u64::from(d.application_is_guessed));
        put(buf, b",\"application_confidence\":");
        put_u64(buf, d.application_confidence as u64);
        put(buf, b",\"requested_server_name\":");
        put_str(buf, &d.requested_server_name);
        put(buf, b",\"client_fingerprint\":");
        put_str(buf, &d.client_fingerprint);
        put(buf, b",\"server_fingerprint\":");
        put_str(buf, &d.server_fingerprint);
        put(buf, b",\"user_agent\":");
        put_str(buf, &d.user_agent);
        put(buf, b",\"content_type\":");
        put_str(buf, &d.content_type);
        for (name, value) in &d.meta {
            put(buf, b",");
            put_str(buf, name);
            put(buf, b":");
            put_value(buf, value);
        }
    }
    if let Some(u) = &r.udps {
        put(buf, b",\"udps\":{");
        for (i, (name, value)) in u.iter().enumerate() {
            if i > 0 {
                put(buf, b",");
            }
            put_str(buf, name);
            put(buf, b":");
            put_value(buf, value);
        }
        put(buf, b"}");
    }
    put(buf, b"}\n");
}

/// A JSON string: quotes, backslashes and control characters escaped.
fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            let _ = write!(buf, "\\u{b:04x}");
        } else {
            buf.extend_from_slice(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

fn put_value(buf: &mut Vec<u8>, v: &crate::dpi::Value) {
    match v {
        crate::dpi::Value::Str(s) => put_str(buf, s),
        crate::dpi::Value::Int(i) => put_i64(buf, *i),
    }
}

/// Per direction, in [`crate::flow::stats::PREFIXES`] order: `{dir}_{first_seen_ms, ...}`.
const DIR_KEYS: [[&str; 5]; 3] = per_dir!(dir_keys);
/// `{dir}_{min,mean,stddev,max}_ps`.
const PS_KEYS: [[&str; 4]; 3] = per_dir!(ps_keys);
/// `{dir}_{min,mean,stddev,max}_piat_ms`.
const PIAT_KEYS: [[&str; 4]; 3] = per_dir!(piat_keys);
/// `{dir}_{flag}_packets`, flags in `FlagCounts::fields` order.
const FLAG_KEYS: [[&str; 8]; 3] = per_dir!(flag_keys);

/// One table row per direction prefix, in `PREFIXES` order (checked by a test).
macro_rules! per_dir {
    ($row:ident) => {
        [$row!("bidirectional"), $row!("src2dst"), $row!("dst2src")]
    };
}
use per_dir;

/// `,"{dir}{suffix}":` for each suffix.
macro_rules! keys {
    ($dir:literal, $($suffix:literal),+) => {
        [$(concat!(",\"", $dir, $suffix, "\":")),+]
    };
}
use keys;

macro_rules! dir_keys {
    ($dir:literal) => {
        keys!(
            $dir,
            "_first_seen_ms",
            "_last_seen_ms",
            "_duration_ms",
            "_packets",
            "_bytes"
        )
    };
}
use dir_keys;

macro_rules! ps_keys {
    ($dir:literal) => {
        keys!($dir, "_min_ps", "_mean_ps", "_stddev_ps", "_max_ps")
    };
}
use ps_keys;

macro_rules! piat_keys {
    ($dir:literal) => {
        keys!(
            $dir,
            "_min_piat_ms",
            "_mean_piat_ms",
            "_stddev_piat_ms",
            "_max_piat_ms"
        )
    };
}
use piat_keys;

macro_rules! flag_keys {
    ($dir:literal) => {
        keys!(
            $dir,
            "_syn_packets",
            "_cwr_packets",
            "_ece_packets",
            "_urg_packets",
            "_ack_packets",
            "_psh_packets",
            "_rst_packets",
            "_fin_packets"
        )
    };
}
use flag_keys;

#[inline]
fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(bytes);
}

#[inline]
fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A finite float in ryu's shortest form; `null` otherwise (JSON has no NaN).
fn put_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// Dotted quad for version 4, RFC 5952 shortest form otherwise (as `Ipv6Addr`'s `Display`).
fn put_ip(buf: &mut Vec<u8>, version: u8, b: &[u8; 16]) {
    if version == 4 {
        // Up to 15 bytes on the stack, then one copy.
        let mut s = [0u8; 15];
        let mut n = 0;
        for (i, &octet) in b[..4].iter().enumerate() {
            if i > 0 {
                s[n] = b'.';
                n += 1;
            }
            if octet >= 100 {
                s[n] = b'0' + octet / 100;
                n += 1;
            }
            if octet >= 10 {
                s[n] = b'0' + octet / 10 % 10;
                n += 1;
            }
            s[n] = b'0' + octet % 10;
            n += 1;
        }
        buf.extend_from_slice(&s[..n]);
    } else {
        // Writing to a Vec cannot fail.
        let _ = write!(buf, "{}", std::net::Ipv6Addr::from(*b));
    }
}

fn put_mac(buf: &mut Vec<u8>, m: &[u8; 6]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = [b':'; 17];
    for (i, byte) in m.iter().enumerate() {
        s[3 * i] = HEX[usize::from(byte >> 4)];
        s[3 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    buf.extend_from_slice(&s);
}

/// `min, mean, stddev, max` of one direction under `keys`.
fn put_running(buf: &mut Vec<u8>, keys: &[&str; 4], r: &Running) {
    put(buf, keys[0].as_bytes());
    put_u64(buf, r.min());
    put(buf, keys[1].as_bytes());
    put_f64(buf, r.mean());
    put(buf, keys[2].as_bytes());
    put_f64(buf, r.stddev());
    put(buf, keys[3].as_bytes());
    put_u64(buf, r.max());
}

fn put_array(buf: &mut Vec<u8>, values: impl Iterator<Item = i64>) {
    buf.push(b'[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        put_i64(buf, v);
    }
    buf.push(b']');
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::flow::stats::{FlagCounts, PREFIXES};
    use crate::flow::{DirCounters, EndReason, FlowStats, Splt};

    /// A small UDP flow without `--stats`/SPLT (the fixture of every json test).
    pub(in crate::export::json) fn record() -> FlowRecord {
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
            tcp_flags: [0, 0],
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
            dpi: None,
            udps: None,
            kind: crate::flow::RecordKind::End,
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
    fn encodes_dpi_fields_and_udps_escaped() {
        let mut r = record();
        r.dpi = Some(Box::new(crate::dpi::DpiFields {
            application_name: "TLS.YouTube".into(),
            application_category_name: "Media".into(),
            application_is_guessed: false,
            application_confidence: crate::dpi::Confidence::Dpi,
            requested_server_name: "a\"b\\c\n\u{1}.example".into(),
            user_agent: "curl/8".into(),
            meta: vec![("tls_ja3", "abc".into()), ("dns_answers", 3i64.into())],
            ..Default::default()
        }));
        let mut u = crate::flow::Udps::default();
        u.set("big_packets", 2i64);
        u.set("label", "small");
        r.udps = Some(Box::new(u));
        let v = parse(&r);
        assert_eq!(v["application_name"], "TLS.YouTube");
        assert_eq!(v["application_confidence"], 6);
        assert_eq!(v["application_is_guessed"], 0);
        assert_eq!(v["requested_server_name"], "a\"b\\c\n\u{1}.example");
        assert_eq!(v["user_agent"], "curl/8");
        assert_eq!(v["content_type"], "");
        assert_eq!(v["tls_ja3"], "abc");
        assert_eq!(v["dns_answers"], 3);
        assert_eq!(v["udps"]["big_packets"], 2);
        assert_eq!(v["udps"]["label"], "small");
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

    #[test]
    fn key_tables_follow_prefixes_and_flag_order() {
        for (i, dir) in PREFIXES.iter().enumerate() {
            let keys = |suffixes: &[&str]| -> Vec<String> {
                suffixes.iter().map(|s| format!(",\"{dir}{s}\":")).collect()
            };
            let dir_suffixes = [
                "_first_seen_ms",
                "_last_seen_ms",
                "_duration_ms",
                "_packets",
            ];
            assert_eq!(DIR_KEYS[i][..4], keys(&dir_suffixes));
            assert_eq!(DIR_KEYS[i][4], format!(",\"{dir}_bytes\":"));
            assert_eq!(
                PS_KEYS[i],
                *keys(&["_min_ps", "_mean_ps", "_stddev_ps", "_max_ps"])
            );
            let piat = [
                "_min_piat_ms",
                "_mean_piat_ms",
                "_stddev_piat_ms",
                "_max_piat_ms",
            ];
            assert_eq!(PIAT_KEYS[i], *keys(&piat));
            let flags: Vec<String> = FlagCounts::default()
                .fields()
                .iter()
                .map(|(flag, _)| format!(",\"{dir}_{flag}_packets\":"))
                .collect();
            assert_eq!(FLAG_KEYS[i], *flags);
        }
    }

    #[test]
    fn encodes_a_whole_line_byte_for_byte() {
        let mut r = record();
        let mut st = FlowStats::default();
        st.push(1, 100, None, None, 0x02); // SYN
        st.push(2, 60, Some(3), None, 0x12); // SYN+ACK
        st.push(1, 1400, Some(7), Some(10), 0x10); // ACK
        r.stats = Some(Box::new(st));
        r.splt = Some(Box::new(Splt {
            direction: vec![0, 1, 0, -1],
            ps: vec![100, 60, 1400, -1],
            piat_ms: vec![0, 3, 7, -1],
        }));
        let mut buf = Vec::new();
        encode(&r, &mut buf);
        let want = concat!(
            r#"{"id":7,"expiration_id":0,"end_reason":"idle","src_ip":"198.18.0.1","#,
            r#""src_mac":"02:00:00:00:ab:01","src_port":40000,"dst_ip":"198.19.255.254","#,
            r#""dst_mac":"02:00:00:00:00:02","dst_port":53,"protocol":17,"ip_version":4,"#,
            r#""vlan_id":100,"tunnel_id":0,"bidirectional_first_seen_ms":1000,"#,
            r#""bidirectional_last_seen_ms":1500,"bidirectional_duration_ms":500,"#,
            r#""bidirectional_packets":3,"bidirectional_bytes":240,"#,
            r#""src2dst_first_seen_ms":1000,"src2dst_last_seen_ms":1500,"#,
            r#""src2dst_duration_ms":500,"src2dst_packets":2,"src2dst_bytes":150,"#,
            r#""dst2src_first_seen_ms":1200,"dst2src_last_seen_ms":1200,"#,
            r#""dst2src_duration_ms":0,"dst2src_packets":1,"dst2src_bytes":90,"#,
            r#""bidirectional_min_ps":60,"bidirectional_mean_ps":520.0,"#,
            r#""bidirectional_stddev_ps":762.3647421018367,"bidirectional_max_ps":1400,"#,
            r#""src2dst_min_ps":100,"src2dst_mean_ps":750.0,"#,
            r#""src2dst_stddev_ps":919.2388155425118,"src2dst_max_ps":1400,"#,
            r#""dst2src_min_ps":60,"dst2src_mean_ps":60.0,"dst2src_stddev_ps":0.0,"#,
            r#""dst2src_max_ps":60,"bidirectional_min_piat_ms":3,"#,
            r#""bidirectional_mean_piat_ms":5.0,"#,
            r#""bidirectional_stddev_piat_ms":2.8284271247461903,"#,
            r#""bidirectional_max_piat_ms":7,"src2dst_min_piat_ms":10,"#,
            r#""src2dst_mean_piat_ms":10.0,"src2dst_stddev_piat_ms":0.0,"#,
            r#""src2dst_max_piat_ms":10,"dst2src_min_piat_ms":0,"dst2src_mean_piat_ms":0.0,"#,
            r#""dst2src_stddev_piat_ms":0.0,"dst2src_max_piat_ms":0,"#,
            r#""bidirectional_syn_packets":2,"bidirectional_cwr_packets":0,"#,
            r#""bidirectional_ece_packets":0,"bidirectional_urg_packets":0,"#,
            r#""bidirectional_ack_packets":2,"bidirectional_psh_packets":0,"#,
            r#""bidirectional_rst_packets":0,"bidirectional_fin_packets":0,"#,
            r#""src2dst_syn_packets":1,"src2dst_cwr_packets":0,"src2dst_ece_packets":0,"#,
            r#""src2dst_urg_packets":0,"src2dst_ack_packets":1,"src2dst_psh_packets":0,"#,
            r#""src2dst_rst_packets":0,"src2dst_fin_packets":0,"dst2src_syn_packets":1,"#,
            r#""dst2src_cwr_packets":0,"dst2src_ece_packets":0,"dst2src_urg_packets":0,"#,
            r#""dst2src_ack_packets":1,"dst2src_psh_packets":0,"dst2src_rst_packets":0,"#,
            r#""dst2src_fin_packets":0,"splt_direction":[0,1,0,-1],"splt_ps":[100,60,1400,"#,
            r#"-1],"splt_piat_ms":[0,3,7,-1]}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(buf).unwrap(), want);
    }
}
