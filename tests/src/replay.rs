//! The traffic generator of the kernel-path tests and benchmarks: replays the Ethernet frames of
//! capture files into a veth through AF_XDP TX sockets, one per queue of the peer. A TX socket
//! bound to queue q of `xfgen` delivers on RX queue q of `xfcap`, so the generator decides
//! which queue (and so which xdpflow worker) each frame reaches: it puts every frame on the
//! queue its flow hashes to (the same symmetric hash as the engine), which is what a NIC with a
//! symmetric RSS key does.
//!
//! What it cannot send is left out, and counted: frames of other link types, frames cut short
//! by the snaplen (their wire length is unknown to the receiver), frames larger than an AF_XDP
//! frame. [`Replay::write_pcap`] writes exactly the frames it sends, so `xdpflow pcap` on that
//! file is the reference the live capture must equal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use appliance::capture::pcap::PcapSource;
use appliance::capture::{Frame, PacketSource};
use appliance::flow::FlowPacket;
use appliance::flow::KeyHasher;
use appliance::flow::key::worker_of;
use appliance::packet::{Decoder, DecoderConfig, LinkType};
use xdp_prog::ring::{XskConfig, XskSocket};

use crate::pcapgen::PcapWriter;

/// An Ethernet/IPv4/UDP frame of `len` bytes (checksums left 0: nothing on the path checks).
pub fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let udp_len = ip_len - 20;
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(len, 0);
    f
}

/// Largest frame sent: an AF_XDP frame of 2048 bytes minus the 256-byte headroom.
pub const MAX_FRAME: usize = 2048 - 256;

/// Frames to replay, each with its queue.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    /// `(queue, frame)`, in capture order.
    pub frames: Vec<(u32, Vec<u8>)>,
    /// Frames left out: not Ethernet.
    pub skipped_link: u64,
    /// Frames left out: cut short by the snaplen.
    pub skipped_truncated: u64,
    /// Frames left out: larger than [`MAX_FRAME`] (or smaller than an Ethernet header).
    pub skipped_size: u64,
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendReport {
    /// Frames sent (all of them: the generator retries until the rings take them).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Time from the first to the last completion.
    pub elapsed: Duration,
}

impl Replay {
    /// Reads `paths` in order and assigns each frame the queue of its flow among `queues`.
    ///
    /// # Panics
    ///
    /// A capture that cannot be opened or read: a test cannot go on without its input.
    pub fn load(paths: &[PathBuf], queues: u32) -> Replay {
        let mut source = PcapSource::open(paths).expect("captures open");
        let mut decoder = Decoder::new(DecoderConfig::default());
        let hasher = KeyHasher::default();
        let mut r = Replay::default();
        while source
            .next_batch(512, &mut |f: Frame<'_>| {
                if f.link != LinkType::Ethernet {
                    r.skipped_link += 1;
                    return;
                }
                if f.data.len() != f.wire_len as usize {
                    r.skipped_truncated += 1;
                    return;
                }
                if f.data.len() > MAX_FRAME || f.data.len() < 14 {
                    r.skipped_size += 1;
                    return;
                }
                // Frames the engine cannot key go to queue 0: both sides count them as drops.
                let queue = match decoder.decode(f.link, f.data, f.ts_ns) {
                    Ok(d) => {
                        let p = FlowPacket::new(&hasher, d, f.ts_ns, f.wire_len);
                        worker_of(p.hash, queues as usize) as u32
                    }
                    Err(_) => 0,
                };
                r.frames.push((queue, f.data.to_vec()));
            })
            .expect("captures read")
            > 0
        {}
        r
    }

    /// `flows` UDP flows (198.18.0.0/16 → 198.19.0.0/16, one packet each way per round) of
    /// `frame_len`-byte Ethernet frames, `packets` frames in all, each on its flow's queue:
    /// the benchmark load.
    pub fn synthetic(flows: u32, packets: u64, frame_len: usize, queues: u32) -> Replay {
        let frame_len = frame_len.clamp(60, MAX_FRAME);
        let hasher = KeyHasher::default();
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut r = Replay::default();
        let flows = flows.max(1);
        for i in 0..packets {
            let flow = (i / 2) as u32 % flows;
            let reply = i % 2 == 1;
            let (a, b) = (
                [198, 18, (flow >> 8) as u8, flow as u8],
                [198, 19, (flow >> 16) as u8, 1],
            );
            let (sport, dport) = (10_000 + (flow % 50_000) as u16, 53u16);
            let (src, dst, sp, dp) = if reply {
                (b, a, dport, sport)
            } else {
                (a, b, sport, dport)
            };
            let frame = udp_frame(src, dst, sp, dp, frame_len);
            let d = decoder
                .decode(LinkType::Ethernet, &frame, 0)
                .expect("a valid UDP frame");
            let q = worker_of(FlowPacket::new(&hasher, d, 0, 0).hash, queues as usize) as u32;
            r.frames.push((q, frame));
        }
        r
    }

    /// A classic pcap of exactly the frames replayed, 1 µs apart (so no timeout fires in
    /// pcap mode that could not fire in a fast live replay).
    pub fn write_pcap(&self, path: &std::path::Path) {
        let mut w = PcapWriter::new();
        let t0 = 1_700_000_000_000_000u64;
        for (i, (_, f)) in self.frames.iter().enumerate() {
            w.record(t0 + i as u64, f);
        }
        std::fs::write(path, w.into_bytes()).expect("write the replay pcap");
    }

    /// Sends every frame on `iface` (the calling thread must be in its namespace), queue by
    /// queue as assigned — one thread per queue, so frames of one flow keep their order — at
    /// most `rate` frames per second in all (`None`: as fast as the rings take them), and
    /// waits until the kernel has completed them all.
    ///
    /// # Errors
    ///
    /// A TX socket that cannot be opened or fails.
    pub fn send(
        &self,
        iface: &str,
        queues: u32,
        rate: Option<u64>,
    ) -> Result<SendReport, xdp_prog::Error> {
        // Opened here, in the caller's namespace; threads then own one each.
        let sockets: Vec<XskSocket> = (0..queues)
            .map(|q| XskSocket::open(iface, q, &XskConfig::transmitter()))
            .collect::<Result<_, _>>()?;
        let mut per_queue: Vec<Vec<&[u8]>> = vec![Vec::new(); queues as usize];
        for (q, frame) in &self.frames {
            per_queue[*q as usize].push(frame);
        }
        let share = rate.map(|r| r.div_ceil(u64::from(queues.max(1))).max(1));
        let started = Instant::now();
        let results: Vec<Result<(), xdp_prog::Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sockets
                .into_iter()
                .zip(&per_queue)
                .map(|(sock, frames)| scope.spawn(move || send_queue(sock, frames, share)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("generator thread"))
                .collect()
        });
        for r in results {
            r?;
        }
        Ok(SendReport {
            frames: self.frames.len() as u64,
            bytes: self.frames.iter().map(|(_, f)| f.len() as u64).sum(),
            elapsed: started.elapsed(),
        })
    }
}

/// One queue's share: batches of 64, paced to `rate` frames/s, then waits for completion.
fn send_queue(
    mut sock: XskSocket,
    frames: &[&[u8]],
    rate: Option<u64>,
) -> Result<(), xdp_prog::Error> {
    const BATCH: usize = 64;
    let started = Instant::now();
    for (i, batch) in frames.chunks(BATCH).enumerate() {
        let mut done = 0;
        while done < batch.len() {
            let n = sock.send(&batch[done..])?;
            if n == 0 {
                std::thread::yield_now();
            }
            done += n;
        }
        if let Some(rate) = rate {
            // Pace: the frames up to this batch are due at (count / rate) seconds.
            let sent = ((i + 1) * BATCH).min(frames.len());
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sock.tx_in_flight()? > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}
