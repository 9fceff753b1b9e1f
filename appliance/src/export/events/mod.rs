//! Flow lifecycle events for databases that keep a live view of current flows: a flow is
//! *inserted* when it starts, *updated* while it runs (every N packets or T seconds:
//! `--update-every-packets`, `--update-every`), *removed* when it ends, with its final record.
//!
//! A database adaptor is one file implementing [`FlowAdaptor`] (three methods, all optional);
//! [`AdaptorSink`] turns it into an [`ExportSink`] that asks the flow table for events, so it
//! runs on its own sink thread, behind its own bounded queue, with the same batching and
//! full-queue policy as every sink. Sinks that do not ask for events never see them, and when
//! no sink asks, the flow table emits none (see `flow::RecordKind`).
//!
//! This module does not decide when events happen (that is `flow::shard`) nor how a database
//! lays them out (each adaptor documents its layout).
//!
//! # The flow key
//!
//! Events of one flow carry the same key, a stable string built from the record:
//! `PROTO|SRC_IP|SRC_PORT|DST_IP|DST_PORT|VLAN|TUNNEL`, e.g. `6|198.18.0.1|51234|198.18.0.2|443|0|0`
//! — src is the sender of the flow's first packet (as in the record), addresses in their usual
//! text form (IPv6 compressed, RFC 5952), ports 0 for portless protocols, VLAN and tunnel id 0
//! when absent. A conversation that outlives the active timeout continues as a new flow under
//! the same key: its `remove` comes before the new `insert`.

pub mod file;
pub mod redis;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{ExportSink, SinkStats};
use crate::error::Error;
use crate::flow::{FlowRecord, RecordKind};

/// A database adaptor. Every method defaults to doing nothing, so an adaptor implements only
/// what its database needs. Calls for one batch arrive in order, then [`FlowAdaptor::end_batch`].
pub trait FlowAdaptor: Send {
    /// Short name for logs, metrics and the summary (`redis`).
    fn name(&self) -> &'static str;

    /// A flow started; `record` holds its first packet.
    ///
    /// # Errors
    ///
    /// A failure that must stop the run (a transient one is counted in `stats` instead).
    fn insert(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        let _ = (key, record);
        Ok(())
    }

    /// A running flow, as it stands.
    ///
    /// # Errors
    ///
    /// As [`FlowAdaptor::insert`].
    fn update(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        let _ = (key, record);
        Ok(())
    }

    /// A flow ended; `record` is final (`end_reason` says why).
    ///
    /// # Errors
    ///
    /// As [`FlowAdaptor::insert`].
    fn remove(&mut self, key: &str, record: &FlowRecord) -> Result<(), Error> {
        let _ = (key, record);
        Ok(())
    }

    /// The end of a batch: send what was buffered (one pipelined round trip per batch).
    ///
    /// # Errors
    ///
    /// As [`FlowAdaptor::insert`].
    fn end_batch(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Timer and shutdown flush. Default: [`FlowAdaptor::end_batch`].
    ///
    /// # Errors
    ///
    /// As [`FlowAdaptor::insert`].
    fn flush(&mut self) -> Result<(), Error> {
        self.end_batch()
    }

    /// The adaptor's own counters (bytes, events dropped while the database was down, errors).
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }

    /// Reopens output files (SIGHUP). Default: nothing to reopen.
    ///
    /// # Errors
    ///
    /// The file cannot be reopened.
    fn reopen(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// An [`ExportSink`] over a [`FlowAdaptor`]: asks for lifecycle events and dispatches each
/// record by its kind with its flow key.
#[derive(Debug)]
pub struct AdaptorSink<A> {
    adaptor: A,
    key: String,
}

impl<A: FlowAdaptor> AdaptorSink<A> {
    /// Wraps `adaptor`.
    pub fn new(adaptor: A) -> Self {
        AdaptorSink {
            adaptor,
            key: String::with_capacity(96),
        }
    }

    /// The adaptor (tests).
    pub fn adaptor(&self) -> &A {
        &self.adaptor
    }
}

impl<A: FlowAdaptor> ExportSink for AdaptorSink<A> {
    fn name(&self) -> &'static str {
        self.adaptor.name()
    }

    fn write_batch(&mut self, records: &[FlowRecord]) -> Result<(), Error> {
        for r in records {
            self.key.clear();
            flow_key(r, &mut self.key);
            match r.kind {
                RecordKind::Insert => self.adaptor.insert(&self.key, r)?,
                RecordKind::Update => self.adaptor.update(&self.key, r)?,
                RecordKind::End => self.adaptor.remove(&self.key, r)?,
            }
        }
        self.adaptor.end_batch()
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.adaptor.flush()
    }

    fn stats(&self) -> SinkStats {
        self.adaptor.stats()
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn reopen(&mut self) -> Result<(), Error> {
        self.adaptor.reopen()
    }
}

/// Appends the flow key of `r` (see the module docs) to `out`.
pub fn flow_key(r: &FlowRecord, out: &mut String) {
    let _ = write!(out, "{}|", r.protocol);
    push_ip(out, r.ip_version, &r.src_ip);
    let _ = write!(out, "|{}|", r.src_port);
    push_ip(out, r.ip_version, &r.dst_ip);
    let _ = write!(out, "|{}|{}|{}", r.dst_port, r.vlan_id, r.tunnel_id);
}

fn push_ip(out: &mut String, version: u8, ip: &[u8; 16]) {
    let _ = if version == 6 {
        write!(out, "{}", Ipv6Addr::from(*ip))
    } else {
        write!(out, "{}", Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Vec<String>, usize);

    impl FlowAdaptor for Log {
        fn name(&self) -> &'static str {
            "log"
        }
        fn insert(&mut self, key: &str, _: &FlowRecord) -> Result<(), Error> {
            self.0.push(format!("insert {key}"));
            Ok(())
        }
        fn remove(&mut self, key: &str, r: &FlowRecord) -> Result<(), Error> {
            self.0
                .push(format!("remove {key} {}", r.end_reason.as_label()));
            Ok(())
        }
        fn end_batch(&mut self) -> Result<(), Error> {
            self.1 += 1;
            Ok(())
        }
    }

    fn rec(kind: RecordKind, v6: bool) -> FlowRecord {
        let mut r = FlowRecord {
            protocol: 6,
            ip_version: if v6 { 6 } else { 4 },
            src_port: 51234,
            dst_port: 443,
            vlan_id: 7,
            kind,
            ..FlowRecord::default()
        };
        if v6 {
            r.src_ip = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets();
            r.dst_ip = "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets();
        } else {
            r.src_ip[..4].copy_from_slice(&[198, 18, 0, 1]);
            r.dst_ip[..4].copy_from_slice(&[198, 18, 0, 2]);
        }
        r
    }

    #[test]
    fn the_flow_key_is_stable_and_documented() {
        let mut k = String::new();
        flow_key(&rec(RecordKind::End, false), &mut k);
        assert_eq!(k, "6|198.18.0.1|51234|198.18.0.2|443|7|0");
        k.clear();
        flow_key(&rec(RecordKind::End, true), &mut k);
        assert_eq!(k, "6|2001:db8::1|51234|2001:db8::2|443|7|0");
    }

    #[test]
    fn records_are_dispatched_by_kind_with_defaults_for_the_rest() {
        let mut sink = AdaptorSink::new(Log::default());
        assert!(sink.wants_events());
        sink.write_batch(&[
            rec(RecordKind::Insert, false),
            rec(RecordKind::Update, false), // `update` not implemented: the default no-op
            rec(RecordKind::End, false),
        ])
        .unwrap();
        let log = sink.adaptor();
        assert_eq!(
            log.0,
            vec![
                "insert 6|198.18.0.1|51234|198.18.0.2|443|7|0",
                "remove 6|198.18.0.1|51234|198.18.0.2|443|7|0 shutdown"
            ]
        );
        assert_eq!(log.1, 1, "one end_batch per batch");
    }
}
