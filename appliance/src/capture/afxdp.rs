//! A live source over one AF_XDP socket: the frames the XDP steering program redirected from
//! one NIC queue. The socket, its UMEM and rings are `xdp_prog::ring`'s; this file only turns
//! a batch of ring frames into [`Frame`]s.
//!
//! AF_XDP descriptors carry no timestamp: every frame of a batch gets the wall-clock time read
//! once when the batch is taken (STYLE.md §7), which is within one batch's latency of arrival.

use std::time::Duration;

use xdp_prog::ring::XskSocket;

use super::{Frame, PacketSource, RingStats};
use crate::error::Error;
use crate::packet::LinkType;

/// Frames of one AF_XDP socket (one NIC queue).
#[derive(Debug)]
pub struct AfXdpSource {
    socket: XskSocket,
    name: String,
}

impl AfXdpSource {
    /// A source over an open, bound socket; `name` (e.g. `eth0/3`) appears in errors.
    pub fn new(socket: XskSocket, name: String) -> Self {
        AfXdpSource { socket, name }
    }

    /// The socket (to register it with the steering program).
    pub fn socket(&self) -> &XskSocket {
        &self.socket
    }

    fn ring_error(&self, source: xdp_prog::Error) -> Error {
        Error::Capture {
            queue: self.name.clone(),
            source: Box::new(source),
        }
    }
}

impl PacketSource for AfXdpSource {
    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, Error> {
        let ts_ns = super::wall_clock_ns();
        self.socket
            .recv(max, |data| {
                f(Frame {
                    ts_ns,
                    wire_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
                    shared: None,
                    link: LinkType::Ethernet,
                    data,
                });
            })
            .map_err(|e| self.ring_error(e))
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        self.socket
            .wait(ms)
            .map(|_| ())
            .map_err(|e| self.ring_error(e))
    }

    fn ring_stats(&mut self) -> Option<RingStats> {
        let s = self.socket.statistics().ok()?;
        Some(RingStats {
            dropped: s.rx_dropped,
            rx_ring_full: s.rx_ring_full,
            fill_ring_empty: s.rx_fill_ring_empty_descs,
            invalid_descs: s.rx_invalid_descs,
            freeze_count: 0,
        })
    }
}
