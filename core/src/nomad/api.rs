//! The generic escape hatch to any Nomad HTTP endpoint: [`QueryOptions`] rendered as a query
//! string, [`QueryMeta`] read from the `X-Nomad-*` headers, and operations to read
//! ([`get`], [`get_raw`], [`get_bytes`]), write ([`write()`], [`write_json`]) and list every page
//! ([`list_all`], following `X-Nomad-NextToken`).
//!
//! Paths are given as on the wire (`/v1/job/acm-ok/allocations`), or without the `/v1/` prefix
//! (`job/acm-ok`). Build them from untrusted names with [`path`], which percent-encodes each
//! segment: dispatched job IDs contain `/` (`acm-param/dispatch-1795639013-f06b5802`).
//!
//! ```
//! use clustermanager_core::nomad::{api, Context};
//! use clustermanager_core::{Event, Operation, Step};
//!
//! let ctx = Context::default();
//! let opts = api::QueryOptions { prefix: Some("acm-".into()), ..Default::default() };
//! let mut op = api::get::<Vec<serde_json::Value>>(&ctx, "/v1/jobs", &opts);
//! let now = std::time::Instant::now();
//! let Step::Send(req, _) = op.poll(now) else { unreachable!() };
//! assert_eq!(req.uri(), "/v1/jobs?prefix=acm-");
//! let resp = http::Response::builder().header("X-Nomad-Index", "48").body("[]".into()).unwrap();
//! op.handle(Event::Response(resp));
//! let Step::Done(Ok((jobs, meta))) = op.poll(now) else { unreachable!() };
//! assert!(jobs.is_empty());
//! assert_eq!(meta.index, Some(48));
//! ```

use crate::pages::Pages;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use super::query::{format_wait, server_namespace, Query, MAX_WAIT};
use super::{check, decode, Context};
use crate::deadline::Hold;
use crate::error::{Error, Result};
use crate::op::Call;
use crate::op::{Checked, Flow, Machine, Next};
use crate::step::{Operation, Request, Response};

/// Options of a Nomad query (the parameters every read endpoint understands). Fields left at
/// their default are not sent. `per_page`, `next_token` and `filter` need Nomad ≥ 1.2; older
/// servers ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryOptions {
    /// `namespace=` (`*` for every namespace). `None` takes the context's default namespace.
    pub namespace: Option<String>,
    /// `region=`. `None` takes the context's region.
    pub region: Option<String>,
    /// `index=`: make this a blocking query that answers once the index passes this value.
    pub index: Option<u64>,
    /// `wait=`: how long a blocking query may wait (the server caps it at 10 minutes).
    pub wait: Option<Duration>,
    /// `stale`: let any server answer, not only the leader.
    pub stale: bool,
    /// `prefix=`: only objects whose ID starts with this.
    pub prefix: Option<String>,
    /// `filter=`: a filter expression (Nomad ≥ 1.2).
    pub filter: Option<String>,
    /// `per_page=`: page size (Nomad ≥ 1.2).
    pub per_page: Option<u32>,
    /// `next_token=`: where the page starts (from [`QueryMeta::next_token`]).
    pub next_token: Option<String>,
    /// Any other parameters, in order (`("path", "/alloc/logs")`, `("purge", "true")`).
    pub params: Vec<(String, String)>,
}

impl QueryOptions {
    /// Add an endpoint-specific parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// These options with the context's namespace and region filled in where unset. The
    /// namespace is left out when it is `default` (the server's own default) or when the context
    /// maps namespaces onto job-name prefixes.
    pub fn with_context(&self, ctx: &Context) -> QueryOptions {
        let mut out = self.clone();
        if out.namespace.is_none() {
            out.namespace = server_namespace(ctx, "");
        }
        if out.region.is_none() {
            out.region = ctx.region.clone().filter(|r| !r.is_empty());
        }
        out
    }

    /// These options as parameters of `query`. A blocking query (`index` set) always names its
    /// `wait` (the server's default, [`MAX_WAIT`], when unset), capped at Nomad's 10 minutes, so
    /// the transport knows how long the answer may take.
    pub fn apply(&self, query: Query) -> Query {
        let wait = self.server_wait();
        let mut q = query
            .param_opt("namespace", self.namespace.as_deref())
            .param_opt("region", self.region.as_deref())
            .param_opt("index", self.index.map(|i| i.to_string()))
            .param_opt("wait", wait.map(format_wait));
        if self.stale {
            q = q.param("stale", "");
        }
        q = q
            .param_opt("prefix", self.prefix.as_deref())
            .param_opt("filter", self.filter.as_deref())
            .param_opt("per_page", self.per_page.map(|n| n.to_string()))
            .param_opt("next_token", self.next_token.as_deref());
        self.params.iter().fold(q, |q, (k, v)| q.param(k, v.as_str()))
    }

    /// The `wait=` these options send: a blocking query (`index` set) always names one.
    fn server_wait(&self) -> Option<Duration> {
        match (self.index, self.wait) {
            (_, Some(wait)) => Some(wait.min(MAX_BLOCKING_WAIT)),
            (Some(_), None) => Some(MAX_WAIT),
            (None, None) => None,
        }
    }

    /// How long the server may hold a read with these options (its `wait=`), for the step's
    /// [`Io`](crate::deadline::Io).
    pub fn hold(&self) -> Hold {
        self.server_wait().map_or(Hold::None, Hold::Server)
    }

    /// The query string (without `?`; empty when nothing is set).
    pub fn to_query(&self) -> String {
        self.apply(Query::bare("")).query_string()
    }
}

/// The longest `wait` Nomad honours (`MaxBlockingRPCQueryTime`): longer waits are cut to it.
pub const MAX_BLOCKING_WAIT: Duration = Duration::from_secs(600);

/// What the `X-Nomad-*` headers of an answer say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMeta {
    /// `X-Nomad-Index`: the index to pass to the next blocking query.
    pub index: Option<u64>,
    /// `X-Nomad-KnownLeader`: whether the answering server knew a leader.
    pub known_leader: Option<bool>,
    /// `X-Nomad-LastContact`: how long ago the answering server heard from the leader.
    pub last_contact: Option<Duration>,
    /// `X-Nomad-NextToken`: where the next page starts (Nomad ≥ 1.2 paginated lists).
    pub next_token: Option<String>,
}

impl QueryMeta {
    /// Read the metadata from response headers; malformed values are left out.
    pub fn from_headers(headers: &http::HeaderMap) -> QueryMeta {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        QueryMeta {
            index: text("x-nomad-index").and_then(|v| v.parse().ok()),
            known_leader: text("x-nomad-knownleader").and_then(|v| v.parse().ok()),
            last_contact: text("x-nomad-lastcontact").and_then(|v| v.parse().ok()).map(Duration::from_millis),
            next_token: text("x-nomad-nexttoken").filter(|v| !v.is_empty()).map(str::to_owned),
        }
    }
}

pub use super::query::encode_segment;

/// `/v1/` followed by the segments, each percent-encoded: `path(&["job", id, "allocations"])`.
///
/// ```
/// use clustermanager_core::nomad::api::path;
/// assert_eq!(path(&["job", "acm-param/dispatch-1-ab", "allocations"]), "/v1/job/acm-param%2Fdispatch-1-ab/allocations");
/// ```
pub fn path(segments: &[&str]) -> String {
    let mut out = String::from("/v1");
    for s in segments {
        out.push('/');
        out.push_str(&encode_segment(s));
    }
    out
}

/// `path` as a request path: absolute, or relative to `/v1/`.
fn v1_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/v1/{path}")
    }
}

/// The query for `path` with `opts` completed from the context.
fn query(ctx: &Context, path: &str, opts: &QueryOptions) -> Query {
    opts.with_context(ctx).apply(Query::bare(v1_path(path)))
}

/// The request for a read of `path` with `opts` completed from the context, and how long the
/// server may hold it.
fn read_request(ctx: &Context, path: &str, opts: &QueryOptions) -> Result<(Request, Hold)> {
    Ok((query(ctx, path, opts).get()?, opts.hold()))
}

/// A single-request operation: `request` (or the error that kept it from being built) sent
/// with the context's retries, its answer parsed by `parse`.
fn single<T>(
    ctx: &Context,
    request: Result<(Request, Hold)>,
    parse: impl FnOnce(Response) -> Result<T> + Send + 'static,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    T: Send + 'static,
{
    Checked::from(request.map(|(req, hold)| Call::new(req, &ctx.retry, parse).holding(hold)))
}

/// Read `path` and decode its JSON answer into `T`, with the answer's [`QueryMeta`]. With
/// `index` set this is a blocking query: it answers once the index passed it, or after `wait`.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::nomad::{api, Context};
/// use clustermanager_core::{Operation, Step};
/// let opts = api::QueryOptions { index: Some(14), wait: Some(Duration::from_secs(5)), ..Default::default() };
/// let mut op = api::get::<serde_json::Value>(&Context::default(), &api::path(&["job", "acm-ok"]), &opts);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-ok?index=14&wait=5s");
/// ```
pub fn get<T: DeserializeOwned + Send + 'static>(
    ctx: &Context,
    path: &str,
    opts: &QueryOptions,
) -> impl Operation<Output = (T, QueryMeta), Item = Infallible> + Send + 'static {
    let what = path.to_owned();
    single(ctx, read_request(ctx, path, opts), move |resp| {
        let resp = check(resp)?;
        let value = decode::<T>(&what, resp.body())?;
        Ok((value, QueryMeta::from_headers(resp.headers())))
    })
}

/// Read `path` and keep its JSON answer as raw JSON (validated, not interpreted).
///
/// ```
/// use clustermanager_core::nomad::{api, Context};
/// let op = api::get_raw(&Context::default(), "status/leader", &api::QueryOptions::default());
/// # let _ = op;
/// ```
pub fn get_raw(
    ctx: &Context,
    path: &str,
    opts: &QueryOptions,
) -> impl Operation<Output = (Box<RawValue>, QueryMeta), Item = Infallible> + Send + 'static {
    get::<Box<RawValue>>(ctx, path, opts)
}

/// Read `path` and return its body as bytes (for answers that are not JSON: `/v1/client/fs/cat`,
/// `/v1/client/fs/readat`, plain logs).
///
/// ```
/// use clustermanager_core::nomad::{api, Context};
/// let opts = api::QueryOptions::default().param("path", "/alloc/logs/main.stdout.0");
/// let alloc = "294e657f-3f0a-03f7-a46d-932b102c10ce";
/// let op = api::get_bytes(&Context::default(), &api::path(&["client", "fs", "cat", alloc]), &opts);
/// # let _ = op;
/// ```
pub fn get_bytes(
    ctx: &Context,
    path: &str,
    opts: &QueryOptions,
) -> impl Operation<Output = (Bytes, QueryMeta), Item = Infallible> + Send + 'static {
    single(ctx, read_request(ctx, path, opts), |resp| {
        let resp = check(resp)?;
        let meta = QueryMeta::from_headers(resp.headers());
        Ok((resp.into_body(), meta))
    })
}

/// Send `body` (already encoded JSON, or none) to `path` with `method` (`POST`, `PUT`,
/// `DELETE`). The answer's JSON comes back raw; `None` when the body is empty (namespace and ACL
/// policy writes answer 200 with no body). Writes are retried only where the context's retry
/// policy allows it for that method.
///
/// ```
/// use clustermanager_core::nomad::{api, Context};
/// let op = api::write(&Context::default(), http::Method::POST, "/v1/acl/bootstrap", &Default::default(), None);
/// # let _ = op;
/// ```
pub fn write(
    ctx: &Context,
    method: http::Method,
    path: &str,
    opts: &QueryOptions,
    body: Option<Vec<u8>>,
) -> impl Operation<Output = (Option<Box<RawValue>>, QueryMeta), Item = Infallible> + Send + 'static {
    write_op(ctx, method, path, opts, Ok(body))
}

/// [`write()`] with `body` serialized as JSON.
///
/// ```
/// use clustermanager_core::nomad::{api, Context};
/// let body = serde_json::json!({"JobHCL": "job \"x\" {}", "Canonicalize": true});
/// let op = api::write_json(&Context::default(), http::Method::POST, "jobs/parse", &Default::default(), &body);
/// # let _ = op;
/// ```
pub fn write_json<B: Serialize + ?Sized>(
    ctx: &Context,
    method: http::Method,
    path: &str,
    opts: &QueryOptions,
    body: &B,
) -> impl Operation<Output = (Option<Box<RawValue>>, QueryMeta), Item = Infallible> + Send + 'static {
    let body = serde_json::to_vec(body)
        .map(Some)
        .map_err(|e| Error::InvalidInput { field: "body".into(), problem: format!("cannot be encoded as JSON: {e}") });
    write_op(ctx, method, path, opts, body)
}

fn write_op(
    ctx: &Context,
    method: http::Method,
    path: &str,
    opts: &QueryOptions,
    body: Result<Option<Vec<u8>>>,
) -> impl Operation<Output = (Option<Box<RawValue>>, QueryMeta), Item = Infallible> + Send + 'static {
    let what = path.to_owned();
    let request = body.and_then(|body| Ok((query(ctx, path, opts).request(method, body)?, Hold::None)));
    single(ctx, request, move |resp| {
        let resp = check(resp)?;
        let meta = QueryMeta::from_headers(resp.headers());
        if resp.body().iter().all(u8::is_ascii_whitespace) {
            return Ok((None, meta));
        }
        let raw = decode::<Box<RawValue>>(&what, resp.body())?;
        Ok((Some(raw), meta))
    })
}

/// Read every page of the list at `path`: follows `X-Nomad-NextToken` with `next_token=` until
/// the server sends no token. Servers before Nomad 1.2 do not paginate and answer everything in
/// one page. The [`QueryMeta`] returned is the last page's. A token given twice (at once or
/// after a cycle) or more than [`DEFAULT_MAX_PAGES`](crate::k8s::api::DEFAULT_MAX_PAGES) pages end
/// it with [`Error::Decode`].
///
/// ```
/// use clustermanager_core::nomad::{api, Context};
/// let opts = api::QueryOptions { per_page: Some(100), ..Default::default() };
/// let op = api::list_all::<serde_json::Value>(&Context::default(), "/v1/jobs", &opts);
/// # let _ = op;
/// ```
pub fn list_all<T: DeserializeOwned + Send + 'static>(
    ctx: &Context,
    path: &str,
    opts: &QueryOptions,
) -> impl Operation<Output = (Vec<T>, QueryMeta), Item = Infallible> + Send + 'static {
    let opts = opts.with_context(ctx);
    let pages = Pages::default().starting_from(opts.next_token.as_deref());
    let list = ListAll { path: path.to_owned(), opts, items: Vec::new(), pages };
    Flow::new(list, &ctx.retry)
}

/// The paginated list behind [`list_all`].
struct ListAll<T> {
    path: String,
    opts: QueryOptions,
    items: Vec<T>,
    pages: Pages,
}

impl<T: DeserializeOwned> Machine for ListAll<T> {
    type Output = (Vec<T>, QueryMeta);

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        if let Some(ans) = ans {
            let resp = check(ans?)?;
            let meta = QueryMeta::from_headers(resp.headers());
            self.items.extend(decode::<Vec<T>>(&self.path, resp.body())?);
            match meta.next_token {
                Some(ref token) => {
                    self.pages.next(&self.path, token, self.items.len())?;
                    self.opts.next_token = Some(token.clone());
                }
                None => return Ok(Next::Done(Ok((std::mem::take(&mut self.items), meta)))),
            }
        }
        Ok(Next::Send(self.opts.apply(Query::bare(v1_path(&self.path))).get()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{Event, Step};

    #[test]
    fn query_renders_set_fields_only() {
        assert_eq!(QueryOptions::default().to_query(), "");
        let q = QueryOptions {
            namespace: Some("*".into()),
            index: Some(14),
            wait: Some(Duration::from_secs(5)),
            prefix: Some("acm-".into()),
            filter: Some(r#"Status == "dead""#.into()),
            per_page: Some(2),
            next_token: Some("acm-b".into()),
            stale: true,
            ..Default::default()
        }
        .param("purge", "true");
        assert_eq!(
            q.to_query(),
            "namespace=*&index=14&wait=5s&stale=&prefix=acm-&filter=Status+%3D%3D+%22dead%22&per_page=2&next_token=acm-b&purge=true"
        );
        // A blocking query always says how long it may wait, and never more than Nomad allows.
        assert_eq!(QueryOptions { index: Some(3), ..Default::default() }.to_query(), "index=3&wait=300s");
        let long = QueryOptions { index: Some(3), wait: Some(Duration::from_secs(3600)), ..Default::default() };
        assert_eq!(long.to_query(), "index=3&wait=600s");
    }

    #[test]
    fn context_fills_namespace_and_region() {
        let ctx = Context { namespace: Some("acm-ns".into()), region: Some("global".into()), ..Context::default() };
        let q = QueryOptions::default().with_context(&ctx);
        assert_eq!(q.to_query(), "namespace=acm-ns&region=global");
        let ctx = Context { namespace: Some("default".into()), ..Context::default() };
        assert_eq!(QueryOptions::default().with_context(&ctx).to_query(), "");
        let ctx = Context {
            namespace: Some("x".into()),
            namespace_mode: crate::nomad::NamespaceMode::Prefix,
            ..Context::default()
        };
        assert_eq!(QueryOptions::default().with_context(&ctx).to_query(), "");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            path(&["job", "acm-param/dispatch-1795639013-f06b5802"]),
            "/v1/job/acm-param%2Fdispatch-1795639013-f06b5802"
        );
        assert_eq!(encode_segment("a b?é"), "a%20b%3F%C3%A9");
        let opts = QueryOptions { namespace: Some("x".into()), ..Default::default() };
        assert_eq!(
            query(&Context::default(), "/v1/event/stream?index=abc", &opts).path_and_query(),
            "/v1/event/stream?index=abc&namespace=x"
        );
        assert_eq!(query(&Context::default(), "jobs", &QueryOptions::default()).path_and_query(), "/v1/jobs");
    }

    fn page(body: &str, token: Option<&str>) -> Response {
        let mut b = http::Response::builder().header("X-Nomad-Index", "7");
        if let Some(t) = token {
            b = b.header("X-Nomad-NextToken", t);
        }
        b.body(Bytes::from(body.to_owned())).unwrap_or_default()
    }

    #[test]
    fn list_all_follows_next_token() {
        let now = Instant::now();
        let opts = QueryOptions { per_page: Some(2), ..Default::default() };
        let mut op = list_all::<String>(&Context::default(), "/v1/jobs", &opts);
        let Step::Send(req, _) = op.poll(now) else { panic!("expected a request") };
        assert_eq!(req.uri(), "/v1/jobs?per_page=2");
        op.handle(Event::Response(page(r#"["a","b"]"#, Some("c"))));
        let Step::Send(req, _) = op.poll(now) else { panic!("expected a second request") };
        assert_eq!(req.uri(), "/v1/jobs?per_page=2&next_token=c");
        op.handle(Event::Response(page(r#"["c"]"#, None)));
        let Step::Done(Ok((items, meta))) = op.poll(now) else { panic!("expected the list") };
        assert_eq!(items, ["a", "b", "c"]);
        assert_eq!(meta.index, Some(7));
    }

    #[test]
    fn list_all_refuses_a_repeated_token() {
        let now = Instant::now();
        let mut op = list_all::<String>(&Context::default(), "/v1/jobs", &QueryOptions::default());
        assert!(matches!(op.poll(now), Step::Send(..)));
        op.handle(Event::Response(page("[]", Some("x"))));
        assert!(matches!(op.poll(now), Step::Send(..)));
        op.handle(Event::Response(page("[]", Some("x"))));
        assert!(matches!(op.poll(now), Step::Done(Err(Error::Decode { .. }))));
    }

    #[test]
    fn meta_reads_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("x-nomad-index", http::HeaderValue::from_static("37"));
        h.insert("x-nomad-knownleader", http::HeaderValue::from_static("true"));
        h.insert("x-nomad-lastcontact", http::HeaderValue::from_static("12"));
        let m = QueryMeta::from_headers(&h);
        assert_eq!(
            m,
            QueryMeta {
                index: Some(37),
                known_leader: Some(true),
                last_contact: Some(Duration::from_millis(12)),
                next_token: None
            }
        );
    }
}
