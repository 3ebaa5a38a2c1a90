//! How a box treats signatures on what central IT sends it (configs and
//! commands). Verification itself is passed in as a function, so the core
//! stays free of crypto and IO.

/// Whether signed payloads are required, and how they are verified.
pub enum SignaturePolicy<'a> {
    /// No trusted keys: plain JSON is accepted (development only).
    Unsigned,
    /// Only JWS tokens that this function verifies are accepted where a
    /// signature is required; it returns the verified payload or why not.
    Required(&'a dyn Fn(&str) -> Result<Vec<u8>, String>),
}
