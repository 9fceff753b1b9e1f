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
    // Each claims only on its own first bytes (and DNS on its ports), so the order matters
    // little; the cheapest rejects come first. WebSocket frames (a weaker signature than the
    // rest) go last.
    vec![
        Box::new(super::tls::Tls),
        Box::new(super::http::Http),
        Box::new(super::ssh::Ssh),
        Box::new(super::dns::Dns),
        Box::new(super::quic::Quic),
        Box::new(super::http::Ssdp),
        Box::new(super::tls::Dtls),
        Box::new(super::http::WebSocket),
    ]
}

/// TCP services: mail (SMTP, IMAP, POP3 and their STARTTLS), SMB, RDP, BitTorrent, Kerberos,
/// LDAP, FTP, ...
pub(crate) fn service_protocols() -> Vec<Box<dyn Dissector>> {
    use super::mail::{imap, pop3, smtp};
    use super::{
        bgp, bittorrent, db, ftp, git, kerberos, ldap, modbus, rdp, rtsp, smb, telnet, vnc,
    };
    // Binary openers first (each decides on the first payload); then the text dialogues,
    // SMTP before FTP: both wait after a `220` greeting and the client's command tells.
    vec![
        Box::new(kerberos::Kerberos),
        Box::new(ldap::Ldap),
        Box::new(smb::Smb),
        Box::new(bittorrent::BitTorrent),
        Box::new(rdp::Rdp),
        Box::new(bgp::Bgp),
        Box::new(modbus::Modbus),
        Box::new(vnc::Vnc),
        Box::new(db::mysql::MySql),
        Box::new(db::postgres::Postgres),
        Box::new(db::tds::Tds),
        Box::new(db::tns::Tns),
        Box::new(git::Git),
        Box::new(telnet::Telnet),
        Box::new(smtp::Smtp),
        Box::new(pop3::Pop3),
        Box::new(imap::Imap),
        Box::new(ftp::FtpControl),
        Box::new(ftp::FtpData),
        Box::new(rtsp::Rtsp),
    ]
}

/// LAN discovery, VoIP and VPN over UDP: DHCP, NTP, NetBIOS, STUN/TURN, SIP/RTP, WireGuard,
/// OpenVPN, DNScrypt, ...
fn lan_and_voip_protocols() -> Vec<Box<dyn Dissector>> {
    use super::{
        bittorrent_udp, dhcp, dhcpv6, dnscrypt, dropbox, ipsec, mikrotik, natpmp, netbios, ntp,
        openvpn, radius, rtp, sip, spotify, stun, syslog, telegram, teredo, wireguard, zoom,
    };
    vec![
        // DNSCrypt's certificate queries look like DNS: before the DNS dissector.
        Box::new(dnscrypt::DnsCrypt),
        // Port-bound formats with strong content checks.
        Box::new(dhcp::Dhcp),
        Box::new(dhcpv6::Dhcpv6),
        Box::new(netbios::NetBios),
        Box::new(dropbox::Dropbox),
        Box::new(spotify::Spotify),
        Box::new(mikrotik::Mikrotik),
        Box::new(teredo::Teredo),
        Box::new(ntp::Ntp),
        Box::new(natpmp::NatPmp),
        Box::new(radius::Radius),
        Box::new(syslog::Syslog),
        Box::new(ipsec::Ipsec),
        Box::new(sip::Sip),
        // STUN before RTP (and the main group's DTLS): it follows them when they come after
        // ICE.
        Box::new(stun::Stun),
        Box::new(telegram::Telegram),
        Box::new(zoom::Zoom),
        Box::new(wireguard::WireGuard),
        Box::new(openvpn::OpenVpn),
        Box::new(bittorrent_udp::BitTorrentUdp),
        // Needs two packets of a direction; weakest evidence, last.
        Box::new(rtp::Rtp),
    ]
}
