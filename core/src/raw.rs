//! [`Raw`]: the server's whole object behind a lean model value (the seed's `_raw`).
//!
//! A model value ([`Job`](crate::Job), [`Execution`](crate::Execution), …) keeps only the fields
//! the API promises. Its `raw` field keeps the response body it was decoded from (a reference
//! count, no copy) and where in that body the object sits; the object's JSON text is found only
//! when asked for ([`Raw::json`]), so callers who never look pay nothing on the decode path.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// The server's JSON for one model object, decoded on demand.
///
/// Empty ([`Raw::default`]) when the value was not read from a server answer (built by hand, or
/// put together from several answers where no single object is "the" object).
///
/// Equality: every `Raw` equals every other, so a model value compares by its lean fields only
/// (two reads of an unchanged object are equal although the server's bytes may differ).
/// `Debug` shows the size only: the object may hold secrets (environment values, tokens).
///
/// ```
/// use clustermanager_core::Raw;
/// let raw = Raw::whole(br#"{"metadata":{"name":"hello"},"spec":{"parallelism":2}}"#.to_vec().into());
/// assert_eq!(raw.to_value()?["spec"]["parallelism"], 2);
/// # Ok::<(), clustermanager_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Raw {
    body: Bytes,
    at: Locator,
}

/// Where in the kept body the object is.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Locator {
    /// Nothing kept.
    #[default]
    None,
    /// The body is the object.
    Whole,
    /// Item `n` of a Kubernetes list's `items`.
    ListItem(usize),
    /// Element `n` of a top-level JSON array (Nomad lists).
    Element(usize),
    /// The `object` of a Kubernetes watch event line.
    EventObject,
}

impl Raw {
    /// The whole `body` is the object.
    pub fn whole(body: Bytes) -> Self {
        Raw { body, at: Locator::Whole }
    }

    /// Item `index` of the Kubernetes list (`{"items": [...]}`) in `body`.
    pub(crate) fn list_item(body: Bytes, index: usize) -> Self {
        Raw { body, at: Locator::ListItem(index) }
    }

    /// Element `index` of the top-level JSON array in `body`.
    pub(crate) fn element(body: Bytes, index: usize) -> Self {
        Raw { body, at: Locator::Element(index) }
    }

    /// The `object` of the Kubernetes watch event (`{"type": .., "object": {..}}`) in `line`.
    pub(crate) fn event_object(line: Bytes) -> Self {
        Raw { body: line, at: Locator::EventObject }
    }

    /// Whether nothing was kept (the value was not read from one server object).
    pub fn is_empty(&self) -> bool {
        self.at == Locator::None
    }

    /// The object's JSON text as the server sent it, or `null` when [empty](Raw::is_empty).
    ///
    /// # Errors
    /// [`Error::Decode`] if the kept body no longer holds the object where it was read (not
    /// expected: the lean value was decoded from the same bytes).
    pub fn json(&self) -> Result<&str> {
        fn located<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T> {
            serde_json::from_slice(body).map_err(|e| Error::decode(what, e, body))
        }
        let missing = || Error::decode("raw object", "the object is not where it was read", &self.body);
        let body = &self.body[..];
        match self.at {
            Locator::None => Ok("null"),
            Locator::Whole => located::<&RawValue>(body, "raw object").map(RawValue::get),
            Locator::ListItem(i) => {
                #[derive(Deserialize)]
                struct Items<'a> {
                    #[serde(borrow)]
                    items: Vec<&'a RawValue>,
                }
                let list: Items<'_> = located(body, "raw list")?;
                list.items.get(i).map(|v| v.get()).ok_or_else(missing)
            }
            Locator::Element(i) => {
                let list: Vec<&RawValue> = located(body, "raw list")?;
                list.get(i).map(|v| v.get()).ok_or_else(missing)
            }
            Locator::EventObject => {
                #[derive(Deserialize)]
                struct Event<'a> {
                    #[serde(borrow)]
                    object: &'a RawValue,
                }
                located::<Event<'_>>(body, "raw watch event").map(|e| e.object.get())
            }
        }
    }

    /// The object as a JSON value (`Null` when [empty](Raw::is_empty)).
    ///
    /// # Errors
    /// As [`Raw::json`].
    pub fn to_value(&self) -> Result<serde_json::Value> {
        self.parse()
    }

    /// The object decoded into any type: a `k8s-openapi` struct, your own, a `serde_json::Value`.
    ///
    /// # Errors
    /// As [`Raw::json`], and [`Error::Decode`] when the object does not fit `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        let text = self.json()?;
        serde_json::from_str(text).map_err(|e| Error::decode("raw object", e, text.as_bytes()))
    }
}

/// A model value that keeps the server object it was read from.
pub(crate) trait Keeps: Sized {
    /// This value with `raw` kept.
    fn keeping(self, raw: Raw) -> Self;
}

macro_rules! keeps {
    ($($t:ty),*) => {$(
        impl Keeps for $t {
            fn keeping(mut self, raw: Raw) -> Self {
                self.raw = raw;
                self
            }
        }
    )*};
}

keeps!(crate::Job, crate::Execution, crate::Node, crate::Namespace, crate::Scale, crate::Workload);

/// Each value of a decoded list keeping its item of the list `body` (`{"items": [...]}`).
pub(crate) fn list_items<U: Keeps>(items: Vec<U>, body: &Bytes) -> Vec<U> {
    items.into_iter().enumerate().map(|(i, u)| u.keeping(Raw::list_item(body.clone(), i))).collect()
}

/// Each value of a decoded top-level JSON array keeping its element of `body`.
pub(crate) fn elements<U: Keeps>(items: Vec<U>, body: &Bytes) -> Vec<U> {
    items.into_iter().enumerate().map(|(i, u)| u.keeping(Raw::element(body.clone(), i))).collect()
}

impl PartialEq for Raw {
    /// Always true: see the type's docs.
    fn eq(&self, _: &Raw) -> bool {
        true
    }
}

impl Eq for Raw {}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("Raw(empty)")
        } else {
            write!(f, "Raw({} bytes kept)", self.body.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_of_object_where_it_was_read() -> Result<()> {
        let list = Bytes::from_static(br#"{"kind":"JobList","items":[{"a":1},{"b":[2, 3]}]}"#);
        assert_eq!(Raw::list_item(list.clone(), 1).json()?, r#"{"b":[2, 3]}"#);
        assert!(Raw::list_item(list, 2).json().is_err());
        let array = Bytes::from_static(br#"[{"ID":"x"},{"ID":"y"}]"#);
        assert_eq!(Raw::element(array, 0).to_value()?["ID"], "x");
        assert_eq!(Raw::default().to_value()?, serde_json::Value::Null);
        Ok(())
    }

    #[test]
    fn debug_never_shows_the_object() {
        let raw = Raw::whole(Bytes::from_static(br#"{"env":"SECRET=hunter2"}"#));
        let shown = format!("{raw:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("bytes"), "{shown}");
    }

    #[test]
    fn a_broken_body_is_a_decode_error_not_a_panic() {
        let raw = Raw::whole(Bytes::from_static(b"{not json"));
        assert!(matches!(raw.json(), Err(Error::Decode { .. })));
        assert!(matches!(raw.parse::<u32>(), Err(Error::Decode { .. })));
    }
}
