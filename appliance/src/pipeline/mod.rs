//! Wiring of the data paths. Offline (pcap) here: one reader, N workers, one exporter, bounded
//! queues. Live (AF_XDP, AF_PACKET) in [`live`]: one pinned worker per queue, one exporter.
//!
//! ```text
//! reader (caller's thread): PacketSource → packet::Decoder → FlowPacket (key, side, hash)
//!    │ worker_of(hash) — symmetric, so both directions reach the same shard
//!    ▼ bounded channel of PacketBatch per worker (full ⇒ the reader waits: offline, nothing
//!    │ is dropped); emptied batches come back on a return channel and are reused
//! worker w: flow::Shard::process per packet, Shard::advance(batch clock) per batch
//!    ▼ bounded channel of Vec<FlowRecord> (full ⇒ the worker waits)
//! exporter ─► export::stage: one thread, queue, batching and policy per sink
//! ```
//!
//! Time is packet time. The reader's clock is the latest timestamp read so far (it never goes
//! back); every packet carries the clock at its position and expiry runs on it. Each batch also
//! carries the clock, so a worker expires idle flows even when its own packets are sparse; at
//! end of input every worker gets the final clock, expires what is due, then ends the rest as
//! `shutdown`. Because expiry decisions depend only on the packet sequence (see `flow::shard`),
//! the set of records is the same for any worker count (`--max-flows` eviction aside, whose
//! capacity is split over the shards).
//!
//! Counters are published by each thread once per batch into [`Counters`] (atomics), read by
//! the progress display and the metrics scrape (`crate::metrics`); nothing shared is touched
//! per packet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::capture::{Frame, PacketSource, RingStats};
use crate::error::Error;
use crate::export::ExportSink;
use crate::export::stage::{ExportStage, SinkCounters, SinkReport, StageConfig};
use crate::flow::key::worker_of;
use crate::flow::{
    EndReason, FlowConfig, FlowPacket, FlowRecord, KeyHasher, Payloads, Shard, ShardExtras,
};
use crate::packet::{Decoder, DecoderConfig, DropReason};

pub mod live;

/// Frames the reader takes from the source per call.
const READ_BATCH: usize = 512;
/// Packets per batch sent to a worker.
const PACKET_BATCH: usize = 256;
/// Batches queued per worker before the reader waits.
const WORKER_QUEUE: usize = 8;
/// Records per batch sent to the exporter.
const RECORD_BATCH: usize = 512;
/// Record batches queued before workers wait.
const EXPORT_QUEUE: usize = 64;

/// Settings of one offline run.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Worker threads (≥ 1).
    pub workers: usize,
    /// Flow table settings; `max_flows` is the total, split evenly over the workers.
    pub flow: FlowConfig,
    /// Decoder settings.
    pub decoder: DecoderConfig,
    /// Sink queues, batching and full-queue policy (offline: `WhenFull::Block`).
    pub export: StageConfig,
    /// DPI and flow plugins in every worker.
    pub extras: ShardExtras,
}

impl Default for PipelineConfig {
    /// `xdpflow pcap`'s defaults: one worker, DPI on the first 20 packets, no plugins.
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            flow: FlowConfig::default(),
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: ShardExtras {
                dpi: Some(crate::dpi::DpiConfig::default()),
                plugins: Vec::new(),
            },
        }
    }
}

/// Runs capture files (pcap or pcapng) through the pipeline into `sinks`: `xdpflow pcap` as a
/// library call, for programs that add their own flow plugins (`appliance/examples/`).
pub fn run_files(
    files: &[std::path::PathBuf],
    cfg: &PipelineConfig,
    sinks: Vec<Box<dyn ExportSink>>,
) -> Outcome {
    let mut source = match crate::capture::pcap::PcapSource::open(files) {
        Ok(s) => s,
        Err(e) => {
            return Outcome {
                summary: Summary::default(),
                error: Some(e),
            };
        }
    };
    run_offline(
        &mut source,
        cfg,
        sinks,
        &Arc::new(Counters::default()),
        None,
    )
}

/// Live counters, published once per batch by each thread.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames read from the source.
    pub frames: AtomicU64,
    /// Frames dropped by the decoder.
    pub dropped: AtomicU64,
    /// Input bytes consumed (capture files).
    pub input_bytes: AtomicU64,
    /// Input bytes in all, 0 when unknown (stdin).
    pub input_total: AtomicU64,
    /// Flows created, all workers.
    pub flows_created: AtomicU64,
    /// Records written by the exporter.
    pub records_exported: AtomicU64,
    /// Records a live worker dropped because the exporter's queue was full.
    pub records_dropped: AtomicU64,
    /// Raised when the run must end: a downstream stage failed (upstream stages stop), or, in
    /// a live run, SIGINT/SIGTERM (shared with the signal handler, hence the `Arc`).
    pub stop: Arc<AtomicBool>,
    /// Ended flows by DPI application category (`xdpflow_dpi_classifications_total`),
    /// published by the exporter once per record batch.
    pub dpi_categories: Mutex<Vec<(String, u64)>>,
    /// Raised (by a SIGHUP handler) to make every sink reopen its output files.
    pub reopen: Arc<AtomicBool>,
    /// Frames dropped by the decoder, by `DropReason as usize` (offline the reader publishes
    /// them, live each worker adds its own).
    pub drops: [AtomicU64; DropReason::COUNT],
    /// The XDP steering program's counters (live AF_XDP: copied by the main thread's tick).
    pub xdp: XdpCounters,
    /// One block per capture queue (live) or worker (offline), registered when a run starts.
    queues: Mutex<Vec<Arc<QueueCounters>>>,
    /// Every sink's counters, registered when the export stage starts.
    sinks: Mutex<Vec<(&'static str, Arc<SinkCounters>)>>,
}

impl Counters {
    /// Registers the counter block of a queue (live, `eth0/3`) or worker (offline,
    /// `worker0`); the thread that owns the name publishes into it once per batch.
    pub fn register_queue(&self, name: impl Into<String>) -> Arc<QueueCounters> {
        let q = Arc::new(QueueCounters {
            name: name.into(),
            ..QueueCounters::default()
        });
        lock(&self.queues).push(Arc::clone(&q));
        q
    }

    /// The registered queue blocks, in registration order.
    pub fn queues(&self) -> Vec<Arc<QueueCounters>> {
        lock(&self.queues).clone()
    }

    /// Registers the sinks of an export stage (`ExportStage::counters`).
    pub fn register_sinks(&self, sinks: Vec<(&'static str, Arc<SinkCounters>)>) {
        lock(&self.sinks).extend(sinks);
    }

    /// The registered sinks' counters, by sink name.
    pub fn sinks(&self) -> Vec<(&'static str, Arc<SinkCounters>)> {
        lock(&self.sinks).clone()
    }
}

/// Registration lists are only appended to: a panic elsewhere cannot leave them inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters of one capture queue (live) or worker (offline). Written only by the thread that
/// owns it, once per batch (plain stores of its running totals); read by the metrics scrape.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// The `queue` label: `eth0/3` live, `worker0` offline.
    pub name: String,
    /// Live: frames received from the queue's ring. Offline: packets the reader handed to the
    /// worker (frames the decoder dropped are counted only in [`Counters::drops`]).
    pub packets: AtomicU64,
    /// Wire bytes of `packets`.
    pub bytes: AtomicU64,
    /// Flows in the worker's table now.
    pub flows_active: AtomicU64,
    /// Flows created.
    pub flows_created: AtomicU64,
    /// Flows ended (records produced), by `EndReason as usize`.
    pub flows_ended: [AtomicU64; EndReason::COUNT],
    /// The kernel side of the queue's ring (live; read about once a second).
    pub ring: RingCounters,
}

impl QueueCounters {
    /// Publishes a shard's state: live flows, created, ended by reason.
    fn publish_shard(&self, shard: &Shard) {
        let c = shard.counters();
        self.flows_active
            .store(shard.live() as u64, Ordering::Relaxed);
        self.flows_created.store(c.flows_created, Ordering::Relaxed);
        for (a, &n) in self.flows_ended.iter().zip(&c.flows_ended) {
            a.store(n, Ordering::Relaxed);
        }
    }
}

/// A ring's kernel-side statistics ([`RingStats`]), as last read by its worker.
#[derive(Debug, Default)]
pub struct RingCounters {
    /// Raised once the statistics were read (sources without a ring never raise it).
    present: AtomicBool,
    dropped: AtomicU64,
    rx_ring_full: AtomicU64,
    fill_ring_empty: AtomicU64,
    invalid_descs: AtomicU64,
    freeze_count: AtomicU64,
}

impl RingCounters {
    /// Stores a reading.
    pub fn publish(&self, s: &RingStats) {
        self.dropped.store(s.dropped, Ordering::Relaxed);
        self.rx_ring_full.store(s.rx_ring_full, Ordering::Relaxed);
        self.fill_ring_empty
            .store(s.fill_ring_empty, Ordering::Relaxed);
        self.invalid_descs.store(s.invalid_descs, Ordering::Relaxed);
        self.freeze_count.store(s.freeze_count, Ordering::Relaxed);
        self.present.store(true, Ordering::Release);
    }

    /// The last reading, `None` before the first.
    pub fn load(&self) -> Option<RingStats> {
        self.present.load(Ordering::Acquire).then(|| RingStats {
            dropped: self.dropped.load(Ordering::Relaxed),
            rx_ring_full: self.rx_ring_full.load(Ordering::Relaxed),
            fill_ring_empty: self.fill_ring_empty.load(Ordering::Relaxed),
            invalid_descs: self.invalid_descs.load(Ordering::Relaxed),
            freeze_count: self.freeze_count.load(Ordering::Relaxed),
        })
    }
}

/// The XDP steering program's counters ([`xdp_prog::loader::SteerCounters`]), as last read.
#[derive(Debug, Default)]
pub struct XdpCounters {
    /// Raised once they were read (never in pcap mode or with AF_PACKET).
    present: AtomicBool,
    seen: AtomicU64,
    redirected: AtomicU64,
    passed: AtomicU64,
    filtered: AtomicU64,
    sampled_out: AtomicU64,
    redirect_errors: AtomicU64,
}

impl XdpCounters {
    /// Stores a reading.
    pub fn publish(&self, c: &xdp_prog::loader::SteerCounters) {
        self.seen.store(c.seen, Ordering::Relaxed);
        self.redirected.store(c.redirected, Ordering::Relaxed);
        self.passed.store(c.passed, Ordering::Relaxed);
        self.filtered.store(c.filtered, Ordering::Relaxed);
        self.sampled_out.store(c.sampled_out, Ordering::Relaxed);
        self.redirect_errors
            .store(c.redirect_errors, Ordering::Relaxed);
        self.present.store(true, Ordering::Release);
    }

    /// The last reading, `None` before the first.
    pub fn load(&self) -> Option<xdp_prog::loader::SteerCounters> {
        self.present
            .load(Ordering::Acquire)
            .then(|| xdp_prog::loader::SteerCounters {
                seen: self.seen.load(Ordering::Relaxed),
                redirected: self.redirected.load(Ordering::Relaxed),
                passed: self.passed.load(Ordering::Relaxed),
                filtered: self.filtered.load(Ordering::Relaxed),
                sampled_out: self.sampled_out.load(Ordering::Relaxed),
                redirect_errors: self.redirect_errors.load(Ordering::Relaxed),
            })
    }
}

/// A progress callback and how often to call it.
pub type ProgressHook<'a> = (&'a mut dyn FnMut(&Counters), Duration);

/// What a run did, for the end-of-run summary and tests.
#[derive(Debug, Default)]
pub struct Summary {
    /// Frames read.
    pub frames: u64,
    /// Their wire bytes.
    pub wire_bytes: u64,
    /// Frames that became part of a flow.
    pub decoded: u64,
    /// Of those, frames shorter than their IP header says (snaplen).
    pub truncated: u64,
    /// Frames dropped, by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
    /// Flows created.
    pub flows_created: u64,
    /// Flows ended, by `EndReason as usize`.
    pub flows_ended: [u64; EndReason::COUNT],
    /// Records handed to every sink.
    pub records_exported: u64,
    /// Records dropped before the sinks (live: the exporter's queue was full).
    pub records_dropped: u64,
    /// Live runs: what each capture queue did.
    pub queues: Vec<live::QueueReport>,
    /// Live AF_XDP runs: the steering program's counters when capture stopped.
    pub xdp: Option<xdp_prog::loader::SteerCounters>,
    /// Per-sink counters at the end of the run.
    pub sinks: Vec<SinkReport>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl Summary {
    /// Frames dropped, all reasons.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// How a run ended: the summary of what was done, plus the error that cut it short, if any.
/// Flows built before an input error are still exported.
#[derive(Debug)]
pub struct Outcome {
    /// What was done.
    pub summary: Summary,
    /// The first error (input, sink or thread), if any.
    pub error: Option<Error>,
}

struct PacketBatch {
    pkts: Vec<FlowPacket>,
    /// `pkts[i]`'s payload is `payloads.get(i)` (all empty when DPI is off).
    payloads: Payloads,
    /// The reader's clock when the batch was sent: the latest timestamp read so far.
    now_ns: u64,
}

struct WorkerResult {
    flows_created: u64,
    flows_ended: [u64; EndReason::COUNT],
}

/// Runs `source` to its end through decoder, `cfg.workers` shards and `sinks`.
///
/// `on_progress` is called from the reader's thread about every `progress_every` with the live
/// counters (pass `None` for no progress).
pub fn run_offline(
    source: &mut dyn PacketSource,
    cfg: &PipelineConfig,
    sinks: Vec<Box<dyn ExportSink>>,
    counters: &Arc<Counters>,
    on_progress: Option<ProgressHook<'_>>,
) -> Outcome {
    let started = Instant::now();
    let n = cfg.workers.max(1);
    let flow_cfg = FlowConfig {
        max_flows: cfg.flow.max_flows.div_ceil(n).max(1),
        ..cfg.flow
    };

    let (rec_tx, rec_rx) = bounded::<Vec<FlowRecord>>(EXPORT_QUEUE);
    let (ret_tx, ret_rx) = bounded::<PacketBatch>(n * (WORKER_QUEUE + 2));
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

    let (reader_result, worker_results, export_result) = std::thread::scope(|scope| {
        let exporter = {
            let counters = Arc::clone(counters);
            std::thread::Builder::new()
                .name("xdpflow-export".into())
                .spawn_scoped(scope, move || export_loop(&rec_rx, stage, &counters))
        };
        let mut worker_txs = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = bounded::<PacketBatch>(WORKER_QUEUE);
            worker_txs.push(tx);
            let rec_tx = rec_tx.clone();
            let ret_tx = ret_tx.clone();
            let counters = Arc::clone(counters);
            let queue = counters.register_queue(format!("worker{w}"));
            workers.push(
                std::thread::Builder::new()
                    .name(format!("xdpflow-worker-{w}"))
                    .spawn_scoped(scope, move || {
                        let shard = Shard::with_extras(flow_cfg, w, n, &cfg.extras);
                        worker_loop(shard, &rx, &ret_tx, &rec_tx, &counters, &queue)
                    }),
            );
        }
        drop(rec_tx);
        drop(ret_tx);

        let reader_result = read_loop(
            source,
            cfg,
            &worker_txs,
            &ret_rx,
            &mut summary,
            counters,
            on_progress,
        );
        drop(worker_txs);

        let worker_results: Vec<Result<WorkerResult, Error>> = workers
            .into_iter()
            .enumerate()
            .map(|(w, h)| join(h, &format!("xdpflow-worker-{w}")))
            .collect();
        let export_result = join(exporter, "xdpflow-export");
        (reader_result, worker_results, export_result)
    });

    let mut error = reader_result.err();
    for r in worker_results {
        match r {
            Ok(w) => {
                summary.flows_created += w.flows_created;
                for (total, n) in summary.flows_ended.iter_mut().zip(w.flows_ended) {
                    *total += n;
                }
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    finish_outcome(summary, error, export_result, started)
}

/// What the exporter thread returned.
type ExportResult = Result<(Vec<SinkReport>, Result<u64, Error>), Error>;

/// Adds the exporter's reports to `summary` and makes the run's outcome. A sink failure
/// explains any input-side stop that it caused, so it replaces an earlier `error`.
fn finish_outcome(
    mut summary: Summary,
    mut error: Option<Error>,
    export_result: ExportResult,
    started: Instant,
) -> Outcome {
    match export_result {
        Ok((reports, result)) => {
            summary.sinks = reports;
            match result {
                Ok(records) => summary.records_exported = records,
                Err(e) => error = Some(e),
            }
        }
        Err(e) => error = Some(e),
    }
    summary.elapsed = started.elapsed();
    Outcome { summary, error }
}

/// Starts the export stage and publishes its sink counters (metrics).
fn start_stage(
    sinks: Vec<Box<dyn ExportSink>>,
    cfg: StageConfig,
    counters: &Counters,
) -> Result<ExportStage, Error> {
    let stage = ExportStage::start(sinks, cfg, &counters.reopen)?;
    counters.register_sinks(stage.counters());
    Ok(stage)
}

fn join<T>(
    handle: std::io::Result<std::thread::ScopedJoinHandle<'_, T>>,
    name: &str,
) -> Result<T, Error> {
    let thread_err = |reason: String| Error::Thread {
        thread: name.to_string(),
        reason,
    };
    let handle = handle.map_err(|e| thread_err(format!("cannot spawn: {e}")))?;
    handle.join().map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".to_string());
        thread_err(format!("panicked: {msg}"))
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "the reader's whole context, called once"
)]
fn read_loop(
    source: &mut dyn PacketSource,
    cfg: &PipelineConfig,
    worker_txs: &[Sender<PacketBatch>],
    ret_rx: &Receiver<PacketBatch>,
    summary: &mut Summary,
    counters: &Counters,
    mut on_progress: Option<ProgressHook<'_>>,
) -> Result<(), Error> {
    let n = worker_txs.len();
    let hasher = KeyHasher::default();
    let mut decoder = Decoder::new(cfg.decoder);
    let new_batch = || PacketBatch {
        pkts: Vec::with_capacity(PACKET_BATCH),
        payloads: Payloads::default(),
        now_ns: 0,
    };
    let with_payload = cfg.extras.wants_payload();
    let mut pending: Vec<PacketBatch> = (0..n).map(|_| new_batch()).collect();
    let mut now_ns = 0u64;
    let mut last_progress = Instant::now();
    // Set when a worker is gone (it only leaves early when the exporter failed).
    let mut downstream_gone = false;

    // Workers whose pending batch filled during one read call (reused: no allocation per call).
    let mut full: Vec<usize> = Vec::with_capacity(n);
    let result = loop {
        if counters.stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        full.clear();
        let got = source.next_batch(READ_BATCH, &mut |f: Frame<'_>| {
            summary.frames += 1;
            summary.wire_bytes += u64::from(f.wire_len);
            now_ns = now_ns.max(f.ts_ns);
            match decoder.decode(f.link, f.data, f.ts_ns) {
                Ok(d) => {
                    summary.decoded += 1;
                    summary.truncated += u64::from(d.is_truncated);
                    let p = FlowPacket::new(&hasher, d, f.ts_ns, f.wire_len).with_clock(now_ns);
                    let w = worker_of(p.hash, n);
                    pending[w].pkts.push(p);
                    if with_payload {
                        let start = d.payload_offset as usize;
                        let end = start + d.payload_len as usize;
                        let payload = f.data.get(start..end).unwrap_or_default();
                        match f.shared {
                            // Pcap files: the worker reads it from the read buffer.
                            Some(chunk) => pending[w].payloads.push_shared(chunk, payload),
                            None => pending[w].payloads.push(payload),
                        }
                    }
                    if pending[w].pkts.len() == PACKET_BATCH {
                        full.push(w);
                    }
                }
                Err(reason) => summary.drops[reason as usize] += 1,
            }
        });
        // Batches can fill mid-callback; the callback cannot send (it borrows `pending`), so
        // a full batch may grow past PACKET_BATCH by at most READ_BATCH before it leaves.
        for &w in &full {
            if pending[w].pkts.len() >= PACKET_BATCH {
                let fresh = ret_rx.try_recv().unwrap_or_else(|_| new_batch());
                let mut batch = std::mem::replace(&mut pending[w], fresh);
                batch.now_ns = now_ns;
                if worker_txs[w].send(batch).is_err() {
                    downstream_gone = true;
                }
            }
        }
        counters.frames.store(summary.frames, Ordering::Relaxed);
        counters.dropped.store(summary.dropped(), Ordering::Relaxed);
        for (a, &d) in counters.drops.iter().zip(&summary.drops) {
            a.store(d, Ordering::Relaxed);
        }
        if let Some((done, total)) = source.progress() {
            counters.input_bytes.store(done, Ordering::Relaxed);
            counters
                .input_total
                .store(total.unwrap_or(0), Ordering::Relaxed);
        }
        if let Some((f, every)) = on_progress.as_mut()
            && last_progress.elapsed() >= *every
        {
            f(counters);
            last_progress = Instant::now();
        }
        match got {
            Ok(0) => break Ok(()),
            Ok(_) if downstream_gone => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    // End of input (or of a broken input): flush what is pending with the final clock, so
    // every worker expires what is due at that time before it ends the rest.
    for (w, mut batch) in pending.into_iter().enumerate() {
        batch.now_ns = now_ns;
        let _ = worker_txs[w].send(batch);
    }
    result
}

fn worker_loop(
    mut shard: Shard,
    rx: &Receiver<PacketBatch>,
    ret_tx: &Sender<PacketBatch>,
    rec_tx: &Sender<Vec<FlowRecord>>,
    counters: &Counters,
    queue: &QueueCounters,
) -> WorkerResult {
    let publish = |shard: &Shard| {
        let c = shard.counters();
        queue.packets.store(c.packets, Ordering::Relaxed);
        queue.bytes.store(c.bytes, Ordering::Relaxed);
        queue.publish_shard(shard);
    };
    let mut out: Vec<FlowRecord> = Vec::with_capacity(RECORD_BATCH);
    let mut published_created = 0;
    let mut downstream_gone = false;
    for mut batch in rx.iter() {
        if downstream_gone {
            continue; // drain the queue so the reader is never stuck on us
        }
        shard.process_batch_with(&batch.pkts, &batch.payloads, &mut out);
        shard.advance(batch.now_ns, &mut out);
        batch.pkts.clear();
        batch.payloads.clear();
        let _ = ret_tx.try_send(batch);
        if out.len() >= RECORD_BATCH {
            let full = std::mem::replace(&mut out, Vec::with_capacity(RECORD_BATCH));
            downstream_gone = rec_tx.send(full).is_err();
        }
        let created = shard.counters().flows_created;
        counters
            .flows_created
            .fetch_add(created - published_created, Ordering::Relaxed);
        published_created = created;
        publish(&shard);
    }
    if !downstream_gone {
        shard.drain(EndReason::Shutdown, &mut out);
        if !out.is_empty() {
            let _ = rec_tx.send(out);
        }
    }
    publish(&shard);
    let c = shard.counters();
    counters
        .flows_created
        .fetch_add(c.flows_created - published_created, Ordering::Relaxed);
    WorkerResult {
        flows_created: c.flows_created,
        flows_ended: c.flows_ended,
    }
}

fn export_loop(
    rx: &Receiver<Vec<FlowRecord>>,
    mut stage: ExportStage,
    counters: &Counters,
) -> (Vec<SinkReport>, Result<u64, Error>) {
    let mut records = 0u64;
    // Ended flows by DPI category: a handful of names, so a list; published when it changed.
    let mut categories: Vec<(String, u64)> = Vec::new();
    for batch in rx.iter() {
        records += batch.len() as u64;
        let mut changed = false;
        for d in batch.iter().filter_map(|r| r.dpi.as_deref()) {
            let c = d.application_category_name.as_str();
            match categories.iter_mut().find(|(n, _)| n == c) {
                Some(slot) => slot.1 += 1,
                None => categories.push((c.to_string(), 1)),
            }
            changed = true;
        }
        if changed {
            counters
                .dpi_categories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone_from(&categories);
        }
        stage.send(batch);
        counters.records_exported.store(records, Ordering::Relaxed);
        if stage.failed() {
            // Stop the run: the reader sees `stop`, the workers see this queue close.
            counters.stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    let (reports, error) = stage.finish();
    (reports, error.map_or(Ok(records), Err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::mem::{MemSource, OwnedFrame};
    use crate::packet::LinkType;
    use std::sync::Mutex;

    /// Collects records in memory.
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

    /// A raw IPv4/UDP frame (LINKTYPE_RAW): 198.18.0.a:pa → 198.18.0.b:pb.
    fn udp_frame(a: u8, pa: u16, b: u8, pb: u16, ts_ns: u64) -> OwnedFrame {
        let mut d = vec![
            0x45, 0x00, 0x00, 0x1c, // version/IHL, TOS, total length 28
            0x00, 0x01, 0x00, 0x00, // id, flags/fragment offset
            0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum (unchecked)
            198, 18, 0, a, // source
            198, 18, 0, b, // destination
        ];
        d.extend_from_slice(&pa.to_be_bytes());
        d.extend_from_slice(&pb.to_be_bytes());
        d.extend_from_slice(&[0x00, 0x08, 0x00, 0x00]); // UDP length 8, checksum
        OwnedFrame {
            ts_ns,
            wire_len: 28,
            link: LinkType::Raw,
            data: d,
        }
    }

    fn run(frames: Vec<OwnedFrame>, workers: usize) -> (Summary, Vec<FlowRecord>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let cfg = PipelineConfig {
            workers,
            flow: FlowConfig::default(),
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: ShardExtras::default(),
        };
        let mut src = MemSource::new(frames);
        let sinks: Vec<Box<dyn ExportSink>> = vec![Box::new(Collect(Arc::clone(&got)))];
        let out = run_offline(&mut src, &cfg, sinks, &Arc::new(Counters::default()), None);
        assert!(out.error.is_none(), "{:?}", out.error);
        let recs = std::mem::take(&mut *got.lock().unwrap());
        (out.summary, recs)
    }

    #[test]
    fn every_flow_is_exported_once_for_any_worker_count() {
        // 300 flows × 4 packets (2 each way), plus a non-IP frame that must be counted.
        let mut frames = Vec::new();
        for round in 0..2u64 {
            for i in 0..300u16 {
                let ts = (round * 1000 + u64::from(i)) * 1_000_000;
                frames.push(udp_frame(1, 10_000 + i, 2, 53, ts));
                frames.push(udp_frame(2, 53, 1, 10_000 + i, ts + 1));
            }
        }
        frames.push(OwnedFrame {
            ts_ns: 0,
            wire_len: 1,
            link: LinkType::Raw,
            data: vec![0x10],
        });
        let mut baseline: Option<Vec<(u16, u64, u64)>> = None;
        for workers in [1, 2, 3, 8] {
            let (summary, recs) = run(frames.clone(), workers);
            assert_eq!(summary.frames, 1201);
            assert_eq!(summary.dropped(), 1, "{:?}", summary.drops);
            assert_eq!(summary.records_exported, 300);
            assert_eq!(summary.flows_created, 300);
            let mut view: Vec<(u16, u64, u64)> = recs
                .iter()
                .map(|r| (r.src_port, r.src2dst.packets, r.dst2src.packets))
                .collect();
            view.sort_unstable();
            assert!(view.iter().all(|&(_, a, b)| a == 2 && b == 2));
            match &baseline {
                None => baseline = Some(view),
                Some(b) => assert_eq!(&view, b, "workers = {workers}"),
            }
        }
    }

    #[test]
    fn the_final_clock_expires_idle_flows_on_every_worker() {
        // Flow A is idle by the time of the last packet (of flow B, 200 s later).
        let frames = vec![
            udp_frame(1, 1, 2, 2, 0),
            udp_frame(3, 3, 4, 4, 200_000_000_000),
        ];
        for workers in [1, 4] {
            let (summary, recs) = run(frames.clone(), workers);
            assert_eq!(summary.flows_ended[EndReason::Idle as usize], 1);
            assert_eq!(summary.flows_ended[EndReason::Shutdown as usize], 1);
            assert_eq!(recs.len(), 2);
        }
    }

    #[test]
    fn threads_publish_what_the_metrics_read() {
        let mut frames: Vec<_> = (0..300u16)
            .flat_map(|i| [udp_frame(1, i, 2, 53, 0), udp_frame(2, 53, 1, i, 1)])
            .collect();
        frames.push(OwnedFrame {
            data: vec![0x10],
            ..udp_frame(0, 0, 0, 0, 2)
        });
        let cfg = PipelineConfig {
            workers: 2,
            flow: FlowConfig::default(),
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: ShardExtras::default(),
        };
        let counters = Arc::new(Counters::default());
        let sinks: Vec<Box<dyn ExportSink>> = vec![Box::new(Collect(Arc::default()))];
        let out = run_offline(&mut MemSource::new(frames), &cfg, sinks, &counters, None);
        assert!(out.error.is_none(), "{:?}", out.error);
        let s = &out.summary;
        let queues = counters.queues();
        let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["worker0", "worker1"]);
        let total = |f: fn(&QueueCounters) -> &AtomicU64| {
            queues
                .iter()
                .map(|q| f(q).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        assert_eq!(total(|q| &q.packets), s.decoded);
        assert_eq!(total(|q| &q.bytes), 600 * 28);
        assert_eq!(total(|q| &q.flows_created), 300);
        assert_eq!(total(|q| &q.flows_active), 0, "every flow ended");
        assert_eq!(
            total(|q| &q.flows_ended[EndReason::Shutdown as usize]),
            s.flows_ended[EndReason::Shutdown as usize]
        );
        assert!(queues.iter().all(|q| q.ring.load().is_none()));
        assert_eq!(
            counters.drops[DropReason::NotIp as usize].load(Ordering::Relaxed),
            1
        );
        assert!(counters.xdp.load().is_none());
        let sinks = counters.sinks();
        assert_eq!(sinks.len(), 1);
        assert_eq!(sinks[0].0, "collect");
        assert_eq!(sinks[0].1.records.load(Ordering::Relaxed), 300);
    }

    /// A sink that fails on its first batch.
    struct Broken;

    impl ExportSink for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn write_batch(&mut self, _: &[FlowRecord]) -> Result<(), Error> {
            Err(Error::OutputIo {
                path: "broken".into(),
                source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
            })
        }
    }

    #[test]
    fn a_failing_sink_stops_the_run_with_its_error() {
        let frames: Vec<_> = (0..5000u16)
            .map(|i| udp_frame(1, i, 2, 53, u64::from(i) * 1000))
            .collect();
        let cfg = PipelineConfig {
            workers: 2,
            flow: FlowConfig {
                tcp_end: true,
                max_flows: 100,
                ..FlowConfig::default()
            },
            decoder: DecoderConfig::default(),
            export: StageConfig::default(),
            extras: ShardExtras::default(),
        };
        let mut src = MemSource::new(frames);
        let out = run_offline(
            &mut src,
            &cfg,
            vec![Box::new(Broken)],
            &Arc::new(Counters::default()),
            None,
        );
        assert!(
            matches!(out.error, Some(Error::OutputIo { .. })),
            "{:?}",
            out.error
        );
    }
}
