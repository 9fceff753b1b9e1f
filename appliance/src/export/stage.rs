//! The export stage: finished records fan out to every sink, each on its own thread with its
//! own bounded queue, batching and policy (issue 5, STYLE.md §7).
//!
//! ```text
//! exporter ─ Arc<Vec<FlowRecord>> ─┬─► queue (bounded) ─► sink thread: write_batch, flush by count | age ─► json
//!                               ├─► queue (bounded) ─► sink thread ─► nmsg
//!                               └─► queue (bounded) ─► sink thread ─► trap
//! ```
//!
//! A batch is shared (`Arc`), not copied, between sinks. When a sink's queue is full the
//! policy decides: [`WhenFull::Block`] waits (offline: nothing is lost), [`WhenFull::DropNewest`]
//! drops the batch for that sink only and counts its records (live capture must never wait). A
//! slow sink never slows the others under `DropNewest`.
//!
//! Each sink thread flushes when it has written `flush_records` records since the last flush, or
//! when the oldest unflushed record is `flush_age` old, and at the end. It calls
//! [`ExportSink::reopen`] when the shared reopen flag is raised (SIGHUP). A sink that fails
//! (`Err` from a sink method) stops; its error is returned by [`ExportStage::finish`] and, with
//! `Block`, stops the run (the caller sees [`ExportStage::failed`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use super::{ExportSink, SinkStats};
use crate::error::Error;
use crate::flow::{FlowRecord, RecordKind};

/// What a sink's queue does when it is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (offline: nothing is lost).
    #[default]
    Block,
    /// Drop the newest batch for this sink and count its records (live: never wait).
    DropNewest,
}

/// Settings shared by the sinks of a stage.
#[derive(Clone, Copy, Debug)]
pub struct StageConfig {
    /// Record batches a sink's queue holds.
    pub queue_batches: usize,
    /// Flush after this many records.
    pub flush_records: usize,
    /// Flush when the oldest unflushed record is this old.
    pub flush_age: Duration,
    /// Full-queue policy.
    pub when_full: WhenFull,
    /// At the end of a run, how long the sinks get to write what is queued; a sink still busy
    /// then (a collector that stopped reading) is left behind and its undelivered records are
    /// counted as dropped. `None` (offline): wait as long as it takes.
    pub drain_timeout: Option<Duration>,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            queue_batches: 64,
            flush_records: 4096,
            flush_age: Duration::from_secs(1),
            when_full: WhenFull::Block,
            drain_timeout: None,
        }
    }
}

/// Live counters of one sink: the stage's own (records, batches, dropped at the queue) plus the
/// sink's (`SinkStats`), published after every batch.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Records handed to the sink.
    pub records: AtomicU64,
    /// Flushes that carried records (output batches).
    pub batches: AtomicU64,
    /// Bytes the sink wrote.
    pub bytes: AtomicU64,
    /// Records dropped: queue full, plus what the sink itself could not deliver.
    pub dropped: AtomicU64,
    /// Recovered failures (reconnects, failed sends).
    pub errors: AtomicU64,
    /// Batches waiting in the queue.
    pub queue_depth: AtomicU64,
}

/// A sink's counters at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// `ExportSink::name`.
    pub name: &'static str,
    /// Records handed to the sink.
    pub records: u64,
    /// Output batches.
    pub batches: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Records dropped (queue full or undeliverable).
    pub dropped: u64,
    /// Recovered failures.
    pub errors: u64,
}

struct Lane {
    name: &'static str,
    /// Gets `Insert` / `Update` records too (else only ended flows).
    wants_events: bool,
    tx: Option<Sender<Arc<Vec<FlowRecord>>>>,
    counters: Arc<SinkCounters>,
    /// Records dropped because the queue was full (the thread adds the sink's own drops).
    queue_dropped: u64,
    /// Records that entered the queue.
    queued: u64,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

/// Running sinks. Dropping it without [`ExportStage::finish`] still stops and joins them.
pub struct ExportStage {
    lanes: Vec<Lane>,
    cfg: StageConfig,
    failed: Arc<AtomicBool>,
}

impl std::fmt::Debug for ExportStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.lanes.iter().map(|l| l.name).collect();
        f.debug_struct("ExportStage")
            .field("sinks", &names)
            .finish_non_exhaustive()
    }
}

impl ExportStage {
    /// Starts one thread per sink. `reopen` is checked by every sink thread (raise it on
    /// SIGHUP; each sink reopens once and the flag is lowered by the last one to see it).
    ///
    /// # Errors
    ///
    /// A thread could not be spawned.
    pub fn start(
        sinks: Vec<Box<dyn ExportSink>>,
        cfg: StageConfig,
        reopen: &Arc<AtomicBool>,
    ) -> Result<Self, Error> {
        let failed = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let mut lanes = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let name = sink.name();
            let wants_events = sink.wants_events();
            let (tx, rx) = bounded::<Arc<Vec<FlowRecord>>>(cfg.queue_batches.max(1));
            let counters = Arc::new(SinkCounters::default());
            let thread = {
                let counters = Arc::clone(&counters);
                let failed = Arc::clone(&failed);
                let reopen = Arc::clone(reopen);
                let generation = Arc::clone(&generation);
                std::thread::Builder::new()
                    .name(format!("xdpflow-sink-{name}"))
                    .spawn(move || {
                        let r = sink_loop(sink, &rx, &cfg, &counters, &reopen, &generation);
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        r
                    })
                    .map_err(|e| Error::Thread {
                        thread: format!("xdpflow-sink-{name}"),
                        reason: format!("cannot spawn: {e}"),
                    })?
            };
            lanes.push(Lane {
                name,
                wants_events,
                tx: Some(tx),
                counters,
                queue_dropped: 0,
                queued: 0,
                thread: Some(thread),
            });
        }
        Ok(ExportStage { lanes, cfg, failed })
    }

    /// True once a sink failed (its thread stopped with an error).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Hands a batch to every sink, per the full-queue policy.
    pub fn send(&mut self, batch: Vec<FlowRecord>) {
        if batch.is_empty() {
            return;
        }
        // With lifecycle events on, sinks that did not ask for them get the ended flows only
        // (one filtered copy per batch, made only when the batch holds an event).
        let ended_only = (self.lanes.iter().any(|l| !l.wants_events)
            && batch.iter().any(|r| r.kind != RecordKind::End))
        .then(|| {
            Arc::new(
                batch
                    .iter()
                    .filter(|r| r.kind == RecordKind::End)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        });
        // `Arc::new` moves the Vec; `Arc<[T]>::from(Vec)` would copy every record.
        let all = Arc::new(batch);
        for lane in &mut self.lanes {
            let Some(tx) = &lane.tx else { continue };
            let shared = match &ended_only {
                Some(ended) if !lane.wants_events => ended,
                _ => &all,
            };
            if shared.is_empty() {
                continue;
            }
            let n = shared.len() as u64;
            let sent = match self.cfg.when_full {
                WhenFull::Block => tx
                    .send(Arc::clone(shared))
                    .map(|()| lane.queued += n)
                    .map_err(|_| ()),
                WhenFull::DropNewest => match tx.try_send(Arc::clone(shared)) {
                    Ok(()) => {
                        lane.queued += n;
                        Ok(())
                    }
                    Err(TrySendError::Full(_)) => {
                        lane.queue_dropped += n;
                        lane.counters.dropped.fetch_add(n, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(TrySendError::Disconnected(_)) => Err(()),
                },
            };
            if sent.is_err() {
                // The sink's thread ended (it failed): stop feeding it.
                lane.tx = None;
            }
            lane.counters
                .queue_depth
                .store(tx_len(&lane.tx), Ordering::Relaxed);
        }
    }

    /// Counters of every sink, by name, for metrics and progress.
    pub fn counters(&self) -> Vec<(&'static str, Arc<SinkCounters>)> {
        self.lanes
            .iter()
            .map(|l| (l.name, Arc::clone(&l.counters)))
            .collect()
    }

    /// Closes the queues, lets every sink drain and flush, and joins them.
    ///
    /// # Errors
    ///
    /// The first sink error (the reports of all sinks are still in `reports`).
    pub fn finish(mut self) -> (Vec<SinkReport>, Option<Error>) {
        self.join_all()
    }

    fn join_all(&mut self) -> (Vec<SinkReport>, Option<Error>) {
        for lane in &mut self.lanes {
            lane.tx = None;
        }
        let mut first_error = None;
        let mut reports = Vec::with_capacity(self.lanes.len());
        let deadline = self.cfg.drain_timeout.map(|d| (Instant::now() + d, d));
        for lane in &mut self.lanes {
            if let (Some((at, timeout)), Some(t)) = (deadline, lane.thread.as_ref()) {
                while !t.is_finished() && Instant::now() < at {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !t.is_finished() {
                    // Left behind: the thread ends with the process. What it has not written
                    // is lost, and counted.
                    lane.thread = None;
                    let undelivered = lane
                        .queued
                        .saturating_sub(lane.counters.records.load(Ordering::Relaxed));
                    lane.counters
                        .dropped
                        .fetch_add(undelivered, Ordering::Relaxed);
                    tracing::error!(
                        message = "A sink did not drain in time; its queued records are dropped.",
                        sink = lane.name,
                        timeout_s = timeout.as_secs_f64(),
                        undelivered
                    );
                    first_error.get_or_insert(Error::SinkDrainTimeout {
                        sink: lane.name,
                        timeout,
                        undelivered,
                    });
                }
            }
            if let Some(t) = lane.thread.take() {
                let result = t.join().unwrap_or_else(|_| {
                    Err(Error::Thread {
                        thread: format!("xdpflow-sink-{}", lane.name),
                        reason: "panicked".into(),
                    })
                });
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                }
            }
            let c = &lane.counters;
            reports.push(SinkReport {
                name: lane.name,
                records: c.records.load(Ordering::Relaxed),
                batches: c.batches.load(Ordering::Relaxed),
                bytes: c.bytes.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
            });
        }
        (reports, first_error)
    }
}

impl Drop for ExportStage {
    fn drop(&mut self) {
        let _ = self.join_all();
    }
}

fn tx_len(tx: &Option<Sender<Arc<Vec<FlowRecord>>>>) -> u64 {
    tx.as_ref().map_or(0, |t| t.len() as u64)
}

fn sink_loop(
    mut sink: Box<dyn ExportSink>,
    rx: &Receiver<Arc<Vec<FlowRecord>>>,
    cfg: &StageConfig,
    counters: &SinkCounters,
    reopen: &AtomicBool,
    generation: &AtomicU64,
) -> Result<(), Error> {
    // Queue drops are added by the stage; the sink's own drops are published as a delta.
    let mut published = SinkStats::default();
    let mut unflushed = 0usize;
    let mut oldest: Option<Instant> = None;
    // The stage starts the generation at 0 before any thread runs: a thread that starts late
    // must still see a reopen raised before it ran.
    let mut seen_generation = 0;
    // Wake at least this often to honour the age limit and the reopen flag.
    let tick = cfg
        .flush_age
        .min(Duration::from_millis(500))
        .max(Duration::from_millis(1));
    let result = loop {
        if reopen.swap(false, Ordering::Relaxed) {
            generation.fetch_add(1, Ordering::Relaxed);
        }
        let g = generation.load(Ordering::Relaxed);
        if g != seen_generation {
            seen_generation = g;
            if let Err(e) = sink.flush().and_then(|()| sink.reopen()) {
                break Err(e);
            }
        }
        let wait = oldest.map_or(tick, |t| {
            cfg.flush_age.saturating_sub(t.elapsed()).min(tick)
        });
        let step = match rx.recv_timeout(wait) {
            Ok(batch) => {
                counters
                    .queue_depth
                    .store(rx.len() as u64, Ordering::Relaxed);
                let r = sink.write_batch(&batch);
                counters
                    .records
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                unflushed += batch.len();
                oldest.get_or_insert_with(Instant::now);
                r.map(|()| unflushed >= cfg.flush_records)
            }
            Err(RecvTimeoutError::Timeout) => {
                Ok(oldest.is_some_and(|t| t.elapsed() >= cfg.flush_age))
            }
            Err(RecvTimeoutError::Disconnected) => break flush(&mut *sink, counters, unflushed),
        };
        match step {
            Ok(true) => {
                if let Err(e) = flush(&mut *sink, counters, unflushed) {
                    break Err(e);
                }
                unflushed = 0;
                oldest = None;
            }
            Ok(false) => {}
            Err(e) => break Err(e),
        }
        publish(&*sink, counters, &mut published);
    };
    publish(&*sink, counters, &mut published);
    result
}

fn flush(
    sink: &mut dyn ExportSink,
    counters: &SinkCounters,
    unflushed: usize,
) -> Result<(), Error> {
    sink.flush()?;
    if unflushed > 0 {
        counters.batches.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn publish(sink: &dyn ExportSink, counters: &SinkCounters, published: &mut SinkStats) {
    let now = sink.stats();
    let delta = |a: u64, b: u64| a.saturating_sub(b);
    counters
        .bytes
        .fetch_add(delta(now.bytes, published.bytes), Ordering::Relaxed);
    counters
        .dropped
        .fetch_add(delta(now.dropped, published.dropped), Ordering::Relaxed);
    counters
        .errors
        .fetch_add(delta(now.errors, published.errors), Ordering::Relaxed);
    *published = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::EndReason;
    use std::sync::Mutex;

    fn record(id: u64) -> FlowRecord {
        FlowRecord {
            id,
            end_reason: EndReason::Idle,
            protocol: 17,
            ip_version: 4,
            ..FlowRecord::default()
        }
    }

    fn batch(from: u64, n: u64) -> Vec<FlowRecord> {
        (from..from + n).map(record).collect()
    }

    /// Records ids, flushes and reopens; optionally sleeps per batch or fails.
    #[derive(Default)]
    struct Probe {
        ids: Arc<Mutex<Vec<u64>>>,
        flushes: Arc<AtomicU64>,
        reopens: Arc<AtomicU64>,
        delay: Duration,
        gate: Option<Arc<AtomicBool>>,
        fail: bool,
        events: bool,
    }

    impl ExportSink for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
            if self.fail {
                return Err(Error::OutputIo {
                    path: "probe".into(),
                    source: std::io::Error::from(std::io::ErrorKind::WriteZero),
                });
            }
            while let Some(g) = &self.gate {
                if g.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(self.delay);
            self.ids
                .lock()
                .unwrap()
                .extend(records.iter().map(|r| r.id));
            Ok(())
        }
        fn flush(&mut self) -> Result<(), Error> {
            self.flushes.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn stats(&self) -> SinkStats {
            SinkStats {
                bytes: self.ids.lock().unwrap().len() as u64 * 10,
                ..SinkStats::default()
            }
        }
        fn reopen(&mut self) -> Result<(), Error> {
            self.reopens.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn wants_events(&self) -> bool {
            self.events
        }
    }

    #[test]
    fn only_sinks_that_ask_get_lifecycle_events() {
        let plain = Probe::default();
        let live_view = Probe {
            events: true,
            ..Probe::default()
        };
        let (plain_ids, view_ids) = (Arc::clone(&plain.ids), Arc::clone(&live_view.ids));
        let mut stage = ExportStage::start(
            vec![Box::new(plain), Box::new(live_view)],
            StageConfig::default(),
            &no_reopen(),
        )
        .unwrap();
        let mut b = batch(0, 6);
        b[0].kind = RecordKind::Insert;
        b[1].kind = RecordKind::Update;
        stage.send(b);
        let mut only_events = batch(10, 2);
        only_events[0].kind = RecordKind::Insert;
        only_events[1].kind = RecordKind::Update;
        stage.send(only_events);
        stage.send(batch(20, 3)); // no events: shared as is
        let (reports, err) = stage.finish();
        assert!(err.is_none());
        assert_eq!(*plain_ids.lock().unwrap(), vec![2, 3, 4, 5, 20, 21, 22]);
        assert_eq!(
            *view_ids.lock().unwrap(),
            vec![0, 1, 2, 3, 4, 5, 10, 11, 20, 21, 22]
        );
        assert_eq!((reports[0].records, reports[1].records), (7, 11));
    }

    fn no_reopen() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn block_delivers_everything_to_every_sink() {
        let (fast, slow) = (
            Probe::default(),
            Probe {
                delay: Duration::from_millis(2),
                ..Probe::default()
            },
        );
        let (fast_ids, slow_ids) = (Arc::clone(&fast.ids), Arc::clone(&slow.ids));
        let cfg = StageConfig {
            queue_batches: 2,
            ..StageConfig::default()
        };
        let mut stage =
            ExportStage::start(vec![Box::new(fast), Box::new(slow)], cfg, &no_reopen()).unwrap();
        for i in 0..50 {
            stage.send(batch(i * 10, 10));
        }
        let (reports, err) = stage.finish();
        assert!(err.is_none());
        assert_eq!(fast_ids.lock().unwrap().len(), 500);
        assert_eq!(*slow_ids.lock().unwrap(), (0..500).collect::<Vec<_>>());
        for r in &reports {
            assert_eq!((r.records, r.dropped, r.bytes), (500, 0, 5000));
        }
    }

    #[test]
    fn a_sink_that_does_not_drain_in_time_is_left_behind_and_counted() {
        let gate = Arc::new(AtomicBool::new(false));
        let stuck = Probe {
            gate: Some(Arc::clone(&gate)),
            ..Probe::default()
        };
        let fine = Probe::default();
        let fine_ids = Arc::clone(&fine.ids);
        let cfg = StageConfig {
            when_full: WhenFull::DropNewest,
            drain_timeout: Some(Duration::from_millis(200)),
            ..StageConfig::default()
        };
        let mut stage =
            ExportStage::start(vec![Box::new(stuck), Box::new(fine)], cfg, &no_reopen()).unwrap();
        for i in 0..5 {
            stage.send(batch(i * 10, 10));
        }
        let started = Instant::now();
        let (reports, err) = stage.finish();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "finish kept its deadline"
        );
        match err {
            Some(Error::SinkDrainTimeout {
                sink, undelivered, ..
            }) => assert_eq!((sink, undelivered), ("probe", 50)),
            other => panic!("expected a drain timeout, got {other:?}"),
        }
        assert_eq!((reports[0].records, reports[0].dropped), (0, 50));
        assert_eq!((reports[1].records, reports[1].dropped), (50, 0));
        assert_eq!(fine_ids.lock().unwrap().len(), 50);
        gate.store(true, Ordering::Relaxed); // let the abandoned thread end
    }

    #[test]
    fn drop_newest_never_waits_and_counts_what_it_drops() {
        let gate = Arc::new(AtomicBool::new(false));
        let stuck = Probe {
            gate: Some(Arc::clone(&gate)),
            ..Probe::default()
        };
        let other = Probe::default();
        let (stuck_ids, other_ids) = (Arc::clone(&stuck.ids), Arc::clone(&other.ids));
        let cfg = StageConfig {
            queue_batches: 2,
            when_full: WhenFull::DropNewest,
            ..StageConfig::default()
        };
        let mut stage =
            ExportStage::start(vec![Box::new(stuck), Box::new(other)], cfg, &no_reopen()).unwrap();
        let started = Instant::now();
        for i in 0..100 {
            stage.send(batch(i * 10, 10));
            std::thread::sleep(Duration::from_micros(200)); // let the healthy sink keep up
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "send must not wait on a stuck sink"
        );
        gate.store(true, Ordering::Relaxed);
        let (reports, err) = stage.finish();
        assert!(err.is_none());
        let delivered = stuck_ids.lock().unwrap().len() as u64;
        assert_eq!(
            delivered + reports[0].dropped,
            1000,
            "delivered + dropped = sent"
        );
        assert!(reports[0].dropped >= 900, "{reports:?}");
        assert_eq!(
            other_ids.lock().unwrap().len() as u64 + reports[1].dropped,
            1000
        );
    }

    #[test]
    fn flushes_by_count_and_by_age() {
        let probe = Probe::default();
        let flushes = Arc::clone(&probe.flushes);
        let cfg = StageConfig {
            flush_records: 20,
            flush_age: Duration::from_millis(50),
            ..StageConfig::default()
        };
        let mut stage = ExportStage::start(vec![Box::new(probe)], cfg, &no_reopen()).unwrap();
        stage.send(batch(0, 25)); // over the count: flushed at once
        let t = Instant::now();
        while flushes.load(Ordering::Relaxed) < 1 && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(flushes.load(Ordering::Relaxed), 1);
        stage.send(batch(25, 1)); // under the count: flushed by age
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(flushes.load(Ordering::Relaxed), 2);
        let (reports, _) = stage.finish();
        assert_eq!(reports[0].batches, 2);
    }

    #[test]
    fn a_failing_sink_is_reported_and_the_others_carry_on() {
        let good = Probe::default();
        let ids = Arc::clone(&good.ids);
        let bad = Probe {
            fail: true,
            ..Probe::default()
        };
        let mut stage = ExportStage::start(
            vec![Box::new(bad), Box::new(good)],
            StageConfig::default(),
            &no_reopen(),
        )
        .unwrap();
        for i in 0..20 {
            stage.send(batch(i, 1));
        }
        let t = Instant::now();
        while !stage.failed() && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(stage.failed());
        let (_, err) = stage.finish();
        assert!(matches!(err, Some(Error::OutputIo { .. })), "{err:?}");
        assert_eq!(ids.lock().unwrap().len(), 20);
    }

    #[test]
    fn the_reopen_flag_reaches_every_sink_once() {
        let (a, b) = (Probe::default(), Probe::default());
        let (ra, rb) = (Arc::clone(&a.reopens), Arc::clone(&b.reopens));
        let flag = no_reopen();
        let stage = ExportStage::start(
            vec![Box::new(a), Box::new(b)],
            StageConfig::default(),
            &flag,
        )
        .unwrap();
        flag.store(true, Ordering::Relaxed);
        let t = Instant::now();
        while (ra.load(Ordering::Relaxed) + rb.load(Ordering::Relaxed)) < 2
            && t.elapsed() < Duration::from_secs(3)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            (ra.load(Ordering::Relaxed), rb.load(Ordering::Relaxed)),
            (1, 1)
        );
        drop(stage);
    }
}
