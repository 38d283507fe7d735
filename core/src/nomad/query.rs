//! Request paths and query strings for Nomad: percent-encoding of ids (dispatched job IDs
//! contain `/`), `namespace` / `region` / `prefix` parameters, the seed's namespace-prefix
//! scheme, and the `index` / `wait` parameters of blocking queries.

use std::time::Duration;

use super::{Context, NamespaceMode};
use crate::error::{Error, Result};
use crate::step::{request, Request};

/// Nomad's own default namespace: never sent as `?namespace=` (the server assumes it).
pub const DEFAULT_NAMESPACE: &str = "default";

/// The longest wait a blocking query asks for (Nomad caps `wait` at 10 minutes; we stay well
/// under it so a proxy's idle timeout is less likely to cut the request).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

pub use crate::encode::segment as encode_segment;

/// The namespace an operation works in: the caller's, else the context's default, else
/// Nomad's `default`.
pub fn resolve_namespace(ctx: &Context, namespace: &str) -> String {
    if !namespace.is_empty() {
        namespace.to_owned()
    } else {
        ctx.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    }
}

/// The Nomad job ID of the seed job `name` in `namespace`: the name itself with real
/// namespaces, `{namespace}-{name}` in [`NamespaceMode::Prefix`].
pub fn job_id(ctx: &Context, namespace: &str, name: &str) -> String {
    match ctx.namespace_mode {
        NamespaceMode::Native => name.to_owned(),
        NamespaceMode::Prefix => format!("{}-{name}", resolve_namespace(ctx, namespace)),
    }
}

/// The seed job name of the Nomad job `id` (the inverse of [`job_id`]): in
/// [`NamespaceMode::Prefix`] the `{namespace}-` prefix is removed when present.
pub fn job_name(ctx: &Context, namespace: &str, id: &str) -> String {
    match ctx.namespace_mode {
        NamespaceMode::Native => id.to_owned(),
        NamespaceMode::Prefix => {
            let prefix = format!("{}-", resolve_namespace(ctx, namespace));
            id.strip_prefix(&prefix).unwrap_or(id).to_owned()
        }
    }
}

/// The namespace the server should be asked about: `None` for Nomad's default namespace and
/// in [`NamespaceMode::Prefix`] (servers without namespaces).
pub fn server_namespace(ctx: &Context, namespace: &str) -> Option<String> {
    match ctx.namespace_mode {
        NamespaceMode::Prefix => None,
        NamespaceMode::Native => Some(resolve_namespace(ctx, namespace)).filter(|n| n != DEFAULT_NAMESPACE),
    }
}

/// A path with its query parameters, built up and then turned into a [`Request`]: the one
/// query builder of the Nomad operations (the generic [`api`](super::api) renders its
/// [`QueryOptions`](super::api::QueryOptions) through it too).
#[derive(Debug, Clone)]
pub struct Query {
    path: String,
    params: Vec<(String, String)>,
}

impl Query {
    /// A query for `path` (already encoded: use [`encode_segment`] for ids), carrying the
    /// context's region when one is set.
    pub fn new(ctx: &Context, path: impl Into<String>) -> Self {
        let q = Query::bare(path);
        match ctx.region.as_deref().filter(|r| !r.is_empty()) {
            Some(region) => q.param("region", region),
            None => q,
        }
    }

    /// A query for `path` without any parameter, not even the context's region. `path` may
    /// already hold a query (`/v1/event/stream?index=5`): parameters are appended to it.
    pub fn bare(path: impl Into<String>) -> Self {
        Query { path: path.into(), params: Vec::new() }
    }

    /// Add `namespace=` when the server should be told (see [`server_namespace`]).
    pub fn namespace(self, ctx: &Context, namespace: &str) -> Self {
        match server_namespace(ctx, namespace) {
            Some(ns) => self.param("namespace", ns),
            None => self,
        }
    }

    /// Add a parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_owned(), value.into()));
        self
    }

    /// Add a parameter when there is a value.
    pub fn param_opt(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// Add `index=` and `wait=` to make this a blocking query (nothing when `index` is 0:
    /// an index of 0 answers at once).
    pub fn blocking(self, index: u64, wait: Duration) -> Self {
        if index == 0 {
            self
        } else {
            self.param("index", index.to_string()).param("wait", format_wait(wait))
        }
    }

    /// The query string alone (without `?`; empty when there are no parameters).
    pub fn query_string(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            ser.append_pair(k, v);
        }
        ser.finish()
    }

    /// The path and query as one string.
    pub fn path_and_query(&self) -> String {
        if self.params.is_empty() {
            return self.path.clone();
        }
        let sep = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.path, self.query_string())
    }

    /// A request with `method` and `body` (`None`: an empty body).
    pub fn request(&self, method: http::Method, body: Option<Vec<u8>>) -> Result<Request> {
        request(method, &self.path_and_query(), body)
    }

    /// A GET request.
    pub fn get(&self) -> Result<Request> {
        self.request(http::Method::GET, None)
    }

    /// A DELETE request.
    pub fn delete(&self) -> Result<Request> {
        self.request(http::Method::DELETE, None)
    }

    /// A POST request with a JSON body (`None`: an empty body).
    pub fn post(&self, body: Option<Vec<u8>>) -> Result<Request> {
        self.request(http::Method::POST, body)
    }
}

/// A Go duration for `wait=`: whole seconds when exact (`5s`), else milliseconds (`2500ms`),
/// at least `1ms`.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::nomad::query::format_wait;
/// assert_eq!(format_wait(Duration::from_secs(5)), "5s");
/// assert_eq!(format_wait(Duration::from_millis(2500)), "2500ms");
/// ```
pub fn format_wait(wait: Duration) -> String {
    let ms = wait.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The `X-Nomad-Index` header of an answer, if present and numeric.
pub fn index_of(headers: &http::HeaderMap) -> Option<u64> {
    headers.get("x-nomad-index")?.to_str().ok()?.trim().parse().ok()
}

/// The index for the next blocking query, given the one we blocked on and the one the server
/// answered with (Consul/Nomad guidance): an index that went backwards (a server restored from
/// a snapshot, a new leader) resets to 0, which reads at once and picks up the fresh index; an
/// index of 0 (Nomad answers 0 for an empty table) becomes 1, because blocking on 0 answers at
/// once and would turn the wait into a busy loop.
///
/// ```
/// use clustermanager_core::nomad::query::next_index;
/// assert_eq!(next_index(11, Some(14)), 14);
/// assert_eq!(next_index(14, Some(9)), 0);
/// assert_eq!(next_index(0, Some(0)), 1);
/// ```
pub fn next_index(previous: u64, answered: Option<u64>) -> u64 {
    match answered {
        None => previous.max(1),
        Some(0) => 1,
        Some(n) if n < previous => 0,
        Some(n) => n,
    }
}

/// Check a job ID before sending it: Nomad refuses empty IDs, IDs with spaces or NUL, and we
/// cap the length at 128 characters (Nomad's limit on names).
pub fn validate_job_id(id: &str) -> Result<()> {
    let problem = if id.is_empty() {
        Some("is empty; give the job a name".to_owned())
    } else if id.chars().any(char::is_whitespace) {
        Some(format!("{id:?} contains whitespace, which Nomad refuses in job IDs"))
    } else if id.contains('\0') {
        Some(format!("{id:?} contains a NUL character"))
    } else if id.chars().count() > 128 {
        Some(format!("{id:?} is longer than 128 characters"))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::InvalidInput { field: "job name".into(), problem }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encoded_segments_decode_back_and_hold_no_separator(id in "\\PC{0,40}") {
            let enc = encode_segment(&id);
            prop_assert!(!enc.contains('/') && !enc.contains('?') && !enc.contains('#'));
            prop_assert_eq!(percent_encoding::percent_decode_str(&enc).collect::<Vec<u8>>(), id.as_bytes().to_vec());
            // and the path is a valid request URI
            let q = Query::new(&Context::default(), format!("/v1/job/{enc}"));
            prop_assert!(q.get().is_ok());
        }

        #[test]
        fn the_next_index_never_blocks_on_zero_unless_it_rereads(prev in 0u64..100, answered in proptest::option::of(0u64..100)) {
            let next = next_index(prev, answered);
            if next == 0 {
                // only an index that went backwards resets, to read at once
                prop_assert!(answered.is_some_and(|a| a != 0 && a < prev));
            }
            if let Some(a) = answered.filter(|a| *a >= prev && *a > 0) {
                prop_assert_eq!(next, a);
            }
        }
    }

    #[test]
    fn default_namespace_is_not_sent() {
        let ctx = Context::default();
        assert_eq!(Query::new(&ctx, "/v1/jobs").namespace(&ctx, "").path_and_query(), "/v1/jobs");
        assert_eq!(Query::new(&ctx, "/v1/jobs").namespace(&ctx, "default").path_and_query(), "/v1/jobs");
        assert_eq!(
            Query::new(&ctx, "/v1/jobs").namespace(&ctx, "acm-ns").path_and_query(),
            "/v1/jobs?namespace=acm-ns"
        );
        assert_eq!(Query::new(&ctx, "/v1/jobs").namespace(&ctx, "*").path_and_query(), "/v1/jobs?namespace=*");
    }

    #[test]
    fn context_namespace_and_region() {
        let ctx = Context { namespace: Some("team".into()), region: Some("eu".into()), ..Context::default() };
        assert_eq!(
            Query::new(&ctx, "/v1/jobs").namespace(&ctx, "").path_and_query(),
            "/v1/jobs?region=eu&namespace=team"
        );
    }

    #[test]
    fn prefix_mode_maps_ids_and_sends_no_namespace() {
        let ctx = Context { namespace_mode: NamespaceMode::Prefix, ..Context::default() };
        assert_eq!(job_id(&ctx, "acm", "ok"), "acm-ok");
        assert_eq!(job_name(&ctx, "acm", "acm-ok"), "ok");
        assert_eq!(job_name(&ctx, "acm", "other"), "other");
        assert_eq!(server_namespace(&ctx, "acm"), None);
    }

    #[test]
    fn index_rules() {
        assert_eq!(next_index(0, None), 1);
        assert_eq!(next_index(5, None), 5);
        assert_eq!(next_index(5, Some(5)), 5);
    }

    #[test]
    fn job_ids() {
        assert!(validate_job_id("acm-ok").is_ok());
        assert!(validate_job_id("").is_err());
        assert!(validate_job_id("a b").is_err());
        assert!(validate_job_id(&"x".repeat(129)).is_err());
        assert!(validate_job_id(&"x".repeat(128)).is_ok());
    }
}
