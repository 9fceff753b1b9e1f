//! Rings shared with the kernel: AF_XDP (UMEM, FILL/COMPLETION/RX/TX) and AF_PACKET
//! (TPACKET_V3). Every kernel call goes through `sys`.

// AF_XDP
mod abi;
mod queue;
mod umem;
mod xsk;
// af_xdp exports
pub use self::xsk::{BindMode, XskConfig, XskSocket, XskStatistics};

// AF_PACKET and ethtool
pub(crate) mod ethtool;
mod tpacket;
// af_packet exports
pub use self::tpacket::{PacketRing, PacketRingConfig, PacketStatistics};

mod netns;
pub(crate) mod sys;

pub use self::netns::enter_netns;
