//! The one door to the kernel for everything in `ring/`: every system call the rings, sockets and
//! NIC queries make goes through [`syscall`], so unit tests can swap the kernel out
//! (`override_syscall`, the shape of aya's `sys/mod.rs` + `sys/fake.rs`).
//!
//! This file does not know what the calls mean (AF_XDP, AF_PACKET, ethtool); the modules beside
//! it do. It only turns a [`Syscall`] into the libc call and the `-1`/`errno` convention into an
//! [`io::Error`].

use std::ffi::c_void;
use std::io;
use std::os::fd::RawFd;

/// One system call and its arguments. Buffers are borrowed for the duration of the call only.
#[derive(Debug)]
pub(crate) enum Syscall<'a> {
    /// `socket(domain, ty | SOCK_CLOEXEC, protocol)`; returns the new descriptor.
    Socket { domain: i32, ty: i32, protocol: i32 },
    /// `setsockopt(fd, level, name, value, value.len())`.
    SetSockOpt {
        fd: RawFd,
        level: i32,
        name: i32,
        value: &'a [u8],
    },
    /// `getsockopt(fd, level, name, value, &len)`; returns the length the kernel wrote.
    GetSockOpt {
        fd: RawFd,
        level: i32,
        name: i32,
        value: &'a mut [u8],
    },
    /// `bind(fd, addr, addr.len())`; `addr` holds a complete `sockaddr_*`.
    Bind { fd: RawFd, addr: &'a [u8] },
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, offset)`; returns the address.
    /// `fd = -1` with `MAP_ANONYMOUS` in `flags` for plain memory.
    Mmap {
        len: usize,
        flags: i32,
        fd: RawFd,
        offset: i64,
    },
    /// `munmap(addr, len)` of a mapping made by [`Syscall::Mmap`].
    Munmap { addr: *mut c_void, len: usize },
    /// `poll(fds, fds.len(), timeout_ms)`; returns how many descriptors are ready.
    Poll {
        fds: &'a mut [libc::pollfd],
        timeout_ms: i32,
    },
    /// `sendto(fd, NULL, 0, flags, NULL, 0)`: the AF_XDP TX kick.
    Kick { fd: RawFd, flags: i32 },
    /// `recvfrom(fd, NULL, 0, flags, NULL, NULL)`: the AF_XDP RX / FILL wake-up.
    Wake { fd: RawFd, flags: i32 },
    /// `ioctl(fd, request, arg)` where `arg` points into a buffer owned by the caller that has
    /// the layout `request` expects (e.g. `struct ifreq` for `SIOCETHTOOL`).
    Ioctl {
        fd: RawFd,
        request: u64,
        arg: *mut c_void,
    },
    /// `setns(fd, nstype)`: move the calling thread into a namespace.
    SetNs { fd: RawFd, nstype: i32 },
    /// `close(fd)`.
    Close { fd: RawFd },
}

/// Makes the call and returns its non-negative result, or the `errno` as an [`io::Error`].
///
/// # Safety
///
/// The caller owes what the underlying call needs beyond what the borrow checker sees: for
/// `Munmap`, `addr`/`len` name a live mapping that nothing uses afterwards; for `Ioctl`, `arg`
/// points to a writable buffer of the layout `request` expects and outlives the call; for
/// `Close`, `fd` is owned by the caller and not used afterwards.
pub(crate) unsafe fn syscall(call: Syscall<'_>) -> io::Result<i64> {
    #[cfg(test)]
    let mut call = call;
    #[cfg(test)]
    if let Some(result) = fake::intercept(&mut call) {
        return result;
    }
    // SAFETY: each arm passes pointers derived from live borrows (valid for the call's
    // duration) with their exact lengths; what the borrows cannot show (raw addresses and
    // descriptors) the caller vouched for in the function contract above.
    let ret: i64 = unsafe {
        match call {
            Syscall::Socket {
                domain,
                ty,
                protocol,
            } => i64::from(libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol)),
            Syscall::SetSockOpt {
                fd,
                level,
                name,
                value,
            } => i64::from(libc::setsockopt(
                fd,
                level,
                name,
                value.as_ptr().cast(),
                socklen(value.len()),
            )),
            Syscall::GetSockOpt {
                fd,
                level,
                name,
                value,
            } => {
                let mut len = socklen(value.len());
                let r = libc::getsockopt(fd, level, name, value.as_mut_ptr().cast(), &mut len);
                if r == 0 { i64::from(len) } else { i64::from(r) }
            }
            Syscall::Bind { fd, addr } => {
                i64::from(libc::bind(fd, addr.as_ptr().cast(), socklen(addr.len())))
            }
            Syscall::Mmap {
                len,
                flags,
                fd,
                offset,
            } => {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    flags,
                    fd,
                    offset,
                );
                if p == libc::MAP_FAILED { -1 } else { p as i64 }
            }
            Syscall::Munmap { addr, len } => i64::from(libc::munmap(addr, len)),
            Syscall::Poll { fds, timeout_ms } => i64::from(libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                timeout_ms,
            )),
            Syscall::Kick { fd, flags } => {
                libc::sendto(fd, std::ptr::null(), 0, flags, std::ptr::null(), 0) as i64
            }
            Syscall::Wake { fd, flags } => libc::recvfrom(
                fd,
                std::ptr::null_mut(),
                0,
                flags,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ) as i64,
            Syscall::Ioctl { fd, request, arg } => {
                i64::from(libc::ioctl(fd, request as libc::Ioctl, arg))
            }
            Syscall::SetNs { fd, nstype } => i64::from(libc::setns(fd, nstype)),
            Syscall::Close { fd } => i64::from(libc::close(fd)),
        }
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn socklen(n: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(n).unwrap_or(libc::socklen_t::MAX)
}

#[cfg(test)]
pub(crate) use fake::override_syscall;

#[cfg(test)]
mod fake {
    //! Per-thread replacement of the kernel for unit tests.

    use super::Syscall;
    use std::cell::RefCell;
    use std::io;

    type Hook = Box<dyn FnMut(&mut Syscall<'_>) -> Option<io::Result<i64>>>;

    thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Routes this thread's calls to `hook` until the returned guard drops. The hook answers
    /// `Some(result)` for calls it fakes and `None` to let a call reach the kernel. It gets the
    /// call mutably, so a fake `GetSockOpt` writes into the caller's buffer through the borrow.
    pub(crate) fn override_syscall(
        hook: impl FnMut(&mut Syscall<'_>) -> Option<io::Result<i64>> + 'static,
    ) -> Guard {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
        Guard(())
    }

    /// Removes the hook on drop.
    #[derive(Debug)]
    pub(crate) struct Guard(());

    impl Drop for Guard {
        fn drop(&mut self) {
            HOOK.with(|h| *h.borrow_mut() = None);
        }
    }

    pub(super) fn intercept(call: &mut Syscall<'_>) -> Option<io::Result<i64>> {
        HOOK.with(|h| h.borrow_mut().as_mut().and_then(|hook| hook(call)))
    }
}
