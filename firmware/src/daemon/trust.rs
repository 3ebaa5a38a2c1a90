//! The keys central IT signs configs and commands with
//! (`trust.config_keys`), and the signature policy they give.

use bridgepoint_core::signature::SignaturePolicy;
use bridgepoint_signing::{verify_compact, PublicKey};

/// The box's trusted signing keys.
pub struct Trust {
    keys: Vec<PublicKey>,
}

impl Trust {
    /// Trusts these raw Ed25519 public keys (the startup check has refused
    /// unusable ones; any left over is logged and ignored).
    pub fn new(raw_keys: &[[u8; 32]]) -> Trust {
        let keys: Vec<PublicKey> = raw_keys
            .iter()
            .filter_map(|raw| match PublicKey::from_bytes(raw) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::error!(error = %e, "trust.config_keys: unusable key ignored");
                    None
                }
            })
            .collect();
        if keys.is_empty() {
            tracing::warn!(
                "trust.config_keys is empty: unsigned configs and commands are accepted (development only)"
            );
        }
        Trust { keys }
    }

    /// Runs `decide` with the policy these keys give: signatures required
    /// and checked against them, or (no keys) not required.
    pub fn with_policy<R>(&self, decide: impl FnOnce(SignaturePolicy<'_>) -> R) -> R {
        if self.keys.is_empty() {
            return decide(SignaturePolicy::Unsigned);
        }
        let verify = |token: &str| verify_compact(token, &self.keys).map_err(|e| e.to_string());
        decide(SignaturePolicy::Required(&verify))
    }
}
