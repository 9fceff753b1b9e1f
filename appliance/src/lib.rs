//! xdpflow's engine: capture → packet decoding → sharded flow table → export.
//!
//! The binary `xdpflow` (`src/main.rs`) is a thin shell over [`pipeline`]; everything it does
//! is reachable from here so tests and benchmarks drive the same code. See `ARCHITECTURE.md`.

#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod config;
pub mod dpi;
pub mod error;
pub mod export;
pub mod flow;
pub mod metrics;
pub mod packet;
pub mod pipeline;
pub mod progress;
pub mod service;

pub use error::Error;
