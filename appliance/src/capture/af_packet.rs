//! A live source over one AF_PACKET TPACKET_V3 ring, one member of a `PACKET_FANOUT_HASH`
//! group: the fallback for NICs and kernels where XDP cannot attach. The kernel's fanout hash
//! is symmetric, so both directions of a flow reach the same member. The ring is
//! `xdp_prog::ring`'s; this file only turns its frames into [`Frame`]s.

use std::time::Duration;

use xdp_prog::ring::PacketRing;

use super::{Frame, PacketSource, RingStats};
use crate::error::Error;
use crate::packet::LinkType;

/// Frames of one fanout member.
#[derive(Debug)]
pub struct AfPacketSource {
    ring: PacketRing,
    name: String,
}

impl AfPacketSource {
    /// A source over an open ring; `name` (e.g. `eth0/fanout1`) appears in errors.
    pub fn new(ring: PacketRing, name: String) -> Self {
        AfPacketSource { ring, name }
    }
}

impl PacketSource for AfPacketSource {
    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error> {
        let name = &self.name;
        self.ring
            .recv(max, |data, wire_len, ts_ns| {
                f(Frame {
                    ts_ns,
                    wire_len,
                    link: LinkType::Ethernet,
                    data,
                    shared: None,
                });
            })
            .map_err(|source| Error::Capture {
                queue: name.clone(),
                source: Box::new(source),
            })
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let name = &self.name;
        self.ring
            .wait(ms)
            .map(|_| ())
            .map_err(|source| Error::Capture {
                queue: name.clone(),
                source: Box::new(source),
            })
    }

    fn ring_stats(&mut self) -> Option<RingStats> {
        let s = self.ring.statistics().ok()?;
        Some(RingStats {
            dropped: s.drops,
            freeze_count: s.freeze_q_cnt,
            ..RingStats::default()
        })
    }
}
