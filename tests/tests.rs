//! End-to-end tests: one binary (STYLE.md §8). Captures in, records out.

mod af_packet;
mod afxdp_ring;
mod alloc;
mod common;
mod config;
mod determinism;
mod dpi;
mod fidelity;
mod json;
mod live;
mod metrics;
mod nmsg;
mod plugins;
mod redis;
mod robustness;
mod service;
mod trap;
mod xdp_loader;
