//! [`WatchTarget`]: what a [`Watcher`](super::watcher::Watcher) follows (a collection, its
//! selectors, the server-side timeout of each watch) and the requests it makes of it: the list,
//! the watch from a resourceVersion, and the watch-list request.

use std::time::Duration;

use crate::deadline::Hold;
use crate::error::Result;
use crate::step::{self, Request};

/// Server-side `timeoutSeconds` of a watch request (kube-rs uses the same): below the 5 minute
/// idle timeouts of common load balancers.
pub const DEFAULT_WATCH_TIMEOUT_SECONDS: u32 = 290;

fn encode_query(pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// What a [`Watcher`](super::watcher::Watcher) follows: a collection path, its filters, the server-side timeout of each
/// watch request and what it is waited for (for errors). The options of one raw watch request
/// are [`api::WatchParams`](super::api::WatchParams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTarget {
    /// Collection path (`/api/v1/namespaces/acm/pods`).
    pub path: String,
    /// `fieldSelector` (`metadata.name=x`).
    pub field_selector: Option<String>,
    /// `labelSelector` (`job-name=x`).
    pub label_selector: Option<String>,
    /// Server-side `timeoutSeconds` of each watch request.
    pub timeout_seconds: u32,
    /// Ask for bookmarks (`allowWatchBookmarks=true`).
    pub bookmarks: bool,
    /// What is being waited for, for error messages (`job acm-run/printer`).
    pub what: String,
}

impl WatchTarget {
    /// Watch the collection at `path`; `what` names it in errors.
    pub fn new(path: impl Into<String>, what: impl Into<String>) -> Self {
        WatchTarget {
            path: path.into(),
            field_selector: None,
            label_selector: None,
            timeout_seconds: DEFAULT_WATCH_TIMEOUT_SECONDS,
            bookmarks: true,
            what: what.into(),
        }
    }

    /// Only objects matching this field selector.
    pub fn fields(mut self, selector: impl Into<String>) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Only objects matching this label selector.
    pub fn labels(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Server-side timeout of each watch request.
    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.timeout_seconds = seconds;
        self
    }

    fn selectors(&self) -> Vec<(&str, &str)> {
        let mut pairs = Vec::new();
        if let Some(f) = &self.field_selector {
            pairs.push(("fieldSelector", f.as_str()));
        }
        if let Some(l) = &self.label_selector {
            pairs.push(("labelSelector", l.as_str()));
        }
        pairs
    }

    /// The list request (`GET path?fieldSelector=..&labelSelector=..`).
    pub fn list_request(&self) -> Result<Request> {
        let pairs = self.selectors();
        let uri = if pairs.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, encode_query(&pairs)) };
        step::request(http::Method::GET, &uri, None)
    }

    /// The watch request from `resource_version`, and how long the server holds it.
    pub fn watch_request(&self, resource_version: &str) -> Result<(Request, Hold)> {
        self.watch_request_within(resource_version, None)
    }

    /// The watch request from `resource_version`, its `timeoutSeconds` shortened to `left` (the
    /// caller's time left, rounded up to a whole second) when that is shorter, and the
    /// [`Hold`] (that many seconds) its exchange carries.
    pub fn watch_request_within(&self, resource_version: &str, left: Option<Duration>) -> Result<(Request, Hold)> {
        let seconds = self.seconds_within(left);
        let timeout = seconds.to_string();
        let mut pairs = vec![("watch", "1"), ("resourceVersion", resource_version)];
        if self.bookmarks {
            pairs.push(("allowWatchBookmarks", "true"));
        }
        pairs.push(("timeoutSeconds", timeout.as_str()));
        pairs.extend(self.selectors());
        let request = step::request(http::Method::GET, &format!("{}?{}", self.path, encode_query(&pairs)), None)?;
        Ok((request, Hold::Server(Duration::from_secs(u64::from(seconds)))))
    }

    /// The watch-list request (`watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
    /// no resourceVersion), its `timeoutSeconds` shortened to `left` as in
    /// [`watch_request_within`](Self::watch_request_within).
    pub fn watch_list_request_within(&self, left: Option<Duration>) -> Result<(Request, Hold)> {
        let seconds = self.seconds_within(left);
        let timeout = seconds.to_string();
        let mut pairs = vec![
            ("watch", "1"),
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
            ("allowWatchBookmarks", "true"),
        ];
        pairs.push(("timeoutSeconds", timeout.as_str()));
        pairs.extend(self.selectors());
        let request = step::request(http::Method::GET, &format!("{}?{}", self.path, encode_query(&pairs)), None)?;
        Ok((request, Hold::Server(Duration::from_secs(u64::from(seconds)))))
    }

    fn seconds_within(&self, left: Option<Duration>) -> u32 {
        match left {
            Some(left) => {
                let whole = left.as_secs().saturating_add(u64::from(left.subsec_nanos() > 0)).max(1);
                u32::try_from(whole).unwrap_or(u32::MAX).min(self.timeout_seconds)
            }
            None => self.timeout_seconds,
        }
    }
}
