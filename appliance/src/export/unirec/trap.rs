//! TRAP framing and transport (`../shared/specs/unirec-trap.md` §2–4): the hello, containers
//! ("buffers") with their headers, and the output side of the `u:`, `t:` and `f:` interfaces —
//! a listening socket with non-blocking clients, or a file. Knows nothing about UniRec fields.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::export::SinkStats;

/// `data_type` of a UniRec hello.
pub const DATA_TYPE_UNIREC: u8 = 2;

/// Room in front of a container's payload for the largest header (libtrap ≥ 1.17).
pub const HEADER_ROOM: usize = 14;

/// The hello: `{u8 data_type; u32 spec_size}` as the C struct lies in memory (3 padding bytes,
/// sent as zeros; size big-endian), then the specifier without a NUL (§2).
pub fn hello(spec: &str) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + spec.len());
    h.extend_from_slice(&[DATA_TYPE_UNIREC, 0, 0, 0]);
    h.extend_from_slice(&(spec.len() as u32).to_be_bytes());
    h.extend_from_slice(spec.as_bytes());
    h
}

/// A container header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// libtrap ≥ 1.17 sockets: payload length (BE u32), seq_num (host u64), msg_count (host u16).
    V17,
    /// libtrap ≤ 1.16 sockets and every `f:` file: payload length (BE u32) only.
    Old,
}

impl Framing {
    fn len(self) -> usize {
        match self {
            Framing::V17 => 14,
            Framing::Old => 4,
        }
    }
}

/// The container being filled: header room, then `u16 BE length ‖ message` pairs.
#[derive(Debug)]
pub struct Container {
    buf: Vec<u8>,
    /// Messages in it.
    msgs: u16,
    /// Of those, records (not end-of-stream markers).
    records: u64,
    /// seq_num of its first message: messages sent on this interface before it.
    first_seq: u64,
    /// When its first message went in.
    started: Option<Instant>,
}

impl Container {
    /// An empty container able to hold `payload` bytes without growing.
    pub fn with_capacity(payload: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_ROOM + payload + u16::MAX as usize + 2);
        buf.resize(HEADER_ROOM, 0);
        Container {
            buf,
            msgs: 0,
            records: 0,
            first_seq: 0,
            started: None,
        }
    }

    /// Bytes of payload so far.
    pub fn payload_len(&self) -> usize {
        self.buf.len() - HEADER_ROOM
    }

    /// Messages so far.
    pub fn msgs(&self) -> u16 {
        self.msgs
    }

    /// Records so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// True when nothing is in it.
    pub fn is_empty(&self) -> bool {
        self.msgs == 0
    }

    /// When its first message went in.
    pub fn started(&self) -> Option<Instant> {
        self.started
    }

    /// Starts a message: returns its mark and the buffer to append the message bytes to.
    #[inline]
    pub fn begin(&mut self) -> (usize, &mut Vec<u8>) {
        let mark = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        (mark, &mut self.buf)
    }

    /// Drops the message started at `mark`.
    #[inline]
    pub fn cancel(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    /// Length of the message started at `mark` (so far).
    #[inline]
    pub fn pending_len(&self, mark: usize) -> usize {
        self.buf.len() - mark - 2
    }

    /// Completes the message started at `mark` (at most 65 535 bytes).
    #[inline]
    pub fn end(&mut self, mark: usize, is_record: bool) {
        let len = self.pending_len(mark);
        debug_assert!(len <= u16::MAX as usize);
        self.buf[mark..mark + 2].copy_from_slice(&(len as u16).to_be_bytes());
        self.msgs += 1;
        self.records += u64::from(is_record);
        self.started.get_or_insert_with(Instant::now);
    }

    /// The completed messages before `end` (a mark, or the whole buffer) with `framing`'s
    /// header in front, ready to send.
    pub fn framed(&mut self, end: usize, framing: Framing) -> &[u8] {
        let payload = (end - HEADER_ROOM) as u32;
        let start = HEADER_ROOM - framing.len();
        self.buf[start..start + 4].copy_from_slice(&payload.to_be_bytes());
        if framing == Framing::V17 {
            // seq_num and msg_count are in host order (LE on every platform we build for).
            self.buf[start + 4..start + 12].copy_from_slice(&self.first_seq.to_le_bytes());
            self.buf[start + 12..start + 14].copy_from_slice(&self.msgs.to_le_bytes());
        }
        &self.buf[start..end]
    }

    /// After the messages before `end` were sent: starts the next container, keeping the bytes
    /// from `end` on (a started message) at its front.
    pub fn restart(&mut self, end: usize) {
        self.first_seq += u64::from(self.msgs);
        self.msgs = 0;
        self.records = 0;
        self.started = None;
        self.buf.drain(HEADER_ROOM..end);
    }
}

/// Writes what the socket takes now. A short write is normal on a non-blocking socket; the
/// caller keeps the rest. A client that left gives `EPIPE` (the Rust runtime ignores SIGPIPE
/// before `main`), and is then removed.
#[allow(
    clippy::disallowed_methods,
    reason = "non-blocking socket: short writes are the point; the caller queues the rest"
)]
fn send_some(conn: &mut Conn, buf: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let r = match conn {
            Conn::Unix(s) => s.write(&buf[done..]),
            Conn::Tcp(s) => s.write(&buf[done..]),
        };
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// A connected input (client).
#[derive(Debug)]
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    /// True when the client has closed its end. Inputs never send on a data connection, so
    /// anything read is discarded.
    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            let r = match self {
                Conn::Unix(s) => s.read(&mut buf),
                Conn::Tcp(s) => s.read(&mut buf),
            };
            match r {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return e.kind() != io::ErrorKind::WouldBlock,
            }
        }
    }
}

/// One client with its bounded backlog: bytes accepted for it that its socket did not take yet.
#[derive(Debug)]
struct Client {
    conn: Conn,
    backlog: Vec<u8>,
    /// Bytes of `backlog` already sent.
    sent: usize,
}

/// What offering a container to a client did.
#[derive(Clone, Copy, Debug, Default)]
struct Offered {
    bytes: u64,
    dropped: u64,
}

impl Client {
    fn pending(&self) -> usize {
        self.backlog.len() - self.sent
    }

    /// Sends what it can of the backlog; `Err` when the client is gone.
    fn drain(&mut self) -> io::Result<u64> {
        if self.pending() == 0 {
            return Ok(0);
        }
        let n = send_some(&mut self.conn, &self.backlog[self.sent..])?;
        self.sent += n;
        if self.sent == self.backlog.len() {
            self.backlog.clear();
            self.sent = 0;
        }
        Ok(n as u64)
    }

    /// Queues `data` (a whole container or the hello) unless the backlog would pass `cap`,
    /// in which case the whole container is dropped — never part of one, so the stream stays
    /// framed. A client with an empty backlog always takes it.
    fn offer(&mut self, data: &[u8], records: u64, cap: usize) -> io::Result<Offered> {
        let mut bytes = self.drain()?;
        if self.pending() == 0 {
            let n = send_some(&mut self.conn, data)?;
            bytes += n as u64;
            self.backlog.extend_from_slice(&data[n..]);
            return Ok(Offered { bytes, dropped: 0 });
        }
        if self.pending() + data.len() > cap {
            return Ok(Offered {
                bytes,
                dropped: records,
            });
        }
        if self.sent > self.backlog.len() / 2 {
            self.backlog.drain(..self.sent);
            self.sent = 0;
        }
        self.backlog.extend_from_slice(data);
        Ok(Offered { bytes, dropped: 0 })
    }
}

/// The listening socket of a `u:` or `t:` output.
#[derive(Debug)]
enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// Inode of our socket file: on close we remove the path only if it is still ours.
        ino: u64,
    },
    Tcp(TcpListener),
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, ino, .. } = self
            && std::fs::symlink_metadata(&*path).is_ok_and(|m| m.ino() == *ino)
        {
            let _ = std::fs::remove_file(&*path);
        }
    }
}

/// Client bookkeeping the sink reports (see [`super::TrapCounters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCounters {
    /// Clients accepted.
    pub accepted: u64,
    /// Clients refused because `max_clients` were connected.
    pub refused: u64,
    /// Clients that left or failed.
    pub left: u64,
}

/// A `u:` or `t:` output: the listener, its clients, the hello they get first.
#[derive(Debug)]
pub struct Server {
    listener: Listener,
    clients: Vec<Client>,
    hello: Vec<u8>,
    max_clients: usize,
    client_buffer: usize,
    counters: ClientCounters,
    label: String,
}

/// How a bind failed, for the sink's error.
#[derive(Debug)]
pub struct BindError {
    /// What was attempted.
    pub action: &'static str,
    /// Why it failed.
    pub source: io::Error,
}

fn bind_err(action: &'static str) -> impl FnOnce(io::Error) -> BindError {
    move |source| BindError { action, source }
}

impl Server {
    /// Listens on `<dir>/trap-<name>.sock` (mode 0666), replacing a stale socket file but not
    /// a live one (another output answers on it) nor anything that is not a socket.
    ///
    /// # Errors
    ///
    /// The directory, the stale file or the bind.
    pub fn unix(
        path: &Path,
        hello: Vec<u8>,
        max_clients: usize,
        client_buffer: usize,
    ) -> Result<Self, BindError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bind_err("create socket directory"))?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(BindError {
                    action: "bind",
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket",
                    ),
                });
            }
            if UnixStream::connect(path).is_ok() {
                return Err(BindError {
                    action: "bind",
                    source: io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another TRAP output is listening on this socket",
                    ),
                });
            }
            std::fs::remove_file(path).map_err(bind_err("remove stale socket"))?;
        }
        let listener = UnixListener::bind(path).map_err(bind_err("bind"))?;
        let ino = std::fs::symlink_metadata(path)
            .map_err(bind_err("bind"))?
            .ino();
        let listener = Listener::Unix {
            listener,
            path: path.to_path_buf(),
            ino,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .map_err(bind_err("chmod"))?;
        if let Listener::Unix { listener, .. } = &listener {
            listener
                .set_nonblocking(true)
                .map_err(bind_err("set non-blocking"))?;
        }
        Ok(Self::with(
            listener,
            hello,
            max_clients,
            client_buffer,
            path.display().to_string(),
        ))
    }

    /// Listens on `addr` (SO_REUSEADDR, as std does on Unix).
    ///
    /// # Errors
    ///
    /// The bind.
    pub fn tcp(
        addr: SocketAddr,
        hello: Vec<u8>,
        max_clients: usize,
        client_buffer: usize,
    ) -> Result<Self, BindError> {
        let listener = TcpListener::bind(addr).map_err(bind_err("bind"))?;
        listener
            .set_nonblocking(true)
            .map_err(bind_err("set non-blocking"))?;
        Ok(Self::with(
            Listener::Tcp(listener),
            hello,
            max_clients,
            client_buffer,
            addr.to_string(),
        ))
    }

    fn with(
        listener: Listener,
        hello: Vec<u8>,
        max_clients: usize,
        client_buffer: usize,
        label: String,
    ) -> Self {
        Server {
            listener,
            clients: Vec::with_capacity(max_clients.min(64)),
            hello,
            max_clients,
            client_buffer,
            counters: ClientCounters::default(),
            label,
        }
    }

    /// The bound TCP address (`t:` with port 0 picks one).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    /// The socket file of a `u:` output.
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.listener {
            Listener::Unix { path, .. } => Some(path),
            Listener::Tcp(_) => None,
        }
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Client bookkeeping so far.
    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// Accepts every waiting client (each gets the hello first; over `max_clients` they are
    /// closed and counted), then moves what it can of every backlog. Never blocks.
    pub fn service(&mut self, stats: &mut SinkStats) {
        loop {
            let accepted = match &self.listener {
                Listener::Unix { listener, .. } => listener
                    .accept()
                    .map(|(s, _)| s.set_nonblocking(true).map(|()| Conn::Unix(s))),
                Listener::Tcp(listener) => listener.accept().map(|(s, _)| {
                    // Containers are large; a flushed partial one should leave at once.
                    let _ = s.set_nodelay(true);
                    s.set_nonblocking(true).map(|()| Conn::Tcp(s))
                }),
            };
            let conn = match accepted {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => {
                    stats.errors += 1;
                    tracing::warn!(
                        message = "TRAP client could not be set up.",
                        output = %self.label,
                        %error
                    );
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // EMFILE and the like: try again on the next call.
                    stats.errors += 1;
                    tracing::warn!(
                        message = "Accepting a TRAP client failed.",
                        output = %self.label,
                        %error
                    );
                    break;
                }
            };
            if self.clients.len() >= self.max_clients {
                self.reap();
            }
            if self.clients.len() >= self.max_clients {
                self.counters.refused += 1;
                stats.errors += 1;
                tracing::warn!(
                    message = "TRAP client refused: too many clients.",
                    output = %self.label,
                    max_clients = self.max_clients
                );
                continue; // dropping `conn` closes it
            }
            let mut client = Client {
                conn,
                backlog: Vec::new(),
                sent: 0,
            };
            match client.offer(&self.hello, 0, usize::MAX) {
                Ok(o) => {
                    stats.bytes += o.bytes;
                    self.counters.accepted += 1;
                    tracing::debug!(message = "TRAP client connected.", output = %self.label);
                    self.clients.push(client);
                }
                Err(_) => self.counters.left += 1,
            }
        }
        let mut i = 0;
        while i < self.clients.len() {
            match self.clients[i].drain() {
                Ok(n) => {
                    stats.bytes += n;
                    i += 1;
                }
                Err(_) => self.remove(i),
            }
        }
    }

    /// Removes clients that have closed their end (to make room for new ones).
    fn reap(&mut self) {
        let mut i = 0;
        while i < self.clients.len() {
            if self.clients[i].conn.is_closed() {
                self.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn remove(&mut self, i: usize) {
        self.clients.swap_remove(i);
        self.counters.left += 1;
        tracing::debug!(message = "TRAP client left.", output = %self.label);
    }

    /// Gives a framed container to every client; a client whose backlog is full loses it
    /// (its records are counted in `stats.dropped`).
    pub fn broadcast(&mut self, data: &[u8], records: u64, stats: &mut SinkStats) {
        let mut i = 0;
        while i < self.clients.len() {
            match self.clients[i].offer(data, records, self.client_buffer) {
                Ok(o) => {
                    stats.bytes += o.bytes;
                    stats.dropped += o.dropped;
                    i += 1;
                }
                Err(_) => self.remove(i),
            }
        }
    }

    /// At close: keeps sending backlogs until they are empty or `linger` has passed.
    pub fn linger(&mut self, linger: Duration, stats: &mut SinkStats) {
        let deadline = Instant::now() + linger;
        loop {
            self.service(stats);
            if self.clients.iter().all(|c| c.pending() == 0) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// An `f:` output: hello, then containers with the 4-byte header (§4).
#[derive(Debug)]
pub struct FileOut {
    path: PathBuf,
    file: File,
    hello: Vec<u8>,
}

impl FileOut {
    /// Creates (truncates) `path` and writes the hello.
    ///
    /// # Errors
    ///
    /// Create or write.
    pub fn create(path: &Path, hello: Vec<u8>) -> Result<(Self, u64), BindError> {
        let mut file = File::create(path).map_err(bind_err("create"))?;
        file.write_all(&hello).map_err(bind_err("write"))?;
        let n = hello.len() as u64;
        Ok((
            FileOut {
                path: path.to_path_buf(),
                file,
                hello,
            },
            n,
        ))
    }

    /// Appends a framed container.
    ///
    /// # Errors
    ///
    /// The write.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Reopens the path (log rotation): appends to it when it exists and is not empty (it then
    /// starts with our hello), otherwise starts it with the hello. Returns bytes written.
    ///
    /// # Errors
    ///
    /// Open or write.
    pub fn reopen(&mut self) -> Result<u64, BindError> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(bind_err("reopen"))?;
        let len = file.metadata().map_err(bind_err("reopen"))?.len();
        let mut n = 0;
        if len == 0 {
            file.write_all(&self.hello).map_err(bind_err("write"))?;
            n = self.hello.len() as u64;
        }
        self.file = file;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_the_padded_c_struct_then_the_spec() {
        let h = hello("uint8 A");
        assert_eq!(
            h,
            [
                2, // data_type UNIREC
                0, 0, 0, // struct padding
                0, 0, 0, 7, // spec_size, BE
                b'u', b'i', b'n', b't', b'8', b' ', b'A', // spec, no NUL
            ]
        );
    }

    #[test]
    fn headers_old_and_v17() {
        let mut c = Container::with_capacity(100);
        for m in [&b"abc"[..], &b"\x00"[..]] {
            let (mark, buf) = c.begin();
            buf.extend_from_slice(m);
            c.end(mark, m.len() > 1);
        }
        let end = HEADER_ROOM + c.payload_len();
        assert_eq!(
            c.framed(end, Framing::V17),
            [
                0, 0, 0, 8, // payload_len, BE
                0, 0, 0, 0, 0, 0, 0, 0, // seq_num 0, LE
                2, 0, // msg_count 2, LE
                0, 3, b'a', b'b', b'c', // message 1
                0, 1, 0, // end-of-stream marker
            ]
        );
        assert_eq!(
            c.framed(end, Framing::Old),
            [0, 0, 0, 8, 0, 3, b'a', b'b', b'c', 0, 1, 0]
        );
        assert_eq!(c.records(), 1);
        c.restart(end);
        let (mark, buf) = c.begin();
        buf.push(9);
        c.end(mark, true);
        let end = HEADER_ROOM + c.payload_len();
        assert_eq!(
            c.framed(end, Framing::V17),
            [
                0, 0, 0, 3, // payload_len
                2, 0, 0, 0, 0, 0, 0, 0, // seq_num 2: two messages went before
                1, 0, // msg_count
                0, 1, 9,
            ]
        );
    }

    #[test]
    fn restart_keeps_a_started_message() {
        let mut c = Container::with_capacity(100);
        let (mark, buf) = c.begin();
        buf.extend_from_slice(b"one");
        c.end(mark, true);
        let (mark, buf) = c.begin();
        buf.extend_from_slice(b"two");
        assert_eq!(
            c.framed(mark, Framing::Old),
            [0, 0, 0, 5, 0, 3, b'o', b'n', b'e']
        );
        c.restart(mark);
        c.end(HEADER_ROOM, true);
        let end = HEADER_ROOM + c.payload_len();
        assert_eq!(
            c.framed(end, Framing::Old),
            [0, 0, 0, 5, 0, 3, b't', b'w', b'o']
        );
    }
}
