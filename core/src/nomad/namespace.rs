//! Nomad: create_namespace, delete_namespace.
//!
//! With real namespaces ([`NamespaceMode::Native`], Nomad ≥ 1.0) these read
//! `/v1/namespace/{name}` first (so the answer says whether anything changed) and then write.
//! Nomad applies namespace writes synchronously through Raft: once the write answers 200 the
//! namespace is usable (or gone), so unlike Kubernetes there is nothing more to wait for.
//!
//! A server without namespaces (Nomad before 1.0) answers the read with a bare 404 (an unknown
//! path): that is [`Error::Unsupported`], pointing at [`NamespaceMode::Prefix`].
//!
//! In [`NamespaceMode::Prefix`] (servers without namespaces, the seed's `{namespace}-{job}`
//! job IDs) a namespace is only a prefix: creating one sends nothing and answers `true` (it is
//! usable at once); deleting one sends nothing and answers `true` as well, leaving jobs with
//! that prefix alone (delete them with `delete_job` / `cleanup_jobs`).

use std::convert::Infallible;
use std::time::Instant;

use serde::Serialize;

use super::query::{encode_segment, Query};
use super::{check, Context, NamespaceMode};
use crate::error::{Error, Result};
use crate::model::Namespace;
use crate::op::{answer, Checked, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{Operation, Request, Response};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NamespaceBody<'a> {
    name: &'a str,
    description: &'a str,
    /// Quotas are Enterprise; the official Go client sends an empty one too.
    quota: &'static str,
}

/// Check a namespace name as Nomad does (`^[a-zA-Z0-9-]{1,128}$`).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "namespace".into(),
            problem: format!("{name:?} is not a valid Nomad namespace name (1 to 128 letters, digits or '-')"),
        })
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Create,
    Delete,
}

enum State {
    Start,
    Read,
    Write,
}

struct NamespaceOp {
    ctx: Context,
    name: String,
    description: String,
    kind: Kind,
    state: State,
}

impl NamespaceOp {
    fn path(&self) -> String {
        format!("/v1/namespace/{}", encode_segment(&self.name))
    }
}

impl Machine for NamespaceOp {
    type Output = bool;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        match self.state {
            State::Start => {
                validate_name(&self.name)?;
                self.state = State::Read;
                Ok(Next::Send(Query::new(&self.ctx, self.path()).get()?))
            }
            State::Read => {
                let resp = answer(ans)?;
                let exists = match resp.status() {
                    // An unknown path: a 404 with an empty body (a missing namespace says so).
                    http::StatusCode::NOT_FOUND if resp.body().iter().all(u8::is_ascii_whitespace) => {
                        return Err(Error::Unsupported {
                            operation: match self.kind {
                                Kind::Create => "create_namespace",
                                Kind::Delete => "delete_namespace",
                            },
                            orchestrator: "Nomad",
                            hint: "this server has no /v1/namespace endpoint (Nomad before 1.0); use \
                                   NamespaceMode::Prefix, the seed's `{namespace}-` job ID prefixes",
                        });
                    }
                    http::StatusCode::NOT_FOUND => false,
                    _ => {
                        check(resp)?;
                        true
                    }
                };
                match (self.kind, exists) {
                    (Kind::Create, true) | (Kind::Delete, false) => Ok(Next::Done(Ok(false))),
                    (Kind::Create, false) => {
                        let body = serde_json::to_vec(&NamespaceBody {
                            name: &self.name,
                            description: &self.description,
                            quota: "",
                        })
                        .map_err(|e| Error::protocol(format!("could not encode the namespace: {e}")))?;
                        self.state = State::Write;
                        Ok(Next::Send(Query::new(&self.ctx, "/v1/namespace").post(Some(body))?))
                    }
                    (Kind::Delete, true) => {
                        self.state = State::Write;
                        Ok(Next::Send(Query::new(&self.ctx, self.path()).delete()?))
                    }
                }
            }
            State::Write => {
                check(answer(ans)?)?;
                Ok(Next::Done(Ok(true)))
            }
        }
    }
}

fn op(ctx: &Context, name: &str, description: &str, kind: Kind) -> Flow<PrefixOr> {
    let inner = match ctx.namespace_mode {
        NamespaceMode::Prefix => PrefixOr::Prefix(Some(validate_name(name).map(|()| true))),
        NamespaceMode::Native => PrefixOr::Native(NamespaceOp {
            ctx: ctx.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            kind,
            state: State::Start,
        }),
    };
    Flow::new(inner, &ctx.retry)
}

/// Either the native state machine or the prefix-mode answer (no request).
enum PrefixOr {
    Native(NamespaceOp),
    Prefix(Option<Result<bool>>),
}

impl Machine for PrefixOr {
    type Output = bool;
    fn step(&mut self, now: Instant, ans: Option<Result<Response>>) -> Result<Next<bool>> {
        match self {
            PrefixOr::Native(op) => op.step(now, ans),
            PrefixOr::Prefix(result) => {
                Ok(Next::Done(result.take().unwrap_or_else(|| Err(Error::protocol("operation finished twice")))))
            }
        }
    }
}

/// `create_namespace`: `true` if the namespace was created, `false` if it already existed.
/// Reads `GET /v1/namespace/{name}`, then `POST /v1/namespace` (answered 200 with an empty body).
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::namespace::create(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/namespace/acm-ns");
/// ```
pub fn create(ctx: &Context, name: &str) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    op(ctx, name, "", Kind::Create)
}

/// [`create`] with a description.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::namespace::create_with_description(&nomad::Context::default(), "acm-ns", "batch work");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/namespace/acm-ns");
/// ```
pub fn create_with_description(
    ctx: &Context,
    name: &str,
    description: &str,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    op(ctx, name, description, Kind::Create)
}

/// `delete_namespace`: `true` if the namespace was deleted, `false` if it did not exist.
/// A namespace that still holds jobs that are not dead is refused by Nomad (a 500 `namespace
/// "x" has non-terminal jobs in regions: [global]`), reported as [`Error::Invalid`] with that
/// cause: stop or purge the jobs first.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::namespace::delete(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.method(), "GET");
/// ```
pub fn delete(ctx: &Context, name: &str) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    op(ctx, name, "", Kind::Delete)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NamespaceAnswer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// `list_namespaces`: every namespace of the agent's region (`GET /v1/namespaces`), each
/// `Active`. In [`NamespaceMode::Prefix`] namespaces are only job ID prefixes, which no
/// server keeps a list of: [`Error::Unsupported`], without a request.
///
/// ```
/// use clustermanager_core::{nomad, Event, Operation, Step};
/// let mut op = nomad::namespace::list(&nomad::Context::default());
/// let now = std::time::Instant::now();
/// let Step::Send(req, _) = op.poll(now) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/namespaces");
/// let body = r#"[{"Name":"default","Description":"Default shared namespace"}]"#;
/// op.handle(Event::Response(http::Response::builder().status(200).body(body.into()).unwrap()));
/// let Step::Done(Ok(namespaces)) = op.poll(now) else { unreachable!() };
/// assert_eq!(namespaces[0].description.as_deref(), Some("Default shared namespace"));
/// ```
pub fn list(ctx: &Context) -> impl Operation<Output = Vec<Namespace>, Item = Infallible> + Send + 'static {
    let req = if ctx.namespace_mode == NamespaceMode::Prefix {
        Err(Error::Unsupported {
            operation: "list_namespaces",
            orchestrator: "Nomad",
            hint: "a server without namespaces (NamespaceMode::Prefix) keeps no list of the job ID prefixes; list_jobs shows the jobs",
        })
    } else {
        Query::new(ctx, "/v1/namespaces").get()
    };
    Checked::from(req.map(|req| {
        crate::op::Call::new(req, &ctx.retry, |resp: Response| {
            let resp = check(resp)?;
            let answers: Vec<NamespaceAnswer> = super::decode("namespace list", resp.body())?;
            let namespaces = answers.into_iter().map(NamespaceAnswer::into_namespace).collect();
            Ok(crate::raw::elements(namespaces, resp.body()))
        })
    }))
}

impl NamespaceAnswer {
    fn into_namespace(self) -> Namespace {
        Namespace {
            name: self.name,
            phase: "Active".into(),
            description: Some(self.description).filter(|d| !d.is_empty()),
            raw: Raw::default(),
        }
    }
}

/// `get_namespace`: one namespace ([`Error::NotFound`] if it does not exist). Nomad
/// namespaces have no phases: `Active`. In [`NamespaceMode::Prefix`] a namespace is a job ID
/// prefix that always exists: answered without a request, with a description saying so.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::namespace::get(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/namespace/acm-ns");
/// ```
pub fn get(ctx: &Context, name: &str) -> impl Operation<Output = Namespace, Item = Infallible> + Send + 'static {
    let get = if ctx.namespace_mode == NamespaceMode::Prefix {
        let ns = Namespace {
            raw: crate::Raw::default(),
            name: name.to_owned(),
            phase: "Active".into(),
            description: Some(format!("job ID prefix {name}- (a Nomad server without namespaces)")),
        };
        validate_name(name).map(|()| GetNs::Known(Some(ns)))
    } else {
        validate_name(name)
            .and_then(|()| {
                Query::new(ctx, format!("/v1/namespace/{}", encode_segment(name))).request(http::Method::GET, None)
            })
            .map(|req| GetNs::Read(Some(req)))
    };
    Checked::from(get.map(|get| Flow::new(get, &ctx.retry)))
}

/// The machine of [`get`]: read the namespace, or answer at once in prefix mode.
enum GetNs {
    /// The read, until it is sent.
    Read(Option<Request>),
    /// The answer, without a request.
    Known(Option<Namespace>),
}

impl Machine for GetNs {
    type Output = Namespace;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<Namespace>> {
        let lost = || Error::protocol("get_namespace polled after it finished");
        match (self, answer) {
            (GetNs::Known(ns), _) => Ok(Next::Done(ns.take().ok_or_else(lost))),
            (GetNs::Read(req), None) => Ok(Next::Send(req.take().ok_or_else(lost)?)),
            (GetNs::Read(_), Some(answer)) => {
                let resp = check(answer?)?;
                let answer: NamespaceAnswer = super::decode("namespace", resp.body())?;
                Ok(Next::Done(Ok(answer.into_namespace().keeping(Raw::whole(resp.into_body())))))
            }
        }
    }
}
