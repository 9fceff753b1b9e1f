//! Flow plugins: the Rust form of nfstream's `NFPlugin`. A plugin sees every packet of every
//! flow of its worker, keeps its own per-flow values in the flow's [`Udps`] (exported under
//! `udps` by every sink that carries the whole record: JSON, NMSG with `--nmsg-encode`, the
//! events file, Redis) and may end a flow early. One instance per worker, made by its
//! [`PluginFactory`], so a plugin needs no locks.
//!
//! ```text
//! first packet of a flow ─► on_init      later packets ─► on_update (may return EndFlow)
//! flow ends (any reason) ─► on_expire ─► record.udps
//! ```
//!
//! Examples: `appliance/examples/big_packets.rs` (a metric), `appliance/examples/
//! size_classifier.rs` (a classifier).

use std::sync::Arc;

use super::record::DirCounters;
use crate::dpi::{FlowIdentity, Value};

/// One packet as a plugin sees it.
#[derive(Clone, Copy, Debug)]
pub struct PluginPacket<'a> {
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// IP packet length per its header.
    pub ip_len: u32,
    /// 0: from the flow's `src`; 1: from `dst`.
    pub direction: u8,
    /// TCP flags, 0 for other transports.
    pub tcp_flags: u8,
    /// The transport payload as far as it is available to the worker (empty when DPI and its
    /// payload copy are off: `--n-dissections 0`). Its full length is `payload_len`.
    pub payload: &'a [u8],
    /// Payload bytes in the frame.
    pub payload_len: u32,
}

/// A flow as a plugin sees it: identity and counters so far (this packet included).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowView {
    /// Protocol, addresses and ports, in the flow's orientation (`src` = initiator).
    pub identity: FlowIdentity,
    /// Packets from `src`.
    pub src2dst: DirCounters,
    /// Packets from `dst`.
    pub dst2src: DirCounters,
}

impl FlowView {
    /// Packets both ways.
    pub fn bidirectional_packets(&self) -> u64 {
        self.src2dst.packets + self.dst2src.packets
    }
}

/// A flow's plugin values (`udps`), in the order they were first set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Udps(Vec<(&'static str, Value)>);

impl Udps {
    /// Sets (or replaces) a value.
    pub fn set(&mut self, name: &'static str, value: impl Into<Value>) {
        crate::dpi::set_field(&mut self.0, name, value.into());
    }

    /// A value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        crate::dpi::get_field(&self.0, name)
    }

    /// An integer value (0 when unset or not an integer): for counters.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(v)) => *v,
            _ => 0,
        }
    }

    /// Every value.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> + '_ {
        self.0.iter().map(|(n, v)| (*n, v))
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// What a plugin wants after a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PluginAction {
    /// Nothing special.
    #[default]
    Continue,
    /// End the flow now (exported with `end_reason` `plugin`, nfstream's expiration_id −1);
    /// its next packet starts a new flow.
    EndFlow,
}

/// A flow plugin. Every method defaults to doing nothing.
pub trait FlowPlugin: Send {
    /// The flow's first packet.
    fn on_init(&mut self, _pkt: &PluginPacket<'_>, _flow: &FlowView, _udps: &mut Udps) {}

    /// Every later packet.
    fn on_update(
        &mut self,
        _pkt: &PluginPacket<'_>,
        _flow: &FlowView,
        _udps: &mut Udps,
    ) -> PluginAction {
        PluginAction::Continue
    }

    /// The flow ends (any reason), before its record is made.
    fn on_expire(&mut self, _flow: &FlowView, _udps: &mut Udps) {}
}

/// Makes one plugin instance per worker.
pub type PluginFactory = Arc<dyn Fn() -> Box<dyn FlowPlugin> + Send + Sync>;
