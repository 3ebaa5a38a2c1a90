//! Randomness for back-off jitter: a number in `[0, 1)` from the operating
//! system's generator (never a fixed value, so 700 boxes spread out).

/// A random number in `[0, 1)`; 0.5 if the generator cannot be read.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_units_are_in_range_and_vary() {
        let draws: Vec<f64> = (0..100).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|r| (0.0..1.0).contains(r)));
        let first = draws[0];
        assert!(draws.iter().any(|r| *r != first), "not a constant");
    }
}
