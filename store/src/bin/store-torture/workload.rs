//! The power-cut test's workload, shared by the `store-torture` driver and
//! `tests/power_cut.rs` (which includes this file with `#[path]`): what JSON
//! is written for a config version and for an event seq, and the small
//! deterministic PRNG both use. Everything is a pure function of its input,
//! so the test knows exactly what each acknowledged write must read back as.

/// The name of the counter the driver increments now and then.
pub const LOOP_COUNTER: &str = "torture_loops";

/// A small deterministic PRNG (splitmix64): the same seed gives the same
/// sequence, so a failing iteration can be named by its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_b41d_9e70_1a7e)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Text of `len` characters that depends on `salt`, so that two versions'
/// configs (or two events) never read the same.
fn filler(salt: u64, len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rng = Rng::new(salt);
    let mut text = Vec::with_capacity(len + 16);
    while text.len() < len {
        let mut bits = rng.next_u64();
        for _ in 0..16 {
            text.push(HEX[(bits & 15) as usize]);
            bits >>= 4;
        }
    }
    text.truncate(len);
    // Only ASCII hex digits were pushed.
    String::from_utf8(text).unwrap_or_default()
}

/// The config JSON saved as `version`: mostly a few kB like a real config,
/// every 32nd version 150 kB, so that kills also land in the middle of
/// large writes (and, with engines that keep large values apart, such as
/// sled's blob files, in that path).
pub fn config_json(version: u64) -> String {
    // (`version & 31`: `u64::is_multiple_of` is newer than the workspace's
    // minimum Rust.)
    let len = if version & 31 == 0 {
        150_000
    } else {
        100 + (Rng::new(version).below(4_000) as usize)
    };
    format!(
        r#"{{"version":{version},"device_id":"torture-box","video":{{"fps":30}},"pad":"{}"}}"#,
        filler(version, len)
    )
}

/// The JSON of the event given `seq`.
pub fn event_json(seq: u64) -> String {
    let len = 20 + (Rng::new(!seq).below(600) as usize);
    format!(
        r#"{{"id":"evt-{seq}","seq":{seq},"kind":"call_started","pad":"{}"}}"#,
        filler(!seq, len)
    )
}
