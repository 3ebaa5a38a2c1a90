//! RFC 8037 Appendix A test vectors: our signer reproduces the RFC's
//! "Example of Ed25519 signing" token byte for byte, and our verifier
//! accepts it with the RFC's public key.

mod support;

use bridgepoint_signing::{sign_compact, verify_compact, PublicKey};

/// RFC 8037 A.4: the JWS of "Example of Ed25519 signing".
const RFC_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

const RFC_PAYLOAD: &[u8] = b"Example of Ed25519 signing";

#[test]
fn a4_signing_reproduces_the_rfc_token() {
    assert_eq!(sign_compact(RFC_PAYLOAD, &support::rfc_key()), RFC_TOKEN);
}

#[test]
fn a5_verification_with_the_rfc_public_key() {
    // A.2: the public key, as x (base64url) and as config_keys would hold it.
    let from_x = PublicKey::from_base64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    assert_eq!(from_x, support::rfc_public());
    assert_eq!(
        from_x.to_base64(),
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    );
    assert_eq!(verify_compact(RFC_TOKEN, &[from_x]).unwrap(), RFC_PAYLOAD);
}

#[test]
fn a2_public_jwk() {
    assert_eq!(
        support::rfc_public().to_jwk(),
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
    );
}
