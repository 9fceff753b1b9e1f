//! The built-in dissectors, in the order they are offered a flow's packets. Order matters
//! only between dissectors that could both claim the same payload: the more specific first.

use super::Dissector;

/// Every built-in dissector.
pub fn builtin() -> Vec<Box<dyn Dissector>> {
    let mut v: Vec<Box<dyn Dissector>> = Vec::new();
    v.extend(service_protocols());
    v.extend(lan_and_voip_protocols());
    v.extend(main_protocols());
    v
}

/// TLS, QUIC, HTTP (+ SSDP), DNS (+ mDNS, LLMNR), SSH: the protocols that carry most flows.
fn main_protocols() -> Vec<Box<dyn Dissector>> {
    vec![]
}

/// TCP services: mail (SMTP, IMAP, POP3 and their STARTTLS), SMB, RDP, BitTorrent, Kerberos,
/// LDAP, FTP, ...
fn service_protocols() -> Vec<Box<dyn Dissector>> {
    vec![]
}

/// LAN discovery, VoIP and VPN over UDP: DHCP, NTP, NetBIOS, STUN/TURN, SIP/RTP, WireGuard,
/// OpenVPN, DNScrypt, ...
fn lan_and_voip_protocols() -> Vec<Box<dyn Dissector>> {
    vec![]
}
