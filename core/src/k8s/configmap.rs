//! Kubernetes ConfigMaps: `get_config_maps` ([`list`]: every ConfigMap of a namespace matching
//! a label selector, page after page), and [`LabelSelector`], a builder that renders and
//! validates label selectors (`app=web,tier in (a,b),!legacy`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

use serde::Deserialize;

use super::api::{self, ListAll, ListParams, ObjectList, Resource};
use super::checked::{map_done, Checked};
use super::Context;
use crate::error::{Error, Result};
use crate::model::ConfigMap;
use crate::step::{Event, Operation, Step};

/// Page size [`list`] asks for.
pub const PAGE_SIZE: u32 = 500;

#[derive(Debug, Deserialize)]
struct ConfigMapBody {
    metadata: Meta,
    #[serde(default)]
    data: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Every ConfigMap of `namespace` whose labels match `label_selector` (empty: all), read in
/// pages of [`PAGE_SIZE`]. A continue token that expires between pages restarts the list (see
/// [`api::list_all`]). The selector is passed as given; the server reports a malformed one as
/// [`Error::BadRequest`]. Build one with [`LabelSelector`] to catch mistakes before sending.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// use clustermanager_core::k8s::configmap::LabelSelector;
/// let selector = LabelSelector::new().eq("acm/parity", "even").is_in("acm/set", ["page"]).build().unwrap();
/// let mut op = k8s::configmap::list(&k8s::Context::default(), "acm-paging", &selector);
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("labelSelector=acm/parity%3Deven%2Cacm/set%20in%20%28page%29&limit=500"));
/// ```
pub fn list(
    ctx: &Context,
    namespace: &str,
    label_selector: &str,
) -> impl Operation<Output = Vec<ConfigMap>, Item = Infallible> + Send + 'static {
    list_with(ctx, namespace, &ListParams::default().labels(label_selector).limit(PAGE_SIZE))
}

/// [`list`] with every list option (page size, field selector, ...).
///
/// ```
/// use clustermanager_core::k8s::{self, api::ListParams};
/// let op = k8s::configmap::list_with(&k8s::Context::default(), "ns", &ListParams::default().fields("metadata.name=cfg"));
/// # let _ = op;
/// ```
pub fn list_with(ctx: &Context, namespace: &str, params: &ListParams) -> ConfigMapList {
    let checked = super::name::label("namespace", namespace);
    ConfigMapList(Checked::new(checked.map(|()| api::list_all(ctx, &Resource::CONFIGMAPS, Some(namespace), params))))
}

/// The operation of [`list`] and [`list_with`].
#[derive(Debug)]
pub struct ConfigMapList(Checked<ListAll<ConfigMapBody>>);

impl Operation for ConfigMapList {
    type Output = Vec<ConfigMap>;
    type Item = Infallible;

    fn poll(&mut self, now: std::time::Instant) -> Step<Vec<ConfigMap>> {
        map_done(self.0.poll(now), |result| {
            result.map(|list: ObjectList<ConfigMapBody>| {
                list.items
                    .into_iter()
                    .map(|c| ConfigMap {
                        namespace: c.metadata.namespace,
                        name: c.metadata.name,
                        labels: c.metadata.labels.unwrap_or_default(),
                        data: c.data.unwrap_or_default(),
                    })
                    .collect()
            })
        })
    }

    fn handle(&mut self, event: Event) {
        self.0.handle(event);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A label selector, built requirement by requirement (all must hold), rendered in the syntax
/// the apiserver parses, and checked by [`build`](LabelSelector::build): keys are
/// `[prefix/]name` (prefix a DNS subdomain of at most 253 characters, name at most 63 of
/// `[A-Za-z0-9._-]` starting and ending alphanumeric), values are empty or like names, and
/// `in`/`notin` need at least one value.
///
/// ```
/// use clustermanager_core::k8s::configmap::LabelSelector;
/// let s = LabelSelector::new().eq("app", "web").ne("tier", "db").not_in("zone", ["a", "b"]).exists("team").not_exists("legacy");
/// assert_eq!(s.build().unwrap(), "app=web,tier!=db,zone notin (a,b),team,!legacy");
/// assert!(LabelSelector::new().eq("bad key!", "x").build().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// A selector that matches everything.
    pub fn new() -> Self {
        LabelSelector(Vec::new())
    }
    /// `key=value`.
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push(Requirement::Eq(key.into(), value.into()));
        self
    }
    /// `key!=value` (also matches objects without the label).
    pub fn ne(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push(Requirement::NotEq(key.into(), value.into()));
        self
    }
    /// `key in (v1,v2)`.
    pub fn is_in<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key: impl Into<String>, values: I) -> Self {
        self.0.push(Requirement::In(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }
    /// `key notin (v1,v2)` (also matches objects without the label).
    pub fn not_in<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key: impl Into<String>, values: I) -> Self {
        self.0.push(Requirement::NotIn(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }
    /// `key`: the label is present.
    pub fn exists(mut self, key: impl Into<String>) -> Self {
        self.0.push(Requirement::Exists(key.into()));
        self
    }
    /// `!key`: the label is absent.
    pub fn not_exists(mut self, key: impl Into<String>) -> Self {
        self.0.push(Requirement::NotExists(key.into()));
        self
    }

    /// The selector text, after checking every key and value.
    pub fn build(&self) -> Result<String> {
        for req in &self.0 {
            match req {
                Requirement::Eq(k, v) | Requirement::NotEq(k, v) => {
                    check_key(k)?;
                    check_value(k, v)?;
                }
                Requirement::In(k, vs) | Requirement::NotIn(k, vs) => {
                    check_key(k)?;
                    if vs.is_empty() {
                        return Err(invalid(k, "`in` and `notin` need at least one value"));
                    }
                    for v in vs {
                        check_value(k, v)?;
                    }
                }
                Requirement::Exists(k) | Requirement::NotExists(k) => check_key(k)?,
            }
        }
        Ok(self.to_string())
    }
}

impl fmt::Display for LabelSelector {
    /// The selector text, unchecked (use [`LabelSelector::build`] to check it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, req) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match req {
                Requirement::Eq(k, v) => write!(f, "{k}={v}")?,
                Requirement::NotEq(k, v) => write!(f, "{k}!={v}")?,
                Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(","))?,
                Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(","))?,
                Requirement::Exists(k) => write!(f, "{k}")?,
                Requirement::NotExists(k) => write!(f, "!{k}")?,
            }
        }
        Ok(())
    }
}

fn invalid(key: &str, problem: &str) -> Error {
    Error::InvalidInput { field: format!("label selector key {key:?}"), problem: problem.to_owned() }
}

fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

fn check_key(key: &str) -> Result<()> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !is_dns_subdomain(p) {
            return Err(invalid(key, "the prefix before `/` must be a DNS subdomain (lower-case, dots, at most 253)"));
        }
    }
    if !is_name(name) {
        return Err(invalid(
            key,
            "the name must be 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<()> {
    if value.is_empty() || is_name(value) {
        Ok(())
    } else {
        Err(invalid(
            key,
            &format!("value {value:?} must be empty or 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_recorded_selectors() {
        let s = LabelSelector::new().eq("acm/parity", "even").is_in("acm/set", ["page"]);
        assert_eq!(s.build().ok().as_deref(), Some("acm/parity=even,acm/set in (page)"));
        assert_eq!(LabelSelector::new().ne("acm/parity", "even").build().ok().as_deref(), Some("acm/parity!=even"));
    }

    #[test]
    fn rejects_bad_keys_and_values() {
        assert!(LabelSelector::new().eq("Bad.Prefix/x", "y").build().is_err());
        assert!(LabelSelector::new().eq("x", "-y").build().is_err());
        assert!(LabelSelector::new().is_in("x", Vec::<String>::new()).build().is_err());
        assert!(LabelSelector::new().exists("a".repeat(64)).build().is_err());
        assert!(LabelSelector::new().eq("x", "").build().is_ok());
        assert_eq!(LabelSelector::new().build().ok().as_deref(), Some(""));
    }
}
