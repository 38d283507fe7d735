//! Watch-list ("streaming list"): what a [`Watcher`](super::watcher::Watcher) needs to start
//! without a LIST, and what it remembers of a server that does not offer it.
//!
//! A watch-list request (`watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`)
//! streams the existing objects as `ADDED` events, then a `BOOKMARK` annotated
//! `k8s.io/initial-events-end: "true"` (the list's resourceVersion), then the changes, on the
//! same stream. client-go starts its informers this way on current servers (WatchList is on by
//! default since Kubernetes 1.34): the server sends the objects from its watch cache instead of
//! building one large LIST answer.
//!
//! Not every server offers it, and they refuse in different ways:
//!
//! | server | answer | the watcher |
//! |---|---|---|
//! | 1.27+ with an etcd that has progress requests | `ADDED`…, the end bookmark, changes | uses the objects as its list |
//! | 1.34+ with an older etcd (`acm-13`, `acm-35` of the 1.36 recordings) | 200 and one `ERROR` event (500 "RequestWatchProgress is disabled") | falls back to list + watch |
//! | a server validating the parameters differently | 400 / 422 | falls back |
//! | before 1.27 (1.19: the parameters are ignored) | a plain watch without resourceVersion: `ADDED` for what exists, then changes, no end bookmark | after `ADDED` events, at a change (`MODIFIED`, `DELETED`, a bookmark without the annotation) or [`INITIAL_EVENTS_GRACE`] of silence, takes them as the list and goes on watching; at the stream's end, or a change or silence before any object, falls back |
//!
//! A refusal lists at once; an ignored request that sent objects was a watch from a
//! consistent snapshot (the first events of a watch without resourceVersion). The answer is remembered in a [`WatchListSupport`] that every [`Context`](super::Context)
//! carries and its clones share (one per manager and its clones, so one per server): a refusal
//! costs one request, once, not one per watch. A server that was seen to offer it is not asked
//! again whether it does.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a watch-list stream may stay silent before its end bookmark: past this the server
/// is taken not to offer watch-list (a 1.19 server ignores the parameters and sends no
/// bookmark on a watch served from etcd). A 1.36 server answers within its own 3 s freshness
/// wait (then with an `ERROR` 504 at worst, see `acm-35`), so this leaves it room.
pub const INITIAL_EVENTS_GRACE: Duration = Duration::from_secs(5);

/// Most objects a watch-list's initial events may hold (a LIST has the same cap through its
/// body limit): more fail the watch with [`Error::Decode`](crate::Error::Decode) instead of
/// growing without bound.
pub const MAX_INITIAL_EVENTS: usize = 250_000;

// 0: nobody asked yet (the default)
const OFFERED: u8 = 1;
const REFUSED: u8 = 2;

/// What a server said about watch-list, shared by the clones of one [`Context`](super::Context):
/// not asked yet, offered, or refused. Equality compares what is known, not which server.
///
/// ```
/// use clustermanager_core::k8s::watchlist::WatchListSupport;
/// let support = WatchListSupport::default();
/// assert_eq!(support.offered(), None);
/// let same = support.clone();
/// support.learn(false);
/// assert_eq!(same.offered(), Some(false), "clones share the answer");
/// assert_eq!(WatchListSupport::disabled().offered(), Some(false));
/// ```
#[derive(Clone, Default)]
pub struct WatchListSupport(Arc<AtomicU8>);

impl WatchListSupport {
    /// Memory that says "refused" from the start: watchers list first, as before watch-list.
    pub fn disabled() -> Self {
        WatchListSupport(Arc::new(AtomicU8::new(REFUSED)))
    }

    /// `Some(true)` when the server streamed an initial-events-end bookmark, `Some(false)` when
    /// it refused or ignored a watch-list request, `None` before anyone asked.
    pub fn offered(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            OFFERED => Some(true),
            REFUSED => Some(false),
            _ => None,
        }
    }

    /// Whether a watcher should try a watch-list request.
    pub fn worth_trying(&self) -> bool {
        self.offered() != Some(false)
    }

    /// Remember what the server did.
    pub fn learn(&self, offered: bool) {
        self.0.store(if offered { OFFERED } else { REFUSED }, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for WatchListSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WatchListSupport").field(&self.offered()).finish()
    }
}

impl PartialEq for WatchListSupport {
    fn eq(&self, other: &Self) -> bool {
        self.offered() == other.offered()
    }
}

impl Eq for WatchListSupport {}

/// Why a watch-list attempt was given up (logged, and told apart in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request was answered 400 or 422.
    Rejected(u16),
    /// The stream carried an `ERROR` event before the end bookmark (code inside).
    ErrorEvent(u16),
    /// A `MODIFIED` or `DELETED` event, a bookmark without the annotation, the stream's end
    /// or [`INITIAL_EVENTS_GRACE`] of silence came before any end bookmark: the server ignored
    /// the parameters and served a plain watch (silence after objects: used as list + watch).
    PlainWatch,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Rejected(code) => write!(f, "the server answered {code}"),
            Refusal::ErrorEvent(code) => write!(f, "the server sent an ERROR event ({code})"),
            Refusal::PlainWatch => f.write_str("the server ignored sendInitialEvents (a plain watch)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_kept_and_shared() {
        let s = WatchListSupport::default();
        assert!(s.worth_trying());
        s.clone().learn(true);
        assert_eq!(s.offered(), Some(true));
        assert!(s.worth_trying());
        s.learn(false);
        assert!(!s.worth_trying());
        assert_eq!(s, WatchListSupport::disabled());
        assert_eq!(format!("{s:?}"), "WatchListSupport(Some(false))");
    }
}
