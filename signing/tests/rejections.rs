//! Every kind of bad token is rejected with an error naming what is wrong,
//! never a panic: bad signatures, unknown keys, invalid JSON, oversize
//! tokens, wrong `alg` (`none` included), malformed compact serialization,
//! `crit` headers, non-JSON headers.

mod support;

use bridgepoint_signing::{
    generate_keypair, sign_compact, verify_compact, verify_compact_json, Part, PublicKey,
    SigningError, MAX_TOKEN_BYTES,
};
use support::{b64, rfc_public, signed_raw, signed_with_header};

const EDDSA: &str = r#"{"alg":"EdDSA"}"#;

fn reject(token: &str) -> SigningError {
    verify_compact(token, &[rfc_public()]).expect_err("token must be rejected")
}

fn good_token() -> String {
    sign_compact(br#"{"version":1,"config":{}}"#, &support::rfc_key())
}

#[test]
fn bad_signature() {
    let token = good_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    sig[10] ^= 0x01;
    let e = reject(&format!("{input}.{}", b64(&sig)));
    assert_eq!(
        e.to_string(),
        "signature does not verify with the trusted key"
    );
}

#[test]
fn altered_payload() {
    let token = good_token();
    let (header, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let altered = format!(
        "{header}.{}.{sig}",
        b64(br#"{"version":1,"config":{"hub":"evil"}}"#)
    );
    assert!(matches!(
        reject(&altered),
        SigningError::BadSignature { trusted: 1 }
    ));
}

#[test]
fn unknown_key() {
    let stranger = generate_keypair().unwrap();
    let token = sign_compact(b"{}", &stranger.signing);
    let other = generate_keypair().unwrap().public;
    let e = verify_compact(&token, &[rfc_public(), other]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "signature does not verify with any of the 2 trusted keys"
    );
}

#[test]
fn no_trusted_keys() {
    let e = verify_compact(&good_token(), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no trusted keys to verify the signature with"
    );
}

#[test]
fn one_megabyte_payload() {
    let pair = generate_keypair().unwrap();
    let token = sign_compact(&vec![b' '; 1 << 20], &pair.signing);
    let e = verify_compact(&token, &[pair.public]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("token is {} bytes, limit 65536", token.len())
    );
    // The size is checked before anything else, even on garbage.
    let e = reject(&"x".repeat(1_048_600));
    assert_eq!(e.to_string(), "token is 1048600 bytes, limit 65536");
    let e = reject(&" ".repeat(MAX_TOKEN_BYTES + 1));
    assert!(matches!(e, SigningError::TokenTooLarge { .. }), "{e}");
}

#[test]
fn wrong_alg() {
    for (alg, want) in [
        ("none", "alg \"none\" is not accepted (only EdDSA)"),
        ("HS256", "alg \"HS256\" is not accepted (only EdDSA)"),
        ("RS256", "alg \"RS256\" is not accepted (only EdDSA)"),
        ("ES256", "alg \"ES256\" is not accepted (only EdDSA)"),
        ("Ed25519", "alg \"Ed25519\" is not accepted (only EdDSA)"),
        ("EDDSA", "alg \"EDDSA\" is not accepted (only EdDSA)"),
    ] {
        let token = signed_with_header(&format!(r#"{{"alg":"{alg}"}}"#), b"{}");
        assert_eq!(reject(&token).to_string(), want);
    }
    // The classic unsigned token: alg none, empty signature.
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
    assert_eq!(
        reject(&unsigned).to_string(),
        "alg \"none\" is not accepted (only EdDSA)"
    );
    let no_alg = signed_with_header(r#"{"typ":"JWT"}"#, b"{}");
    assert_eq!(reject(&no_alg).to_string(), "header has no \"alg\"");
    let twice = signed_with_header(r#"{"alg":"EdDSA","alg":"none"}"#, b"{}");
    assert_eq!(
        reject(&twice).to_string(),
        "header has the parameter \"alg\" more than once"
    );
}

#[test]
fn crit_header() {
    let token = signed_with_header(r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#, b"{}");
    assert_eq!(
        reject(&token).to_string(),
        "header has \"crit\" ([\"exp\"]); no critical header extensions are supported"
    );
    let b64_false = signed_with_header(r#"{"alg":"EdDSA","b64":false,"crit":["b64"]}"#, b"{}");
    assert!(matches!(
        reject(&b64_false),
        SigningError::CriticalHeader(_)
    ));
}

#[test]
fn header_not_json() {
    for header in ["alg=EdDSA", "", "{\"alg\":\"EdDSA\"", "{'alg':'EdDSA'}"] {
        let token = signed_with_header(header, b"{}");
        let e = reject(&token);
        assert!(
            e.to_string().starts_with("header is not JSON: "),
            "{header:?}: {e}"
        );
    }
    let latin1 = signed_raw(&b64(b"{\"alg\":\"EdDSA\",\"x\":\"\xe9\"}"), &b64(b"{}"));
    assert!(reject(&latin1)
        .to_string()
        .starts_with("header is not JSON: "));
    for header in ["\"EdDSA\"", "[\"EdDSA\"]", "null", "1"] {
        let e = reject(&signed_with_header(header, b"{}"));
        assert_eq!(
            e.to_string(),
            "header is JSON but not an object",
            "{header}"
        );
    }
}

#[test]
fn payload_not_json() {
    let token = sign_compact(b"{\"version\":1,", &support::rfc_key());
    // The bytes verify; only the JSON variant looks inside.
    assert!(verify_compact(&token, &[rfc_public()]).is_ok());
    let e = verify_compact_json(&token, &[rfc_public()]).unwrap_err();
    assert!(e.to_string().starts_with("payload is not JSON: "), "{e}");
    // An unverified payload is never parsed: the signature error comes first.
    let stranger = generate_keypair().unwrap();
    let e = verify_compact_json(
        &sign_compact(b"not json", &stranger.signing),
        &[rfc_public()],
    )
    .unwrap_err();
    assert!(matches!(e, SigningError::BadSignature { .. }), "{e}");
}

#[test]
fn wrong_number_of_parts() {
    let token = good_token();
    let (h, rest) = token.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for (bad, parts) in [
        (format!("{h}.{p}"), 2),
        (format!("{h}{p}{s}"), 1),
        (format!("{h}.{p}.{s}.{s}"), 4),
        (format!("{h}.{p}.{s}.{s}.{s}"), 5), // JWE compact shape
        (format!("{h}.{p}.{s}."), 4),
        (format!(".{h}.{p}.{s}"), 4),
        ("..".repeat(30_000), 60_001),
    ] {
        let e = reject(&bad);
        assert!(
            matches!(e, SigningError::WrongPartCount { parts: n } if n == parts),
            "{bad:.40}: {e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("token has {parts} part(s)")),
            "{e}"
        );
    }
    assert_eq!(reject("").to_string(), "token is empty");
    assert_eq!(reject(" \n").to_string(), "token is empty");
}

#[test]
fn bad_base64url() {
    // The RFC 8037 token: its signature has both '-' and '_'.
    let token = sign_compact(b"Example of Ed25519 signing", &support::rfc_key());
    let (h, rest) = token.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    assert!(s.contains('-') && s.contains('_'));
    // Standard-alphabet characters, foreign characters, whitespace inside.
    for (bad, part) in [
        (format!("{h}+.{p}.{s}"), Part::Header),
        (format!("{h}.{p}/.{s}"), Part::Payload),
        (format!("{h}.{p}.{s}*"), Part::Signature),
        (
            format!("{h}.{p}.{}", s.replace('_', "/").replace('-', "+")),
            Part::Signature,
        ),
        (format!("{h}.{p} .{s}"), Part::Payload),
        (format!("{h}.{p}.{s}é"), Part::Signature),
        (format!("{h}.{p}.AAA{s}"), Part::Signature), // 89 chars: impossible length 4n+1
    ] {
        match reject(&bad) {
            SigningError::Base64 { part: got, .. } => assert_eq!(got, part, "{bad}"),
            e => panic!("{bad}: expected a base64 error, got {e}"),
        }
    }
    // Non-canonical last character: "e30" is "{}", "e31" has stray low bits.
    let e = reject(&signed_raw(&b64(EDDSA.as_bytes()), "e31"));
    assert!(
        e.to_string()
            .starts_with("payload is not valid base64url: "),
        "{e}"
    );
}

#[test]
fn padding() {
    let header = format!("{}=", b64(br#"{"alg":"EdDSA" }"#)); // 16 bytes -> needs 2 pad chars
    let token = signed_raw(&format!("{header}="), &b64(b"{}"));
    assert_eq!(
        reject(&token).to_string(),
        "header has '=' padding, which the JWS compact serialization does not allow"
    );
    let payload = "e30="; // "{}" with padding
    let e = reject(&signed_raw(&b64(EDDSA.as_bytes()), payload));
    assert!(
        matches!(
            e,
            SigningError::Padding {
                part: Part::Payload
            }
        ),
        "{e}"
    );
    let token = good_token();
    let e = reject(&format!("{token}=="));
    assert!(
        matches!(
            e,
            SigningError::Padding {
                part: Part::Signature
            }
        ),
        "{e}"
    );
}

#[test]
fn signature_length() {
    let token = good_token();
    let (input, _) = token.rsplit_once('.').unwrap();
    for len in [0usize, 1, 63, 65, 128] {
        let e = reject(&format!("{input}.{}", b64(&vec![7u8; len])));
        assert_eq!(
            e.to_string(),
            format!("signature is {len} bytes, an Ed25519 signature is 64")
        );
    }
}

#[test]
fn every_single_character_change_is_rejected() {
    let token = good_token();
    let replacements = ['A', 'g', '-', '.', '=', '/', ' ', 'é'];
    let trusted: [PublicKey; 1] = [rfc_public()];
    let mut tried = 0;
    for (i, original) in token.char_indices() {
        for r in replacements {
            if r == original {
                continue;
            }
            let mut mutated = String::with_capacity(token.len() + 2);
            mutated.push_str(&token[..i]);
            mutated.push(r);
            mutated.push_str(&token[i + original.len_utf8()..]);
            assert!(
                verify_compact(&mutated, &trusted).is_err(),
                "accepted: {mutated}"
            );
            tried += 1;
        }
    }
    assert!(tried > 1000, "{tried}");
}
