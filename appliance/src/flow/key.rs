//! The bidirectional flow key: both directions of a conversation map to one [`FlowKey`].
//!
//! The key is canonical: the endpoint that sorts lower (address, then port) is stored first, and
//! [`FlowKey::new`] also says which way the packet went. Its hash is therefore symmetric, so the
//! reader can dispatch both directions to the same worker. Which side is the flow's `src` (the
//! sender of the first packet) is flow state, kept by [`super::Shard`], not part of the key.

use std::hash::{Hash, Hasher};

use crate::packet::Tuple;

/// Canonical 5-tuple plus context (VLAN, tunnel). 44 bytes, no padding that matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowKey {
    lo_ip: [u8; 16],
    hi_ip: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    vlan_id: u16,
    protocol: u8,
    ip_version: u8,
    tunnel_id: u32,
}

/// Four wide writes instead of eight field-by-field ones: the hash runs once per packet.
impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u128(u128::from_ne_bytes(self.lo_ip));
        h.write_u128(u128::from_ne_bytes(self.hi_ip));
        h.write_u64(
            u64::from(self.lo_port)
                | (u64::from(self.hi_port) << 16)
                | (u64::from(self.vlan_id) << 32)
                | (u64::from(self.protocol) << 48)
                | (u64::from(self.ip_version) << 56),
        );
        h.write_u32(self.tunnel_id);
    }
}

/// Which way a packet travels relative to the canonical key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// The packet's source is the key's low endpoint.
    #[default]
    FromLo,
    /// The packet's source is the key's high endpoint.
    FromHi,
}

impl FlowKey {
    /// The canonical key of `t` and the side its source is on.
    #[inline]
    pub fn new(t: &Tuple) -> (FlowKey, Side) {
        // Big-endian u128 order is the bytes' lexicographic order, in one compare.
        let (src, dst) = (u128::from_be_bytes(t.src_ip), u128::from_be_bytes(t.dst_ip));
        let from_lo = (src, t.src_port) <= (dst, t.dst_port);
        let (lo_ip, lo_port, hi_ip, hi_port, side) = if from_lo {
            (t.src_ip, t.src_port, t.dst_ip, t.dst_port, Side::FromLo)
        } else {
            (t.dst_ip, t.dst_port, t.src_ip, t.src_port, Side::FromHi)
        };
        let key = FlowKey {
            lo_ip,
            hi_ip,
            lo_port,
            hi_port,
            vlan_id: t.vlan_id,
            protocol: t.protocol,
            ip_version: t.ip_version,
            tunnel_id: t.tunnel_id,
        };
        (key, side)
    }

    /// The tuple as sent from the `side` endpoint: the inverse of [`FlowKey::new`].
    pub fn tuple_from(&self, side: Side) -> Tuple {
        let (src_ip, src_port, dst_ip, dst_port) = match side {
            Side::FromLo => (self.lo_ip, self.lo_port, self.hi_ip, self.hi_port),
            Side::FromHi => (self.hi_ip, self.hi_port, self.lo_ip, self.lo_port),
        };
        Tuple {
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            protocol: self.protocol,
            ip_version: self.ip_version,
            vlan_id: self.vlan_id,
            tunnel_id: self.tunnel_id,
        }
    }
}

/// The hasher of flow keys: ahash with fixed seeds, so dispatch (and therefore record ids) is
/// the same on every run over the same input.
#[derive(Clone, Debug)]
pub struct KeyHasher(ahash::RandomState);

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher(ahash::RandomState::with_seeds(
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
            0x082e_fa98_ec4e_6c89,
        ))
    }
}

impl KeyHasher {
    /// Hash of a canonical key; equal for both directions by construction.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.0.hash_one(key)
    }
}

/// The worker (`0..n`) that owns flows of hash `hash`. Uses bits the shard's table does not
/// lean on (hashbrown takes the low bits for the bucket and the top 7 for the tag).
#[inline]
pub fn worker_of(hash: u64, n: usize) -> usize {
    ((((hash >> 24) & 0xffff_ffff) * n as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tuple(a: [u8; 4], ap: u16, b: [u8; 4], bp: u16) -> Tuple {
        let mut t = Tuple {
            protocol: 6,
            ip_version: 4,
            ..Tuple::default()
        };
        t.src_ip[..4].copy_from_slice(&a);
        t.dst_ip[..4].copy_from_slice(&b);
        t.src_port = ap;
        t.dst_port = bp;
        t
    }

    fn reversed(t: &Tuple) -> Tuple {
        Tuple {
            src_ip: t.dst_ip,
            dst_ip: t.src_ip,
            src_port: t.dst_port,
            dst_port: t.src_port,
            ..*t
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let t = tuple([198, 18, 0, 1], 40000, [198, 18, 0, 2], 443);
        let (k1, s1) = FlowKey::new(&t);
        let (k2, s2) = FlowKey::new(&reversed(&t));
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        assert_eq!(k1.tuple_from(s1), t);
        assert_eq!(k2.tuple_from(s2), reversed(&t));
    }

    #[test]
    fn same_address_pair_orders_by_port() {
        let t = tuple([198, 18, 0, 1], 9, [198, 18, 0, 1], 7);
        let (k, side) = FlowKey::new(&t);
        assert_eq!(side, Side::FromHi);
        assert_eq!(k.tuple_from(Side::FromLo).src_port, 7);
    }

    #[test]
    fn context_separates_flows() {
        let t = tuple([198, 18, 0, 1], 1, [198, 18, 0, 2], 2);
        let vlan = Tuple { vlan_id: 100, ..t };
        let tun = Tuple { tunnel_id: 1, ..t };
        assert_ne!(FlowKey::new(&t).0, FlowKey::new(&vlan).0);
        assert_ne!(FlowKey::new(&t).0, FlowKey::new(&tun).0);
    }

    #[test]
    fn worker_of_stays_in_range() {
        for n in 1..9 {
            for h in [0, 1, u64::MAX, 0xdead_beef_cafe_f00d] {
                assert!(worker_of(h, n) < n);
            }
        }
    }

    proptest! {
        #[test]
        fn key_and_hash_are_symmetric(
            a in any::<[u8; 16]>(), b in any::<[u8; 16]>(),
            ap in any::<u16>(), bp in any::<u16>(), proto in any::<u8>(), vlan in any::<u16>()
        ) {
            let t = Tuple { src_ip: a, dst_ip: b, src_port: ap, dst_port: bp, protocol: proto,
                            ip_version: 6, vlan_id: vlan, tunnel_id: 0 };
            let (k1, _) = FlowKey::new(&t);
            let (k2, _) = FlowKey::new(&reversed(&t));
            prop_assert_eq!(k1, k2);
            let h = KeyHasher::default();
            prop_assert_eq!(h.hash(&k1), h.hash(&k2));
        }
    }
}
