//! [`FlowRecord`]: what leaves the flow table, with nfstream's field names and meanings.
//!
//! A record is plain data: sinks in `export/` turn it into bytes. Optional parts (`--stats`,
//! `--splt`) are boxed so a record without them stays small on the export queues.

use super::plugin::Udps;
use super::stats::FlowStats;
use crate::dpi::DpiFields;

/// Why a flow left the table. Exported as `end_reason` and as nfstream's `expiration_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for `--idle-timeout`.
    Idle,
    /// Older than `--active-timeout` (the flow continues as a new record).
    Active,
    /// TCP ended: FIN seen in both directions, or a RST.
    End,
    /// The table was full (`--max-flows`): the least recently seen flow made room.
    Evicted,
    /// End of input, or the appliance stopped (the default of a blank record).
    #[default]
    Shutdown,
    /// A flow plugin ended it (`PluginAction::EndFlow`).
    Plugin,
}

impl EndReason {
    /// Number of variants (counter arrays).
    pub const COUNT: usize = 6;
    /// Every variant in counter order.
    pub const ALL: [EndReason; EndReason::COUNT] = [
        EndReason::Idle,
        EndReason::Active,
        EndReason::End,
        EndReason::Evicted,
        EndReason::Shutdown,
        EndReason::Plugin,
    ];

    /// The `end_reason` string.
    pub fn as_label(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::End => "end",
            EndReason::Evicted => "evicted",
            EndReason::Shutdown => "shutdown",
            EndReason::Plugin => "plugin",
        }
    }

    /// nfstream's `expiration_id`: idle 0, active 1, anything else −1.
    pub fn expiration_id(self) -> i8 {
        match self {
            EndReason::Idle => 0,
            EndReason::Active => 1,
            _ => -1,
        }
    }
}

/// What a record stands for. Without lifecycle events (the default) every record is `End`: a
/// flow that ended. With events (`FlowConfig::events`, asked for by a sink such as Redis), the
/// shard also emits the flow as it stands when it is created (`Insert`) and while it runs
/// (`Update`); its `End` record is the `remove` event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// The flow ended; `end_reason` says why.
    #[default]
    End,
    /// The flow was just created (one packet accounted); `end_reason` is meaningless.
    Insert,
    /// The flow as it stands, while it runs; `end_reason` is meaningless.
    Update,
}

impl RecordKind {
    /// The event's name: `remove`, `insert`, `update`.
    pub fn as_event(self) -> &'static str {
        match self {
            RecordKind::End => "remove",
            RecordKind::Insert => "insert",
            RecordKind::Update => "update",
        }
    }
}

/// Counters of one direction (or of both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirCounters {
    /// First packet, ms since the epoch; 0 when `packets` is 0.
    pub first_seen_ms: u64,
    /// Last packet, ms since the epoch; 0 when `packets` is 0.
    pub last_seen_ms: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes, per `--accounting`.
    pub bytes: u64,
}

impl DirCounters {
    /// `last_seen_ms - first_seen_ms`.
    pub fn duration_ms(&self) -> u64 {
        self.last_seen_ms - self.first_seen_ms
    }
}

/// The first packets of a flow (`--splt N`): nfstream's `splt_direction`, `splt_ps` and
/// `splt_piat_ms`, padded with −1 up to N.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Splt {
    /// 0 src→dst, 1 dst→src, −1 padding.
    pub direction: Vec<i8>,
    /// Packet size per `--accounting`, −1 padding.
    pub ps: Vec<i32>,
    /// Milliseconds since the previous packet of the flow (0 for the first), −1 padding.
    pub piat_ms: Vec<i64>,
}

/// One finished flow. `Default` is a blank record (all zero, `shutdown`), for tests and
/// builders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowRecord {
    /// Unique per run: `creation sequence × workers + worker index`.
    pub id: u64,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Address of the side that sent the first packet (IPv4 in the first 4 bytes).
    pub src_ip: [u8; 16],
    /// Address of the other side.
    pub dst_ip: [u8; 16],
    /// MAC of the `src` side as seen in the first packet (zero without Ethernet).
    pub src_mac: [u8; 6],
    /// MAC of the `dst` side as seen in the first packet.
    pub dst_mac: [u8; 6],
    /// Source port (0 for portless protocols).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub protocol: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Innermost VLAN id, 0 if none.
    pub vlan_id: u16,
    /// `packet::tunnel` kind, 0 if not tunnelled.
    pub tunnel_id: u32,
    /// OR of the TCP flags seen, `[src2dst, dst2src]`; 0 for other protocols.
    pub tcp_flags: [u8; 2],
    /// Packets from `src` to `dst`.
    pub src2dst: DirCounters,
    /// Packets from `dst` to `src`.
    pub dst2src: DirCounters,
    /// `--stats`.
    pub stats: Option<Box<FlowStats>>,
    /// `--splt N`.
    pub splt: Option<Box<Splt>>,
    /// End of the flow, or a lifecycle event (see [`RecordKind`]).
    pub kind: RecordKind,
    /// Application, category and L7 metadata (`--n-dissections` > 0).
    pub dpi: Option<Box<DpiFields>>,
    /// Flow plugins' values (`udps`), when plugins run.
    pub udps: Option<Box<Udps>>,
}

impl FlowRecord {
    /// Both directions together (`bidirectional_*`).
    pub fn bidirectional(&self) -> DirCounters {
        let (a, b) = (&self.src2dst, &self.dst2src);
        let first = match (a.packets, b.packets) {
            (0, _) => b.first_seen_ms,
            (_, 0) => a.first_seen_ms,
            _ => a.first_seen_ms.min(b.first_seen_ms),
        };
        DirCounters {
            first_seen_ms: first,
            last_seen_ms: a.last_seen_ms.max(b.last_seen_ms),
            packets: a.packets + b.packets,
            bytes: a.bytes + b.bytes,
        }
    }

    /// `src_ip` as a standard address.
    pub fn src_addr(&self) -> std::net::IpAddr {
        ip_addr(self.ip_version, &self.src_ip)
    }

    /// `dst_ip` as a standard address.
    pub fn dst_addr(&self) -> std::net::IpAddr {
        ip_addr(self.ip_version, &self.dst_ip)
    }
}

/// An address as stored in a key (IPv4 in the first 4 bytes) as a standard address.
pub fn ip_addr(version: u8, b: &[u8; 16]) -> std::net::IpAddr {
    if version == 4 {
        std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
    } else {
        std::net::IpAddr::from(*b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_ids_follow_nfstream() {
        let ids: Vec<i8> = EndReason::ALL.iter().map(|r| r.expiration_id()).collect();
        assert_eq!(ids, [0, 1, -1, -1, -1, -1]);
    }

    #[test]
    fn bidirectional_ignores_an_empty_direction() {
        let a = DirCounters {
            first_seen_ms: 10,
            last_seen_ms: 20,
            packets: 2,
            bytes: 100,
        };
        let mut r = FlowRecord {
            end_reason: EndReason::Idle,
            protocol: 17,
            ip_version: 4,
            src2dst: a,
            ..FlowRecord::default()
        };
        assert_eq!(r.bidirectional(), a);
        r.dst2src = DirCounters {
            first_seen_ms: 5,
            last_seen_ms: 15,
            packets: 1,
            bytes: 1,
        };
        let bi = r.bidirectional();
        assert_eq!(
            (bi.first_seen_ms, bi.last_seen_ms, bi.packets, bi.bytes),
            (5, 20, 3, 101)
        );
        assert_eq!(bi.duration_ms(), 15);
    }
}
