//! Read-only `ioctl` queries about one network interface, made on a throw-away `AF_INET`
//! datagram socket in the calling thread's network namespace: its index (`SIOCGIFINDEX`) and,
//! through `SIOCETHTOOL`, its channel counts (`ETHTOOL_GCHANNELS`) and RSS hash key
//! (`ETHTOOL_GRSSH`). It also owns [`Socket`], the descriptor guard the AF_PACKET ring uses.
//!
//! It never changes a NIC setting (`deploy/nic-setup.sh` does, with the `ethtool` tool), and it
//! does not judge what it reads (whether a key is symmetric is [`crate::nic`]'s business; that
//! module is also the safe public API over this one).
//!
//! Why `ioctl` and not `/sys/class/net`: sysfs shows the network namespace that mounted it, not
//! the one the calling thread entered with `setns`, so a worker (or a test) inside a namespace
//! would look up the wrong interface there. A socket lives in the thread's namespace.
//!
//! The ethtool structs are not in `libc`; they mirror `include/uapi/linux/ethtool.h` with size
//! asserts.

use std::ffi::{c_char, c_void};
use std::io;
use std::os::fd::RawFd;

use super::sys::{Syscall, syscall};
use crate::Error;

/// `ETHTOOL_GCHANNELS`: get channel counts (`include/uapi/linux/ethtool.h`).
const ETHTOOL_GCHANNELS: u32 = 0x3c;
/// `ETHTOOL_GRSSH`: get the RSS indirection table and hash key.
const ETHTOOL_GRSSH: u32 = 0x46;

/// `struct ethtool_channels`.
#[allow(
    dead_code,
    reason = "mirrors the uapi struct; the kernel writes fields we do not read"
)]
#[repr(C)]
#[derive(Debug, Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}
const _: () = assert!(size_of::<EthtoolChannels>() == 36);

/// `struct ethtool_rxfh` without its trailing `rss_config[]` (indirection table, then key).
#[allow(
    dead_code,
    reason = "mirrors the uapi struct; the kernel writes fields we do not read"
)]
#[repr(C)]
#[derive(Debug, Default)]
struct EthtoolRxfh {
    cmd: u32,
    rss_context: u32,
    indir_size: u32,
    key_size: u32,
    hfunc: u8,
    input_xfrm: u8,
    rsvd8: [u8; 2],
    rsvd32: u32,
}
const _: () = assert!(size_of::<EthtoolRxfh>() == 24);
/// `ethtool_rxfh` in 32-bit words: where `rss_config[]` starts in a word buffer.
const RXFH_HEADER_WORDS: usize = size_of::<EthtoolRxfh>() / 4;

/// A socket descriptor, closed (through [`syscall`]) on drop.
#[derive(Debug)]
pub(super) struct Socket(RawFd);

impl Socket {
    /// `socket(domain, ty | SOCK_CLOEXEC, protocol)`.
    pub(super) fn open(domain: i32, ty: i32, protocol: i32) -> io::Result<Socket> {
        // SAFETY: `Socket` passes no pointer and closes nothing; it only creates a descriptor,
        // which the returned guard owns.
        let fd = unsafe {
            syscall(Syscall::Socket {
                domain,
                ty,
                protocol,
            })
        }?;
        RawFd::try_from(fd)
            .map(Socket)
            .map_err(|_| io::Error::other("socket() returned an out-of-range descriptor"))
    }

    /// The descriptor, for calls made while `self` is alive.
    pub(super) fn raw(&self) -> RawFd {
        self.0
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: this guard owns the descriptor and nothing uses it after the drop.
        let _ = unsafe { syscall(Syscall::Close { fd: self.0 }) };
    }
}

/// Index of `iface` in the calling thread's network namespace.
///
/// # Errors
///
/// [`Error::NoSuchInterface`] when there is none (including names no interface can have:
/// empty, 16 bytes or longer, or holding a NUL); [`Error::Io`] when the query socket cannot be
/// made.
pub(crate) fn if_index(iface: &str) -> Result<u32, Error> {
    let sock = query_socket(iface)?;
    let mut req = ifreq(iface)?;
    // SAFETY: `req` is a live, writable `struct ifreq`, the argument SIOCGIFINDEX expects; the
    // kernel writes only `ifr_ifindex` inside it.
    unsafe { ioctl(&sock, libc::SIOCGIFINDEX, &mut req) }.map_err(|e| {
        io_error(
            e,
            iface,
            format!("looking up the index of `{iface}` (SIOCGIFINDEX)"),
        )
    })?;
    // SAFETY: SIOCGIFINDEX succeeded, so the kernel stored the index in the `ifru_ifindex`
    // member of the union (and the union was zeroed before, so every member is initialised).
    let index = unsafe { req.ifr_ifru.ifru_ifindex };
    u32::try_from(index).map_err(|_| Error::NoSuchInterface {
        iface: iface.to_owned(),
    })
}

/// Channel counts of a NIC, as `ethtool -l` shows them under "Current hardware settings".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Channels {
    /// RX-only channels.
    pub(crate) rx: u32,
    /// TX-only channels.
    pub(crate) tx: u32,
    /// Combined (RX + TX) channels, what most multi-queue NICs use.
    pub(crate) combined: u32,
}

/// The channel counts of `iface`, or `None` when its driver does not report them.
///
/// # Errors
///
/// [`Error::NoSuchInterface`]; [`Error::Io`] for any other failure.
pub(crate) fn channels(iface: &str) -> Result<Option<Channels>, Error> {
    let sock = query_socket(iface)?;
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..EthtoolChannels::default()
    };
    // SAFETY: `ch` is a live, writable `struct ethtool_channels` with `cmd` set to
    // ETHTOOL_GCHANNELS, which makes the kernel write exactly that struct.
    let r = unsafe { ethtool(&sock, iface, (&raw mut ch).cast()) };
    match r {
        Ok(()) => Ok(Some(Channels {
            rx: ch.rx_count,
            tx: ch.tx_count,
            combined: ch.combined_count,
        })),
        Err(e) if is_unsupported(&e) => Ok(None),
        Err(e) => Err(io_error(
            e,
            iface,
            format!("reading the channel counts of `{iface}` (ETHTOOL_GCHANNELS)"),
        )),
    }
}

/// The RSS hash key of `iface`, or `None` when the driver has no RSS or does not report a key
/// (veth, most virtual NICs).
///
/// # Errors
///
/// [`Error::NoSuchInterface`]; [`Error::Io`] for any other failure.
pub(crate) fn rss_key(iface: &str) -> Result<Option<Vec<u8>>, Error> {
    let what = || format!("reading the RSS hash key of `{iface}` (ETHTOOL_GRSSH)");
    let sock = query_socket(iface)?;
    // First call with both sizes 0: the kernel only reports the sizes (`ethtool_get_rxfh`).
    let mut sizes = EthtoolRxfh {
        cmd: ETHTOOL_GRSSH,
        ..EthtoolRxfh::default()
    };
    // SAFETY: `sizes` is a live, writable `struct ethtool_rxfh` with both sizes 0, so the
    // kernel writes back only that header, never `rss_config[]` after it.
    match unsafe { ethtool(&sock, iface, (&raw mut sizes).cast()) } {
        Ok(()) => {}
        Err(e) if is_unsupported(&e) => return Ok(None),
        Err(e) => return Err(io_error(e, iface, what())),
    }
    if sizes.key_size == 0 {
        return Ok(None);
    }
    // Second call asks for the key only (`indir_size` 0): the kernel then copies `key_size`
    // bytes to `rss_config[0..]`. A buffer of u32 words keeps the header aligned.
    let key_len = sizes.key_size as usize;
    let mut words = vec![0u32; RXFH_HEADER_WORDS + key_len.div_ceil(4)];
    words[0] = ETHTOOL_GRSSH;
    words[3] = sizes.key_size; // key_size; rss_context, indir_size and the reserved words stay 0
    // SAFETY: `words` is a live, writable buffer of the `ethtool_rxfh` header followed by at
    // least `key_size` bytes, which is all the kernel writes for these sizes.
    match unsafe { ethtool(&sock, iface, words.as_mut_ptr().cast()) } {
        Ok(()) => {}
        Err(e) if is_unsupported(&e) => return Ok(None),
        Err(e) => return Err(io_error(e, iface, what())),
    }
    let key: Vec<u8> = words[RXFH_HEADER_WORDS..]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .take(key_len)
        .collect();
    Ok(Some(key))
}

/// The socket the queries go through. Any family works for these ioctls; `AF_INET` datagram
/// is what the `ethtool` tool uses and needs no capability.
fn query_socket(iface: &str) -> Result<Socket, Error> {
    Socket::open(libc::AF_INET, libc::SOCK_DGRAM, 0).map_err(|source| Error::Io {
        what: format!("opening a socket to query `{iface}`"),
        source,
    })
}

/// A zeroed `struct ifreq` naming `iface`.
fn ifreq(iface: &str) -> Result<libc::ifreq, Error> {
    let name = iface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        // The kernel's own limit (dev_valid_name): such an interface cannot exist.
        return Err(Error::NoSuchInterface {
            iface: iface.to_owned(),
        });
    }
    // SAFETY: `ifreq` is a name array and a union of integers, sockaddrs, arrays and a raw
    // pointer: all-zero bytes are a valid value of every member.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name) {
        *dst = *src as c_char;
    }
    Ok(req)
}

/// `ioctl(sock, request, req)`.
///
/// # Safety
///
/// `request` must expect a `struct ifreq`, and whatever `req.ifr_ifru.ifru_data` points to (if
/// `request` uses it) must be valid for what the kernel reads and writes there.
unsafe fn ioctl(sock: &Socket, request: u64, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: `req` is a live, writable `ifreq` for the whole call; the caller vouches for
    // `request` and for the buffer `ifru_data` may point to.
    unsafe {
        syscall(Syscall::Ioctl {
            fd: sock.raw(),
            request,
            arg: (req as *mut libc::ifreq).cast(),
        })
    }
    .map(|_| ())
}

/// `SIOCETHTOOL` on `iface` with the ethtool command buffer `data`.
///
/// # Safety
///
/// `data` must point to a live, writable buffer that starts with an ethtool command word and is
/// at least as large as what the kernel reads and writes for that command.
unsafe fn ethtool(sock: &Socket, iface: &str, data: *mut c_void) -> Result<(), io::Error> {
    let mut req = ifreq(iface).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    req.ifr_ifru.ifru_data = data.cast();
    // SAFETY: SIOCETHTOOL takes a `struct ifreq` whose `ifru_data` points to the command
    // buffer; the caller vouches for that buffer, and `req` lives across the call.
    unsafe { ioctl(sock, libc::SIOCETHTOOL, &mut req) }
}

/// The driver does not implement the query.
fn is_unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// `ENODEV` means the interface is gone; anything else is reported with `what`.
fn io_error(source: io::Error, iface: &str, what: String) -> Error {
    if source.raw_os_error() == Some(libc::ENODEV) {
        Error::NoSuchInterface {
            iface: iface.to_owned(),
        }
    } else {
        Error::Io { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_no_rss() {
        // `lo` exists in every network namespace; the queries need no capability.
        let index = if_index("lo").expect("lo has an index");
        assert!(index > 0);
        assert_eq!(rss_key("lo").expect("GRSSH on lo"), None);
    }

    #[test]
    fn impossible_names_are_no_such_interface() {
        for name in ["", "abcdefghijklmnop", "a\0b", "xfnope-404"] {
            match if_index(name) {
                Err(Error::NoSuchInterface { iface }) => assert_eq!(iface, name),
                other => panic!("{name:?}: {other:?}"),
            }
            assert!(matches!(channels(name), Err(Error::NoSuchInterface { .. })));
            assert!(matches!(rss_key(name), Err(Error::NoSuchInterface { .. })));
        }
    }
}
