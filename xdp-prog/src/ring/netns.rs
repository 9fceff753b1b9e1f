//! Moving the calling thread into a named network namespace (`ip netns add NAME`), for tests
//! and the traffic generator that feed a veth inside one. Sockets made afterwards by this
//! thread live in that namespace; other threads are not affected.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use super::sys::{Syscall, syscall};

/// Moves the calling thread into the network namespace `/run/netns/NAME`.
///
/// # Errors
///
/// The namespace does not exist, or the process lacks `CAP_SYS_ADMIN`.
pub fn enter_netns(name: &str) -> io::Result<()> {
    let path = format!("/run/netns/{name}");
    let ns = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening network namespace {path}: {e}")))?;
    // SAFETY: `ns` is an open descriptor owned by this function and outlives the call.
    unsafe {
        syscall(Syscall::SetNs {
            fd: ns.as_raw_fd(),
            nstype: libc::CLONE_NEWNET,
        })
    }
    .map(|_| ())
    .map_err(|e| io::Error::new(e.kind(), format!("entering network namespace {name}: {e}")))
}
