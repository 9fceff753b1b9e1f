//! Prometheus metrics on `GET /metrics` (issue 6): the numbers every thread already publishes
//! into [`Counters`] (once per batch), rendered in the text exposition format when scraped.
//!
//! ```text
//! workers, reader, exporter, sinks, main tick ── atomics (once per batch / tick) ──► Counters
//! xdpflow-metrics thread: accept ─► Registry::gather ─► CountersCollector::collect (reads the
//!    atomics) + the crate's process collector ─► TextEncoder ─► HTTP/1.1 response
//! ```
//!
//! This module owns the names ([`names`]), what each one means (the help text in
//! [`FAMILIES`]) and the endpoint ([`server`]). It does not count anything: the data path is
//! the same with or without a scrape, and a scrape only loads atomics (its cost does not
//! matter, the data path's does).
//!
//! Families whose subject does not exist in a run are absent rather than zero: no XDP
//! counters in pcap mode or with AF_PACKET, no ring statistics for a source without a ring,
//! no queue series before the run registers its queues, no DPI category before a classified
//! flow is exported.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};

use crate::flow::EndReason;
use crate::packet::DropReason;
use crate::pipeline::Counters;

pub mod names;
pub mod server;

pub use self::server::{MetricsServer, serve};

/// Counter (only goes up within a run) or gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `_total` counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// One metric family: its name, type, label names and help text.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// A constant of [`names`].
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Label names, from [`names::LABELS`].
    pub labels: &'static [&'static str],
    /// `# HELP` text: what is counted, and where.
    pub help: &'static str,
}

const fn family(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
    }
}

/// Every family served, in exposition order.
pub const FAMILIES: &[Family] = &[
    family(
        names::BUILD_INFO,
        Kind::Gauge,
        &["version"],
        "Always 1; the version label is the running build's.",
    ),
    family(
        names::RECEIVED_PACKETS,
        Kind::Counter,
        &["queue"],
        "Live: frames received from the capture queue's ring. Pcap mode: packets handed to \
         the worker (frames the decoder dropped count only by reason).",
    ),
    family(
        names::RECEIVED_BYTES,
        Kind::Counter,
        &["queue"],
        "Wire bytes of xdpflow_received_packets_total.",
    ),
    family(
        names::XDP_PACKETS,
        Kind::Counter,
        &["action"],
        "Frames the XDP steering program ran on, by what it did: redirected to the queue's \
         AF_XDP socket, passed (no socket), filtered (pre-filter), sampled_out, or \
         redirect_error (all but redirected go to the host stack).",
    ),
    family(
        names::RING_RX_DROPPED,
        Kind::Counter,
        &["queue"],
        "Frames the kernel dropped for the queue's socket (AF_XDP rx_dropped, AF_PACKET \
         tp_drops).",
    ),
    family(
        names::RING_RX_RING_FULL,
        Kind::Counter,
        &["queue"],
        "AF_XDP rx_ring_full: frames lost because the socket's RX ring was full.",
    ),
    family(
        names::RING_FILL_RING_EMPTY,
        Kind::Counter,
        &["queue"],
        "AF_XDP rx_fill_ring_empty_descs: frames lost because the FILL ring was empty.",
    ),
    family(
        names::RING_INVALID_DESCS,
        Kind::Counter,
        &["queue"],
        "AF_XDP rx_invalid_descs: invalid RX descriptors.",
    ),
    family(
        names::RING_FREEZES,
        Kind::Counter,
        &["queue"],
        "AF_PACKET tp_freeze_q_cnt: times the ring froze because every block was full.",
    ),
    family(
        names::DECODE_DROPPED,
        Kind::Counter,
        &["reason"],
        "Frames the decoder could not turn into a flow packet, by reason.",
    ),
    family(
        names::FLOWS_ACTIVE,
        Kind::Gauge,
        &["queue"],
        "Flows in the queue's (worker's) flow table now.",
    ),
    family(
        names::FLOWS_CREATED,
        Kind::Counter,
        &["queue"],
        "Flows created.",
    ),
    family(
        names::FLOWS_EXPORTED,
        Kind::Counter,
        &["queue", "reason"],
        "Flows that ended and left the table as records, by end reason.",
    ),
    family(
        names::FLOWS_EVICTED,
        Kind::Counter,
        &["queue"],
        "Flows ended early because the flow table was full (--max-flows).",
    ),
    family(
        names::EXPORT_RECORDS_DROPPED,
        Kind::Counter,
        &[],
        "Records a live worker dropped because the exporter's queue was full.",
    ),
    family(
        names::DPI_CLASSIFICATIONS,
        Kind::Counter,
        &["category"],
        "Ended flows classified by DPI (--n-dissections > 0), by application category (nDPI's \
         names; Unspecified when unknown).",
    ),
    family(
        names::SINK_RECORDS,
        Kind::Counter,
        &["sink"],
        "Records handed to the sink.",
    ),
    family(
        names::SINK_BYTES,
        Kind::Counter,
        &["sink"],
        "Bytes the sink wrote.",
    ),
    family(
        names::SINK_BATCHES,
        Kind::Counter,
        &["sink"],
        "Output batches: flushes that carried records.",
    ),
    family(
        names::SINK_DROPPED,
        Kind::Counter,
        &["sink"],
        "Records the sink dropped: its queue was full, or it could not deliver them.",
    ),
    family(
        names::SINK_ERRORS,
        Kind::Counter,
        &["sink"],
        "Failures the sink recovered from (reconnects, failed sends).",
    ),
    family(
        names::SINK_QUEUE_DEPTH,
        Kind::Gauge,
        &["sink"],
        "Record batches waiting in the sink's queue.",
    ),
];

/// The label value of the `version` label of [`names::BUILD_INFO`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Renders [`Counters`] at each scrape (a [`Collector`] for a [`prometheus::Registry`]).
#[derive(Debug)]
pub struct CountersCollector {
    counters: Arc<Counters>,
    descs: Vec<Desc>,
}

impl CountersCollector {
    /// A collector over `counters`.
    ///
    /// # Errors
    ///
    /// A family in [`FAMILIES`] has an invalid name, label or help (a unit test checks they
    /// all are valid).
    pub fn new(counters: Arc<Counters>) -> Result<Self, prometheus::Error> {
        let descs = FAMILIES
            .iter()
            .map(|f| {
                Desc::new(
                    f.name.to_string(),
                    f.help.to_string(),
                    f.labels.iter().map(|l| (*l).to_string()).collect(),
                    HashMap::new(),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(CountersCollector { counters, descs })
    }
}

impl Collector for CountersCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        render(&self.counters)
    }
}

/// Collects the samples of one scrape, family by family.
struct Samples {
    by_name: HashMap<&'static str, Vec<proto::Metric>>,
}

impl Samples {
    fn add(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let kind = FAMILIES
            .iter()
            .find(|f| f.name == name)
            .map_or(Kind::Gauge, |f| f.kind);
        let pairs = labels
            .iter()
            .map(|(k, v)| {
                let mut p = LabelPair::default();
                p.set_name((*k).to_string());
                p.set_value((*v).to_string());
                p
            })
            .collect();
        let mut m = proto::Metric::from_label(pairs);
        match kind {
            Kind::Counter => {
                let mut c = proto::Counter::default();
                c.set_value(value);
                m.set_counter(c);
            }
            Kind::Gauge => {
                let mut g = proto::Gauge::default();
                g.set_value(value);
                m.set_gauge(g);
            }
        }
        self.by_name.entry(name).or_default().push(m);
    }

    fn atomic(&mut self, name: &'static str, labels: &[(&str, &str)], a: &AtomicU64) {
        self.add(name, labels, a.load(Ordering::Relaxed) as f64);
    }
}

/// The families of one scrape, read from `c`, in [`FAMILIES`] order; families without a
/// sample are left out.
pub fn render(c: &Counters) -> Vec<MetricFamily> {
    let mut s = Samples {
        by_name: HashMap::new(),
    };
    s.add(names::BUILD_INFO, &[("version", VERSION)], 1.0);

    let queues = c.queues();
    let queue_names = unique_labels(queues.iter().map(|q| q.name.as_str()));
    for (q, name) in queues.iter().zip(&queue_names) {
        let l = [("queue", name.as_str())];
        s.atomic(names::RECEIVED_PACKETS, &l, &q.packets);
        s.atomic(names::RECEIVED_BYTES, &l, &q.bytes);
        s.atomic(names::FLOWS_ACTIVE, &l, &q.flows_active);
        s.atomic(names::FLOWS_CREATED, &l, &q.flows_created);
        for r in EndReason::ALL {
            let lr = [("queue", name.as_str()), ("reason", r.as_label())];
            s.atomic(names::FLOWS_EXPORTED, &lr, &q.flows_ended[r as usize]);
        }
        s.atomic(
            names::FLOWS_EVICTED,
            &l,
            &q.flows_ended[EndReason::Evicted as usize],
        );
        if let Some(r) = q.ring.load() {
            s.add(names::RING_RX_DROPPED, &l, r.dropped as f64);
            s.add(names::RING_RX_RING_FULL, &l, r.rx_ring_full as f64);
            s.add(names::RING_FILL_RING_EMPTY, &l, r.fill_ring_empty as f64);
            s.add(names::RING_INVALID_DESCS, &l, r.invalid_descs as f64);
            s.add(names::RING_FREEZES, &l, r.freeze_count as f64);
        }
    }

    if let Some(x) = c.xdp.load() {
        for (action, n) in [
            ("redirected", x.redirected),
            ("passed", x.passed),
            ("filtered", x.filtered),
            ("sampled_out", x.sampled_out),
            ("redirect_error", x.redirect_errors),
        ] {
            s.add(names::XDP_PACKETS, &[("action", action)], n as f64);
        }
    }

    for r in DropReason::ALL {
        s.atomic(
            names::DECODE_DROPPED,
            &[("reason", r.as_label())],
            &c.drops[r as usize],
        );
    }
    s.atomic(names::EXPORT_RECORDS_DROPPED, &[], &c.records_dropped);
    for (category, n) in c
        .dpi_categories
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        s.add(
            names::DPI_CLASSIFICATIONS,
            &[("category", category.as_str())],
            *n as f64,
        );
    }

    let sinks = c.sinks();
    let sink_names = unique_labels(sinks.iter().map(|(n, _)| *n));
    for ((_, k), name) in sinks.iter().zip(&sink_names) {
        let l = [("sink", name.as_str())];
        s.atomic(names::SINK_RECORDS, &l, &k.records);
        s.atomic(names::SINK_BYTES, &l, &k.bytes);
        s.atomic(names::SINK_BATCHES, &l, &k.batches);
        s.atomic(names::SINK_DROPPED, &l, &k.dropped);
        s.atomic(names::SINK_ERRORS, &l, &k.errors);
        s.atomic(names::SINK_QUEUE_DEPTH, &l, &k.queue_depth);
    }

    FAMILIES
        .iter()
        .filter_map(|f| {
            let metrics = s.by_name.remove(f.name)?;
            let mut mf = MetricFamily::default();
            mf.set_name(f.name.to_string());
            mf.set_help(f.help.to_string());
            mf.set_field_type(match f.kind {
                Kind::Counter => MetricType::COUNTER,
                Kind::Gauge => MetricType::GAUGE,
            });
            mf.set_metric(metrics);
            Some(mf)
        })
        .collect()
}

/// Label values for `names`, made unique by suffixing repeats (`json`, `json-2`): two sinks of
/// one kind (two `--json` outputs) must not share a series.
fn unique_labels<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    names
        .map(|n| {
            let k = seen.entry(n).or_insert(0);
            *k += 1;
            if *k == 1 {
                n.to_string()
            } else {
                format!("{n}-{k}")
            }
        })
        .collect()
}

/// A registry of everything served: our families plus the process collector's.
///
/// # Errors
///
/// The registry refused a collector.
pub fn registry(counters: &Arc<Counters>) -> Result<prometheus::Registry, prometheus::Error> {
    let r = prometheus::Registry::new();
    r.register(Box::new(CountersCollector::new(Arc::clone(counters))?))?;
    r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(r)
}

/// One scrape of `registry` as text (`text/plain; version=0.0.4`).
///
/// # Errors
///
/// Encoding failed.
pub fn scrape(registry: &prometheus::Registry) -> Result<String, prometheus::Error> {
    prometheus::TextEncoder::new().encode_to_string(&registry.gather())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::RingStats;
    use crate::export::stage::SinkCounters;

    fn text(c: &Arc<Counters>) -> String {
        scrape(&registry(c).expect("registry")).expect("encodes")
    }

    /// `name{labels} value` lines of our families (process metrics left out).
    fn samples(t: &str) -> Vec<&str> {
        t.lines()
            .filter(|l| l.starts_with("xdpflow_"))
            .collect::<Vec<_>>()
    }

    #[test]
    fn names_are_prefixed_unique_and_typed_by_suffix() {
        let mut seen = std::collections::HashSet::new();
        for n in names::ALL {
            assert!(n.starts_with("xdpflow_"), "{n}");
            assert!(seen.insert(n), "{n} twice");
            let f = FAMILIES.iter().find(|f| f.name == *n).expect("served");
            assert_eq!(
                f.kind == Kind::Counter,
                n.ends_with("_total"),
                "{n}: counters and only counters end in _total"
            );
            assert!(f.labels.iter().all(|l| names::LABELS.contains(l)), "{n}");
            assert!(!f.help.is_empty());
        }
        assert_eq!(FAMILIES.len(), names::ALL.len());
        for (n, _) in names::PENDING {
            assert!(names::ALL.contains(n));
        }
        // Every family is a valid Prometheus descriptor.
        CountersCollector::new(Arc::new(Counters::default())).expect("valid descriptors");
    }

    #[test]
    fn before_a_run_only_the_run_independent_families_are_there() {
        let t = text(&Arc::new(Counters::default()));
        assert!(
            t.contains(&format!("xdpflow_build_info{{version=\"{VERSION}\"}} 1\n")),
            "{t}"
        );
        assert!(t.contains("# TYPE xdpflow_decode_dropped_packets_total counter"));
        assert!(t.contains("xdpflow_decode_dropped_packets_total{reason=\"not_ip\"} 0\n"));
        assert_eq!(
            t.matches("xdpflow_decode_dropped_packets_total{").count(),
            DropReason::COUNT
        );
        assert!(t.contains("xdpflow_export_records_dropped_total 0\n"));
        for absent in [
            names::RECEIVED_PACKETS,
            names::XDP_PACKETS,
            names::RING_RX_DROPPED,
            names::SINK_RECORDS,
            names::DPI_CLASSIFICATIONS,
        ] {
            assert!(!t.contains(absent), "{absent} without a subject: {t}");
        }
        assert!(
            t.contains("process_cpu_seconds_total"),
            "process metrics: {t}"
        );
    }

    #[test]
    fn a_run_renders_every_queue_sink_ring_and_xdp_counter() {
        let c = Arc::new(Counters::default());
        let q = c.register_queue("eth0/3");
        q.packets.store(10, Ordering::Relaxed);
        q.bytes.store(1500, Ordering::Relaxed);
        q.flows_active.store(4, Ordering::Relaxed);
        q.flows_created.store(6, Ordering::Relaxed);
        q.flows_ended[EndReason::Evicted as usize].store(2, Ordering::Relaxed);
        q.ring.publish(&RingStats {
            rx_ring_full: 7,
            ..RingStats::default()
        });
        c.register_queue("eth0/4"); // no ring read yet
        c.drops[DropReason::NotIp as usize].store(3, Ordering::Relaxed);
        c.xdp.publish(&xdp_prog::loader::SteerCounters {
            seen: 12,
            redirected: 10,
            passed: 2,
            ..Default::default()
        });
        let json = Arc::new(SinkCounters::default());
        json.records.store(6, Ordering::Relaxed);
        c.register_sinks(vec![
            ("json", Arc::clone(&json)),
            ("json", Arc::new(SinkCounters::default())),
        ]);
        let t = text(&c);
        for line in [
            "xdpflow_received_packets_total{queue=\"eth0/3\"} 10",
            "xdpflow_received_bytes_total{queue=\"eth0/3\"} 1500",
            "xdpflow_received_packets_total{queue=\"eth0/4\"} 0",
            "xdpflow_flows_active{queue=\"eth0/3\"} 4",
            "xdpflow_flows_created_total{queue=\"eth0/3\"} 6",
            "xdpflow_flows_exported_total{queue=\"eth0/3\",reason=\"evicted\"} 2",
            "xdpflow_flows_exported_total{queue=\"eth0/3\",reason=\"idle\"} 0",
            "xdpflow_flows_evicted_total{queue=\"eth0/3\"} 2",
            "xdpflow_ring_rx_ring_full_packets_total{queue=\"eth0/3\"} 7",
            "xdpflow_decode_dropped_packets_total{reason=\"not_ip\"} 3",
            "xdpflow_xdp_packets_total{action=\"redirected\"} 10",
            "xdpflow_xdp_packets_total{action=\"passed\"} 2",
            "xdpflow_sink_records_total{sink=\"json\"} 6",
            "xdpflow_sink_records_total{sink=\"json-2\"} 0",
            "xdpflow_sink_queue_depth_batches{sink=\"json\"} 0",
        ] {
            assert!(samples(&t).contains(&line), "missing `{line}` in:\n{t}");
        }
        assert!(!t.contains("queue=\"eth0/4\"} 0\nxdpflow_ring"), "{t}");
        assert_eq!(
            t.matches("xdpflow_ring_rx_dropped_packets_total{").count(),
            1
        );
        assert_eq!(t.matches("xdpflow_xdp_packets_total{").count(), 5);
        // Each family once, with HELP and TYPE.
        for f in FAMILIES
            .iter()
            .filter(|f| f.name != names::DPI_CLASSIFICATIONS)
        {
            assert_eq!(
                t.matches(&format!("# TYPE {} ", f.name)).count(),
                1,
                "{}",
                f.name
            );
            assert_eq!(
                t.matches(&format!("# HELP {} ", f.name)).count(),
                1,
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn repeated_names_get_distinct_labels() {
        let got = unique_labels(["json", "nmsg", "json", "json"].into_iter());
        assert_eq!(got, ["json", "nmsg", "json-2", "json-3"]);
    }
}
