//! End-to-end tests: one binary (STYLE.md §8). Captures in, records out.

mod alloc;
mod common;
mod determinism;
mod fidelity;
mod json;
mod nmsg;
mod robustness;
mod trap;
