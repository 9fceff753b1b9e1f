//! The `xdpflow` binary.
fn main() {}
