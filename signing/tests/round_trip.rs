//! Tokens from `sign_compact` verify and give back the exact payload.

mod support;

use bridgepoint_signing::{
    generate_keypair, looks_like_compact_jws, sign_compact, verify_compact, verify_compact_json,
    SigningKey, MAX_TOKEN_BYTES,
};

#[test]
fn config_round_trip() {
    let pair = generate_keypair().unwrap();
    let payload = br#"{"version":7,"config":{"hub":{"host":"hub.example","port":5004}}}"#;
    let token = sign_compact(payload, &pair.signing);
    assert!(looks_like_compact_jws(&token));
    assert_eq!(verify_compact(&token, &[pair.public]).unwrap(), payload);
    let json = verify_compact_json(&token, &[pair.public]).unwrap();
    assert_eq!(json["version"], 7);
}

#[test]
fn any_trusted_key_may_sign() {
    let a = generate_keypair().unwrap();
    let b = generate_keypair().unwrap();
    let c = generate_keypair().unwrap();
    let trusted = [a.public, b.public, c.public];
    for pair in [&a, &b, &c] {
        let token = sign_compact(b"{}", &pair.signing);
        assert_eq!(verify_compact(&token, &trusted).unwrap(), b"{}");
    }
}

#[test]
fn binary_and_empty_payloads() {
    let pair = generate_keypair().unwrap();
    let all_bytes: Vec<u8> = (0..=255).collect();
    for payload in [&b""[..], &all_bytes[..], "xin chào, Việt Nam".as_bytes()] {
        let token = sign_compact(payload, &pair.signing);
        assert_eq!(verify_compact(&token, &[pair.public]).unwrap(), payload);
    }
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let pair = generate_keypair().unwrap();
    let token = sign_compact(b"{}", &pair.signing);
    for framed in [
        format!("{token}\n"),
        format!("  {token}\r\n"),
        format!("\t{token}"),
    ] {
        assert_eq!(verify_compact(&framed, &[pair.public]).unwrap(), b"{}");
        assert!(looks_like_compact_jws(&framed));
    }
}

#[test]
fn signing_is_deterministic_and_the_key_survives_its_jwk() {
    let pair = generate_keypair().unwrap();
    let reloaded = SigningKey::from_jwk(&pair.signing.to_jwk()).unwrap();
    assert_eq!(
        sign_compact(b"abc", &pair.signing),
        sign_compact(b"abc", &reloaded)
    );
}

#[test]
fn largest_accepted_token() {
    let pair = generate_keypair().unwrap();
    // Header (20) + 2 dots + signature (86) leave 65428 base64 chars = 49071 bytes.
    let payload = vec![b'a'; 49_071];
    let token = sign_compact(&payload, &pair.signing);
    assert_eq!(token.len(), MAX_TOKEN_BYTES);
    assert_eq!(verify_compact(&token, &[pair.public]).unwrap(), payload);
    let one_more = sign_compact(&vec![b'a'; 49_072], &pair.signing);
    assert!(verify_compact(&one_more, &[pair.public]).is_err());
}

#[test]
fn other_header_parameters_are_ignored() {
    let token = support::signed_with_header(
        r#"{"alg":"EdDSA","kid":"central-2025","typ":"JOSE"}"#,
        b"{}",
    );
    assert_eq!(
        verify_compact(&token, &[support::rfc_public()]).unwrap(),
        b"{}"
    );
}
