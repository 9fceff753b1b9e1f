use super::*;

/// A ClientHello body, each field annotated. GREASE in ciphers, extensions, versions, groups.
#[rustfmt::skip]
pub(super) const CLIENT_HELLO: &[u8] = &[
    0x03, 0x03,                         // legacy_version TLS 1.2
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, // random
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x02, 0xab, 0xcd,                   // session id, 2 bytes
    0x00, 0x06,                         // cipher_suites length 6
    0x0a, 0x0a,                         //   GREASE
    0x13, 0x01,                         //   TLS_AES_128_GCM_SHA256
    0xc0, 0x2f,                         //   TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0x01, 0x00,                         // compression methods: 1, null
    0x00, 0x51,                         // extensions length 81
    0x1a, 0x1a, 0x00, 0x00,             //   GREASE extension, empty
    0x00, 0x00, 0x00, 0x10,             //   server_name, 16 bytes
    0x00, 0x0e,                         //     server_name_list length 14
    0x00,                               //     host_name
    0x00, 0x0b,                         //     length 11
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
    0x00, 0x10, 0x00, 0x0e,             //   ALPN, 14 bytes
    0x00, 0x0c,                         //     protocol_name_list length 12
    0x02, b'h', b'2',                   //     "h2"
    0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1', // "http/1.1"
    0x00, 0x2b, 0x00, 0x07,             //   supported_versions, 7 bytes
    0x06, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03, // GREASE, TLS 1.3, TLS 1.2
    0x00, 0x0d, 0x00, 0x06,             //   signature_algorithms, 6 bytes
    0x00, 0x04, 0x04, 0x03, 0x08, 0x04, //     ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    0x00, 0x0a, 0x00, 0x08,             //   supported_groups, 8 bytes
    0x00, 0x06, 0x3a, 0x3a, 0x00, 0x1d, 0x00, 0x17, // GREASE, x25519, secp256r1
    0x00, 0x0b, 0x00, 0x02,             //   ec_point_formats, 2 bytes
    0x01, 0x00,                         //     uncompressed
];

/// Offset of the extensions length in [`CLIENT_HELLO`].
const CH_EXT_AT: usize = 2 + 32 + 3 + 8 + 2;

#[test]
fn client_hello_fields() {
    let ch = parse_client_hello(CLIENT_HELLO).unwrap();
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.random, &[0x11; 32]);
    assert_eq!(ch.session_id, &[0xab, 0xcd]);
    assert_eq!(
        ch.cipher_suites.iter().collect::<Vec<_>>(),
        [0x0a0a, 0x1301, 0xc02f]
    );
    assert_eq!(ch.compression_methods, &[0]);
    assert_eq!(
        ch.extensions.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        [0x1a1a, 0, 16, 43, 13, 10, 11]
    );
    assert_eq!(ch.extensions.len(), 7);
    assert_eq!(ch.extensions.get(11), Some(&[0x01, 0x00][..]));
    assert!(ch.has_server_name);
    assert_eq!(ch.server_name, Some("example.com"));
    assert_eq!(
        ch.alpn.iter().collect::<Vec<_>>(),
        [&b"h2"[..], b"http/1.1"]
    );
    assert_eq!(
        ch.supported_versions.iter().collect::<Vec<_>>(),
        [0x2a2a, 0x0304, 0x0303]
    );
    assert_eq!(ch.tls_version(), 0x0304);
    assert_eq!(version_name(ch.tls_version()), Some("TLSv1.3"));
    assert_eq!(
        ch.signature_algorithms.iter().collect::<Vec<_>>(),
        [0x0403, 0x0804]
    );
    assert_eq!(
        ch.supported_groups.iter().collect::<Vec<_>>(),
        [0x3a3a, 0x001d, 0x0017]
    );
    assert_eq!(ch.ec_point_formats, &[0]);
}

#[test]
fn client_hello_fingerprints() {
    let ch = parse_client_hello(CLIENT_HELLO).unwrap();
    assert_eq!(ja3(&ch), "771,4865-49199,0-16-43-13-10-11,29-23,0");
    assert_eq!(ja3_hash(&ch), hex(&md5::Md5::digest(ja3(&ch).as_bytes())));
    assert_eq!(ja3_hash(&ch).len(), 32);
    // 2 ciphers, 6 extensions (GREASE out), ALPN "h2".
    assert!(ja4(&ch, Transport::Tcp).starts_with("t13d0206h2_"));
    assert!(ja4(&ch, Transport::Quic).starts_with("q13d0206h2_"));
}

#[test]
fn is_grease_matches_rfc8701() {
    for hi in 0..16u16 {
        let v = (hi << 12) | 0x0a00 | (hi << 4) | 0x0a;
        assert!(is_grease(v), "{v:04x}");
    }
    assert!(!is_grease(0x0a1a));
    assert!(!is_grease(0x1301));
    assert!(!is_grease(0x0a0b));
}

/// Test builder: a ClientHello body from ciphers and `(type, data)` extensions.
fn build_client_hello(ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend([0u8; 32]);
    b.push(0);
    b.extend(u16::try_from(ciphers.len() * 2).unwrap().to_be_bytes());
    for c in ciphers {
        b.extend(c.to_be_bytes());
    }
    b.extend([1, 0]);
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend(t.to_be_bytes());
        e.extend(u16::try_from(d.len()).unwrap().to_be_bytes());
        e.extend(d);
    }
    b.extend(u16::try_from(e.len()).unwrap().to_be_bytes());
    b.extend(e);
    b
}

/// Test-only: a `'static` slice for results that borrow their input.
fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

/// `u16` list with a 2-byte length prefix.
fn u16_list(v: &[u16]) -> Vec<u8> {
    let mut b = u16::try_from(v.len() * 2).unwrap().to_be_bytes().to_vec();
    for x in v {
        b.extend(x.to_be_bytes());
    }
    b
}

/// The worked example of FoxIO's JA4.md, rebuilt as a ClientHello.
fn ja4_spec_hello() -> Vec<u8> {
    let ciphers = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let mut sni = vec![0, 14, 0, 0, 11];
    sni.extend(b"example.com");
    let exts: Vec<(u16, Vec<u8>)> = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ]
    .iter()
    .map(|&t| {
        let d = match t {
            0x0000 => sni.clone(),
            0x0010 => vec![0, 3, 2, b'h', b'2'],
            0x000d => u16_list(&sigs),
            0x002b => vec![4, 0x03, 0x04, 0x03, 0x03],
            0x000a => u16_list(&[0x001d]),
            0x000b => vec![1, 0],
            _ => Vec::new(),
        };
        (t, d)
    })
    .collect();
    // A GREASE cipher and extension must change nothing.
    let mut with_grease = vec![0xdada];
    with_grease.extend(ciphers);
    let mut exts_g = vec![(0x5a5a, Vec::new())];
    exts_g.extend(exts);
    build_client_hello(&with_grease, &exts_g)
}

#[test]
fn ja4_matches_the_spec_example() {
    let body = ja4_spec_hello();
    let ch = parse_client_hello(&body).unwrap();
    assert_eq!(
        ja4(&ch, Transport::Tcp),
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    // Without signature algorithms the string ends before the `_` (JA4.md).
    let sorted = [
        0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
        0x0033, 0x4469, 0xff01,
    ];
    assert_eq!(ja4_hash(&sorted, std::iter::empty()), "6d807ffa2a79");
    assert_eq!(ja4_hash(&[], [1u16].into_iter()), "000000000000");
}

#[test]
fn ja4_edge_cases() {
    // No SNI, no ALPN, no extensions, TLS 1.0, 1 cipher.
    let mut body = build_client_hello(&[0x002f], &[]);
    body[1] = 0x01;
    let ch = parse_client_hello(&body).unwrap();
    assert_eq!(
        &ja4(&ch, Transport::Tcp)[..23],
        "t10i010000_".to_owned() + &ja4_hash(&[0x002f], std::iter::empty())
    );
    assert!(ja4(&ch, Transport::Tcp).ends_with("_000000000000"));
    // Over 99 ciphers: counted as 99; unknown version "00".
    let many: Vec<u16> = (1..=120).collect();
    let mut body = build_client_hello(&many, &[]);
    body[0] = 0x7f;
    let ch = parse_client_hello(&body).unwrap();
    assert!(ja4(&ch, Transport::Tcp).starts_with("t00i9900"));
    // ALPN characters.
    let alpn = |name: &[u8]| {
        let mut d = u16::try_from(name.len() + 1)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        d.push(u8::try_from(name.len()).unwrap());
        d.extend(name);
        let body = build_client_hello(&[1], &[(16, d)]);
        let ch = parse_client_hello(&body).unwrap();
        ja4(&ch, Transport::Tcp)[8..10].to_owned()
    };
    assert_eq!(alpn(b"http/1.1"), "h1");
    assert_eq!(alpn(b"x"), "xx");
    assert_eq!(alpn(&[0xab]), "ab");
    assert_eq!(alpn(&[0xab, 0xcd]), "ad");
    assert_eq!(alpn(&[0x30, 0xab]), "3b");
    assert_eq!(alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
    assert_eq!(alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
}

#[test]
fn client_hello_without_extensions() {
    let body = &CLIENT_HELLO[..CH_EXT_AT];
    let ch = parse_client_hello(body).unwrap();
    assert!(ch.extensions.is_empty());
    assert!(!ch.has_server_name);
    assert_eq!(ch.server_name, None);
    assert_eq!(ch.tls_version(), 0x0303);
    assert_eq!(ja3(&ch), "771,4865-49199,,,");
}

#[test]
fn client_hello_every_truncation_is_rejected() {
    for n in 0..CLIENT_HELLO.len() {
        let r = parse_client_hello(&CLIENT_HELLO[..n]);
        if n == CH_EXT_AT {
            assert!(r.is_ok(), "{n}");
        } else {
            assert_eq!(r.unwrap_err(), TlsError::Truncated, "prefix {n}");
        }
    }
}

/// [`CLIENT_HELLO`] with `f` applied.
fn patched(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = CLIENT_HELLO.to_vec();
    f(&mut b);
    b
}

#[test]
fn client_hello_rejects() {
    let err = |b: Vec<u8>| parse_client_hello(&b).unwrap_err();
    // Trailing byte after the extensions.
    assert_eq!(err(patched(|b| b.push(0))), TlsError::TrailingBytes);
    // Session id of 33 bytes.
    let mut long_sid = CLIENT_HELLO[..34].to_vec();
    long_sid.push(33);
    long_sid.extend([0; 33]);
    long_sid.extend(&CLIENT_HELLO[37..]);
    assert_eq!(err(long_sid), TlsError::BadLength);
    // Odd cipher list: length 5 (and the rest shifts, but the check comes first).
    assert_eq!(err(patched(|b| b[38] = 5)), TlsError::BadLength);
    // Empty cipher list and empty compression methods.
    assert_eq!(
        parse_client_hello(&build_client_hello(&[], &[])).unwrap_err(),
        TlsError::EmptyList
    );
    let mut no_comp = build_client_hello(&[1], &[]);
    no_comp[2 + 32 + 1 + 4] = 0; // compression count 0
    no_comp.remove(2 + 32 + 1 + 4 + 1); // the method byte
    assert_eq!(err(no_comp), TlsError::EmptyList);
    // An extension whose length overruns the block.
    assert_eq!(err(patched(|b| b[CH_EXT_AT + 5] = 1)), TlsError::Truncated);
    // Block length overrunning the body.
    assert_eq!(err(patched(|b| b[CH_EXT_AT + 1] += 1)), TlsError::Truncated);
}

#[test]
fn server_name_branches() {
    let sni = |d: Vec<u8>| parse_client_hello(leak(build_client_hello(&[1], &[(0, d)])));
    // Unknown name type: no name, no error.
    let ch = sni(vec![0, 4, 1, 0, 1, b'a']).unwrap();
    assert!(ch.has_server_name);
    assert_eq!(ch.server_name_raw, None);
    // Not printable: raw only.
    let ch = sni(vec![0, 5, 0, 0, 2, b'a', 0x07]).unwrap();
    assert_eq!(ch.server_name, None);
    assert_eq!(ch.server_name_raw, Some(&[b'a', 0x07][..]));
    // Empty extension body: tolerated, no name.
    let ch = sni(vec![]).unwrap();
    assert!(ch.has_server_name && ch.server_name.is_none());
    // Empty list, empty name, name overrunning, list overrunning, trailing bytes.
    for bad in [
        vec![0, 0],
        vec![0, 3, 0, 0, 0],
        vec![0, 4, 0, 0, 5, b'a'],
        vec![0, 9, 0, 0, 1, b'a'],
        vec![0, 4, 0, 0, 1, b'a', 0],
        vec![0],
    ] {
        assert_eq!(
            sni(bad.clone()).unwrap_err(),
            TlsError::BadServerName,
            "{bad:?}"
        );
    }
}

#[test]
fn alpn_and_list_extension_branches() {
    let one = |t: u16, d: Vec<u8>| parse_client_hello(leak(build_client_hello(&[1], &[(t, d)])));
    for bad in [
        vec![0, 0],
        vec![0, 1, 0],
        vec![0, 3, 5, b'h', b'2'],
        vec![0, 3, 2, b'h', b'2', 0],
        vec![0],
    ] {
        assert_eq!(
            one(16, bad.clone()).unwrap_err(),
            TlsError::BadAlpn,
            "{bad:?}"
        );
    }
    // supported_versions: empty list, odd list, trailing byte, overrun.
    assert_eq!(one(43, vec![0]).unwrap_err(), TlsError::EmptyList);
    assert_eq!(one(43, vec![1, 3]).unwrap_err(), TlsError::BadLength);
    assert_eq!(
        one(43, vec![2, 3, 4, 0]).unwrap_err(),
        TlsError::BadExtension
    );
    assert_eq!(one(43, vec![4, 3, 4]).unwrap_err(), TlsError::BadExtension);
    // signature_algorithms / supported_groups: odd, overrun; empty list is accepted.
    for t in [13, 10] {
        assert_eq!(one(t, vec![0, 1, 4]).unwrap_err(), TlsError::BadExtension);
        assert_eq!(
            one(t, vec![0, 4, 4, 3]).unwrap_err(),
            TlsError::BadExtension
        );
        assert!(one(t, vec![0, 0]).unwrap().supported_groups.is_empty());
    }
    // ec_point_formats: overrun, trailing.
    assert_eq!(one(11, vec![2, 0]).unwrap_err(), TlsError::BadExtension);
    assert_eq!(one(11, vec![1, 0, 0]).unwrap_err(), TlsError::BadExtension);
    // A duplicate extension: the first one counts.
    let body = build_client_hello(&[1], &[(11, vec![1, 0]), (11, vec![1, 2])]);
    assert_eq!(parse_client_hello(&body).unwrap().ec_point_formats, &[0]);
}

/// A TLS 1.3 ServerHello body.
#[rustfmt::skip]
pub(super) const SERVER_HELLO: &[u8] = &[
    0x03, 0x03,                         // legacy_version
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, // random
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x01, 0x77,                         // session id echo, 1 byte
    0x13, 0x01,                         // cipher TLS_AES_128_GCM_SHA256
    0x00,                               // compression null
    0x00, 0x0f,                         // extensions length 15
    0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, //   supported_versions: TLS 1.3
    0x00, 0x10, 0x00, 0x05,             //   ALPN, 5 bytes
    0x00, 0x03, 0x02, b'h', b'2',       //     ["h2"]
];

#[test]
fn server_hello_fields_and_ja3s() {
    let sh = parse_server_hello(SERVER_HELLO).unwrap();
    assert_eq!(sh.legacy_version, 0x0303);
    assert_eq!(sh.random, &[0x22; 32]);
    assert_eq!(sh.session_id, &[0x77]);
    assert_eq!(sh.cipher_suite, 0x1301);
    assert_eq!(sh.compression_method, 0);
    assert_eq!(sh.supported_version, Some(0x0304));
    assert_eq!(sh.version(), 0x0304);
    assert_eq!(sh.alpn, Some(&b"h2"[..]));
    assert!(!sh.is_hello_retry_request());
    assert_eq!(ja3s(&sh), "771,4865,43-16");
    assert_eq!(ja3s_hash(&sh).len(), 32);
    // Without extensions (TLS 1.0 servers).
    let sh = parse_server_hello(&SERVER_HELLO[..39]).unwrap();
    assert_eq!(sh.version(), 0x0303);
    assert_eq!(ja3s(&sh), "771,4865,");
    // HelloRetryRequest.
    let mut hrr = SERVER_HELLO.to_vec();
    hrr[2..34].copy_from_slice(&HELLO_RETRY_REQUEST_RANDOM);
    assert!(parse_server_hello(&hrr).unwrap().is_hello_retry_request());
}

#[test]
fn server_hello_rejects() {
    for n in 0..SERVER_HELLO.len() {
        if n != 39 {
            assert_eq!(
                parse_server_hello(&SERVER_HELLO[..n]).unwrap_err(),
                TlsError::Truncated,
                "prefix {n}"
            );
        }
    }
    let mut t = SERVER_HELLO.to_vec();
    t.push(0);
    assert_eq!(parse_server_hello(&t).unwrap_err(), TlsError::TrailingBytes);
    let mut sid = SERVER_HELLO.to_vec();
    sid[34] = 33;
    sid.extend([0; 40]); // enough bytes that the length check, not truncation, rejects it
    assert_eq!(parse_server_hello(&sid).unwrap_err(), TlsError::BadLength);
    // supported_versions of 3 bytes (list form, as a client's).
    let mut sv = SERVER_HELLO[..39].to_vec();
    sv.extend([0, 7, 0, 0x2b, 0, 3, 2, 3, 4]);
    assert_eq!(parse_server_hello(&sv).unwrap_err(), TlsError::BadExtension);
    // ALPN naming two protocols.
    let mut alpn = SERVER_HELLO[..39].to_vec();
    alpn.extend([0, 11, 0, 0x10, 0, 7, 0, 5, 1, b'a', 2, b'h', b'2']);
    assert_eq!(parse_server_hello(&alpn).unwrap_err(), TlsError::BadAlpn);
}

/// Test builder: one DER TLV (short or long length form).
pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut b = vec![tag];
    match content.len() {
        n @ 0..=127 => b.push(u8::try_from(n).unwrap()),
        n @ 128..=255 => b.extend([0x81, u8::try_from(n).unwrap()]),
        n => b.extend([0x82, u8::try_from(n >> 8).unwrap(), (n & 0xff) as u8]),
    }
    b.extend(content);
    b
}

/// Test builder: a Name with one AttributeTypeAndValue per RDN.
pub(super) fn name(atvs: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (oid, tag, value) in atvs {
        let atv = [tlv(DER_OID, oid), tlv(*tag, value)].concat();
        rdns.extend(tlv(DER_SET, &tlv(DER_SEQUENCE, &atv)));
    }
    tlv(DER_SEQUENCE, &rdns)
}

/// A skeletal X.509 certificate: version, serial, algorithm, issuer, validity, subject.
pub(super) fn certificate(issuer: &[u8], subject: &[u8], padding: usize) -> Vec<u8> {
    let tbs = [
        tlv(DER_VERSION, &tlv(DER_INTEGER, &[2])),
        tlv(DER_INTEGER, &[0x01, 0x02]),
        tlv(DER_SEQUENCE, &tlv(DER_OID, &[0x2a, 0x86, 0x48])),
        issuer.to_vec(),
        tlv(DER_SEQUENCE, &[]),
        subject.to_vec(),
        tlv(0x04, &vec![0; padding]), // stands for the key and extensions
    ]
    .concat();
    tlv(
        DER_SEQUENCE,
        &[tlv(DER_SEQUENCE, &tbs), tlv(DER_SEQUENCE, &[])].concat(),
    )
}

pub(super) const OID_C: &[u8] = &[0x55, 0x04, 0x06];

#[test]
fn certificate_names() {
    let issuer = name(&[(OID_C, 19, b"US"), (&OID_COMMON_NAME, 19, b"Test CA")]);
    let subject = name(&[(&OID_COMMON_NAME, 12, "bücher.example".as_bytes())]);
    let der = certificate(&issuer, &subject, 300);
    assert_eq!(
        subject_issuer_cn(&der),
        (
            Some("bücher.example".to_owned()),
            Some("Test CA".to_owned())
        )
    );
    // T61String as Latin-1, BMPString, UniversalString; the last CN wins.
    let t61 = name(&[(&OID_COMMON_NAME, 20, &[b'M', 0xfc, b'n'])]);
    let bmp = name(&[
        (&OID_COMMON_NAME, 22, b"first"),
        (&OID_COMMON_NAME, 30, &[0x00, b'h', 0x00, 0xe9]),
    ]);
    assert_eq!(
        subject_issuer_cn(&certificate(&t61, &bmp, 0)),
        (Some("hé".to_owned()), Some("Mün".to_owned()))
    );
    let ucs4 = name(&[(&OID_COMMON_NAME, 28, &[0, 0, 0, b'x', 0, 0x11, 0, 0])]);
    let none = name(&[(OID_C, 19, b"DE")]);
    assert_eq!(
        subject_issuer_cn(&certificate(&none, &ucs4, 0)),
        (Some("x\u{fffd}".to_owned()), None)
    );
    // Unknown string type: no name.
    let odd = name(&[(&OID_COMMON_NAME, 4, b"octets")]);
    assert_eq!(subject_issuer_cn(&certificate(&odd, &odd, 0)), (None, None));
    // Without the optional version field.
    let mut v1 = certificate(&issuer, &subject, 0);
    let cut = tlv(DER_VERSION, &tlv(DER_INTEGER, &[2])).len();
    v1.drain(4..4 + cut);
    v1[3] -= u8::try_from(cut).unwrap();
    v1[1] -= u8::try_from(cut).unwrap();
    assert_eq!(subject_issuer_cn(&v1).1, Some("Test CA".to_owned()));
}

#[test]
fn certificate_names_from_broken_der() {
    let issuer = name(&[(&OID_COMMON_NAME, 19, b"Test CA")]);
    let subject = name(&[(&OID_COMMON_NAME, 19, b"leaf")]);
    let der = certificate(&issuer, &subject, 0);
    for n in 0..der.len() {
        // Every prefix fails the outer length: nothing is read.
        assert_eq!(subject_issuer_cn(&der[..n]), (None, None), "{n}");
    }
    assert_eq!(subject_issuer_cn(&[]), (None, None));
    assert_eq!(subject_issuer_cn(&[0x30, 0x80, 0, 0]), (None, None)); // indefinite length
    assert_eq!(
        subject_issuer_cn(&[0x30, 0x85, 0, 0, 0, 0, 1]),
        (None, None)
    ); // 5 length bytes
    assert_eq!(subject_issuer_cn(&[0x1f, 0x01, 0]), (None, None)); // high tag number
    assert_eq!(subject_issuer_cn(&tlv(0x31, &[])), (None, None)); // not a SEQUENCE
}

#[test]
fn certificate_message() {
    let a = certificate(&name(&[]), &name(&[]), 0);
    let mut body = Vec::new();
    let list = [
        &[0, 0, u8::try_from(a.len()).unwrap()][..],
        &a,
        &[0, 0, 2],
        &[0x30, 0x00],
    ]
    .concat();
    body.extend([0, 0, u8::try_from(list.len()).unwrap()]);
    body.extend(&list);
    let certs = parse_certificate(&body).unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs.leaf(), Some(&a[..]));
    assert_eq!(certs.iter().nth(1), Some(&[0x30, 0x00][..]));
    for n in 0..body.len() {
        assert_eq!(
            parse_certificate(&body[..n]).unwrap_err(),
            TlsError::Truncated
        );
    }
    body.push(0);
    assert_eq!(
        parse_certificate(&body).unwrap_err(),
        TlsError::TrailingBytes
    );
    assert_eq!(
        parse_certificate(&[0, 0, 3, 0, 0, 0]).unwrap_err(),
        TlsError::EmptyList
    );
    let empty = parse_certificate(&[0, 0, 0]).unwrap();
    assert!(empty.is_empty() && empty.leaf().is_none());
}

/// Test builder: `msgs` as handshake messages inside one handshake record.
pub(super) fn record(ct: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend(u16::try_from(payload.len()).unwrap().to_be_bytes());
    r.extend(payload);
    r
}

pub(super) fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut m = vec![ty, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    m.extend(body);
    m
}

#[test]
fn split_handshake_header() {
    assert_eq!(
        split_handshake(&[1, 0, 0, 2, 9, 9, 7]),
        Some((1, &[9, 9][..]))
    );
    assert_eq!(split_handshake(&[1, 0, 0, 2, 9]), None);
    assert_eq!(split_handshake(&[1, 0, 0]), None);
    assert_eq!(split_handshake(&[14, 0, 0, 0]), Some((14, &[][..])));
}

#[test]
fn reassembler_byte_by_byte_and_across_records() {
    let ch = handshake(1, CLIENT_HELLO);
    // One message over two records, then a record with two messages, then CCS.
    let (a, b) = ch.split_at(30);
    let mut stream = record(22, a);
    stream.extend(record(22, b));
    stream.extend(record(
        22,
        &[handshake(11, &[0, 0, 0]), handshake(14, &[])].concat(),
    ));
    stream.extend(record(20, &[1]));
    stream.extend(record(22, &[0xee; 40])); // encrypted Finished: must be ignored
    let mut r = RecordReassembler::default();
    for (i, byte) in stream.iter().enumerate() {
        let p = r.push(std::slice::from_ref(byte));
        // Done once the ChangeCipherSpec record header (before 1 + 45 bytes) is complete.
        if i < stream.len() - 46 - 1 {
            assert_eq!(p, Progress::NeedMore, "{i}");
        }
    }
    assert_eq!(r.progress(), Progress::Done);
    let msgs: Vec<_> = r.messages().collect();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0], (1, CLIENT_HELLO));
    assert_eq!(msgs[1], (11, &[0, 0, 0][..]));
    assert_eq!(msgs[2], (14, &[][..]));
    assert_eq!(r.message(1), Some(CLIENT_HELLO));
    assert_eq!(r.message(2), None);
    assert!(parse_client_hello(r.message(1).unwrap()).is_ok());
    // Whole stream in one segment.
    let mut r = RecordReassembler::default();
    assert_eq!(r.push(&stream), Progress::Done);
    assert_eq!(r.messages().count(), 3);
    assert_eq!(r.push(&stream), Progress::Done); // ignored
    assert_eq!(r.messages().count(), 3);
}

#[test]
fn reassembler_incomplete_capped_and_not_tls() {
    let ch = handshake(1, CLIENT_HELLO);
    let mut r = RecordReassembler::default();
    assert_eq!(r.push(&record(22, &ch[..50])), Progress::NeedMore);
    assert_eq!(r.messages().count(), 0);
    // Cap in the middle of the second message.
    let two = [handshake(2, &[1; 10]), handshake(11, &[2; 100])].concat();
    let mut r = RecordReassembler::new(40);
    assert_eq!(r.push(&record(22, &two)), Progress::Capped);
    assert_eq!(r.handshake_bytes().len(), 40);
    assert_eq!(r.messages().collect::<Vec<_>>(), [(2, &[1; 10][..])]);
    assert_eq!(r.push(&record(22, &two)), Progress::Capped);
    let mut r = RecordReassembler::new(0);
    assert_eq!(r.push(&record(22, &two)), Progress::Capped);
    // Encrypted alerts and application data end the handshake.
    for (ct, len) in [(21, 26), (23, 2)] {
        assert_eq!(
            RecordReassembler::default().push(&record(ct, &vec![0; len])),
            Progress::Done
        );
    }
    // A plaintext warning alert before the ServerHello is skipped, even split up.
    let stream = [record(21, &[1, 112]), record(22, &handshake(2, &[7; 40]))].concat();
    let mut r = RecordReassembler::default();
    for b in &stream {
        assert_eq!(r.push(std::slice::from_ref(b)), Progress::NeedMore);
    }
    assert_eq!(r.messages().collect::<Vec<_>>(), [(2, &[7; 40][..])]);
    // Not TLS: HTTP, unknown content type, wrong major version, oversize, empty handshake.
    for bad in [
        b"GET / HTTP/1.1\r\n".to_vec(),
        record(24, &[0]),
        vec![22, 2, 0, 0, 1, 0],
        vec![22, 3, 3, 0x48, 0x01],
        vec![22, 3, 1, 0, 0],
    ] {
        let mut r = RecordReassembler::default();
        assert_eq!(r.push(&bad), Progress::NotTls, "{bad:?}");
        assert_eq!(r.messages().count(), 0);
    }
}

#[test]
fn error_labels_are_distinct() {
    let all = [
        TlsError::Truncated,
        TlsError::TrailingBytes,
        TlsError::BadLength,
        TlsError::EmptyList,
        TlsError::BadServerName,
        TlsError::BadAlpn,
        TlsError::BadExtension,
    ];
    let labels: std::collections::HashSet<_> = all.iter().map(|e| e.as_label()).collect();
    assert_eq!(labels.len(), all.len());
    assert!(!TlsError::Truncated.to_string().is_empty());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        if let Ok(ch) = parse_client_hello(&bytes) {
            let _ = (ja3_hash(&ch), ja4(&ch, Transport::Tcp), ch.tls_version());
            let _ = (ch.alpn.iter().count(), ch.extensions.len());
        }
        if let Ok(sh) = parse_server_hello(&bytes) {
            let _ = (ja3s_hash(&sh), sh.version());
        }
        if let Ok(c) = parse_certificate(&bytes) {
            let _ = c.iter().map(subject_issuer_cn).count();
        }
        let _ = subject_issuer_cn(&bytes);
        let _ = split_handshake(&bytes);
        let mut r = RecordReassembler::new(256);
        for chunk in bytes.chunks(7) {
            r.push(chunk);
        }
        let _ = r.messages().count();
    }

    #[test]
    fn mutated_client_hello_never_panics(
        edits in proptest::collection::vec((0..CLIENT_HELLO.len(), proptest::num::u8::ANY), 1..6),
        cut in 0..=CLIENT_HELLO.len(),
    ) {
        let mut b = CLIENT_HELLO.to_vec();
        for (at, v) in edits {
            b[at] = v;
        }
        b.truncate(cut);
        if let Ok(ch) = parse_client_hello(&b) {
            let _ = (ja3(&ch), ja4(&ch, Transport::Quic));
        }
        let mut r = RecordReassembler::default();
        r.push(&record(22, &handshake(1, &b)));
        let _ = r.messages().count();
    }
}

mod pcaps;
