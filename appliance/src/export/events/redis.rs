//! A live view of current flows in Redis (`--redis redis://HOST:PORT[/DB]`): a [`FlowAdaptor`]
//! that writes each lifecycle event as a Redis command, pipelined: the commands of one batch
//! are written at once and their replies read back, one round trip per batch (at most
//! [`PIPELINE_MAX`] commands per round trip). It runs on its own sink thread (through
//! [`AdaptorSink`](super::AdaptorSink)) over one synchronous connection.
//!
//! This module owns the layout of flows in Redis, the connection and its retry schedule. It
//! does not decide when events happen (`flow::shard`: insert at a flow's first packet, update
//! every N packets or T seconds, remove with the final record) nor what a record holds (the
//! NDJSON record of `export::json`, without its newline).
//!
//! # Layouts (`--redis-layout`)
//!
//! Keys start with `--redis-prefix` (default `xdpflow`); `<flow key>` is the flow key of
//! [`super`] (`PROTO|SRC_IP|SRC_PORT|DST_IP|DST_PORT|VLAN|TUNNEL`); values are JSON records.
//!
//! **`hash`** (default): one hash per transport, `<prefix>:flows:tcp`, `:udp`, `:icmp` (ICMP and
//! ICMPv6) and `:other`; the field is the flow key. Insert and update: `HSET`. Remove: `HDEL` —
//! the hash holds exactly the flows that are running.
//!
//! ```text
//! $ redis-cli HLEN xdpflow:flows:udp
//! (integer) 2
//! $ redis-cli HGETALL xdpflow:flows:udp
//! 1) "17|198.18.0.1|51234|198.18.0.53|53|0|0"
//! 2) "{\"id\":4,\"expiration_id\":-1,...,\"bidirectional_packets\":16,...}"
//! 3) "17|198.18.0.7|40000|198.18.0.9|123|0|0"
//! 4) "{\"id\":9,...}"
//! ```
//!
//! **`keys`**: one string key per flow, `<prefix>:flow:<flow key>`. Insert and update: `SET`,
//! without expiry while the flow runs. Remove: `SET ... EX <--redis-ttl>` (default 300 s) with
//! the final record, so consumers can still read how a flow ended until it expires.
//!
//! ```text
//! $ redis-cli --scan --pattern 'xdpflow:flow:*'
//! xdpflow:flow:6|198.18.0.1|51234|198.18.0.2|443|0|0
//! $ redis-cli GET 'xdpflow:flow:6|198.18.0.1|51234|198.18.0.2|443|0|0'
//! "{\"id\":2,...,\"end_reason\":\"end\",...}"
//! $ redis-cli TTL 'xdpflow:flow:6|198.18.0.1|51234|198.18.0.2|443|0|0'
//! (integer) 297
//! ```
//!
//! With either layout, `--redis-publish CHANNEL` also publishes every remove:
//! `PUBLISH CHANNEL {"event":"remove","key":"<flow key>","record":{...}}` (the line format of
//! `--events`), for consumers that want ended flows pushed to them (`redis-cli SUBSCRIBE
//! CHANNEL`). Like every Redis publish, a message sent while no one listens is lost.
//!
//! # When Redis is away
//!
//! Redis being down is never an error of the run (neither at start nor later): the adaptor
//! connects at start, and any failure — refused or timed-out connect (1 s), a send or a reply
//! that fails or takes over 1 s — drops the connection and counts one error. While there is
//! no connection every event is dropped and counted (`dropped`, per event), and a reconnect is
//! tried at the next event once a backoff has passed (100 ms, doubling to 5 s; reset by a
//! working connection). So a batch holds the sink thread for at most about 3 s (a connect, a
//! stalled send and a missing reply, 1 s each; name resolution aside), and capture goes on. The events of a round trip that failed are counted as dropped from the first
//! command whose reply did not arrive (Redis may still have applied some of them). A command
//! Redis refuses (`WRONGTYPE` when something else owns a key, `OOM` at `maxmemory`) drops its
//! event and counts one error per round trip; the connection is kept.
//!
//! A live view is rebuilt after an outage by the next updates: a running flow reappears at its
//! next update (or its remove). Flows whose remove was dropped stay in the hash (or, `keys`,
//! without expiry) until the same flow key is used again; consumers can tell them by their
//! `bidirectional_last_seen_ms`. Logs: one warning when the connection is lost or a connect
//! fails, one info line when it is back, never one per event.
//!
//! # Counters
//!
//! `bytes` of commands written to Redis, `dropped` events, recovered `errors` (failed connects,
//! lost connections, round trips with refused commands).

use std::fmt;
use std::time::{Duration, Instant};

use redis::{Cmd, Connection, IntoConnectionInfo, Value};

use super::FlowAdaptor;
use crate::error::Error;
use crate::export::SinkStats;
use crate::export::backoff::Backoff;
use crate::export::json::encode_record;
use crate::flow::FlowRecord;

/// Longest wait for a connect, handshake included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for a send to make progress, or for the next reply.
const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// Commands per round trip: a larger batch is sent in several round trips, which bounds the
/// buffer and the time of one round trip.
pub const PIPELINE_MAX: usize = 1024;

/// The accepted form of `--redis`, for errors and help.
const URL_FORM: &str = "expected `redis://HOST[:PORT][/DB]` (port 6379 and DB 0 by default; \
                        a password as `redis://:PASSWORD@HOST:PORT`)";

/// How flows are laid out in Redis (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// A hash per transport; field = flow key; removed flows are deleted.
    #[default]
    Hash,
    /// A key per flow; removed flows are kept with a TTL.
    Keys,
}

/// Settings of the Redis adaptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://HOST[:PORT][/DB]`.
    pub url: String,
    /// Where flows go.
    pub layout: Layout,
    /// Start of every key (`xdpflow`).
    pub prefix: String,
    /// `keys` layout: seconds an ended flow's final record is kept (at least 1).
    pub ttl_secs: u64,
    /// Publish every remove on this channel.
    pub publish: Option<String>,
}

impl RedisConfig {
    /// `url` with the defaults: `hash` layout, prefix `xdpflow`, TTL 300 s, no publish.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            layout: Layout::Hash,
            prefix: "xdpflow".to_string(),
            ttl_secs: 300,
            publish: None,
        }
    }
}

/// Checks a `--redis` URL without connecting; returns the client and the address to log
/// (`HOST:PORT/DB`, never the password).
///
/// # Errors
///
/// [`Error::SinkSpec`] naming the URL (password hidden) and the accepted form.
pub fn parse_url(url: &str) -> Result<(redis::Client, String), Error> {
    let bad = |reason: String| Error::SinkSpec {
        sink: "redis",
        spec: redact(url),
        reason,
    };
    if url.starts_with("rediss://") {
        return Err(bad(format!(
            "TLS is not supported (use a local TLS proxy such as stunnel); {URL_FORM}"
        )));
    }
    if !url.starts_with("redis://") {
        return Err(bad(URL_FORM.to_string()));
    }
    let info = url
        .into_connection_info()
        .map_err(|e| bad(format!("{e}; {URL_FORM}")))?;
    let db = info.redis_settings().db();
    if db < 0 {
        return Err(bad(format!("database {db} is negative; {URL_FORM}")));
    }
    let target = match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) if host.contains(':') => {
            format!("[{host}]:{port}/{db}")
        }
        addr => format!("{addr}/{db}"),
    };
    let client = redis::Client::open(info).map_err(|e| bad(format!("{e}; {URL_FORM}")))?;
    Ok((client, target))
}

/// `url` with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Commands waiting for the next round trip, packed in Redis's wire format.
#[derive(Debug, Default)]
struct Pipeline {
    /// Scratch command (cleared and reused: no allocation per command once warm).
    cmd: Cmd,
    /// The packed commands.
    packed: Vec<u8>,
    /// For each packed command, the sequence number of its event.
    owners: Vec<u64>,
}

impl Pipeline {
    fn push(&mut self, event: u64, args: &[&[u8]]) {
        self.cmd.clear();
        for a in args {
            self.cmd.arg(*a);
        }
        self.cmd.write_packed_command(&mut self.packed);
        self.owners.push(event);
    }

    fn clear(&mut self) {
        self.packed.clear();
        self.owners.clear();
    }

    /// Distinct events among the commands from `from` on.
    fn events_from(&self, from: usize) -> u64 {
        match (self.owners.get(from), self.owners.last()) {
            (Some(first), Some(last)) => last - first + 1,
            _ => 0,
        }
    }
}

/// How a round trip went.
#[derive(Debug, Default, PartialEq, Eq)]
struct RoundTrip {
    /// The commands were written out.
    sent: bool,
    /// Replies read (in command order).
    replies: usize,
    /// Events with at least one refused command.
    refused_events: u64,
    /// The first refusal, for the log.
    refusal: Option<String>,
    /// The event of the last refused command.
    last_refused: Option<u64>,
    /// The connection failed after `replies` replies.
    lost: Option<String>,
}

/// Writes flow lifecycle events to Redis (see the module docs).
pub struct RedisAdaptor {
    client: redis::Client,
    /// `HOST:PORT/DB`, for logs.
    target: String,
    layout: Layout,
    /// `keys` layout: `<prefix>:flow:`.
    key_prefix: Vec<u8>,
    /// `hash` layout: the hashes of tcp, udp, icmp, other.
    hashes: [Vec<u8>; 4],
    /// `--redis-ttl` as a decimal string.
    ttl: Vec<u8>,
    publish: Option<Vec<u8>>,
    con: Option<Connection>,
    backoff: Backoff,
    /// Redis is known to be away (log the first failure of a streak only).
    away: bool,
    /// Events dropped since the connection was lost (for the reconnect log).
    dropped_away: u64,
    /// The last round trip had refused commands (log the first of a streak only).
    refusing: bool,
    /// Connections made (the first one included).
    connects: u64,
    /// Sequence number of the next event.
    seq: u64,
    pipe: Pipeline,
    key: Vec<u8>,
    record: Vec<u8>,
    message: Vec<u8>,
    stats: SinkStats,
}

impl fmt::Debug for RedisAdaptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdaptor")
            .field("target", &self.target)
            .field("layout", &self.layout)
            .field("connected", &self.con.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RedisAdaptor {
    /// Checks `cfg` and tries to connect once. Redis being unreachable is not an error: it is
    /// logged and counted, events are dropped until a reconnect succeeds.
    ///
    /// # Errors
    ///
    /// [`Error::SinkSpec`] for a malformed URL, an empty prefix or a zero TTL.
    pub fn connect(cfg: RedisConfig) -> Result<Self, Error> {
        let (client, target) = parse_url(&cfg.url)?;
        let bad = |reason: &str| Error::SinkSpec {
            sink: "redis",
            spec: redact(&cfg.url),
            reason: reason.to_string(),
        };
        if cfg.prefix.is_empty() {
            return Err(bad("the key prefix (--redis-prefix) is empty"));
        }
        if cfg.ttl_secs == 0 {
            return Err(bad(
                "the TTL of ended flows (--redis-ttl) must be at least 1 second",
            ));
        }
        if cfg.publish.as_deref() == Some("") {
            return Err(bad("the channel name (--redis-publish) is empty"));
        }
        let hash = |t: &str| format!("{}:flows:{t}", cfg.prefix).into_bytes();
        let mut a = RedisAdaptor {
            client,
            target,
            layout: cfg.layout,
            key_prefix: format!("{}:flow:", cfg.prefix).into_bytes(),
            hashes: [hash("tcp"), hash("udp"), hash("icmp"), hash("other")],
            ttl: cfg.ttl_secs.to_string().into_bytes(),
            publish: cfg.publish.map(String::into_bytes),
            con: None,
            backoff: Backoff::new(Instant::now()),
            away: false,
            dropped_away: 0,
            refusing: false,
            connects: 0,
            seq: 0,
            pipe: Pipeline::default(),
            key: Vec::with_capacity(128),
            record: Vec::with_capacity(2048),
            message: Vec::with_capacity(2048),
            stats: SinkStats::default(),
        };
        a.try_connect();
        Ok(a)
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.con.is_some()
    }

    /// Connections made so far (the first one included): more than one means it reconnected.
    pub fn connects(&self) -> u64 {
        self.connects
    }

    fn try_connect(&mut self) {
        let opened = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .and_then(|c| {
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                Ok(c)
            });
        match opened {
            Ok(c) => {
                self.con = Some(c);
                self.connects += 1;
                self.backoff.reset(Instant::now());
                if self.away {
                    tracing::info!(
                        message = "Exporter reconnected.",
                        exporter = "redis",
                        redis = %self.target,
                        dropped_while_away = self.dropped_away,
                    );
                }
                self.away = false;
                self.dropped_away = 0;
            }
            Err(error) => {
                self.stats.errors += 1;
                self.backoff.failed(Instant::now());
                if self.away {
                    tracing::debug!(
                        message = "Redis still unreachable.",
                        exporter = "redis",
                        redis = %self.target,
                        retry_in_ms = self.backoff.retry_in(Instant::now()).as_millis() as u64,
                        %error,
                    );
                } else {
                    tracing::warn!(
                        message = "Cannot connect to Redis; dropping events until it is back.",
                        exporter = "redis",
                        redis = %self.target,
                        %error,
                    );
                }
                self.away = true;
            }
        }
    }

    /// Whether an event can be queued now (connecting if due); if not, it is counted as
    /// dropped.
    fn ready(&mut self) -> bool {
        if self.con.is_none() && self.backoff.due(Instant::now()) {
            self.try_connect();
        }
        if self.con.is_none() {
            self.stats.dropped += 1;
            self.dropped_away += 1;
            return false;
        }
        true
    }

    fn encode(&mut self, r: &FlowRecord) {
        self.record.clear();
        encode_record(r, &mut self.record);
        while self.record.last() == Some(&b'\n') {
            self.record.pop();
        }
    }

    /// `<prefix>:flow:<key>` into `self.key` (`keys` layout).
    fn flow_key(&mut self, key: &str) {
        self.key.clear();
        self.key.extend_from_slice(&self.key_prefix);
        self.key.extend_from_slice(key.as_bytes());
    }

    /// Insert or update: the flow as it stands.
    fn live(&mut self, key: &str, r: &FlowRecord) {
        if !self.ready() {
            return;
        }
        self.encode(r);
        let seq = self.next_seq();
        match self.layout {
            Layout::Hash => {
                let i = hash_index(r.protocol);
                self.pipe.push(
                    seq,
                    &[b"HSET", &self.hashes[i], key.as_bytes(), &self.record],
                );
            }
            Layout::Keys => {
                self.flow_key(key);
                self.pipe.push(seq, &[b"SET", &self.key, &self.record]);
            }
        }
        self.maybe_send();
    }

    fn ended(&mut self, key: &str, r: &FlowRecord) {
        if !self.ready() {
            return;
        }
        let seq = self.next_seq();
        let needs_record = self.layout == Layout::Keys || self.publish.is_some();
        if needs_record {
            self.encode(r);
        }
        match self.layout {
            Layout::Hash => {
                let i = hash_index(r.protocol);
                self.pipe
                    .push(seq, &[b"HDEL", &self.hashes[i], key.as_bytes()]);
            }
            Layout::Keys => {
                self.flow_key(key);
                self.pipe
                    .push(seq, &[b"SET", &self.key, &self.record, b"EX", &self.ttl]);
            }
        }
        if let Some(channel) = &self.publish {
            self.message.clear();
            self.message
                .extend_from_slice(b"{\"event\":\"remove\",\"key\":\"");
            // Flow keys hold digits, dots, colons and `|` only: nothing to escape.
            self.message.extend_from_slice(key.as_bytes());
            self.message.extend_from_slice(b"\",\"record\":");
            self.message.extend_from_slice(&self.record);
            self.message.push(b'}');
            self.pipe.push(seq, &[b"PUBLISH", channel, &self.message]);
        }
        self.maybe_send();
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn maybe_send(&mut self) {
        if self.pipe.owners.len() >= PIPELINE_MAX {
            self.send();
        }
    }

    /// One round trip for what is queued; afterwards the pipeline is empty and every queued
    /// event was either acknowledged or counted as dropped.
    fn send(&mut self) {
        if self.pipe.owners.is_empty() {
            return;
        }
        let Some(con) = self.con.as_mut() else {
            // Not reached: events are queued only while connected, and a lost connection
            // empties the pipeline. Count rather than assume.
            self.stats.dropped += self.pipe.events_from(0);
            self.pipe.clear();
            return;
        };
        let trip = round_trip(con, &self.pipe.packed, &self.pipe.owners);
        if trip.sent {
            self.stats.bytes += self.pipe.packed.len() as u64;
        }
        self.stats.dropped += trip.refused_events;
        if let Some(refusal) = &trip.refusal {
            self.stats.errors += 1;
            if !self.refusing {
                tracing::warn!(
                    message = "Redis refused commands; their events are dropped.",
                    exporter = "redis",
                    redis = %self.target,
                    events = trip.refused_events,
                    error = %refusal,
                );
            }
            self.refusing = true;
        } else if trip.lost.is_none() {
            self.refusing = false;
        }
        if let Some(error) = &trip.lost {
            // Events whose replies are missing: dropped (counted once, even when an earlier
            // command of the same event was refused).
            let mut lost = self.pipe.events_from(trip.replies);
            if trip.last_refused.is_some()
                && trip.last_refused == self.pipe.owners.get(trip.replies).copied()
            {
                lost -= 1;
            }
            self.stats.dropped += lost;
            self.stats.errors += 1;
            self.con = None;
            self.away = true;
            self.dropped_away = lost;
            self.backoff.reset(Instant::now());
            tracing::warn!(
                message = "Lost the Redis connection; reconnecting.",
                exporter = "redis",
                redis = %self.target,
                dropped = lost,
                %error,
            );
        }
        self.pipe.clear();
    }
}

/// The `hash` layout's hash for `protocol`: tcp, udp, icmp (ICMP, ICMPv6), other.
fn hash_index(protocol: u8) -> usize {
    match protocol {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

/// Writes `packed` and reads one reply per command, stopping at the first failure (a reply
/// that does not come within the read timeout counts as one: reading on would wait that long
/// per missing reply).
fn round_trip(con: &mut Connection, packed: &[u8], owners: &[u64]) -> RoundTrip {
    let mut trip = RoundTrip::default();
    if let Err(e) = con.send_packed_command(packed) {
        trip.lost = Some(e.to_string());
        return trip;
    }
    trip.sent = true;
    while trip.replies < owners.len() {
        match con.recv_response() {
            // RESP3 out-of-band data is not a reply (only with `?protocol=resp3`).
            Ok(Value::Push { .. }) => continue,
            Ok(Value::ServerError(e)) => {
                let owner = owners[trip.replies];
                if trip.last_refused != Some(owner) {
                    trip.refused_events += 1;
                    trip.last_refused = Some(owner);
                }
                trip.refusal.get_or_insert_with(|| e.to_string());
            }
            Ok(_) => {}
            Err(e) => {
                trip.lost = Some(e.to_string());
                return trip;
            }
        }
        trip.replies += 1;
    }
    trip
}

impl FlowAdaptor for RedisAdaptor {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn insert(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.live(key, record);
        Ok(())
    }

    fn update(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.live(key, record);
        Ok(())
    }

    fn remove(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        self.ended(key, record);
        Ok(())
    }

    fn end_batch(&mut self) -> Result<(), Error> {
        self.send();
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ExportSink;
    use crate::export::events::{AdaptorSink, flow_key};
    use crate::flow::RecordKind;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    type Command = Vec<Vec<u8>>;

    /// A stand-in Redis server: parses commands, answers each with what `reply` says (`None`
    /// closes the connection), and keeps every command of every connection. Connections are
    /// served one after the other.
    struct Fake {
        addr: String,
        commands: Arc<Mutex<Vec<Command>>>,
    }

    impl Fake {
        fn start(
            reply: impl Fn(&Command, usize) -> Option<&'static [u8]> + Send + 'static,
        ) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let commands = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&commands);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut out) = stream else { return };
                    let mut r = BufReader::new(out.try_clone().unwrap());
                    while let Some(c) = read_command(&mut r) {
                        let n = {
                            let mut all = seen.lock().unwrap();
                            all.push(c.clone());
                            all.len()
                        };
                        match reply(&c, n) {
                            Some(bytes) if !bytes.is_empty() => {
                                if out.write_all(bytes).is_err() {
                                    break;
                                }
                            }
                            Some(_) => {} // silent
                            None => break,
                        }
                    }
                }
            });
            Fake { addr, commands }
        }

        fn url(&self) -> String {
            format!("redis://{}", self.addr)
        }

        /// Commands received, without the connection handshake.
        fn commands(&self) -> Vec<String> {
            self.commands
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c[0] != b"CLIENT")
                .map(|c| {
                    c.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        }
    }

    /// One RESP array of bulk strings, or `None` at the end of the stream.
    fn read_command(r: &mut impl BufRead) -> Option<Command> {
        let mut line = String::new();
        let mut header = |r: &mut dyn BufRead, prefix: char| -> Option<usize> {
            line.clear();
            r.read_line(&mut line).ok()?;
            line.trim_end().strip_prefix(prefix)?.parse().ok()
        };
        let n = header(r, '*')?;
        let mut c = Vec::with_capacity(n);
        for _ in 0..n {
            let len = header(r, '$')?;
            let mut arg = vec![0u8; len + 2];
            r.read_exact(&mut arg).ok()?;
            arg.truncate(len);
            c.push(arg);
        }
        Some(c)
    }

    fn ok(_: &Command, _: usize) -> Option<&'static [u8]> {
        Some(b"+OK\r\n")
    }

    fn record(kind: RecordKind, protocol: u8, port: u16) -> FlowRecord {
        let mut r = FlowRecord {
            protocol,
            ip_version: 4,
            src_port: port,
            dst_port: 53,
            kind,
            ..FlowRecord::default()
        };
        r.src_ip[..4].copy_from_slice(&[198, 18, 0, 1]);
        r.dst_ip[..4].copy_from_slice(&[198, 18, 0, 2]);
        r.src2dst.packets = u64::from(port);
        r
    }

    fn json(r: &FlowRecord) -> String {
        let mut b = Vec::new();
        encode_record(r, &mut b);
        String::from_utf8(b).unwrap().trim_end().to_string()
    }

    fn key(r: &FlowRecord) -> String {
        let mut k = String::new();
        flow_key(r, &mut k);
        k
    }

    fn sink(cfg: RedisConfig) -> AdaptorSink<RedisAdaptor> {
        AdaptorSink::new(RedisAdaptor::connect(cfg).unwrap())
    }

    fn spec_reason(url: &str) -> String {
        match parse_url(url) {
            Err(Error::SinkSpec { sink, spec, reason }) => {
                assert_eq!(sink, "redis");
                assert!(!spec.contains("secret"), "{spec}");
                reason
            }
            other => panic!("`{url}`: expected SinkSpec, got {other:?}"),
        }
    }

    #[test]
    fn urls_are_checked_before_anything_connects() {
        for (url, target) in [
            ("redis://127.0.0.1:6380", "127.0.0.1:6380/0"),
            ("redis://localhost", "localhost:6379/0"),
            ("redis://[::1]:7000/3", "[::1]:7000/3"),
            ("redis://:secret@127.0.0.1:6379/2", "127.0.0.1:6379/2"),
        ] {
            assert_eq!(parse_url(url).unwrap().1, target, "{url}");
        }
        assert!(spec_reason("127.0.0.1:6379").contains("redis://HOST"));
        assert!(spec_reason("tcp:127.0.0.1:6379").contains("redis://HOST"));
        assert!(spec_reason("rediss://h:6379").contains("TLS"));
        assert!(spec_reason("redis://h:6379/x").contains("redis://HOST"));
        assert!(spec_reason("redis://h:99999").contains("redis://HOST"));
        assert!(spec_reason("redis://h:1/-1").contains("negative"));
        assert!(spec_reason("redis://:secret@h:1/x").contains("redis://HOST"));
        assert_eq!(redact("redis://:secret@h:1"), "redis://:***@h:1");
        assert_eq!(redact("redis://u:secret@h:1/2"), "redis://u:***@h:1/2");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        let bad = |cfg: RedisConfig| RedisAdaptor::connect(cfg).unwrap_err().to_string();
        let base = RedisConfig::new("redis://127.0.0.1:1");
        assert!(
            bad(RedisConfig {
                ttl_secs: 0,
                ..base.clone()
            })
            .contains("--redis-ttl")
        );
        assert!(
            bad(RedisConfig {
                prefix: String::new(),
                ..base.clone()
            })
            .contains("prefix")
        );
        let publish = Some(String::new());
        assert!(bad(RedisConfig { publish, ..base }).contains("--redis-publish"));
    }

    #[test]
    fn hash_layout_sets_running_flows_and_deletes_ended_ones() {
        let fake = Fake::start(ok);
        let mut s = sink(RedisConfig {
            publish: Some("flows-ended".into()),
            ..RedisConfig::new(fake.url())
        });
        let (tcp, udp, icmp) = (
            record(RecordKind::Insert, 6, 1000),
            record(RecordKind::Update, 17, 2000),
            record(RecordKind::End, 1, 0),
        );
        s.write_batch(&[
            tcp.clone(),
            udp.clone(),
            icmp.clone(),
            record(RecordKind::Insert, 47, 0),
        ])
        .unwrap();
        assert_eq!(
            fake.commands(),
            [
                format!("HSET xdpflow:flows:tcp {} {}", key(&tcp), json(&tcp)),
                format!("HSET xdpflow:flows:udp {} {}", key(&udp), json(&udp)),
                format!("HDEL xdpflow:flows:icmp {}", key(&icmp)),
                format!(
                    "PUBLISH flows-ended {{\"event\":\"remove\",\"key\":\"{}\",\"record\":{}}}",
                    key(&icmp),
                    json(&icmp)
                ),
                format!(
                    "HSET xdpflow:flows:other {} {}",
                    key(&record(RecordKind::Insert, 47, 0)),
                    json(&record(RecordKind::Insert, 47, 0))
                ),
            ]
        );
        let st = s.stats();
        assert_eq!((st.dropped, st.errors), (0, 0));
        assert!(st.bytes > 0);
    }

    #[test]
    fn keys_layout_keeps_ended_flows_with_a_ttl() {
        let fake = Fake::start(ok);
        let mut s = sink(RedisConfig {
            layout: Layout::Keys,
            prefix: "probe7".into(),
            ttl_secs: 42,
            ..RedisConfig::new(fake.url())
        });
        let (live, ended) = (
            record(RecordKind::Insert, 6, 1),
            record(RecordKind::End, 6, 1),
        );
        s.write_batch(&[live.clone(), ended.clone()]).unwrap();
        assert_eq!(
            fake.commands(),
            [
                format!("SET probe7:flow:{} {}", key(&live), json(&live)),
                format!("SET probe7:flow:{} {} EX 42", key(&ended), json(&ended)),
            ]
        );
    }

    #[test]
    fn large_batches_go_out_in_bounded_round_trips() {
        let fake = Fake::start(ok);
        let mut s = sink(RedisConfig::new(fake.url()));
        let batch: Vec<_> = (0..PIPELINE_MAX as u16 * 2 + 5)
            .map(|p| record(RecordKind::Insert, 17, p))
            .collect();
        s.write_batch(&batch).unwrap();
        assert_eq!(fake.commands().len(), batch.len());
        assert_eq!(s.stats().dropped, 0);
    }

    #[test]
    fn redis_down_at_start_is_counted_not_fatal() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut s = sink(RedisConfig::new(format!("redis://{port}")));
        assert!(!s.adaptor().is_connected());
        assert_eq!(s.stats().errors, 1);
        let batch = [
            record(RecordKind::Insert, 6, 1),
            record(RecordKind::End, 6, 1),
        ];
        s.write_batch(&batch).unwrap();
        s.flush().unwrap();
        // Within the first backoff delay: no new attempt, every event dropped.
        assert_eq!((s.stats().dropped, s.stats().errors), (2, 1));
        std::thread::sleep(crate::export::backoff::BACKOFF_MIN + Duration::from_millis(20));
        s.write_batch(&batch).unwrap();
        assert_eq!(
            (s.stats().dropped, s.stats().errors),
            (4, 2),
            "retried once"
        );
    }

    #[test]
    fn refused_commands_drop_their_events_and_keep_the_connection() {
        let fake = Fake::start(|c, _| {
            Some(if c[0] == b"HSET" && c[1].ends_with(b":udp") {
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            } else {
                b"+OK\r\n"
            })
        });
        let mut s = sink(RedisConfig::new(fake.url()));
        s.write_batch(&[
            record(RecordKind::Insert, 6, 1),
            record(RecordKind::Insert, 17, 2),
            record(RecordKind::Update, 17, 3),
            record(RecordKind::End, 17, 2),
        ])
        .unwrap();
        let st = s.stats();
        assert_eq!((st.dropped, st.errors), (2, 1), "{st:?}");
        assert!(s.adaptor().is_connected());
        assert_eq!(s.adaptor().connects(), 1);
    }

    #[test]
    fn a_connection_lost_mid_batch_drops_the_unanswered_events_then_reconnects() {
        // After the handshake (commands 1 and 2), two commands are answered, then the
        // connection is closed on the 5th; later connections are served normally.
        let fake = Fake::start(|c, n| {
            (n != 5).then_some(if c[0] == b"CLIENT" {
                b"+OK\r\n"
            } else {
                b":1\r\n"
            })
        });
        let mut s = sink(RedisConfig {
            publish: Some("ch".into()),
            ..RedisConfig::new(fake.url())
        });
        s.write_batch(&[
            record(RecordKind::Insert, 6, 1), // HSET: answered
            record(RecordKind::End, 6, 1),    // HDEL answered, PUBLISH not: dropped
            record(RecordKind::Insert, 6, 2), // dropped
        ])
        .unwrap();
        let st = s.stats();
        assert_eq!((st.dropped, st.errors), (2, 1), "{st:?}");
        assert!(!s.adaptor().is_connected());
        // The next event reconnects at once (a working connection was lost: no backoff).
        s.write_batch(&[record(RecordKind::Insert, 6, 3)]).unwrap();
        assert_eq!(s.adaptor().connects(), 2);
        assert!(s.adaptor().is_connected());
        assert_eq!(s.stats().dropped, 2);
    }

    #[test]
    fn a_server_that_stops_answering_costs_about_one_timeout() {
        // Answers the handshake, then reads commands without ever replying.
        let fake = Fake::start(|c, _| Some(if c[0] == b"CLIENT" { b"+OK\r\n" } else { b"" }));
        let mut s = sink(RedisConfig::new(fake.url()));
        assert!(s.adaptor().is_connected());
        let batch: Vec<_> = (0..50).map(|p| record(RecordKind::Insert, 17, p)).collect();
        let t = Instant::now();
        s.write_batch(&batch).unwrap();
        let took = t.elapsed();
        assert!(took < IO_TIMEOUT * 2, "blocked {took:?}");
        assert_eq!((s.stats().dropped, s.stats().errors), (50, 1));
        assert!(!s.adaptor().is_connected());
    }
}
