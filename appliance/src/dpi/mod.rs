//! Deep packet inspection: the first `--n-dissections` packets of each flow go through the
//! dissectors, one file or folder per protocol (STYLE.md §6), each a pure parser plus a capped
//! state machine. The result is nDPI-compatible naming (`TLS.YouTube`, categories) and L7
//! metadata on the flow's record.
//!
//! ```text
//! Shard (per packet with payload, while the flow is in its first N packets)
//!   └─ Dpi::on_packet(FlowDpi, Packet)
//!        ├─ the dissector that identified the flow, alone, until it says Done
//!        └─ else every dissector not yet rejected for this flow, in registry order
//! Shard (flow ends) ─ Dpi::finish(FlowDpi?) ─ apps::AppTable (server name / IP / port / IP
//!   protocol → application, category) ─► FlowRecord::dpi
//! ```
//!
//! Per-flow state ([`FlowDpi`]) is allocated only when a flow's first payload appears, and its
//! per-dissector parts only when a dissector asks for them ([`Context::state`]); everything
//! but the result is freed when dissection ends (identified and done, every dissector
//! rejected, or N packets seen). Each state type caps its buffers; the largest is TLS's two
//! 16 KiB record reassemblers. See [`FlowDpi`] for the bound.

use std::any::Any;
use std::sync::Arc;

pub mod apps;
pub mod registry;

/// A field value of a dissector's metadata or a plugin's `udps`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A number.
    Int(i64),
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v as i64)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Int(i64::from(v))
    }
}

/// How sure a label is: nDPI's `ndpi_confidence_t` values as nfstream exports them in
/// `application_confidence`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Confidence {
    /// Nothing known.
    #[default]
    Unknown = 0,
    /// Guessed from the ports (or the IP protocol).
    MatchByPort = 1,
    /// From the server's address.
    MatchByIp = 2,
    /// A dissector recognised the protocol.
    Dpi = 6,
}

/// One packet as the dissectors see it. Directions and ports are the flow's: `src` is the
/// endpoint that sent the flow's first packet (usually the client).
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The transport payload (possibly cut at the capture's snap length).
    pub payload: &'a [u8],
    /// 0: from `src` (the initiator); 1: from `dst`.
    pub dir: u8,
    /// IP protocol: 6 TCP, 17 UDP, ...
    pub protocol: u8,
    /// Port of the flow's `src`.
    pub src_port: u16,
    /// Port of the flow's `dst`.
    pub dst_port: u16,
    /// TCP flags of this packet, 0 for other transports.
    pub tcp_flags: u8,
    /// 0-based number of this packet in the flow, both directions counted.
    pub index: u32,
    /// 4 or 6.
    pub ip_version: u8,
    /// Address of `src` (IPv4 in the first 4 bytes).
    pub src_ip: [u8; 16],
    /// Address of `dst`.
    pub dst_ip: [u8; 16],
}

impl Packet<'_> {
    /// True when either port is `port`.
    #[inline]
    pub fn has_port(&self, port: u16) -> bool {
        self.src_port == port || self.dst_port == port
    }

    /// True for TCP.
    #[inline]
    pub fn is_tcp(&self) -> bool {
        self.protocol == 6
    }

    /// True for UDP.
    #[inline]
    pub fn is_udp(&self) -> bool {
        self.protocol == 17
    }

    /// The sender's port.
    #[inline]
    pub fn sender_port(&self) -> u16 {
        if self.dir == 0 {
            self.src_port
        } else {
            self.dst_port
        }
    }

    /// The receiver's port.
    #[inline]
    pub fn receiver_port(&self) -> u16 {
        if self.dir == 0 {
            self.dst_port
        } else {
            self.src_port
        }
    }
}

/// What a dissector says about a flow after seeing one of its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not this protocol: the dissector is not offered this flow again.
    Reject,
    /// Maybe (not enough bytes yet), or identified and still reading metadata: offer the next
    /// payload too.
    Pending,
    /// Nothing more to read. If the dissector identified the flow ([`Context::identify`]),
    /// dissection of the flow ends; otherwise this is a reject.
    Done,
}

/// Which transports a dissector wants to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transports {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// TCP and UDP.
    Both,
    /// Any IP protocol (also those without ports).
    Any,
}

impl Transports {
    #[inline]
    fn accepts(self, protocol: u8) -> bool {
        match self {
            Transports::Tcp => protocol == 6,
            Transports::Udp => protocol == 17,
            Transports::Both => protocol == 6 || protocol == 17,
            Transports::Any => true,
        }
    }
}

/// A protocol dissector: a pure parser plus a capped per-flow state machine (its state type,
/// kept through [`Context::state`]). Implementations are stateless values shared by every
/// flow of a worker.
pub trait Dissector: Send + Sync {
    /// Short name, for logs and tests (`"tls"`).
    fn name(&self) -> &'static str;

    /// Transports it is offered. Default: TCP and UDP.
    fn transports(&self) -> Transports {
        Transports::Both
    }

    /// The protocol's well-known ports: a flow on one of them is offered to this dissector
    /// before the others (as nDPI does), so the likely match runs first and, when it
    /// identifies the flow, the others are not called at all. Default: none.
    fn ports(&self) -> &'static [u16] {
        &[]
    }

    /// Looks at one payload (never empty) of a flow. Call [`Context::identify`] once the
    /// protocol is certain and fill [`Context::result`] with what the packet tells.
    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict;
}

/// What DPI found out about one flow; the raw material of the exported fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DpiResult {
    /// nDPI's master protocol name (`"TLS"`, `"DNS"`), set by [`Context::identify`].
    pub master: Option<&'static str>,
    /// An application a dissector recognised by itself (`"WhatsAppCall"`), without a server
    /// name lookup; the name lookup is tried first.
    pub app: Option<&'static str>,
    /// nfstream's `requested_server_name`: TLS / QUIC SNI, HTTP Host, DNS query, DHCP host name.
    pub requested_server_name: String,
    /// nfstream's `client_fingerprint` (TLS / QUIC: JA4; SSH: HASSH).
    pub client_fingerprint: String,
    /// nfstream's `server_fingerprint` (TLS: JA3S; SSH: HASSH server).
    pub server_fingerprint: String,
    /// HTTP User-Agent.
    pub user_agent: String,
    /// HTTP Content-Type of the response.
    pub content_type: String,
    /// Protocol-specific fields, exported under these names (`tls_ja3`, `http_method`, ...).
    pub meta: Vec<(&'static str, Value)>,
}

impl DpiResult {
    /// Sets (or replaces) a protocol-specific field.
    pub fn set_meta(&mut self, name: &'static str, value: impl Into<Value>) {
        set_field(&mut self.meta, name, value.into());
    }

    /// A protocol-specific field.
    pub fn meta(&self, name: &str) -> Option<&Value> {
        get_field(&self.meta, name)
    }
}

/// Sets (or replaces) `name` in a list of named values (DPI metadata, plugins' `udps`): a few
/// entries per flow, so a scan beats a map.
pub(crate) fn set_field(fields: &mut Vec<(&'static str, Value)>, name: &'static str, v: Value) {
    match fields.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = v,
        None => fields.push((name, v)),
    }
}

/// The value of `name` in a list of named values.
pub(crate) fn get_field<'v>(fields: &'v [(&'static str, Value)], name: &str) -> Option<&'v Value> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// The DPI fields of an exported record (nfstream's names), built when the flow ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DpiFields {
    /// `Master.App`, `Master`, `App` or `Unknown`.
    pub application_name: String,
    /// nDPI category name (`Web`, `Network`, `Unspecified`...).
    pub application_category_name: String,
    /// True when the name is a guess from ports / IP protocol.
    pub application_is_guessed: bool,
    /// nDPI confidence.
    pub application_confidence: Confidence,
    /// See [`DpiResult`].
    pub requested_server_name: String,
    /// See [`DpiResult`].
    pub client_fingerprint: String,
    /// See [`DpiResult`].
    pub server_fingerprint: String,
    /// See [`DpiResult`].
    pub user_agent: String,
    /// See [`DpiResult`].
    pub content_type: String,
    /// Protocol-specific fields.
    pub meta: Vec<(&'static str, Value)>,
}

/// One flow's DPI state. Bound: the result (a few short strings: ~300 bytes per flow measured,
/// `bench/README.md`) plus the states of the dissectors still pending, each capped by its own
/// constant and grown on demand — TLS ≤ 2 × 16 KiB, QUIC 9 KiB (once identified), HTTP and SSH
/// ≤ 2 × 4 KiB (only while a head spans segments), DNS over TCP ~1.1 KiB, the others ≤ 136
/// bytes: under ~60 KiB even if every buffering dissector wanted one flow, freed when
/// dissection ends (at the latest after `--n-dissections` packets).
#[derive(Default)]
pub struct FlowDpi {
    /// What is known so far.
    pub result: DpiResult,
    /// Registry indices of rejected dissectors (bit i).
    rejected: u128,
    /// The dissector that identified the flow.
    owner: Option<u8>,
    /// Dissection is over (nothing more to learn); the result stays until the flow ends.
    done: bool,
    /// Per-dissector states, by registry index.
    states: Vec<(u8, Box<dyn Any + Send>)>,
}

impl std::fmt::Debug for FlowDpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowDpi")
            .field("result", &self.result)
            .field("owner", &self.owner)
            .field("done", &self.done)
            .field("states", &self.states.len())
            .finish()
    }
}

impl FlowDpi {
    /// True once dissection has ended for this flow.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self) {
        self.done = true;
        self.states = Vec::new();
    }

    fn reset(&mut self) {
        self.result = DpiResult::default();
        self.rejected = 0;
        self.owner = None;
        self.done = false;
        self.states.clear();
    }
}

/// What a dissector gets besides the packet: the flow's result, its own state, the worker's
/// scratch buffer.
#[derive(Debug)]
pub struct Context<'f> {
    flow: &'f mut FlowDpi,
    id: u8,
    scratch: &'f mut Vec<u8>,
}

impl Context<'_> {
    /// The protocol is `master` (nDPI's name, e.g. `"TLS"`); from now on only this dissector
    /// sees the flow's packets.
    pub fn identify(&mut self, master: &'static str) {
        self.flow.result.master = Some(master);
        self.flow.owner = Some(self.id);
    }

    /// True once some dissector identified the flow.
    pub fn is_identified(&self) -> bool {
        self.flow.owner.is_some()
    }

    /// The flow's result so far.
    pub fn result(&mut self) -> &mut DpiResult {
        &mut self.flow.result
    }

    /// This dissector's state for the flow, created with `Default` on first use.
    pub fn state<T: Default + Send + 'static>(&mut self) -> &mut T {
        let id = self.id;
        let pos = match self.flow.states.iter().position(|(i, _)| *i == id) {
            Some(p) => p,
            None => {
                self.flow.states.push((id, Box::new(T::default())));
                self.flow.states.len() - 1
            }
        };
        let slot = &mut self.flow.states[pos].1;
        if !slot.is::<T>() {
            *slot = Box::new(T::default());
        }
        slot.downcast_mut::<T>().expect("checked just above")
    }

    /// A buffer shared by every flow of the worker (e.g. decrypted QUIC Initials); contents
    /// do not survive the call.
    pub fn scratch(&mut self) -> &mut Vec<u8> {
        self.scratch
    }
}

/// DPI settings.
#[derive(Clone, Debug)]
pub struct DpiConfig {
    /// Packets of a flow offered to the dissectors (`--n-dissections`); 0 turns DPI off.
    pub n_dissections: u32,
    /// Names, categories and guesses.
    pub apps: Arc<apps::AppTable>,
}

impl Default for DpiConfig {
    fn default() -> Self {
        DpiConfig {
            n_dissections: 20,
            apps: Arc::new(apps::AppTable::builtin()),
        }
    }
}

/// Counters of one worker's DPI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DpiCounters {
    /// Packets offered to dissectors.
    pub packets: u64,
    /// Flows whose DPI state was allocated.
    pub flows: u64,
}

/// The dissectors offered a flow of one transport class, in order, and their mask.
#[derive(Clone, Debug, Default)]
struct Offer {
    order: Vec<u8>,
    mask: u128,
}

/// One worker's DPI engine: the dissectors, the tables, a pool of freed flow states.
pub struct Dpi {
    cfg: DpiConfig,
    dissectors: Vec<Box<dyn Dissector>>,
    /// By transport class: TCP, UDP, other (see [`class_of`]).
    offers: [Offer; 3],
    /// `(port, dissector)` sorted by port: who goes first on a well-known port.
    hints: Vec<(u16, u8)>,
    #[allow(
        clippy::vec_box,
        reason = "the boxes move in and out of the flow slots: reused, never reallocated"
    )]
    pool: Vec<Box<FlowDpi>>,
    scratch: Vec<u8>,
    counters: DpiCounters,
}

impl std::fmt::Debug for Dpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpi")
            .field("n_dissections", &self.cfg.n_dissections)
            .field("dissectors", &self.dissectors.len())
            .finish()
    }
}

/// Most flow states kept for reuse per worker.
const POOL_MAX: usize = 1024;

impl Dpi {
    /// An engine with every built-in dissector.
    pub fn new(cfg: DpiConfig) -> Self {
        Self::with_dissectors(cfg, registry::builtin())
    }

    /// An engine with exactly these dissectors (tests), in this order.
    pub fn with_dissectors(cfg: DpiConfig, dissectors: Vec<Box<dyn Dissector>>) -> Self {
        assert!(dissectors.len() <= 128, "at most 128 dissectors");
        let mut offers: [Offer; 3] = Default::default();
        let mut hints = Vec::new();
        for (i, d) in dissectors.iter().enumerate() {
            let t = d.transports();
            for (class, proto) in [(0, 6), (1, 17), (2, 0)] {
                if t.accepts(proto) || (class == 2 && t == Transports::Any) {
                    offers[class].order.push(i as u8);
                    offers[class].mask |= 1u128 << i;
                }
            }
            hints.extend(d.ports().iter().map(|&p| (p, i as u8)));
        }
        hints.sort_unstable();
        Dpi {
            cfg,
            dissectors,
            offers,
            hints,
            pool: Vec::new(),
            scratch: Vec::new(),
            counters: DpiCounters::default(),
        }
    }

    /// Packets per flow offered to the dissectors.
    pub fn n_dissections(&self) -> u32 {
        self.cfg.n_dissections
    }

    /// Counters so far.
    pub fn counters(&self) -> DpiCounters {
        self.counters
    }

    /// A fresh flow state (from the pool when one is there).
    pub fn alloc(&mut self) -> Box<FlowDpi> {
        self.counters.flows += 1;
        self.pool.pop().unwrap_or_default()
    }

    /// Offers one packet with payload to the flow's dissectors. Returns true when dissection
    /// of the flow is over.
    pub fn on_packet(&mut self, flow: &mut FlowDpi, pkt: &Packet<'_>) -> bool {
        if flow.done {
            return true;
        }
        self.counters.packets += 1;
        if let Some(owner) = flow.owner {
            let mut ctx = Context {
                flow,
                id: owner,
                scratch: &mut self.scratch,
            };
            if self.dissectors[owner as usize].dissect(pkt, &mut ctx) != Verdict::Pending {
                flow.end();
            }
        } else {
            let offer = &self.offers[class_of(pkt.protocol)];
            // The dissectors of the flow's well-known ports first, then the rest in order.
            let mut first = [u8::MAX; 4];
            let mut n_first = 0;
            for port in [pkt.dst_port, pkt.src_port] {
                let at = self.hints.partition_point(|&(p, _)| p < port);
                for &(p, i) in &self.hints[at..] {
                    if p != port || n_first == first.len() {
                        break;
                    }
                    if offer.mask & (1u128 << i) != 0 && !first[..n_first].contains(&i) {
                        first[n_first] = i;
                        n_first += 1;
                    }
                }
            }
            let rest = offer
                .order
                .iter()
                .copied()
                .filter(|i| !first[..n_first].contains(i));
            for i in first[..n_first].iter().copied().chain(rest) {
                if flow.rejected & (1u128 << i) != 0 {
                    continue;
                }
                let mut ctx = Context {
                    flow,
                    id: i,
                    scratch: &mut self.scratch,
                };
                let verdict = self.dissectors[i as usize].dissect(pkt, &mut ctx);
                let identified = flow.owner == Some(i);
                match verdict {
                    Verdict::Pending if identified => break,
                    Verdict::Pending => {}
                    Verdict::Done if identified => {
                        flow.end();
                        break;
                    }
                    Verdict::Done | Verdict::Reject => {
                        if flow.owner == Some(i) {
                            flow.owner = None;
                        }
                        flow.rejected |= 1u128 << i;
                        flow.states.retain(|(id, _)| *id != i);
                    }
                }
            }
            if flow.owner.is_none() && flow.rejected & offer.mask == offer.mask {
                flow.end();
            }
        }
        if pkt.index + 1 >= self.cfg.n_dissections {
            flow.end();
        }
        flow.done
    }

    /// Ends dissection of a flow that reached `--n-dissections` packets (or had no payload
    /// in them): frees its dissector states, keeps the result.
    pub fn stop(&mut self, flow: &mut FlowDpi) {
        flow.end();
    }

    /// The exported fields of a running flow (lifecycle events), as they stand.
    pub fn peek(&self, flow: Option<&FlowDpi>, id: &FlowIdentity) -> DpiFields {
        self.cfg.apps.classify(flow.map(|f| &f.result), id)
    }

    /// The exported fields of a flow that ends: `flow` is its DPI state if it had one.
    /// `flow` goes back to the pool.
    pub fn finish(&mut self, mut flow: Option<Box<FlowDpi>>, id: &FlowIdentity) -> DpiFields {
        let result = flow.as_mut().map(|f| std::mem::take(&mut f.result));
        let fields = self.cfg.apps.classify_owned(result, id);
        if let Some(mut f) = flow
            && self.pool.len() < POOL_MAX
        {
            f.reset();
            self.pool.push(f);
        }
        fields
    }
}

#[cfg(test)]
mod engine_tests;

/// Index of a transport class in `Dpi::offers`: TCP, UDP, anything else.
#[inline]
fn class_of(protocol: u8) -> usize {
    match protocol {
        6 => 0,
        17 => 1,
        _ => 2,
    }
}

/// What classification knows of a flow besides its DPI result: addresses, ports, protocol, in
/// the flow's orientation (`src` = initiator).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowIdentity {
    /// IP protocol.
    pub protocol: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Initiator's address.
    pub src_ip: [u8; 16],
    /// Responder's address.
    pub dst_ip: [u8; 16],
    /// Initiator's port.
    pub src_port: u16,
    /// Responder's port.
    pub dst_port: u16,
}

/// True when `bytes` is exactly a sequence of type-length-value items with 16-bit big-endian
/// type and length (DHCPv6 options, MNDP fields) and `each(type, value length)` accepts every
/// one.
pub fn tlv16_fit(mut bytes: &[u8], mut each: impl FnMut(u16, usize) -> bool) -> bool {
    while !bytes.is_empty() {
        let Some(h) = bytes.get(..4) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if !each(u16::from_be_bytes([h[0], h[1]]), len) {
            return false;
        }
        match bytes.get(4 + len..) {
            Some(rest) => bytes = rest,
            None => return false,
        }
    }
    true
}

/// The first bytes of one direction of a flow, gathered across segments up to a fixed cap
/// (allocated once by [`CappedBuffer::new`]): what a parser that needs a whole message head
/// (HTTP, SSH) reads from. Segments must be pushed in order, without gaps; what does not fit is
/// left out, and [`CappedBuffer::is_full`] says so.
#[derive(Clone, Debug)]
pub struct CappedBuffer {
    buf: Box<[u8]>,
    len: usize,
}

impl CappedBuffer {
    /// A buffer holding at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        CappedBuffer {
            buf: vec![0; cap].into_boxed_slice(),
            len: 0,
        }
    }

    /// Appends as much of `data` as fits; returns how many bytes were kept.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// The bytes gathered so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// True when no more bytes fit.
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Empties the buffer (for the next message).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

pub mod ber;
pub mod bgp;
pub mod bittorrent;
pub mod bittorrent_udp;
pub mod db;
pub mod dhcp;
pub mod dhcpv6;
pub mod dns;
pub mod dnscrypt;
pub mod dropbox;
pub mod ftp;
pub mod git;
pub mod http;
pub mod ipsec;
pub mod kerberos;
#[cfg(test)]
mod lan_voip_captures;
pub mod ldap;
pub mod line;
pub mod mail;
pub mod mikrotik;
pub mod modbus;
pub mod natpmp;
pub mod netbios;
pub mod ntp;
pub mod openvpn;
pub mod quic;
pub mod radius;
pub mod rdp;
pub mod rtp;
pub mod rtsp;
#[cfg(test)]
pub mod service_testing;
pub mod sip;
pub mod smb;
pub mod spotify;
pub mod ssh;
pub mod stun;
pub mod syslog;
pub mod telegram;
pub mod telnet;
pub mod teredo;
#[cfg(test)]
pub mod testing;
pub mod tls;
pub mod vnc;
pub mod wireguard;
pub mod zoom;
