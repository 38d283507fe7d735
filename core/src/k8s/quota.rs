//! Kubernetes `define_quota`: a `ResourceQuota` named [`QUOTA_NAME`] in the namespace, whose
//! `spec.hard` holds `limits.cpu` and `limits.memory` in canonical quantity form (`"1500m"`,
//! `"4Gi"`).
//!
//! The quota is POSTed; if one already exists (`409 AlreadyExists`) it is updated with a JSON
//! merge patch of just those two keys, so other limits someone set on it (`pods`,
//! `requests.cpu`, ...) are kept. With such a quota in place, every pod must declare CPU and
//! memory limits: [`create_job`](super::job::create) sets them when the spec has them.

use std::convert::Infallible;
use std::time::Instant;

use super::{check, name, Context};
use crate::error::{Error, Result};
use crate::op::{Checked, Flow, Machine, Next};
use crate::quantity::{Cpu, Memory};
use crate::step::{self, Operation, Response};

/// The name of the ResourceQuota `define_quota` writes (as in the recorded `acm-07`).
pub const QUOTA_NAME: &str = "compute";

/// The machine of [`define`]: POST, then a merge PATCH if the quota existed.
#[derive(Debug)]
pub struct Define {
    post: Option<step::Request>,
    patch: Option<step::Request>,
    patched: bool,
}

impl Machine for Define {
    type Output = ();

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<()>> {
        let Some(answer) = answer else {
            return Ok(Next::Send(self.post.take().ok_or_else(|| Error::protocol("define_quota request lost"))?));
        };
        match answer.and_then(check) {
            Ok(_) => Ok(Next::Done(Ok(()))),
            Err(Error::AlreadyExists(_)) if !self.patched => {
                self.patched = true;
                let patch = self.patch.take().ok_or_else(|| Error::protocol("define_quota patch lost"))?;
                Ok(Next::Send(patch))
            }
            Err(e) => Err(e),
        }
    }
}

fn build(ctx: &Context, namespace: &str, cpu_limit: &str, mem_limit: &str) -> Result<Flow<Define>> {
    name::label("namespace", namespace)?;
    let cpu = Cpu::parse(cpu_limit).map_err(|e| rename(e, "cpu_limit"))?.to_quantity();
    let mem = Memory::parse(mem_limit).map_err(|e| rename(e, "mem_limit"))?.to_quantity();
    let hard = serde_json::json!({"limits.cpu": cpu, "limits.memory": mem});
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "namespace": namespace},
        "spec": {"hard": hard},
    });
    let collection = format!("/api/v1/namespaces/{namespace}/resourcequotas");
    let post = step::request(http::Method::POST, &collection, Some(body.to_string().into_bytes()))?;
    let patch_body = serde_json::json!({"spec": {"hard": hard}});
    let mut patch = step::request(
        http::Method::PATCH,
        &format!("{collection}/{QUOTA_NAME}"),
        Some(patch_body.to_string().into_bytes()),
    )?;
    patch
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/merge-patch+json"));
    Ok(Flow::new(Define { post: Some(post), patch: Some(patch), patched: false }, &ctx.retry))
}

fn rename(err: Error, field: &str) -> Error {
    match err {
        Error::InvalidInput { problem, .. } => Error::InvalidInput { field: field.to_owned(), problem },
        other => other,
    }
}

/// `define_quota`: limit the CPU and memory that the pods of `namespace` may claim in total.
///
/// ```
/// use clustermanager_core::{k8s, Error, Operation, Step};
/// let mut op = k8s::quota::define(&k8s::Context::default(), "acm-quota", "4", "4Gi");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/acm-quota/resourcequotas");
///
/// let mut bad = k8s::quota::define(&k8s::Context::default(), "acm-quota", "four", "4Gi");
/// assert!(matches!(bad.poll(std::time::Instant::now()), Step::Done(Err(Error::InvalidInput { .. }))));
/// ```
pub fn define(
    ctx: &Context,
    namespace: &str,
    cpu_limit: &str,
    mem_limit: &str,
) -> impl Operation<Output = (), Item = Infallible> + Send + 'static {
    Checked::from(build(ctx, namespace, cpu_limit, mem_limit))
}
