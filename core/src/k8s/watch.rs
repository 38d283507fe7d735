//! The Kubernetes watch stream: one JSON event a line (`{"type":"ADDED","object":{...}}`),
//! decoded incrementally from chunks cut anywhere. Bookmarks (whose object holds only kind,
//! apiVersion and `metadata.resourceVersion`) and `ERROR` events (a `Status`, e.g. 410 Expired)
//! are decoded separately from the typed objects, so a strict object type never sees them.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{from_k8s_response, Error, Result};
use crate::lines::{LineSplitter, DEFAULT_MAX_LINE};

/// One watch event.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<T> {
    /// An object was added (or existed when the watch started without a resourceVersion).
    Added(T),
    /// An object changed.
    Modified(T),
    /// An object was deleted (its last state).
    Deleted(T),
    /// A bookmark: nothing changed up to this resourceVersion.
    Bookmark {
        /// The resourceVersion to resume from.
        resource_version: String,
        /// Whether it is annotated `k8s.io/initial-events-end: "true"`: the end of the existing
        /// objects a watch-list request (`sendInitialEvents=true`) streams first.
        initial_events_end: bool,
    },
    /// The server reported an error in the stream (a 410 `Expired` when the resourceVersion is
    /// too old: re-list).
    Error(ErrorStatus),
}

/// The `Status` of an `ERROR` event, kept as an [`Error`]-ready value.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorStatus {
    /// `code` (410 for Expired/Gone).
    pub code: u16,
    /// The raw Status JSON.
    pub raw: String,
}

impl ErrorStatus {
    /// The [`Error`] this status means ([`Error::Gone`] for 410).
    pub fn to_error(&self) -> Error {
        from_k8s_response(self.code, &http::HeaderMap::new(), self.raw.as_bytes())
    }
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    object: &'a RawValue,
}

#[derive(Deserialize)]
struct BookmarkObject {
    metadata: BookmarkMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BookmarkMeta {
    resource_version: String,
    #[serde(default)]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// The annotation of the bookmark that ends a watch-list's initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

#[derive(Deserialize)]
struct StatusCode {
    #[serde(default)]
    code: u16,
}

/// Decode one watch line into an event with object type `T`.
pub fn decode_event<T: DeserializeOwned>(line: &[u8]) -> Result<WatchEvent<T>> {
    let raw: RawEvent<'_> = serde_json::from_slice(line).map_err(|e| Error::decode("watch event", e, line))?;
    let object = |what: &str| -> Result<T> {
        serde_json::from_str(raw.object.get()).map_err(|e| Error::decode(what, e, raw.object.get().as_bytes()))
    };
    Ok(match raw.kind {
        "ADDED" => WatchEvent::Added(object("watched object")?),
        "MODIFIED" => WatchEvent::Modified(object("watched object")?),
        "DELETED" => WatchEvent::Deleted(object("watched object")?),
        "BOOKMARK" => {
            let b: BookmarkObject = serde_json::from_str(raw.object.get())
                .map_err(|e| Error::decode("watch bookmark", e, raw.object.get().as_bytes()))?;
            let initial_events_end =
                b.metadata.annotations.as_ref().and_then(|a| a.get(INITIAL_EVENTS_END)).is_some_and(|v| v == "true");
            WatchEvent::Bookmark { resource_version: b.metadata.resource_version, initial_events_end }
        }
        "ERROR" => {
            let code = serde_json::from_str::<StatusCode>(raw.object.get()).map(|s| s.code).unwrap_or(500);
            WatchEvent::Error(ErrorStatus { code, raw: raw.object.get().to_owned() })
        }
        other => return Err(Error::decode("watch event", format!("unknown event type {other:?}"), line)),
    })
}

/// Incremental watch decoder: push chunks, pull events.
#[derive(Debug)]
pub struct WatchDecoder<T> {
    lines: LineSplitter,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Default for WatchDecoder<T> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl<T: DeserializeOwned> WatchDecoder<T> {
    /// A decoder whose events may be at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        WatchDecoder { lines: LineSplitter::new("watch stream", max_line), _t: std::marker::PhantomData }
    }

    /// Add a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.lines.push(chunk);
    }

    /// The next complete event, if any. Blank lines are skipped.
    pub fn next_event(&mut self) -> Result<Option<WatchEvent<T>>> {
        self.next_line()?.map(|line| decode_event(&line)).transpose()
    }

    /// The next complete line that is not blank.
    fn next_line(&mut self) -> Result<Option<bytes::Bytes>> {
        while let Some(line) = self.lines.next_line()? {
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    /// [`next_event`](Self::next_event), each object keeping its bytes (the event line, a
    /// reference count: no copy) for the model value it becomes.
    pub(crate) fn next_event_kept(&mut self) -> Result<Option<WatchEvent<T>>>
    where
        T: super::object::Versioned,
    {
        let Some(line) = self.next_line()? else { return Ok(None) };
        let mut event = decode_event::<T>(&line)?;
        if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) = &mut event {
            o.keep_raw(crate::Raw::event_object(line));
        }
        Ok(Some(event))
    }

    /// At the end of the stream: an error if an event was cut off.
    pub fn finish(&mut self) -> Result<Option<WatchEvent<T>>> {
        match self.lines.finish() {
            None => Ok(None),
            Some(rest) if rest.iter().all(u8::is_ascii_whitespace) => Ok(None),
            // The server always terminates events with a newline; a complete JSON object without
            // one is still accepted, anything else is a truncated stream.
            Some(rest) => decode_event(&rest).map(Some).map_err(|_| Error::Transport {
                kind: crate::error::TransportErrorKind::Truncated,
                message: format!("watch stream ended in the middle of an event ({} bytes)", rest.len()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Obj {
        metadata: Meta,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        name: String,
        resource_version: String,
    }

    #[test]
    fn bookmark_and_error_are_decoded_apart_from_typed_objects() {
        let text = concat!(
            r#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"}}}"#,
            "\n",
            r#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"9"}}}"#,
            "\n",
            r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#,
            "\n",
        );
        let mut d = WatchDecoder::<Obj>::default();
        d.push(text.as_bytes());
        assert!(matches!(d.next_event(), Ok(Some(WatchEvent::Added(Obj { .. })))));
        assert!(
            matches!(d.next_event(), Ok(Some(WatchEvent::Bookmark { ref resource_version, initial_events_end: false })) if resource_version == "9")
        );
        let Ok(Some(WatchEvent::Error(st))) = d.next_event() else { panic!("expected an ERROR event") };
        assert!(matches!(st.to_error(), Error::Gone(_)));
        assert!(matches!(d.next_event(), Ok(None)));
        assert!(matches!(d.finish(), Ok(None)));
    }

    #[test]
    fn the_initial_events_end_bookmark_is_told_apart() {
        let line = concat!(
            r#"{"type":"BOOKMARK","object":{"kind":"Job","apiVersion":"batch/v1","metadata":{"resourceVersion":"7340","#,
            r#""annotations":{"k8s.io/initial-events-end":"true"}}}}"#,
            "\n"
        );
        let mut d = WatchDecoder::<Obj>::default();
        d.push(line.as_bytes());
        assert!(matches!(
            d.next_event(),
            Ok(Some(WatchEvent::Bookmark { ref resource_version, initial_events_end: true })) if resource_version == "7340"
        ));
    }

    #[test]
    fn truncated_event_is_an_error() {
        let mut d = WatchDecoder::<Obj>::default();
        d.push(br#"{"type":"ADDED","object":{"kind":"Con"#);
        assert!(matches!(d.next_event(), Ok(None)));
        assert!(matches!(d.finish(), Err(Error::Transport { .. })));
    }
}
