//! The AF_XDP socket (`Documentation/networking/af_xdp.rst`): [`XskSocket::open`] registers a
//! UMEM, creates and maps the rings, lends the receive frames to the kernel on FILL and binds
//! to one queue of one interface; [`XskSocket::recv`] and [`XskSocket::send`] move batches.
//!
//! Frame ownership: with an RX ring, the receive frames circulate FILL → kernel → RX → `recv`'s
//! callback → FILL. With a TX ring, the transmit frames circulate free list → `send` → TX →
//! kernel → COMPLETION → free list. A socket with both splits the UMEM: `tx_size` frames for
//! TX, the rest for RX.
//!
//! Hot path: `recv` and `send` allocate nothing, take no lock, log nothing, and make at most one
//! system call per batch: the `recvfrom`/`sendto` wake-up, and only when the ring's
//! `XDP_RING_NEED_WAKEUP` flag asks for it (or, for TX, when the socket was opened with
//! `need_wakeup = false`, in which case every batch kicks).
//!
//! This module does _not_ load or attach the XDP program that redirects packets to the socket,
//! nor register the socket in its XSKMAP (see `loader`); [`XskSocket::fd`] is what that needs.

use std::io;
use std::os::fd::BorrowedFd;

use super::abi::{
    AF_XDP, MMAP_OFFSETS_LEN, MmapOffsets, SOL_XDP, STATISTICS_LEN, SockaddrXdp, Statistics,
    XDP_COPY, XDP_MMAP_OFFSETS, XDP_OPTIONS, XDP_OPTIONS_ZEROCOPY, XDP_PACKET_HEADROOM,
    XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_RX_RING, XDP_STATISTICS, XDP_TX_RING,
    XDP_UMEM_COMPLETION_RING, XDP_UMEM_FILL_RING, XDP_UMEM_MIN_CHUNK_SIZE, XDP_UMEM_REG,
    XDP_USE_NEED_WAKEUP, XDP_ZEROCOPY, XdpDesc,
};
use super::ethtool::{self, Socket};
use super::queue::{Consumer, Producer};
use super::sys::{Syscall, syscall};
use super::umem::{FrameArea, FrameStack, Umem, map_desc_ring};
use crate::Error;

/// Size of the FILL or COMPLETION ring a socket does not use. The kernel refuses to bind a
/// socket without both (`xsk_validate_queues`), so a transmitter gets a 1-entry FILL ring and a
/// receiver a 1-entry COMPLETION ring.
const UNUSED_RING_SIZE: u32 = 1;

/// `sendto`/`recvfrom` wake-up answers that mean "busy, try again with the next batch"
/// (the kernel's `xsk_sendmsg`/`xsk_recvmsg` and the copy-mode TX budget).
const TRANSIENT_WAKE_ERRORS: [i32; 5] = [
    libc::EAGAIN,
    libc::EBUSY,
    libc::ENOBUFS,
    libc::ENETDOWN,
    libc::EINTR,
];

/// How [`XskSocket::open`] binds to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// Try zero-copy (`XDP_ZEROCOPY`), fall back to copy mode (`XDP_COPY`); the mode in use is
    /// logged and reported by [`XskSocket::zero_copy`].
    #[default]
    Auto,
    /// Zero-copy only: the driver DMAs straight into the UMEM. Fails where the driver lacks
    /// support (veth, most virtual NICs).
    ZeroCopy,
    /// Copy mode only: the kernel copies each packet into the UMEM. Works on every interface.
    Copy,
}

impl BindMode {
    fn flag(zero_copy: bool) -> u16 {
        if zero_copy { XDP_ZEROCOPY } else { XDP_COPY }
    }
}

/// Sizes and modes of one AF_XDP socket. Every ring size is a power of two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XskConfig {
    /// Bytes per UMEM frame: a power of two from 2048 to the page size (4096 on x86-64). The
    /// first 256 bytes (`XDP_PACKET_HEADROOM`) are headroom, so a frame holds packets of up to
    /// `frame_size - 256` bytes. Default 2048.
    pub frame_size: u32,
    /// Frames in the UMEM; at least `fill_size` (with an RX ring) plus `tx_size`. The UMEM
    /// (`frame_size * frame_count` bytes) is locked in memory: CAP_IPC_LOCK or a large enough
    /// RLIMIT_MEMLOCK. Default 4096 (8 MiB).
    pub frame_count: u32,
    /// FILL ring entries. Needed with an RX ring; 0 when `rx_size` is 0 (the kernel still gets
    /// the minimal FILL ring it insists on). Default 2048.
    pub fill_size: u32,
    /// COMPLETION ring entries. Needed with a TX ring; 0 when `tx_size` is 0 (the kernel still
    /// gets the minimal ring it insists on). Default 0.
    pub comp_size: u32,
    /// RX ring entries; 0 = no RX ring (a transmitter). Default 2048.
    pub rx_size: u32,
    /// TX ring entries; 0 = no TX ring (a receiver). Default 0.
    pub tx_size: u32,
    /// Zero-copy, copy, or try both. Default [`BindMode::Auto`].
    pub bind: BindMode,
    /// Bind with `XDP_USE_NEED_WAKEUP`: the kernel sets a flag when it needs a system call to
    /// go on, and [`XskSocket`] makes one only then. Leave on unless the kernel predates 5.4.
    /// Default `true`.
    pub need_wakeup: bool,
}

impl Default for XskConfig {
    /// A receiver: RX and FILL rings of 2048, no TX ring.
    fn default() -> XskConfig {
        XskConfig {
            frame_size: 2048,
            frame_count: 4096,
            fill_size: 2048,
            comp_size: 0,
            rx_size: 2048,
            tx_size: 0,
            bind: BindMode::Auto,
            need_wakeup: true,
        }
    }
}

impl XskConfig {
    /// A transmitter (the traffic generator): TX and COMPLETION rings of 2048, no RX ring, all
    /// 4096 frames for TX.
    pub fn transmitter() -> XskConfig {
        XskConfig {
            fill_size: 0,
            comp_size: 2048,
            rx_size: 0,
            tx_size: 2048,
            ..XskConfig::default()
        }
    }

    /// Checks every setting; [`XskSocket::open`] calls this first, callers may call it early.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first setting at fault and what it allows.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid =
            |setting: &'static str, reason: String| Error::InvalidConfig { setting, reason };
        let page = page_size();
        let fs = self.frame_size;
        if !fs.is_power_of_two() || fs < XDP_UMEM_MIN_CHUNK_SIZE || fs > page {
            return Err(invalid(
                "frame_size",
                format!(
                    "{fs} is not a power of two from {XDP_UMEM_MIN_CHUNK_SIZE} to the page \
                     size ({page})"
                ),
            ));
        }
        for (setting, size) in [
            ("rx_size", self.rx_size),
            ("tx_size", self.tx_size),
            ("fill_size", self.fill_size),
            ("comp_size", self.comp_size),
        ] {
            if size != 0 && !size.is_power_of_two() {
                return Err(invalid(
                    setting,
                    format!("{size} is not a power of two (ring sizes are 2^n entries)"),
                ));
            }
        }
        if self.rx_size == 0 && self.tx_size == 0 {
            return Err(invalid(
                "rx_size",
                "rx_size and tx_size are both 0: a socket needs an RX or a TX ring".into(),
            ));
        }
        if self.rx_size > 0 && self.fill_size == 0 {
            return Err(invalid(
                "fill_size",
                "0, but a socket with an RX ring needs a FILL ring (e.g. fill_size = rx_size)"
                    .into(),
            ));
        }
        if self.tx_size > 0 && self.comp_size == 0 {
            return Err(invalid(
                "comp_size",
                "0, but a socket with a TX ring needs a COMPLETION ring (e.g. comp_size = \
                 tx_size)"
                    .into(),
            ));
        }
        let fill = if self.rx_size > 0 { self.fill_size } else { 0 };
        let need = u64::from(fill) + u64::from(self.tx_size);
        if self.frame_count == 0 || u64::from(self.frame_count) < need {
            return Err(invalid(
                "frame_count",
                format!(
                    "{} frames cannot fill the FILL ring ({fill}) and the TX ring ({}): use at \
                     least {need}",
                    self.frame_count, self.tx_size
                ),
            ));
        }
        Ok(())
    }

    /// FILL and COMPLETION ring sizes as created (unused ones at their minimum).
    fn umem_ring_sizes(&self) -> (u32, u32) {
        let fill = if self.rx_size > 0 {
            self.fill_size
        } else {
            UNUSED_RING_SIZE
        };
        let comp = if self.tx_size > 0 {
            self.comp_size
        } else {
            UNUSED_RING_SIZE
        };
        (fill, comp)
    }

    /// Frames for TX: all of them without an RX ring, `tx_size` with one, else none.
    fn tx_frames(&self) -> u32 {
        match (self.rx_size, self.tx_size) {
            (_, 0) => 0,
            (0, _) => self.frame_count,
            (_, tx) => tx,
        }
    }
}

/// The kernel's drop and error counters for one socket (`XDP_STATISTICS`). Each only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XskStatistics {
    /// Packets dropped for reasons other than those below.
    pub rx_dropped: u64,
    /// Packets dropped because of an invalid RX descriptor.
    pub rx_invalid_descs: u64,
    /// TX descriptors the kernel rejected (bad address or length).
    pub tx_invalid_descs: u64,
    /// Packets dropped because the RX ring was full: user space is too slow.
    pub rx_ring_full: u64,
    /// Times the kernel found the FILL ring empty (no frame to receive into).
    pub rx_fill_ring_empty_descs: u64,
    /// Times the kernel found the TX ring empty when asked to send.
    pub tx_ring_empty_descs: u64,
}

/// An AF_XDP socket bound to one queue of one interface, with its UMEM and rings.
///
/// It is `Send`, so it can be moved into the worker thread that owns it, but not `Sync`:
/// one thread drives it. Dropping it closes the socket and unmaps the rings and the UMEM.
#[derive(Debug)]
pub struct XskSocket {
    // Declared (and so dropped) first: closing the socket ends its use of the UMEM.
    fd: Socket,
    rx: Option<Consumer<XdpDesc>>,
    tx: Option<Producer<XdpDesc>>,
    umem: Umem,
    /// RX frames owned by user space, waiting for room on FILL.
    rx_spare: FrameStack,
    /// TX frames owned by user space, free to send.
    tx_free: FrameStack,
    /// All TX frames, free or in flight.
    tx_frames: u32,
    need_wakeup: bool,
    zero_copy: bool,
    iface: String,
    queue: u32,
}

impl XskSocket {
    /// Opens an AF_XDP socket on queue `queue` of `iface`: maps and registers a UMEM of
    /// `cfg.frame_count` frames, creates and maps the rings, puts the receive frames on FILL
    /// and binds as `cfg.bind` says.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidConfig`] for a bad `cfg` (see [`XskConfig::validate`]);
    /// - [`Error::NoSuchInterface`] when `iface` is not in this network namespace;
    /// - [`Error::MissingCapability`] without CAP_NET_RAW;
    /// - [`Error::UmemLocked`] when the kernel may not lock the UMEM in memory;
    /// - [`Error::XskNoSuchQueue`] when the queue does not exist;
    /// - [`Error::XskBind`] for other bind failures (queue taken, no zero-copy support);
    /// - [`Error::Io`] for any other failed call, naming it.
    pub fn open(iface: &str, queue: u32, cfg: &XskConfig) -> Result<XskSocket, Error> {
        cfg.validate()?;
        let ifindex = ethtool::if_index(iface)?;
        let at = || format!("`{iface}` queue {queue}");
        let io = |what: &str, source: io::Error| Error::Io {
            what: format!("{what} for {}", at()),
            source,
        };

        let fd = Socket::open(AF_XDP, libc::SOCK_RAW, 0).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => Error::MissingCapability {
                what: format!("opening an AF_XDP socket for {}", at()),
                cap: "CAP_NET_RAW",
                cap_lower: "cap_net_raw",
            },
            Some(libc::EAFNOSUPPORT) => io(
                "opening an AF_XDP socket (kernel built without CONFIG_XDP_SOCKETS?)",
                e,
            ),
            _ => io("opening an AF_XDP socket", e),
        })?;

        let area = FrameArea::allocate(cfg.frame_size, cfg.frame_count).map_err(|e| {
            io(
                &format!(
                    "mapping a UMEM of {} frames of {} bytes",
                    cfg.frame_count, cfg.frame_size
                ),
                e,
            )
        })?;
        let reg = area.registration();
        set_option(&fd, XDP_UMEM_REG, &reg.to_bytes()).map_err(|e| match e.raw_os_error() {
            // The kernel charges the pinned pages to RLIMIT_MEMLOCK unless CAP_IPC_LOCK
            // (`xdp_umem_account_pages`: ENOBUFS), and pinning itself can fail (ENOMEM).
            Some(libc::EPERM | libc::ENOMEM | libc::ENOBUFS) => Error::UmemLocked {
                iface: iface.to_owned(),
                queue,
                bytes: reg.len,
                source: e,
            },
            _ => io("registering the UMEM (XDP_UMEM_REG)", e),
        })?;

        let (fill_size, comp_size) = cfg.umem_ring_sizes();
        for (opt, size, what) in [
            (XDP_UMEM_FILL_RING, fill_size, "creating the FILL ring"),
            (
                XDP_UMEM_COMPLETION_RING,
                comp_size,
                "creating the COMPLETION ring",
            ),
            (XDP_RX_RING, cfg.rx_size, "creating the RX ring"),
            (XDP_TX_RING, cfg.tx_size, "creating the TX ring"),
        ] {
            if size > 0 {
                set_option(&fd, opt, &size.to_ne_bytes())
                    .map_err(|e| io(&format!("{what} of {size} entries"), e))?;
            }
        }
        let off =
            mmap_offsets(&fd).map_err(|e| io("reading the ring offsets (XDP_MMAP_OFFSETS)", e))?;

        // SAFETY: `fd` is the AF_XDP socket this function made, with `area` registered and the
        // FILL/COMPLETION rings just created at these sizes; `off` is its answer to
        // XDP_MMAP_OFFSETS; nothing else maps its rings.
        let mut umem = unsafe { Umem::map_rings(fd.raw(), area, &off, fill_size, comp_size) }
            .map_err(|e| io("mapping the FILL and COMPLETION rings", e))?;
        let rx = match cfg.rx_size {
            0 => None,
            size => {
                let map = map_desc_ring(fd.raw(), off.rx.desc, size, XDP_PGOFF_RX_RING)
                    .map_err(|e| io("mapping the RX ring", e))?;
                // SAFETY: the kernel's RX ring of `fd`, created above with `size` entries and laid
                // out as `off.rx` says; the kernel produces it and this socket is its only user.
                let ring = unsafe { Consumer::new(map, &off.rx, size) }
                    .map_err(|e| io("mapping the RX ring", e))?;
                Some(ring)
            }
        };
        let tx = match cfg.tx_size {
            0 => None,
            size => {
                let map = map_desc_ring(fd.raw(), off.tx.desc, size, XDP_PGOFF_TX_RING)
                    .map_err(|e| io("mapping the TX ring", e))?;
                // SAFETY: the kernel's TX ring of `fd`, created above with `size` entries and laid
                // out as `off.tx` says; the kernel consumes it and this socket is its only user.
                let ring = unsafe { Producer::new(map, &off.tx, size) }
                    .map_err(|e| io("mapping the TX ring", e))?;
                Some(ring)
            }
        };

        // TX frames first, RX frames after; RX frames pushed in reverse so FILL gets them in
        // address order.
        let tx_frames = cfg.tx_frames();
        let mut tx_free = FrameStack::with_capacity(tx_frames);
        for i in (0..tx_frames).rev() {
            tx_free.push(umem.area.frame(i));
        }
        let rx_frames = if cfg.rx_size > 0 {
            cfg.frame_count - tx_frames
        } else {
            0
        };
        let mut rx_spare = FrameStack::with_capacity(rx_frames);
        for i in (tx_frames..tx_frames + rx_frames).rev() {
            rx_spare.push(umem.area.frame(i));
        }
        umem.refill(&mut rx_spare);

        let zero_copy = bind(&fd, iface, ifindex, queue, cfg)?;
        let mode = if zero_copy { "zero-copy" } else { "copy" };
        tracing::info!(
            message = "AF_XDP socket bound.",
            iface,
            queue,
            mode,
            frames = cfg.frame_count,
            frame_size = cfg.frame_size,
        );
        Ok(XskSocket {
            fd,
            rx,
            tx,
            umem,
            rx_spare,
            tx_free,
            tx_frames,
            need_wakeup: cfg.need_wakeup,
            zero_copy,
            iface: iface.to_owned(),
            queue,
        })
    }

    /// The socket, for registering it in the XDP program's XSKMAP.
    pub fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `self.fd` is open from `open` until `Drop`, which needs `&mut self`, so it
        // outlives this borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(self.fd.raw()) }
    }

    /// The queue the socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Whether the socket is bound in zero-copy mode (else copy mode).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Receives up to `max` frames without blocking: calls `f` with each frame's bytes
    /// (borrowed: they cannot escape the call), then releases the RX descriptors and refills
    /// FILL, with one `Release` store each. Wakes the kernel (`recvfrom`) only when the FILL
    /// ring's need-wakeup flag is set. Returns how many frames `f` saw.
    ///
    /// # Errors
    ///
    /// [`Error::XskNoRing`] on a socket without an RX ring; [`Error::Io`] when the wake-up
    /// fails for a reason other than the kernel being busy.
    pub fn recv(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, Error> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(no_ring(&self.iface, self.queue, "RX", "rx_size"));
        };
        let batch = rx.peek(u32::try_from(max).unwrap_or(u32::MAX));
        let n = batch.len();
        let mut seen = 0;
        for i in 0..n {
            let desc = batch.get(i);
            // SAFETY: the descriptor is in this unreleased RX batch, so its frame belongs to user
            // space until it goes back on FILL below, after `f` has returned and the slice is
            // gone (`f` cannot keep it: the borrow ends with the call).
            if let Some(frame) = unsafe { self.umem.area.bytes(desc.addr, desc.len) } {
                f(frame);
                seen += 1;
            }
        }
        // A second pass, so a panic in `f` leaves the batch unreleased and the frames unlisted.
        for i in 0..n {
            if let Some(base) = self.umem.area.base_of(batch.get(i).addr) {
                self.rx_spare.push(base);
            }
        }
        batch.release();
        self.umem.refill(&mut self.rx_spare);
        if self.need_wakeup && self.umem.fill.needs_wakeup() {
            self.wake(Syscall::Wake {
                fd: self.fd.raw(),
                flags: libc::MSG_DONTWAIT,
            })?;
        }
        Ok(seen)
    }

    /// Waits up to `timeout_ms` milliseconds (`poll` for `POLLIN`; -1 waits forever) for RX
    /// descriptors; `Ok(true)` when some are ready. Returns at once when some already are.
    ///
    /// # Errors
    ///
    /// [`Error::XskNoRing`] on a socket without an RX ring; [`Error::Io`] when `poll` fails
    /// (an interrupted `poll` is not an error: `Ok(false)` unless frames arrived).
    pub fn wait(&mut self, timeout_ms: i32) -> Result<bool, Error> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(no_ring(&self.iface, self.queue, "RX", "rx_size"));
        };
        if rx.available() > 0 {
            return Ok(true);
        }
        let mut fds = [libc::pollfd {
            fd: self.fd.raw(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `Poll` borrows `fds` for the call only and passes no raw pointer or
        // descriptor we don't own.
        match unsafe {
            syscall(Syscall::Poll {
                fds: &mut fds,
                timeout_ms,
            })
        } {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Io {
                    what: format!(
                        "waiting for packets on `{}` queue {}",
                        self.iface, self.queue
                    ),
                    source,
                });
            }
        }
        Ok(rx.available() > 0)
    }

    /// Copies as many of `frames` as fit into free TX frames, submits them with one `Release`
    /// store and kicks the kernel (`sendto`) when it needs it; reclaims completed frames
    /// first. Returns how many were queued: fewer than `frames.len()` when TX is full (call
    /// again, or [`tx_in_flight`](Self::tx_in_flight) until there is room).
    ///
    /// # Errors
    ///
    /// [`Error::XskFrameLength`] when a frame that would be queued is empty or longer than
    /// `frame_size - 256` (nothing is queued then); [`Error::XskNoRing`] on a socket without
    /// a TX ring; [`Error::Io`] when the kick fails for a reason other than the kernel being
    /// busy.
    pub fn send(&mut self, frames: &[&[u8]]) -> Result<usize, Error> {
        let Some(tx) = self.tx.as_mut() else {
            return Err(no_ring(&self.iface, self.queue, "TX", "tx_size"));
        };
        self.umem.reclaim(&mut self.tx_free);
        let max_len = self.umem.area.frame_size() - XDP_PACKET_HEADROOM;
        let want = u32::try_from(frames.len())
            .unwrap_or(u32::MAX)
            .min(self.tx_free.len());
        let mut batch = tx.reserve(want);
        let frames = &frames[..batch.capacity() as usize];
        if let Some(bad) = frames
            .iter()
            .find(|f| f.is_empty() || f.len() > max_len as usize)
        {
            // Dropping `batch` publishes nothing.
            return Err(Error::XskFrameLength {
                len: bad.len(),
                max: max_len,
            });
        }
        for frame in frames {
            let Some(base) = self.tx_free.pop() else {
                break;
            };
            let addr = base + u64::from(XDP_PACKET_HEADROOM);
            // SAFETY: `base` came off the free list: user space owns that frame until the
            // descriptor below is committed to TX.
            let written = unsafe { self.umem.area.write(addr, frame) };
            debug_assert!(written, "a checked length fits a frame past its headroom");
            let desc = XdpDesc {
                addr,
                len: frame.len() as u32,
                options: 0,
            };
            if batch.push(desc).is_err() {
                self.tx_free.push(base);
                break;
            }
        }
        let queued = batch.commit();
        self.kick_if_needed()?;
        Ok(queued as usize)
    }

    /// TX frames submitted but not yet completed. Reclaims COMPLETION first and kicks the
    /// kernel when frames wait and it needs a kick, so a transmitter loops on this until 0.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the kick fails for a reason other than the kernel being busy.
    pub fn tx_in_flight(&mut self) -> Result<u32, Error> {
        if self.tx.is_none() {
            return Ok(0);
        }
        self.umem.reclaim(&mut self.tx_free);
        if self.kick_if_needed()? {
            self.umem.reclaim(&mut self.tx_free);
        }
        Ok(self.tx_frames - self.tx_free.len())
    }

    /// The kernel's counters for this socket (`XDP_STATISTICS`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `getsockopt` fails.
    pub fn statistics(&self) -> Result<XskStatistics, Error> {
        let mut b = [0u8; STATISTICS_LEN];
        let len = get_option(&self.fd, XDP_STATISTICS, &mut b).map_err(|source| Error::Io {
            what: format!(
                "reading AF_XDP statistics of `{}` queue {}",
                self.iface, self.queue
            ),
            source,
        })?;
        let s = Statistics::from_bytes(&b, len);
        Ok(XskStatistics {
            rx_dropped: s.rx_dropped,
            rx_invalid_descs: s.rx_invalid_descs,
            tx_invalid_descs: s.tx_invalid_descs,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs,
            tx_ring_empty_descs: s.tx_ring_empty_descs,
        })
    }

    /// Kicks TX (`sendto`) when frames are in flight and the kernel wants a kick (always,
    /// without need_wakeup); `Ok(true)` when it did.
    fn kick_if_needed(&mut self) -> Result<bool, Error> {
        let Some(tx) = self.tx.as_ref() else {
            return Ok(false);
        };
        let in_flight = self.tx_frames - self.tx_free.len();
        if in_flight == 0 || (self.need_wakeup && !tx.needs_wakeup()) {
            return Ok(false);
        }
        self.wake(Syscall::Kick {
            fd: self.fd.raw(),
            flags: libc::MSG_DONTWAIT,
        })?;
        Ok(true)
    }

    /// Makes a wake-up call; "busy" answers are fine, the next batch tries again.
    fn wake(&self, call: Syscall<'_>) -> Result<(), Error> {
        let what = if matches!(call, Syscall::Kick { .. }) {
            "kicking TX (sendto)"
        } else {
            "waking RX (recvfrom)"
        };
        // SAFETY: `Kick`/`Wake` pass our own open socket and no buffer.
        match unsafe { syscall(call) } {
            Ok(_) => Ok(()),
            Err(e)
                if e.raw_os_error()
                    .is_some_and(|n| TRANSIENT_WAKE_ERRORS.contains(&n)) =>
            {
                Ok(())
            }
            Err(source) => Err(Error::Io {
                what: format!(
                    "{what} of the AF_XDP socket on `{}` queue {}",
                    self.iface, self.queue
                ),
                source,
            }),
        }
    }
}

/// Binds as `cfg.bind` says; returns whether zero-copy is in use.
fn bind(
    fd: &Socket,
    iface: &str,
    ifindex: u32,
    queue: u32,
    cfg: &XskConfig,
) -> Result<bool, Error> {
    let wakeup = if cfg.need_wakeup {
        XDP_USE_NEED_WAKEUP
    } else {
        0
    };
    let try_bind = |zero_copy: bool| {
        let addr = SockaddrXdp {
            family: AF_XDP as u16,
            flags: BindMode::flag(zero_copy) | wakeup,
            ifindex,
            queue_id: queue,
            shared_umem_fd: 0,
        };
        {
            let addr = addr.to_bytes();
            // SAFETY: `addr` is borrowed for the call; the descriptor is `fd`'s.
            unsafe {
                syscall(Syscall::Bind {
                    fd: fd.raw(),
                    addr: &addr,
                })
            }
            .map(drop)
        }
    };
    let bound_zc = match cfg.bind {
        BindMode::ZeroCopy => try_bind(true).map(|()| true).map_err(|e| (e, true)),
        BindMode::Copy => try_bind(false).map(|()| false).map_err(|e| (e, false)),
        BindMode::Auto => match try_bind(true) {
            Ok(()) => Ok(true),
            Err(error) => {
                tracing::info!(
                    message = "Zero-copy AF_XDP bind refused; trying copy mode.",
                    iface,
                    queue,
                    %error,
                );
                try_bind(false).map(|()| false).map_err(|e| (e, false))
            }
        },
    };
    let bound_zc =
        bound_zc.map_err(|(source, zero_copy)| bind_error(iface, queue, zero_copy, cfg, source))?;
    // Ask the kernel which mode it runs (Linux 5.3+); the bind flag that succeeded says the
    // same, so fall back to it.
    let mut opts = [0u8; 4];
    let zero_copy = match get_option(fd, XDP_OPTIONS, &mut opts) {
        Ok(4) => u32::from_ne_bytes(opts) & XDP_OPTIONS_ZEROCOPY != 0,
        _ => bound_zc,
    };
    Ok(zero_copy)
}

/// Turns a failed bind into an error naming the interface, the queue and, where the errno
/// tells, the cause.
fn bind_error(
    iface: &str,
    queue: u32,
    zero_copy: bool,
    cfg: &XskConfig,
    source: io::Error,
) -> Error {
    let hint = match source.raw_os_error() {
        Some(libc::EINVAL) => {
            // `xsk_bind` refuses a queue id at or past the real RX (and, with a TX ring, TX)
            // queue count with EINVAL.
            if let Some(available) = queue_count(iface, cfg.rx_size > 0, cfg.tx_size > 0)
                && queue >= available
            {
                return Error::XskNoSuchQueue {
                    iface: iface.to_owned(),
                    queue,
                    available,
                };
            }
            "; check that the queue exists (`ethtool -l IFACE`)"
        }
        Some(libc::EBUSY) => "; another AF_XDP socket is bound to that queue",
        Some(libc::EOPNOTSUPP) if zero_copy => {
            "; the driver has no zero-copy support (use bind mode `copy` or `auto`)"
        }
        Some(libc::ENODEV) => "; the interface went away",
        _ => "",
    };
    Error::XskBind {
        iface: iface.to_owned(),
        queue,
        mode: if zero_copy { "zero-copy" } else { "copy" },
        hint,
        source,
    }
}

fn no_ring(iface: &str, queue: u32, ring: &'static str, setting: &'static str) -> Error {
    Error::XskNoRing {
        iface: iface.to_owned(),
        queue,
        ring,
        setting,
    }
}

/// `setsockopt(SOL_XDP, name, value)`.
fn set_option(sock: &Socket, name: i32, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is borrowed for the call; the descriptor is `sock`'s, open while it lives.
    unsafe {
        syscall(Syscall::SetSockOpt {
            fd: sock.raw(),
            level: SOL_XDP,
            name,
            value,
        })
    }
    .map(drop)
}

/// `getsockopt(SOL_XDP, name)` into `value`; returns how many bytes the kernel wrote.
fn get_option(sock: &Socket, name: i32, value: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `value` is borrowed for the call; the descriptor is `sock`'s, open while it lives.
    let n = unsafe {
        syscall(Syscall::GetSockOpt {
            fd: sock.raw(),
            level: SOL_XDP,
            name,
            value,
        })
    }?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// `getsockopt(XDP_MMAP_OFFSETS)`, refusing the pre-5.4 layout without ring flags.
fn mmap_offsets(sock: &Socket) -> io::Result<MmapOffsets> {
    let mut b = [0u8; MMAP_OFFSETS_LEN];
    let len = get_option(sock, XDP_MMAP_OFFSETS, &mut b)?;
    if len != MMAP_OFFSETS_LEN {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the kernel answered with {len} bytes, not {MMAP_OFFSETS_LEN}: rings without a \
                 need-wakeup flag (Linux < 5.4) are not supported"
            ),
        ));
    }
    Ok(MmapOffsets::from_bytes(&b))
}

/// Queues a socket on `iface` can bind to (`ETHTOOL_GCHANNELS`): RX queues for a receiver, TX
/// queues for a transmitter, the fewer of both for a socket with both. `None` when the driver
/// does not say.
fn queue_count(iface: &str, rx: bool, tx: bool) -> Option<u32> {
    let ch = ethtool::channels(iface).ok().flatten()?;
    let rx_queues = ch.rx + ch.combined;
    let tx_queues = ch.tx + ch.combined;
    match (rx, tx) {
        (true, true) => Some(rx_queues.min(tx_queues)),
        (true, false) => Some(rx_queues),
        (false, _) => Some(tx_queues),
    }
}

/// The system page size: the largest aligned-mode frame.
fn page_size() -> u32 {
    // SAFETY: `sysconf` has no preconditions; `_SC_PAGESIZE` reads a value the C library got
    // from the kernel at startup (no system call).
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    //! `XskSocket` over a fake kernel: heap memory stands in for the UMEM and the rings, and
    //! the test plays the kernel's side of each ring.

    use super::*;
    use crate::ring::abi::{
        XDP_RING_NEED_WAKEUP, XDP_UMEM_PGOFF_COMPLETION_RING, XDP_UMEM_PGOFF_FILL_RING,
    };
    use crate::ring::queue::tests::{FAKE_OFF, Heap, KernelSide};
    use crate::ring::sys::override_syscall;
    use std::cell::{Cell, RefCell};
    use std::os::fd::RawFd;
    use std::rc::Rc;

    const XSK_FD: RawFd = 1000;
    const QUERY_FD: RawFd = 1001;
    const IFINDEX: i32 = 7;
    const IFACE: &str = "fake0";

    /// The kernel, faked: answers every call `XskSocket` makes.
    struct Fake {
        umem: Heap,
        fill: KernelSide<u64>,
        comp: KernelSide<u64>,
        rx: KernelSide<XdpDesc>,
        tx: KernelSide<XdpDesc>,
        /// The driver supports zero-copy.
        zero_copy_ok: bool,
        /// Queues of `IFACE`.
        queues: u32,
        /// A kick sends everything on TX and completes it at once, like copy mode on veth.
        xmit_on_kick: Cell<bool>,
        sent: RefCell<Vec<(u64, Vec<u8>)>>,
        sockopts: RefCell<Vec<(i32, Vec<u8>)>>,
        /// `sxdp_flags` of each bind attempt.
        binds: RefCell<Vec<u16>>,
        bound_zero_copy: Cell<bool>,
        wakes: Cell<u32>,
        kicks: Cell<u32>,
        polls: Cell<u32>,
        closes: Cell<u32>,
        mmaps: Cell<u32>,
        munmaps: Cell<u32>,
        /// Packets that "arrive" while user space sits in `poll`.
        arrive_on_poll: RefCell<Vec<Vec<u8>>>,
        /// Make `socket(AF_XDP)` fail with this errno.
        socket_errno: Cell<Option<i32>>,
        /// Make `XDP_UMEM_REG` fail with this errno.
        umem_reg_errno: Cell<Option<i32>>,
    }

    impl Fake {
        fn new(cfg: &XskConfig) -> Rc<Fake> {
            let (fill, comp) = cfg.umem_ring_sizes();
            Rc::new(Fake {
                umem: Heap::new(cfg.frame_size as usize * cfg.frame_count as usize),
                fill: KernelSide::new(fill),
                comp: KernelSide::new(comp),
                rx: KernelSide::new(cfg.rx_size.max(1)),
                tx: KernelSide::new(cfg.tx_size.max(1)),
                zero_copy_ok: false,
                queues: 2,
                xmit_on_kick: Cell::new(true),
                sent: RefCell::default(),
                sockopts: RefCell::default(),
                binds: RefCell::default(),
                bound_zero_copy: Cell::new(false),
                wakes: Cell::new(0),
                kicks: Cell::new(0),
                polls: Cell::new(0),
                closes: Cell::new(0),
                mmaps: Cell::new(0),
                munmaps: Cell::new(0),
                arrive_on_poll: RefCell::default(),
                socket_errno: Cell::new(None),
                umem_reg_errno: Cell::new(None),
            })
        }

        /// Routes this thread's system calls to `fake` until the guard drops.
        fn install(fake: &Rc<Fake>) -> impl Drop {
            let fake = Rc::clone(fake);
            override_syscall(move |call| Some(fake.handle(call)))
        }

        fn handle(&self, call: &mut Syscall<'_>) -> io::Result<i64> {
            let errno = |n| Err(io::Error::from_raw_os_error(n));
            match call {
                Syscall::Socket { domain, .. } if *domain == AF_XDP => {
                    match self.socket_errno.get() {
                        Some(n) => errno(n),
                        None => Ok(XSK_FD.into()),
                    }
                }
                Syscall::Socket { domain, .. } if *domain == libc::AF_INET => Ok(QUERY_FD.into()),
                Syscall::Ioctl { fd, request, arg } => {
                    assert_eq!(*fd, QUERY_FD);
                    let ifr: *mut libc::ifreq = (*arg).cast();
                    // SAFETY: `arg` is the caller's live, writable `struct ifreq`, lent to this
                    // call only (ethtool.rs `ioctl`).
                    let ifr = unsafe { &mut *ifr };
                    let name: Vec<u8> = ifr.ifr_name.iter().map(|&c| c as u8).collect();
                    if !name.starts_with(b"fake0\0") {
                        return errno(libc::ENODEV);
                    }
                    if *request == libc::SIOCGIFINDEX {
                        ifr.ifr_ifru.ifru_ifindex = IFINDEX;
                    } else if *request == libc::SIOCETHTOOL {
                        // SAFETY: for SIOCETHTOOL the caller set `ifru_data` to its live
                        // command buffer; ETHTOOL_GCHANNELS (checked) is a
                        // `struct ethtool_channels`: 9 words, rx_count at word 5, tx_count at 6.
                        unsafe {
                            let words = ifr.ifr_ifru.ifru_data.cast::<u32>();
                            assert_eq!(*words, 0x3c, "ETHTOOL_GCHANNELS");
                            *words.add(5) = self.queues;
                            *words.add(6) = self.queues;
                        }
                    } else {
                        panic!("unexpected ioctl {request:#x}");
                    }
                    Ok(0)
                }
                Syscall::SetSockOpt {
                    fd,
                    level,
                    name,
                    value,
                } => {
                    assert_eq!((*fd, *level), (XSK_FD, SOL_XDP));
                    self.sockopts.borrow_mut().push((*name, value.to_vec()));
                    match self.umem_reg_errno.get() {
                        Some(n) if *name == XDP_UMEM_REG => errno(n),
                        _ => Ok(0),
                    }
                }
                Syscall::GetSockOpt {
                    fd, name, value, ..
                } => {
                    assert_eq!(*fd, XSK_FD);
                    let answer: Vec<u8> = match *name {
                        XDP_MMAP_OFFSETS => MmapOffsets {
                            rx: FAKE_OFF,
                            tx: FAKE_OFF,
                            fr: FAKE_OFF,
                            cr: FAKE_OFF,
                        }
                        .to_bytes()
                        .to_vec(),
                        XDP_OPTIONS => u32::from(self.bound_zero_copy.get()).to_ne_bytes().to_vec(),
                        XDP_STATISTICS => (1..=6u64).flat_map(u64::to_ne_bytes).collect(),
                        other => panic!("unexpected getsockopt {other}"),
                    };
                    assert!(value.len() >= answer.len());
                    value[..answer.len()].copy_from_slice(&answer);
                    Ok(answer.len() as i64)
                }
                Syscall::Mmap {
                    len,
                    flags,
                    fd,
                    offset,
                } => {
                    self.mmaps.set(self.mmaps.get() + 1);
                    let heap = match (*fd, *offset as u64) {
                        (-1, 0) => {
                            assert_ne!(*flags & libc::MAP_ANONYMOUS, 0);
                            &self.umem
                        }
                        (XSK_FD, XDP_UMEM_PGOFF_FILL_RING) => &self.fill.heap,
                        (XSK_FD, XDP_UMEM_PGOFF_COMPLETION_RING) => &self.comp.heap,
                        (XSK_FD, 0) => &self.rx.heap,
                        (XSK_FD, 0x8000_0000) => &self.tx.heap,
                        other => panic!("unexpected mmap {other:?}"),
                    };
                    assert!(
                        *len <= heap.len(),
                        "mmap of {len} bytes over {}",
                        heap.len()
                    );
                    Ok(heap.addr() as i64)
                }
                Syscall::Munmap { .. } => {
                    self.munmaps.set(self.munmaps.get() + 1);
                    Ok(0)
                }
                Syscall::Bind { fd, addr } => {
                    assert_eq!(*fd, XSK_FD);
                    let word = |at: usize| u32::from_ne_bytes(addr[at..at + 4].try_into().unwrap());
                    let flags = u16::from_ne_bytes([addr[2], addr[3]]);
                    self.binds.borrow_mut().push(flags);
                    assert_eq!(u16::from_ne_bytes([addr[0], addr[1]]), AF_XDP as u16);
                    assert_eq!(word(4), IFINDEX as u32);
                    if word(8) >= self.queues {
                        return errno(libc::EINVAL);
                    }
                    let zc = flags & XDP_ZEROCOPY != 0;
                    if zc && !self.zero_copy_ok {
                        return errno(libc::EOPNOTSUPP);
                    }
                    self.bound_zero_copy.set(zc);
                    Ok(0)
                }
                Syscall::Wake { fd, flags } => {
                    assert_eq!((*fd, *flags), (XSK_FD, libc::MSG_DONTWAIT));
                    self.wakes.set(self.wakes.get() + 1);
                    Ok(0)
                }
                Syscall::Kick { fd, flags } => {
                    assert_eq!((*fd, *flags), (XSK_FD, libc::MSG_DONTWAIT));
                    self.kicks.set(self.kicks.get() + 1);
                    if self.xmit_on_kick.get() {
                        self.transmit(usize::MAX);
                    }
                    Ok(0)
                }
                Syscall::Poll { fds, timeout_ms } => {
                    assert_eq!(
                        (fds.len(), fds[0].fd, fds[0].events),
                        (1, XSK_FD, libc::POLLIN)
                    );
                    assert_eq!(*timeout_ms, 10);
                    self.polls.set(self.polls.get() + 1);
                    let packets = std::mem::take(&mut *self.arrive_on_poll.borrow_mut());
                    let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
                    self.receive(&refs);
                    Ok(i64::from(!packets.is_empty()))
                }
                Syscall::Close { fd } => {
                    assert!(*fd == XSK_FD || *fd == QUERY_FD);
                    self.closes.set(self.closes.get() + 1);
                    Ok(0)
                }
                other => panic!("unexpected system call {other:?}"),
            }
        }

        /// Kernel receive path: takes frames off FILL, writes the packets past the headroom and
        /// publishes RX descriptors. Returns the frame bases used.
        fn receive(&self, packets: &[&[u8]]) -> Vec<u64> {
            let bases = self.fill.consume(packets.len());
            assert_eq!(
                bases.len(),
                packets.len(),
                "FILL has a frame for each packet"
            );
            let descs: Vec<XdpDesc> = bases
                .iter()
                .zip(packets)
                .map(|(&base, p)| {
                    let addr = base + u64::from(XDP_PACKET_HEADROOM);
                    self.umem.write_bytes(addr as usize, p);
                    XdpDesc {
                        addr,
                        len: p.len() as u32,
                        options: 0,
                    }
                })
                .collect();
            self.rx.produce(&descs);
            bases
        }

        /// Kernel transmit path: takes up to `max` TX descriptors, records the bytes, and
        /// completes them.
        fn transmit(&self, max: usize) -> usize {
            let descs = self.tx.consume(max);
            let addrs: Vec<u64> = descs.iter().map(|d| d.addr).collect();
            for d in &descs {
                let bytes = self.umem.bytes(d.addr as usize, d.len as usize);
                self.sent.borrow_mut().push((d.addr, bytes));
            }
            self.comp.produce(&addrs);
            descs.len()
        }

        fn sockopt(&self, name: i32) -> Option<Vec<u8>> {
            let opts = self.sockopts.borrow();
            opts.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn receiver(frames: u32, ring: u32) -> XskConfig {
        XskConfig {
            frame_count: frames,
            fill_size: ring,
            rx_size: ring,
            ..XskConfig::default()
        }
    }

    fn transmitter(frames: u32, ring: u32) -> XskConfig {
        XskConfig {
            frame_count: frames,
            tx_size: ring,
            comp_size: ring,
            ..XskConfig::transmitter()
        }
    }

    fn u32_of(b: &[u8]) -> u32 {
        u32::from_ne_bytes(b.try_into().unwrap())
    }

    #[test]
    fn open_registers_the_umem_sizes_the_rings_and_fills_fill() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let xsk = XskSocket::open(IFACE, 1, &cfg).unwrap();

        let reg = fake.sockopt(XDP_UMEM_REG).unwrap();
        assert_eq!(reg.len(), 32);
        assert_eq!(&reg[0..8], &(fake.umem.addr() as u64).to_ne_bytes()); // addr
        assert_eq!(&reg[8..16], &(8u64 * 2048).to_ne_bytes()); // len
        assert_eq!(u32_of(&reg[16..20]), 2048); // chunk_size
        assert_eq!(&reg[20..32], &[0; 12]); // headroom, flags, tx_metadata_len
        assert_eq!(
            fake.sockopt(XDP_UMEM_FILL_RING),
            Some(4u32.to_ne_bytes().to_vec())
        );
        assert_eq!(
            fake.sockopt(XDP_UMEM_COMPLETION_RING),
            Some(UNUSED_RING_SIZE.to_ne_bytes().to_vec()),
            "the kernel insists on a COMPLETION ring even without TX"
        );
        assert_eq!(fake.sockopt(XDP_RX_RING), Some(4u32.to_ne_bytes().to_vec()));
        assert_eq!(fake.sockopt(XDP_TX_RING), None);

        // FILL got one frame per slot, in address order, frame aligned.
        assert_eq!(fake.fill.consume(8), vec![0, 2048, 4096, 6144]);
        assert_eq!(xsk.queue(), 1);
        assert_eq!(xsk.fd().as_raw_fd_for_test(), XSK_FD);
        drop(xsk);
        assert_eq!(
            fake.closes.get(),
            2,
            "the ifindex socket and the AF_XDP socket"
        );
        assert_eq!(
            fake.munmaps.get(),
            fake.mmaps.get(),
            "UMEM, FILL, COMPLETION, RX"
        );
        assert_eq!(fake.mmaps.get(), 4);
    }

    trait RawForTest {
        fn as_raw_fd_for_test(&self) -> RawFd;
    }
    impl RawForTest for BorrowedFd<'_> {
        fn as_raw_fd_for_test(&self) -> RawFd {
            std::os::fd::AsRawFd::as_raw_fd(self)
        }
    }

    #[test]
    fn auto_tries_zero_copy_then_copy_and_reports_the_mode() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert!(!xsk.zero_copy());
        assert_eq!(
            *fake.binds.borrow(),
            vec![
                XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP,
                XDP_COPY | XDP_USE_NEED_WAKEUP
            ]
        );
    }

    #[test]
    fn auto_keeps_zero_copy_where_the_driver_has_it() {
        let cfg = receiver(8, 4);
        let mut fake = Fake::new(&cfg);
        Rc::get_mut(&mut fake).unwrap().zero_copy_ok = true;
        let _k = Fake::install(&fake);
        let xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert!(xsk.zero_copy());
        assert_eq!(fake.binds.borrow().len(), 1);
    }

    #[test]
    fn forced_modes_bind_once_and_name_the_failure() {
        {
            let cfg = XskConfig {
                bind: BindMode::ZeroCopy,
                ..receiver(8, 4)
            };
            let fake = Fake::new(&cfg);
            let _k = Fake::install(&fake);
            let err = XskSocket::open(IFACE, 0, &cfg).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::XskBind {
                        mode: "zero-copy",
                        ..
                    }
                ),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("`fake0` queue 0") && msg.contains("no zero-copy support"),
                "{msg}"
            );
            assert_eq!(fake.binds.borrow().len(), 1);
            assert_eq!(
                fake.munmaps.get(),
                fake.mmaps.get(),
                "a failed open unmaps all"
            );
        }
        let cfg = XskConfig {
            bind: BindMode::Copy,
            need_wakeup: false,
            ..receiver(8, 4)
        };
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert!(!xsk.zero_copy());
        assert_eq!(
            *fake.binds.borrow(),
            vec![XDP_COPY],
            "no XDP_USE_NEED_WAKEUP"
        );
    }

    #[test]
    fn unknown_interface_and_missing_queue_are_named() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let err = XskSocket::open("nope0", 0, &cfg).unwrap_err();
        assert!(
            matches!(&err, Error::NoSuchInterface { iface } if iface == "nope0"),
            "{err:?}"
        );
        let err = XskSocket::open("a-name-far-too-long", 0, &cfg).unwrap_err();
        assert!(matches!(err, Error::NoSuchInterface { .. }), "{err:?}");

        let err = XskSocket::open(IFACE, 5, &cfg).unwrap_err();
        assert!(
            matches!(&err, Error::XskNoSuchQueue { iface, queue: 5, available: 2 } if iface == IFACE),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "interface `fake0` has 2 queue(s), numbered from 0: AF_XDP cannot bind to queue 5"
        );
    }

    #[test]
    fn privilege_errors_name_the_capability_and_the_fix() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        fake.socket_errno.set(Some(libc::EPERM));
        let err = XskSocket::open(IFACE, 0, &cfg).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MissingCapability {
                    cap: "CAP_NET_RAW",
                    ..
                }
            ),
            "{err:?}"
        );
        fake.socket_errno.set(None);
        for errno in [libc::ENOBUFS, libc::ENOMEM, libc::EPERM] {
            fake.umem_reg_errno.set(Some(errno));
            let err = XskSocket::open(IFACE, 0, &cfg).unwrap_err();
            assert!(
                matches!(err, Error::UmemLocked { bytes: 16384, .. }),
                "{errno}: {err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("CAP_IPC_LOCK")
                    && msg.contains("RLIMIT_MEMLOCK")
                    && msg.contains("LimitMEMLOCK=infinity"),
                "{msg}"
            );
        }
        assert_eq!(
            fake.munmaps.get(),
            fake.mmaps.get(),
            "the UMEM is unmapped again"
        );
    }

    #[test]
    fn recv_hands_out_frames_and_refills_fill_with_the_same_addresses() {
        // 8 frames, rings of 4: FILL starts with frames 0..4, frames 4..8 wait in user space.
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        let packets: [&[u8]; 3] = [b"first", b"second packet", &[0xab; 1792]];
        let used = fake.receive(&packets);
        assert_eq!(used, vec![0, 2048, 4096]);

        let mut got = Vec::new();
        assert_eq!(xsk.recv(2, |f| got.push(f.to_vec())).unwrap(), 2);
        assert_eq!(got, vec![packets[0].to_vec(), packets[1].to_vec()]);
        assert_eq!(
            fake.rx
                .consumer()
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        // FILL: the untouched frame 6144, then the two frames just returned, then a spare one
        // (the kernel had taken three, so three slots were free).
        assert_eq!(fake.fill.consume(8), vec![6144, 2048, 0, 8192]);

        got.clear();
        assert_eq!(xsk.recv(64, |f| got.push(f.to_vec())).unwrap(), 1);
        assert_eq!(got, vec![packets[2].to_vec()]);
        assert_eq!(fake.fill.consume(8), vec![4096, 10240, 12288, 14336]);
        assert_eq!(xsk.recv(64, |_| panic!("nothing there")).unwrap(), 0);
        assert_eq!(fake.wakes.get(), 0, "need_wakeup flag never set");
    }

    #[test]
    fn recv_uses_every_frame_when_the_umem_outnumbers_fill() {
        // 8 frames, FILL of 2: the kernel holds 2, user space keeps 6 and swaps them in.
        let cfg = XskConfig {
            fill_size: 2,
            ..receiver(8, 4)
        };
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        for round in 0..10u8 {
            fake.receive(&[&[round; 60], &[round; 61]]);
            let mut lens = Vec::new();
            assert_eq!(xsk.recv(64, |f| lens.push((f[0], f.len()))).unwrap(), 2);
            assert_eq!(lens, vec![(round, 60), (round, 61)]);
        }
    }

    #[test]
    fn recv_wakes_the_kernel_only_when_fill_asks() {
        {
            let cfg = receiver(8, 4);
            let fake = Fake::new(&cfg);
            let _k = Fake::install(&fake);
            let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
            fake.receive(&[b"x"]);
            xsk.recv(64, |_| {}).unwrap();
            assert_eq!(fake.wakes.get(), 0);
            fake.fill.set_flags(XDP_RING_NEED_WAKEUP);
            xsk.recv(64, |_| {}).unwrap();
            assert_eq!(fake.wakes.get(), 1, "one recvfrom for an empty batch too");
            fake.receive(&[b"a", b"b", b"c"]);
            xsk.recv(64, |_| {}).unwrap();
            assert_eq!(fake.wakes.get(), 2, "one per batch, not per frame");
            fake.fill.set_flags(0);
            xsk.recv(64, |_| {}).unwrap();
            assert_eq!(fake.wakes.get(), 2);
        }
        // Opened without need_wakeup: never, whatever the flag says.
        let cfg = XskConfig {
            need_wakeup: false,
            ..receiver(8, 4)
        };
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        fake.fill.set_flags(XDP_RING_NEED_WAKEUP);
        xsk.recv(64, |_| {}).unwrap();
        assert_eq!(fake.wakes.get(), 0);
    }

    #[test]
    fn rings_keep_working_across_u32_index_wrap_around() {
        let cfg = XskConfig {
            tx_size: 4,
            comp_size: 4,
            ..receiver(12, 4)
        };
        let fake = Fake::new(&cfg);
        for side in [&fake.fill, &fake.comp] {
            side.start_at(u32::MAX - 5);
        }
        fake.rx.start_at(u32::MAX - 1);
        fake.tx.start_at(u32::MAX - 2);
        fake.tx.set_flags(XDP_RING_NEED_WAKEUP);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        for round in 0..20u32 {
            let p = round.to_be_bytes();
            fake.receive(&[&p, &p]);
            let mut got = Vec::new();
            assert_eq!(xsk.recv(64, |f| got.push(f.to_vec())).unwrap(), 2);
            assert_eq!(got, vec![p.to_vec(), p.to_vec()], "round {round}");
            assert_eq!(xsk.send(&[&p, &p, &p]).unwrap(), 3);
            assert_eq!(xsk.tx_in_flight().unwrap(), 0);
        }
        assert!(
            fake.rx
                .producer()
                .load(std::sync::atomic::Ordering::Relaxed)
                < 100
        );
        assert!(
            fake.tx
                .producer()
                .load(std::sync::atomic::Ordering::Relaxed)
                < 100
        );
        assert_eq!(fake.sent.borrow().len(), 60);
        assert!(
            fake.sent.borrow().iter().all(|(addr, _)| *addr < 4 * 2048),
            "TX frames 0..4"
        );
    }

    #[test]
    fn wait_returns_at_once_with_frames_ready_and_polls_otherwise() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert!(!xsk.wait(10).unwrap());
        assert_eq!(fake.polls.get(), 1);
        fake.arrive_on_poll.borrow_mut().push(b"late".to_vec());
        assert!(xsk.wait(10).unwrap());
        assert_eq!(fake.polls.get(), 2);
        assert!(xsk.wait(10).unwrap(), "still ready: no poll needed");
        assert_eq!(fake.polls.get(), 2);
        assert_eq!(xsk.recv(64, |f| assert_eq!(f, b"late")).unwrap(), 1);
    }

    #[test]
    fn send_copies_frames_kicks_once_and_recycles_completions() {
        let cfg = transmitter(8, 4);
        let fake = Fake::new(&cfg);
        fake.tx.set_flags(XDP_RING_NEED_WAKEUP); // copy mode: always set
        fake.xmit_on_kick.set(false); // the kernel holds on to the frames for now
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert_eq!(fake.sockopt(XDP_RX_RING), None);
        assert_eq!(
            fake.sockopt(XDP_UMEM_FILL_RING),
            Some(1u32.to_ne_bytes().to_vec())
        );
        assert!(
            fake.fill.consume(8).is_empty(),
            "a transmitter lends no frames to FILL"
        );

        let frames: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 60 + usize::from(i)]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        assert_eq!(xsk.send(&refs).unwrap(), 4, "TX ring of 4");
        assert_eq!(fake.kicks.get(), 1, "one sendto per batch");
        assert_eq!(xsk.send(&refs[4..]).unwrap(), 0, "TX ring full");
        assert_eq!(xsk.tx_in_flight().unwrap(), 4);

        assert_eq!(fake.transmit(3), 3);
        assert_eq!(xsk.send(&refs[4..]).unwrap(), 2, "three slots free again");
        assert_eq!(
            xsk.tx_in_flight().unwrap(),
            3,
            "3 completed: 1 + 2 in flight"
        );
        assert_eq!(fake.transmit(usize::MAX), 3);
        assert_eq!(xsk.tx_in_flight().unwrap(), 0);

        let sent = fake.sent.borrow();
        let bytes: Vec<&Vec<u8>> = sent.iter().map(|(_, b)| b).collect();
        assert_eq!(
            bytes,
            frames.iter().collect::<Vec<_>>(),
            "bytes and order preserved"
        );
        for (addr, _) in sent.iter() {
            assert_eq!(
                addr % 2048,
                u64::from(XDP_PACKET_HEADROOM),
                "frame base + headroom"
            );
        }
        // Frames 4 and 5 reuse frames completed by the first transmit.
        let first: Vec<u64> = sent[..3].iter().map(|(a, _)| *a).collect();
        assert!(first.contains(&sent[4].0) && first.contains(&sent[5].0));
    }

    #[test]
    fn send_kicks_only_when_tx_asks() {
        let cfg = transmitter(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        // Flag clear (a zero-copy driver that is awake): no sendto.
        fake.xmit_on_kick.set(false);
        assert_eq!(xsk.send(&[b"abc"]).unwrap(), 1);
        assert_eq!(fake.kicks.get(), 0);
        assert_eq!(xsk.tx_in_flight().unwrap(), 1);
        assert_eq!(fake.kicks.get(), 0);
        fake.tx.set_flags(XDP_RING_NEED_WAKEUP);
        fake.xmit_on_kick.set(true);
        assert_eq!(
            xsk.tx_in_flight().unwrap(),
            0,
            "kicked, sent, completed, reclaimed"
        );
        assert_eq!(fake.kicks.get(), 1);
        assert_eq!(xsk.tx_in_flight().unwrap(), 0);
        assert_eq!(fake.kicks.get(), 1, "nothing in flight: no kick");
    }

    #[test]
    fn send_rejects_frames_that_do_not_fit_and_queues_nothing() {
        let cfg = transmitter(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        fake.tx.set_flags(XDP_RING_NEED_WAKEUP);
        let ok = [0u8; 1792]; // 2048 - 256
        let long = [0u8; 1793];
        assert_eq!(xsk.send(&[&ok]).unwrap(), 1);
        let err = xsk.send(&[&ok, &long]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::XskFrameLength {
                    len: 1793,
                    max: 1792
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("1793-byte frame"), "{err}");
        let err = xsk.send(&[&[]]).unwrap_err();
        assert!(
            matches!(err, Error::XskFrameLength { len: 0, .. }),
            "{err:?}"
        );
        assert_eq!(
            fake.tx
                .producer()
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(xsk.tx_in_flight().unwrap(), 0);
    }

    #[test]
    fn missing_rings_are_errors_not_panics() {
        {
            let cfg = transmitter(8, 4);
            let fake = Fake::new(&cfg);
            let _k = Fake::install(&fake);
            let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
            let err = xsk.recv(1, |_| {}).unwrap_err();
            assert!(matches!(
                err,
                Error::XskNoRing {
                    ring: "RX",
                    setting: "rx_size",
                    ..
                }
            ));
            assert!(matches!(xsk.wait(0), Err(Error::XskNoRing { .. })));
        }
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let mut xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        let err = xsk.send(&[b"x"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the AF_XDP socket on `fake0` queue 0 has no TX ring (tx_size = 0)"
        );
        assert_eq!(xsk.tx_in_flight().unwrap(), 0);
    }

    #[test]
    fn statistics_come_from_getsockopt() {
        let cfg = receiver(8, 4);
        let fake = Fake::new(&cfg);
        let _k = Fake::install(&fake);
        let xsk = XskSocket::open(IFACE, 0, &cfg).unwrap();
        assert_eq!(
            xsk.statistics().unwrap(),
            XskStatistics {
                rx_dropped: 1,
                rx_invalid_descs: 2,
                tx_invalid_descs: 3,
                rx_ring_full: 4,
                rx_fill_ring_empty_descs: 5,
                tx_ring_empty_descs: 6,
            }
        );
    }

    #[test]
    fn config_errors_name_the_setting() {
        let setting = |cfg: XskConfig| match cfg.validate() {
            Err(Error::InvalidConfig { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        assert!(XskConfig::default().validate().is_ok());
        assert!(XskConfig::transmitter().validate().is_ok());
        let d = XskConfig::default;
        assert_eq!(
            setting(XskConfig {
                frame_size: 3000,
                ..d()
            }),
            "frame_size"
        );
        assert_eq!(
            setting(XskConfig {
                frame_size: 1024,
                ..d()
            }),
            "frame_size"
        );
        assert_eq!(
            setting(XskConfig {
                frame_size: 1 << 20,
                ..d()
            }),
            "frame_size"
        );
        assert_eq!(
            setting(XskConfig {
                rx_size: 1000,
                ..d()
            }),
            "rx_size"
        );
        assert_eq!(
            setting(XskConfig {
                fill_size: 3,
                ..d()
            }),
            "fill_size"
        );
        assert_eq!(
            setting(XskConfig {
                fill_size: 0,
                ..d()
            }),
            "fill_size"
        );
        assert_eq!(setting(XskConfig { tx_size: 6, ..d() }), "tx_size");
        assert_eq!(setting(XskConfig { tx_size: 64, ..d() }), "comp_size");
        assert_eq!(setting(XskConfig { rx_size: 0, ..d() }), "rx_size");
        assert_eq!(
            setting(XskConfig {
                frame_count: 1024,
                ..d()
            }),
            "frame_count"
        );
        let both = XskConfig {
            tx_size: 2048,
            comp_size: 2048,
            ..d()
        };
        assert!(
            both.validate().is_ok(),
            "2048 FILL + 2048 TX: 4096 frames suffice"
        );
        assert_eq!(
            setting(XskConfig {
                frame_count: 4095,
                ..both
            }),
            "frame_count"
        );
    }
}
