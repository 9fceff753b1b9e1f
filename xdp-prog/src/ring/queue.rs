//! One AF_XDP ring as the kernel maps it (`Documentation/networking/af_xdp.rst`, "Rings"): a
//! `u32` producer index, a `u32` consumer index, a `u32` flags word and a power-of-two array of
//! descriptors, all in one mapping shared with the kernel. Indices run freely and wrap around
//! `u32`; a slot is `index & (size - 1)`.
//!
//! Each ring has exactly one user-space side: [`Producer`] (FILL, TX) or [`Consumer`] (RX,
//! COMPLETION). Both keep a cached copy of the other side's index and read the shared one only
//! when the cache says the ring looks full (or empty). Ordering follows the kernel's
//! `net/xdp/xsk_queue.h` contract:
//!
//! - a consumer loads the producer index with `Acquire` before reading descriptors, and hands
//!   slots back with a `Release` store of its index after it is done with them;
//! - a producer loads the consumer index with `Acquire` before overwriting slots, and publishes
//!   descriptors with a `Release` store of its index after writing them.
//!
//! Batches are `#[must_use]` guards ([`WriteBatch`], [`ReadBatch`]) that publish with one
//! `Release` store on `commit`/`release` and roll back when dropped: no store happens, so the
//! kernel never sees a half-written batch and unread descriptors are seen again next time.
//!
//! This file does _not_ know what the descriptors mean (frames, UMEM addresses) or make any
//! system call other than `munmap` when a [`Mapping`] drops.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::{fmt, io};

use super::abi::{RingOffset, XDP_RING_NEED_WAKEUP};
use super::sys::{Syscall, syscall};

/// A memory mapping owned by this process, unmapped (through [`syscall`]) on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes read/write: anonymous memory (`fd = -1`, `MAP_ANONYMOUS` in `flags`) or
    /// the part of `fd` at `offset` (an AF_XDP ring).
    pub(crate) fn map(len: usize, flags: i32, fd: i32, offset: i64) -> io::Result<Mapping> {
        // SAFETY: `Mmap` asks the kernel for a new mapping and passes no pointer; it has no
        // obligation beyond the borrow-checked arguments.
        let addr = unsafe {
            syscall(Syscall::Mmap {
                len,
                flags,
                fd,
                offset,
            })
        }?;
        let ptr = NonNull::new(addr as usize as *mut u8)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "mmap returned NULL"))?;
        Ok(Mapping { ptr, len })
    }

    /// First byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what `mmap` returned in `Mapping::map`; the mapping is
        // owned by `self` and every ring or frame view of it borrows `self`, so nothing uses it
        // after this.
        let _ = unsafe {
            syscall(Syscall::Munmap {
                addr: self.ptr.as_ptr().cast(),
                len: self.len,
            })
        };
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("addr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: a `Mapping` is plain memory owned by this value; nothing in it is tied to the thread
// that made it, and unmapping from another thread is fine.
unsafe impl Send for Mapping {}

/// The parts of a ring inside its mapping, checked for bounds and alignment.
struct Shared<T> {
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    descs: NonNull<T>,
    mask: u32,
    // Last: the pointers above point into it.
    map: Mapping,
    _desc: PhantomData<T>,
}

impl<T: Copy> Shared<T> {
    /// # Safety
    ///
    /// `map` is an AF_XDP ring the kernel shares with this process, laid out as `off` says with
    /// `size` descriptors of type `T`, and the caller is its only user-space side (see
    /// [`Producer::new`] / [`Consumer::new`]).
    unsafe fn new(map: Mapping, off: &RingOffset, size: u32) -> io::Result<Shared<T>> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        if !size.is_power_of_two() {
            return Err(bad(format!("ring size {size} is not a power of two")));
        }
        let word = |at: u64, name: &str| -> io::Result<NonNull<AtomicU32>> {
            let at = usize::try_from(at).map_err(|_| bad(format!("{name} offset {at}")))?;
            if !at.is_multiple_of(align_of::<AtomicU32>()) || at + size_of::<u32>() > map.len() {
                return Err(bad(format!(
                    "ring {name} offset {at} is outside or misaligned in a {}-byte mapping",
                    map.len()
                )));
            }
            // SAFETY: `at + 4 <= map.len()`, so the result stays inside the mapping.
            Ok(unsafe { NonNull::new_unchecked(map.as_ptr().add(at)) }.cast())
        };
        let producer = word(off.producer, "producer")?;
        let consumer = word(off.consumer, "consumer")?;
        let flags = word(off.flags, "flags")?;
        let desc_at = usize::try_from(off.desc).unwrap_or(usize::MAX);
        let desc_end = (size as usize)
            .checked_mul(size_of::<T>())
            .and_then(|n| n.checked_add(desc_at));
        if !desc_at.is_multiple_of(align_of::<T>()) || desc_end.is_none_or(|end| end > map.len()) {
            return Err(bad(format!(
                "ring of {size} descriptors at offset {desc_at} does not fit a {}-byte mapping",
                map.len()
            )));
        }
        // SAFETY: `desc_at + size * size_of::<T>() <= map.len()`, checked just above.
        let descs = unsafe { NonNull::new_unchecked(map.as_ptr().add(desc_at)) }.cast();
        // The mapping is page aligned (mmap), so an offset aligned for `T` or `u32` gives an
        // aligned address.
        debug_assert_eq!((map.as_ptr() as usize) % 8, 0);
        Ok(Shared {
            producer,
            consumer,
            flags,
            descs,
            mask: size - 1,
            map,
            _desc: PhantomData,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: in bounds and aligned (checked in `new`), alive as long as `self.map`; the
        // kernel only ever accesses this word atomically (READ_ONCE/smp_store_release).
        unsafe { self.producer.as_ref() }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.consumer.as_ref() }
    }

    fn flags(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.flags.as_ref() }
    }

    fn slot(&self, index: u32) -> *mut T {
        // SAFETY: `index & mask < size`, and `size` descriptors fit the mapping (checked in
        // `new`).
        unsafe { self.descs.as_ptr().add((index & self.mask) as usize) }
    }

    fn size(&self) -> u32 {
        self.mask + 1
    }

    /// `XDP_RING_NEED_WAKEUP` is set: the kernel sleeps until a syscall wakes it.
    fn needs_wakeup(&self) -> bool {
        // Our index store (Release) must not pass this load, or we could read a stale "awake"
        // while the kernel, having set the flag, reads our stale index: both would wait. One
        // full fence per batch closes that window.
        fence(Ordering::SeqCst);
        self.flags().load(Ordering::Relaxed) & XDP_RING_NEED_WAKEUP != 0
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("size", &(self.mask + 1))
            .field("map", &self.map)
            .finish()
    }
}

// SAFETY: the ring is reached only through `&mut` of its single owner (Producer/Consumer), the
// kernel side does not care which thread that is, and `T` is a plain `Copy` descriptor.
unsafe impl<T: Send> Send for Shared<T> {}

/// The user-space producer side of a ring (FILL, TX).
#[derive(Debug)]
pub(crate) struct Producer<T> {
    ring: Shared<T>,
    /// Our index: everything before it is published.
    prod: u32,
    /// The kernel's index as last read.
    cached_cons: u32,
}

impl<T: Copy> Producer<T> {
    /// Takes over the producer side of a ring.
    ///
    /// # Safety
    ///
    /// `map` is the kernel's mapping of an AF_XDP ring with `size` descriptors of type `T` laid
    /// out as `off` says, in which the kernel is the consumer, and nothing else in this process
    /// reads or writes it.
    pub(crate) unsafe fn new(map: Mapping, off: &RingOffset, size: u32) -> io::Result<Self> {
        // SAFETY: forwarded from this function's contract.
        let ring = unsafe { Shared::new(map, off, size) }?;
        let prod = ring.producer().load(Ordering::Relaxed);
        let cached_cons = ring.consumer().load(Ordering::Acquire);
        Ok(Producer {
            ring,
            prod,
            cached_cons,
        })
    }

    /// Reserves up to `want` free slots (fewer when the ring is fuller). Reads the kernel's
    /// index only when the cached one shows fewer than `want` free.
    pub(crate) fn reserve(&mut self, want: u32) -> WriteBatch<'_, T> {
        let mut free = self.free_cached();
        if free < want {
            self.cached_cons = self.ring.consumer().load(Ordering::Acquire);
            free = self.free_cached();
        }
        WriteBatch {
            cap: free.min(want),
            written: 0,
            ring: self,
        }
    }

    /// The kernel asked to be woken for this ring.
    pub(crate) fn needs_wakeup(&self) -> bool {
        self.ring.needs_wakeup()
    }

    fn free_cached(&self) -> u32 {
        self.ring.size() - self.prod.wrapping_sub(self.cached_cons)
    }
}

/// Slots reserved on a producer ring. Nothing reaches the kernel until [`WriteBatch::commit`];
/// dropping the batch discards what was written.
#[must_use = "descriptors reach the kernel only on commit()"]
#[derive(Debug)]
pub(crate) struct WriteBatch<'r, T> {
    ring: &'r mut Producer<T>,
    cap: u32,
    written: u32,
}

impl<T: Copy> WriteBatch<'_, T> {
    /// Slots reserved.
    pub(crate) fn capacity(&self) -> u32 {
        self.cap
    }

    /// Slots still free in this batch.
    pub(crate) fn remaining(&self) -> u32 {
        self.cap - self.written
    }

    /// Writes the next descriptor; gives it back when the batch is full.
    pub(crate) fn push(&mut self, desc: T) -> Result<(), T> {
        if self.written == self.cap {
            return Err(desc);
        }
        let slot = self
            .ring
            .ring
            .slot(self.ring.prod.wrapping_add(self.written));
        // SAFETY: the slot is in bounds (`Shared::slot`) and free: it lies in
        // `prod..cached_cons + size`, which the kernel has consumed and won't read again until
        // we publish a producer index past it.
        unsafe { slot.write(desc) };
        self.written += 1;
        Ok(())
    }

    /// Publishes the descriptors written so far with one `Release` store; returns how many.
    pub(crate) fn commit(self) -> u32 {
        let n = self.written;
        if n > 0 {
            self.ring.prod = self.ring.prod.wrapping_add(n);
            self.ring
                .ring
                .producer()
                .store(self.ring.prod, Ordering::Release);
        }
        n
    }
}

/// The user-space consumer side of a ring (RX, COMPLETION).
#[derive(Debug)]
pub(crate) struct Consumer<T> {
    ring: Shared<T>,
    /// Our index: everything before it is handed back.
    cons: u32,
    /// The kernel's index as last read.
    cached_prod: u32,
}

impl<T: Copy> Consumer<T> {
    /// Takes over the consumer side of a ring.
    ///
    /// # Safety
    ///
    /// `map` is the kernel's mapping of an AF_XDP ring with `size` descriptors of type `T` laid
    /// out as `off` says, in which the kernel is the producer, and nothing else in this process
    /// reads or writes it.
    pub(crate) unsafe fn new(map: Mapping, off: &RingOffset, size: u32) -> io::Result<Self> {
        // SAFETY: forwarded from this function's contract.
        let ring = unsafe { Shared::new(map, off, size) }?;
        let cons = ring.consumer().load(Ordering::Relaxed);
        let cached_prod = ring.producer().load(Ordering::Acquire);
        Ok(Consumer {
            ring,
            cons,
            cached_prod,
        })
    }

    /// Number of slots.
    #[cfg(test)]
    pub(crate) fn size(&self) -> u32 {
        self.ring.size()
    }

    /// Descriptors ready to read (reads the kernel's index when the cached one shows none).
    pub(crate) fn available(&mut self) -> u32 {
        let ready = self.cached_prod.wrapping_sub(self.cons);
        if ready > 0 {
            return ready;
        }
        self.cached_prod = self.ring.producer().load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cons)
    }

    /// Takes up to `max` ready descriptors. Reads the kernel's index only when the cached one
    /// shows fewer than `max`.
    pub(crate) fn peek(&mut self, max: u32) -> ReadBatch<'_, T> {
        let mut ready = self.cached_prod.wrapping_sub(self.cons);
        if ready < max {
            self.cached_prod = self.ring.producer().load(Ordering::Acquire);
            ready = self.cached_prod.wrapping_sub(self.cons);
        }
        // A kernel never publishes more than `size`; clamp so a corrupt index can't make us
        // read slots twice.
        let len = ready.min(max).min(self.ring.size());
        ReadBatch { len, ring: self }
    }
}

/// Descriptors taken from a consumer ring. They stay ours (and the frames they point to) until
/// [`ReadBatch::release`]; dropping the batch leaves them on the ring to be read again.
#[must_use = "descriptors go back to the kernel only on release()"]
#[derive(Debug)]
pub(crate) struct ReadBatch<'r, T> {
    ring: &'r mut Consumer<T>,
    len: u32,
}

impl<T: Copy> ReadBatch<'_, T> {
    /// Descriptors in the batch.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The `i`-th descriptor of the batch.
    ///
    /// # Panics
    ///
    /// When `i >= len()`.
    pub(crate) fn get(&self, i: u32) -> T {
        assert!(i < self.len, "descriptor {i} of a batch of {}", self.len);
        let slot = self.ring.ring.slot(self.ring.cons.wrapping_add(i));
        // SAFETY: the slot is in bounds (`Shared::slot`) and lies in `cons..cached_prod`: the
        // kernel published it before the `Acquire` load of its index and won't touch it until
        // we release a consumer index past it.
        unsafe { slot.read() }
    }

    /// Hands the whole batch back to the kernel with one `Release` store.
    pub(crate) fn release(self) {
        if self.len > 0 {
            self.ring.cons = self.ring.cons.wrapping_add(self.len);
            self.ring
                .ring
                .consumer()
                .store(self.ring.cons, Ordering::Release);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The rings over heap memory, with the test playing the kernel's side.

    use super::*;
    use std::alloc::{Layout, alloc_zeroed, dealloc};

    /// Page-aligned zeroed heap memory that stands in for a kernel mapping.
    #[derive(Debug)]
    pub(crate) struct Heap {
        ptr: *mut u8,
        layout: Layout,
    }

    impl Heap {
        pub(crate) fn new(len: usize) -> Heap {
            let layout = Layout::from_size_align(len.max(1), 4096).expect("layout");
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { alloc_zeroed(layout) };
            assert!(!ptr.is_null(), "allocating {len} bytes");
            Heap { ptr, layout }
        }

        pub(crate) fn addr(&self) -> usize {
            self.ptr as usize
        }

        pub(crate) fn len(&self) -> usize {
            self.layout.size()
        }

        /// The `u32` at `at`, as the kernel would access it.
        pub(crate) fn word(&self, at: usize) -> &AtomicU32 {
            assert!(at + 4 <= self.len() && at.is_multiple_of(4));
            // SAFETY: in bounds and aligned (asserted); the memory lives as long as `self`.
            unsafe { &*self.ptr.add(at).cast::<AtomicU32>() }
        }

        pub(crate) fn write<T: Copy>(&self, at: usize, v: T) {
            assert!(at + size_of::<T>() <= self.len() && at.is_multiple_of(align_of::<T>()));
            // SAFETY: in bounds and aligned (asserted); no reference to these bytes is alive
            // (the code under test only reads them after this returns).
            unsafe { self.ptr.add(at).cast::<T>().write(v) }
        }

        /// A `Mapping` of this memory, as `mmap` would return it. Unmapping it is left to the
        /// test's fake `Munmap` (which must not free anything: the heap frees itself).
        pub(crate) fn mapping(&self) -> Mapping {
            Mapping {
                ptr: NonNull::new(self.ptr).expect("heap"),
                len: self.len(),
            }
        }

        /// Copies `data` to `at`, as the kernel writes a received packet.
        pub(crate) fn write_bytes(&self, at: usize, data: &[u8]) {
            assert!(at + data.len() <= self.len());
            // SAFETY: in bounds (asserted); no reference to these bytes is alive.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(at), data.len()) }
        }

        /// Copies `len` bytes out of `at`, as the kernel reads a packet to send.
        pub(crate) fn bytes(&self, at: usize, len: usize) -> Vec<u8> {
            assert!(at + len <= self.len());
            // SAFETY: in bounds (asserted); no `&mut` to these bytes is alive.
            unsafe { std::slice::from_raw_parts(self.ptr.add(at), len) }.to_vec()
        }

        pub(crate) fn read<T: Copy>(&self, at: usize) -> T {
            assert!(at + size_of::<T>() <= self.len() && at.is_multiple_of(align_of::<T>()));
            // SAFETY: in bounds and aligned (asserted); no `&mut` to these bytes is alive.
            unsafe { self.ptr.add(at).cast::<T>().read() }
        }
    }

    impl Drop for Heap {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.ptr, self.layout) }
        }
    }

    /// The layout the fake kernel uses for every ring (producer and consumer on separate cache
    /// lines, like the kernel's `struct xdp_ring`).
    pub(crate) const FAKE_OFF: RingOffset = RingOffset {
        producer: 0,
        consumer: 64,
        flags: 128,
        desc: 192,
    };

    /// The kernel's side of a fake ring.
    #[derive(Debug)]
    pub(crate) struct KernelSide<T> {
        pub(crate) heap: Heap,
        size: u32,
        _t: PhantomData<T>,
    }

    impl<T: Copy> KernelSide<T> {
        pub(crate) fn new(size: u32) -> KernelSide<T> {
            let heap = Heap::new(FAKE_OFF.desc as usize + size as usize * size_of::<T>());
            KernelSide {
                heap,
                size,
                _t: PhantomData,
            }
        }

        pub(crate) fn producer(&self) -> &AtomicU32 {
            self.heap.word(FAKE_OFF.producer as usize)
        }

        pub(crate) fn consumer(&self) -> &AtomicU32 {
            self.heap.word(FAKE_OFF.consumer as usize)
        }

        pub(crate) fn set_flags(&self, flags: u32) {
            self.heap
                .word(FAKE_OFF.flags as usize)
                .store(flags, Ordering::Relaxed);
        }

        /// Starts both indices at `at` (before user space maps the ring).
        pub(crate) fn start_at(&self, at: u32) {
            self.producer().store(at, Ordering::Relaxed);
            self.consumer().store(at, Ordering::Relaxed);
        }

        fn slot_at(&self, index: u32) -> usize {
            FAKE_OFF.desc as usize + (index & (self.size - 1)) as usize * size_of::<T>()
        }

        /// Kernel as producer: appends `descs` (asserting they fit) and publishes them.
        pub(crate) fn produce(&self, descs: &[T]) {
            let prod = self.producer().load(Ordering::Relaxed);
            let cons = self.consumer().load(Ordering::Acquire);
            assert!(prod.wrapping_sub(cons) as usize + descs.len() <= self.size as usize);
            for (i, d) in descs.iter().enumerate() {
                self.heap
                    .write(self.slot_at(prod.wrapping_add(i as u32)), *d);
            }
            self.producer()
                .store(prod.wrapping_add(descs.len() as u32), Ordering::Release);
        }

        /// Kernel as consumer: takes up to `max` published descriptors.
        pub(crate) fn consume(&self, max: usize) -> Vec<T> {
            let prod = self.producer().load(Ordering::Acquire);
            let cons = self.consumer().load(Ordering::Relaxed);
            let n = (prod.wrapping_sub(cons) as usize).min(max);
            let out = (0..n)
                .map(|i| self.heap.read(self.slot_at(cons.wrapping_add(i as u32))))
                .collect();
            self.consumer()
                .store(cons.wrapping_add(n as u32), Ordering::Release);
            out
        }

        /// A `Mapping` of the ring, as `mmap` would return it (see [`Heap::mapping`]).
        pub(crate) fn mapping(&self) -> Mapping {
            self.heap.mapping()
        }
    }

    /// Swallows `Munmap` calls (the heap frees itself) for the duration of a test.
    fn fake_munmap() -> impl Drop {
        crate::ring::sys::override_syscall(|call| match call {
            Syscall::Munmap { .. } => Some(Ok(0)),
            _ => None,
        })
    }

    #[test]
    fn producer_fills_to_size_then_reports_full() {
        let _k = fake_munmap();
        let kernel = KernelSide::<u64>::new(8);
        // SAFETY: the heap stands in for a FILL ring of 8 `u64` in `FAKE_OFF` layout; this test
        // is the only other user and plays the kernel (consumer) side.
        let mut fill = unsafe { Producer::<u64>::new(kernel.mapping(), &FAKE_OFF, 8) }.unwrap();
        let mut w = fill.reserve(100);
        assert_eq!(w.capacity(), 8);
        for a in 0..8u64 {
            w.push(a * 2048).unwrap();
        }
        assert_eq!(
            w.push(99),
            Err(99),
            "a full batch gives the descriptor back"
        );
        assert_eq!(w.commit(), 8);
        assert_eq!(fill.reserve(1).capacity(), 0, "ring full");
        assert_eq!(kernel.consume(3), vec![0, 2048, 4096]);
        assert_eq!(
            fill.reserve(8).capacity(),
            3,
            "the three the kernel consumed"
        );
    }

    #[test]
    fn dropped_write_batch_publishes_nothing() {
        let _k = fake_munmap();
        let kernel = KernelSide::<u64>::new(4);
        // SAFETY: as in `producer_fills_to_size_then_reports_full`.
        let mut fill = unsafe { Producer::<u64>::new(kernel.mapping(), &FAKE_OFF, 4) }.unwrap();
        {
            let mut w = fill.reserve(2);
            w.push(1).unwrap();
            drop(w);
        }
        assert_eq!(kernel.producer().load(Ordering::Relaxed), 0);
        assert!(kernel.consume(4).is_empty());
        let mut w = fill.reserve(2);
        w.push(7).unwrap();
        assert_eq!(w.commit(), 1, "only written slots are published");
        assert_eq!(kernel.consume(4), vec![7]);
    }

    #[test]
    fn consumer_reads_in_order_and_releases_once() {
        let _k = fake_munmap();
        let kernel = KernelSide::<u64>::new(4);
        // SAFETY: the heap stands in for a COMPLETION ring of 4 `u64`; this test plays the
        // kernel (producer) side.
        let mut comp = unsafe { Consumer::<u64>::new(kernel.mapping(), &FAKE_OFF, 4) }.unwrap();
        assert_eq!(comp.size(), 4);
        assert_eq!(comp.available(), 0);
        kernel.produce(&[10, 20, 30]);
        let b = comp.peek(2);
        assert_eq!((b.len(), b.get(0), b.get(1)), (2, 10, 20));
        drop(b); // rolled back: still there
        assert_eq!(kernel.consumer().load(Ordering::Relaxed), 0);
        let b = comp.peek(8);
        assert_eq!(b.len(), 3);
        b.release();
        assert_eq!(kernel.consumer().load(Ordering::Relaxed), 3);
        assert_eq!(comp.peek(8).len(), 0);
    }

    #[test]
    fn indices_wrap_around_u32() {
        let _k = fake_munmap();
        let start = u32::MAX - 2;
        let kernel = KernelSide::<u64>::new(4);
        kernel.start_at(start);
        // SAFETY: as in `consumer_reads_in_order_and_releases_once`.
        let mut rx = unsafe { Consumer::<u64>::new(kernel.mapping(), &FAKE_OFF, 4) }.unwrap();
        let back = KernelSide::<u64>::new(4);
        back.start_at(start);
        // SAFETY: as in `producer_fills_to_size_then_reports_full`.
        let mut tx = unsafe { Producer::<u64>::new(back.mapping(), &FAKE_OFF, 4) }.unwrap();
        for round in 0..5u64 {
            kernel.produce(&[round, round + 100, round + 200]);
            let b = rx.peek(4);
            let got: Vec<u64> = (0..b.len()).map(|i| b.get(i)).collect();
            b.release();
            assert_eq!(got, vec![round, round + 100, round + 200]);
            let mut w = tx.reserve(4);
            assert_eq!(w.capacity(), 4, "round {round}: all slots free again");
            for g in got {
                w.push(g).unwrap();
            }
            w.commit();
            assert_eq!(back.consume(4), vec![round, round + 100, round + 200]);
        }
        assert!(kernel.producer().load(Ordering::Relaxed) < start, "wrapped");
        assert_eq!(
            kernel.producer().load(Ordering::Relaxed),
            start.wrapping_add(15)
        );
    }

    #[test]
    fn need_wakeup_follows_the_flag() {
        let _k = fake_munmap();
        let kernel = KernelSide::<u64>::new(4);
        // SAFETY: as in `producer_fills_to_size_then_reports_full`.
        let fill = unsafe { Producer::<u64>::new(kernel.mapping(), &FAKE_OFF, 4) }.unwrap();
        assert!(!fill.needs_wakeup());
        kernel.set_flags(XDP_RING_NEED_WAKEUP);
        assert!(fill.needs_wakeup());
    }

    #[test]
    fn bad_layouts_are_refused() {
        let _k = fake_munmap();
        let kernel = KernelSide::<u64>::new(4);
        // SAFETY: as in `producer_fills_to_size_then_reports_full`; the ring is refused before
        // any access.
        let r = unsafe { Producer::<u64>::new(kernel.mapping(), &FAKE_OFF, 64) };
        assert!(
            r.is_err(),
            "64 descriptors don't fit a 4-descriptor mapping"
        );
        let misaligned = RingOffset {
            consumer: 65,
            ..FAKE_OFF
        };
        // SAFETY: as above.
        let r = unsafe { Consumer::<u64>::new(kernel.mapping(), &misaligned, 4) };
        assert!(r.is_err(), "misaligned consumer index");
        // SAFETY: as above.
        let r = unsafe { Consumer::<u64>::new(kernel.mapping(), &FAKE_OFF, 3) };
        assert!(r.is_err(), "size not a power of two");
    }
}
