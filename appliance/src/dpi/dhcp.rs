//! DHCP (RFC 2131) and its BOOTP frame (RFC 951) over UDP 67/68: a BOOTP header with the DHCP
//! magic cookie, then options (RFC 2132). The flow's server name is the client's Host Name
//! (option 12, lower-cased as nfstream shows it), and the metadata are the Vendor Class
//! Identifier (option 60, `dhcp_vendor_class`) and the Parameter Request List (option 55,
//! `dhcp_fingerprint`, the codes joined by commas: what fingerprinting databases key on).
//!
//! It does *not* follow leases, read relay agent options, or identify plain BOOTP (no cookie).
//!
//! State: none (the first message decides and is the one read, as nDPI does).

use std::fmt::Write as _;

use super::{Context, Dissector, Packet, Transports, Verdict};

/// nDPI's name.
const MASTER: &str = "DHCP";

/// Server and client ports (RFC 2131 §4.1).
const PORTS: [u16; 2] = [67, 68];

/// Offsets in the BOOTP header (RFC 2131 §2, figure 1).
mod field {
    /// `op`: 1 BOOTREQUEST, 2 BOOTREPLY.
    pub const OP: usize = 0;
    /// `htype`: hardware address type (1 Ethernet).
    pub const HTYPE: usize = 1;
    /// `hlen`: hardware address length.
    pub const HLEN: usize = 2;
    /// The magic cookie, after `sname` and `file`.
    pub const COOKIE: std::ops::Range<usize> = 236..240;
    /// First option.
    pub const OPTIONS: usize = 240;
}

/// RFC 2131 §3: "the first four octets of the 'options' field ... 99, 130, 83 and 99".
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Option codes read (RFC 2132).
mod opt {
    /// Padding, one byte.
    pub const PAD: u8 = 0;
    /// Host Name (§3.14).
    pub const HOST_NAME: u8 = 12;
    /// Parameter Request List (§9.8).
    pub const PARAMETER_LIST: u8 = 55;
    /// Vendor class identifier (§9.13).
    pub const VENDOR_CLASS: u8 = 60;
    /// End, one byte.
    pub const END: u8 = 255;
}

/// The DHCP dissector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dhcp;

/// True when `p` is a BOOTP message carrying the DHCP cookie.
fn is_dhcp(p: &[u8]) -> bool {
    p.len() >= field::OPTIONS
        && matches!(p[field::OP], 1 | 2)
        && p[field::HTYPE] != 0
        && p[field::HLEN] <= 16
        && p[field::COOKIE] == MAGIC_COOKIE
}

/// The options after the cookie, up to END or the first malformed one.
fn options(p: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = p.get(field::OPTIONS..).unwrap_or_default();
    std::iter::from_fn(move || {
        loop {
            let (&code, tail) = rest.split_first()?;
            match code {
                opt::PAD => rest = tail,
                opt::END => return None,
                _ => {
                    let (&len, tail) = tail.split_first()?;
                    let value = tail.get(..usize::from(len))?;
                    rest = &tail[usize::from(len)..];
                    return Some((code, value));
                }
            }
        }
    })
}

/// Text of an option, printable ASCII only (control bytes and trailing NULs dropped).
fn text(v: &[u8]) -> String {
    v.iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| char::from(b))
        .collect()
}

impl Dissector for Dhcp {
    fn ports(&self) -> &'static [u16] {
        &[67, 68]
    }

    fn name(&self) -> &'static str {
        "dhcp"
    }

    fn transports(&self) -> Transports {
        Transports::Udp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        if !PORTS.contains(&pkt.src_port) && !PORTS.contains(&pkt.dst_port) {
            return Verdict::Reject;
        }
        let p = pkt.payload;
        if !is_dhcp(p) {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        let r = ctx.result();
        for (code, value) in options(p) {
            match code {
                opt::HOST_NAME if r.requested_server_name.is_empty() => {
                    r.requested_server_name = text(value).to_ascii_lowercase();
                }
                opt::VENDOR_CLASS => r.set_meta("dhcp_vendor_class", text(value)),
                opt::PARAMETER_LIST => {
                    let mut s = String::with_capacity(value.len() * 3);
                    for (i, c) in value.iter().enumerate() {
                        let sep = if i == 0 { "" } else { "," };
                        let _ = write!(s, "{sep}{c}");
                    }
                    r.set_meta("dhcp_fingerprint", s);
                }
                _ => {}
            }
        }
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::Value;
    use crate::dpi::lan_voip_captures::feed;

    /// A DHCPDISCOVER with the given options (after the cookie).
    fn discover(options: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x01, // op: BOOTREQUEST
            0x01, // htype: Ethernet
            0x06, // hlen
            0x00, // hops
            0x8e, 0x28, 0x02, 0x7e, // xid
            0x00, 0x00, // secs
            0x80, 0x00, // flags: broadcast
        ];
        v.extend_from_slice(&[0; 16]); // ciaddr, yiaddr, siaddr, giaddr
        v.extend_from_slice(&[0x00, 0x1c, 0x42, 0x00, 0x00, 0x08]); // chaddr
        v.extend_from_slice(&[0; 10]); // chaddr padding
        v.extend_from_slice(&[0; 192]); // sname, file
        v.extend_from_slice(&MAGIC_COOKIE);
        v.extend_from_slice(options);
        v
    }

    #[test]
    fn host_name_and_metadata() {
        #[rustfmt::skip]
        let options = [
            53, 1, 1,                               // DHCP message type: DISCOVER
            0,                                      // pad
            55, 4, 1, 121, 3, 6,                    // parameter request list
            60, 8, b'M', b'S', b'F', b'T', b' ', b'5', b'.', b'0', // vendor class
            12, 10, b'L', b'u', b'c', b'a', b's', b'-', b'i', b'M', b'a', b'c', // host name
            255,                                    // end
            12, 1, b'x',                            // after the end: ignored
        ];
        let f = feed(Dhcp, 17, 68, 67, &[(0, &discover(&options))]);
        assert_eq!(f.result.master, Some(MASTER));
        assert!(f.done);
        assert_eq!(f.result.requested_server_name, "lucas-imac");
        assert_eq!(
            f.result.meta("dhcp_fingerprint"),
            Some(&Value::Str("1,121,3,6".into()))
        );
        assert_eq!(
            f.result.meta("dhcp_vendor_class"),
            Some(&Value::Str("MSFT 5.0".into()))
        );
    }

    #[test]
    fn reply_from_the_server_port() {
        let mut v = discover(&[53, 1, 2, 255]);
        v[0] = 2;
        let f = feed(Dhcp, 17, 67, 68, &[(0, &v)]);
        assert_eq!(f.result.master, Some(MASTER));
        assert_eq!(f.result.requested_server_name, "");
    }

    #[test]
    fn truncated_option_stops_reading() {
        let f = feed(Dhcp, 17, 68, 67, &[(0, &discover(&[12, 20, b'a']))]);
        assert_eq!(f.result.master, Some(MASTER));
        assert_eq!(f.result.requested_server_name, "");
    }

    #[test]
    fn rejects() {
        let ok = discover(&[255]);
        assert!(
            feed(Dhcp, 17, 1000, 2000, &[(0, &ok)])
                .result
                .master
                .is_none()
        );
        let cases: [(usize, u8); 4] = [(0, 3), (1, 0), (2, 17), (236, 0)];
        for (at, value) in cases {
            let mut v = ok.clone();
            v[at] = value;
            let f = feed(Dhcp, 17, 68, 67, &[(0, &v)]);
            assert_eq!(f.result.master, None, "byte {at} = {value}");
            assert!(f.done);
        }
        assert!(
            feed(Dhcp, 17, 68, 67, &[(0, &ok[..239])])
                .result
                .master
                .is_none()
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = feed(Dhcp, 17, 68, 67, &[(0, &discover(&a))]);
            let _ = feed(Dhcp, 17, 68, 67, &[(0, &a)]);
        }
    }
}
