//! Modbus over TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b, §3.1.3): nDPI's
//! `Modbus`.
//!
//! Owns recognising the first ADU of a flow on port 502: the MBAP header (transaction id,
//! protocol id 0, a length of 2 to 254 covering the unit id and the PDU, all present in the
//! payload) and a function code from 1 to 127, or an exception reply (code + 0x80). It
//! records the function code of that ADU (`modbus_function`).
//!
//! It does *not* decode PDUs or follow the flow. Port 502 narrows the check: the header alone
//! (a zero and a length) is too weak evidence anywhere else.
//!
//! State: none (the verdict is given on the first payload).

use super::{Context, Dissector, Packet, Transports, Verdict};

/// The master name (nDPI).
pub const MASTER: &str = "Modbus";

/// The registered port (IANA `mbap`).
const PORT: u16 = 502;

mod field {
    use crate::packet::Field;
    pub const PROTOCOL: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    /// Unit identifier, the first byte `LENGTH` counts.
    pub const UNIT: usize = 6;
    pub const FUNCTION: usize = 7;
}

/// Recognises Modbus/TCP on port 502.
#[derive(Debug, Default)]
pub struct Modbus;

impl Dissector for Modbus {
    fn ports(&self) -> &'static [u16] {
        &[502]
    }

    fn name(&self) -> &'static str {
        "modbus"
    }

    fn transports(&self) -> Transports {
        Transports::Tcp
    }

    fn dissect(&self, pkt: &Packet<'_>, ctx: &mut Context<'_>) -> Verdict {
        let p = pkt.payload;
        if !pkt.has_port(PORT) || p.len() <= field::FUNCTION {
            return Verdict::Reject;
        }
        let len = usize::from(crate::packet::be16(&p[field::LENGTH]));
        let function = p[field::FUNCTION];
        // The length counts the unit id and the PDU (at least a function code); the largest
        // PDU is 253 bytes (§4.1 of the application protocol specification).
        if p[field::PROTOCOL] != [0, 0]
            || !(2..=254).contains(&len)
            || p.len() < field::UNIT + len
            || function & 0x7f == 0
        {
            return Verdict::Reject;
        }
        ctx.identify(MASTER);
        ctx.result().set_meta("modbus_function", function);
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::service_testing::{dissect_one, packet};

    /// Read Holding Registers (`modbus.pcap`, first payload).
    #[rustfmt::skip]
    const READ: &[u8] = &[
        0x00, 0xd1,                         // transaction id
        0x00, 0x00,                         // protocol id: Modbus
        0x00, 0x06,                         // length
        0x01,                               // unit id
        0x03,                               // function: Read Holding Registers
        0x00, 0x01, 0x00, 0x01,             // address 1, quantity 1
    ];

    #[test]
    fn request_and_reply() {
        let (verdict, r) = dissect_one(&Modbus, &packet(6, 0, 2074, 502, READ));
        assert_eq!((verdict, r.master), (Verdict::Done, Some("Modbus")));
        assert_eq!(r.meta("modbus_function"), Some(&3u8.into()));
        let exception = [0x00, 0xd1, 0, 0, 0, 3, 1, 0x83, 0x02]; // illegal data address
        let (verdict, _) = dissect_one(&Modbus, &packet(6, 1, 2074, 502, &exception));
        assert_eq!(verdict, Verdict::Done);
    }

    #[test]
    fn rejects() {
        let reject = |port: u16, p: &[u8]| {
            let (verdict, r) = dissect_one(&Modbus, &packet(6, 0, 2074, port, p));
            assert_eq!((verdict, r.master), (Verdict::Reject, None), "{p:02x?}");
        };
        reject(503, READ); // port
        reject(502, &READ[..7]); // no function code
        let mut p = READ.to_vec();
        p[3] = 1; // protocol id
        reject(502, &p);
        let mut p = READ.to_vec();
        p[5] = 1; // length below unit + function
        reject(502, &p);
        let mut p = READ.to_vec();
        p[5] = 7; // length past the payload
        reject(502, &p);
        let mut p = READ.to_vec();
        p[7] = 0x80; // function 0
        reject(502, &p);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..30)) {
            let _ = dissect_one(&Modbus, &packet(6, 0, 1, 502, &data));
        }
    }
}
