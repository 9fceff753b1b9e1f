//! The protobuf messages of NMSG (`nmsg/nmsg.proto`) and of the two base-vendor messages we
//! emit (`nmsg/base/ipconn.proto`, `nmsg/base/encode.proto`), as prost derives: no `protoc`,
//! no hand-written wire code. Field numbers and labels follow `shared/specs/nmsg.md` §2 and §6.
//!
//! proto2 `required` fields are plain values (prost always writes them), `optional` ones are
//! `Option`s. Byte fields are `Vec<u8>` so the sink can keep one message and reuse its buffers.
//! This file does not frame containers (that is `mod.rs`) nor read them (`read.rs`).

use prost::Message;

/// Vendor id of the base vendor (`NMSG_VENDOR_BASE_ID`).
pub const VENDOR_BASE: u32 = 1;
/// `base/ipconn` message type.
pub const MSGTYPE_IPCONN: u32 = 5;
/// `base/encode` message type.
pub const MSGTYPE_ENCODE: u32 = 11;

/// A container body (`nmsg.Nmsg`).
#[derive(Clone, PartialEq, Message)]
pub struct Nmsg {
    /// The payloads.
    #[prost(message, repeated, tag = "1")]
    pub payloads: Vec<NmsgPayload>,
    /// One CRC per payload: `crc32c(payload).swap_bytes()` (`htonl` on little-endian). Not
    /// packed (proto2 default), as libnmsg and go-nmsg write it.
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    pub payload_crcs: Vec<u32>,
    /// Per-sender container counter (sockets only).
    #[prost(uint32, optional, tag = "3")]
    pub sequence: Option<u32>,
    /// Random per-sender stream id (sockets only).
    #[prost(uint64, optional, tag = "4")]
    pub sequence_id: Option<u64>,
}

/// One payload (`nmsg.NmsgPayload`).
#[derive(Clone, PartialEq, Message)]
pub struct NmsgPayload {
    /// Vendor id (1 = base).
    #[prost(uint32, required, tag = "1")]
    pub vid: u32,
    /// Message type within the vendor.
    #[prost(uint32, required, tag = "2")]
    pub msgtype: u32,
    /// Unix seconds.
    #[prost(int64, required, tag = "3")]
    pub time_sec: i64,
    /// Nanoseconds within the second.
    #[prost(fixed32, required, tag = "4")]
    pub time_nsec: u32,
    /// The serialized vendor message.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub payload: Option<Vec<u8>>,
    /// Source id.
    #[prost(uint32, optional, tag = "7")]
    pub source: Option<u32>,
    /// Operator id.
    #[prost(uint32, optional, tag = "8")]
    pub operator: Option<u32>,
    /// Group id.
    #[prost(uint32, optional, tag = "9")]
    pub group: Option<u32>,
}

/// One slice of a container body too large for one container (`nmsg.NmsgFragment`).
#[derive(Clone, PartialEq, Message)]
pub struct NmsgFragment {
    /// Random, shared by all fragments of one container.
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// 0-based index of this fragment.
    #[prost(uint32, required, tag = "2")]
    pub current: u32,
    /// Index of the final fragment (count − 1).
    #[prost(uint32, required, tag = "3")]
    pub last: u32,
    /// The slice.
    #[prost(bytes = "vec", required, tag = "4")]
    pub fragment: Vec<u8>,
    /// `crc32c(whole split byte string).swap_bytes()`.
    #[prost(uint32, optional, tag = "5")]
    pub crc: Option<u32>,
}

/// `nmsg.base.IPConn` (vid 1, msgtype 5).
#[derive(Clone, PartialEq, Message)]
pub struct IpConn {
    /// IP protocol number.
    #[prost(uint32, optional, tag = "1")]
    pub proto: Option<u32>,
    /// 4 or 16 bytes, network order.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub srcip: Option<Vec<u8>>,
    /// Source port.
    #[prost(uint32, optional, tag = "3")]
    pub srcport: Option<u32>,
    /// 4 or 16 bytes, network order.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub dstip: Option<Vec<u8>>,
    /// Destination port.
    #[prost(uint32, optional, tag = "5")]
    pub dstport: Option<u32>,
}

/// What an [`Encode`] payload holds (`nmsg.base.EncodeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum EncodeType {
    /// Plain text.
    Text = 0,
    /// A JSON document.
    Json = 1,
    /// YAML.
    Yaml = 2,
    /// MessagePack.
    Msgpack = 3,
    /// XML.
    Xml = 4,
}

/// `nmsg.base.Encode` (vid 1, msgtype 11): an opaque encoded document.
#[derive(Clone, PartialEq, Message)]
pub struct Encode {
    /// An [`EncodeType`] value.
    #[prost(enumeration = "EncodeType", required, tag = "1")]
    pub r#type: i32,
    /// The document.
    #[prost(bytes = "vec", required, tag = "2")]
    pub payload: Vec<u8>,
}

impl NmsgPayload {
    /// The payload as `base/ipconn`, if it is one and decodes.
    pub fn ipconn(&self) -> Option<IpConn> {
        (self.vid == VENDOR_BASE && self.msgtype == MSGTYPE_IPCONN)
            .then(|| IpConn::decode(self.payload.as_deref().unwrap_or_default()).ok())
            .flatten()
    }

    /// The payload as `base/encode`, if it is one and decodes.
    pub fn encode_msg(&self) -> Option<Encode> {
        (self.vid == VENDOR_BASE && self.msgtype == MSGTYPE_ENCODE)
            .then(|| Encode::decode(self.payload.as_deref().unwrap_or_default()).ok())
            .flatten()
    }
}
