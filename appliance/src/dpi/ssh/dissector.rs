//! The SSH dissector: claims a TCP flow whose first payload opens an identification line
//! (`SSH-`, RFC 4253 §4.2), then reads both banners and both KEXINITs (§7.1), gathered across
//! segments ([`SshBuffer`]), for the HASSH fingerprints.

use super::{SshBuffer, SshError, hassh};
use crate::dpi::{Context, Dissector, Packet, Transports, Verdict};

/// One direction of an SSH flow.
#[derive(Debug, Default)]
struct Direction {
    /// Allocated with the first segment of the direction.
    buf: Option<SshBuffer>,
    banner: bool,
    /// KEXINIT read, or out of reach: nothing more to do.
    over: bool,
}

/// Per-flow state of [`Ssh`]. Bound: two [`SshBuffer`]s of [`super::DEFAULT_BUFFER_CAP`]
/// (4 KiB each: a banner and a KEXINIT), freed as soon as their direction is read: at most
/// 8.1 KiB per flow.
#[derive(Debug, Default)]
pub struct SshFlow {
    dirs: [Direction; 2],
}

/// The SSH port (RFC 4253 §4.1).
const PORT: u16 = 22;

/// SSH (`SSH`). State: [`SshFlow`]. The client is the side that does not use port 22, or, when
/// neither or both do, the flow's initiator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ssh;

impl Dissector for Ssh {
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }

    fn name(&self) -> &'static str {
        "ssh"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !ctx.is_identified() {
            // RFC 4253 §4.2: "SSH-protoversion-softwareversion". Servers may send other lines
            // first, but a flow's first payload is the client's banner or the server's
            // greeting, which in practice is the banner itself.
            let p = pkt.payload;
            if p.len() < 5 || &p[..4] != b"SSH-" || !p[4].is_ascii_digit() {
                return Verdict::Reject;
            }
            ctx.identify("SSH");
        }
        let dir = usize::from(pkt.dir & 1);
        let mut st = std::mem::take(ctx.state::<SshFlow>());
        let d = &mut st.dirs[dir];
        if !d.over {
            let buf = d.buf.get_or_insert_with(SshBuffer::default);
            buf.push(pkt.payload);
            // The client is the side away from port 22, else the flow's initiator (a capture
            // that starts mid-connection may have the server first).
            let client = if pkt.src_port == PORT && pkt.dst_port != PORT {
                dir == 1
            } else {
                dir == 0
            };
            if !d.banner {
                match buf.banner() {
                    Ok(b) => {
                        d.banner = true;
                        let line = String::from_utf8_lossy(b.line).into_owned();
                        let name = if client {
                            "ssh_client_banner"
                        } else {
                            "ssh_server_banner"
                        };
                        ctx.result().set_meta(name, line);
                    }
                    Err(SshError::Incomplete) if !buf.is_full() => {}
                    Err(_) => d.over = true,
                }
            }
            if d.banner && !d.over {
                match buf.kexinit() {
                    Ok(k) => {
                        d.over = true;
                        let (_, hash) = hassh(&k, client);
                        let r = ctx.result();
                        if client {
                            r.client_fingerprint = hash;
                        } else {
                            r.server_fingerprint = hash;
                        }
                    }
                    Err(SshError::Incomplete) if !buf.is_full() => {}
                    Err(_) => d.over = true,
                }
            }
            if d.over {
                d.buf = None;
            }
        }
        let done = st.dirs.iter().all(|d| d.over);
        *ctx.state::<SshFlow>() = st;
        if done {
            Verdict::Done
        } else {
            Verdict::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_kexinit;
    use super::super::tests::{LISTS, kexinit_packet};
    use super::*;
    use crate::dpi::dns::captures::feed;
    use crate::dpi::{FlowDpi, Value};

    fn ssh(packets: &[(u8, &[u8])]) -> Box<FlowDpi> {
        feed(Box::new(Ssh), (6, 40000, 22), packets)
    }

    fn banner(f: &FlowDpi, name: &str) -> Option<String> {
        match f.result.meta(name) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn both_banners_and_kexinits() {
        let kex = kexinit_packet(LISTS, 4);
        let (client_hassh, server_hassh) = {
            let k = parse_kexinit(&kex).unwrap();
            (hassh(&k, true).1, hassh(&k, false).1)
        };
        let c_banner: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n";
        let s_greeting = [&b"SSH-2.0-dropbear_2022.83\r\n"[..], &kex].concat();
        let (k1, k2) = kex.split_at(30);
        let f = ssh(&[(1, &s_greeting), (0, c_banner), (0, k1)]);
        assert_eq!(f.result.master, Some("SSH"));
        assert!(!f.is_done());
        assert_eq!(f.result.server_fingerprint, server_hassh);
        assert_eq!(f.result.client_fingerprint, "");
        let f = ssh(&[(1, &s_greeting), (0, c_banner), (0, k1), (0, k2)]);
        assert!(f.is_done());
        assert_eq!(f.result.client_fingerprint, client_hassh);
        assert_eq!(
            banner(&f, "ssh_client_banner").as_deref(),
            Some("SSH-2.0-OpenSSH_9.6")
        );
        assert_eq!(
            banner(&f, "ssh_server_banner").as_deref(),
            Some("SSH-2.0-dropbear_2022.83")
        );
    }

    #[test]
    fn server_seen_first() {
        let f = feed(
            Box::new(Ssh),
            (6, 22, 40000),
            &[(0, b"SSH-2.0-server\r\n"), (1, b"SSH-2.0-client\r\n")],
        );
        assert_eq!(
            banner(&f, "ssh_client_banner").as_deref(),
            Some("SSH-2.0-client")
        );
        assert_eq!(
            banner(&f, "ssh_server_banner").as_deref(),
            Some("SSH-2.0-server")
        );
    }

    #[test]
    fn a_direction_that_is_not_ssh_ends() {
        let f = ssh(&[
            (0, b"SSH-2.0-x\r\n"),
            (0, b"\x00\x00\x00\x08\x04\x15xxxxxxx"), // not a KEXINIT (message 21)
            (1, b"\x00\x00\x00\x00 garbage"),
        ]);
        assert_eq!(f.result.master, Some("SSH"));
        assert!(f.is_done());
    }

    #[test]
    fn rejects() {
        for p in [
            &b"SSH"[..],
            b"SSH-",
            b"SSH-x.0-a\r\n",
            b"ssh-2.0-a\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"\x16\x03\x01\x00\x05",
        ] {
            let f = ssh(&[(0, p)]);
            assert!(f.is_done(), "{p:?}");
            assert_eq!(f.result.master, None, "{p:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_segments_never_panic(
            segs in proptest::collection::vec(
                (0u8..2, proptest::collection::vec(proptest::num::u8::ANY, 1..400)), 1..6),
            banner_first in proptest::bool::ANY,
        ) {
            let mut packets: Vec<(u8, &[u8])> = Vec::new();
            if banner_first {
                packets.push((0, b"SSH-2.0-x\r\n"));
            }
            packets.extend(segs.iter().map(|(d, p)| (*d, p.as_slice())));
            let _ = ssh(&packets);
        }
    }
}
