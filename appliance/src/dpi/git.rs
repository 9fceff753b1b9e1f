//! The Git native protocol (`git://`, Git documentation `gitprotocol-pack`, "Git Transport"):
//! nDPI's `Git`.
//!
//! Owns recognising the client's first pkt-line: four hexadecimal digits giving the line's
//! length (the four included, equal to the payload's), then `git-upload-pack`,
//! `git-receive-pack` or `git-upload-archive`, a space and the repository path. It records the
//! path (`git_path`).
//!
//! It does *not* read the ref advertisement or pack data, or see Git over HTTP or SSH (the
//! HTTP and SSH dissectors' flows). A flow whose first payload is not such a request is
//! rejected.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "Git";

/// Longest path kept.
const MAX_PATH: usize = 128;

const SERVICES: [&[u8]; 3] = [
    b"git-upload-pack ",
    b"git-receive-pack ",
    b"git-upload-archive ",
];

/// Recognises `git://` requests.
#[derive(Debug, Default)]
pub struct Git;

impl Dissector for Git {
    fn ports(&self) -> &'static [u16] {
        &[9418]
    }

    fn name(&self) -> &'static str {
        "git"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        let Some(len) = p.get(..4).and_then(pkt_len) else {
            return Verdict::Reject;
        };
        if pkt.dir != 0 || len != p.len() {
            return Verdict::Reject;
        }
        let Some(rest) = SERVICES.iter().find_map(|s| p[4..].strip_prefix(*s)) else {
            return Verdict::Reject;
        };
        ctx.identify(MASTER);
        // "pathname NUL [host-parameter NUL]"
        let path = rest
            .split(|&b| b == 0 || b == b'\n')
            .next()
            .unwrap_or_default();
        if !path.is_empty() {
            let path = &path[..path.len().min(MAX_PATH)];
            ctx.result()
                .set_meta("git_path", String::from_utf8_lossy(path).into_owned());
        }
        Verdict::Done
    }
}

/// The length of a pkt-line header (four lower- or upper-case hex digits).
fn pkt_len(h: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(h).ok()?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    usize::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    const REQUEST: &[u8] = b"0033git-upload-pack /project.git\0host=myserver.com\0";

    #[test]
    fn upload_pack() {
        let (verdict, r) = dissect_one(&Git, &packet(6, 0, 40000, 9418, REQUEST));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("Git")));
        assert_eq!(r.meta("git_path"), Some(&"/project.git".into()));
    }

    #[test]
    fn rejects() {
        let reject = |dir: u8, p: &[u8]| {
            let (verdict, r) = dissect_one(&Git, &packet(6, dir, 40000, 9418, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:?}");
        };
        reject(1, REQUEST); // from the server
        reject(0, &REQUEST[..3]); // short
        reject(0, &REQUEST[..40]); // length != payload
        reject(0, b"0014git-fetch-pack /x\0"); // unknown service
        reject(0, b"00zzgit-upload-pack x"); // not hex
        reject(0, b"+012git-upload-pack x"); // sign
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let mut p = format!("{:04x}git-upload-pack ", data.len() + 20).into_bytes();
            p.extend_from_slice(&data);
            let _ = dissect_one(&Git, &packet(6, 0, 1, 9418, &p));
            let _ = dissect_one(&Git, &packet(6, 0, 1, 9418, &data));
        }
    }
}
