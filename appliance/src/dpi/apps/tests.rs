//! Unit tests of the application table: the shipped file, name matching, the naming steps,
//! user files and their errors.

use std::net::IpAddr;

use super::*;

/// A flow `src:sport → dst:dport` over IP protocol `protocol`.
pub(super) fn flow(protocol: u8, src: &str, sport: u16, dst: &str, dport: u16) -> FlowIdentity {
    let addr = |s: &str| -> ([u8; 16], u8) {
        let mut b = [0u8; 16];
        match s.parse::<IpAddr>().expect("test address") {
            IpAddr::V4(a) => {
                b[..4].copy_from_slice(&a.octets());
                (b, 4)
            }
            IpAddr::V6(a) => (a.octets(), 6),
        }
    };
    let (src_ip, ip_version) = addr(src);
    let (dst_ip, _) = addr(dst);
    FlowIdentity {
        protocol,
        ip_version,
        src_ip,
        dst_ip,
        src_port: sport,
        dst_port: dport,
    }
}

/// A result of master `master` with server name `name`.
fn result(master: &'static str, name: &str) -> DpiResult {
    DpiResult {
        master: Some(master),
        requested_server_name: name.to_string(),
        ..DpiResult::default()
    }
}

/// A TCP flow to port 443 of a documentation address (in no application's ranges).
fn web() -> FlowIdentity {
    flow(6, "192.0.2.1", 50000, "198.51.100.7", 443)
}

/// (application_name, application_category_name) of `classify`.
fn name_of(t: &AppTable, r: Option<&DpiResult>, id: &FlowIdentity) -> (String, String) {
    let f = t.classify(r, id);
    (f.application_name, f.application_category_name)
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn builtin_parses_and_knows_every_master() {
    let t = AppTable::builtin();
    for m in [
        "TLS",
        "QUIC",
        "HTTP",
        "DNS",
        "MDNS",
        "LLMNR",
        "SSDP",
        "DHCP",
        "DHCPV6",
        "NTP",
        "NetBIOS",
        "SMBv1",
        "SMBv23",
        "Kerberos",
        "LDAP",
        "SSH",
        "RDP",
        "BitTorrent",
        "STUN",
        "DTLS",
        "SIP",
        "RTP",
        "SRTP",
        "WireGuard",
        "OpenVPN",
        "IPSec",
        "DNScrypt",
        "Dropbox",
        "Spotify",
        "Mikrotik",
        "Teredo",
        "VXLAN",
        "IMAP",
        "IMAPS",
        "POP3",
        "POPS",
        "SMTP",
        "SMTPS",
        "FTP_CONTROL",
        "FTP_DATA",
        "DoH_DoT",
        "Telegram",
        "WebSocket",
        "Modbus",
        "BGP",
        "ICMP",
        "ICMPV6",
        "VNC",
        "Syslog",
        "Radius",
        "NAT-PMP",
        "Zoom",
        "WhatsApp",
        "ApplePush",
    ] {
        assert!(
            t.is_protocol(m),
            "{m} is not a protocol of the shipped table"
        );
    }
    assert_eq!(t.category_of("TLS"), Some("Web"));
    assert_eq!(t.category_of("DNS"), Some("Network"));
    assert_eq!(t.category_of("NetFlix"), Some("Video"));
    assert_eq!(t.category_of("Nope"), None);
    assert!(t.is_app("YouTube") && !t.is_app("TLS"));
}

#[test]
fn builtin_is_shareable() {
    fn shared<T: Clone + std::fmt::Debug + Send + Sync>() {}
    shared::<AppTable>();
}

#[test]
fn suffix_patterns_stop_at_label_boundaries() {
    let t = AppTable::builtin();
    assert_eq!(t.app_for_name("googlevideo.com"), Some("YouTube"));
    assert_eq!(t.app_for_name("r3---sn-x.googlevideo.com"), Some("YouTube"));
    assert_eq!(t.app_for_name("notgooglevideo.com"), None);
    assert_eq!(t.app_for_name("googlevideo.com.example.net"), None);
    // Case, a final dot (absolute DNS name) and an HTTP Host port are ignored.
    assert_eq!(
        t.app_for_name("R3---SN-X.GoogleVideo.COM."),
        Some("YouTube")
    );
    assert_eq!(t.app_for_name("www.netflix.com:8080"), Some("NetFlix"));
    assert_eq!(t.app_for_name(""), None);
    assert_eq!(t.app_for_name("192.0.2.1"), None);
}

#[test]
fn longest_pattern_wins() {
    let t = AppTable::builtin();
    assert_eq!(t.app_for_name("www.youtube.com"), Some("YouTube"));
    assert_eq!(t.app_for_name("upload.youtube.com"), Some("YouTubeUpload"));
    assert_eq!(t.app_for_name("bing.com"), Some("Bing"));
    assert_eq!(t.app_for_name("www.bing.com"), Some("Microsoft365"));
    assert_eq!(t.app_for_name("mail.google.com"), Some("GMail"));
    assert_eq!(t.app_for_name("accounts.google.com"), Some("Google"));
    assert_eq!(t.app_for_name("play.googleapis.com"), Some("PlayStore"));
    assert_eq!(
        t.app_for_name("fonts.googleapis.com"),
        Some("GoogleServices")
    );
}

#[test]
fn open_patterns_match_at_any_label() {
    let t = AppTable::builtin();
    // "netflix." and "google.": any TLD.
    assert_eq!(t.app_for_name("www.netflix.co.uk"), Some("NetFlix"));
    assert_eq!(t.app_for_name("www.google.it"), Some("Google"));
    // "igcdn-photos-": a label prefix.
    assert_eq!(
        t.app_for_name("igcdn-photos-a-a.akamaihd.net"),
        Some("Instagram")
    );
    assert_eq!(t.app_for_name("xigcdn-photos-a.akamaihd.net"), None);
    // An open pattern must still start a label.
    assert_eq!(t.app_for_name("mynetflix.example.com"), None);
}

#[test]
fn master_and_app() {
    let t = AppTable::builtin();
    let r = result("TLS", "ios.nccp.netflix.com");
    let f = t.classify(Some(&r), &web());
    assert_eq!(f.application_name, "TLS.NetFlix");
    assert_eq!(f.application_category_name, "Video");
    assert!(!f.application_is_guessed);
    assert_eq!(f.application_confidence, Confidence::Dpi);
    // No application: the master alone, its category.
    assert_eq!(
        name_of(&t, Some(&result("TLS", "example.org")), &web()),
        pair("TLS", "Web")
    );
    // The application is the master: named once.
    assert_eq!(
        name_of(&t, Some(&result("Zoom", "")), &web()),
        pair("Zoom", "Video")
    );
}

#[test]
fn categories_follow_nfstream() {
    let t = AppTable::builtin();
    let dns = flow(17, "192.0.2.1", 50000, "192.0.2.53", 53);
    // DNS (and mail) keep their own category.
    assert_eq!(
        name_of(&t, Some(&result("DNS", "ios.nccp.netflix.com")), &dns),
        pair("DNS.NetFlix", "Network")
    );
    assert_eq!(
        name_of(&t, Some(&result("SMTPS", "mx.google.com")), &web()),
        pair("SMTPS.Google", "Email")
    );
    // A host's own category beats the application's.
    assert_eq!(
        name_of(
            &t,
            Some(&result("TLS", "connectivitycheck.gstatic.com")),
            &web()
        ),
        pair("TLS.Google", "ConnCheck")
    );
    assert_eq!(
        name_of(
            &t,
            Some(&result("QUIC", "googleads.g.doubleclick.net")),
            &web()
        ),
        pair("QUIC.Google", "Advertisement")
    );
    // A category without an application.
    assert_eq!(
        name_of(&t, Some(&result("HTTP", "msg.71.am")), &web()),
        pair("HTTP", "Streaming")
    );
    // The HTTP response's type beats both.
    let mut r = result("HTTP", "www.microsoft.com");
    r.content_type = "Application/Octet-Stream; charset=binary".into();
    assert_eq!(
        name_of(&t, Some(&r), &web()),
        pair("HTTP.Microsoft", "Download")
    );
    r.content_type = "video/mp4".into();
    assert_eq!(
        name_of(&t, Some(&r), &web()),
        pair("HTTP.Microsoft", "Media")
    );
    r.content_type = "text/html".into();
    assert_eq!(name_of(&t, Some(&r), &web()), pair("HTTP.Microsoft", "Web"));
    // OCSP is named by its type, whatever the server.
    let mut r = result("HTTP", "clients1.google.com");
    r.content_type = "application/ocsp-response".into();
    assert_eq!(name_of(&t, Some(&r), &web()), pair("HTTP.OCSP", "Network"));
}

#[test]
fn local_host_names_are_not_looked_up() {
    let t = AppTable::builtin();
    let mdns = flow(17, "192.0.2.1", 5353, "224.0.0.251", 5353);
    assert_eq!(
        name_of(
            &t,
            Some(&result("MDNS", "_spotify-connect._tcp.local")),
            &mdns
        ),
        pair("MDNS", "Network")
    );
    assert_eq!(
        name_of(&t, Some(&result("DHCP", "netflix.")), &mdns),
        pair("DHCP", "Network")
    );
}

#[test]
fn dissector_app_and_certificate() {
    let t = AppTable::builtin();
    let mut r = result("NetBIOS", "");
    r.app = Some("SMBv1");
    assert_eq!(
        name_of(&t, Some(&r), &web()),
        pair("NetBIOS.SMBv1", "System")
    );
    // The server name is tried first.
    let mut r = result("TLS", "www.facebook.com");
    r.app = Some("Tor");
    assert_eq!(
        name_of(&t, Some(&r), &web()),
        pair("TLS.Facebook", "SocialNetwork")
    );
    r.requested_server_name = "www.q4cyamnc6mtokjurvdclt.com".into();
    assert_eq!(name_of(&t, Some(&r), &web()), pair("TLS.Tor", "VPN"));
    // An unknown SNI: the certificate's CN.
    let mut r = result("TLS", "52.114.250.152");
    r.set_meta("tls_server_cn", "*.teams.microsoft.com");
    assert_eq!(
        name_of(&t, Some(&r), &web()),
        pair("TLS.Teams", "Collaborative")
    );
}

#[test]
fn master_ports_name_dns_over_tls_and_quic() {
    let t = AppTable::builtin();
    let dot = flow(6, "192.0.2.1", 50000, "198.51.100.7", 853);
    assert_eq!(
        name_of(&t, Some(&result("TLS", "")), &dot),
        pair("TLS.DoH_DoT", "Network")
    );
    let doq = flow(17, "::1", 47826, "::1", 784);
    assert_eq!(
        name_of(&t, Some(&result("QUIC", "")), &doq),
        pair("QUIC.DoH_DoT", "Network")
    );
}

#[test]
fn media_masters_name_calls() {
    let t = AppTable::builtin();
    // The server name (a TURN realm) first; Google → GoogleCall, the .facebook TLD too.
    assert_eq!(
        name_of(&t, Some(&result("STUN", "turn.l.google.com")), &web()),
        pair("STUN.GoogleCall", "VoIP")
    );
    assert_eq!(
        name_of(&t, Some(&result("STUN", "turner.facebook")), &web()),
        pair("STUN.FacebookVoip", "VoIP")
    );
    // A dissector's call app as is.
    let google = flow(17, "192.0.2.1", 49153, "142.250.82.99", 3478);
    let mut r = result("SRTP", "");
    r.app = Some("WhatsAppCall");
    assert_eq!(
        name_of(&t, Some(&r), &google),
        pair("SRTP.WhatsAppCall", "VoIP")
    );
    // Shipped masters never use addresses (nfstream: `STUN`, `TLS`, not `TLS.Google`).
    assert_eq!(
        name_of(&t, Some(&result("DTLS", "")), &google),
        pair("DTLS", "Network")
    );
    let tls = flow(6, "192.0.2.1", 42835, "216.58.212.100", 443);
    assert_eq!(
        name_of(&t, Some(&result("TLS", "")), &tls),
        pair("TLS", "Web")
    );
}

#[test]
fn by_address_masters() {
    let mut t = AppTable::builtin();
    t.extend_from_str(
        "user.toml",
        "[protocols]\nSTUN = { category = \"Network\", media = true, by_address = true }\n\
         DTLS = { category = \"Network\", media = true, by_address = true }\n",
    )
    .expect("valid user file");
    // Server address: Google's → GoogleCall; the responder may be the flow's source.
    let google = flow(17, "192.0.2.1", 49153, "142.250.82.99", 3478);
    assert_eq!(
        name_of(&t, Some(&result("DTLS", "")), &google),
        pair("DTLS.GoogleCall", "VoIP")
    );
    let teams = flow(17, "52.114.252.8", 3479, "192.0.2.1", 50016);
    assert_eq!(
        name_of(&t, Some(&result("STUN", "")), &teams),
        pair("STUN.TeamsCall", "VoIP")
    );
    // Names and the dissector's app still come first.
    let mut r = result("STUN", "");
    r.app = Some("WhatsAppCall");
    assert_eq!(
        name_of(&t, Some(&r), &google),
        pair("STUN.WhatsAppCall", "VoIP")
    );
    let other = flow(17, "192.0.2.1", 49153, "198.51.100.7", 3478);
    assert_eq!(
        name_of(&t, Some(&result("STUN", "")), &other),
        pair("STUN", "Network")
    );
}

#[test]
fn ip_prefixes_v4_and_v6() {
    let t = AppTable::builtin();
    let tg = flow(17, "192.0.2.1", 23174, "91.108.8.7", 521);
    let f = t.classify(Some(&DpiResult::default()), &tg);
    assert_eq!(
        (
            f.application_name.as_str(),
            f.application_category_name.as_str()
        ),
        ("Telegram", "Chat")
    );
    assert!(f.application_is_guessed);
    assert_eq!(f.application_confidence, Confidence::MatchByIp);
    // Longest prefix: 17.0.0.0/8 is Apple; v6 too.
    let apple = flow(6, "192.0.2.1", 50000, "17.248.176.75", 12345);
    assert_eq!(name_of(&t, None, &apple), pair("Apple", "Web"));
    let tg6 = flow(6, "2001:db8::1", 50000, "2001:67c:4e8:f004::a", 12345);
    assert_eq!(name_of(&t, None, &tg6), pair("Telegram", "Chat"));
    let fb6 = flow(
        6,
        "2a03:2880:f003:c07:face:b00c::2",
        12345,
        "2001:db8::1",
        50000,
    );
    assert_eq!(name_of(&t, None, &fb6), pair("Facebook", "SocialNetwork"));
    let other6 = flow(6, "2001:db8::1", 50000, "2001:db8::2", 12345);
    assert_eq!(name_of(&t, None, &other6), pair("Unknown", "Unspecified"));
}

#[test]
fn port_guesses() {
    let t = AppTable::builtin();
    let f = t.classify(None, &flow(6, "192.0.2.1", 36050, "192.0.2.2", 3306));
    assert_eq!(
        (
            f.application_name.as_str(),
            f.application_category_name.as_str()
        ),
        ("MySQL", "Database")
    );
    assert!(f.application_is_guessed);
    assert_eq!(f.application_confidence, Confidence::MatchByPort);
    // The responder's port first, then the initiator's (a flow seen from the server side).
    let dot = flow(6, "8.8.8.8", 853, "192.0.2.1", 55856);
    assert_eq!(name_of(&t, None, &dot), pair("DoH_DoT", "Network"));
    // Ranges, UDP.
    let bt = flow(17, "192.0.2.1", 40000, "192.0.2.2", 6885);
    assert_eq!(name_of(&t, None, &bt), pair("BitTorrent", "Download"));
    // Ports beat addresses: Google's address on 443 without payload is `TLS`.
    let tls = flow(6, "192.0.2.1", 43652, "172.217.20.76", 443);
    assert_eq!(name_of(&t, None, &tls), pair("TLS", "Web"));
    // Payload the DNS dissector refused is not guessed DNS (nDPI: excluded protocol); a flow
    // without payload is.
    let dns = flow(17, "192.0.2.1", 52327, "192.0.2.53", 53);
    assert_eq!(
        name_of(&t, Some(&DpiResult::default()), &dns),
        pair("Unknown", "Unspecified")
    );
    assert_eq!(name_of(&t, None, &dns), pair("DNS", "Network"));
    // Other protocols are guessed whatever the payload (SMB seen mid-stream).
    let smb = flow(6, "192.0.2.1", 50000, "192.0.2.2", 445);
    assert_eq!(
        name_of(&t, Some(&DpiResult::default()), &smb),
        pair("SMBv23", "System")
    );
}

#[test]
fn ip_protocol_names() {
    let t = AppTable::builtin();
    let f = t.classify(None, &flow(58, "fe80::1", 0, "ff02::2", 0));
    assert_eq!(
        (
            f.application_name.as_str(),
            f.application_category_name.as_str()
        ),
        ("ICMPV6", "Network")
    );
    // nfstream: DPI confidence, not a guess.
    assert!(!f.application_is_guessed);
    assert_eq!(f.application_confidence, Confidence::Dpi);
    assert_eq!(
        name_of(&t, None, &flow(47, "192.0.2.1", 0, "192.0.2.2", 0)),
        pair("GRE", "Network")
    );
    assert_eq!(
        name_of(&t, None, &flow(50, "192.0.2.1", 0, "192.0.2.2", 0)),
        pair("ESP", "VPN")
    );
    assert_eq!(
        name_of(&t, None, &flow(2, "192.0.2.1", 0, "224.0.0.22", 0)),
        pair("IGMP", "Network")
    );
    assert_eq!(
        name_of(&t, None, &flow(99, "192.0.2.1", 0, "192.0.2.2", 0)),
        pair("Unknown", "Unspecified")
    );
}

#[test]
fn unknown_is_unknown() {
    let t = AppTable::builtin();
    let id = flow(17, "192.0.2.1", 40000, "192.0.2.2", 40001);
    let f = t.classify(None, &id);
    assert_eq!(
        f,
        DpiFields {
            application_name: "Unknown".into(),
            application_category_name: "Unspecified".into(),
            ..DpiFields::default()
        }
    );
    let f = t.classify(Some(&DpiResult::default()), &id);
    assert_eq!(f.application_name, "Unknown");
    assert_eq!(f.application_confidence, Confidence::Unknown);
}

#[test]
fn result_fields_are_copied() {
    let t = AppTable::builtin();
    let mut r = result("HTTP", "example.org");
    r.user_agent = "curl/8".into();
    r.content_type = "text/html".into();
    r.client_fingerprint = "c".into();
    r.server_fingerprint = "s".into();
    r.set_meta("http_method", "GET");
    let f = t.classify(Some(&r), &web());
    assert_eq!(f.requested_server_name, "example.org");
    assert_eq!(f.user_agent, "curl/8");
    assert_eq!(f.content_type, "text/html");
    assert_eq!(
        (f.client_fingerprint.as_str(), f.server_fingerprint.as_str()),
        ("c", "s")
    );
    assert_eq!(f.meta, r.meta);
}

#[test]
fn user_file_extends_and_overrides() {
    let mut t = AppTable::builtin();
    let user = r#"
categories = ["Intranet"]

[protocols]
MyProto = "Intranet"

[apps.Corp]
category = "Intranet"
hosts = ["corp.example", "*.corp-cdn.example", "youtube.com"]
ipv4 = ["10.1.0.0/16"]
ipv6 = ["fd00:1::/32"]

[apps.NetFlix]
category = "Streaming"
hosts = ["myflix.example"]

[host_categories]
"cdn.corp.example" = "Download"

[ports]
MyProto = { tcp = [4444], udp = ["7000-7001"] }
HTTP_Proxy = { tcp = [8081] }
"#;
    t.extend_from_str("user.toml", user)
        .expect("valid user file");
    let f = |name: &str| name_of(&t, Some(&result("TLS", name)), &web());
    assert_eq!(f("www.corp.example"), pair("TLS.Corp", "Intranet"));
    assert_eq!(f("img.corp-cdn.example"), pair("TLS.Corp", "Intranet"));
    assert_eq!(f("cdn.corp.example"), pair("TLS.Corp", "Download"));
    // An existing pattern moves to the user's application; others stay.
    assert_eq!(f("www.youtube.com"), pair("TLS.Corp", "Intranet"));
    assert_eq!(f("i.ytimg.com"), pair("TLS.YouTube", "Media"));
    // An existing application: new category, hosts added, old hosts kept.
    assert_eq!(f("myflix.example"), pair("TLS.NetFlix", "Streaming"));
    assert_eq!(f("www.netflix.com"), pair("TLS.NetFlix", "Streaming"));
    // Ports: new protocol, new port of an old protocol, old ports kept.
    let g = |p: u8, port: u16| name_of(&t, None, &flow(p, "192.0.2.1", 50000, "192.0.2.2", port));
    assert_eq!(g(6, 4444), pair("MyProto", "Intranet"));
    assert_eq!(g(17, 7001), pair("MyProto", "Intranet"));
    assert_eq!(g(6, 8081), pair("HTTP_Proxy", "Web"));
    assert_eq!(g(6, 8080), pair("HTTP_Proxy", "Web"));
    // Prefixes.
    assert_eq!(
        name_of(&t, None, &flow(6, "192.0.2.1", 50000, "10.1.2.3", 1)),
        pair("Corp", "Intranet")
    );
    assert_eq!(
        name_of(&t, None, &flow(6, "2001:db8::1", 50000, "fd00:1::5", 1)),
        pair("Corp", "Intranet")
    );
}

#[test]
fn user_file_on_disk() {
    let dir = std::env::temp_dir().join(format!("xdpflow-apps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("apps.toml");
    std::fs::write(
        &path,
        "[apps.Corp]\ncategory = \"Web\"\nhosts = [\"corp.example\"]\n",
    )
    .expect("write");
    let mut t = AppTable::builtin();
    t.extend_from_file(&path).expect("valid file");
    assert_eq!(t.app_for_name("a.corp.example"), Some("Corp"));
    let missing = dir.join("missing.toml");
    let e = t.extend_from_file(&missing).expect_err("missing file");
    assert!(
        e.contains("missing.toml") && e.contains("cannot read"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// The error for `text`, which must fail.
fn error(text: &str) -> String {
    let mut t = AppTable::builtin();
    let before = t.app_for_name("www.youtube.com").map(str::to_string);
    let e = t
        .extend_from_str("user.toml", text)
        .expect_err("invalid file");
    // Nothing was applied.
    assert_eq!(
        t.app_for_name("www.youtube.com").map(str::to_string),
        before
    );
    assert!(!t.is_app("Corp"));
    e
}

#[test]
fn bad_user_files_name_line_key_and_fix() {
    let e = error("[apps.Corp]\ncategory = \"Vidoe\"\nhosts = [\"youtube.com\"]\n");
    assert_eq!(
        e,
        "user.toml line 2: `apps.Corp.category`: unknown category `Vidoe` (did you mean \
         `Video`?); use a name of `categories`, or add it there"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\nhost = [\"corp.example\"]\n");
    assert!(
        e.starts_with("user.toml line 3: `apps.Corp.host`: unknown key (did you mean `hosts`?)"),
        "{e}"
    );
    let e = error("[apps.Corp]\nhosts = [\"corp.example\"]\n");
    assert!(
        e.starts_with("user.toml line 1: `apps.Corp`: a new application needs a `category`"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\n\nipv4 = [\"10.1.2.0/16\"]\n");
    assert!(
        e.contains("line 4: `apps.Corp.ipv4[0]`: `10.1.2.0/16` has bits set")
            && e.contains("`10.1.0.0/16`"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\nipv6 = [\"10.1.0.0/16\"]\n");
    assert!(
        e.contains("line 3") && e.contains("not an IPv6 prefix"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\nhosts = [\"a b.example\"]\n");
    assert!(
        e.contains("line 3: `apps.Corp.hosts[0]`: pattern `a b.example` may hold only"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\nhosts = [\"a.example\", \"*.a.example\"]\n");
    assert!(
        e.contains("`apps.Corp.hosts[1]`: pattern `a.example` is already given at line 3"),
        "{e}"
    );
    let e = error("[ports]\nMySQl = { tcp = [3307] }\n");
    assert!(
        e.starts_with(
            "user.toml line 2: `ports.MySQl`: unknown protocol `MySQl` (did you mean `MySQL`?)"
        ),
        "{e}"
    );
    let e = error("[ports]\nMySQL = { tcp = [3307] }\nOracle = { tcp = [\"3300-3310\"] }\n");
    assert!(
        e.contains(
            "line 3: `ports.Oracle.tcp[0]`: tcp port 3307 is already given to `MySQL` at line 2"
        ),
        "{e}"
    );
    let e = error("[ports]\nMySQL = { tcp = [70000] }\n");
    assert!(
        e.contains("line 2") && e.contains("expected a port from 0 to 65535"),
        "{e}"
    );
    let e = error("[app.Corp]\ncategory = \"Web\"\n");
    assert!(
        e.starts_with("user.toml line 1: `app`: unknown section (did you mean `apps`?)"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\ncall = \"Corpcall\"\n");
    assert!(
        e.contains("line 3: `apps.Corp.call`: unknown application `Corpcall`"),
        "{e}"
    );
    let e = error("[apps.Corp]\ncategory = \"Web\"\nhosts = [\"x\"\n");
    assert!(
        e.starts_with("user.toml line 3: ") && e.contains("must be TOML"),
        "{e}"
    );
    let e = error("[protocols]\nCorp = { category = \"Web\", media = \"yes\" }\n");
    assert!(
        e.contains("line 2: `protocols.Corp.media`: expected true or false"),
        "{e}"
    );
    let e = error("[content_types]\n\"text/x-corp\" = { app = \"Corpp\" }\n");
    assert!(
        e.contains("line 2: `content_types.\"text/x-corp\".app`: unknown application `Corpp`"),
        "{e}"
    );
    let e = error("[ip_protocols]\n\"300\" = \"GRE\"\n");
    assert!(e.contains("line 2") && e.contains("from 0 to 255"), "{e}");
}

#[test]
fn long_server_names_keep_their_last_79_bytes_as_ndpi() {
    let long = format!("{}.example.com", "a".repeat(100));
    let cut = super::exported_name(&long);
    assert_eq!(cut.len(), super::MAX_SERVER_NAME);
    assert!(cut.ends_with(".example.com") && long.ends_with(cut));
    assert_eq!(super::exported_name("short.example"), "short.example");
    // Never inside a UTF-8 character.
    let wide = "é".repeat(60);
    let cut = super::exported_name(&wide);
    assert!(cut.len() <= super::MAX_SERVER_NAME && wide.ends_with(cut));
}
