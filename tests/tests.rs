//! End-to-end tests: one binary (STYLE.md §8). Captures in, records out.

mod af_packet;
mod afxdp_ring;
mod alloc;
mod common;
mod determinism;
mod fidelity;
mod json;
mod live;
mod nmsg;
mod robustness;
mod trap;
mod xdp_loader;
