//! Flows: the bidirectional [`FlowKey`], the per-worker [`Shard`] table with its expiry, and
//! the [`FlowRecord`] it emits. Does not decode packets (`packet`), move them between threads
//! (`pipeline`) or encode records (`export`).

pub mod key;
pub mod plugin;
pub mod record;
pub mod shard;
pub mod stats;

pub use self::key::{FlowKey, KeyHasher, Side};
pub use self::plugin::{FlowPlugin, FlowView, PluginAction, PluginFactory, PluginPacket, Udps};
pub use self::record::{DirCounters, EndReason, FlowRecord, RecordKind, Splt};
pub use self::shard::{
    Accounting, EventConfig, FlowConfig, FlowPacket, Payloads, Shard, ShardCounters, ShardExtras,
};
pub use self::stats::FlowStats;
