//! Discovery of what a server serves: [`served`] asks one group version's resource list
//! (`GET /apis/batch/v1`), [`cronjobs`] picks the CronJob version to use — `batch/v1` where the
//! server has it (Kubernetes 1.21+, the only one since 1.25), `batch/v1beta1` only where it
//! does not (1.19, 1.20).

use std::convert::Infallible;

use serde::Deserialize;

use super::resource::Resource;
use crate::error::{Error, Result};
use crate::k8s::{check, decode, Context};
use crate::op::{Call, Checked};
use crate::step::{Operation, Response};

#[derive(Deserialize)]
struct ResourceList {
    #[serde(default)]
    resources: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
}

/// Whether the server serves `resource` at its group and version: one read of the group
/// version's resource list. A group version the server lacks (404) is `false`.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource}};
/// use clustermanager_core::{Operation, Step};
/// let mut op = api::served(&k8s::Context::default(), &Resource::CRONJOBS);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/apis/batch/v1");
/// ```
pub fn served(ctx: &Context, resource: &Resource) -> impl Operation<Output = bool, Item = Infallible> + Send {
    let plural = resource.plural.to_string();
    let req = crate::step::request(http::Method::GET, &resource.prefix(), None);
    let retry = ctx.retry.clone();
    Checked::new(req.map(|r| Call::new(r, &retry, move |resp| parse_served(resp, &plural))))
}

fn parse_served(resp: Response, plural: &str) -> Result<bool> {
    match check(resp) {
        Ok(resp) => {
            let list: ResourceList = decode("API resource list", resp.body())?;
            Ok(list.resources.iter().any(|e| e.name == plural))
        }
        Err(Error::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The CronJob resource to use on this server: [`Resource::CRONJOBS`] (`batch/v1`) where it
/// serves it, else [`Resource::CRONJOBS_V1BETA1`].
///
/// ```
/// use clustermanager_core::k8s::{self, api};
/// use clustermanager_core::{Event, Operation, Step};
/// let mut op = api::cronjobs(&k8s::Context::default());
/// let now = std::time::Instant::now();
/// let Step::Send(..) = op.poll(now) else { panic!() };
/// // a 1.19 server's batch/v1 has Jobs only
/// let body = r#"{"kind":"APIResourceList","groupVersion":"batch/v1","resources":[{"name":"jobs","namespaced":true,"kind":"Job","verbs":["get"]}]}"#;
/// op.handle(Event::Response(http::Response::builder().status(200).body(body.into()).unwrap()));
/// let Step::Done(Ok(resource)) = op.poll(now) else { panic!() };
/// assert_eq!(resource, api::Resource::CRONJOBS_V1BETA1);
/// ```
pub fn cronjobs(ctx: &Context) -> impl Operation<Output = Resource, Item = Infallible> + Send {
    crate::op::map_output(served(ctx, &Resource::CRONJOBS), |served| {
        Ok(if served? { Resource::CRONJOBS } else { Resource::CRONJOBS_V1BETA1 })
    })
}
