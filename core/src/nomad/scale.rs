//! Nomad: `get_scale_deploy` and `set_scale_deploy` on a job's task group
//! (`GET`/`POST /v1/job/{id}/scale`).
//!
//! `name` is `job` or `job/group`. The group is what follows the **last** `/`; since dispatched
//! and periodic job IDs contain `/` themselves (`acm-param/dispatch-1795639013-f06b5802`), end
//! such a name with `/` (`acm-param/dispatch-1795639013-f06b5802/`) to mean "that job, its only
//! group". Without a group, the job must have exactly one task group.
//!
//! Nomad 1.1.2 quirk (recorded): scaling while a deployment is active answers
//! `400 job scaling blocked due to active deployment`, records an error scaling event, and yet the
//! job may already be changed. [`set`] reports it as [`Error::BadRequest`] whose message says so;
//! read the scale again with [`get`] once the deployment finished and retry if the count is not
//! the one wanted.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::api::QueryMeta;
use super::query::{encode_segment, job_id, job_name, Query};
use super::{check, decode, Context};
use crate::error::{Error, Result};
use crate::model::Scale;
use crate::op::{Checked, Flow, Machine, Next};
use crate::raw::Raw;
use crate::step::{Operation, Request, Response};

/// The hint added to Nomad's "blocked due to active deployment" refusal.
pub const ACTIVE_DEPLOYMENT_HINT: &str = "Nomad refuses to scale while a deployment is running; \
Nomad 1.1 may still have applied the new count: wait for the deployment to finish, read the scale \
again and retry if needed";

/// Extra fields of a scaling request: the message and metadata recorded in the job's scaling
/// events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleOptions {
    /// `Message` of the scaling event.
    pub message: Option<String>,
    /// `Meta` of the scaling event.
    pub meta: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ScaleStatus {
    #[serde(rename = "TaskGroups", default)]
    task_groups: BTreeMap<String, GroupStatus>,
}

#[derive(Deserialize)]
struct GroupStatus {
    #[serde(rename = "Desired", default)]
    desired: u32,
    #[serde(rename = "Running", default)]
    running: u32,
}

#[derive(Serialize)]
struct ScaleRequest<'a> {
    #[serde(rename = "Count")]
    count: u32,
    #[serde(rename = "Target")]
    target: Target<'a>,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(rename = "Meta", skip_serializing_if = "BTreeMap::is_empty")]
    meta: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Target<'a> {
    #[serde(rename = "Group")]
    group: &'a str,
}

/// `(job ID, group)` from `job` or `job/group` (see the module docs), with the namespace prefix
/// applied in [`NamespaceMode::Prefix`](super::NamespaceMode::Prefix) (as every job operation does: [`job_id`]).
fn split_name(ctx: &Context, namespace: &str, name: &str) -> Result<(String, Option<String>)> {
    let (job, group) = match name.rsplit_once('/') {
        Some((job, "")) => (job, None),
        Some((job, group)) => (job, Some(group.to_owned())),
        None => (name, None),
    };
    if job.is_empty() {
        return Err(Error::InvalidInput {
            field: "name".into(),
            problem: format!("{name:?} names no job; expected `job` or `job/group`"),
        });
    }
    Ok((job_id(ctx, namespace, job), group))
}

fn scale_query(ctx: &Context, namespace: &str, job: &str) -> Query {
    Query::new(ctx, format!("/v1/job/{}/scale", encode_segment(job))).namespace(ctx, namespace)
}

/// Pick the group: the one asked for (which must exist), or the only one.
fn pick_group(status: &ScaleStatus, job: &str, group: Option<&str>) -> Result<(String, u32, u32)> {
    match group {
        Some(g) => match status.task_groups.get(g) {
            Some(s) => Ok((g.to_owned(), s.desired, s.running)),
            None => Err(Error::InvalidInput {
                field: "name".into(),
                problem: format!(
                    "job {job:?} has no task group {g:?} (groups: {})",
                    status.task_groups.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        },
        None => {
            let mut groups = status.task_groups.iter();
            match (groups.next(), groups.next()) {
                (Some((g, s)), None) => Ok((g.clone(), s.desired, s.running)),
                (None, _) => Err(Error::InvalidInput {
                    field: "name".into(),
                    problem: format!("job {job:?} has no task group to scale"),
                }),
                (Some(_), Some(_)) => Err(Error::InvalidInput {
                    field: "name".into(),
                    problem: format!(
                        "job {job:?} has several task groups ({}); name one as `{job}/<group>`",
                        status.task_groups.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                }),
            }
        }
    }
}

/// `(group, desired, running)` from a scale status answer.
fn parse_status(resp: Response, job: &str, group: Option<&str>) -> Result<(String, u32, u32, Raw)> {
    let resp = check(resp)?;
    let status: ScaleStatus = decode("Nomad job scale status", resp.body())?;
    let (group, desired, running) = pick_group(&status, job, group)?;
    Ok((group, desired, running, Raw::whole(resp.into_body())))
}

/// Turn the answer to a scaling request into an error if it is one, adding the hint for the
/// "active deployment" refusal.
fn check_scale_write(resp: Response) -> Result<QueryMeta> {
    match check(resp) {
        Ok(resp) => Ok(QueryMeta::from_headers(resp.headers())),
        Err(Error::BadRequest(mut api)) if api.message.contains("active deployment") => {
            api.message = format!("{} ({ACTIVE_DEPLOYMENT_HINT})", api.message);
            Err(Error::BadRequest(api))
        }
        Err(e) => Err(e),
    }
}

/// The scale operations' machine: [`get`] reads; [`set`] reads (the running count, and the
/// job's only group when `name` names none), then writes.
#[derive(Debug)]
pub struct ScaleOp {
    ctx: Context,
    namespace: String,
    job: String,
    group: Option<String>,
    /// `Some` for `set`.
    target: Option<(u32, ScaleOptions)>,
    /// Running count learned from the read, if any.
    running: Option<u32>,
    /// The write is out (else the read).
    writing: bool,
}

impl ScaleOp {
    fn new(ctx: &Context, namespace: &str, name: &str, target: Option<(u32, ScaleOptions)>) -> Result<Flow<Self>> {
        let (job, group) = split_name(ctx, namespace, name)?;
        let op = ScaleOp {
            ctx: ctx.clone(),
            namespace: namespace.to_owned(),
            job,
            group,
            target,
            running: None,
            writing: false,
        };
        Ok(Flow::new(op, &ctx.retry))
    }

    fn read_request(&self) -> Result<Request> {
        scale_query(&self.ctx, &self.namespace, &self.job).get()
    }

    fn write_request(&self) -> Result<Request> {
        let Some((count, options)) = &self.target else {
            return Err(Error::protocol("scale write without a target count"));
        };
        let group = self.group.as_deref().unwrap_or_default();
        let body = ScaleRequest {
            count: *count,
            target: Target { group },
            message: options.message.as_deref(),
            meta: &options.meta,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::InvalidInput { field: "scale".into(), problem: e.to_string() })?;
        scale_query(&self.ctx, &self.namespace, &self.job).post(Some(body))
    }

    /// `job/group` as the caller names it (without the namespace prefix of
    /// [`NamespaceMode::Prefix`](super::NamespaceMode::Prefix)).
    fn seed_name(&self, group: &str) -> String {
        format!("{}/{group}", job_name(&self.ctx, &self.namespace, &self.job))
    }
}

impl Machine for ScaleOp {
    type Output = Scale;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<Scale>> {
        let Some(answer) = answer else {
            // a set reads first too: the running count it reports, and the group's check
            return Ok(Next::Send(self.read_request()?));
        };
        if self.writing {
            check_scale_write(answer?)?;
            return Ok(Next::Done(Ok(Scale {
                // the write answers with an evaluation, not the object
                raw: Raw::default(),
                name: self.seed_name(self.group.as_deref().unwrap_or_default()),
                replicas: self.running.unwrap_or_default(),
                desired: self.target.as_ref().map(|(c, _)| *c).unwrap_or_default(),
            })));
        }
        let (group, desired, running, raw) = parse_status(answer?, &self.job, self.group.as_deref())?;
        if self.target.is_none() {
            let name = self.seed_name(&group);
            return Ok(Next::Done(Ok(Scale { name, replicas: running, desired, raw })));
        }
        self.running = Some(running);
        self.group = Some(group);
        self.writing = true;
        Ok(Next::Send(self.write_request()?))
    }
}

/// `get_scale_deploy`: the desired count (`replicas`) and running count (`current`) of a job's
/// task group. `name` is `job` or `job/group`; the returned name is always `job/group`.
///
/// ```
/// use clustermanager_core::nomad::{scale, Context};
/// use clustermanager_core::{Event, Operation, Step};
/// let mut op = scale::get(&Context::default(), "default", "acm-scale");
/// let now = std::time::Instant::now();
/// let Step::Send(req, _) = op.poll(now) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-scale/scale");
/// let body = r#"{"JobID":"acm-scale","TaskGroups":{"main":{"Desired":1,"Running":1}}}"#;
/// op.handle(Event::Response(http::Response::new(body.into())));
/// let Step::Done(Ok(s)) = op.poll(now) else { unreachable!() };
/// assert_eq!((s.name.as_str(), s.replicas, s.desired), ("acm-scale/main", 1, 1));
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    Checked::from(ScaleOp::new(ctx, namespace, name, None))
}

/// `set_scale_deploy`: set a task group's count. The scale status is read first (for the
/// running count, and to find the job's only group when `name` names none). The returned
/// [`Scale`] holds the count set (`desired`) and the running count before the change
/// (`replicas`).
///
/// ```
/// use clustermanager_core::nomad::{scale, Context};
/// use clustermanager_core::{Operation, Step};
/// use clustermanager_core::Event;
/// let mut op = scale::set(&Context::default(), "default", "acm-scale/main", 2);
/// let now = std::time::Instant::now();
/// let Step::Send(read, _) = op.poll(now) else { unreachable!() };
/// assert_eq!(read.uri(), "/v1/job/acm-scale/scale");
/// let status = r#"{"JobID":"acm-scale","TaskGroups":{"main":{"Desired":1,"Running":1}}}"#;
/// op.handle(Event::Response(http::Response::new(status.into())));
/// let Step::Send(write, _) = op.poll(now) else { unreachable!() };
/// assert_eq!(&write.body()[..], br#"{"Count":2,"Target":{"Group":"main"}}"#);
/// ```
pub fn set(
    ctx: &Context,
    namespace: &str,
    name: &str,
    replicas: u32,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    set_with(ctx, namespace, name, replicas, ScaleOptions::default())
}

/// [`set`] with a message and metadata for the job's scaling event.
///
/// ```
/// use clustermanager_core::nomad::{scale, Context};
/// let options = scale::ScaleOptions { message: Some("more workers".into()), ..Default::default() };
/// let op = scale::set_with(&Context::default(), "default", "acm-scale/main", 3, options);
/// # let _ = op;
/// ```
pub fn set_with(
    ctx: &Context,
    namespace: &str,
    name: &str,
    replicas: u32,
    options: ScaleOptions,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    Checked::from(ScaleOp::new(ctx, namespace, name, Some((replicas, options))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::nomad::NamespaceMode;

    #[test]
    fn names_split_at_the_last_slash() {
        let ctx = Context::default();
        assert_eq!(split_name(&ctx, "", "a").unwrap(), ("a".into(), None));
        assert_eq!(split_name(&ctx, "", "a/g").unwrap(), ("a".into(), Some("g".into())));
        assert_eq!(split_name(&ctx, "", "p/dispatch-1-x/").unwrap(), ("p/dispatch-1-x".into(), None));
        assert!(split_name(&ctx, "", "/g").is_err());
        let prefix = Context { namespace_mode: NamespaceMode::Prefix, ..Context::default() };
        assert_eq!(split_name(&prefix, "team", "a/g").unwrap(), ("team-a".into(), Some("g".into())));
        // no namespace given: the default one's prefix, as for every other job operation
        assert_eq!(split_name(&prefix, "", "a").unwrap(), ("default-a".into(), None));
        let mut op = ScaleOp::new(&prefix, "team", "a/g", None).unwrap();
        assert_eq!(op.machine_mut().seed_name("g"), "a/g");
    }

    #[test]
    fn several_groups_need_a_name() {
        let status: ScaleStatus =
            serde_json::from_str(r#"{"JobID":"j","TaskGroups":{"a":{"Desired":1},"b":{"Desired":2}}}"#).unwrap();
        assert!(matches!(pick_group(&status, "j", None), Err(Error::InvalidInput { .. })));
        assert_eq!(pick_group(&status, "j", Some("b")).unwrap(), ("b".into(), 2, 0));
        assert!(matches!(pick_group(&status, "j", Some("c")), Err(Error::InvalidInput { .. })));
    }
}
