//! The AF_PACKET receive ring (`TPACKET_V3`): the capture fallback (`--capture af_packet`) for
//! NICs and kernels where XDP cannot attach. One [`PacketRing`] per worker; several on one
//! interface split its traffic by flow through a fanout group.
//!
//! How the ring works (`Documentation/networking/packet_mmap.rst`,
//! `include/uapi/linux/if_packet.h`): the kernel copies every frame of the interface into a ring
//! of `block_count` blocks that we `mmap`. It packs frames back to back into the current block
//! and hands the block to us (`block_status = TP_STATUS_USER`) when it is full, or when
//! `block_timeout_ms` has passed with at least one frame in it. [`PacketRing::recv`] walks the
//! frames of our blocks in order and hands each block back (`TP_STATUS_KERNEL`, a `Release`
//! store) as soon as its last frame has been seen. While every block is ours, the kernel drops
//! frames and counts them ([`PacketStatistics`]).
//!
//! Decisions:
//!
//! - **Fanout by symmetric hash.** With a `fanout_group`, the rings of one group share the
//!   interface: `PACKET_FANOUT_HASH` picks the member from `__skb_get_hash_symmetric`, so both
//!   directions of a flow reach the same worker whatever the NIC's RSS does.
//!   `PACKET_FANOUT_FLAG_DEFRAG` reassembles IPv4 fragments before hashing, so every fragment
//!   of a datagram follows its first (the member then sees the reassembled datagram, captured
//!   up to the block size). A frame that arrives between `bind` and joining the group goes to
//!   that one socket alone; at start-up a flow may so lose a frame to another member.
//! - **Outgoing frames are ignored** (`PACKET_IGNORE_OUTGOING`, and
//!   `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` for the group, whose hook replaces the socket's own).
//!   The AF_XDP path sees only what the NIC receives, so both capture modes give the same flows
//!   for the same traffic; on a mirror/TAP port, the probe's deployment, everything is
//!   incoming anyway. On a host interface this means the host's own replies are not seen.
//! - **VLAN tags are put back.** Most NICs (and veth) strip the 802.1Q tag on receive and the
//!   kernel reports it beside the frame (`TP_STATUS_VLAN_VALID`). Flow keys include the VLAN
//!   id, so [`PacketRing::recv`] re-inserts the tag in place, moving the two MAC addresses 4
//!   bytes into the slack the kernel leaves before every frame (libpcap does the same). The
//!   frame and wire length then include the tag, as on the wire.
//! - **No frame from another interface.** The socket is made with protocol 0, which receives
//!   nothing; `bind` names `ETH_P_ALL` and the interface together, so the ring never holds a
//!   frame captured before the binding.
//! - `frame_size` only sizes the kernel's frame bookkeeping (`tp_frame_nr`); V3 frames take the
//!   space they need, up to the block size.
//!
//! Not here: parsing frames, workers and the CLI (`appliance`); NIC steering (`nic`,
//! `deploy/nic-setup.sh`); transmitting.

use std::io;
use std::mem::offset_of;
use std::ptr::{self, NonNull};
use std::slice;
use std::sync::atomic::{AtomicU32, Ordering};

use super::ethtool::{self, Socket};
use super::sys::{Syscall, syscall};
use crate::Error;
use crate::nic::Capability;

/// Smallest block: the smallest Linux page (the kernel wants a multiple of the page size).
const MIN_BLOCK_SIZE: u32 = 4096;
/// `TPACKET_ALIGN(TPACKET3_HDRLEN)`: the kernel rejects frames smaller than the header.
const MIN_FRAME_SIZE: u32 =
    ((libc::TPACKET3_HDRLEN + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1)) as u32;
/// Length of an 802.1Q tag (TPID + TCI).
const VLAN_HLEN: usize = 4;
/// Destination and source MAC: what moves when a VLAN tag is put back.
const MAC_ADDRS_LEN: usize = 12;
/// Size of one frame header.
const FRAME_HDR_LEN: usize = size_of::<libc::tpacket3_hdr>();
/// Where the fields of `tpacket_block_desc.hdr.bh1` we use sit in a block.
const BLOCK_STATUS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
const BLOCK_NUM_PKTS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const BLOCK_FIRST_PKT: usize = offset_of!(libc::tpacket_block_desc, hdr)
    + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
/// The fanout mode of every group we make; all members must ask for the same.
const FANOUT_MODE: u32 = libc::PACKET_FANOUT_HASH
    | libc::PACKET_FANOUT_FLAG_DEFRAG
    | libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;

// The layouts of `include/uapi/linux/if_packet.h` on 64-bit Linux, as libc declares them.
const _: () = assert!(size_of::<libc::tpacket_block_desc>() == 48);
const _: () = assert!(size_of::<libc::tpacket3_hdr>() == 48);
const _: () = assert!(size_of::<libc::tpacket_req3>() == 7 * 4); // seven u32, no padding
const _: () = assert!(size_of::<libc::tpacket_stats_v3>() == 3 * 4);
const _: () = assert!(size_of::<libc::sockaddr_ll>() == 2 + 2 + 4 + 2 + 1 + 1 + 8); // no padding
const _: () = assert!(BLOCK_STATUS == 8 && BLOCK_NUM_PKTS == 12 && BLOCK_FIRST_PKT == 16);

/// Size and timing of one [`PacketRing`]. Memory: `block_size × block_count` per ring, kernel
/// memory (not counted against `RLIMIT_MEMLOCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRingConfig {
    /// Bytes per block: a power of two, at least 4096 (and a multiple of the page size).
    /// Default 1 MiB. A block goes to user space when full or when `block_timeout_ms` passes.
    pub block_size: u32,
    /// Blocks in the ring, at least 2 (the kernel fills one while we read another). Default 64.
    pub block_count: u32,
    /// Frame slot size for the kernel's bookkeeping: a multiple of 16 from 80 to `block_size`.
    /// V3 frames take the room they need regardless. Default 2048.
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a block that is not full (but holds at
    /// least one frame): the worst added latency. 0 lets the kernel pick from the link speed.
    /// Default 10.
    pub block_timeout_ms: u32,
    /// Join the fanout group with this id (per network namespace): the group's rings share the
    /// interface's traffic by flow hash. `None` (default): this ring sees every frame.
    pub fanout_group: Option<u16>,
}

impl Default for PacketRingConfig {
    fn default() -> Self {
        PacketRingConfig {
            block_size: 1 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 10,
            fanout_group: None,
        }
    }
}

impl PacketRingConfig {
    /// Checks every setting; [`PacketRing::open`] does this first.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first setting out of range and what is allowed.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |setting, reason: String| Err(Error::InvalidConfig { setting, reason });
        if !self.block_size.is_power_of_two() || self.block_size < MIN_BLOCK_SIZE {
            return invalid(
                "af_packet block_size",
                format!(
                    "{} is not a power of two of at least {MIN_BLOCK_SIZE} bytes",
                    self.block_size
                ),
            );
        }
        if self.block_count < 2 {
            return invalid(
                "af_packet block_count",
                format!("{} is below 2", self.block_count),
            );
        }
        if self.frame_size < MIN_FRAME_SIZE
            || self.frame_size > self.block_size
            || !self
                .frame_size
                .is_multiple_of(libc::TPACKET_ALIGNMENT as u32)
        {
            return invalid(
                "af_packet frame_size",
                format!(
                    "{} is not a multiple of {} from {MIN_FRAME_SIZE} to block_size ({})",
                    self.frame_size,
                    libc::TPACKET_ALIGNMENT,
                    self.block_size
                ),
            );
        }
        if self.ring_len().is_none() || self.frame_count().is_none() {
            return invalid(
                "af_packet block_count",
                format!(
                    "{} blocks of {} bytes exceed what the kernel can address",
                    self.block_count, self.block_size
                ),
            );
        }
        Ok(())
    }

    /// `block_size × block_count`, if it fits.
    fn ring_len(&self) -> Option<usize> {
        (self.block_size as usize).checked_mul(self.block_count as usize)
    }

    /// `tp_frame_nr`: frames per block × blocks, if it fits the kernel's `unsigned int`.
    fn frame_count(&self) -> Option<u32> {
        (self.block_size / self.frame_size).checked_mul(self.block_count)
    }
}

/// What the kernel counted for one ring since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketStatistics {
    /// Frames that reached the socket, dropped ones included (the kernel adds `drops` in).
    pub packets: u64,
    /// Frames dropped because every block was in user space (the worker fell behind).
    pub drops: u64,
    /// Times the kernel froze the ring because every block was in user space.
    pub freeze_q_cnt: u64,
}

impl PacketStatistics {
    /// Adds one `tpacket_stats_v3` as `getsockopt` returns it (native-endian u32s:
    /// `tp_packets`, `tp_drops`, `tp_freeze_q_cnt`).
    fn accumulate(&mut self, raw: [u8; size_of::<libc::tpacket_stats_v3>()]) {
        let word = |i: usize| {
            u64::from(u32::from_ne_bytes([
                raw[i],
                raw[i + 1],
                raw[i + 2],
                raw[i + 3],
            ]))
        };
        self.packets += word(offset_of!(libc::tpacket_stats_v3, tp_packets));
        self.drops += word(offset_of!(libc::tpacket_stats_v3, tp_drops));
        self.freeze_q_cnt += word(offset_of!(libc::tpacket_stats_v3, tp_freeze_q_cnt));
    }
}

/// An AF_PACKET socket bound to one interface with its `TPACKET_V3` receive ring mapped.
/// Unmaps and closes on drop.
#[derive(Debug)]
pub struct PacketRing {
    // Field order is drop order: unmap, then close.
    map: Mapping,
    sock: Socket,
    block_size: usize,
    block_count: u32,
    cursor: Cursor,
    totals: PacketStatistics,
    iface: String,
}

/// Where [`PacketRing::recv`] stands.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    /// The block being read, or the next one to look at.
    block: u32,
    /// `block` is ours (we saw `TP_STATUS_USER`) and has not been handed back.
    open: bool,
    /// Frames of `block` not yet delivered.
    left: u32,
    /// Offset in `block` of the next frame header.
    offset: u32,
}

/// One frame found by [`PacketRing::next_frame`].
struct Frame {
    start: *const u8,
    len: usize,
    wire_len: u32,
    ts_ns: u64,
}

impl PacketRing {
    /// Opens an AF_PACKET socket on `iface`, maps a ring sized by `cfg`, binds it and, with
    /// `cfg.fanout_group`, joins that fanout group.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a bad `cfg` (also when the kernel rejects the sizes);
    /// [`Error::NoSuchInterface`]; [`Error::MissingCapability`] naming `CAP_NET_RAW`;
    /// [`Error::FanoutGroup`] when the group id is taken with other settings;
    /// [`Error::Io`] for anything else, naming the step.
    pub fn open(iface: &str, cfg: &PacketRingConfig) -> Result<PacketRing, Error> {
        cfg.validate()?;
        let ifindex = ethtool::if_index(iface)?;
        let io = |step: &str| {
            let what = format!("{step} on `{iface}`");
            move |source| Error::Io { what, source }
        };

        // Protocol 0: no frame is received until `bind` below names protocol and interface.
        let sock = Socket::open(libc::AF_PACKET, libc::SOCK_RAW, 0).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => {
                    Capability::NetRaw.missing(format!("capturing on `{iface}` with AF_PACKET"))
                }
                _ => io("opening an AF_PACKET socket")(e),
            }
        })?;
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        set_opt(&sock, libc::PACKET_VERSION, &version.to_ne_bytes())
            .map_err(io("selecting TPACKET_V3 (kernel 3.2 or later)"))?;
        set_opt(&sock, libc::PACKET_IGNORE_OUTGOING, &1i32.to_ne_bytes())
            .map_err(io("ignoring outgoing frames (kernel 4.20 or later)"))?;

        let ring_len = cfg.ring_len().unwrap_or(usize::MAX); // validated
        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_count,
            tp_frame_size: cfg.frame_size,
            tp_frame_nr: cfg.frame_count().unwrap_or(0), // validated
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        // SAFETY: `tpacket_req3` is seven `c_uint`s with no padding (asserted at the top).
        let req_bytes = unsafe { bytes_of(&req) };
        set_opt(&sock, libc::PACKET_RX_RING, req_bytes).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => Error::InvalidConfig {
                setting: "af_packet block_size",
                reason: format!(
                    "the kernel rejected {} blocks of {} bytes with {}-byte frames (block_size \
                     must be a multiple of the page size)",
                    cfg.block_count, cfg.block_size, cfg.frame_size
                ),
            },
            _ => io(&format!(
                "allocating a {ring_len}-byte AF_PACKET ring (lower af_packet block_count)"
            ))(e),
        })?;

        // SAFETY: `Mmap` passes no pointer in and unmaps nothing; the new mapping is owned by
        // the guard made right below.
        let addr = unsafe {
            syscall(Syscall::Mmap {
                len: ring_len,
                flags: libc::MAP_SHARED | libc::MAP_POPULATE,
                fd: sock.raw(),
                offset: 0,
            })
        }
        .map_err(io("mapping the AF_PACKET ring"))?;
        // The address comes from the kernel, so it carries no Rust provenance of its own.
        let ptr = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr as usize))
            .ok_or_else(|| io("mapping the AF_PACKET ring")(io::Error::other("null mapping")))?;
        let map = Mapping { ptr, len: ring_len };

        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
            sll_ifindex: i32::try_from(ifindex).unwrap_or(i32::MAX),
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        // SAFETY: `sockaddr_ll` has no padding (asserted at the top).
        let sll_bytes = unsafe { bytes_of(&sll) };
        // SAFETY: `Bind` borrows the address bytes for the call; `sock` is open.
        unsafe {
            syscall(Syscall::Bind {
                fd: sock.raw(),
                addr: sll_bytes,
            })
        }
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => Error::NoSuchInterface {
                iface: iface.to_owned(),
            },
            _ => io("binding the AF_PACKET socket")(e),
        })?;

        if let Some(group) = cfg.fanout_group {
            let arg = u32::from(group) | (FANOUT_MODE << 16);
            set_opt(&sock, libc::PACKET_FANOUT, &arg.to_ne_bytes()).map_err(|source| {
                Error::FanoutGroup {
                    iface: iface.to_owned(),
                    group,
                    source,
                }
            })?;
        }

        Ok(PacketRing {
            map,
            sock,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count,
            cursor: Cursor::default(),
            totals: PacketStatistics::default(),
            iface: iface.to_owned(),
        })
    }

    /// Calls `f(frame, wire_len, ts_ns)` for up to `max` frames without blocking and returns
    /// how many. Returns fully consumed blocks to the kernel; a block left half-read by `max`
    /// is finished by the next call.
    ///
    /// `frame` is the captured bytes from the Ethernet header on (a VLAN tag put back, see the
    /// module docs), `wire_len` its length on the wire (more than `frame.len()` when the frame
    /// did not fit the block), `ts_ns` the kernel's receive time in nanoseconds since the Unix
    /// epoch. `frame` is borrowed for the call only: its block may be the kernel's again after.
    ///
    /// # Errors
    ///
    /// [`Error::PacketRingCorrupt`] when a frame header points outside its block (the block is
    /// handed back and the next call goes on with the next one). Frames delivered before the
    /// bad one were passed to `f`.
    pub fn recv(&mut self, max: usize, mut f: impl FnMut(&[u8], u32, u64)) -> Result<usize, Error> {
        let mut n = 0;
        loop {
            if self.cursor.open && self.cursor.left == 0 {
                self.release_block();
            }
            if n == max {
                break;
            }
            if !self.cursor.open {
                if !self.open_block() {
                    break;
                }
                continue; // an empty block is handed back at the top
            }
            let frame = self.next_frame()?;
            // SAFETY: `next_frame` checked that `len` bytes from `start` lie inside the current
            // block, which is ours (TP_STATUS_USER, read with Acquire) until `release_block`.
            // That happens only after `f` returns, and `f` cannot keep the slice: it is
            // borrowed for this one call.
            let bytes = unsafe { slice::from_raw_parts(frame.start, frame.len) };
            f(bytes, frame.wire_len, frame.ts_ns);
            n += 1;
        }
        Ok(n)
    }

    /// Waits up to `timeout_ms` (-1: forever) for frames. `true` when [`recv`](Self::recv)
    /// has something (at once, without a system call, when a block is already ours).
    ///
    /// A link going down (`ENETDOWN`) is not an error: it returns `false`, and the capture
    /// resumes when the link comes back. (If the interface is deleted, no frame comes again.)
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `poll` fails (other than `EINTR`, which returns `false`) or the
    /// socket reports another error.
    pub fn wait(&mut self, timeout_ms: i32) -> Result<bool, Error> {
        if self.readable() {
            return Ok(true);
        }
        let mut fds = [libc::pollfd {
            fd: self.sock.raw(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        }];
        // SAFETY: `Poll` borrows `fds` for the call only; the descriptor in it is open.
        let ready = unsafe {
            syscall(Syscall::Poll {
                fds: &mut fds,
                timeout_ms,
            })
        };
        match ready {
            Ok(0) => Ok(false),
            Ok(_) => {
                if fds[0].revents & libc::POLLERR != 0 {
                    self.take_socket_error()?;
                }
                Ok(fds[0].revents & libc::POLLIN != 0 || self.readable())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(source) => Err(Error::Io {
                what: format!("waiting for frames on `{}`", self.iface),
                source,
            }),
        }
    }

    /// The kernel's counters, summed since [`open`](Self::open) (the kernel resets them on
    /// every read; this keeps the running total).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `getsockopt(PACKET_STATISTICS)` fails.
    pub fn statistics(&mut self) -> Result<PacketStatistics, Error> {
        let mut raw = [0u8; size_of::<libc::tpacket_stats_v3>()];
        // SAFETY: `GetSockOpt` borrows `raw` for the call and the kernel writes at most its
        // length; the descriptor is open.
        unsafe {
            syscall(Syscall::GetSockOpt {
                fd: self.sock.raw(),
                level: libc::SOL_PACKET,
                name: libc::PACKET_STATISTICS,
                value: &mut raw,
            })
        }
        .map_err(|source| Error::Io {
            what: format!("reading the AF_PACKET statistics of `{}`", self.iface),
            source,
        })?;
        self.totals.accumulate(raw);
        Ok(self.totals)
    }

    /// Start of block `index` (< `block_count`).
    fn block(&self, index: u32) -> *mut u8 {
        debug_assert!(index < self.block_count);
        // SAFETY: `index < block_count`, so the offset is within the mapping of
        // `block_size × block_count` bytes.
        unsafe { self.map.ptr.as_ptr().add(index as usize * self.block_size) }
    }

    /// The `block_status` word of block `index`, shared with the kernel.
    fn status(&self, index: u32) -> &AtomicU32 {
        // SAFETY: the word lies in the mapping, which lives as long as `self`; it is 4-aligned
        // (blocks start at multiples of the 4096-byte-aligned block size from a page-aligned
        // base, and the field's offset is 8); we access it only atomically.
        unsafe { AtomicU32::from_ptr(self.block(index).add(BLOCK_STATUS).cast()) }
    }

    /// A block of ours is waiting to be read.
    fn readable(&self) -> bool {
        self.status(self.cursor.block).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Takes the cursor's block if the kernel has handed it over; `false` if not (ring empty).
    fn open_block(&mut self) -> bool {
        if !self.readable() {
            return false;
        }
        let block = self.block(self.cursor.block);
        // SAFETY: both words lie in the block header (offsets 12 and 16, 4-aligned) and the
        // block is ours: the Acquire load in `readable` saw TP_STATUS_USER, after which the
        // kernel does not write the block until we hand it back.
        let (num_pkts, first) = unsafe {
            (
                block.add(BLOCK_NUM_PKTS).cast::<u32>().read(),
                block.add(BLOCK_FIRST_PKT).cast::<u32>().read(),
            )
        };
        self.cursor.open = true;
        self.cursor.left = num_pkts;
        self.cursor.offset = first;
        true
    }

    /// Hands the cursor's block back to the kernel and moves on to the next.
    fn release_block(&mut self) {
        self.status(self.cursor.block)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.cursor = Cursor {
            block: (self.cursor.block + 1) % self.block_count,
            ..Cursor::default()
        };
    }

    /// Checks the frame at the cursor, puts its VLAN tag back, and moves the cursor past it.
    /// Requires `cursor.open && cursor.left > 0`.
    fn next_frame(&mut self) -> Result<Frame, Error> {
        let c = self.cursor;
        let block = self.block(c.block);
        let off = c.offset as usize;
        if off
            .checked_add(FRAME_HDR_LEN)
            .is_none_or(|end| end > self.block_size)
        {
            return Err(self.corrupt(c));
        }
        // SAFETY: the header lies inside the block (checked above), which is ours. The kernel
        // aligns headers to 8 bytes; reading unaligned spares relying on it.
        let h = unsafe { block.add(off).cast::<libc::tpacket3_hdr>().read_unaligned() };
        let mac = usize::from(h.tp_mac);
        let snap = h.tp_snaplen as usize;
        let next = c.offset.checked_add(h.tp_next_offset);
        let fits = mac >= FRAME_HDR_LEN
            && off
                .checked_add(mac)
                .and_then(|m| m.checked_add(snap))
                .is_some_and(|end| end <= self.block_size);
        if !fits || (c.left > 1 && (h.tp_next_offset == 0 || next.is_none())) {
            return Err(self.corrupt(c));
        }
        self.cursor.left -= 1;
        self.cursor.offset = next.unwrap_or(0);

        // SAFETY: `off + mac + snap <= block_size` (checked above).
        let mut start = unsafe { block.add(off + mac) };
        let mut len = snap;
        let mut wire_len = h.tp_len;
        if h.tp_status & libc::TP_STATUS_VLAN_VALID != 0
            && snap >= MAC_ADDRS_LEN
            && mac >= libc::TPACKET3_HDRLEN + VLAN_HLEN
        {
            let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                h.hv1.tp_vlan_tpid
            } else {
                libc::ETH_P_8021Q as u16
            };
            let tci = h.hv1.tp_vlan_tci as u16; // a TCI is 16 bits; the field is wider
            // SAFETY: writes stay in `[start - 4, start + 12)`: `start - 4` is past the frame
            // header and its `sockaddr_ll` (`mac >= TPACKET3_HDRLEN + 4`), and `start + 12 <=
            // start + snap <= block end` (checked above). The block is ours and no reference
            // into it is alive: frames of earlier iterations were borrowed only for their
            // callback.
            unsafe {
                let tag_end = start.add(MAC_ADDRS_LEN);
                start = start.sub(VLAN_HLEN);
                ptr::copy(start.add(VLAN_HLEN), start, MAC_ADDRS_LEN);
                let ([t0, t1], [c0, c1]) = (tpid.to_be_bytes(), tci.to_be_bytes());
                let tag = [t0, t1, c0, c1];
                ptr::copy_nonoverlapping(tag.as_ptr(), tag_end.sub(VLAN_HLEN), VLAN_HLEN);
            }
            len += VLAN_HLEN;
            wire_len = wire_len.saturating_add(VLAN_HLEN as u32);
        }
        Ok(Frame {
            start,
            len,
            wire_len,
            ts_ns: u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec),
        })
    }

    /// Hands the bad block back (so the ring keeps moving) and describes it.
    fn corrupt(&mut self, at: Cursor) -> Error {
        self.release_block();
        Error::PacketRingCorrupt {
            iface: self.iface.clone(),
            block: at.block,
            offset: at.offset,
        }
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`): `ENETDOWN` is expected when
    /// the link goes down; anything else is returned.
    fn take_socket_error(&self) -> Result<(), Error> {
        let mut raw = [0u8; size_of::<libc::c_int>()];
        // SAFETY: `GetSockOpt` borrows `raw` for the call and the kernel writes at most its
        // length; the descriptor is open.
        let r = unsafe {
            syscall(Syscall::GetSockOpt {
                fd: self.sock.raw(),
                level: libc::SOL_SOCKET,
                name: libc::SO_ERROR,
                value: &mut raw,
            })
        };
        let errno = match r {
            Ok(_) => libc::c_int::from_ne_bytes(raw),
            Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
        };
        match errno {
            0 | libc::ENETDOWN => Ok(()),
            e => Err(Error::Io {
                what: format!("the AF_PACKET socket on `{}` reported an error", self.iface),
                source: io::Error::from_raw_os_error(e),
            }),
        }
    }
}

/// The ring's mapping, unmapped (through [`syscall`]) on drop.
#[derive(Debug)]
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by one `Mapping` and reached only through it (the ring's `&mut`
// methods); nothing about it is tied to the thread that made it, so the owner may move it.
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are the mapping `mmap` returned, owned by this guard alone; the
        // ring that reads it is being dropped, so nothing uses it afterwards.
        let _ = unsafe {
            syscall(Syscall::Munmap {
                addr: self.ptr.as_ptr().cast(),
                len: self.len,
            })
        };
    }
}

/// `setsockopt(sock, SOL_PACKET, name, value)`.
fn set_opt(sock: &Socket, name: i32, value: &[u8]) -> io::Result<()> {
    // SAFETY: `SetSockOpt` borrows `value` for the call only; the descriptor is open.
    unsafe {
        syscall(Syscall::SetSockOpt {
            fd: sock.raw(),
            level: libc::SOL_PACKET,
            name,
            value,
        })
    }
    .map(|_| ())
}

/// The bytes of `v`.
///
/// # Safety
///
/// `T` has no padding, so every byte of `v` is initialised.
unsafe fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: `v` is a live reference to `size_of::<T>()` bytes, all initialised (caller).
    unsafe { slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::sys::override_syscall;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A descriptor number no real socket of the test process gets.
    const FAKE_FD: i32 = 0x3fff_fff0;
    const BLOCK: usize = 4096;

    fn small_config() -> PacketRingConfig {
        PacketRingConfig {
            block_size: BLOCK as u32,
            block_count: 2,
            frame_size: 2048,
            block_timeout_ms: 10,
            fanout_group: None,
        }
    }

    /// Heap memory standing in for the kernel's ring. Touched only through the raw pointer, as
    /// the ring under test does.
    struct FakeMem {
        ptr: *mut u64,
        words: usize,
    }

    impl FakeMem {
        fn new(bytes: usize) -> FakeMem {
            let words = bytes / 8;
            let ptr = Box::into_raw(vec![0u64; words].into_boxed_slice()).cast::<u64>();
            FakeMem { ptr, words }
        }
        /// The address the fake `mmap` returns.
        fn addr(&self) -> i64 {
            self.ptr.expose_provenance() as i64
        }
        fn put(&self, off: usize, bytes: &[u8]) {
            assert!(off + bytes.len() <= self.words * 8);
            // SAFETY: in bounds (asserted); the ring under test only reads or writes this
            // memory inside its own calls, none of which is running now.
            unsafe {
                ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    self.ptr.cast::<u8>().add(off),
                    bytes.len(),
                )
            }
        }
        fn put_u32(&self, off: usize, v: u32) {
            self.put(off, &v.to_ne_bytes());
        }
        fn put_u16(&self, off: usize, v: u16) {
            self.put(off, &v.to_ne_bytes());
        }
        fn u32_at(&self, off: usize) -> u32 {
            assert!(off + 4 <= self.words * 8);
            // SAFETY: in bounds (asserted), 4-aligned in the tests' use, nothing else running.
            unsafe {
                self.ptr
                    .cast::<u8>()
                    .add(off)
                    .cast::<u32>()
                    .read_unaligned()
            }
        }
    }

    impl Drop for FakeMem {
        fn drop(&mut self) {
            // SAFETY: `ptr`/`words` came from `Box::into_raw` of a boxed slice in `new`; the
            // ring that pointed into it is gone (see `Fixture`'s field order).
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(self.ptr, self.words)) });
        }
    }

    /// What the fake kernel was asked.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        Socket { domain: i32, ty: i32, protocol: i32 },
        SetOpt { name: i32, value: Vec<u8> },
        Mmap { len: usize },
        Bind(Vec<u8>),
    }

    /// A ring opened on the fake kernel. Field order is drop order: the ring (its munmap and
    /// close still faked), then the hook, then the memory.
    struct Fixture<Hook> {
        ring: PacketRing,
        _hook: Hook,
        mem: FakeMem,
        calls: Rc<RefCell<Vec<Call>>>,
    }

    /// Fakes the AF_PACKET socket, its options, `mmap` (heap memory), `bind`, `poll` (nothing
    /// ready), `munmap` and `close`. The `AF_INET` socket `if_index("lo")` uses reaches the
    /// kernel. `socket_err` makes `socket(AF_PACKET)` fail with that errno.
    fn fixture(
        cfg: &PacketRingConfig,
        socket_err: Option<i32>,
    ) -> Result<Fixture<impl Sized + use<>>, Error> {
        let mem = FakeMem::new(cfg.ring_len().unwrap());
        let addr = mem.addr();
        let calls = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&calls);
        let hook = override_syscall(move |call| {
            let mut log = log.borrow_mut();
            match *call {
                Syscall::Socket {
                    domain: libc::AF_PACKET,
                    ty,
                    protocol,
                } => {
                    log.push(Call::Socket {
                        domain: libc::AF_PACKET,
                        ty,
                        protocol,
                    });
                    Some(socket_err.map_or(Ok(i64::from(FAKE_FD)), |e| {
                        Err(io::Error::from_raw_os_error(e))
                    }))
                }
                Syscall::SetSockOpt {
                    fd: FAKE_FD,
                    level: libc::SOL_PACKET,
                    name,
                    value,
                } => {
                    log.push(Call::SetOpt {
                        name,
                        value: value.to_vec(),
                    });
                    Some(Ok(0))
                }
                Syscall::Mmap {
                    len, fd: FAKE_FD, ..
                } => {
                    log.push(Call::Mmap { len });
                    Some(Ok(addr))
                }
                Syscall::Bind { fd: FAKE_FD, addr } => {
                    log.push(Call::Bind(addr.to_vec()));
                    Some(Ok(0))
                }
                Syscall::Poll { .. } | Syscall::Munmap { .. } | Syscall::Close { fd: FAKE_FD } => {
                    Some(Ok(0))
                }
                _ => None,
            }
        });
        let ring = PacketRing::open("lo", cfg)?;
        Ok(Fixture {
            ring,
            _hook: hook,
            mem,
            calls,
        })
    }

    /// One frame of a hand-built block.
    struct TestFrame<'a> {
        data: &'a [u8],
        wire_len: u32,
        sec: u32,
        nsec: u32,
        /// `(tpid, tci)` the "NIC" stripped.
        vlan: Option<(u16, u16)>,
    }

    impl<'a> TestFrame<'a> {
        fn new(data: &'a [u8], sec: u32) -> Self {
            TestFrame {
                data,
                wire_len: data.len() as u32,
                sec,
                nsec: 500,
                vlan: None,
            }
        }
    }

    /// Where the kernel puts a frame's first byte relative to its header, for a 14-byte MAC
    /// header: `TPACKET_ALIGN(TPACKET3_HDRLEN + 16) - 14`.
    const MAC_OFF: usize = 96 - 14;

    /// Writes block `b` as the kernel would and hands it to user space. Returns where each
    /// frame header went.
    fn fill_block(mem: &FakeMem, b: usize, frames: &[TestFrame<'_>]) -> Vec<usize> {
        let base = b * BLOCK;
        let first = 48; // ALIGN(sizeof(tpacket_block_desc), 8)
        let mut offsets = Vec::new();
        let mut off = first;
        for (i, f) in frames.iter().enumerate() {
            let h = base + off;
            let next = (MAC_OFF + f.data.len()).next_multiple_of(8);
            let last = i + 1 == frames.len();
            mem.put_u32(h, if last { 0 } else { next as u32 }); // tp_next_offset
            mem.put_u32(h + 4, f.sec); // tp_sec
            mem.put_u32(h + 8, f.nsec); // tp_nsec
            mem.put_u32(h + 12, f.data.len() as u32); // tp_snaplen
            mem.put_u32(h + 16, f.wire_len); // tp_len
            let status = f.vlan.map_or(0, |_| {
                libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID
            });
            mem.put_u32(h + 20, status); // tp_status
            mem.put_u16(h + 24, MAC_OFF as u16); // tp_mac
            mem.put_u16(h + 26, MAC_OFF as u16 + 14); // tp_net
            mem.put_u32(h + 28, 0); // hv1.tp_rxhash
            let (tpid, tci) = f.vlan.unwrap_or((0, 0));
            mem.put_u32(h + 32, u32::from(tci)); // hv1.tp_vlan_tci
            mem.put_u16(h + 36, tpid); // hv1.tp_vlan_tpid
            mem.put(h + MAC_OFF, f.data);
            offsets.push(off);
            off += next;
        }
        mem.put_u32(base, libc::tpacket_versions::TPACKET_V3 as u32); // version
        mem.put_u32(base + 4, 0); // offset_to_priv
        mem.put_u32(base + 12, frames.len() as u32); // hdr.bh1.num_pkts
        mem.put_u32(base + 16, first as u32); // hdr.bh1.offset_to_first_pkt
        mem.put_u32(base + 20, off as u32); // hdr.bh1.blk_len
        mem.put_u32(base + 8, libc::TP_STATUS_USER); // hdr.bh1.block_status, last
        offsets
    }

    fn block_status(mem: &FakeMem, b: usize) -> u32 {
        mem.u32_at(b * BLOCK + BLOCK_STATUS)
    }

    /// Collects what `recv` delivers.
    fn drain(ring: &mut PacketRing, max: usize) -> Vec<(Vec<u8>, u32, u64)> {
        let mut got = Vec::new();
        let n = ring
            .recv(max, |frame, wire, ts| got.push((frame.to_vec(), wire, ts)))
            .unwrap();
        assert_eq!(n, got.len());
        got
    }

    #[test]
    fn ring_can_move_to_its_worker_thread() {
        fn is_send<T: Send>() {}
        is_send::<PacketRing>();
    }

    #[test]
    fn default_config_is_valid() {
        PacketRingConfig::default().validate().unwrap();
        small_config().validate().unwrap();
    }

    #[test]
    fn invalid_config_names_the_setting() {
        let d = PacketRingConfig::default();
        let cases = [
            (
                PacketRingConfig {
                    block_size: 3 << 20,
                    ..d
                },
                "af_packet block_size",
            ),
            (
                PacketRingConfig {
                    block_size: 2048,
                    frame_size: 1024,
                    ..d
                },
                "af_packet block_size",
            ),
            (
                PacketRingConfig {
                    block_count: 1,
                    ..d
                },
                "af_packet block_count",
            ),
            (
                PacketRingConfig {
                    frame_size: 2047,
                    ..d
                },
                "af_packet frame_size",
            ),
            (
                PacketRingConfig {
                    frame_size: 64,
                    ..d
                },
                "af_packet frame_size",
            ),
            (
                PacketRingConfig {
                    frame_size: 2 << 20,
                    ..d
                },
                "af_packet frame_size",
            ),
            (
                PacketRingConfig {
                    block_size: 1 << 31,
                    block_count: u32::MAX,
                    ..d
                },
                "af_packet block_count",
            ),
        ];
        for (cfg, want) in cases {
            match cfg.validate() {
                Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, want, "{cfg:?}"),
                other => panic!("{cfg:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn open_sets_up_a_v3_ring_bound_to_the_interface() {
        let lo = ethtool::if_index("lo").unwrap();
        let cfg = PacketRingConfig {
            fanout_group: Some(7),
            ..small_config()
        };
        let fx = fixture(&cfg, None).unwrap();
        let words = |w: &[u32]| w.iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<u8>>();
        let mut sll = vec![];
        sll.extend((libc::AF_PACKET as u16).to_ne_bytes()); // sll_family
        sll.extend([0x00, 0x03]); // sll_protocol: ETH_P_ALL, network order
        sll.extend((lo as i32).to_ne_bytes()); // sll_ifindex
        sll.extend([0; 2 + 1 + 1 + 8]); // sll_hatype, sll_pkttype, sll_halen, sll_addr
        assert_eq!(
            *fx.calls.borrow(),
            vec![
                // protocol 0: nothing is received before bind
                Call::Socket {
                    domain: libc::AF_PACKET,
                    ty: libc::SOCK_RAW,
                    protocol: 0
                },
                Call::SetOpt {
                    name: libc::PACKET_VERSION,
                    value: words(&[2])
                }, // TPACKET_V3
                Call::SetOpt {
                    name: libc::PACKET_IGNORE_OUTGOING,
                    value: words(&[1])
                },
                Call::SetOpt {
                    name: libc::PACKET_RX_RING,
                    // block size, blocks, frame size, frames (2 per block), timeout, priv, features
                    value: words(&[4096, 2, 2048, 4, 10, 0, 0]),
                },
                Call::Mmap { len: 2 * 4096 },
                Call::Bind(sll),
                Call::SetOpt {
                    name: libc::PACKET_FANOUT,
                    // group 7; HASH (0) | DEFRAG (0x8000) | IGNORE_OUTGOING (0x4000) << 16
                    value: words(&[7 | 0xc000 << 16]),
                },
            ]
        );
    }

    #[test]
    fn open_without_cap_net_raw_names_it() {
        for errno in [libc::EPERM, libc::EACCES] {
            let err = fixture(&small_config(), Some(errno))
                .err()
                .expect("open fails");
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
            assert!(
                err.to_string()
                    .starts_with("capturing on `lo` with AF_PACKET needs CAP_NET_RAW")
            );
        }
    }

    #[test]
    fn empty_ring_gives_nothing() {
        let mut fx = fixture(&small_config(), None).unwrap();
        assert!(drain(&mut fx.ring, 64).is_empty());
        assert!(!fx.ring.wait(0).unwrap()); // the fake poll says nothing is ready
        assert_eq!((block_status(&fx.mem, 0), block_status(&fx.mem, 1)), (0, 0));
    }

    #[test]
    fn recv_walks_frames_in_order_and_hands_blocks_back() {
        let mut fx = fixture(&small_config(), None).unwrap();
        let (a, b, c) = ([0xaa; 60], [0xbb; 1514], [0xcc; 100]);
        fill_block(
            &fx.mem,
            0,
            &[
                TestFrame::new(&a, 1),
                TestFrame {
                    wire_len: 9000,
                    ..TestFrame::new(&b, 2)
                },
            ],
        );
        fill_block(&fx.mem, 1, &[TestFrame::new(&c, 3)]);
        assert!(
            fx.ring.wait(0).unwrap(),
            "a block of ours is ready without polling"
        );

        let got = drain(&mut fx.ring, 64);
        assert_eq!(
            got,
            vec![
                (a.to_vec(), 60, 1_000_000_500),
                (b.to_vec(), 9000, 2_000_000_500), // snapped: wire length says more
                (c.to_vec(), 100, 3_000_000_500),
            ]
        );
        assert_eq!(
            (block_status(&fx.mem, 0), block_status(&fx.mem, 1)),
            (0, 0),
            "both handed back"
        );
        assert!(drain(&mut fx.ring, 64).is_empty());

        // The ring wraps: block 0 again.
        fill_block(&fx.mem, 0, &[TestFrame::new(&c, 4)]);
        assert_eq!(
            drain(&mut fx.ring, 64),
            vec![(c.to_vec(), 100, 4_000_000_500)]
        );
        assert_eq!(block_status(&fx.mem, 0), 0);
    }

    #[test]
    fn recv_honours_max_mid_block() {
        let mut fx = fixture(&small_config(), None).unwrap();
        let frames: Vec<[u8; 64]> = (0..3u8).map(|i| [i; 64]).collect();
        fill_block(
            &fx.mem,
            0,
            &frames
                .iter()
                .map(|f| TestFrame::new(f, 1))
                .collect::<Vec<_>>(),
        );
        fill_block(&fx.mem, 1, &[TestFrame::new(&frames[0], 2)]);

        assert!(drain(&mut fx.ring, 0).is_empty());
        let first = drain(&mut fx.ring, 2);
        assert_eq!(first.iter().map(|f| f.0[0]).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(
            block_status(&fx.mem, 0),
            libc::TP_STATUS_USER,
            "half-read block kept"
        );
        assert!(fx.ring.wait(0).unwrap());

        // Exactly the rest of block 0: handed back even though `max` is reached.
        let rest = drain(&mut fx.ring, 1);
        assert_eq!(rest[0].0[0], 2);
        assert_eq!(block_status(&fx.mem, 0), 0);
        assert_eq!(block_status(&fx.mem, 1), libc::TP_STATUS_USER);
        assert_eq!(drain(&mut fx.ring, 8).len(), 1);
        assert_eq!(block_status(&fx.mem, 1), 0);
    }

    #[test]
    fn block_without_frames_is_handed_back() {
        let mut fx = fixture(&small_config(), None).unwrap();
        let f = [0x11; 60];
        fill_block(&fx.mem, 0, &[]);
        fill_block(&fx.mem, 1, &[TestFrame::new(&f, 1)]);
        assert_eq!(drain(&mut fx.ring, 8).len(), 1);
        assert_eq!((block_status(&fx.mem, 0), block_status(&fx.mem, 1)), (0, 0));
    }

    #[test]
    fn stripped_vlan_tag_is_put_back() {
        let mut fx = fixture(&small_config(), None).unwrap();
        #[rustfmt::skip]
        let untagged = [
            0x02, 0, 0, 0, 0, 0x01, // destination MAC
            0x02, 0, 0, 0, 0, 0x02, // source MAC
            0x08, 0x00,             // EtherType IPv4
            0x45, 0x00,             // start of the IPv4 header
        ];
        let frame = TestFrame {
            vlan: Some((0x8100, 0x2064)),
            ..TestFrame::new(&untagged, 1)
        }; // PCP 1, VID 100
        fill_block(&fx.mem, 0, &[frame]);
        let got = drain(&mut fx.ring, 8);
        #[rustfmt::skip]
        let tagged = vec![
            0x02, 0, 0, 0, 0, 0x01, // destination MAC
            0x02, 0, 0, 0, 0, 0x02, // source MAC
            0x81, 0x00, 0x20, 0x64, // 802.1Q: TPID, TCI
            0x08, 0x00,             // EtherType IPv4
            0x45, 0x00,
        ];
        assert_eq!(got, vec![(tagged, 16 + 4, 1_000_000_500)]);
    }

    #[test]
    fn corrupt_frame_is_an_error_and_the_block_goes_back() {
        let mut fx = fixture(&small_config(), None).unwrap();
        let f = [0x22; 60];
        let offs = fill_block(&fx.mem, 0, &[TestFrame::new(&f, 1), TestFrame::new(&f, 2)]);
        fx.mem.put_u32(offs[1] + 12, BLOCK as u32); // second frame's tp_snaplen: past the block
        fill_block(&fx.mem, 1, &[TestFrame::new(&f, 3)]);

        let mut got = 0;
        let err = fx.ring.recv(8, |_, _, _| got += 1).unwrap_err();
        assert_eq!(got, 1, "the good frame before it was delivered");
        assert!(
            matches!(err, Error::PacketRingCorrupt { block: 0, offset, .. } if offset as usize == offs[1]),
            "{err:?}"
        );
        assert_eq!(block_status(&fx.mem, 0), 0);
        assert_eq!(
            drain(&mut fx.ring, 8).len(),
            1,
            "the next block is read normally"
        );
    }

    #[test]
    fn statistics_accumulate_across_reads() {
        let raw = |p: u32, d: u32, f: u32| {
            let mut r = [0u8; 12];
            r[0..4].copy_from_slice(&p.to_ne_bytes()); // tp_packets (drops included)
            r[4..8].copy_from_slice(&d.to_ne_bytes()); // tp_drops
            r[8..12].copy_from_slice(&f.to_ne_bytes()); // tp_freeze_q_cnt
            r
        };
        let mut s = PacketStatistics::default();
        s.accumulate(raw(10, 2, 1));
        s.accumulate(raw(u32::MAX, 0, 0));
        assert_eq!(
            s,
            PacketStatistics {
                packets: 10 + u64::from(u32::MAX),
                drops: 2,
                freeze_q_cnt: 1
            }
        );
    }
}
