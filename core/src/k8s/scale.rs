//! Kubernetes Deployment (and StatefulSet) scale: `get_scale_deploy` ([`get`]) and `set_scale_deploy` ([`set`]),
//! through the `scale` subresource of `apps/v1` Deployments (an `autoscaling/v1` `Scale`:
//! `spec.replicas` is what is asked for, `status.replicas` what the controller has created).

use std::convert::Infallible;

use serde::Deserialize;

use super::api::{self, Patch, WriteParams};
use super::{check, Context};
use crate::error::{Error, Result};
use crate::model::Scale;
use crate::op::Call;
use crate::step::{Operation, Response};
use crate::workload::WorkloadKind;

#[derive(Deserialize)]
struct ScaleBody<'a> {
    #[serde(borrow)]
    metadata: Meta<'a>,
    #[serde(default)]
    spec: Option<Replicas>,
    #[serde(default)]
    status: Option<Replicas>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct Replicas {
    #[serde(default)]
    replicas: Option<u32>,
}

fn parse_scale(resp: Response) -> Result<Scale> {
    let resp = check(resp)?;
    let body: ScaleBody<'_> =
        serde_json::from_slice(resp.body()).map_err(|e| Error::decode("Scale", e, resp.body()))?;
    Ok(Scale {
        name: body.metadata.name.into_owned(),
        replicas: body.status.and_then(|s| s.replicas).unwrap_or(0),
        desired: body.spec.and_then(|s| s.replicas).unwrap_or(0),
        raw: crate::Raw::whole(resp.body().clone()),
    })
}

fn scale_path(kind: WorkloadKind, namespace: &str, name: &str) -> Result<String> {
    super::name::label("namespace", namespace)?;
    let what = match kind {
        WorkloadKind::Deployment => "deployment name",
        WorkloadKind::StatefulSet => "statefulset name",
    };
    super::name::subdomain(what, name)?;
    Ok(format!("{}/scale", super::workload::resource(kind).object_path(Some(namespace), name)?))
}

/// The scale of a Deployment: desired replicas and, once the controller acted, current ones.
/// A missing Deployment is [`Error::NotFound`].
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::scale::get(&k8s::Context::default(), "acm-deploy", "web");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/acm-deploy/deployments/web/scale");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    get_of(ctx, WorkloadKind::Deployment, namespace, name)
}

/// [`get`] for a Deployment or a StatefulSet (`get_scale_statefulset`).
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step, WorkloadKind};
/// let mut op = k8s::scale::get_of(&k8s::Context::default(), WorkloadKind::StatefulSet, "db", "pg");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/db/statefulsets/pg/scale");
/// ```
pub fn get_of(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    let req = scale_path(kind, namespace, name).and_then(|p| crate::step::request(http::Method::GET, &p, None));
    let retry = ctx.retry.clone();
    crate::op::Checked::new(req.map(|r| Call::new(r, &retry, parse_scale)))
}

/// Set a Deployment's desired replicas (`PATCH .../scale`, merge patch `{"spec":{"replicas":N}}`:
/// no resourceVersion, so it cannot conflict); returns the new scale.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::scale::set(&k8s::Context::default(), "acm-deploy", "web", 3);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.method(), http::Method::PATCH);
/// assert_eq!(&req.body()[..], br#"{"spec":{"replicas":3}}"#);
/// ```
pub fn set(
    ctx: &Context,
    namespace: &str,
    name: &str,
    replicas: u32,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    set_of(ctx, WorkloadKind::Deployment, namespace, name, replicas)
}

/// [`set`] for a Deployment or a StatefulSet (`set_scale_statefulset`).
pub fn set_of(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    replicas: u32,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    let patch = Patch::Merge(format!(r#"{{"spec":{{"replicas":{replicas}}}}}"#).into_bytes());
    let req =
        scale_path(kind, namespace, name).and_then(|p| api::patch_request(ctx, &p, &patch, &WriteParams::default()));
    let retry = ctx.retry.clone();
    crate::op::Checked::new(req.map(|r| Call::new(r, &retry, parse_scale)))
}
