//! What a person at a terminal sees: a progress line on stderr while a long file is read, and
//! the end-of-run summary. Nothing here is on the packet path: the reader calls
//! [`Progress::update`] a few times a second with the published counters.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::flow::EndReason;
use crate::packet::DropReason;
use crate::pipeline::{Counters, Summary};

/// The live progress line.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    tty: bool,
    drawn: bool,
}

impl Progress {
    /// A progress display; `force` shows it even when stderr is not a terminal (then one line
    /// per update).
    pub fn new(force: bool) -> Option<Progress> {
        let tty = std::io::stderr().is_terminal();
        (tty || force).then(|| Progress {
            started: Instant::now(),
            tty,
            drawn: false,
        })
    }

    /// Redraws the line from the counters.
    pub fn update(&mut self, c: &Counters) {
        let frames = c.frames.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let done = c.input_bytes.load(Ordering::Relaxed);
        let total = c.input_total.load(Ordering::Relaxed);
        let pct = if total > 0 {
            format!("{:5.1}% · ", 100.0 * done as f64 / total as f64)
        } else {
            String::new()
        };
        let line = format!(
            "{pct}{} packets · {} flows · {} exported · {} packets/s",
            human(frames as f64),
            human(c.flows_created.load(Ordering::Relaxed) as f64),
            human(c.records_exported.load(Ordering::Relaxed) as f64),
            human(frames as f64 / secs),
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[K{line}")
        } else {
            writeln!(err, "progress: {line}")
        };
        self.drawn = true;
    }

    /// Clears the line before the summary is printed.
    pub fn finish(&mut self) {
        if self.tty && self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// `1234567.0` → `1.23 M`.
pub fn human(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2} G", x / 1e9),
        x if x >= 1e6 => format!("{:.2} M", x / 1e6),
        x if x >= 1e4 => format!("{:.1} k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// The end-of-run summary, several lines, for stderr.
pub fn summary_text(s: &Summary) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut t = format!(
        "xdpflow: {} packets ({} bytes) in {:.2} s, {} packets/s\n",
        s.frames,
        s.wire_bytes,
        secs,
        human(s.frames as f64 / secs)
    );
    t += &format!("  decoded {}", s.decoded);
    if s.truncated > 0 {
        t += &format!(" (of which {} cut short by the snaplen)", s.truncated);
    }
    t += &format!(", dropped {}", s.dropped());
    let drops: Vec<String> = DropReason::ALL
        .iter()
        .filter(|r| s.drops[**r as usize] > 0)
        .map(|r| format!("{} {}", r.as_label(), s.drops[*r as usize]))
        .collect();
    if !drops.is_empty() {
        t += &format!(": {}", drops.join(", "));
    }
    t += "\n";
    let ended: Vec<String> = EndReason::ALL
        .iter()
        .map(|r| format!("{} {}", r.as_label(), s.flows_ended[*r as usize]))
        .collect();
    t += &format!(
        "  flows {} created, {} exported ({})\n",
        s.flows_created,
        s.records_exported,
        ended.join(", ")
    );
    if s.records_dropped > 0 {
        t += &format!(
            "  {} records dropped: the exporter fell behind (see the sinks below)\n",
            s.records_dropped
        );
    }
    if let Some(x) = &s.xdp {
        t += &format!(
            "  xdp: seen {}, redirected {}, passed {} (no socket on the queue), filtered {}, \
             sampled out {}, redirect errors {}\n",
            x.seen, x.redirected, x.passed, x.filtered, x.sampled_out, x.redirect_errors
        );
    }
    for q in &s.queues {
        t += &format!(
            "  queue {}{}: {} packets, {} bytes, {} decoded, {} dropped, {} flows",
            q.name,
            q.core.map(|c| format!(" (cpu {c})")).unwrap_or_default(),
            q.frames,
            q.wire_bytes,
            q.decoded,
            q.dropped,
            q.flows_created
        );
        if let Some(r) = &q.ring {
            t += &format!(
                "; ring: {} dropped by the kernel, rx ring full {}, fill ring empty {}, \
                 invalid descriptors {}, freezes {}",
                r.dropped, r.rx_ring_full, r.fill_ring_empty, r.invalid_descs, r.freeze_count
            );
        }
        t += "\n";
    }
    for r in &s.sinks {
        t += &format!(
            "  sink {}: {} records, {} bytes, {} batches, {} dropped, {} errors\n",
            r.name, r.records, r.bytes, r.batches, r.dropped, r.errors
        );
    }
    t
}

/// The end-of-run counters as one JSON object (`--summary-json`): the same numbers as
/// [`summary_text`], for scripts and tests. Keys are stable; reasons use their labels.
pub fn summary_json(s: &Summary) -> String {
    fn obj(pairs: &[(&str, String)]) -> String {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }
    fn string(x: &str) -> String {
        let mut out = String::with_capacity(x.len() + 2);
        out.push('"');
        for ch in x.chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    let drops: Vec<(&str, String)> = DropReason::ALL
        .iter()
        .map(|r| (r.as_label(), s.drops[*r as usize].to_string()))
        .collect();
    let ended: Vec<(&str, String)> = EndReason::ALL
        .iter()
        .map(|r| (r.as_label(), s.flows_ended[*r as usize].to_string()))
        .collect();
    let queues: Vec<String> = s
        .queues
        .iter()
        .map(|q| {
            let ring = q.ring.map_or("null".to_string(), |r| {
                obj(&[
                    ("dropped", r.dropped.to_string()),
                    ("rx_ring_full", r.rx_ring_full.to_string()),
                    ("fill_ring_empty", r.fill_ring_empty.to_string()),
                    ("invalid_descs", r.invalid_descs.to_string()),
                    ("freeze_count", r.freeze_count.to_string()),
                ])
            });
            obj(&[
                ("name", string(&q.name)),
                ("core", q.core.map_or("null".to_string(), |c| c.to_string())),
                ("frames", q.frames.to_string()),
                ("wire_bytes", q.wire_bytes.to_string()),
                ("decoded", q.decoded.to_string()),
                ("dropped", q.dropped.to_string()),
                ("flows_created", q.flows_created.to_string()),
                ("ring", ring),
            ])
        })
        .collect();
    let xdp = s.xdp.as_ref().map_or("null".to_string(), |x| {
        obj(&[
            ("seen", x.seen.to_string()),
            ("redirected", x.redirected.to_string()),
            ("passed", x.passed.to_string()),
            ("filtered", x.filtered.to_string()),
            ("sampled_out", x.sampled_out.to_string()),
            ("redirect_errors", x.redirect_errors.to_string()),
        ])
    });
    let sinks: Vec<String> = s
        .sinks
        .iter()
        .map(|r| {
            obj(&[
                ("name", string(r.name)),
                ("records", r.records.to_string()),
                ("bytes", r.bytes.to_string()),
                ("batches", r.batches.to_string()),
                ("dropped", r.dropped.to_string()),
                ("errors", r.errors.to_string()),
            ])
        })
        .collect();
    obj(&[
        ("frames", s.frames.to_string()),
        ("wire_bytes", s.wire_bytes.to_string()),
        ("decoded", s.decoded.to_string()),
        ("truncated", s.truncated.to_string()),
        ("dropped", s.dropped().to_string()),
        ("drops", obj(&drops)),
        ("flows_created", s.flows_created.to_string()),
        ("flows_ended", obj(&ended)),
        ("records_exported", s.records_exported.to_string()),
        ("records_dropped", s.records_dropped.to_string()),
        ("elapsed_s", format!("{:.3}", s.elapsed.as_secs_f64())),
        ("xdp", xdp),
        ("queues", format!("[{}]", queues.join(","))),
        ("sinks", format!("[{}]", sinks.join(","))),
    ]) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_scales() {
        assert_eq!(human(999.0), "999");
        assert_eq!(human(51_588.0), "51.6 k");
        assert_eq!(human(2_345_678.0), "2.35 M");
    }

    #[test]
    fn summary_names_drop_reasons_and_end_reasons() {
        let mut s = Summary {
            frames: 10,
            decoded: 8,
            ..Summary::default()
        };
        s.drops[DropReason::NotIp as usize] = 2;
        s.flows_created = 3;
        s.records_exported = 3;
        s.flows_ended[EndReason::Idle as usize] = 3;
        s.sinks.push(crate::export::stage::SinkReport {
            name: "json",
            records: 3,
            bytes: 900,
            batches: 1,
            dropped: 0,
            errors: 0,
        });
        let t = summary_text(&s);
        assert!(
            t.contains("sink json: 3 records, 900 bytes, 1 batches, 0 dropped"),
            "{t}"
        );
        assert!(t.contains("dropped 2: not_ip 2"), "{t}");
        assert!(
            t.contains("flows 3 created, 3 exported (idle 3, active 0"),
            "{t}"
        );
    }
}
