//! NDJSON to a TCP collector: connect without failing, drop and count while it is away,
//! reconnect with backoff (semantics in the parent module doc). This file owns the connection,
//! its buffer of whole records and the retry schedule; it has no thread of its own.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::encode;
use crate::export::SinkStats;
use crate::export::backoff::Backoff;
use crate::flow::FlowRecord;

/// Longest wait for one connect, per resolved address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest a buffer may take to go out; a collector slower than that is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Bytes buffered before `write_batch` sends (`flush` sends whatever is there).
const SEND_AT: usize = 1 << 16;

/// A collector connection (or its absence) and the records waiting for it.
pub(super) struct Collector {
    /// `HOST:PORT` as given; resolved at every connect.
    addr: String,
    stream: Option<TcpStream>,
    /// Whole encoded records; a fresh connection always starts at `buf[0]`.
    buf: Vec<u8>,
    /// End offset in `buf` of each record, to count what a failed send delivered.
    ends: Vec<usize>,
    backoff: Backoff,
    write_timeout: Duration,
    /// The collector is known to be away (log the first failure of a streak only).
    away: bool,
}

impl Collector {
    /// Tries to connect once; a failure is counted in `stats.errors`, not returned.
    pub(super) fn connect(addr: String, stats: &mut SinkStats) -> Self {
        Collector::with_write_timeout(addr, WRITE_TIMEOUT, stats)
    }

    fn with_write_timeout(addr: String, write_timeout: Duration, stats: &mut SinkStats) -> Self {
        let mut c = Collector {
            addr,
            stream: None,
            buf: Vec::with_capacity(SEND_AT * 2),
            ends: Vec::new(),
            backoff: Backoff::new(Instant::now()),
            write_timeout,
            away: false,
        };
        c.try_connect(stats);
        c
    }

    pub(super) fn addr(&self) -> &str {
        &self.addr
    }

    pub(super) fn write_batch(&mut self, records: &[FlowRecord], stats: &mut SinkStats) {
        if self.stream.is_none() && self.backoff.due(Instant::now()) {
            self.try_connect(stats);
        }
        if self.stream.is_none() {
            stats.dropped += records.len() as u64;
            return;
        }
        for r in records {
            encode(r, &mut self.buf);
            self.ends.push(self.buf.len());
        }
        if self.buf.len() >= SEND_AT {
            self.send(stats);
        }
    }

    pub(super) fn flush(&mut self, stats: &mut SinkStats) {
        self.send(stats);
    }

    /// Sends the buffer. Afterwards it is empty: every record in it was either handed to the
    /// socket or counted as dropped.
    fn send(&mut self, stats: &mut SinkStats) {
        if self.buf.is_empty() {
            return;
        }
        if self.stream.as_ref().is_some_and(|s| !still_open(s)) {
            // Nothing of this buffer went out yet, so it may go to a new connection. Without
            // this check the first write after a close succeeds and its bytes are lost.
            self.lost(
                &io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the collector closed the connection",
                ),
                0,
                stats,
            );
        }
        if self.stream.is_none() && self.backoff.due(Instant::now()) {
            self.try_connect(stats);
        }
        let Some(stream) = self.stream.as_mut() else {
            stats.dropped += self.ends.len() as u64;
            self.buf.clear();
            self.ends.clear();
            return;
        };
        let (sent, result) = write_within(stream, &self.buf, self.write_timeout);
        stats.bytes += sent as u64;
        if let Err(e) = result {
            // Records wholly handed to the socket count as sent; the rest, including a record
            // cut in the middle, are dropped. The next connection starts at a record boundary.
            let delivered = self.ends.partition_point(|&end| end <= sent);
            let dropped = self.ends.len() - delivered;
            stats.dropped += dropped as u64;
            self.lost(&e, dropped, stats);
        }
        self.buf.clear();
        self.ends.clear();
    }

    /// Forgets a broken connection; the next connect may be tried at once.
    fn lost(&mut self, error: &io::Error, dropped: usize, stats: &mut SinkStats) {
        stats.errors += 1;
        self.stream = None;
        self.away = true;
        self.backoff.reset(Instant::now());
        tracing::warn!(
            message = "Lost the collector connection; reconnecting.",
            exporter = "json",
            collector = %self.addr,
            dropped,
            %error,
        );
    }

    fn try_connect(&mut self, stats: &mut SinkStats) {
        match open(&self.addr, self.write_timeout) {
            Ok(s) => {
                self.stream = Some(s);
                self.backoff.reset(Instant::now());
                if self.away {
                    tracing::info!(
                        message = "Exporter reconnected.",
                        exporter = "json",
                        collector = %self.addr,
                    );
                }
                self.away = false;
            }
            Err(error) => {
                stats.errors += 1;
                self.backoff.failed(Instant::now());
                if self.away {
                    tracing::debug!(
                        message = "Collector still unreachable.",
                        exporter = "json",
                        collector = %self.addr,
                        retry_in_ms = self.backoff.retry_in(Instant::now()).as_millis() as u64,
                        %error,
                    );
                } else {
                    tracing::warn!(
                        message = "Cannot connect to the collector; dropping records until it is back.",
                        exporter = "json",
                        collector = %self.addr,
                        %error,
                    );
                }
                self.away = true;
            }
        }
    }
}

/// Resolves `addr` and connects to the first address that answers.
fn open(addr: &str, write_timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_write_timeout(Some(write_timeout))?;
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address")
    }))
}

/// Whether the collector still holds the connection open. A collector never sends, so a
/// readable socket means end of stream (closed) or a reset; nothing to read means open. A
/// collector that half-closes (shuts down its sending side) is therefore taken as gone.
fn still_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let open = match s.peek(&mut [0u8; 1]) {
        Ok(n) => n > 0,
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    };
    s.set_nonblocking(false).is_ok() && open
}

/// Writes `buf` until done, an error, or `budget` has passed with bytes still to go (each
/// write also times out after `budget`: the socket's write timeout). Returns the bytes written.
#[allow(
    clippy::disallowed_methods,
    reason = "`write_all` would hide how much was sent; the loop handles short writes"
)]
fn write_within(s: &mut TcpStream, buf: &[u8], budget: Duration) -> (usize, io::Result<()>) {
    let deadline = Instant::now() + budget;
    let mut sent = 0;
    while sent < buf.len() {
        match s.write(&buf[sent..]) {
            Ok(0) => return (sent, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (sent, Err(stalled(budget)));
            }
            Err(e) => return (sent, Err(e)),
        }
        if sent < buf.len() && Instant::now() >= deadline {
            return (sent, Err(stalled(budget)));
        }
    }
    (sent, Ok(()))
}

fn stalled(budget: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the collector took no data for {budget:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::json::encode::tests::record;
    use std::io::Read;
    use std::net::TcpListener;

    /// A port nobody listens on (bound, then released).
    fn closed_port() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    #[test]
    fn a_collector_down_at_start_is_counted_not_fatal() {
        let mut stats = SinkStats::default();
        let mut c = Collector::connect(closed_port(), &mut stats);
        assert_eq!(stats.errors, 1);
        c.write_batch(&[record(), record()], &mut stats);
        c.flush(&mut stats);
        // Within the first backoff delay: no new attempt, records dropped.
        assert_eq!(
            stats,
            SinkStats {
                bytes: 0,
                dropped: 2,
                errors: 1
            }
        );
        std::thread::sleep(crate::export::backoff::BACKOFF_MIN + Duration::from_millis(20));
        c.write_batch(&[record()], &mut stats);
        assert_eq!(
            (stats.dropped, stats.errors),
            (3, 2),
            "retried after the delay"
        );
    }

    #[test]
    fn a_stalled_collector_is_dropped_within_the_write_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let timeout = Duration::from_millis(50);
        let mut stats = SinkStats::default();
        let mut c = Collector::with_write_timeout(addr, timeout, &mut stats);
        let (mut peer, _) = listener.accept().unwrap();
        assert_eq!(stats.errors, 0);
        // The collector reads nothing: sooner or later the socket buffers are full.
        let batch = vec![record(); 5000];
        let mut total = 0u64;
        while stats.errors == 0 {
            assert!(total < 1_000_000, "the send never stalled");
            let t = Instant::now();
            c.write_batch(&batch, &mut stats);
            c.flush(&mut stats);
            assert!(t.elapsed() < timeout * 10, "blocked {:?}", t.elapsed());
            total += batch.len() as u64;
        }
        assert!(stats.dropped > 0);
        // Now the collector reads everything: complete lines are exactly the records counted
        // as sent; at most one cut record follows them.
        drop(c);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len() as u64, stats.bytes);
        let lines = got.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines + stats.dropped, total);
        let mut one = Vec::new();
        encode(&record(), &mut one);
        assert!(got.len() as u64 - lines * one.len() as u64 <= one.len() as u64);
    }
}
