//! The simulation's shared bits: the virtual clock's calendar (RFC 3339 timestamps from a fixed
//! epoch), deterministic identifiers (uids, pod-name suffixes) and the scheduled-action queue
//! both fake servers advance as virtual time passes.

use std::collections::BTreeMap;
use std::time::Duration;

/// Seconds since the Unix epoch of the fake cluster's time zero (2026-01-01T00:00:00Z).
pub(crate) const EPOCH_SECS: u64 = 1_767_225_600;

/// An RFC 3339 UTC timestamp (`2026-01-01T00:00:05Z`) for a virtual time.
pub(crate) fn timestamp(at: Duration) -> String {
    let secs = EPOCH_SECS + at.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Nanoseconds since the Unix epoch for a virtual time (Nomad's `CreateTime`s).
pub(crate) fn unix_nanos(at: Duration) -> u128 {
    u128::from(EPOCH_SECS) * 1_000_000_000 + at.as_nanos()
}

// Howard Hinnant's days -> civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A deterministic 64-bit mix (splitmix64) of a string and a counter.
pub(crate) fn mix(text: &str, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ n;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A uid-shaped identifier (`8-4-4-4-12` hex), deterministic in `(text, n)`.
pub(crate) fn uid(text: &str, n: u64) -> String {
    let a = mix(text, n);
    let b = mix(text, n.wrapping_add(0x5bd1_e995));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Kubernetes' `generateName` alphabet (no vowels, no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A 5-character suffix like the ones the apiserver appends to `generateName`.
pub(crate) fn name_suffix(text: &str, n: u64) -> String {
    let mut h = mix(text, n);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Actions scheduled at virtual times, run in time order (ties in scheduling order).
#[derive(Debug)]
pub(crate) struct Schedule<A> {
    queue: BTreeMap<(Duration, u64), A>,
    seq: u64,
}

impl<A> Default for Schedule<A> {
    fn default() -> Self {
        Schedule { queue: BTreeMap::new(), seq: 0 }
    }
}

impl<A> Schedule<A> {
    /// Run `action` at virtual time `at`.
    pub(crate) fn at(&mut self, at: Duration, action: A) {
        self.seq += 1;
        self.queue.insert((at, self.seq), action);
    }

    /// When the next action is due.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    /// The next action due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<(Duration, A)> {
        let key = *self.queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.queue.remove(&key).map(|a| (key.0, a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_count_from_the_epoch() {
        assert_eq!(timestamp(Duration::ZERO), "2026-01-01T00:00:00Z");
        assert_eq!(timestamp(Duration::from_secs(86_400 * 59 + 3661)), "2026-03-01T01:01:01Z");
    }

    #[test]
    fn identifiers_are_deterministic_and_distinct() {
        assert_eq!(uid("a", 1), uid("a", 1));
        assert_ne!(uid("a", 1), uid("a", 2));
        assert_eq!(name_suffix("hello", 3).len(), 5);
        assert_ne!(name_suffix("hello", 3), name_suffix("hello", 4));
    }
}
