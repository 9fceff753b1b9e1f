//! Deep packet inspection (issue 4), being built: pure, allocation-light parsers of the first
//! payloads of a flow, one file or folder per protocol (STYLE.md §6). Each parser takes bytes
//! and returns borrowed views or a typed error; none keeps state across calls except the
//! explicit, byte-capped reassemblers. Nothing here is wired into the flow workers yet: that
//! (the `Dissector` trait, per-flow state, nDPI-compatible naming) comes with the rest of the
//! issue.

pub mod dns;
pub mod http;
pub mod quic;
pub mod ssh;
pub mod tls;
