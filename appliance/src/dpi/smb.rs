//! SMB over TCP: nDPI's `SMBv1` and `SMBv23`, both applications of the master `NetBIOS` (so
//! nfstream shows `NetBIOS.SMBv1` and `NetBIOS.SMBv23`).
//!
//! Owns recognising the first message of a flow: the 4-byte session header, a NetBIOS session
//! message (RFC 1002 §4.3.1: type 0x00, 17-bit length) on port 139 or the direct-hosting
//! header (\[MS-SMB2\] §2.1: 0x00 and a 24-bit length) on 445 (one test covers both: type 0
//! and a length of at least a header), followed by the protocol identifier:
//! `\xFFSMB` (\[MS-CIFS\] §2.2.3.1) for SMBv1; `\xFESMB` (\[MS-SMB2\] §2.2.1, with its
//! `StructureSize` of 64), `\xFDSMB` (transform header, §2.2.41) or `\xFCSMB` (compression
//! transform header, §2.2.42) for SMB 2 and 3. The application name is the whole result: the
//! dialect is negotiated in the first exchange only, which captures often miss.
//!
//! It does *not* follow the session, read NetBIOS session requests (type 0x81, the NetBIOS
//! dissector's) or SMB over NetBIOS datagrams (UDP 138, also the NetBIOS dissector's). A flow
//! whose first payload is not an SMB message head is rejected, as nDPI does: the SMB flows of
//! `kerberos.pcap` start inside a message and nfstream names them `SMBv23` by port.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI): SMB is an application of NetBIOS.
pub const MASTER: &str = "NetBIOS";

/// The application of SMB version 1.
pub const SMB_V1: &str = "SMBv1";

/// The application of SMB versions 2 and 3.
pub const SMB_V23: &str = "SMBv23";

/// Session header plus the shortest SMB header (SMBv1's 32 bytes).
const MIN_LEN: usize = 4 + 32;

/// Recognises SMB messages over NetBIOS session service or direct TCP.
#[derive(Debug, Default)]
pub struct Smb;

impl Dissector for Smb {
    fn ports(&self) -> &'static [u16] {
        &[139, 445]
    }

    fn name(&self) -> &'static str {
        "smb"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        match version(pkt.payload) {
            Some(app) => {
                ctx.identify(MASTER);
                ctx.result().app = Some(app);
                Verdict::Done
            }
            None => Verdict::Reject,
        }
    }
}

/// The application of the SMB message at the start of `p`, if it is one.
fn version(p: &[u8]) -> Option<&'static str> {
    if p.len() < MIN_LEN || p[0] != 0 {
        return None;
    }
    let len = u32::from_be_bytes([0, p[1], p[2], p[3]]) as usize;
    if len < MIN_LEN - 4 {
        return None;
    }
    match &p[4..8] {
        b"\xffSMB" => Some(SMB_V1),
        // SMB2 header StructureSize: 64, little endian ([MS-SMB2] §2.2.1.1).
        b"\xfeSMB" if p[8..10] == [64, 0] => Some(SMB_V23),
        b"\xfdSMB" | b"\xfcSMB" => Some(SMB_V23),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// The head of an SMBv1 NEGOTIATE request (`smbv1.pcap`, first payload).
    #[rustfmt::skip]
    const SMB1_NEGOTIATE: &[u8] = &[
        0x00, 0x00, 0x00, 0x85,             // session message, length 133
        0xff, b'S', b'M', b'B',             // protocol
        0x72,                               // command: NEGOTIATE
        0x00, 0x00, 0x00, 0x00,             // status
        0x18, 0x53, 0xc0,                   // flags, flags2
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // pid high, signature, reserved
        0x00, 0x00, 0xff, 0xfe,             // tid, pid
        0x00, 0x00, 0x40, 0x00,             // uid, mid
    ];

    /// The head of an SMB2 message (`smb_deletefile.pcap`, first payload).
    #[rustfmt::skip]
    const SMB2_CREATE: &[u8] = &[
        0x00, 0x00, 0x01, 0x78,             // direct TCP header, length 376
        0xfe, b'S', b'M', b'B',             // protocol
        0x40, 0x00,                         // StructureSize 64
        0x01, 0x00,                         // credit charge
        0x00, 0x00, 0x00, 0x00,             // status
        0x05, 0x00,                         // command: CREATE
        0x00, 0x01,                         // credits
        0x00, 0x00, 0x00, 0x00,             // flags
        0x98, 0x00, 0x00, 0x00,             // next command
        0x9c, 0x0f, 0, 0, 0, 0, 0, 0,       // message id
        0x00, 0x00, 0xff, 0xfe,             // reserved
    ];

    #[test]
    fn versions() {
        for (p, app, dir) in [(SMB1_NEGOTIATE, SMB_V1, 0), (SMB2_CREATE, SMB_V23, 1)] {
            let (verdict, r) = dissect_one(&Smb, &packet(6, dir, 50000, 445, p));
            assert_eq!(verdict, Verdict::Done);
            assert_eq!((r.master, r.app), (Some("NetBIOS"), Some(app)));
        }
        let mut transform = SMB2_CREATE.to_vec();
        transform[4] = 0xfd;
        assert_eq!(version(&transform), Some(SMB_V23));
    }

    #[test]
    fn rejects() {
        let reject = |p: &[u8]| {
            let (verdict, r) = dissect_one(&Smb, &packet(6, 0, 50000, 139, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(&SMB1_NEGOTIATE[..MIN_LEN - 1]); // too short
        let mut p = SMB1_NEGOTIATE.to_vec();
        p[0] = 0x81; // NetBIOS session request
        reject(&p);
        let mut p = SMB1_NEGOTIATE.to_vec();
        p[3] = 0x10; // length below a header
        reject(&p);
        let mut p = SMB1_NEGOTIATE.to_vec();
        p[5] = b'X'; // protocol id
        reject(&p);
        let mut p = SMB2_CREATE.to_vec();
        p[8] = 0x24; // StructureSize
        reject(&p);
        // The tail of a message (kerberos.pcap, port 445).
        reject(&[
            0xb4, 0x46, 0x82, 0xa6, 0x85, 0x0d, 0x31, 0x01, 0x1c, 0x46, 0xef, 0x2b, 0x5c, 0xbf,
            0x9f, 0x95, 0x19, 0x29, 0x5c, 0xf8, 0x47, 0xb9, 0xd9, 0xed, 0x7b, 0xb8, 0xee, 0x6a,
            0x80, 0x1e, 0x4c, 0xbb, 0xbf, 0xc9, 0x33, 0xab, 0xfe, 0x49,
        ]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 1..100)) {
            let _ = dissect_one(&Smb, &packet(6, 0, 1, 445, &data));
        }
    }
}
