//! systemd integration: `xdpflow run` tells the service manager (`sd_notify(3)`, through the
//! sd-notify crate) when capture has started (`READY=1`), that its main loop is alive
//! (`WATCHDOG=1`) and that it is stopping (`STOPPING=1`), each with a `STATUS=` line that
//! `systemctl status` shows. This is what `Type=notify` and `WatchdogSec=` in
//! `deploy/systemd/xdpflow.service` rely on.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset: a terminal, a test, `xdpflow pcap`) every call is a
//! no-op. A failed notification is logged once and never stops capture: a service manager that
//! misses `READY=1` fails the unit on its start timeout, which is the better place to report it.
//!
//! It also sets up logging ([`init_logging`]): `tracing` events on stderr, one line each; when
//! stderr is the journal, each line starts with its syslog priority (`<4>` for a warning), which
//! journald strips and keeps as the entry's priority (`journalctl -p warning`), and carries no
//! timestamp or colour, which the journal has already. Nothing on the data path logs.
//!
//! It does not do socket activation or the file descriptor store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, format};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global `tracing` subscriber: stderr, level from `RUST_LOG` (default `info`);
/// journald's format when stderr is the journal (see the module docs), else timestamps, and
/// colour on a terminal.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if stderr_is_journal() {
        builder
            .with_ansi(false)
            .event_format(Journald(format().without_time().with_level(false)))
            .init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// Whether stderr is the journal stream systemd connected (`JOURNAL_STREAM=DEV:INODE` names
/// it; a redirected stderr keeps the variable but not the inode, see `systemd.exec(5)`).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(meta) = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
    else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// An event format that prefixes each line with its syslog priority (`sd-daemon(3)`), for
/// journald.
struct Journald<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journald<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The syslog priority of a `tracing` level: err, warning, info, debug.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Tells systemd the service is ready: the XDP program is attached and every socket bound.
pub fn ready() {
    send(
        "READY",
        &[
            NotifyState::Ready,
            NotifyState::Status("Capturing; flows are exported as they end."),
        ],
    );
}

/// Pets the watchdog; called from the main thread's tick (every 500 ms). Sends `WATCHDOG=1`
/// at most every half of `WATCHDOG_USEC` (read once), as `sd_watchdog_enabled(3)` advises;
/// nothing when the unit has no `WatchdogSec=`.
pub fn watchdog() {
    static WATCHDOG: OnceLock<Option<Mutex<Pacer>>> = OnceLock::new();
    let Some(pacer) = WATCHDOG.get_or_init(|| {
        sd_notify::watchdog_enabled().map(|timeout| Mutex::new(Pacer::new(timeout / 2)))
    }) else {
        return;
    };
    let due = pacer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .due(Instant::now());
    if due {
        send("WATCHDOG", &[NotifyState::Watchdog]);
    }
}

/// Tells systemd the service is stopping (a stop signal was seen): capture has stopped and
/// every flow is being exported.
pub fn stopping() {
    send(
        "STOPPING",
        &[
            NotifyState::Stopping,
            NotifyState::Status("Stopping; exporting every flow."),
        ],
    );
}

/// Sends `states`; logs the first failure (at warn: a unit of `Type=notify` that misses
/// `READY=1` or its watchdog is restarted) and later ones at debug.
fn send(what: &'static str, states: &[NotifyState<'_>]) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let Err(error) = sd_notify::notify(states) {
        if WARNED.swap(true, Ordering::Relaxed) {
            tracing::debug!(message = "Cannot notify systemd.", state = what, %error);
        } else {
            tracing::warn!(
                message = "Cannot notify systemd (NOTIFY_SOCKET); later failures are logged at \
                           debug level.",
                state = what,
                %error
            );
        }
    }
}

/// When the next watchdog ping is due: the first call, then every `every`.
#[derive(Debug)]
struct Pacer {
    every: Duration,
    last: Option<Instant>,
}

impl Pacer {
    fn new(every: Duration) -> Pacer {
        Pacer { every, last: None }
    }

    /// Whether to ping at `now`; if so, `now` becomes the last ping.
    fn due(&mut self, now: Instant) -> bool {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if due {
            self.last = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_pings_at_once_then_every_interval() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut p = Pacer::new(ms(1000));
        assert!(p.due(t0), "the first tick pings");
        assert!(!p.due(t0 + ms(500)));
        assert!(!p.due(t0 + ms(999)));
        assert!(p.due(t0 + ms(1000)));
        assert!(!p.due(t0 + ms(1500)));
        assert!(p.due(t0 + ms(2600)), "a late tick pings");
        assert!(!p.due(t0 + ms(3000)), "and the interval restarts from it");
        assert!(p.due(t0 + ms(3600)));
    }

    #[test]
    fn a_clock_that_goes_back_does_not_ping_or_panic() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut p = Pacer::new(Duration::from_secs(1));
        assert!(p.due(t0));
        assert!(!p.due(t0 - Duration::from_secs(5)));
    }

    #[test]
    fn journal_lines_start_with_their_priority() {
        use std::sync::Arc;

        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Capture(Arc::clone(&sink)))
            .with_ansi(false)
            .with_max_level(Level::DEBUG)
            .event_format(Journald(format().without_time().with_level(false)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(message = "Exporter reconnected.", exporter = "json");
            tracing::info!(message = "Capture started.");
            tracing::debug!(message = "Detail.");
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("<4>"), "{text}");
        assert!(
            lines[0].contains("Exporter reconnected. exporter=\"json\""),
            "{text}"
        );
        assert!(lines[1].starts_with("<6>") && lines[1].contains("Capture started."));
        assert!(lines[2].starts_with("<7>"));
        assert!(
            !text.contains("WARN") && !text.contains("INFO"),
            "no level words: {text}"
        );
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::TRACE), 7);
    }

    /// A `MakeWriter` target that appends to a shared buffer.
    struct Capture(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stderr_that_is_not_the_journal_is_not_taken_for_it() {
        // The harness's stderr is a pipe or a terminal, never the inode below.
        if std::env::var_os("JOURNAL_STREAM").is_none() {
            assert!(!stderr_is_journal());
        }
    }

    #[test]
    fn outside_systemd_every_call_is_a_no_op() {
        // The test harness runs without NOTIFY_SOCKET (systemd would not start it as a
        // notify service); the calls must neither fail nor panic.
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            return;
        }
        ready();
        watchdog();
        watchdog();
        stopping();
    }
}
