//! The crate's one error enum. Messages are for the operator: they name the interface, queue or
//! setting at fault and, where there is one, the fix.
//!
//! Variants are grouped by the module that returns them; keep each group together.

use std::io;

/// Everything that can go wrong loading the steering program or opening a ring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- shared ---
    /// The interface name does not exist in this network namespace.
    #[error("interface `{iface}` does not exist (list interfaces with `ip link`)")]
    NoSuchInterface {
        /// The name given.
        iface: String,
    },
    /// A capability the operation needs is missing from the effective set.
    #[error(
        "{what} needs {cap}; run as root or grant it (systemd: AmbientCapabilities={cap}; \
         file: setcap {cap_lower}+ep)"
    )]
    MissingCapability {
        /// What was being done.
        what: String,
        /// The capability, e.g. `CAP_BPF`.
        cap: &'static str,
        /// The same in lower case, for setcap.
        cap_lower: &'static str,
    },
    /// A setting is out of range; the message says which and what is allowed.
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting, as the operator spells it.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    // --- loader (XDP program) ---

    // --- ring: AF_XDP ---

    // --- ring: AF_PACKET ---

    // --- nic ---
    /// Any other failed system call, with what was being attempted.
    #[error("{what}: {source}")]
    Io {
        /// What was being attempted, naming interface and queue.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}
