//! The UMEM (`Documentation/networking/af_xdp.rst`, "UMEM"): one anonymous mapping cut into
//! `frame_count` equal, power-of-two frames, registered with the kernel, and its two rings:
//! FILL (frames we lend the kernel to receive into) and COMPLETION (TX frames the kernel is
//! done with).
//!
//! A frame is always owned by exactly one side. User space owns it while it sits on a
//! [`FrameStack`], or between reading its RX descriptor and putting it back on FILL, or between
//! taking it off COMPLETION and putting it on TX. Only then may its bytes be viewed
//! ([`FrameArea::bytes`]) or written ([`FrameArea::write`]); that is the contract their `unsafe`
//! stands for.
//!
//! Aligned mode only: a frame's base address is `addr & !(frame_size - 1)`, and the kernel
//! puts received data `XDP_PACKET_HEADROOM` bytes past it.
//!
//! This file does _not_ create the socket, size the rings or bind (see `xsk.rs`).

use std::io;
use std::os::fd::RawFd;

use super::abi::{MmapOffsets, UmemReg, XDP_UMEM_PGOFF_COMPLETION_RING, XDP_UMEM_PGOFF_FILL_RING};
use super::queue::{Consumer, Mapping, Producer};

/// The frame memory.
#[derive(Debug)]
pub(crate) struct FrameArea {
    map: Mapping,
    frame_size: u32,
    frame_count: u32,
}

impl FrameArea {
    /// Maps `frame_count * frame_size` bytes of private anonymous memory.
    ///
    /// # Panics
    ///
    /// When `frame_size` is not a power of two (the config was not validated).
    pub(crate) fn allocate(frame_size: u32, frame_count: u32) -> io::Result<FrameArea> {
        let len = usize::try_from(u64::from(frame_size) * u64::from(frame_count))
            .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let map = Mapping::map(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)?;
        Ok(FrameArea::from_mapping(map, frame_size, frame_count))
    }

    /// Uses `map` (at least `frame_size * frame_count` bytes) as the frame memory.
    ///
    /// # Panics
    ///
    /// When `frame_size` is not a power of two or `map` is too small.
    pub(crate) fn from_mapping(map: Mapping, frame_size: u32, frame_count: u32) -> FrameArea {
        assert!(frame_size.is_power_of_two(), "frame_size {frame_size}");
        assert!(map.len() as u64 >= u64::from(frame_size) * u64::from(frame_count));
        FrameArea {
            map,
            frame_size,
            frame_count,
        }
    }

    /// What `setsockopt(XDP_UMEM_REG)` needs to register this memory.
    pub(crate) fn registration(&self) -> UmemReg {
        UmemReg {
            addr: self.map.as_ptr() as u64,
            len: self.len(),
            chunk_size: self.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        }
    }

    /// Bytes in use for frames.
    pub(crate) fn len(&self) -> u64 {
        u64::from(self.frame_size) * u64::from(self.frame_count)
    }

    /// The frame size.
    pub(crate) fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Base address of frame `i`.
    pub(crate) fn frame(&self, i: u32) -> u64 {
        u64::from(i) * u64::from(self.frame_size)
    }

    /// The base of the frame holding `addr`, or `None` outside the area.
    pub(crate) fn base_of(&self, addr: u64) -> Option<u64> {
        (addr < self.len()).then(|| addr & !(u64::from(self.frame_size) - 1))
    }

    /// `addr..addr + len` lies inside one frame.
    fn in_one_frame(&self, addr: u64, len: usize) -> bool {
        match self.base_of(addr) {
            Some(base) => addr - base + len as u64 <= u64::from(self.frame_size),
            None => false,
        }
    }

    /// The `len` bytes at `addr`, or `None` when they are not inside one frame.
    ///
    /// # Safety
    ///
    /// The frame holding `addr` is owned by user space (see the module doc) for as long as the
    /// returned slice lives: the kernel must not write it meanwhile.
    pub(crate) unsafe fn bytes(&self, addr: u64, len: u32) -> Option<&[u8]> {
        if !self.in_one_frame(addr, len as usize) {
            return None;
        }
        // SAFETY: `addr + len` is inside the mapping (`in_one_frame`), which lives as long as
        // `&self`; the caller vouches that the kernel won't write these bytes meanwhile.
        Some(unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(addr as usize), len as usize)
        })
    }

    /// Copies `data` to `addr`; `false` (and nothing written) when it does not fit one frame.
    ///
    /// # Safety
    ///
    /// The frame holding `addr` is owned by user space (see the module doc): the kernel neither
    /// reads nor writes it until it is handed over on TX or FILL.
    pub(crate) unsafe fn write(&self, addr: u64, data: &[u8]) -> bool {
        if !self.in_one_frame(addr, data.len()) {
            return false;
        }
        // SAFETY: the destination is inside the mapping (`in_one_frame`) and cannot overlap
        // `data`, a borrow of other memory (a `&[u8]` into our own frame would need this frame
        // borrowed, which `bytes`' contract rules out while we write it); the caller vouches
        // that the kernel doesn't access the frame.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_ptr().add(addr as usize),
                data.len(),
            );
        }
        true
    }
}

/// Frame base addresses owned by user space, in a stack preallocated for all frames: pushing
/// never allocates.
#[derive(Debug)]
pub(crate) struct FrameStack {
    addrs: Vec<u64>,
}

impl FrameStack {
    /// An empty stack with room for `capacity` frames.
    pub(crate) fn with_capacity(capacity: u32) -> FrameStack {
        FrameStack {
            addrs: Vec::with_capacity(capacity as usize),
        }
    }

    /// Adds a frame; a frame beyond the capacity (only a misbehaving kernel could hand us more
    /// frames than exist) is dropped rather than allocating.
    pub(crate) fn push(&mut self, addr: u64) {
        if self.addrs.len() < self.addrs.capacity() {
            self.addrs.push(addr);
        }
    }

    /// Takes the most recently pushed frame (cache-warm first).
    pub(crate) fn pop(&mut self) -> Option<u64> {
        self.addrs.pop()
    }

    /// Frames held.
    pub(crate) fn len(&self) -> u32 {
        self.addrs.len() as u32
    }
}

/// The frame memory and its two rings.
#[derive(Debug)]
pub(crate) struct Umem {
    /// FILL: we produce frame base addresses, the kernel receives into them.
    pub(crate) fill: Producer<u64>,
    /// COMPLETION: the kernel returns the addresses of TX frames it sent.
    pub(crate) comp: Consumer<u64>,
    /// Dropped last: the kernel may still hold frames until the socket closes.
    pub(crate) area: FrameArea,
}

impl Umem {
    /// Maps the FILL and COMPLETION rings of `fd`.
    ///
    /// # Safety
    ///
    /// `fd` is an AF_XDP socket with `area` registered (`XDP_UMEM_REG`), a FILL ring of
    /// `fill_size` and a COMPLETION ring of `comp_size` entries (`XDP_UMEM_FILL_RING`,
    /// `XDP_UMEM_COMPLETION_RING`), `off` is what `XDP_MMAP_OFFSETS` returned for it, and no
    /// other `Umem` maps these rings.
    pub(crate) unsafe fn map_rings(
        fd: RawFd,
        area: FrameArea,
        off: &MmapOffsets,
        fill_size: u32,
        comp_size: u32,
    ) -> io::Result<Umem> {
        let fill_map = map_ring(fd, off.fr.desc, fill_size, XDP_UMEM_PGOFF_FILL_RING)?;
        // SAFETY: this is the kernel's FILL ring of `fd` as the caller describes it; the kernel
        // consumes it, and this `Umem` is its only user-space side.
        let fill = unsafe { Producer::new(fill_map, &off.fr, fill_size) }?;
        let comp_map = map_ring(fd, off.cr.desc, comp_size, XDP_UMEM_PGOFF_COMPLETION_RING)?;
        // SAFETY: likewise for the COMPLETION ring, which the kernel produces.
        let comp = unsafe { Consumer::new(comp_map, &off.cr, comp_size) }?;
        Ok(Umem { fill, comp, area })
    }

    /// Puts as many frames from `spare` on FILL as fit, with one `Release` store; returns how
    /// many.
    pub(crate) fn refill(&mut self, spare: &mut FrameStack) -> u32 {
        if spare.len() == 0 {
            return 0;
        }
        let mut batch = self.fill.reserve(spare.len());
        while batch.remaining() > 0 {
            let Some(addr) = spare.pop() else { break };
            if let Err(addr) = batch.push(addr) {
                spare.push(addr);
                break;
            }
        }
        batch.commit()
    }

    /// Takes every completed TX frame off COMPLETION onto `free`, with one `Release` store;
    /// returns how many.
    pub(crate) fn reclaim(&mut self, free: &mut FrameStack) -> u32 {
        let batch = self.comp.peek(u32::MAX);
        let n = batch.len();
        for i in 0..n {
            if let Some(base) = self.area.base_of(batch.get(i)) {
                free.push(base);
            }
        }
        batch.release();
        n
    }
}

/// Maps ring `pgoff` of `fd`: `desc_at + size` descriptors of 8 bytes.
fn map_ring(fd: RawFd, desc_at: u64, size: u32, pgoff: u64) -> io::Result<Mapping> {
    let len = desc_at + u64::from(size) * 8;
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    let offset = i64::try_from(pgoff).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    Mapping::map(len, libc::MAP_SHARED | libc::MAP_POPULATE, fd, offset)
}

/// Maps RX or TX ring `pgoff` of `fd`: `desc_at + size` descriptors of 16 bytes.
pub(crate) fn map_desc_ring(fd: RawFd, desc_at: u64, size: u32, pgoff: i64) -> io::Result<Mapping> {
    let len = desc_at + u64::from(size) * size_of::<super::abi::XdpDesc>() as u64;
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    Mapping::map(len, libc::MAP_SHARED | libc::MAP_POPULATE, fd, pgoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::queue::tests::Heap;
    use crate::ring::sys::{Syscall, override_syscall};

    #[test]
    fn frame_bounds_are_checked() {
        let _k = override_syscall(|call| match call {
            Syscall::Munmap { .. } => Some(Ok(0)),
            _ => None,
        });
        let heap = Heap::new(4 * 2048);
        let area = FrameArea::from_mapping(heap.mapping(), 2048, 4);
        assert_eq!(area.frame(3), 3 * 2048);
        assert_eq!(area.base_of(2048 + 256), Some(2048));
        assert_eq!(area.base_of(4 * 2048), None);
        // SAFETY: no kernel in this test: every frame is ours.
        unsafe {
            assert!(area.write(2048 + 256, &[1, 2, 3]));
            assert_eq!(area.bytes(2048 + 256, 3), Some(&[1u8, 2, 3][..]));
            assert_eq!(
                area.bytes(2048 + 2047, 2),
                None,
                "crosses into the next frame"
            );
            assert!(
                !area.write(3 * 2048 + 2000, &[0; 100]),
                "past the frame end"
            );
            assert_eq!(area.bytes(4 * 2048, 1), None, "past the area");
        }
    }

    #[test]
    fn frame_stack_never_grows_past_its_capacity() {
        let mut s = FrameStack::with_capacity(2);
        s.push(0);
        s.push(2048);
        s.push(4096); // a third frame cannot exist: dropped, no reallocation
        assert_eq!(s.len(), 2);
        assert_eq!(s.pop(), Some(2048), "last in, first out");
    }
}
