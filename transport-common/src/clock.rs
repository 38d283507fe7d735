//! The wall clock and process randomness as the transports hand them to core: seconds since the
//! Unix epoch (exec-plugin credential expiry) and a seed for retry jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch now (0 if the clock is set before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A seed for retry jitter: std's per-process random hash keys mixed with the time.
pub fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2020() {
        assert!(now_unix() > 1_577_836_800);
    }

    #[test]
    fn seeds_differ_between_calls() {
        // Fresh RandomState keys and a moving clock: two equal seeds in a row would mean a constant.
        let seeds: std::collections::HashSet<u64> = (0..8).map(|_| random_seed()).collect();
        assert!(seeds.len() > 1);
    }
}
