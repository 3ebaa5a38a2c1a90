//! Signed configuration for the Bridgepoint box.
//!
//! Central IT publishes the box's desired config as a JWS compact
//! serialization (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037,
//! header `{"alg":"EdDSA"}`). A box whose `[trust] config_keys` lists one or
//! more public keys accepts a config only if one of them verifies it, so a
//! forged or altered config can neither take a box off the air nor send its
//! room's video elsewhere.
//!
//! The pieces:
//! - [`keys`]: public keys (base64 of the raw 32 bytes), private keys
//!   (RFC 8037 JWK) and key generation from the OS's randomness.
//! - [`jws`]: [`sign_compact`], [`verify_compact`] and
//!   [`looks_like_compact_jws`].
//! - `header`: strict checks of the protected header.
//! - [`error`]: [`SigningError`], whose message names what is wrong.
//!
//! Bad input never panics: every rejection is a [`SigningError`].

pub mod error;
mod header;
pub mod jws;
pub mod keys;

pub use error::{Part, SigningError};
pub use jws::{
    looks_like_compact_jws, sign_compact, verify_compact, verify_compact_json, MAX_TOKEN_BYTES,
};
pub use keys::{generate_keypair, KeyPair, PublicKey, SigningKey};
