//! The AF_XDP user-space ABI (`include/uapi/linux/if_xdp.h`) as `#[repr(C)]` structs with
//! fixed-width fields and checked sizes, plus the few constants `libc` does not carry.
//!
//! Structs the kernel reads (`setsockopt`, `bind`) are turned into bytes with `to_bytes`, structs
//! it writes (`getsockopt`) are read back with `from_bytes`: both are plain field-by-field
//! copies, so no `unsafe` transmutes are needed. Only [`XdpDesc`] and the `u64` UMEM addresses
//! are read and written in place, inside the mmapped rings (see `queue.rs`).
//!
//! This file does _not_ make system calls or know ring semantics.

// Constants `libc` 0.2 already has; re-exported so the ring code names one source.
pub(crate) use libc::{
    AF_XDP, SOL_XDP, XDP_COPY, XDP_MMAP_OFFSETS, XDP_OPTIONS, XDP_OPTIONS_ZEROCOPY,
    XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_RING_NEED_WAKEUP, XDP_RX_RING, XDP_STATISTICS,
    XDP_TX_RING, XDP_UMEM_COMPLETION_RING, XDP_UMEM_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING,
    XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_REG, XDP_USE_NEED_WAKEUP, XDP_ZEROCOPY,
};

/// Bytes the kernel reserves in front of every received frame (`XDP_PACKET_HEADROOM`,
/// `include/uapi/linux/bpf.h`); not in `libc`. An RX descriptor's `addr` points past it.
pub(crate) const XDP_PACKET_HEADROOM: u32 = 256;

/// The smallest chunk size the kernel accepts in aligned mode (`XDP_UMEM_MIN_CHUNK_SIZE`,
/// `net/xdp/xdp_umem.h`).
pub(crate) const XDP_UMEM_MIN_CHUNK_SIZE: u32 = 2048;

/// `struct sockaddr_xdp`: where `bind` attaches the socket.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SockaddrXdp {
    /// `AF_XDP`.
    pub family: u16,
    /// `XDP_COPY`, `XDP_ZEROCOPY`, `XDP_USE_NEED_WAKEUP`, ...
    pub flags: u16,
    /// Interface index.
    pub ifindex: u32,
    /// Queue of that interface.
    pub queue_id: u32,
    /// Only with `XDP_SHARED_UMEM`; unused here.
    pub shared_umem_fd: u32,
}
const _: () = assert!(size_of::<SockaddrXdp>() == 16);
const _: () = assert!(size_of::<SockaddrXdp>() == size_of::<libc::sockaddr_xdp>());

impl SockaddrXdp {
    /// The bytes `bind` takes.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&self.family.to_ne_bytes());
        b[2..4].copy_from_slice(&self.flags.to_ne_bytes());
        b[4..8].copy_from_slice(&self.ifindex.to_ne_bytes());
        b[8..12].copy_from_slice(&self.queue_id.to_ne_bytes());
        b[12..16].copy_from_slice(&self.shared_umem_fd.to_ne_bytes());
        b
    }
}

/// `struct xdp_umem_reg` in its current (5.x+) layout: the trailing `tx_metadata_len` fills
/// what was implicit padding in the 28-byte original, so the kernel sees no stray bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UmemReg {
    /// Start of the frame area (page aligned).
    pub addr: u64,
    /// Length of the frame area.
    pub len: u64,
    /// Frame size: a power of two in `2048..=PAGE_SIZE` (aligned mode).
    pub chunk_size: u32,
    /// Extra headroom on top of `XDP_PACKET_HEADROOM`; we use 0.
    pub headroom: u32,
    /// `XDP_UMEM_UNALIGNED_CHUNK_FLAG`, ...; we use 0.
    pub flags: u32,
    /// TX metadata in front of each TX frame; we use 0.
    pub tx_metadata_len: u32,
}
const _: () = assert!(size_of::<UmemReg>() == 32);
const _: () = assert!(size_of::<UmemReg>() == size_of::<libc::xdp_umem_reg>());

impl UmemReg {
    /// The bytes `setsockopt(XDP_UMEM_REG)` takes.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&self.addr.to_ne_bytes());
        b[8..16].copy_from_slice(&self.len.to_ne_bytes());
        b[16..20].copy_from_slice(&self.chunk_size.to_ne_bytes());
        b[20..24].copy_from_slice(&self.headroom.to_ne_bytes());
        b[24..28].copy_from_slice(&self.flags.to_ne_bytes());
        b[28..32].copy_from_slice(&self.tx_metadata_len.to_ne_bytes());
        b
    }
}

/// `struct xdp_ring_offset`: where, inside a ring's mapping, its parts are.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RingOffset {
    /// Offset of the `u32` producer index.
    pub producer: u64,
    /// Offset of the `u32` consumer index.
    pub consumer: u64,
    /// Offset of the descriptor array.
    pub desc: u64,
    /// Offset of the `u32` flags word (`XDP_RING_NEED_WAKEUP`).
    pub flags: u64,
}
const _: () = assert!(size_of::<RingOffset>() == 32);

/// `struct xdp_mmap_offsets`, as `getsockopt(XDP_MMAP_OFFSETS)` fills it since Linux 5.4
/// (the flags word came with need_wakeup).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MmapOffsets {
    /// RX ring.
    pub rx: RingOffset,
    /// TX ring.
    pub tx: RingOffset,
    /// FILL ring.
    pub fr: RingOffset,
    /// COMPLETION ring.
    pub cr: RingOffset,
}
/// `sizeof(struct xdp_mmap_offsets)`.
pub(crate) const MMAP_OFFSETS_LEN: usize = 128;
const _: () = assert!(size_of::<MmapOffsets>() == MMAP_OFFSETS_LEN);
const _: () = assert!(size_of::<MmapOffsets>() == size_of::<libc::xdp_mmap_offsets>());

impl MmapOffsets {
    /// Reads the kernel's answer.
    pub(crate) fn from_bytes(b: &[u8; MMAP_OFFSETS_LEN]) -> MmapOffsets {
        let ring = |at: usize| RingOffset {
            producer: u64_at(b, at),
            consumer: u64_at(b, at + 8),
            desc: u64_at(b, at + 16),
            flags: u64_at(b, at + 24),
        };
        MmapOffsets {
            rx: ring(0),
            tx: ring(32),
            fr: ring(64),
            cr: ring(96),
        }
    }

    /// The bytes of this struct, for the fake kernel of the unit tests.
    #[cfg(test)]
    pub(crate) fn to_bytes(self) -> [u8; MMAP_OFFSETS_LEN] {
        let mut b = [0u8; MMAP_OFFSETS_LEN];
        for (i, r) in [self.rx, self.tx, self.fr, self.cr].iter().enumerate() {
            for (j, v) in [r.producer, r.consumer, r.desc, r.flags].iter().enumerate() {
                let at = i * 32 + j * 8;
                b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
            }
        }
        b
    }
}

/// `struct xdp_statistics` (Linux 5.9+ layout; older kernels fill only the first three).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Statistics {
    /// Dropped for other reasons.
    pub rx_dropped: u64,
    /// Dropped because of an invalid descriptor.
    pub rx_invalid_descs: u64,
    /// TX descriptors the kernel rejected.
    pub tx_invalid_descs: u64,
    /// Dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the FILL ring had no frame for a packet.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was found empty.
    pub tx_ring_empty_descs: u64,
}
/// `sizeof(struct xdp_statistics)`.
pub(crate) const STATISTICS_LEN: usize = 48;
const _: () = assert!(size_of::<Statistics>() == STATISTICS_LEN);
const _: () = assert!(size_of::<Statistics>() == size_of::<libc::xdp_statistics>());

impl Statistics {
    /// Reads the first `len` bytes the kernel wrote; fields beyond them stay 0.
    pub(crate) fn from_bytes(b: &[u8; STATISTICS_LEN], len: usize) -> Statistics {
        let field = |i: usize| {
            if (i + 1) * 8 <= len {
                u64_at(b, i * 8)
            } else {
                0
            }
        };
        Statistics {
            rx_dropped: field(0),
            rx_invalid_descs: field(1),
            tx_invalid_descs: field(2),
            rx_ring_full: field(3),
            rx_fill_ring_empty_descs: field(4),
            tx_ring_empty_descs: field(5),
        }
    }
}

/// `struct xdp_desc`: one RX or TX descriptor, read and written in place in the ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct XdpDesc {
    /// Offset of the packet's first byte in the UMEM (frame base + headroom on RX).
    pub addr: u64,
    /// Packet length.
    pub len: u32,
    /// `XDP_PKT_CONTD` for multi-buffer packets; 0 here (we do not bind with `XDP_USE_SG`).
    pub options: u32,
}
const _: () = assert!(size_of::<XdpDesc>() == 16);
const _: () = assert!(size_of::<XdpDesc>() == size_of::<libc::xdp_desc>());

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_bytes_follow_the_c_layout() {
        let a = SockaddrXdp {
            family: 44,
            flags: 0x000a,
            ifindex: 7,
            queue_id: 3,
            shared_umem_fd: 0,
        };
        let b = a.to_bytes();
        assert_eq!(&b[0..2], &44u16.to_ne_bytes()); // sxdp_family
        assert_eq!(&b[2..4], &0x000au16.to_ne_bytes()); // sxdp_flags
        assert_eq!(&b[4..8], &7u32.to_ne_bytes()); // sxdp_ifindex
        assert_eq!(&b[8..12], &3u32.to_ne_bytes()); // sxdp_queue_id
        assert_eq!(&b[12..16], &[0; 4]); // sxdp_shared_umem_fd
    }

    #[test]
    fn umem_reg_bytes_follow_the_c_layout() {
        let b = UmemReg {
            addr: 0x1000,
            len: 0x20_0000,
            chunk_size: 2048,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        }
        .to_bytes();
        assert_eq!(&b[0..8], &0x1000u64.to_ne_bytes()); // addr
        assert_eq!(&b[8..16], &0x20_0000u64.to_ne_bytes()); // len
        assert_eq!(&b[16..20], &2048u32.to_ne_bytes()); // chunk_size
        assert_eq!(&b[20..32], &[0; 12]); // headroom, flags, tx_metadata_len
    }

    #[test]
    fn mmap_offsets_round_trip() {
        let o = MmapOffsets {
            rx: RingOffset {
                producer: 0,
                consumer: 64,
                desc: 128,
                flags: 4,
            },
            tx: RingOffset {
                producer: 1,
                consumer: 2,
                desc: 3,
                flags: 5,
            },
            fr: RingOffset {
                producer: 6,
                consumer: 7,
                desc: 8,
                flags: 9,
            },
            cr: RingOffset {
                producer: 10,
                consumer: 11,
                desc: 12,
                flags: 13,
            },
        };
        assert_eq!(MmapOffsets::from_bytes(&o.to_bytes()), o);
    }

    #[test]
    fn statistics_from_an_old_kernel_leave_new_fields_zero() {
        let mut b = [0u8; STATISTICS_LEN];
        for i in 0..6 {
            b[i * 8..i * 8 + 8].copy_from_slice(&(i as u64 + 1).to_ne_bytes());
        }
        let full = Statistics::from_bytes(&b, STATISTICS_LEN);
        assert_eq!(full.rx_dropped, 1);
        assert_eq!(full.tx_ring_empty_descs, 6);
        let v1 = Statistics::from_bytes(&b, 24); // struct xdp_statistics_v1
        assert_eq!(v1.tx_invalid_descs, 3);
        assert_eq!(v1.rx_ring_full, 0);
        assert_eq!(v1.tx_ring_empty_descs, 0);
    }
}
