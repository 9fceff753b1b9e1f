//! The built-in dissectors, in the order they are offered a flow's packets. Order matters
//! only between dissectors that could both claim the same payload: the more specific first.

use super::Dissector;

/// Every built-in dissector.
pub fn builtin() -> Vec<Box<dyn Dissector>> {
    let mut v: Vec<Box<dyn Dissector>> = Vec::new();
    v.extend(main_protocols());
    v.extend(other_protocols());
    v
}

/// TLS, QUIC, HTTP, DNS (+ mDNS, LLMNR), SSH: the protocols that carry most flows.
fn main_protocols() -> Vec<Box<dyn Dissector>> {
    vec![]
}

/// The rest (mail, file sharing, VoIP, VPN, LAN discovery, ...).
fn other_protocols() -> Vec<Box<dyn Dissector>> {
    vec![]
}
