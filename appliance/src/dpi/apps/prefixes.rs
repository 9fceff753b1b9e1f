//! Address prefixes of applications, looked up longest prefix first: one hash map per prefix
//! length present, probed from the longest length down. A handful of lengths are in use, so a
//! lookup is a few hash probes and allocates nothing.
//!
//! Addresses are `u128` for both families; an IPv4 table is built with width 32. This module
//! does not parse prefixes (the loader does) nor know what the values mean.

use std::collections::{BTreeMap, HashMap};

/// Longest-prefix-match table of one address family.
#[derive(Clone, Debug, Default)]
pub(super) struct PrefixTable {
    /// Address width in bits: 32 or 128.
    width: u8,
    /// (prefix length, network → value), longest length first.
    by_len: Vec<(u8, HashMap<u128, u16, ahash::RandomState>)>,
}

/// `addr` with only its first `len` bits of `width` kept.
pub(super) fn network(addr: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let shift = u32::from(width - len);
        (addr >> shift) << shift
    }
}

impl PrefixTable {
    /// A table of `width`-bit addresses from (network, length) → value; networks are already
    /// masked to their length.
    pub(super) fn build(width: u8, prefixes: &BTreeMap<(u128, u8), u16>) -> Self {
        let mut by_len: Vec<(u8, HashMap<u128, u16, ahash::RandomState>)> = Vec::new();
        for (&(net, len), &value) in prefixes {
            let slot = match by_len.iter().position(|(l, _)| *l == len) {
                Some(i) => i,
                None => {
                    by_len.push((len, HashMap::default()));
                    by_len.len() - 1
                }
            };
            by_len[slot].1.insert(net, value);
        }
        by_len.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        PrefixTable { width, by_len }
    }

    /// The value of the longest prefix holding `addr`.
    pub(super) fn lookup(&self, addr: u128) -> Option<u16> {
        self.by_len
            .iter()
            .find_map(|(len, map)| map.get(&network(addr, *len, self.width)).copied())
    }
}
