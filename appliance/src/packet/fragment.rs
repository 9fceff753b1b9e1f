//! The IP fragment table: remembers, for each fragmented datagram whose first fragment was
//! seen, the tuple that first fragment decoded to, so that later fragments (which carry no
//! transport header) join the same flow.
//!
//! Owns the table and its eviction policy. It does *not* reassemble (no payload is kept) and
//! knows nothing of flows.
//!
//! # Design
//!
//! A set-associative table, allocated once at [`FragmentTable::new`]: `capacity` rounded up to
//! a multiple of [`WAYS`] slots, grouped in sets of [`WAYS`]. A key (version, source,
//! destination, identification, protocol, as RFC 791 and RFC 8200 §4.5 define a datagram) is
//! hashed with a per-table random seed (so that an attacker cannot aim every fragment at one
//! set) to one set; lookup and insert scan that set only. So every operation is O(1), nothing
//! is allocated per packet, and there are no tombstones.
//!
//! - Entries expire [`TIMEOUT_NS`] (30 s, the Linux `ipfrag_time` default) of *packet* time
//!   after their first fragment; an expired entry is a miss and its slot is free.
//! - Inserting into a set whose slots are all live replaces the oldest of the set. The table
//!   therefore never refuses a first fragment; [`FragmentTable::evictions`] counts the live
//!   entries lost this way (a sign the table is too small), and a later fragment of an
//!   evicted datagram is a miss.
//! - Entries are not removed on the last fragment: fragments may arrive out of order or
//!   twice, and the entry costs nothing once its set needs the slot.
//! - A later fragment that arrives *before* its first fragment is a miss (no buffering).

use super::Tuple;

/// Slots per set.
pub const WAYS: usize = 4;

/// Lifetime of an entry, in nanoseconds of packet time.
pub const TIMEOUT_NS: u64 = 30_000_000_000;

/// What identifies a fragmented datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// Source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the first 4 bytes).
    pub dst: [u8; 16],
    /// Identification: 16 bits for IPv4, 32 for IPv6.
    pub ident: u32,
    /// IPv4 protocol, or the fragment header's next header in IPv6.
    pub protocol: u8,
    /// 4 or 6.
    pub version: u8,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: FragmentKey,
    tuple: Tuple,
    first_seen_ns: u64,
    live: bool,
}

impl Slot {
    #[inline]
    fn is_live(&self, now_ns: u64) -> bool {
        self.live && now_ns.saturating_sub(self.first_seen_ns) < TIMEOUT_NS
    }
}

/// The bounded table of first fragments (see the module docs for the policy).
pub struct FragmentTable {
    /// Scratch for the decoder: first fragments met in the frame being decoded (one per IP
    /// layer at most), stored once the frame's tuple is known.
    pub(super) pending: [FragmentKey; super::decode::MAX_IP_LAYERS],
    slots: Vec<Slot>,
    sets: usize,
    hasher: ahash::RandomState,
    evictions: u64,
}

impl core::fmt::Debug for FragmentTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FragmentTable")
            .field("capacity", &self.slots.len())
            .field("evictions", &self.evictions)
            .finish_non_exhaustive()
    }
}

impl FragmentTable {
    /// A table for at least `capacity` datagrams (rounded up to a multiple of [`WAYS`]); 0
    /// disables it (every later fragment is then a miss).
    pub fn new(capacity: usize) -> Self {
        let sets = capacity.div_ceil(WAYS);
        FragmentTable {
            pending: [FragmentKey::default(); super::decode::MAX_IP_LAYERS],
            slots: vec![Slot::default(); sets * WAYS],
            sets,
            hasher: ahash::RandomState::new(),
            evictions: 0,
        }
    }

    /// Number of slots.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Live entries replaced before they expired, since the table was made.
    #[inline]
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Entries not yet expired at `now_ns` (scans the table).
    #[cfg(test)]
    pub fn len(&self, now_ns: u64) -> usize {
        self.slots.iter().filter(|s| s.is_live(now_ns)).count()
    }

    /// True when no entry is live at `now_ns`.
    #[cfg(test)]
    pub fn is_empty(&self, now_ns: u64) -> bool {
        self.len(now_ns) == 0
    }

    #[inline]
    fn set_of(&self, key: &FragmentKey) -> core::ops::Range<usize> {
        let h = self.hasher.hash_one(key);
        // Lemire's multiply-shift maps the hash onto 0..sets without a division.
        let set = ((u128::from(h) * self.sets as u128) >> 64) as usize;
        set * WAYS..set * WAYS + WAYS
    }

    /// Remembers that datagram `key` decoded to `tuple`, first seen at `now_ns`. Replaces an
    /// entry for the same key; otherwise takes a free or expired slot of the key's set, or else
    /// the set's oldest entry (counted in [`FragmentTable::evictions`]).
    pub fn insert(&mut self, key: FragmentKey, tuple: Tuple, now_ns: u64) {
        if self.sets == 0 {
            return;
        }
        let range = self.set_of(&key);
        let set = &mut self.slots[range];
        let mut pick = None;
        let mut oldest = 0;
        for (i, s) in set.iter().enumerate() {
            if s.live && s.key == key {
                pick = Some(i);
                break;
            }
            if pick.is_none() && !s.is_live(now_ns) {
                pick = Some(i);
            }
            if s.first_seen_ns < set[oldest].first_seen_ns {
                oldest = i;
            }
        }
        let i = match pick {
            Some(i) => i,
            None => {
                self.evictions += 1;
                oldest
            }
        };
        set[i] = Slot {
            key,
            tuple,
            first_seen_ns: now_ns,
            live: true,
        };
    }

    /// The tuple remembered for datagram `key`, if its first fragment was seen less than
    /// [`TIMEOUT_NS`] before `now_ns` and has not been evicted.
    pub fn lookup(&mut self, key: &FragmentKey, now_ns: u64) -> Option<Tuple> {
        if self.sets == 0 {
            return None;
        }
        let range = self.set_of(key);
        for s in &mut self.slots[range] {
            if s.live && s.key == *key {
                if s.is_live(now_ns) {
                    return Some(s.tuple);
                }
                s.live = false;
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ident: u32) -> FragmentKey {
        FragmentKey {
            src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ident,
            protocol: 17,
            version: 4,
        }
    }

    fn tuple(port: u16) -> Tuple {
        Tuple {
            src_port: port,
            dst_port: 53,
            protocol: 17,
            ip_version: 4,
            ..Tuple::default()
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn insert_then_lookup() {
        let mut t = FragmentTable::new(16);
        assert_eq!(t.capacity(), 16);
        t.insert(key(1), tuple(1000), 5 * S);
        assert_eq!(t.lookup(&key(1), 6 * S), Some(tuple(1000)));
        assert_eq!(t.lookup(&key(2), 6 * S), None);
        let mut other = key(1);
        other.protocol = 6;
        assert_eq!(t.lookup(&other, 6 * S), None);
        other = key(1);
        other.version = 6;
        assert_eq!(t.lookup(&other, 6 * S), None);
        assert_eq!(t.len(6 * S), 1);
    }

    #[test]
    fn same_key_is_replaced_not_duplicated() {
        let mut t = FragmentTable::new(4);
        t.insert(key(1), tuple(1000), S);
        t.insert(key(1), tuple(2000), 2 * S);
        assert_eq!(t.lookup(&key(1), 2 * S), Some(tuple(2000)));
        assert_eq!(t.len(2 * S), 1);
        assert_eq!(t.evictions(), 0);
    }

    #[test]
    fn entries_expire_after_30s_of_packet_time() {
        let mut t = FragmentTable::new(4);
        t.insert(key(1), tuple(1000), 10 * S);
        assert_eq!(t.lookup(&key(1), 39 * S), Some(tuple(1000)));
        assert_eq!(t.lookup(&key(1), 40 * S), None);
        // Expired for good, even if time goes backwards afterwards.
        assert_eq!(t.lookup(&key(1), 39 * S), None);
        assert!(t.is_empty(39 * S));
    }

    #[test]
    fn time_going_backwards_does_not_expire() {
        let mut t = FragmentTable::new(4);
        t.insert(key(1), tuple(1000), 10 * S);
        assert_eq!(t.lookup(&key(1), 3 * S), Some(tuple(1000)));
    }

    #[test]
    fn full_set_replaces_oldest_and_counts() {
        // Capacity 4 is a single set: every key lands in it.
        let mut t = FragmentTable::new(4);
        for i in 0..4 {
            t.insert(key(i), tuple(i as u16), (10 + u64::from(i)) * S);
        }
        assert_eq!(t.evictions(), 0);
        t.insert(key(9), tuple(9), 20 * S);
        assert_eq!(t.evictions(), 1);
        assert_eq!(t.lookup(&key(0), 20 * S), None, "oldest replaced");
        for i in 1..4 {
            assert_eq!(t.lookup(&key(i), 20 * S), Some(tuple(i as u16)));
        }
        assert_eq!(t.lookup(&key(9), 20 * S), Some(tuple(9)));
    }

    #[test]
    fn expired_slot_is_reused_without_eviction() {
        let mut t = FragmentTable::new(4);
        for i in 0..4 {
            t.insert(key(i), tuple(i as u16), S);
        }
        t.insert(key(9), tuple(9), 40 * S);
        assert_eq!(t.evictions(), 0);
        assert_eq!(t.lookup(&key(9), 40 * S), Some(tuple(9)));
    }

    #[test]
    fn capacity_rounds_up_and_zero_disables() {
        assert_eq!(FragmentTable::new(5).capacity(), 8);
        let mut t = FragmentTable::new(0);
        assert_eq!(t.capacity(), 0);
        t.insert(key(1), tuple(1), S);
        assert_eq!(t.lookup(&key(1), S), None);
    }

    #[test]
    fn many_keys_spread_over_sets() {
        let mut t = FragmentTable::new(4096);
        for i in 0..1024 {
            t.insert(key(i), tuple(i as u16), S);
        }
        let found = (0..1024)
            .filter(|&i| t.lookup(&key(i), S).is_some())
            .count();
        // A quarter full: a few sets may overflow, most keys must survive.
        assert!(found > 1000, "{found}");
        assert_eq!(found as u64 + t.evictions(), 1024);
    }
}
