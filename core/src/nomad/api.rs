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
//! let Step::Send(req) = op.poll(now) else { unreachable!() };
//! assert_eq!(req.uri(), "/v1/jobs?prefix=acm-");
//! let resp = http::Response::builder().header("X-Nomad-Index", "48").body("[]".into()).unwrap();
//! op.handle(Event::Response(resp));
//! let Step::Done(Ok((jobs, meta))) = op.poll(now) else { unreachable!() };
//! assert!(jobs.is_empty());
//! assert_eq!(meta.index, Some(48));
//! ```

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{check, decode, Context, NamespaceMode};
use crate::call::{Call, Exchange, ExchangeStep};
use crate::error::{Error, Result};
use crate::step::{Event, Operation, Request, Response, Step};

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
            out.namespace = namespace_param(ctx, "");
        }
        if out.region.is_none() {
            out.region.clone_from(&ctx.region);
        }
        out
    }

    /// The query string (without `?`; empty when nothing is set).
    pub fn to_query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(ns) = &self.namespace {
            q.append_pair("namespace", ns);
        }
        if let Some(region) = &self.region {
            q.append_pair("region", region);
        }
        if let Some(index) = self.index {
            q.append_pair("index", &index.to_string());
        }
        if let Some(wait) = self.wait {
            q.append_pair("wait", &go_duration(wait));
        }
        if self.stale {
            q.append_pair("stale", "");
        }
        if let Some(prefix) = &self.prefix {
            q.append_pair("prefix", prefix);
        }
        if let Some(filter) = &self.filter {
            q.append_pair("filter", filter);
        }
        if let Some(per_page) = self.per_page {
            q.append_pair("per_page", &per_page.to_string());
        }
        if let Some(token) = &self.next_token {
            q.append_pair("next_token", token);
        }
        for (k, v) in &self.params {
            q.append_pair(k, v);
        }
        q.finish()
    }
}

/// A duration as Go's `time.ParseDuration` reads it (`5s`, `1500ms`).
fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

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

pub use crate::encode::segment as encode_segment;

/// `/v1/` followed by the segments, each percent-encoded: `path(&["job", id, "allocations"])`.
pub fn path(segments: &[&str]) -> String {
    let mut out = String::from("/v1");
    for s in segments {
        out.push('/');
        out.push_str(&encode_segment(s));
    }
    out
}

/// The namespace parameter for an operation: `namespace` when given, else the context's; `None`
/// for `default` (what the server assumes) and when namespaces are mapped onto job prefixes.
pub(crate) fn namespace_param(ctx: &Context, namespace: &str) -> Option<String> {
    if ctx.namespace_mode == NamespaceMode::Prefix {
        return None;
    }
    let ns = if namespace.is_empty() { ctx.namespace.as_deref().unwrap_or("") } else { namespace };
    if ns.is_empty() || ns == "default" {
        None
    } else {
        Some(ns.to_owned())
    }
}

/// `path` (absolute, or relative to `/v1/`) with `query` appended.
pub(crate) fn path_and_query(path: &str, query: &str) -> String {
    let mut out = if path.starts_with('/') { path.to_owned() } else { format!("/v1/{path}") };
    if !query.is_empty() {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(query);
    }
    out
}

/// The request for a read of `path` with `opts` completed from the context.
fn read_request(ctx: &Context, path: &str, opts: &QueryOptions) -> Result<Request> {
    let uri = path_and_query(path, &opts.with_context(ctx).to_query());
    crate::step::request(http::Method::GET, &uri, None)
}

type ParseFn<T> = Box<dyn FnOnce(Response) -> Result<T> + Send>;

/// A single-request operation, or the error that kept it from being sent (a request that could
/// not be built). The building block of the simple Nomad operations.
pub struct Single<T> {
    call: Option<Call<ParseFn<T>>>,
    error: Option<Error>,
}

impl<T> std::fmt::Debug for Single<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Single")
            .field("request", &self.call.as_ref().map(|c| c.request().uri().to_string()))
            .field("error", &self.error)
            .finish()
    }
}

impl<T> Single<T> {
    /// Send `request` (with retries under the context's policy) and parse the answer with `parse`.
    pub fn new(
        ctx: &Context,
        request: Result<Request>,
        parse: impl FnOnce(Response) -> Result<T> + Send + 'static,
    ) -> Self {
        match request {
            Ok(req) => Single { call: Some(Call::new(req, &ctx.retry, Box::new(parse) as ParseFn<T>)), error: None },
            Err(e) => Single { call: None, error: Some(e) },
        }
    }
}

impl<T> Operation for Single<T> {
    type Output = T;
    type Item = Infallible;
    fn poll(&mut self, now: Instant) -> Step<T> {
        match (&mut self.call, self.error.take()) {
            (_, Some(err)) => Step::Done(Err(err)),
            (Some(call), None) => call.poll(now),
            (None, None) => Step::Done(Err(Error::protocol("operation polled after it finished"))),
        }
    }
    fn handle(&mut self, event: Event) {
        if let Some(call) = &mut self.call {
            call.handle(event);
        }
    }
}

/// Read `path` and decode its JSON answer into `T`, with the answer's [`QueryMeta`].
pub fn get<T: DeserializeOwned + 'static>(
    ctx: &Context,
    path: &str,
    opts: &QueryOptions,
) -> impl Operation<Output = (T, QueryMeta), Item = Infallible> + Send + 'static {
    let what = path.to_owned();
    Single::new(ctx, read_request(ctx, path, opts), move |resp| {
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
    Single::new(ctx, read_request(ctx, path, opts), |resp| {
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
) -> Single<(Option<Box<RawValue>>, QueryMeta)> {
    let uri = path_and_query(path, &opts.with_context(ctx).to_query());
    let what = path.to_owned();
    let request = body.and_then(|body| crate::step::request(method, &uri, body));
    Single::new(ctx, request, move |resp| {
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
/// one page. The [`QueryMeta`] returned is the last page's.
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
    let mut list =
        ListAll { ctx: ctx.clone(), path: path.to_owned(), opts, exchange: None, items: Vec::new(), error: None };
    match list.request() {
        Ok(ex) => list.exchange = Some(ex),
        Err(e) => list.error = Some(e),
    }
    list
}

/// The paginated list operation behind [`list_all`].
#[derive(Debug)]
struct ListAll<T> {
    ctx: Context,
    path: String,
    opts: QueryOptions,
    exchange: Option<Exchange>,
    items: Vec<T>,
    error: Option<Error>,
}

impl<T> ListAll<T> {
    fn request(&self) -> Result<Exchange> {
        let uri = path_and_query(&self.path, &self.opts.to_query());
        Ok(Exchange::send(crate::step::request(http::Method::GET, &uri, None)?, &self.ctx.retry))
    }
}

impl<T: DeserializeOwned> Operation for ListAll<T> {
    type Output = (Vec<T>, QueryMeta);
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<Self::Output> {
        loop {
            if let Some(err) = self.error.take() {
                self.exchange = None;
                return Step::Done(Err(err));
            }
            let Some(exchange) = self.exchange.as_mut() else {
                return Step::Done(Err(Error::protocol("list polled after it finished")));
            };
            let resp = match exchange.poll(now) {
                ExchangeStep::Send(req) => return Step::Send(req),
                ExchangeStep::Wait(d) => return Step::Wait(d),
                ExchangeStep::Done(Err(e)) => Err(e),
                ExchangeStep::Done(Ok(resp)) => check(resp),
            };
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    self.exchange = None;
                    return Step::Done(Err(e));
                }
            };
            let meta = QueryMeta::from_headers(resp.headers());
            match decode::<Vec<T>>(&self.path, resp.body()) {
                Ok(page) => self.items.extend(page),
                Err(e) => {
                    self.exchange = None;
                    return Step::Done(Err(e));
                }
            }
            match &meta.next_token {
                Some(token) if self.opts.next_token.as_deref() == Some(token.as_str()) => {
                    self.exchange = None;
                    return Step::Done(Err(Error::protocol(format!(
                        "{} answered the same next token {token:?} twice; stopping instead of looping",
                        self.path
                    ))));
                }
                Some(token) => {
                    self.opts.next_token = Some(token.clone());
                    match self.request() {
                        Ok(ex) => self.exchange = Some(ex),
                        Err(e) => self.error = Some(e),
                    }
                }
                None => {
                    self.exchange = None;
                    return Step::Done(Ok((std::mem::take(&mut self.items), meta)));
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Some(exchange) = &mut self.exchange {
            exchange.handle(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn context_fills_namespace_and_region() {
        let ctx = Context { namespace: Some("acm-ns".into()), region: Some("global".into()), ..Context::default() };
        let q = QueryOptions::default().with_context(&ctx);
        assert_eq!(q.to_query(), "namespace=acm-ns&region=global");
        let ctx = Context { namespace: Some("default".into()), ..Context::default() };
        assert_eq!(QueryOptions::default().with_context(&ctx).to_query(), "");
        let ctx = Context { namespace: Some("x".into()), namespace_mode: NamespaceMode::Prefix, ..Context::default() };
        assert_eq!(QueryOptions::default().with_context(&ctx).to_query(), "");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            path(&["job", "acm-param/dispatch-1795639013-f06b5802"]),
            "/v1/job/acm-param%2Fdispatch-1795639013-f06b5802"
        );
        assert_eq!(encode_segment("a b?é"), "a%20b%3F%C3%A9");
        assert_eq!(
            path_and_query("/v1/event/stream?index=abc", "namespace=x"),
            "/v1/event/stream?index=abc&namespace=x"
        );
        assert_eq!(path_and_query("jobs", ""), "/v1/jobs");
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
        let Step::Send(req) = op.poll(now) else { panic!("expected a request") };
        assert_eq!(req.uri(), "/v1/jobs?per_page=2");
        op.handle(Event::Response(page(r#"["a","b"]"#, Some("c"))));
        let Step::Send(req) = op.poll(now) else { panic!("expected a second request") };
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
        assert!(matches!(op.poll(now), Step::Send(_)));
        op.handle(Event::Response(page("[]", Some("x"))));
        assert!(matches!(op.poll(now), Step::Send(_)));
        op.handle(Event::Response(page("[]", Some("x"))));
        assert!(matches!(op.poll(now), Step::Done(Err(Error::Protocol(_)))));
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
