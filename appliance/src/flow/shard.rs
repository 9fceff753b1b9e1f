//! [`Shard`]: one worker's flow table. Share-nothing: a shard is owned by exactly one thread and
//! touched by nothing else, so it has no locks and no atomics.
//!
//! Layout: flows live in a slab (`entries`, preallocated, slots reused through a free list); a
//! `hashbrown::HashTable<u32>` maps the precomputed key hash to a slot. Two intrusive doubly
//! linked lists thread the slots:
//!
//! - **LRU** (most recently seen at the head): idle expiry pops the tail while it is idle, and
//!   eviction (`--max-flows`) takes the tail. Packet time is (nearly) monotonic, so the tail is
//!   the flow seen longest ago.
//! - **age** (newest at the head): active expiry pops the tail while it is older than the
//!   active timeout.
//!
//! Expiry is therefore incremental: O(flows that expire), never a scan of the table. On a
//! packet, the flow's own timeouts are checked first, exactly as nfstream does
//! (`now − last_seen ≥ idle` → idle; else `now − first_seen ≥ active` → active; then the packet
//! starts a new flow). [`Shard::advance`] applies the same tests to the list tails when time
//! moves without packets for those flows. Times are compared in whole milliseconds, as nfstream.
//!
//! Expiry runs on the packet's *clock* ([`FlowPacket::clock_ns`]), not its timestamp: the clock
//! never goes backwards (offline it is the latest timestamp read so far). With time-ordered
//! input the two are equal; when input jumps back in time (several captures of different days,
//! pcapng interfaces slightly out of order) flows do not all look idle at once, and a flow
//! expired by `advance(clock)` is exactly one its next packet would have expired — so results
//! do not depend on batching or on the number of workers. Records report packet timestamps.
//!
//! Steady state allocates nothing per packet; a record is built only when a flow ends (with one
//! `Box` each for `--stats` / `--splt` when those are on).

use std::sync::Arc;

use hashbrown::HashTable;

use super::key::{FlowKey, KeyHasher, Side};
use super::plugin::{FlowPlugin, FlowView, PluginAction, PluginFactory, PluginPacket, Udps};
use super::record::{DirCounters, EndReason, FlowRecord, RecordKind, Splt};
use super::stats::FlowStats;
use crate::dpi::{Dpi, DpiConfig, FlowDpi, FlowIdentity, Packet};
use crate::packet::Decoded;

const NIL: u32 = u32::MAX;

/// What counts as a packet's size (`--accounting`), as nfstream's `accounting_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Accounting {
    /// Frame length on the wire (mode 0, the default).
    #[default]
    Link,
    /// IP packet length per its header (mode 1).
    Ip,
    /// IP length minus the IP header (mode 2).
    Transport,
    /// Transport payload (mode 3).
    Payload,
}

/// Flow table settings for one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Idle timeout, ms.
    pub idle_timeout_ms: u64,
    /// Active timeout, ms.
    pub active_timeout_ms: u64,
    /// End TCP flows on FIN both ways or RST.
    pub tcp_end: bool,
    /// Most flows this shard holds at once (≥ 1).
    pub max_flows: usize,
    /// Keep `--stats` accumulators.
    pub stats: bool,
    /// Keep the first N packets' direction / size / gap (0 = off).
    pub splt: usize,
    /// How packet sizes are counted.
    pub accounting: Accounting,
    /// Lifecycle events (insert / update records) for the sinks that ask for them; `None`
    /// (the default): only ended flows leave the table, and nothing here costs anything.
    pub events: Option<EventConfig>,
}

/// When a running flow is re-emitted as an `Update` record (see `RecordKind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventConfig {
    /// Every N packets of the flow (both directions), by transport: `[tcp, udp, other]`;
    /// 0 = never. A flow of 40 packets with N = 16 gets updates at packets 16 and 32.
    pub every_packets: [u32; 3],
    /// Also when this many ms (expiry clock) have passed since the flow's last insert/update
    /// event, checked when a packet arrives; 0 = never.
    pub every_ms: u64,
}

impl EventConfig {
    #[inline]
    fn every(&self, protocol: u8) -> u64 {
        u64::from(match protocol {
            6 => self.every_packets[0],
            17 => self.every_packets[1],
            _ => self.every_packets[2],
        })
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout_ms: 120_000,
            active_timeout_ms: 1_800_000,
            tcp_end: true,
            max_flows: 1 << 16,
            stats: false,
            splt: 0,
            accounting: Accounting::Link,
            events: None,
        }
    }
}

/// A decoded packet ready for a shard: canonical key, side and hash computed once, by whoever
/// dispatched it.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowPacket {
    /// Canonical key.
    pub key: FlowKey,
    /// Which endpoint sent it.
    pub side: Side,
    /// `KeyHasher::hash(&key)`.
    pub hash: u64,
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// The clock expiry runs on, ns: never decreasing from one packet to the next (offline:
    /// the latest timestamp read so far; live: the wall clock). [`FlowPacket::new`] sets it
    /// to `ts_ns`.
    pub clock_ns: u64,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Everything the decoder found.
    pub decoded: Decoded,
}

impl FlowPacket {
    /// Keys and hashes a decoded packet.
    #[inline]
    pub fn new(hasher: &KeyHasher, decoded: Decoded, ts_ns: u64, wire_len: u32) -> Self {
        let (key, side) = FlowKey::new(&decoded.tuple);
        FlowPacket {
            key,
            side,
            hash: hasher.hash(&key),
            ts_ns,
            clock_ns: ts_ns,
            wire_len,
            decoded,
        }
    }

    /// The same packet with expiry clock `clock_ns` (see [`FlowPacket::clock_ns`]).
    #[inline]
    pub fn with_clock(self, clock_ns: u64) -> Self {
        FlowPacket { clock_ns, ..self }
    }
}

/// What a shard runs besides the flow table: DPI on the first packets of each flow, and flow
/// plugins on every packet. The default runs neither.
#[derive(Clone, Default)]
pub struct ShardExtras {
    /// DPI settings; `None` (or `n_dissections` 0) turns DPI off.
    pub dpi: Option<DpiConfig>,
    /// One instance of each is made per shard.
    pub plugins: Vec<PluginFactory>,
}

impl std::fmt::Debug for ShardExtras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardExtras")
            .field("dpi", &self.dpi)
            .field("plugins", &self.plugins.len())
            .finish()
    }
}

impl ShardExtras {
    /// True when packets need their payload (DPI on).
    pub fn wants_payload(&self) -> bool {
        self.dpi.as_ref().is_some_and(|d| d.n_dissections > 0)
    }
}

/// The payloads of a batch of packets, for DPI and plugins: one span per packet (empty for
/// packets without payload, or when nobody needs it), each either copied into the batch's
/// arena or pointing into a read buffer the batch holds a reference to (pcap files: no copy).
/// Reused batch after batch.
#[derive(Clone, Debug, Default)]
pub struct Payloads {
    bytes: Vec<u8>,
    /// Read buffers the spans point into (consecutive packets share one).
    chunks: Vec<Arc<Vec<u8>>>,
    spans: Vec<Span>,
}

/// Where one packet's payload is: `chunk` [`ARENA`] for the arena, else an index into
/// `Payloads::chunks`.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    chunk: u32,
    start: u32,
    len: u32,
}

const ARENA: u32 = u32::MAX;

impl Payloads {
    /// Most bytes kept of one packet's payload: a jumbo or TSO segment is cut here (DPI
    /// reassembly caps are smaller anyway).
    pub const MAX_PER_PACKET: usize = 16 * 1024;

    /// Empties it, keeping the capacity; lets go of the read buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.chunks.clear();
        self.spans.clear();
    }

    /// Appends the next packet's payload, copied (cut at [`Payloads::MAX_PER_PACKET`]).
    #[inline]
    pub fn push(&mut self, data: &[u8]) {
        let data = &data[..data.len().min(Self::MAX_PER_PACKET)];
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(data);
        self.spans.push(Span {
            chunk: ARENA,
            start,
            len: data.len() as u32,
        });
    }

    /// Appends the next packet's payload `data`, which lies in the read buffer `chunk`: kept
    /// by reference, not copied (copied if it does not lie there).
    #[inline]
    pub fn push_shared(&mut self, chunk: &Arc<Vec<u8>>, data: &[u8]) {
        let base = chunk.as_ptr() as usize;
        let at = (data.as_ptr() as usize).wrapping_sub(base);
        if data.is_empty() || at.saturating_add(data.len()) > chunk.len() || at > u32::MAX as usize
        {
            self.push(data);
            return;
        }
        let idx = match self.chunks.last() {
            Some(last) if Arc::ptr_eq(last, chunk) => self.chunks.len() - 1,
            _ => {
                self.chunks.push(Arc::clone(chunk));
                self.chunks.len() - 1
            }
        };
        self.spans.push(Span {
            chunk: idx as u32,
            start: at as u32,
            len: data.len().min(Self::MAX_PER_PACKET) as u32,
        });
    }

    /// Packet `i`'s payload (empty when there is none).
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let Some(&Span { chunk, start, len }) = self.spans.get(i) else {
            return &[];
        };
        let (start, end) = (start as usize, start as usize + len as usize);
        let bytes = if chunk == ARENA {
            &self.bytes[..]
        } else {
            match self.chunks.get(chunk as usize) {
                Some(c) => &c[..],
                None => return &[],
            }
        };
        bytes.get(start..end).unwrap_or_default()
    }

    /// Spans held.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when no span is held.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Plain counters of one shard; the owner publishes them once per batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardCounters {
    /// Packets accounted to flows.
    pub packets: u64,
    /// Their wire bytes.
    pub bytes: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Flows exported, by `EndReason as usize`.
    pub flows_ended: [u64; EndReason::COUNT],
}

#[derive(Clone, Copy, Debug, Default)]
struct Links {
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Lru,
    Age,
}

/// One flow: three cache lines, ordered by use. Line 0 is all that a lookup and the idle check
/// read, and the LRU links a touch writes; line 1 the counters every packet updates and the
/// active check; line 2 what only creation and export touch. Arrays are `[src2dst, dst2src]`.
/// The key's hash is not stored: it is recomputed when the flow ends or the index grows.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Entry {
    // Line 0.
    key: FlowKey,
    /// Side of the first packet's sender.
    src_side: Side,
    /// Bit 0: FIN seen src→dst; bit 1: FIN seen dst→src.
    fins: u8,
    /// False once the flow ended (the slot is on the free list).
    live: bool,
    /// Expiry clock (ms) at the latest packet.
    last_clock_ms: u64,
    lru: Links,
    // Line 1.
    /// Expiry clock (ms) at the first packet.
    first_clock_ms: u64,
    last_seen_ms: [u64; 2],
    packets: [u64; 2],
    bytes: [u64; 2],
    /// OR of the TCP flags seen per direction.
    tcp_flags: [u8; 2],
    /// DPI is over for this flow (or off).
    dpi_done: bool,
    _line1_end: [u8; 5],
    // Line 2. The age list is touched only when a flow starts or ends.
    age: Links,
    first_seen_ms: [u64; 2],
    id: u64,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    /// Expiry clock (ms) of the flow's last insert/update event (lifecycle events only).
    last_event_ms: u64,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 192);
const _: () = assert!(std::mem::offset_of!(Entry, first_clock_ms) == 64);
const _: () = assert!(std::mem::offset_of!(Entry, age) == 128);

impl Entry {
    #[inline]
    fn last_ms(&self) -> u64 {
        self.last_seen_ms[0].max(self.last_seen_ms[1])
    }

    fn counters(&self, dir: usize) -> DirCounters {
        DirCounters {
            first_seen_ms: self.first_seen_ms[dir],
            last_seen_ms: self.last_seen_ms[dir],
            packets: self.packets[dir],
            bytes: self.bytes[dir],
        }
    }
}

/// Index capacity a shard starts with; the index grows (doubling) up to `max_flows`. Sizing it
/// for `max_flows` up front spreads a small working set over many cache lines: measured 4.5 M
/// vs 7.3 M packets/s with 10 k live flows in a table sized for 2 M.
const INITIAL_INDEX: usize = 1 << 12;

#[derive(Clone, Copy, Debug, Default)]
struct SpltCell {
    direction: i8,
    ps: i32,
    piat_ms: i64,
}

const SPLT_PAD: SpltCell = SpltCell {
    direction: -1,
    ps: -1,
    piat_ms: -1,
};

/// One worker's flow table. See the module docs.
#[derive(Debug)]
pub struct Shard {
    cfg: FlowConfig,
    hasher: KeyHasher,
    index: HashTable<u32>,
    /// Per-batch lookup results of [`Shard::process_batch`] (reused).
    hints: Vec<u32>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    stats: Vec<FlowStats>,
    splt: Vec<SpltCell>,
    lru: List,
    age: List,
    live: usize,
    next_seq: u64,
    worker: u64,
    workers: u64,
    counters: ShardCounters,
    /// The latest expiry clock seen (packets and `advance`), ms.
    clock_ms: u64,
    /// DPI engine (`ShardExtras::dpi`).
    dpi: Option<Dpi>,
    /// Per slot: the flow's DPI state, once it carried payload.
    dpi_flows: Vec<Option<Box<FlowDpi>>>,
    /// Flow plugins (`ShardExtras::plugins`).
    plugins: Plugins,
    /// Per slot: the plugins' values (only with plugins).
    udps: Vec<Udps>,
}

struct Plugins(Vec<Box<dyn FlowPlugin>>);

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} plugins", self.0.len())
    }
}

/// Most flows one [`Shard::advance`] ends.
pub const EXPIRE_BUDGET: usize = 4096;

impl Shard {
    /// An empty shard for worker `worker` of `workers`. The slab for `cfg.max_flows` flows is
    /// reserved up front (address space only: pages are touched as flows arrive); the index
    /// starts small and doubles as flows arrive.
    pub fn new(cfg: FlowConfig, worker: usize, workers: usize) -> Self {
        Self::with_extras(cfg, worker, workers, &ShardExtras::default())
    }

    /// [`Shard::new`] with DPI and plugins.
    pub fn with_extras(
        cfg: FlowConfig,
        worker: usize,
        workers: usize,
        extras: &ShardExtras,
    ) -> Self {
        let cap = cfg.max_flows.max(1);
        let dpi = extras
            .dpi
            .as_ref()
            .filter(|d| d.n_dissections > 0)
            .map(|d| Dpi::new(d.clone()));
        Shard {
            cfg: FlowConfig {
                max_flows: cap,
                ..cfg
            },
            hasher: KeyHasher::default(),
            index: HashTable::with_capacity(cap.min(INITIAL_INDEX)),
            hints: Vec::new(),
            entries: Vec::with_capacity(cap),
            free: Vec::with_capacity(cap),
            stats: Vec::with_capacity(if cfg.stats { cap } else { 0 }),
            splt: Vec::with_capacity(cap * cfg.splt),
            lru: List::EMPTY,
            age: List::EMPTY,
            live: 0,
            next_seq: 0,
            worker: worker as u64,
            workers: workers.max(1) as u64,
            counters: ShardCounters::default(),
            clock_ms: 0,
            dpi,
            dpi_flows: Vec::new(),
            plugins: Plugins(extras.plugins.iter().map(|f| f()).collect()),
            udps: Vec::new(),
        }
    }

    /// True when packets should come with their payload ([`Shard::process_batch_with`]).
    pub fn wants_payload(&self) -> bool {
        self.dpi.is_some()
    }

    /// The DPI engine's counters, when DPI is on.
    pub fn dpi_counters(&self) -> Option<crate::dpi::DpiCounters> {
        self.dpi.as_ref().map(Dpi::counters)
    }

    /// Flows in the table now.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Counters so far.
    pub fn counters(&self) -> &ShardCounters {
        &self.counters
    }

    /// Accounts one packet; records of flows that end because of it go to `out`.
    #[inline]
    pub fn process(&mut self, p: &FlowPacket, out: &mut Vec<FlowRecord>) {
        self.process_with(p, &[], out);
    }

    /// [`Shard::process`] with the packet's payload, for DPI and plugins.
    #[inline]
    pub fn process_with(&mut self, p: &FlowPacket, payload: &[u8], out: &mut Vec<FlowRecord>) {
        let found = self.lookup(p);
        self.process_found(p, found, payload, out);
    }

    /// Accounts a batch of packets, in order; same result as [`Shard::process`] on each.
    ///
    /// Looks every packet's flow up first, then accounts them: the lookups are independent, so
    /// their cache misses overlap instead of queueing one packet after the other. A looked-up
    /// slot is used only if it still holds that flow when its packet's turn comes (an earlier
    /// packet of the batch may have ended or created it).
    pub fn process_batch(&mut self, pkts: &[FlowPacket], out: &mut Vec<FlowRecord>) {
        self.process_batch_with(pkts, &Payloads::default(), out);
    }

    /// [`Shard::process_batch`] with the packets' payloads (`payloads.get(i)` is `pkts[i]`'s).
    pub fn process_batch_with(
        &mut self,
        pkts: &[FlowPacket],
        payloads: &Payloads,
        out: &mut Vec<FlowRecord>,
    ) {
        let mut hints = std::mem::take(&mut self.hints);
        hints.clear();
        hints.extend(pkts.iter().map(|p| match self.lookup(p) {
            Some(i) => {
                self.warm(i);
                i
            }
            None => NIL,
        }));
        for (i, (p, &hint)) in pkts.iter().zip(&hints).enumerate() {
            let valid = hint != NIL && {
                let e = &self.entries[hint as usize];
                e.live && e.key == p.key
            };
            let found = if valid { Some(hint) } else { self.lookup(p) };
            self.process_found(p, found, payloads.get(i), out);
        }
        self.hints = hints;
    }

    /// Loads the lines accounting will touch — the counters' line and the LRU neighbours'
    /// links — so their cache misses overlap with the other lookups of the batch. Plain reads
    /// kept alive by `black_box`: a prefetch without `unsafe`.
    #[inline]
    fn warm(&self, i: u32) {
        let e = &self.entries[i as usize];
        std::hint::black_box(e.first_clock_ms);
        let Links { prev, next } = e.lru;
        if prev != NIL {
            std::hint::black_box(self.entries[prev as usize].lru.next);
        }
        if next != NIL {
            std::hint::black_box(self.entries[next as usize].lru.prev);
        }
    }

    #[inline]
    fn lookup(&self, p: &FlowPacket) -> Option<u32> {
        let entries = &self.entries;
        self.index
            .find(p.hash, |&i| entries[i as usize].key == p.key)
            .copied()
    }

    #[inline]
    fn process_found(
        &mut self,
        p: &FlowPacket,
        found: Option<u32>,
        payload: &[u8],
        out: &mut Vec<FlowRecord>,
    ) {
        let ts_ms = p.ts_ns / 1_000_000;
        let clock_ms = p.clock_ns / 1_000_000;
        self.counters.packets += 1;
        self.counters.bytes += u64::from(p.wire_len);
        self.clock_ms = self.clock_ms.max(clock_ms);
        let idx = match found {
            Some(i) => match self.due_reason(i, clock_ms) {
                Some(why) => {
                    self.end(i, why, out);
                    self.create(p, out)
                }
                None => {
                    // The LRU list is ordered by clock (ms): a flow already touched at this
                    // clock value is among the most recent; moving it would change nothing.
                    if self.entries[i as usize].last_clock_ms != clock_ms {
                        self.unlink(Which::Lru, i);
                        self.push_front(Which::Lru, i);
                    }
                    i
                }
            },
            None => self.create(p, out),
        };
        self.entries[idx as usize].last_clock_ms = clock_ms;
        let dir = self.account(idx, p, ts_ms);
        if let Some(ev) = self.cfg.events {
            self.maybe_event(idx, &ev, p.decoded.tuple.protocol, clock_ms, out);
        }
        if (!self.entries[idx as usize].dpi_done || !self.plugins.0.is_empty())
            && self.inspect(idx, dir, p, payload)
        {
            self.end(idx, EndReason::Plugin, out);
            return;
        }
        if self.cfg.tcp_end && p.decoded.tuple.protocol == 6 {
            let flags = p.decoded.tcp_flags;
            let e = &mut self.entries[idx as usize];
            if flags & 0x01 != 0 {
                e.fins |= 1 << dir;
            }
            if flags & 0x04 != 0 || e.fins == 0b11 {
                self.end(idx, EndReason::End, out);
            }
        }
    }

    /// Moves the expiry clock to `now_ns` without a packet: ends flows that are idle or past
    /// the active timeout, at most [`EXPIRE_BUDGET`] per call so one call never stalls the
    /// worker (after a jump in time, the rest leave on the following calls). Leaving later
    /// changes no record: a flow's next packet applies the same test first, and
    /// [`Shard::drain`] and eviction classify by the clock too.
    pub fn advance(&mut self, now_ns: u64, out: &mut Vec<FlowRecord>) {
        let now_ms = now_ns / 1_000_000;
        self.clock_ms = self.clock_ms.max(now_ms);
        let mut budget = EXPIRE_BUDGET;
        while self.lru.tail != NIL && budget > 0 {
            let i = self.lru.tail;
            if !self.is_idle(i, now_ms) {
                break;
            }
            self.end(i, EndReason::Idle, out);
            budget -= 1;
        }
        while self.age.tail != NIL && budget > 0 {
            let i = self.age.tail;
            if !self.is_past_active(i, now_ms) {
                break;
            }
            self.end(i, EndReason::Active, out);
            budget -= 1;
        }
    }

    /// Ends every flow, oldest first: those idle or past the active timeout on the shard's
    /// clock (the latest it saw) with that reason, the rest with `reason` (end of input,
    /// shutdown).
    pub fn drain(&mut self, reason: EndReason, out: &mut Vec<FlowRecord>) {
        while self.age.tail != NIL {
            let i = self.age.tail;
            let why = self.due_reason(i, self.clock_ms).unwrap_or(reason);
            self.end(i, why, out);
        }
    }

    #[inline]
    fn is_idle(&self, i: u32, now_ms: u64) -> bool {
        let last = self.entries[i as usize].last_clock_ms;
        now_ms.saturating_sub(last) >= self.cfg.idle_timeout_ms
    }

    #[inline]
    fn is_past_active(&self, i: u32, now_ms: u64) -> bool {
        let first = self.entries[i as usize].first_clock_ms;
        now_ms.saturating_sub(first) >= self.cfg.active_timeout_ms
    }

    /// Why flow `i` is due at `now_ms`, if it is: idle first, as on a packet.
    fn due_reason(&self, i: u32, now_ms: u64) -> Option<EndReason> {
        if self.is_idle(i, now_ms) {
            Some(EndReason::Idle)
        } else if self.is_past_active(i, now_ms) {
            Some(EndReason::Active)
        } else {
            None
        }
    }

    fn create(&mut self, p: &FlowPacket, out: &mut Vec<FlowRecord>) -> u32 {
        if self.live >= self.cfg.max_flows && self.lru.tail != NIL {
            // The least recently seen flow makes room; if it is already due, it leaves as it
            // would have anyway.
            let tail = self.lru.tail;
            let why = self
                .due_reason(tail, self.clock_ms)
                .unwrap_or(EndReason::Evicted);
            self.end(tail, why, out);
        }
        let none = Links {
            prev: NIL,
            next: NIL,
        };
        let entry = Entry {
            key: p.key,
            src_side: p.side,
            fins: 0,
            live: true,
            last_clock_ms: p.clock_ns / 1_000_000,
            lru: none,
            first_clock_ms: p.clock_ns / 1_000_000,
            last_seen_ms: [0; 2],
            packets: [0; 2],
            bytes: [0; 2],
            tcp_flags: [0; 2],
            dpi_done: self.dpi.is_none(),
            _line1_end: [0; 5],
            age: none,
            first_seen_ms: [0; 2],
            id: self.next_seq * self.workers + self.worker,
            src_mac: p.decoded.src_mac,
            dst_mac: p.decoded.dst_mac,
            last_event_ms: p.clock_ns / 1_000_000,
        };
        self.next_seq += 1;
        self.counters.flows_created += 1;
        let idx = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                if self.cfg.stats {
                    self.stats[i as usize] = FlowStats::default();
                }
                i
            }
            None => {
                let i = self.entries.len() as u32;
                self.entries.push(entry);
                if self.cfg.stats {
                    self.stats.push(FlowStats::default());
                }
                self.splt.resize(self.splt.len() + self.cfg.splt, SPLT_PAD);
                i
            }
        };
        if self.cfg.splt > 0 {
            let n = self.cfg.splt;
            self.splt[idx as usize * n..(idx as usize + 1) * n].fill(SPLT_PAD);
        }
        if self.dpi.is_some() && self.dpi_flows.len() <= idx as usize {
            self.dpi_flows.resize_with(idx as usize + 1, || None);
        }
        if !self.plugins.0.is_empty() {
            if self.udps.len() <= idx as usize {
                self.udps.resize_with(idx as usize + 1, Udps::default);
            }
            self.udps[idx as usize].clear();
        }
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(p.hash, idx, |&i| hasher.hash(&entries[i as usize].key));
        self.push_front(Which::Lru, idx);
        self.push_front(Which::Age, idx);
        self.live += 1;
        idx
    }

    /// Adds the packet to flow `idx`; returns its direction (0 src→dst, 1 dst→src).
    #[inline]
    fn account(&mut self, idx: u32, p: &FlowPacket, ts_ms: u64) -> usize {
        let size = self.size_of(p);
        let e = &mut self.entries[idx as usize];
        let dir = usize::from(p.side != e.src_side);
        let n_before = e.packets[0] + e.packets[1];
        let last_bi = e.last_ms();
        let last_dir = (e.packets[dir] > 0).then_some(e.last_seen_ms[dir]);
        if e.packets[dir] == 0 {
            e.first_seen_ms[dir] = ts_ms;
            e.last_seen_ms[dir] = ts_ms;
        } else {
            e.last_seen_ms[dir] = e.last_seen_ms[dir].max(ts_ms);
        }
        e.packets[dir] += 1;
        e.bytes[dir] += size;
        e.tcp_flags[dir] |= p.decoded.tcp_flags;
        if self.cfg.stats {
            let piat_bi = (n_before > 0).then(|| ts_ms.saturating_sub(last_bi));
            let piat_dir = last_dir.map(|l| ts_ms.saturating_sub(l));
            self.stats[idx as usize].push(dir + 1, size, piat_bi, piat_dir, p.decoded.tcp_flags);
        }
        let n = self.cfg.splt as u64;
        if n_before < n {
            let cell = &mut self.splt[idx as usize * self.cfg.splt + n_before as usize];
            *cell = SpltCell {
                direction: dir as i8,
                ps: i32::try_from(size).unwrap_or(i32::MAX),
                piat_ms: if n_before == 0 {
                    0
                } else {
                    ts_ms.saturating_sub(last_bi) as i64
                },
            };
        }
        dir
    }

    /// DPI and plugins on one packet of flow `idx` (already accounted). Returns true when a
    /// plugin asks to end the flow.
    fn inspect(&mut self, idx: u32, dir: usize, p: &FlowPacket, payload: &[u8]) -> bool {
        let i = idx as usize;
        let e = &self.entries[i];
        let total = e.packets[0] + e.packets[1];
        if !e.dpi_done
            && let Some(dpi) = self.dpi.as_mut()
        {
            let index = total - 1;
            if index >= u64::from(dpi.n_dissections()) {
                self.entries[i].dpi_done = true;
                if let Some(f) = self.dpi_flows[i].as_mut() {
                    dpi.stop(f);
                }
            } else if !payload.is_empty() {
                let t = e.key.tuple_from(e.src_side);
                let pkt = Packet {
                    payload,
                    dir: dir as u8,
                    protocol: t.protocol,
                    src_port: t.src_port,
                    dst_port: t.dst_port,
                    tcp_flags: p.decoded.tcp_flags,
                    index: index as u32,
                    ip_version: t.ip_version,
                    src_ip: t.src_ip,
                    dst_ip: t.dst_ip,
                };
                let f = self.dpi_flows[i].get_or_insert_with(|| dpi.alloc());
                if dpi.on_packet(f, &pkt) {
                    self.entries[i].dpi_done = true;
                }
            }
        }
        if self.plugins.0.is_empty() {
            return false;
        }
        let view = self.view(idx);
        let pp = PluginPacket {
            ts_ns: p.ts_ns,
            wire_len: p.wire_len,
            ip_len: p.decoded.ip_len,
            direction: dir as u8,
            tcp_flags: p.decoded.tcp_flags,
            payload,
            payload_len: p.decoded.payload_len,
        };
        let udps = &mut self.udps[i];
        let mut end = false;
        for plugin in &mut self.plugins.0 {
            if total == 1 {
                plugin.on_init(&pp, &view, udps);
            } else {
                end |= plugin.on_update(&pp, &view, udps) == PluginAction::EndFlow;
            }
        }
        end
    }

    /// Flow `idx` for plugins.
    fn view(&self, idx: u32) -> FlowView {
        let e = &self.entries[idx as usize];
        FlowView {
            identity: self.identity(idx),
            src2dst: e.counters(0),
            dst2src: e.counters(1),
        }
    }

    /// Flow `idx` for DPI classification and plugins.
    fn identity(&self, idx: u32) -> FlowIdentity {
        let e = &self.entries[idx as usize];
        let t = e.key.tuple_from(e.src_side);
        FlowIdentity {
            protocol: t.protocol,
            ip_version: t.ip_version,
            src_ip: t.src_ip,
            dst_ip: t.dst_ip,
            src_port: t.src_port,
            dst_port: t.dst_port,
        }
    }

    #[inline]
    fn size_of(&self, p: &FlowPacket) -> u64 {
        let d = &p.decoded;
        let ip = u64::from(d.ip_len);
        let transport = ip.saturating_sub(u64::from(d.ip_header_len));
        match self.cfg.accounting {
            Accounting::Link => u64::from(p.wire_len),
            Accounting::Ip => ip,
            Accounting::Transport => transport,
            Accounting::Payload => transport.saturating_sub(u64::from(d.l4_header_len)),
        }
    }

    /// Removes flow `idx` from the table and emits its record.
    fn end(&mut self, idx: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        self.unlink(Which::Lru, idx);
        self.unlink(Which::Age, idx);
        self.entries[idx as usize].live = false;
        let e = self.entries[idx as usize];
        if let Ok(slot) = self
            .index
            .find_entry(self.hasher.hash(&e.key), |&i| i == idx)
        {
            slot.remove();
        }
        self.free.push(idx);
        self.live -= 1;
        self.counters.flows_ended[reason as usize] += 1;
        let mut record = self.snapshot(idx, reason, RecordKind::End);
        if self.dpi.is_some() {
            let id = self.identity(idx);
            let state = self.dpi_flows[idx as usize].take();
            if let Some(dpi) = self.dpi.as_mut() {
                record.dpi = Some(Box::new(dpi.finish(state, &id)));
            }
        }
        if !self.plugins.0.is_empty() {
            let view = self.view(idx);
            let udps = &mut self.udps[idx as usize];
            for plugin in &mut self.plugins.0 {
                plugin.on_expire(&view, udps);
            }
            record.udps = Some(Box::new(std::mem::take(udps)));
        }
        out.push(record);
    }

    /// Emits an `Insert` record for a flow's first packet, and an `Update` every N packets or
    /// T ms (see [`EventConfig`]).
    #[inline]
    fn maybe_event(
        &mut self,
        idx: u32,
        ev: &EventConfig,
        protocol: u8,
        clock_ms: u64,
        out: &mut Vec<FlowRecord>,
    ) {
        let e = &self.entries[idx as usize];
        let total = e.packets[0] + e.packets[1];
        let every = ev.every(protocol);
        let kind = if total == 1 {
            RecordKind::Insert
        } else if (every > 0 && total.is_multiple_of(every))
            || (ev.every_ms > 0 && clock_ms.saturating_sub(e.last_event_ms) >= ev.every_ms)
        {
            RecordKind::Update
        } else {
            return;
        };
        self.entries[idx as usize].last_event_ms = clock_ms;
        let mut record = self.snapshot(idx, EndReason::default(), kind);
        if let Some(dpi) = &self.dpi {
            let state = self.dpi_flows[idx as usize].as_deref();
            record.dpi = Some(Box::new(dpi.peek(state, &self.identity(idx))));
        }
        if !self.plugins.0.is_empty() {
            record.udps = Some(Box::new(self.udps[idx as usize].clone()));
        }
        out.push(record);
    }

    /// The record of flow `idx` as it stands.
    fn snapshot(&self, idx: u32, reason: EndReason, kind: RecordKind) -> FlowRecord {
        let e = &self.entries[idx as usize];
        let t = e.key.tuple_from(e.src_side);
        let stats = self.cfg.stats.then(|| Box::new(self.stats[idx as usize]));
        let splt = (self.cfg.splt > 0).then(|| {
            let cells =
                &self.splt[idx as usize * self.cfg.splt..(idx as usize + 1) * self.cfg.splt];
            Box::new(Splt {
                direction: cells.iter().map(|c| c.direction).collect(),
                ps: cells.iter().map(|c| c.ps).collect(),
                piat_ms: cells.iter().map(|c| c.piat_ms).collect(),
            })
        });
        FlowRecord {
            id: e.id,
            end_reason: reason,
            src_ip: t.src_ip,
            dst_ip: t.dst_ip,
            src_mac: e.src_mac,
            dst_mac: e.dst_mac,
            src_port: t.src_port,
            dst_port: t.dst_port,
            protocol: t.protocol,
            ip_version: t.ip_version,
            vlan_id: t.vlan_id,
            tunnel_id: t.tunnel_id,
            tcp_flags: e.tcp_flags,
            src2dst: e.counters(0),
            dst2src: e.counters(1),
            stats,
            splt,
            kind,
            dpi: None,
            udps: None,
        }
    }

    fn links(&mut self, which: Which, idx: u32) -> &mut Links {
        let e = &mut self.entries[idx as usize];
        match which {
            Which::Lru => &mut e.lru,
            Which::Age => &mut e.age,
        }
    }

    fn list(&mut self, which: Which) -> &mut List {
        match which {
            Which::Lru => &mut self.lru,
            Which::Age => &mut self.age,
        }
    }

    fn push_front(&mut self, which: Which, idx: u32) {
        let head = self.list(which).head;
        *self.links(which, idx) = Links {
            prev: NIL,
            next: head,
        };
        if head != NIL {
            self.links(which, head).prev = idx;
        }
        let list = self.list(which);
        list.head = idx;
        if list.tail == NIL {
            list.tail = idx;
        }
    }

    fn unlink(&mut self, which: Which, idx: u32) {
        let Links { prev, next } = *self.links(which, idx);
        if prev != NIL {
            self.links(which, prev).next = next;
        } else {
            self.list(which).head = next;
        }
        if next != NIL {
            self.links(which, next).prev = prev;
        } else {
            self.list(which).tail = prev;
        }
        *self.links(which, idx) = Links {
            prev: NIL,
            next: NIL,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::DpiConfig;
    use crate::packet::Tuple;

    const SEC: u64 = 1_000_000_000;

    fn pkt(a: u8, ap: u16, b: u8, bp: u16, proto: u8, flags: u8, ts_ns: u64) -> FlowPacket {
        let mut t = Tuple {
            protocol: proto,
            ip_version: 4,
            ..Tuple::default()
        };
        t.src_ip[..4].copy_from_slice(&[198, 18, 0, a]);
        t.dst_ip[..4].copy_from_slice(&[198, 18, 0, b]);
        t.src_port = ap;
        t.dst_port = bp;
        let d = Decoded {
            tuple: t,
            tcp_flags: flags,
            ip_len: 40,
            ip_header_len: 20,
            ..Default::default()
        };
        FlowPacket::new(&KeyHasher::default(), d, ts_ns, 60)
    }

    fn udp(a: u8, b: u8, ts: u64) -> FlowPacket {
        pkt(a, 1000, b, 53, 17, 0, ts)
    }

    fn shard(cfg: FlowConfig) -> Shard {
        Shard::new(cfg, 0, 1)
    }

    /// A DNS query for `name` (id 7, type A), or its response without answers.
    fn dns(name: &str, response: bool) -> Vec<u8> {
        let mut m = vec![
            0,
            7,
            if response { 0x81 } else { 0x01 },
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    }

    fn dpi_shard(n: u32) -> Shard {
        let extras = ShardExtras {
            dpi: Some(DpiConfig {
                n_dissections: n,
                ..DpiConfig::default()
            }),
            plugins: Vec::new(),
        };
        Shard::with_extras(FlowConfig::default(), 0, 1, &extras)
    }

    #[test]
    fn dpi_reads_the_first_packets_and_labels_the_record() {
        let mut s = dpi_shard(20);
        let mut out = Vec::new();
        s.process_with(&udp(1, 2, SEC), &dns("www.google.com", false), &mut out);
        s.process_with(
            &pkt(2, 53, 1, 1000, 17, 0, SEC + 1),
            &dns("www.google.com", true),
            &mut out,
        );
        s.drain(EndReason::Shutdown, &mut out);
        let d = out[0].dpi.as_deref().expect("DPI fields");
        assert_eq!(d.application_name, "DNS.Google");
        assert_eq!(d.requested_server_name, "www.google.com");
        assert!(!d.application_is_guessed);
        assert_eq!(s.dpi_counters().unwrap().flows, 1);
    }

    #[test]
    fn dpi_ignores_payload_after_n_packets_and_guesses_a_flow_without_payload() {
        let mut s = dpi_shard(2);
        let mut out = Vec::new();
        s.process_with(&udp(1, 2, SEC), &[], &mut out);
        s.process_with(&udp(1, 2, SEC + 1), &[], &mut out);
        // The third packet is past --n-dissections 2: never dissected.
        s.process_with(&udp(1, 2, SEC + 2), &dns("www.google.com", false), &mut out);
        s.drain(EndReason::Shutdown, &mut out);
        let d = out[0].dpi.as_deref().expect("DPI fields");
        assert_eq!(d.requested_server_name, "");
        assert_eq!(d.application_name, "DNS", "guessed from port 53");
        assert!(d.application_is_guessed);
        assert_eq!(
            s.dpi_counters().unwrap().flows,
            0,
            "no state without payload in time"
        );
        // Without DPI, no fields at all.
        let mut plain = shard(FlowConfig::default());
        let mut out = Vec::new();
        plain.process_with(&udp(1, 2, SEC), &dns("www.google.com", false), &mut out);
        plain.drain(EndReason::Shutdown, &mut out);
        assert!(out[0].dpi.is_none());
    }

    fn kinds(out: &[FlowRecord]) -> Vec<(RecordKind, u64)> {
        out.iter()
            .map(|r| (r.kind, r.src2dst.packets + r.dst2src.packets))
            .collect()
    }

    #[test]
    fn without_events_only_ended_flows_leave() {
        let mut s = shard(FlowConfig::default());
        let mut out = Vec::new();
        for i in 0..40 {
            s.process(&udp(1, 2, i * 1000), &mut out);
        }
        s.drain(EndReason::Shutdown, &mut out);
        assert_eq!(kinds(&out), vec![(RecordKind::End, 40)]);
    }

    #[test]
    fn a_flow_of_40_packets_with_n_16_gets_an_insert_2_updates_and_its_end() {
        let mut s = shard(FlowConfig {
            events: Some(EventConfig {
                every_packets: [32, 16, 0],
                every_ms: 0,
            }),
            ..FlowConfig::default()
        });
        let mut out = Vec::new();
        for i in 0..40u64 {
            // Both directions count.
            let p = if i % 2 == 0 {
                udp(1, 2, i * 1000)
            } else {
                pkt(2, 53, 1, 1000, 17, 0, i * 1000)
            };
            s.process(&p, &mut out);
        }
        s.drain(EndReason::Shutdown, &mut out);
        assert_eq!(
            kinds(&out),
            vec![
                (RecordKind::Insert, 1),
                (RecordKind::Update, 16),
                (RecordKind::Update, 32),
                (RecordKind::End, 40)
            ]
        );
        assert!(out.iter().all(|r| r.id == out[0].id), "one flow, one id");
        // TCP uses its own N; `other` 0 = never.
        let mut out = Vec::new();
        for i in 0..64 {
            s.process(&pkt(1, 1, 2, 80, 6, 0x10, i * 1000), &mut out);
            s.process(&pkt(1, 1, 2, 0, 1, 0, i * 1000), &mut out);
        }
        let updates: Vec<_> = out
            .iter()
            .filter(|r| r.kind == RecordKind::Update)
            .map(|r| (r.protocol, r.src2dst.packets))
            .collect();
        assert_eq!(updates, vec![(6, 32), (6, 64)]);
    }

    #[test]
    fn time_based_updates_follow_the_expiry_clock() {
        let mut s = shard(FlowConfig {
            events: Some(EventConfig {
                every_packets: [0; 3],
                every_ms: 10_000,
            }),
            ..FlowConfig::default()
        });
        let mut out = Vec::new();
        for t in [0, 5, 9, 10, 15, 19, 20, 21] {
            s.process(&udp(1, 2, t * SEC), &mut out);
        }
        let at: Vec<_> = out
            .iter()
            .map(|r| (r.kind, r.src2dst.last_seen_ms / 1000))
            .collect();
        assert_eq!(
            at,
            vec![
                (RecordKind::Insert, 0),
                (RecordKind::Update, 10),
                (RecordKind::Update, 20)
            ]
        );
    }

    #[test]
    fn src_is_first_sender_and_directions_count_apart() {
        let mut s = shard(FlowConfig::default());
        let mut out = Vec::new();
        s.process(&pkt(9, 53, 1, 1000, 17, 0, SEC), &mut out); // 198.18.0.9 sends first
        s.process(&pkt(1, 1000, 9, 53, 17, 0, 2 * SEC), &mut out);
        s.process(&pkt(1, 1000, 9, 53, 17, 0, 3 * SEC), &mut out);
        s.drain(EndReason::Shutdown, &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(
            (r.src_ip[3], r.src_port, r.dst_ip[3], r.dst_port),
            (9, 53, 1, 1000)
        );
        assert_eq!((r.src2dst.packets, r.dst2src.packets), (1, 2));
        assert_eq!(r.bidirectional().bytes, 180);
        assert_eq!(r.bidirectional().duration_ms(), 2000);
        assert_eq!(r.end_reason, EndReason::Shutdown);
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn idle_timeout_splits_on_the_next_packet() {
        let mut s = shard(FlowConfig::default());
        let mut out = Vec::new();
        s.process(&udp(1, 2, 0), &mut out);
        s.process(&udp(1, 2, 119_999 * 1_000_000), &mut out); // 1 ms short: same flow
        assert!(out.is_empty());
        s.process(&udp(1, 2, (119_999 + 120_000) * 1_000_000), &mut out); // exactly idle
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].end_reason, out[0].src2dst.packets),
            (EndReason::Idle, 2)
        );
        assert_eq!(s.live(), 1);
    }

    #[test]
    fn advance_expires_idle_and_active_without_packets() {
        let cfg = FlowConfig {
            idle_timeout_ms: 10_000,
            active_timeout_ms: 30_000,
            ..Default::default()
        };
        let mut s = shard(cfg);
        let mut out = Vec::new();
        s.process(&udp(1, 2, 0), &mut out); // then silent: idle at 10 s
        for t in 0..25 {
            s.process(&udp(3, 4, t * SEC), &mut out); // busy until 24 s: active at 30 s
        }
        s.advance(9 * SEC, &mut out);
        assert!(out.is_empty());
        s.advance(10 * SEC, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].end_reason, out[0].src_ip[3]), (EndReason::Idle, 1));
        s.advance(30 * SEC, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[1].end_reason, out[1].src2dst.packets),
            (EndReason::Active, 25)
        );
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn expiry_runs_on_the_clock_when_timestamps_go_back() {
        // A second capture from a day earlier follows the first: its packets carry the
        // first capture's clock, so its flows are not all idle at once.
        let mut s = shard(FlowConfig::default());
        let mut out = Vec::new();
        let day = 86_400 * SEC;
        s.process(&udp(1, 2, day), &mut out);
        for t in 0..3 {
            s.process(&udp(3, 4, t * SEC).with_clock(day), &mut out);
        }
        assert!(out.is_empty());
        // Record times stay the packets' own.
        s.drain(EndReason::Shutdown, &mut out);
        let r = out.iter().find(|r| r.src_ip[3] == 3).unwrap();
        assert_eq!((r.src2dst.packets, r.src2dst.first_seen_ms), (3, 0));
        // And the clock still expires: 120 s of clock after the last packet.
        let mut s = shard(FlowConfig::default());
        out.clear();
        s.process(&udp(3, 4, 0).with_clock(day), &mut out);
        s.advance(day + 119 * SEC, &mut out);
        assert!(out.is_empty());
        s.advance(day + 120 * SEC, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn advance_is_bounded_and_drain_keeps_the_reasons() {
        let mut s = shard(FlowConfig {
            max_flows: 10_000,
            ..FlowConfig::default()
        });
        let mut out = Vec::new();
        for i in 0..(EXPIRE_BUDGET as u64 + 100) {
            let p = pkt(
                (i % 250) as u8,
                1000 + (i / 250) as u16,
                251,
                53,
                17,
                0,
                SEC,
            );
            s.process(&p, &mut out);
        }
        s.advance(1000 * SEC, &mut out);
        assert_eq!(out.len(), EXPIRE_BUDGET, "one call ends at most the budget");
        s.advance(1000 * SEC, &mut out);
        assert_eq!(out.len(), EXPIRE_BUDGET + 100);
        assert!(out.iter().all(|r| r.end_reason == EndReason::Idle));
        // Flows due by the shard's clock but never reached by `advance` keep their reason.
        let mut s = shard(FlowConfig::default());
        out.clear();
        s.process(&udp(1, 2, SEC), &mut out);
        s.process(&udp(3, 4, 200 * SEC), &mut out); // 1-2 is idle by now; no advance ran
        s.drain(EndReason::Shutdown, &mut out);
        let reasons: Vec<_> = out.iter().map(|r| (r.src_ip[3], r.end_reason)).collect();
        assert_eq!(reasons, [(1, EndReason::Idle), (3, EndReason::Shutdown)]);
    }

    #[test]
    fn a_due_flow_leaves_with_its_reason_when_the_table_is_full() {
        let mut s = shard(FlowConfig {
            max_flows: 1,
            ..FlowConfig::default()
        });
        let mut out = Vec::new();
        s.process(&udp(1, 2, SEC), &mut out);
        s.process(&udp(3, 4, 2 * SEC), &mut out); // full: 1-2 is evicted
        s.process(&udp(5, 6, 500 * SEC), &mut out); // full, but 3-4 is idle by now
        let reasons: Vec<_> = out.iter().map(|r| r.end_reason).collect();
        assert_eq!(reasons, [EndReason::Evicted, EndReason::Idle]);
    }

    #[test]
    fn active_timeout_splits_a_busy_flow() {
        let cfg = FlowConfig {
            active_timeout_ms: 5_000,
            ..Default::default()
        };
        let mut s = shard(cfg);
        let mut out = Vec::new();
        for t in 0..12 {
            s.process(&udp(1, 2, t * SEC), &mut out);
        }
        s.drain(EndReason::Shutdown, &mut out);
        let parts: Vec<_> = out
            .iter()
            .map(|r| (r.end_reason, r.src2dst.packets))
            .collect();
        assert_eq!(
            parts,
            [
                (EndReason::Active, 5),
                (EndReason::Active, 5),
                (EndReason::Shutdown, 2)
            ]
        );
    }

    #[test]
    fn tcp_end_on_fin_both_ways_and_on_rst() {
        let mut s = shard(FlowConfig::default());
        let mut out = Vec::new();
        s.process(&pkt(1, 40000, 2, 80, 6, 0x02, SEC), &mut out); // SYN
        s.process(&pkt(1, 40000, 2, 80, 6, 0x11, SEC), &mut out); // FIN+ACK
        assert!(out.is_empty());
        s.process(&pkt(2, 80, 1, 40000, 6, 0x11, SEC), &mut out); // FIN+ACK back
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].end_reason, out[0].bidirectional().packets),
            (EndReason::End, 3)
        );
        assert_eq!(
            out[0].tcp_flags,
            [0x13, 0x11],
            "OR of SYN, FIN+ACK / FIN+ACK"
        );
        s.process(&pkt(3, 40000, 2, 80, 6, 0x04, SEC), &mut out); // lone RST
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].end_reason, EndReason::End);
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn tcp_end_off_keeps_the_flow() {
        let mut s = shard(FlowConfig {
            tcp_end: false,
            ..Default::default()
        });
        let mut out = Vec::new();
        s.process(&pkt(1, 40000, 2, 80, 6, 0x04, SEC), &mut out);
        s.process(&pkt(1, 40000, 2, 80, 6, 0x10, SEC), &mut out);
        assert!(out.is_empty());
        assert_eq!(s.live(), 1);
    }

    #[test]
    fn full_table_evicts_least_recently_seen() {
        let mut s = shard(FlowConfig {
            max_flows: 2,
            ..Default::default()
        });
        let mut out = Vec::new();
        s.process(&udp(1, 2, SEC), &mut out);
        s.process(&udp(3, 4, 2 * SEC), &mut out);
        s.process(&udp(1, 2, 3 * SEC), &mut out); // 1-2 is now the most recent
        s.process(&udp(5, 6, 4 * SEC), &mut out); // evicts 3-4
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].end_reason, out[0].src_ip[3]),
            (EndReason::Evicted, 3)
        );
        assert_eq!(s.live(), 2);
        assert_eq!(s.counters().flows_ended[EndReason::Evicted as usize], 1);
    }

    #[test]
    fn slots_are_reused_and_ids_stay_unique() {
        let mut s = Shard::new(
            FlowConfig {
                max_flows: 4,
                ..Default::default()
            },
            1,
            3,
        );
        let mut out = Vec::new();
        for i in 0..50u8 {
            s.process(&udp(i, 200, u64::from(i) * SEC), &mut out);
        }
        s.drain(EndReason::Shutdown, &mut out);
        assert_eq!(out.len(), 50);
        let mut ids: Vec<u64> = out.iter().map(|r| r.id).collect();
        assert!(ids.iter().all(|id| id % 3 == 1));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        assert!(s.entries.len() <= 4);
    }

    #[test]
    fn stats_and_splt_follow_the_packets() {
        let cfg = FlowConfig {
            stats: true,
            splt: 3,
            ..Default::default()
        };
        let mut s = shard(cfg);
        let mut out = Vec::new();
        s.process(&pkt(1, 40000, 2, 80, 6, 0x02, 1_000_000_000), &mut out);
        s.process(&pkt(2, 80, 1, 40000, 6, 0x12, 1_010_000_000), &mut out);
        s.drain(EndReason::Shutdown, &mut out);
        let r = &out[0];
        let st = r.stats.as_ref().unwrap();
        assert_eq!(st.flags[0].syn, 2);
        assert_eq!(st.flags[2].ack, 1);
        assert_eq!(st.piat_ms[0].max(), 10);
        let splt = r.splt.as_ref().unwrap();
        assert_eq!(splt.direction, [0, 1, -1]);
        assert_eq!(splt.ps, [60, 60, -1]);
        assert_eq!(splt.piat_ms, [0, 10, -1]);
    }

    proptest::proptest! {
        /// Batched lookups change nothing: flows created, ended (RST, FIN, idle, eviction)
        /// and recreated inside one batch come out exactly as packet by packet.
        #[test]
        fn process_batch_equals_process(
            ops in proptest::collection::vec((0u8..6, 0u8..2, 0u8..4, 0u64..50), 1..300),
            batch in 1usize..40,
        ) {
            let cfg = FlowConfig {
                idle_timeout_ms: 20_000,
                active_timeout_ms: 200_000,
                max_flows: 4,
                ..FlowConfig::default()
            };
            let mut t = 0;
            let pkts: Vec<FlowPacket> = ops
                .iter()
                .map(|&(flow, rev, flags, gap)| {
                    t += gap * 1_000_000_000 / 4;
                    let f = [0x10, 0x02, 0x01, 0x04][usize::from(flags)]; // ACK SYN FIN RST
                    if rev == 0 {
                        pkt(flow, 1000, 100 + flow, 80, 6, f, t)
                    } else {
                        pkt(100 + flow, 80, flow, 1000, 6, f, t)
                    }
                })
                .collect();
            let mut one = shard(cfg);
            let mut a = Vec::new();
            for p in &pkts {
                one.process(p, &mut a);
            }
            let mut many = shard(cfg);
            let mut b = Vec::new();
            for chunk in pkts.chunks(batch) {
                many.process_batch(chunk, &mut b);
            }
            one.drain(EndReason::Shutdown, &mut a);
            many.drain(EndReason::Shutdown, &mut b);
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn accounting_modes() {
        for (acc, want) in [
            (Accounting::Link, 60),
            (Accounting::Ip, 40),
            (Accounting::Transport, 20),
            (Accounting::Payload, 0),
        ] {
            let mut s = shard(FlowConfig {
                accounting: acc,
                ..Default::default()
            });
            let mut out = Vec::new();
            let mut p = udp(1, 2, SEC);
            p.decoded.l4_header_len = 20;
            s.process(&p, &mut out);
            s.drain(EndReason::Shutdown, &mut out);
            assert_eq!(out[0].src2dst.bytes, want, "{acc:?}");
        }
    }
}
