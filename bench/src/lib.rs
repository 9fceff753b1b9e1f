//! Benchmarks live in `src/bin/`; see `bench/README.md`. This file holds what several of them
//! share: medians, rate formatting and the synthetic flow records of the sink benchmarks.

use appliance::flow::{DirCounters, EndReason, FlowRecord};

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A rate per second as `1.23 M` or `456.7 k`.
pub fn fmt_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else {
        format!("{:.1} k", per_s / 1e3)
    }
}

/// The xorshift64 sequence the record generators draw from (fixed seed: every run writes the
/// same records).
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl Default for XorShift {
    fn default() -> Self {
        XorShift(0x9e37_79b9_7f4a_7c15)
    }
}

impl XorShift {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Ended flow `id`, its fields drawn from `r`: 1 in 8 IPv6 (`v6`), addresses in 198.18.0.0/15
/// or 2001:db8::/32, varied ports and counters, no `--stats`/`--splt`.
pub fn synthetic_record(id: u64, r: u64, v6: bool) -> FlowRecord {
    let (mut src_ip, mut dst_ip) = ([0u8; 16], [0u8; 16]);
    if v6 {
        src_ip[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        src_ip[8..].copy_from_slice(&r.to_be_bytes());
        dst_ip[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        dst_ip[15] = 1;
    } else {
        src_ip[..4].copy_from_slice(&[198, 18, (r >> 8) as u8, r as u8]);
        dst_ip[..4].copy_from_slice(&[198, 19, (r >> 16) as u8, (r >> 24) as u8]);
    }
    let t = 1_767_225_600_000 + (r >> 40);
    let dir = |p: u64, b: u64| DirCounters {
        first_seen_ms: t,
        last_seen_ms: t + (r & 0xffff),
        packets: p,
        bytes: b,
    };
    FlowRecord {
        id,
        end_reason: EndReason::Idle,
        src_ip,
        dst_ip,
        src_mac: [2, 0, 0, 0, (r >> 32) as u8, (r >> 40) as u8],
        dst_mac: [2, 0, 0, 0, 0, 1],
        src_port: (r >> 16) as u16 | 1024,
        dst_port: [53, 443, 80, 123][(r % 4) as usize],
        protocol: if r.is_multiple_of(3) { 17 } else { 6 },
        ip_version: if v6 { 6 } else { 4 },
        src2dst: dir(1 + (r & 0x3f), 60 + (r & 0xffff)),
        dst2src: dir(1 + ((r >> 6) & 0x3f), 60 + ((r >> 20) & 0xfffff)),
        ..FlowRecord::default()
    }
}
