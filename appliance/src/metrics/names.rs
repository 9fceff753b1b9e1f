//! Every metric name the appliance serves, as a constant (STYLE.md §9): counters are
//! `xdpflow_<name>_<unit>_total`, gauges `xdpflow_<name>[_<unit>]`. Dashboards, alerts and
//! tests refer to these names, so renaming one is a breaking change: add the new name, keep
//! the old one for a release.
//!
//! Label names come from a bounded set ([`LABELS`]); label values are queue names
//! (`eth0/3`, `worker0`), reasons and actions from fixed enums, and sink names. Never an
//! address, a port or anything else taken from traffic.
//!
//! This module owns the names only; what each one counts is written in `metrics::FAMILIES`
//! (the help text served with it).

/// `version` label: `1` for the running build.
pub const BUILD_INFO: &str = "xdpflow_build_info";

/// `queue` label. Frames received from a capture queue (live) or packets handed to a worker
/// (pcap mode).
pub const RECEIVED_PACKETS: &str = "xdpflow_received_packets_total";
/// `queue` label. Wire bytes of [`RECEIVED_PACKETS`].
pub const RECEIVED_BYTES: &str = "xdpflow_received_bytes_total";

/// `action` label (`redirected`, `passed`, `filtered`, `sampled_out`, `redirect_error`).
/// Frames the XDP steering program ran on, by what it did with them (live AF_XDP only).
pub const XDP_PACKETS: &str = "xdpflow_xdp_packets_total";

/// `queue` label. The AF_XDP socket's `rx_dropped` (AF_PACKET: `tp_drops`).
pub const RING_RX_DROPPED: &str = "xdpflow_ring_rx_dropped_packets_total";
/// `queue` label. The AF_XDP socket's `rx_ring_full`: frames lost because the RX ring was
/// full.
pub const RING_RX_RING_FULL: &str = "xdpflow_ring_rx_ring_full_packets_total";
/// `queue` label. The AF_XDP socket's `rx_fill_ring_empty_descs`: frames lost because the
/// FILL ring was empty.
pub const RING_FILL_RING_EMPTY: &str = "xdpflow_ring_fill_ring_empty_packets_total";
/// `queue` label. The AF_XDP socket's `rx_invalid_descs`.
pub const RING_INVALID_DESCS: &str = "xdpflow_ring_invalid_descriptors_total";
/// `queue` label. AF_PACKET: times the ring froze because every block was full
/// (`tp_freeze_q_cnt`).
pub const RING_FREEZES: &str = "xdpflow_ring_freezes_total";

/// `reason` label (`packet::DropReason::as_label`). Frames the decoder dropped.
pub const DECODE_DROPPED: &str = "xdpflow_decode_dropped_packets_total";

/// `queue` label. Flows in the flow table now (gauge).
pub const FLOWS_ACTIVE: &str = "xdpflow_flows_active";
/// `queue` label. Flows created.
pub const FLOWS_CREATED: &str = "xdpflow_flows_created_total";
/// `queue`, `reason` labels (`flow::EndReason::as_label`). Flows that ended and left the
/// table as records.
pub const FLOWS_EXPORTED: &str = "xdpflow_flows_exported_total";
/// `queue` label. Flows evicted because the table was full (the same events as
/// [`FLOWS_EXPORTED`] with `reason="evicted"`, kept apart for the drops panel).
pub const FLOWS_EVICTED: &str = "xdpflow_flows_evicted_total";
/// Records a live worker dropped because the exporter's queue was full.
pub const EXPORT_RECORDS_DROPPED: &str = "xdpflow_export_records_dropped_total";

/// `category` label. Ended flows classified by DPI, by application category (nDPI's category
/// names, `Unspecified` for unknown flows), counted by the exporter.
pub const DPI_CLASSIFICATIONS: &str = "xdpflow_dpi_classifications_total";

/// `sink` label. Records handed to a sink.
pub const SINK_RECORDS: &str = "xdpflow_sink_records_total";
/// `sink` label. Bytes a sink wrote.
pub const SINK_BYTES: &str = "xdpflow_sink_bytes_total";
/// `sink` label. Output batches (flushes that carried records).
pub const SINK_BATCHES: &str = "xdpflow_sink_batches_total";
/// `sink` label. Records a sink dropped: its queue was full, or it could not deliver them.
pub const SINK_DROPPED: &str = "xdpflow_sink_dropped_records_total";
/// `sink` label. Failures a sink recovered from (reconnects, failed sends).
pub const SINK_ERRORS: &str = "xdpflow_sink_errors_total";
/// `sink` label. Batches waiting in a sink's queue (gauge).
pub const SINK_QUEUE_DEPTH: &str = "xdpflow_sink_queue_depth_batches";

/// The process collector's CPU time (standard name, no `xdpflow_` prefix, so stock
/// dashboards and alerts work).
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// The process collector's resident memory (standard name).
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";

/// Every `xdpflow_` name above.
pub const ALL: &[&str] = &[
    BUILD_INFO,
    RECEIVED_PACKETS,
    RECEIVED_BYTES,
    XDP_PACKETS,
    RING_RX_DROPPED,
    RING_RX_RING_FULL,
    RING_FILL_RING_EMPTY,
    RING_INVALID_DESCS,
    RING_FREEZES,
    DECODE_DROPPED,
    FLOWS_ACTIVE,
    FLOWS_CREATED,
    FLOWS_EXPORTED,
    FLOWS_EVICTED,
    EXPORT_RECORDS_DROPPED,
    DPI_CLASSIFICATIONS,
    SINK_RECORDS,
    SINK_BYTES,
    SINK_BATCHES,
    SINK_DROPPED,
    SINK_ERRORS,
    SINK_QUEUE_DEPTH,
];

/// Names that are registered but have no publisher yet, with what they wait for (none now).
pub const PENDING: &[(&str, &str)] = &[];

/// Every label name a metric of ours may carry.
pub const LABELS: &[&str] = &["queue", "reason", "action", "sink", "category", "version"];
