//! The `/metrics` endpoint: a tiny HTTP/1.1 responder on a [`TcpListener`], on its own thread
//! (`xdpflow-metrics`), one connection at a time. `GET /metrics` renders a scrape (`200`,
//! `text/plain; version=0.0.4`); any other request is a `404`, and bytes that are not an
//! HTTP/1.x request line a `400`. Reads and writes have timeouts, so a client that stalls
//! holds the endpoint for seconds at most; nothing a client sends can panic the thread.
//!
//! It does not do keep-alive, TLS or authentication: bind it to loopback (the default) or a
//! management network. An address that listens on every interface must be written out
//! (`0.0.0.0:9617`, `[::]:9617`) and is logged as a warning.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus::Registry;

use crate::error::Error;
use crate::pipeline::Counters;

/// How long a client may take to send its request or read the response.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest request head read (request line and headers).
const MAX_HEAD: usize = 8 * 1024;
/// After the response: how much of what the client still sends is read (and discarded), so
/// the close is a FIN, not a reset that could destroy the response in flight.
const MAX_DRAIN: usize = 64 * 1024;

/// The running endpoint. Dropping it stops serving (and joins its thread).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address served (the port the kernel chose when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let woken = TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok();
        if let Some(t) = self.thread.take()
            && woken
        {
            let _ = t.join();
        }
        // Not woken (cannot happen on a working stack): the thread ends at its next
        // connection, or with the process.
    }
}

/// Starts serving `/metrics` on `addr` (`ADDR:PORT`, a numeric address), reading `counters`
/// at each scrape.
///
/// # Errors
///
/// [`Error::InvalidOption`] (`--metrics`): a malformed address, one that would listen on
/// every address without saying so (`:9617`), or one that cannot be bound (in use, not an
/// address of this host, a privileged port), naming the address and the fix.
pub fn serve(addr: &str, counters: &Arc<Counters>) -> Result<MetricsServer, Error> {
    let invalid = |reason: String| Error::InvalidOption {
        option: "--metrics",
        reason,
    };
    let wanted = parse_addr(addr).map_err(invalid)?;
    let registry = super::registry(counters).map_err(|e| Error::Thread {
        thread: "xdpflow-metrics".into(),
        reason: format!("cannot register the metrics: {e}"),
    })?;
    let listener = TcpListener::bind(wanted).map_err(|e| invalid(bind_advice(wanted, &e)))?;
    let local = listener.local_addr().unwrap_or(wanted);
    if local.ip().is_unspecified() {
        tracing::warn!(
            message = "Metrics are served on every address of this host; anyone who can reach \
                       it can read them.",
            address = %local
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("xdpflow-metrics".into())
            .spawn(move || accept_loop(&listener, &registry, &stop))
            .map_err(|e| Error::Thread {
                thread: "xdpflow-metrics".into(),
                reason: format!("cannot spawn: {e}"),
            })?
    };
    tracing::info!(message = "Metrics served.", url = %format!("http://{local}/metrics"));
    Ok(MetricsServer {
        addr: local,
        stop,
        thread: Some(thread),
    })
}

/// `ADDR:PORT` with a numeric address; every-address forms only when written out.
fn parse_addr(spec: &str) -> Result<SocketAddr, String> {
    let spec = spec.trim();
    if let Some(port) = spec.strip_prefix(':').or_else(|| spec.strip_prefix("*:")) {
        return Err(format!(
            "`{spec}` names no address; write `127.0.0.1:{port}` (this host only) or, to \
             listen on every address, `0.0.0.0:{port}` or `[::]:{port}`"
        ));
    }
    spec.parse().map_err(|_| {
        format!(
            "`{spec}` is not ADDR:PORT with a numeric address (e.g. `127.0.0.1:9617`, \
             `[::1]:9617`); use `off` to serve no metrics"
        )
    })
}

/// Why `addr` cannot be bound, and what to do.
fn bind_advice(addr: SocketAddr, e: &io::Error) -> String {
    let fix = match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "the port is in use (another xdpflow?): choose a free one with `--metrics {}:PORT`, \
             or `--metrics off`",
            bracketed(addr)
        ),
        io::ErrorKind::AddrNotAvailable => {
            "no interface of this host has that address: use one it has (e.g. 127.0.0.1), or \
             `--metrics off`"
                .to_string()
        }
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need CAP_NET_BIND_SERVICE: choose a port ≥ 1024 (default 9617), \
             or `--metrics off`"
                .to_string()
        }
        _ => "choose another address with `--metrics ADDR:PORT`, or `--metrics off`".to_string(),
    };
    format!("cannot listen on {addr}: {e}; {fix}")
}

/// The address part of `addr` as written in `ADDR:PORT` (IPv6 in brackets).
fn bracketed(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}

fn accept_loop(listener: &TcpListener, registry: &Registry, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match conn {
            Ok(stream) => {
                // A failed exchange concerns that client only.
                let _ = respond(stream, registry);
            }
            Err(e) => {
                // Out of descriptors and the like: try again later, without spinning.
                tracing::warn!(message = "Accepting a metrics connection failed.", error = %e);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    BadRequest,
}

/// Routes a request head (the bytes up to the blank line, or all that came).
fn route(head: &[u8]) -> Route {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Route::BadRequest;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Route::BadRequest;
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if method == "GET" && path == "/metrics" {
        Route::Metrics
    } else {
        Route::NotFound
    }
}

/// Reads the request head: up to the blank line, the end of the stream, or [`MAX_HEAD`].
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while head.len() < MAX_HEAD {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    Ok(head)
}

fn respond(mut stream: TcpStream, registry: &Registry) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    if head.is_empty() {
        return Ok(()); // connected and left (or our own wake-up)
    }
    let (status, content_type, body) = match route(&head) {
        Route::Metrics => match super::scrape(registry) {
            Ok(text) => ("200 OK", prometheus::TEXT_FORMAT, text),
            Err(e) => (
                "500 Internal Server Error",
                "text/plain; charset=utf-8",
                format!("rendering the metrics failed: {e}\n"),
            ),
        },
        Route::NotFound => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: xdpflow serves GET /metrics\n".to_string(),
        ),
        Route::BadRequest => (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "bad request: expected an HTTP/1.x request line\n".to_string(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)?;
    // Read what the client may still send (a body, a pipelined request) until it closes.
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request).expect("request sent");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("response read");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\n\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"\x16\x03\x01\x02\x00\x01\x00"), Route::BadRequest); // TLS hello
        assert_eq!(route(b"GET /metrics\r\n"), Route::BadRequest); // HTTP/0.9
        assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"\xff\xfe / HTTP/1.1\r\n"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:9617").unwrap(),
            "127.0.0.1:9617".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_addr("[::1]:9617").is_ok());
        assert!(parse_addr("0.0.0.0:9617").is_ok(), "written out: allowed");
        let e = parse_addr(":9617").unwrap_err();
        assert!(
            e.contains("`127.0.0.1:9617`") && e.contains("`0.0.0.0:9617`"),
            "{e}"
        );
        assert!(parse_addr("*:9617").is_err());
        let e = parse_addr("localhost:9617").unwrap_err();
        assert!(e.contains("numeric") && e.contains("off"), "{e}");
        assert!(parse_addr("127.0.0.1").is_err());
    }

    #[test]
    fn serves_metrics_404s_the_rest_and_survives_garbage() {
        let counters = Arc::new(Counters::default());
        let server = serve("127.0.0.1:0", &counters).expect("serves");
        let addr = server.local_addr();
        let ok = get(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.contains("\n# HELP xdpflow_build_info "), "{ok}");
        let (_, body) = ok.split_once("\r\n\r\n").unwrap();
        assert!(ok.contains(&format!("Content-Length: {}\r\n", body.len())));

        assert!(get(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(get(addr, b"\x00\x01garbage\xff\r\n\r\n").starts_with("HTTP/1.1 400 "));
        // A head too long, one that never ends, and a client that leaves: the server goes on.
        let _ = get(addr, &vec![b'A'; 3 * MAX_HEAD]);
        drop(TcpStream::connect(addr).unwrap());
        {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /metr").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
        }
        let again = get(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
        assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");
        drop(server);
        assert!(
            TcpStream::connect(addr).is_err(),
            "dropping the server stops serving"
        );
    }

    #[test]
    fn a_port_in_use_is_named_with_the_fix() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = serve(&addr.to_string(), &Arc::new(Counters::default())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--metrics"), "{msg}");
        assert!(msg.contains(&addr.to_string()), "names the address: {msg}");
        assert!(
            msg.contains("--metrics 127.0.0.1:PORT") && msg.contains("off"),
            "gives the fix: {msg}"
        );
    }
}
