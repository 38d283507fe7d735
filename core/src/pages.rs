//! Bounded pagination: what every "read all pages" loop checks before it asks for the next page
//! (Kubernetes `continue` tokens, Nomad `X-Nomad-NextToken`).
//!
//! A server or proxy that repeats a token (at once or after a cycle) would make the loop run
//! forever, and one that hands out fresh tokens forever would make the result grow without end:
//! [`Pages::next`] refuses both with [`Error::Decode`] saying what happened and what to do.

use std::collections::HashSet;

use crate::error::{Error, Result};

/// How many pages a list reads at most by default: 1,000 pages of 500 objects is half a million
/// objects.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// The pages one list has read so far, and the tokens it was given.
#[derive(Debug, Clone)]
pub struct Pages {
    read: u32,
    max: u32,
    /// Hashes of the tokens seen (a token may be kilobytes; its hash is eight bytes).
    tokens: HashSet<u64>,
    /// The hash of the token the caller started from, if any (kept across restarts).
    start: Option<u64>,
}

impl Default for Pages {
    fn default() -> Self {
        Pages::new(DEFAULT_MAX_PAGES)
    }
}

fn hash(token: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    h.finish()
}

impl Pages {
    /// At most `max` pages (at least 1).
    pub fn new(max: u32) -> Self {
        Pages { read: 0, max: max.max(1), tokens: HashSet::new(), start: None }
    }

    /// The caller started the list from `token` (a page it already had): the server handing it
    /// out again is a repeat too.
    pub fn starting_from(mut self, token: Option<&str>) -> Self {
        self.start = token.map(hash);
        self
    }

    /// Start over (a list restarted from its first page): forget the pages and tokens (not the
    /// caller's starting token).
    pub fn restart(&mut self) {
        self.read = 0;
        self.tokens.clear();
    }

    /// A page of `what` was read and the server gave `token` for the next one: `Ok` to read it,
    /// or [`Error::Decode`] when the token was given before or the list has more than
    /// [`max`](Self::max) pages (`items` read so far, for the message).
    pub fn next(&mut self, what: &str, token: &str, items: usize) -> Result<()> {
        self.read = self.read.saturating_add(1);
        let hashed = hash(token);
        if self.start == Some(hashed) || !self.tokens.insert(hashed) {
            return Err(Error::decode(
                what,
                format!(
                    "after {} pages the server sent a page token it had already given for this list; a server \
                     or proxy that repeats tokens would make the list loop forever",
                    self.read
                ),
                b"",
            ));
        }
        if self.read >= self.max {
            return Err(Error::decode(
                what,
                format!(
                    "the list has more than {} pages ({items} objects so far); narrow it with a selector or \
                     filter, or raise the page limit",
                    self.max
                ),
                b"",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_seen_before_is_refused_even_after_a_cycle() {
        let mut pages = Pages::default();
        assert!(pages.next("list", "a", 1).is_ok());
        assert!(pages.next("list", "b", 2).is_ok());
        let err = pages.next("list", "a", 3).unwrap_err();
        assert!(matches!(err, Error::Decode { ref message, .. } if message.contains("already given")), "{err}");
    }

    #[test]
    fn the_starting_token_handed_out_again_is_a_repeat_even_after_a_restart() {
        let mut pages = Pages::default().starting_from(Some("s"));
        assert!(pages.next("list", "a", 1).is_ok());
        pages.restart();
        assert!(pages.next("list", "s", 1).is_err());
    }

    #[test]
    fn the_page_limit_holds_and_restarting_forgets() {
        let mut pages = Pages::new(3);
        assert!(pages.next("list", "a", 1).is_ok());
        assert!(pages.next("list", "b", 2).is_ok());
        assert!(pages.next("list", "c", 3).is_err());
        pages.restart();
        assert!(pages.next("list", "a", 1).is_ok());
    }
}
