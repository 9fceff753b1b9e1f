//! xdpflow's kernel side: the XDP steering program's loader ([`loader`]), the AF_XDP and
//! AF_PACKET rings ([`ring`]) and NIC queries ([`nic`]).
//!
//! This crate knows rings, sockets and BPF maps. It does _not_ know flows, packets above the
//! frame, or export: those live in the `appliance` crate, which depends on this one (never the
//! other way round). The only `unsafe` code of the project is in [`ring`].
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod loader;
pub mod nic;
#[allow(
    unsafe_code,
    reason = "the ring module is the project's one place for unsafe code (STYLE.md §5)"
)]
pub mod ring;

pub use error::Error;
pub use ring::enter_netns;
