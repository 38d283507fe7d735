//! kubeflow TFJobs (`kubeflow.org/v1`, `tfjobs`): `install_tfjobs` ([`install`]: create the
//! CustomResourceDefinition and wait until it is Established, no helm involved),
//! `create_tfjob`, `get_tfjob`, `delete_tfjob`, `list_tfjobs`. TFJobs are custom resources: they
//! go through the generic API ([`super::api`]) as JSON.
//!
//! Only the resource type is installed here: a training operator (kubeflow's
//! `training-operator`) must run in the cluster for TFJobs to start pods.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::api::{self, Await, DeleteParams, ListParams, Propagation, Resource, WaitFor, WriteParams};
use super::name;
use super::{check, Context};
use crate::error::{Error, Result};
use crate::op::{map_output, Checked, Flow, Machine, Next};
use crate::step::{Operation, Response};

/// The CRD's name.
pub const CRD_NAME: &str = "tfjobs.kubeflow.org";

/// How long [`install`] waits for the CRD to be Established.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`delete`] with `wait` waits for the TFJob (and, foreground, its pods) to go.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(600);

/// The CustomResourceDefinition of TFJob v1: namespaced, served and stored as `v1`, a schema
/// that keeps unknown fields (`spec.tfReplicaSpecs` is the operator's business), the `status`
/// subresource, and `State`/`Age` printer columns.
pub fn crd() -> Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "kubeflow.org",
            "scope": "Namespaced",
            "names": {
                "kind": "TFJob",
                "plural": "tfjobs",
                "singular": "tfjob",
                "listKind": "TFJobList",
                "shortNames": ["tfj"],
                "categories": ["all", "kubeflow"]
            },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "State", "type": "string", "jsonPath": ".status.conditions[-1:].type"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {
                                "tfReplicaSpecs": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            }
                        },
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

/// Install the TFJob CRD and wait until the apiserver serves it (condition `Established`). An
/// existing CRD (409 AlreadyExists) is fine. Unless the create answer already shows the CRD
/// Established, the CRD is read and then watched until it is; fails with [`Error::Timeout`]
/// after [`INSTALL_TIMEOUT`], with [`Error::Conflict`] if its names clash with another CRD.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::tfjob::install(&k8s::Context::default());
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
/// ```
pub fn install(ctx: &Context) -> impl Operation<Output = (), Item = Infallible> + Send + 'static {
    let req = serde_json::to_vec(&crd())
        .map_err(|e| Error::protocol(format!("cannot serialize the TFJob CRD: {e}")))
        .and_then(|body| crate::step::request(http::Method::POST, &Resource::CRDS.list_path(None)?, Some(body)));
    let wait =
        api::wait_for(ctx, &Resource::CRDS, None, CRD_NAME, Await::Condition("Established".into()), INSTALL_TIMEOUT);
    Checked::from(req.map(|create| Flow::new(Install { create: Some(create), wait: Some(wait) }, &ctx.retry)))
}

/// The machine of [`install`]: create the CRD, then (unless the answer shows it Established
/// already) wait for the condition.
#[derive(Debug)]
pub struct Install {
    create: Option<crate::step::Request>,
    wait: Option<WaitFor>,
}

impl Machine for Install {
    type Output = ();

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<()>> {
        let Some(answer) = answer else {
            return Ok(Next::Send(self.create.take().ok_or_else(|| Error::protocol("install request lost"))?));
        };
        let established = match check(answer?) {
            Ok(resp) => api::shows_condition(resp.body(), "Established")?,
            Err(Error::AlreadyExists(_)) => false,
            Err(e) => return Err(e),
        };
        if established {
            return Ok(Next::Done(Ok(())));
        }
        let wait = self.wait.take().ok_or_else(|| Error::protocol("install wait lost"))?;
        Ok(Next::Then(Box::new(map_output(wait, |r| r.map(|_| ())))))
    }
}

/// Create a TFJob in `namespace` from its manifest (`apiVersion: kubeflow.org/v1`,
/// `kind: TFJob`, `metadata.name`, `spec.tfReplicaSpecs`); returns the stored object.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let tfjob = serde_json::json!({"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "mnist"}, "spec": {}});
/// let mut op = k8s::tfjob::create(&k8s::Context::default(), "acm-crd", &tfjob);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/apis/kubeflow.org/v1/namespaces/acm-crd/tfjobs");
/// ```
pub fn create(
    ctx: &Context,
    namespace: &str,
    tfjob: &Value,
) -> impl Operation<Output = Value, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace);
    Checked::new(checked.map(|()| api::create(ctx, &Resource::TFJOBS, Some(namespace), tfjob, &WriteParams::default())))
}

/// A TFJob ([`Error::NotFound`] if there is none by that name).
///
/// ```
/// use clustermanager_core::k8s;
/// let op = k8s::tfjob::get(&k8s::Context::default(), "acm-crd", "mnist");
/// # let _ = op;
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Value, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace).and_then(|()| name::subdomain("tfjob name", name));
    Checked::new(checked.map(|()| api::get(ctx, &Resource::TFJOBS, Some(namespace), name)))
}

/// Delete a TFJob: `true` if it was deleted, `false` if it did not exist. With `wait`, the
/// delete is `Foreground` (its pods go first) and the TFJob is watched until it is gone (at
/// most [`DELETE_TIMEOUT`]); without, the server's default applies and the call returns at once.
///
/// ```
/// use clustermanager_core::k8s;
/// let op = k8s::tfjob::delete(&k8s::Context::default(), "acm-crd", "mnist", true);
/// # let _ = op;
/// ```
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
    wait: bool,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace).and_then(|()| name::subdomain("tfjob name", name));
    // with `wait`, Foreground so that its pods are gone first; else the server's default
    let params = if wait { DeleteParams::propagation(Propagation::Foreground) } else { DeleteParams::default() };
    Checked::new(
        checked
            .map(|()| api::delete_then(ctx, &Resource::TFJOBS, Some(namespace), name, &params, wait, DELETE_TIMEOUT)),
    )
}

/// The TFJobs of `namespace` (every page).
///
/// ```
/// use clustermanager_core::k8s;
/// let op = k8s::tfjob::list(&k8s::Context::default(), "acm-crd");
/// # let _ = op;
/// ```
pub fn list(ctx: &Context, namespace: &str) -> impl Operation<Output = Vec<Value>, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace);
    let list = Checked::new(
        checked.map(|()| api::list_all::<Value>(ctx, &Resource::TFJOBS, Some(namespace), &ListParams::default())),
    );
    map_output(list, |r| r.map(|l| l.items))
}
