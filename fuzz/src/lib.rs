//! The invariants the fuzz targets check, and their fixed fixtures.
//!
//! Each fuzz target in `fuzz_targets/` is one call into the project's parser
//! followed by one call to a `check` function here, which panics (and so makes
//! libFuzzer save the input as a crash) when the parser's answer breaks a
//! promise:
//!
//! - no panic, no hang, no unbounded memory (libFuzzer itself watches those);
//! - a rejection carries a non-empty reason (and, where the type has them, a
//!   non-empty key and message);
//! - what is accepted is within the documented limits;
//! - where a type can be written back (a command, a pushed config, a key, a
//!   simulated-board line), writing it back and parsing again gives the same
//!   value.
//!
//! The fixtures (trusted keys, the box's context for pushes) are fixed so a
//! crash reproduces from its input alone. `seeds` writes the seed corpora
//! from the project's real examples (`cargo run --bin make-seeds`).

pub mod board;
pub mod command;
pub mod config;
pub mod fixtures;
pub mod jws;
pub mod provision;
pub mod seeds;

/// Panics unless `text` has something in it besides whitespace: a rejection
/// must say why.
#[track_caller]
pub fn non_empty(what: &str, text: &str) {
    assert!(
        !text.trim().is_empty(),
        "{what} is empty: a rejection must carry a reason"
    );
}

/// Whether two JSON values are the same, floats within a few units in the
/// last place: serde_json (without its `float_roundtrip` feature, which the
/// project does not enable) reads some floats 1 ULP off the nearest double,
/// so a float written back does not always read as the same bits. Every
/// other value must round-trip exactly.
pub fn json_same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => {
                    x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_same(vx, vy))
        }
        _ => a == b,
    }
}
