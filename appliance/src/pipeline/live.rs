//! Wiring of the live data path: one pinned worker per capture queue, one exporter.
//!
//! ```text
//! worker q (pinned to its core): PacketSource (AF_XDP socket or AF_PACKET fanout member of
//!    queue q) → packet::Decoder → flow::Shard[q] → expired records
//!    ▼ bounded channel of Vec<FlowRecord>; full ⇒ the batch is dropped and counted
//!    │ (capture never waits for export)
//! exporter ─► export::stage: one thread, queue, batching and policy per sink
//! caller's thread: ticks (progress, kernel counters) until `Counters::stop` is raised
//! ```
//!
//! Unlike the offline path there is no dispatch: the NIC (RSS, symmetric key) or the kernel
//! (PACKET_FANOUT_HASH) has already put both directions of a flow on the same queue, and each
//! worker owns its shard outright. Time is the wall clock, read once per batch and never
//! allowed to go back; a worker whose queue is silent still advances its shard every
//! [`IDLE_WAIT`], so idle flows leave on time.
//!
//! Stopping (SIGINT/SIGTERM raise `Counters::stop`): the caller's `stop_capture` hook runs first
//! (AF_XDP: the sockets leave the XSKMAP, so new packets go to the kernel stack instead of a
//! ring nobody reads); then every worker empties its ring, ends every flow (reason
//! `shutdown`) and sends the records with a blocking send, so nothing built is lost; then the
//! exporter drains the sinks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};

use super::{
    Counters, Outcome, QueueCounters, RECORD_BATCH, Summary, export_loop, finish_outcome, join,
    start_stage,
};
use crate::capture::{Frame, PacketSource, RingStats, wall_clock_ns};
use crate::error::Error;
use crate::export::ExportSink;
use crate::export::stage::StageConfig;
use crate::flow::{
    EndReason, FlowConfig, FlowPacket, FlowRecord, KeyHasher, Payloads, Shard, ShardExtras,
};
use crate::packet::{Decoder, DecoderConfig, DropReason};

/// Frames taken from a ring per call.
const READ_BATCH: usize = 256;
/// How long a worker sleeps in `poll()` when its ring is empty before advancing its clock.
pub const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How long a worker naps when its ring had less than a full batch, while traffic flows.
/// A sleeping `poll()` makes the kernel wake the worker for each packet that arrives (in copy
/// mode, `sk_data_ready` per frame), which on a busy 2-core box cost more than the packets
/// themselves; a fixed nap lets the ring collect a batch instead. 100 µs of nap is 20 M
/// frames/s before a 2048-descriptor ring fills.
pub const NAP: Duration = Duration::from_micros(100);
/// After this long with no full batch, the worker stops napping and sleeps in `poll()` (up to
/// [`IDLE_WAIT`]), so an idle queue costs no CPU.
pub const NAP_UNTIL_POLL: Duration = Duration::from_millis(20);
/// Records older than this leave the worker even when the batch is not full.
const RECORD_MAX_AGE: Duration = Duration::from_millis(200);
/// Record batches queued before workers start dropping.
const EXPORT_QUEUE: usize = 256;
/// How often a worker reads its ring's kernel statistics for the metrics (a getsockopt).
const RING_STATS_EVERY_NS: u64 = 1_000_000_000;

/// Settings of a live run.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Flow table settings; `max_flows` is the total, split evenly over the queues.
    pub flow: FlowConfig,
    /// Decoder settings.
    pub decoder: DecoderConfig,
    /// Sink queues, batching and full-queue policy (live: `WhenFull::DropNewest`).
    pub export: StageConfig,
    /// DPI and flow plugins in every worker.
    pub extras: ShardExtras,
}

/// One capture queue and the worker that serves it.
pub struct LiveQueue {
    /// Name for logs and the summary, e.g. `eth0/3`.
    pub name: String,
    /// The queue's frames.
    pub source: Box<dyn PacketSource + Send>,
    /// CPU to pin the worker to; `None` leaves it to the scheduler.
    pub core: Option<usize>,
}

impl std::fmt::Debug for LiveQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveQueue")
            .field("name", &self.name)
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// What one queue's worker did.
#[derive(Clone, Debug, Default)]
pub struct QueueReport {
    /// The queue's name.
    pub name: String,
    /// CPU the worker was pinned to.
    pub core: Option<usize>,
    /// Frames received.
    pub frames: u64,
    /// Their bytes.
    pub wire_bytes: u64,
    /// Frames that became part of a flow.
    pub decoded: u64,
    /// Frames dropped by the decoder, all reasons.
    pub dropped: u64,
    /// Flows created.
    pub flows_created: u64,
    /// The ring's own counters (kernel side), when the source has a ring.
    pub ring: Option<RingStats>,
}

/// Hooks the caller's thread runs while the workers capture.
pub struct LiveHooks<'a> {
    /// Called about every `tick_every` until the run stops (progress, kernel counters).
    pub tick: &'a mut dyn FnMut(&Counters),
    /// How often `tick` runs.
    pub tick_every: Duration,
    /// Called once when `Counters::stop` is seen, before the workers empty their rings:
    /// stop new packets from reaching them.
    pub stop_capture: &'a mut dyn FnMut(),
}

impl std::fmt::Debug for LiveHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHooks")
            .field("tick_every", &self.tick_every)
            .finish_non_exhaustive()
    }
}

struct WorkerResult {
    report: QueueReport,
    truncated: u64,
    drops: [u64; DropReason::COUNT],
    flows_ended: [u64; EndReason::COUNT],
    error: Option<Error>,
}

/// Captures from every queue until `counters.stop` is raised, then stops the capture (hook),
/// ends every flow and drains the sinks.
pub fn run_live(
    queues: Vec<LiveQueue>,
    cfg: &LiveConfig,
    sinks: Vec<Box<dyn ExportSink>>,
    counters: &Arc<Counters>,
    hooks: LiveHooks<'_>,
) -> Outcome {
    let started = Instant::now();
    let n = queues.len().max(1);
    let flow_cfg = FlowConfig {
        max_flows: cfg.flow.max_flows.div_ceil(n).max(1),
        ..cfg.flow
    };
    let mut summary = Summary::default();
    let stage = match start_stage(sinks, cfg.export, counters) {
        Ok(s) => s,
        Err(e) => {
            return Outcome {
                summary,
                error: Some(e),
            };
        }
    };
    let (rec_tx, rec_rx) = bounded::<Vec<FlowRecord>>(EXPORT_QUEUE);
    let finish = AtomicBool::new(false);

    let (worker_results, export_result) = std::thread::scope(|scope| {
        let exporter = {
            let counters = Arc::clone(counters);
            std::thread::Builder::new()
                .name("xdpflow-export".into())
                .spawn_scoped(scope, move || export_loop(&rec_rx, stage, &counters))
        };
        let mut workers = Vec::with_capacity(n);
        for (w, q) in queues.into_iter().enumerate() {
            let rec_tx = rec_tx.clone();
            let counters = Arc::clone(counters);
            let queue = counters.register_queue(q.name.clone());
            let finish = &finish;
            let decoder = cfg.decoder;
            workers.push((
                q.name.clone(),
                std::thread::Builder::new()
                    .name(format!("xdpflow-q{w}"))
                    .spawn_scoped(scope, move || {
                        worker_loop(
                            q,
                            Shard::with_extras(flow_cfg, w, n, &cfg.extras),
                            decoder,
                            &rec_tx,
                            &counters,
                            &queue,
                            finish,
                        )
                    }),
            ));
        }
        drop(rec_tx);

        let mut last_tick = Instant::now();
        while !counters.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            if last_tick.elapsed() >= hooks.tick_every {
                (hooks.tick)(counters);
                last_tick = Instant::now();
            }
        }
        (hooks.stop_capture)();
        finish.store(true, Ordering::Relaxed);

        let worker_results: Vec<Result<WorkerResult, Error>> = workers
            .into_iter()
            .map(|(name, h)| join(h, &format!("xdpflow worker of {name}")))
            .collect();
        (hooks.tick)(counters);
        let export_result = join(exporter, "xdpflow-export");
        (worker_results, export_result)
    });

    let mut error = None;
    for r in worker_results {
        match r {
            Ok(w) => {
                summary.frames += w.report.frames;
                summary.wire_bytes += w.report.wire_bytes;
                summary.decoded += w.report.decoded;
                summary.truncated += w.truncated;
                for (t, d) in summary.drops.iter_mut().zip(w.drops) {
                    *t += d;
                }
                summary.flows_created += w.report.flows_created;
                for (t, d) in summary.flows_ended.iter_mut().zip(w.flows_ended) {
                    *t += d;
                }
                summary.queues.push(w.report);
                if let Some(e) = w.error {
                    error.get_or_insert(e);
                }
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    summary.records_dropped = counters.records_dropped.load(Ordering::Relaxed);
    finish_outcome(summary, error, export_result, started)
}

fn worker_loop(
    mut q: LiveQueue,
    mut shard: Shard,
    decoder_cfg: DecoderConfig,
    rec_tx: &Sender<Vec<FlowRecord>>,
    counters: &Counters,
    queue: &QueueCounters,
    finish: &AtomicBool,
) -> WorkerResult {
    if let Some(core) = q.core
        && !core_affinity::set_for_current(core_affinity::CoreId { id: core })
    {
        tracing::warn!(
            message = "Cannot pin the worker to its core; it runs unpinned.",
            queue = %q.name,
            core
        );
    }
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(decoder_cfg);
    let mut pkts: Vec<FlowPacket> = Vec::with_capacity(READ_BATCH);
    let mut payloads = Payloads::default();
    let with_payload = shard.wants_payload();
    let mut out: Vec<FlowRecord> = Vec::with_capacity(RECORD_BATCH);
    let mut res = WorkerResult {
        report: QueueReport {
            name: q.name.clone(),
            core: q.core,
            ..QueueReport::default()
        },
        truncated: 0,
        drops: [0; DropReason::COUNT],
        flows_ended: [0; EndReason::COUNT],
        error: None,
    };
    let mut clock = 0u64;
    let mut oldest_record: Option<Instant> = None;
    let (mut pub_frames, mut pub_dropped, mut pub_created) = (0u64, 0u64, 0u64);
    let mut pub_drops = [0u64; DropReason::COUNT];
    // Wall-clock time of the next ring statistics read (the first batch reads them).
    let mut next_ring_stats = 0u64;
    // Since when recv has returned less than a full batch (None: the last batch was full).
    let mut quiet_since: Option<Instant> = None;
    // After `finish`: one more wait for what the kernel still holds (an AF_PACKET block not yet
    // retired), then the ring is read until empty.
    let mut final_wait_done = false;

    loop {
        let finishing = finish.load(Ordering::Relaxed);
        clock = clock.max(wall_clock_ns());
        let now = clock;
        let r = &mut res;
        let got = q.source.next_batch(READ_BATCH, &mut |f: Frame<'_>| {
            r.report.frames += 1;
            r.report.wire_bytes += u64::from(f.wire_len);
            match decoder.decode(f.link, f.data, f.ts_ns) {
                Ok(d) => {
                    r.report.decoded += 1;
                    r.truncated += u64::from(d.is_truncated);
                    pkts.push(FlowPacket::new(&hasher, d, f.ts_ns, f.wire_len).with_clock(now));
                    if with_payload {
                        let start = d.payload_offset as usize;
                        let end = start + d.payload_len as usize;
                        payloads.push(f.data.get(start..end).unwrap_or_default());
                    }
                }
                Err(reason) => r.drops[reason as usize] += 1,
            }
        });
        let got = match got {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(message = "Capture failed; the worker stops.", queue = %q.name, error = %e);
                res.error = Some(e);
                break;
            }
        };
        shard.process_batch_with(&pkts, &payloads, &mut out);
        pkts.clear();
        payloads.clear();
        shard.advance(now, &mut out);
        if !out.is_empty() {
            let since = *oldest_record.get_or_insert_with(Instant::now);
            if out.len() >= RECORD_BATCH || since.elapsed() >= RECORD_MAX_AGE {
                let batch = std::mem::replace(&mut out, Vec::with_capacity(RECORD_BATCH));
                match rec_tx.try_send(batch) {
                    Ok(()) => {}
                    Err(TrySendError::Full(b)) => {
                        counters
                            .records_dropped
                            .fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                }
                oldest_record = None;
            }
        }
        // Publish once per batch.
        let dropped: u64 = res.drops.iter().sum();
        let created = shard.counters().flows_created;
        counters
            .frames
            .fetch_add(res.report.frames - pub_frames, Ordering::Relaxed);
        counters
            .dropped
            .fetch_add(dropped - pub_dropped, Ordering::Relaxed);
        counters
            .flows_created
            .fetch_add(created - pub_created, Ordering::Relaxed);
        (pub_frames, pub_dropped, pub_created) = (res.report.frames, dropped, created);
        publish_queue(counters, queue, &res, &mut pub_drops, &shard);
        if now >= next_ring_stats {
            if let Some(s) = q.source.ring_stats() {
                queue.ring.publish(&s);
            }
            next_ring_stats = now + RING_STATS_EVERY_NS;
        }

        if got == READ_BATCH {
            quiet_since = None;
            continue; // the ring holds more: read on at once
        }
        if got > 0 {
            quiet_since = None;
        }
        let quiet = *quiet_since.get_or_insert_with(Instant::now);
        if !finishing && quiet.elapsed() < NAP_UNTIL_POLL {
            // Traffic is flowing but the ring is not full: nap so the next batch is bigger,
            // without a waiter on the socket (which would make the kernel wake us per packet).
            std::thread::sleep(NAP);
            continue;
        }
        if got == 0 {
            if finishing && final_wait_done {
                break;
            }
            if let Err(e) = q.source.wait(IDLE_WAIT) {
                tracing::error!(message = "Waiting on the capture ring failed; the worker stops.", queue = %q.name, error = %e);
                res.error = Some(e);
                break;
            }
            final_wait_done = finishing;
        }
    }
    shard.drain(EndReason::Shutdown, &mut out);
    if !out.is_empty() {
        // Shutdown: wait for the exporter rather than lose the last flows.
        let _ = rec_tx.send(out);
    }
    let c = shard.counters();
    counters
        .flows_created
        .fetch_add(c.flows_created - pub_created, Ordering::Relaxed);
    publish_queue(counters, queue, &res, &mut pub_drops, &shard);
    res.report.flows_created = c.flows_created;
    res.flows_ended = c.flows_ended;
    res.report.dropped = res.drops.iter().sum();
    res.report.ring = q.source.ring_stats();
    if let Some(s) = &res.report.ring {
        queue.ring.publish(s);
    }
    res
}

/// Publishes a worker's running totals for the metrics (once per batch): drops by reason as
/// deltas into the shared array (every worker adds to it), the rest as plain stores into the
/// queue's own block.
fn publish_queue(
    counters: &Counters,
    queue: &QueueCounters,
    res: &WorkerResult,
    published_drops: &mut [u64; DropReason::COUNT],
    shard: &Shard,
) {
    for ((total, &d), p) in counters
        .drops
        .iter()
        .zip(&res.drops)
        .zip(published_drops.iter_mut())
    {
        if d != *p {
            total.fetch_add(d - *p, Ordering::Relaxed);
            *p = d;
        }
    }
    queue.packets.store(res.report.frames, Ordering::Relaxed);
    queue.bytes.store(res.report.wire_bytes, Ordering::Relaxed);
    queue.publish_shard(shard);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::mem::{MemSource, OwnedFrame};
    use crate::export::ExportSink;
    use crate::packet::LinkType;
    use std::sync::Mutex;

    /// A live-like source: hands out its frames in small batches, then is empty (not
    /// exhausted) and waits like a quiet ring.
    struct Trickle {
        inner: MemSource,
        waits: Arc<std::sync::atomic::AtomicU64>,
    }

    impl PacketSource for Trickle {
        fn next_batch(
            &mut self,
            _max: usize,
            f: &mut dyn FnMut(Frame<'_>),
        ) -> Result<usize, Error> {
            self.inner.next_batch(7, f)
        }
        fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
            self.waits.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(timeout.min(Duration::from_millis(5)));
            Ok(())
        }
        fn ring_stats(&mut self) -> Option<RingStats> {
            Some(RingStats::default())
        }
    }

    struct Collect(Arc<Mutex<Vec<FlowRecord>>>);

    impl ExportSink for Collect {
        fn name(&self) -> &'static str {
            "collect"
        }
        fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
            self.0.lock().unwrap().extend_from_slice(records);
            Ok(())
        }
    }

    fn udp(a: u8, pa: u16, b: u8, pb: u16) -> OwnedFrame {
        let mut d = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, a, 198, 18, 0, b,
        ];
        d.extend_from_slice(&pa.to_be_bytes());
        d.extend_from_slice(&pb.to_be_bytes());
        d.extend_from_slice(&[0, 8, 0, 0]);
        OwnedFrame {
            ts_ns: 0,
            wire_len: 28,
            link: LinkType::Raw,
            data: d,
        }
    }

    #[test]
    fn stop_ends_every_flow_once_and_runs_the_stop_hook_first() {
        // Two queues, each with its own flows (as symmetric RSS would deliver them).
        let got = Arc::new(Mutex::new(Vec::new()));
        let waits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let queues: Vec<LiveQueue> = (0..2u8)
            .map(|q| {
                let frames: Vec<OwnedFrame> = (0..50u16)
                    .flat_map(|i| [udp(1, 1000 + i, 2 + q, 53), udp(2 + q, 53, 1, 1000 + i)])
                    .chain([OwnedFrame {
                        data: vec![0x10],
                        ..udp(0, 0, 0, 0)
                    }])
                    .collect();
                LiveQueue {
                    name: format!("mem/{q}"),
                    source: Box::new(Trickle {
                        inner: MemSource::new(frames),
                        waits: Arc::clone(&waits),
                    }),
                    core: None,
                }
            })
            .collect();
        let counters = Arc::new(Counters::default());
        let cfg = LiveConfig {
            flow: FlowConfig::default(),
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: crate::flow::ShardExtras::default(),
        };
        let stopper = Arc::clone(&counters);
        let mut stopped_at_frames = None;
        let mut tick = |c: &Counters| {
            // Raise stop once every frame has been read (as a signal would, later).
            if c.frames.load(Ordering::Relaxed) == 202 {
                stopper.stop.store(true, Ordering::Relaxed);
            }
        };
        let mut stop_capture = || stopped_at_frames = Some(counters.frames.load(Ordering::Relaxed));
        let out = run_live(
            queues,
            &cfg,
            vec![Box::new(Collect(Arc::clone(&got)))],
            &counters,
            LiveHooks {
                tick: &mut tick,
                tick_every: Duration::from_millis(1),
                stop_capture: &mut stop_capture,
            },
        );
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(stopped_at_frames, Some(202));
        let s = &out.summary;
        assert_eq!(s.frames, 202);
        assert_eq!(s.decoded, 200);
        assert_eq!(s.drops[DropReason::NotIp as usize], 2, "{:?}", s.drops);
        assert_eq!(s.flows_created, 100);
        assert_eq!(s.flows_ended[EndReason::Shutdown as usize], 100);
        assert_eq!(s.records_exported, 100);
        assert_eq!(s.queues.len(), 2);
        assert!(s.queues.iter().all(|q| q.frames == 101 && q.ring.is_some()));
        let recs = got.lock().unwrap();
        assert_eq!(recs.len(), 100);
        assert!(
            recs.iter()
                .all(|r| r.src2dst.packets == 1 && r.dst2src.packets == 1)
        );
        assert!(
            waits.load(Ordering::Relaxed) > 0,
            "an empty ring is waited on"
        );
        // What the metrics read: one block per queue, published by its worker.
        let queues = counters.queues();
        assert_eq!(queues.len(), 2);
        for q in &queues {
            assert!(q.name.starts_with("mem/"));
            assert_eq!(q.packets.load(Ordering::Relaxed), 101);
            assert_eq!(q.bytes.load(Ordering::Relaxed), 101 * 28);
            assert_eq!(q.flows_created.load(Ordering::Relaxed), 50);
            assert_eq!(q.flows_active.load(Ordering::Relaxed), 0);
            assert_eq!(
                q.flows_ended[EndReason::Shutdown as usize].load(Ordering::Relaxed),
                50
            );
            assert_eq!(q.ring.load(), Some(RingStats::default()));
        }
        assert_eq!(
            counters.drops[DropReason::NotIp as usize].load(Ordering::Relaxed),
            2
        );
        assert_eq!(counters.sinks().len(), 1);
    }

    #[test]
    fn idle_flows_leave_while_the_queue_is_silent() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let queues = vec![LiveQueue {
            name: "mem/0".into(),
            source: Box::new(Trickle {
                inner: MemSource::new(vec![udp(1, 1, 2, 2)]),
                waits: Arc::default(),
            }),
            core: None,
        }];
        let counters = Arc::new(Counters::default());
        let cfg = LiveConfig {
            flow: FlowConfig {
                idle_timeout_ms: 50,
                ..FlowConfig::default()
            },
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: crate::flow::ShardExtras::default(),
        };
        let seen = Arc::clone(&got);
        let stopper = Arc::clone(&counters);
        let started = Instant::now();
        let mut tick = |_: &Counters| {
            // Stop once the record has arrived without any further packet (or give up).
            if !seen.lock().unwrap().is_empty() || started.elapsed() > Duration::from_secs(10) {
                stopper.stop.store(true, Ordering::Relaxed);
            }
        };
        let out = run_live(
            queues,
            &cfg,
            vec![Box::new(Collect(Arc::clone(&got)))],
            &counters,
            LiveHooks {
                tick: &mut tick,
                tick_every: Duration::from_millis(5),
                stop_capture: &mut || {},
            },
        );
        assert!(out.error.is_none());
        assert_eq!(out.summary.flows_ended[EndReason::Idle as usize], 1);
        assert_eq!(out.summary.flows_ended[EndReason::Shutdown as usize], 0);
    }
}
