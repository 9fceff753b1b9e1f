//! systemd integration (sd_notify: READY, WATCHDOG, STOPPING). Being written.

/// Tells systemd the service is ready (capture started).
pub fn ready() {}

/// Pets the watchdog; called from the main thread's tick.
pub fn watchdog() {}

/// Tells systemd the service is stopping.
pub fn stopping() {}
