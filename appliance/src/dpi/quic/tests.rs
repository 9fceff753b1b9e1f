//! Tests of the QUIC Initial dissector: RFC 9001 / RFC 9369 vectors, every reject branch, the
//! reassembler, the sample capture and (when present) the public QUIC captures against
//! nfstream's `requested_server_name`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::AeadInOut;
use proptest::prelude::*;

use super::*;
use crate::capture::PacketSource;
use crate::capture::pcap::PcapSource;
use crate::dpi::tls;
use crate::packet::{Decoder, DecoderConfig};

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

// --- RFC 9001 Appendix A / RFC 9369 Appendix A ----------------------------------------------

const RFC_DCID: &str = "8394c8f03e515708";

/// RFC 9001 A.2 (and RFC 9369 A.2): the client's CRYPTO frame, a 241-byte ClientHello for
/// example.com; the payload is then PADDING to 1162 bytes.
const RFC_CRYPTO_FRAME: &str = "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868\
    04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578\
    616d706c652e636f6dff01000100000a00080006001d00170018001000070005\
    04616c706e000500050100000000003300260024001d00209370b2c9caa47fba\
    baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400\
    0d0010000e0403050306030203080408050806002d00020101001c0002400100\
    3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000\
    75300901100f088394c8f03e51570806048000ffff";

/// RFC 9001 A.2: the protected 1200-byte client Initial (QUIC v1).
const RFC9001_CLIENT_INITIAL: &str = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd46840647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934";

/// RFC 9369 A.2: the same ClientHello protected for QUIC v2.
const RFC9369_CLIENT_INITIAL: &str = "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485\
    dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04\
    9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d\
    250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a\
    12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500\
    cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68\
    18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33\
    12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3\
    d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd\
    6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520\
    bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045\
    636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f\
    ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12\
    16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5\
    4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4\
    fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b\
    8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7\
    14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9\
    9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91\
    abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd\
    80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db\
    848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18\
    d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15\
    c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc\
    7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61\
    f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710\
    10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b\
    3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e\
    06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce\
    8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1\
    34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1\
    e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd\
    5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3\
    8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89\
    d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53\
    6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19\
    9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b\
    a18b2faa745b6fe189cf772a9f84cbfc";

/// RFC 9001 A.1 and RFC 9369 A.1: the client's Initial key, IV and header-protection key.
#[test]
fn rfc_initial_keys() {
    let dcid = unhex(RFC_DCID);
    let k = client_initial_keys(version_params(VERSION_1).unwrap(), &dcid);
    assert_eq!(k.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(k.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(k.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
    let k = client_initial_keys(version_params(VERSION_2).unwrap(), &dcid);
    assert_eq!(k.key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(k.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
    assert_eq!(k.hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
}

fn check_rfc_client_initial(packet: &str, version: u32, unprotected_header: &str) {
    let packet = unhex(packet);
    assert_eq!(packet.len(), 1200);
    let h = parse_long_header(&packet).unwrap();
    assert_eq!(h.version, version);
    assert_eq!(h.packet_type, PacketType::Initial);
    assert_eq!(h.dcid, &unhex(RFC_DCID)[..]);
    assert_eq!(h.scid, b"");
    assert_eq!(h.token, b"");
    assert_eq!(h.length, 1182);
    assert_eq!(h.pn_offset, 18);
    assert!(h.rest.is_empty());

    let mut out = Vec::new();
    let info = decrypt_client_initial(&packet, &mut out).unwrap();
    assert_eq!(info.version, version);
    assert_eq!(info.packet_number, 2);
    assert_eq!(info.packet_len, 1200);
    assert!(!info.connection_close);
    assert_eq!(out[..22], unhex(unprotected_header)[..]);
    let frame = unhex(RFC_CRYPTO_FRAME);
    assert_eq!(info.fragments().len(), 1);
    let f = info.fragments()[0];
    assert_eq!((f.offset, f.len), (0, 241));
    assert_eq!(f.data(&out), &frame[4..]);

    let mut r = CryptoReassembler::default();
    r.push_initial(&info, &out).unwrap();
    assert_eq!(r.client_hello(), Some(&frame[4..]));
    let (ty, body) = tls::split_handshake(r.client_hello().unwrap()).unwrap();
    assert_eq!(ty, 1);
    let ch = tls::parse_client_hello(body).unwrap();
    assert_eq!(ch.server_name, Some("example.com"));
}

#[test]
fn rfc9001_a2_client_initial_v1() {
    check_rfc_client_initial(
        RFC9001_CLIENT_INITIAL,
        VERSION_1,
        "c300000001088394c8f03e5157080000449e00000002",
    );
}

#[test]
fn rfc9369_a2_client_initial_v2() {
    check_rfc_client_initial(
        RFC9369_CLIENT_INITIAL,
        VERSION_2,
        "d36b3343cf088394c8f03e5157080000449e00000002",
    );
}

// --- A test-only protector, to build edge cases ------------------------------------------------

/// Protects an Initial of `version` (RFC 9001 §5.3–5.4) the way a client does. `frames` is
/// padded with zeros (PADDING) to `payload_len` bytes when shorter.
fn protect(
    version: u32,
    dcid: &[u8],
    pn: u32,
    pn_len: usize,
    frames: &[u8],
    payload_len: usize,
) -> Vec<u8> {
    let params = version_params(version).unwrap();
    let keys = client_initial_keys(params, dcid);
    let mut payload = frames.to_vec();
    payload.resize(payload.len().max(payload_len), 0);
    let initial_bits = if params.v2_types { 0x10 } else { 0x00 };
    let mut p = vec![0xc0 | initial_bits | (pn_len as u8 - 1)];
    p.extend_from_slice(&version.to_be_bytes());
    p.push(dcid.len() as u8); // DCID length
    p.extend_from_slice(dcid);
    p.push(0); // SCID length
    p.push(0); // token length
    let length = (pn_len + payload.len() + 16) as u16;
    p.extend_from_slice(&(0x4000 | length).to_be_bytes()); // Length, 2-byte varint
    let pn_offset = p.len();
    p.extend_from_slice(&pn.to_be_bytes()[4 - pn_len..]);
    let mut nonce = keys.iv;
    for (n, b) in nonce[8..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= b;
    }
    let tag = Aes128Gcm::new(&keys.key.into())
        .encrypt_inout_detached(&nonce.into(), &p, payload.as_mut_slice().into())
        .unwrap();
    p.extend_from_slice(&payload);
    p.extend_from_slice(&tag);
    let mut mask = [0u8; 16];
    mask.copy_from_slice(&p[pn_offset + 4..pn_offset + 20]);
    Aes128::new(&keys.hp.into()).encrypt_block((&mut mask).into());
    p[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        p[pn_offset + i] ^= mask[1 + i];
    }
    p
}

const DCID: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];

#[test]
fn every_packet_number_length_and_the_smallest_sample() {
    let mut out = Vec::new();
    for pn_len in 1..=4 {
        let pn = [0x05, 0x0102, 0x01_0203, 0x0102_0304][pn_len - 1];
        // 4 - pn_len plaintext bytes is the least that leaves room for the sample.
        let p = protect(VERSION_1, &DCID, pn, pn_len, &[], 4 - pn_len);
        let info = decrypt_client_initial(&p, &mut out).unwrap();
        assert_eq!(info.packet_number, pn, "pn_len {pn_len}");
        assert!(info.fragments().is_empty());
        // One byte less: the sample no longer fits.
        let mut short = p.clone();
        short.pop();
        let len_at = 1 + 4 + 1 + DCID.len() + 1 + 1;
        short[len_at + 1] -= 1; // shrink Length by one
        assert_eq!(
            decrypt_client_initial(&short, &mut out),
            Err(QuicError::TooShort)
        );
    }
}

#[test]
fn drafts_and_mvfst_versions_decrypt() {
    let mut out = Vec::new();
    for v in [
        0xff00_0016,
        0xff00_0017,
        0xff00_001b,
        0xff00_001d,
        0xff00_0020,
        0xface_b001,
        0xface_b002,
        0x5430_3530,
        0x5430_3531,
        VERSION_2,
    ] {
        // T050/T051 carry gQUIC frames: CRYPTO is 0x08.
        let crypto = if v >> 8 == 0x54_3035 { 0x08 } else { 0x06 };
        let p = protect(v, &DCID, 0, 1, &[crypto, 0x00, 0x03, 1, 2, 3], 1162);
        let info = decrypt_client_initial(&p, &mut out).unwrap();
        assert_eq!(info.version, v);
        assert_eq!(info.fragments()[0].data(&out), &[1, 2, 3]);
    }
}

#[test]
fn frames_allowed_in_initial() {
    let frames = [
        0x00, 0x00, // PADDING
        0x01, // PING
        0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02, 0x07, 0x08, 0x09, // ACK+ECN: 1 extra range
        0x06, 0x02, 0x02, 0xcc, 0xdd, // CRYPTO offset 2, "ccdd"
        0x06, 0x00, 0x02, 0xaa, 0xbb, // CRYPTO offset 0, "aabb"
        0x1c, 0x0a, 0x06, 0x01, b'x', // CONNECTION_CLOSE: code 10, frame 6, reason "x"
    ];
    let p = protect(VERSION_1, &DCID, 0, 2, &frames, 1100);
    let mut out = Vec::new();
    let info = decrypt_client_initial(&p, &mut out).unwrap();
    assert!(info.connection_close);
    let f = info.fragments();
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].offset, f[0].data(&out)), (2, &[0xcc, 0xdd][..]));
    assert_eq!((f[1].offset, f[1].data(&out)), (0, &[0xaa, 0xbb][..]));
}

#[test]
fn rejects_bad_frames() {
    let mut out = Vec::new();
    let cases: [(&[u8], QuicError); 5] = [
        (&[0x08, 0x00], QuicError::UnexpectedFrame), // STREAM
        (&[0x06, 0x00, 0x40], QuicError::BadFrame),  // CRYPTO, length varint cut
        (&[0x06, 0x00, 0x05, 0x01], QuicError::BadFrame), // CRYPTO data past the end
        (&[0x02, 0x00, 0x00, 0x3f, 0x00], QuicError::BadFrame), // ACK, 63 ranges missing
        (
            &[
                0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
            ],
            QuicError::BadFrame,
        ), // offset + len ≥ 2^62
    ];
    for (frames, want) in cases {
        // No padding: PADDING after a cut frame would be read as its bytes.
        let p = protect(VERSION_1, &DCID, 0, 4, frames, 0);
        assert_eq!(
            decrypt_client_initial(&p, &mut out),
            Err(want),
            "{frames:02x?}"
        );
    }
    let many: Vec<u8> = (0..=MAX_FRAGMENTS)
        .flat_map(|_| [0x06, 0x00, 0x00])
        .collect();
    let p = protect(VERSION_1, &DCID, 0, 4, &many, 0);
    assert_eq!(
        decrypt_client_initial(&p, &mut out),
        Err(QuicError::TooManyFragments)
    );
}

#[test]
fn rejects_headers() {
    let mut out = Vec::new();
    let v1 = unhex(RFC9001_CLIENT_INITIAL);
    let cases: Vec<(Vec<u8>, QuicError)> = vec![
        (vec![], QuicError::Truncated),
        (vec![0x40, 0x01, 0x02], QuicError::ShortHeader),
        (vec![0xc0, 0x00, 0x00], QuicError::Truncated), // version cut
        (vec![0xc0, 0, 0, 0, 0, 0, 0], QuicError::VersionNegotiation), // version 0
        (
            vec![0xc0, 0x12, 0x34, 0x56, 0x78, 0, 0],
            QuicError::UnknownVersion,
        ),
        (
            vec![0xc0, 0x51, 0x30, 0x34, 0x36, 0x50],
            QuicError::UnknownVersion,
        ), // gQUIC Q046
        (vec![0xc0, 0, 0, 0, 1, 21], QuicError::BadConnectionId),
        (vec![0xc0, 0, 0, 0, 1, 8, 1, 2], QuicError::Truncated), // DCID cut
        (v1[..20].to_vec(), QuicError::LengthTruncated),
        (v1[..1199].to_vec(), QuicError::LengthTruncated),
        (
            vec![0xc0, 0, 0, 0, 1, 0, 0, 0x44, 0x00],
            QuicError::Truncated,
        ), // token cut
    ];
    for (bytes, want) in cases {
        assert_eq!(
            decrypt_client_initial(&bytes, &mut out),
            Err(want),
            "{bytes:02x?}"
        );
    }
    // Handshake (v1 type 2) and Retry (type 3) are not Initials.
    let mut hs = v1.clone();
    hs[0] = 0xe0;
    hs[17] = 0x44; // no token field: Length follows SCID
    assert_eq!(
        parse_long_header(&hs).unwrap().packet_type,
        PacketType::Handshake
    );
    assert_eq!(
        decrypt_client_initial(&hs, &mut out),
        Err(QuicError::NotInitial)
    );
    let mut retry = v1.clone();
    retry[0] = 0xf0;
    let h = parse_long_header(&retry).unwrap();
    assert_eq!(
        (h.packet_type, h.packet.len(), h.rest.len()),
        (PacketType::Retry, 1200, 0)
    );
    // A flipped ciphertext byte or a server's DCID: the tag fails.
    let mut bad = v1.clone();
    bad[600] ^= 1;
    assert_eq!(
        decrypt_client_initial(&bad, &mut out),
        Err(QuicError::Decrypt)
    );
    let mut other_dcid = v1.clone();
    other_dcid[6] ^= 1;
    assert_eq!(
        decrypt_client_initial(&other_dcid, &mut out),
        Err(QuicError::Decrypt)
    );
}

#[test]
fn coalesced_packets() {
    let mut d = unhex(RFC9001_CLIENT_INITIAL);
    // A Handshake packet (v1 type 2) coalesced after the Initial.
    let hs = [0xe0, 0, 0, 0, 1, 0, 0, 0x05, 1, 2, 3, 4, 5];
    d.extend_from_slice(&hs);
    d.extend_from_slice(&[0; 7]); // trailing zeros, as padding by some stacks
    let h = parse_long_header(&d).unwrap();
    assert_eq!(h.rest.len(), hs.len() + 7);
    let mut out = Vec::new();
    let info = decrypt_client_initial(&d, &mut out).unwrap();
    assert_eq!(info.packet_len, 1200);
    let next = parse_long_header(&d[info.packet_len..]).unwrap();
    assert_eq!(
        (next.packet_type, next.length, next.rest),
        (PacketType::Handshake, 5, &[0u8; 7][..])
    );
    assert_eq!(parse_long_header(next.rest), Err(QuicError::ShortHeader));
}

#[test]
fn no_allocation_once_warm() {
    let p = unhex(RFC9001_CLIENT_INITIAL);
    let mut out = Vec::with_capacity(1200);
    let ptr = out.as_ptr();
    for _ in 0..3 {
        decrypt_client_initial(&p, &mut out).unwrap();
    }
    assert_eq!(out.as_ptr(), ptr);
}

// --- Reassembler ------------------------------------------------------------------------------

#[test]
fn reassembles_out_of_order_and_overlapping() {
    // A ClientHello: type 1, length 6, body 0..6.
    let msg = [0x01, 0x00, 0x00, 0x06, 10, 11, 12, 13, 14, 15];
    let mut r = CryptoReassembler::new(64);
    r.push(6, &msg[6..]).unwrap();
    assert_eq!((r.contiguous_len(), r.client_hello()), (0, None));
    r.push(0, &msg[..3]).unwrap();
    assert_eq!((r.contiguous_len(), r.client_hello()), (3, None));
    r.push(2, &msg[2..7]).unwrap(); // overlaps both sides
    assert_eq!(r.contiguous_len(), 10);
    assert_eq!(r.client_hello(), Some(&msg[..]));
    r.push(0, &msg).unwrap(); // a retransmission changes nothing
    assert_eq!(r.client_hello(), Some(&msg[..]));
    r.clear();
    assert_eq!((r.contiguous_len(), r.client_hello()), (0, None));
}

#[test]
fn reassembler_cap_and_other_messages() {
    let mut r = CryptoReassembler::new(8);
    assert_eq!(r.push(4, &[0; 6]), Err(QuicError::Capped));
    assert!(r.is_capped());
    assert_eq!(r.push(u64::MAX, &[1]), Err(QuicError::Capped));
    r.push(0, &[0x01, 0x00, 0x00, 0x10]).unwrap();
    assert_eq!(r.contiguous_len(), 8);
    assert_eq!(r.client_hello(), None); // 20 bytes never fit in 8
    let mut r = CryptoReassembler::new(8);
    r.push(0, &[0x02, 0x00, 0x00, 0x00]).unwrap(); // ServerHello
    assert_eq!(r.client_hello(), None);
    let mut r = CryptoReassembler::new(0);
    assert_eq!(r.push(0, &[1]), Err(QuicError::Capped));
    assert_eq!(r.push(0, &[]), Ok(()));
    assert_eq!(r.client_hello(), None);
}

#[test]
fn labels_are_unique() {
    let mut labels: Vec<_> = QuicError::ALL.iter().map(|e| e.as_label()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), QuicError::ALL.len());
    for (i, e) in QuicError::ALL.iter().enumerate() {
        assert_eq!(*e as usize, i);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400), offset in any::<u64>()) {
        let mut out = Vec::new();
        let _ = parse_long_header(&bytes);
        let _ = decrypt_client_initial(&bytes, &mut out);
        let mut r = CryptoReassembler::new(256);
        let _ = r.push(offset % 512, &bytes);
        let _ = r.push(offset, &bytes);
        let _ = r.client_hello();
    }

    #[test]
    fn mutated_initials_never_panic(at in 0usize..1200, xor in 1u8..=255, cut in 0usize..1200) {
        let mut p = unhex(RFC9001_CLIENT_INITIAL);
        p[at] ^= xor;
        p.truncate(cut.max(at + 1));
        let mut out = Vec::new();
        if let Ok(info) = decrypt_client_initial(&p, &mut out) {
            let mut r = CryptoReassembler::default();
            let _ = r.push_initial(&info, &out);
            let _ = r.client_hello();
        }
    }

    #[test]
    fn arbitrary_plaintext_frames_never_panic(frames in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = protect(VERSION_1, &DCID, 0, 4, &frames, 0);
        let mut out = Vec::new();
        let _ = decrypt_client_initial(&p, &mut out);
    }
}

// --- Captures ---------------------------------------------------------------------------------

/// A flow's client side: (client ip, client port, server ip, server port).
type FlowId = (IpAddr, u16, IpAddr, u16);

fn ip(bytes: [u8; 16], version: u8) -> IpAddr {
    if version == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    }
}

/// Replays `src` and returns the SNI of every flow whose client Initial CRYPTO stream held a
/// complete ClientHello (empty string when the ClientHello has no server_name).
fn quic_snis(src_name: &str, mut src: PcapSource) -> HashMap<FlowId, String> {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut streams: HashMap<FlowId, CryptoReassembler> = HashMap::new();
    let mut out = Vec::new();
    let mut errors: HashMap<&str, u32> = HashMap::new();
    loop {
        let n = src
            .next_batch(256, &mut |frame| {
                let Ok(d) = decoder.decode(frame.link, frame.data, frame.ts_ns) else {
                    return;
                };
                if d.tuple.protocol != 17 || d.is_fragment {
                    return;
                }
                let start = d.payload_offset as usize;
                let Some(mut payload) = frame.data.get(start..start + d.payload_len as usize)
                else {
                    return;
                };
                let t = d.tuple;
                let id = (
                    ip(t.src_ip, t.ip_version),
                    t.src_port,
                    ip(t.dst_ip, t.ip_version),
                    t.dst_port,
                );
                loop {
                    match decrypt_client_initial(payload, &mut out) {
                        Ok(info) => {
                            let r = streams.entry(id).or_default();
                            let _ = r.push_initial(&info, &out);
                            payload = &payload[info.packet_len..];
                        }
                        Err(e) => {
                            *errors.entry(e.as_label()).or_default() += 1;
                            break;
                        }
                    }
                }
            })
            .unwrap();
        if n == 0 {
            break;
        }
    }
    // Short headers are 1-RTT traffic; everything else says why a long header was skipped.
    errors.remove(QuicError::ShortHeader.as_label());
    println!("{src_name}: long-header payloads skipped: {errors:?}");
    streams
        .into_iter()
        .filter_map(|(id, r)| {
            let (_, body) = tls::split_handshake(r.client_hello()?)?;
            let ch = tls::parse_client_hello(body).ok()?;
            Some((id, ch.server_name.unwrap_or("").to_string()))
        })
        .collect()
}

#[test]
fn sample_capture_quic_flows() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/pcaps/sample.pcap"
    ));
    let snis = quic_snis("sample.pcap", PcapSource::open(&[path]).unwrap());
    assert!(!snis.is_empty(), "no QUIC ClientHello found in sample.pcap");
    for (id, sni) in &snis {
        assert_eq!(sni, "quic.example.com", "{id:?}");
    }
}

/// The public captures: each flow's SNI against nfstream's `requested_server_name`.
#[test]
fn public_captures_match_nfstream() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/public");
    if !dir.is_dir() {
        println!("skipped: {} is missing", dir.display());
        return;
    }
    let names = [
        "quic.pcap",
        "quic-29.pcap",
        "quic-v2.pcapng",
        "quic_interop_V.pcapng",
        "quic-27.pcap",
        "quic-23.pcap",
        "youtube_quic.pcap",
        "quic_frags_ch_in_multiple_packets.pcapng",
        "doq.pcapng",
        "quic_0RTT.pcap",
        "quic_t50.pcap",
        "quic-mvfst-22.pcap",
        "quic046.pcap",
    ];
    for name in names {
        let pcap = dir.join(name);
        let csv = dir.join("nfstream").join(format!("{name}.csv"));
        if !pcap.is_file() {
            println!("skipped: {name} is missing");
            continue;
        }
        let snis = quic_snis(name, PcapSource::open(&[pcap]).unwrap());
        let Ok(csv) = std::fs::read_to_string(&csv) else {
            println!("{name}: {} ClientHellos, no nfstream CSV", snis.len());
            continue;
        };
        let mut lines = csv.lines();
        for (id, sni) in &snis {
            println!("{name}: {id:?} SNI {sni:?}");
        }
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (si, sp, di, dp, pr, rsn) = (
            col("src_ip"),
            col("src_port"),
            col("dst_ip"),
            col("dst_port"),
            col("protocol"),
            col("requested_server_name"),
        );
        let (mut expected, mut matched, mut missed, mut wrong) = (0, 0, 0, 0);
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() < header.len() || f[pr] != "17" || f[rsn].is_empty() {
                continue;
            }
            expected += 1;
            let (Ok(a), Ok(b), Ok(pa), Ok(pb)) = (
                f[si].parse::<IpAddr>(),
                f[di].parse::<IpAddr>(),
                f[sp].parse::<u16>(),
                f[dp].parse::<u16>(),
            ) else {
                continue;
            };
            let want = f[f.len() - (header.len() - rsn)];
            match snis
                .get(&(a, pa, b, pb))
                .or_else(|| snis.get(&(b, pb, a, pa)))
            {
                Some(got) if got == want => matched += 1,
                Some(got) => {
                    wrong += 1;
                    println!("{name}: {a}:{pa} -> {b}:{pb}: got {got:?}, nfstream {want:?}");
                }
                None => {
                    missed += 1;
                    println!("{name}: {a}:{pa} -> {b}:{pb}: no ClientHello, nfstream {want:?}");
                }
            }
        }
        println!(
            "{name}: {matched}/{expected} flows match nfstream's requested_server_name ({missed} without ClientHello, {wrong} different; {} ClientHellos decrypted)",
            snis.len()
        );
    }
}

// --- The dissector -------------------------------------------------------------------------------

mod dissector {
    use super::*;
    use crate::dpi::dns::captures::feed;
    use crate::dpi::{FlowDpi, Value};

    const UDP: u8 = 17;

    fn quic(packets: &[(u8, &[u8])]) -> Box<FlowDpi> {
        feed(Box::new(Quic), (UDP, 50000, 443), packets)
    }

    fn meta<'a>(f: &'a FlowDpi, name: &str) -> Option<&'a str> {
        match f.result.meta(name) {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The RFC 9001 A.2 ClientHello (handshake header included), out of its CRYPTO frame.
    fn rfc_client_hello() -> Vec<u8> {
        unhex(RFC_CRYPTO_FRAME)[4..].to_vec()
    }

    /// A CRYPTO frame with 2-byte varints for offset and length.
    fn crypto(offset: usize, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06]; // CRYPTO
        f.extend((0x4000 | offset as u16).to_be_bytes()); // offset
        f.extend((0x4000 | data.len() as u16).to_be_bytes()); // length
        f.extend(data);
        f
    }

    #[test]
    fn rfc9001_initial() {
        let f = quic(&[(0, &unhex(RFC9001_CLIENT_INITIAL))]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("QUIC"));
        assert_eq!(f.result.requested_server_name, "example.com");
        assert!(
            f.result.client_fingerprint.starts_with("q13d"),
            "{}",
            f.result.client_fingerprint
        );
        assert_eq!(meta(&f, "quic_alpn"), Some("alpn"));
        assert_eq!(meta(&f, "quic_version"), Some("V-1"));
        assert_eq!(meta(&f, "tls_ja3").map(str::len), Some(32));
        let f = quic(&[(0, &unhex(RFC9369_CLIENT_INITIAL))]);
        assert_eq!(meta(&f, "quic_version"), Some("V-2"));
        assert_eq!(f.result.requested_server_name, "example.com");
    }

    #[test]
    fn hello_over_two_initials_out_of_order() {
        let ch = rfc_client_hello();
        let (a, b) = ch.split_at(100);
        let second = protect(VERSION_1, &DCID, 1, 1, &crypto(100, b), 1162);
        let first = protect(VERSION_1, &DCID, 0, 1, &crypto(0, a), 1162);
        // A server Initial: its keys are not the client's, so it does not open.
        let mut server = protect(VERSION_1, &[9; 8], 0, 1, &[], 100);
        *server.last_mut().unwrap() ^= 1;
        let short = [
            0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        ];
        let f = quic(&[(0, &second), (1, &server), (1, &short)]);
        assert!(!f.is_done());
        assert_eq!(f.result.master, Some("QUIC"));
        assert_eq!(f.result.requested_server_name, "");
        let f = quic(&[(0, &second), (1, &server), (1, &short), (0, &first)]);
        assert!(f.is_done());
        assert_eq!(f.result.requested_server_name, "example.com");
    }

    #[test]
    fn coalesced_initials_in_one_datagram() {
        let ch = rfc_client_hello();
        let (a, b) = ch.split_at(150);
        let mut d = protect(VERSION_1, &DCID, 0, 1, &crypto(0, a), 600);
        d.extend(protect(VERSION_1, &DCID, 1, 1, &crypto(150, b), 600));
        let f = quic(&[(0, &d)]);
        assert!(f.is_done());
        assert_eq!(f.result.requested_server_name, "example.com");
    }

    #[test]
    fn reserved_version_probe() {
        let mut d = vec![0xc0]; // long header, fixed bit, Initial
        d.extend([0x1a, 0x2a, 0x3a, 0x4a]); // a version reserved to force negotiation
        d.push(8); // DCID length
        d.extend(DCID);
        d.push(0); // SCID length
        d.resize(1200, 0);
        let f = quic(&[(0, &d)]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("QUIC"));
        assert_eq!(meta(&f, "quic_version"), Some("0x1a2a3a4a"));
        // Shorter than a client's first datagram must be: not claimed.
        let f = quic(&[(0, &d[..1199])]);
        assert_eq!(f.result.master, None);
    }

    /// A Q039-style client packet with a CHLO carrying SNI and UAID.
    fn gquic_chlo(version: &[u8; 4]) -> Vec<u8> {
        let sni = b"www.example.com";
        let ua = b"Chrome/50 Linux";
        let mut p = vec![0x0d]; // public flags: version, 8-byte CID, 1-byte packet number
        p.extend([0x11; 8]); // connection ID
        p.extend(version); // version
        p.push(1); // packet number
        p.extend([0; 12]); // message authentication hash
        p.extend([0xa0, 0x01, 0x00, 0x00]); // STREAM frame, stream 1
        p.extend(b"CHLO"); // message tag
        p.extend([2, 0, 0, 0]); // 2 entries, padding
        p.extend(b"SNI\0"); // tag
        p.extend((sni.len() as u32).to_le_bytes()); // end offset
        p.extend(b"UAID"); // tag
        p.extend(((sni.len() + ua.len()) as u32).to_le_bytes()); // end offset
        p.extend(sni);
        p.extend(ua);
        p
    }

    #[test]
    fn gquic_clear_chlo() {
        let f = quic(&[(0, &gquic_chlo(b"Q039"))]);
        assert!(f.is_done());
        assert_eq!(f.result.master, Some("QUIC"));
        assert_eq!(f.result.requested_server_name, "www.example.com");
        assert_eq!(f.result.user_agent, "Chrome/50 Linux");
        assert_eq!(meta(&f, "quic_version"), Some("Q039"));
        // A version packet without a CHLO yet: identified, waiting.
        let f = quic(&[(0, &gquic_chlo(b"Q043")[..30])]);
        assert!(!f.is_done());
        assert_eq!(f.result.master, Some("QUIC"));
        // Q050 encrypts its Initial: identified, nothing to read.
        let mut q050 = vec![0xc3];
        q050.extend(b"Q050");
        q050.extend([8, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0]);
        let f = quic(&[(0, &q050)]);
        assert!(f.is_done());
        assert_eq!(meta(&f, "quic_version"), Some("Q050"));
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0xff00_001d), "Draft-29");
        assert_eq!(version_name(0xface_b002), "mvfst-2");
        assert_eq!(version_name(0x5430_3531), "T051");
        assert_eq!(version_name(0x1234_5678), "0x12345678");
    }

    #[test]
    fn rejects() {
        let good = unhex(RFC9001_CLIENT_INITIAL);
        let mut corrupt = good.clone();
        corrupt[100] ^= 1;
        let mut unknown = good.clone();
        unknown[1..5].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        let mut handshake = protect(VERSION_1, &DCID, 0, 1, &[], 100);
        handshake[0] = (handshake[0] & !0x30) | 0x20; // long header type 2: Handshake
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("short header", vec![0x40; 40]),
            (
                "version negotiation",
                [&[0xc0][..], &[0; 4], &[0, 0]].concat(),
            ),
            ("unknown version", unknown),
            ("truncated long header", good[..5].to_vec()),
            ("tag does not verify", corrupt),
            ("handshake packet", handshake),
            ("public header without version", vec![0x0c; 30]),
        ];
        for (why, p) in cases {
            let f = quic(&[(0, &p)]);
            assert!(f.is_done(), "{why}");
            assert_eq!(f.result.master, None, "{why}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            datagrams in proptest::collection::vec(
                (0u8..2, proptest::collection::vec(any::<u8>(), 1..1400)), 1..5),
            first_valid in any::<bool>(),
        ) {
            let valid = unhex(RFC9001_CLIENT_INITIAL);
            let mut packets: Vec<(u8, &[u8])> = Vec::new();
            if first_valid {
                packets.push((0, &valid[..600]));
            }
            packets.extend(datagrams.iter().map(|(d, p)| (*d, p.as_slice())));
            let _ = quic(&packets);
        }
    }
}
