//! Kubernetes `v1` Services: `create_service`, `get_service`, `delete_service`.
//!
//! A [`ServiceDef`] becomes a Service of its `type` (`ClusterIP` by default) selecting pods by
//! its labels, each port with its `targetPort` and protocol; the type `None` means a headless
//! `ClusterIP` service (`clusterIP: None`), the governing service a StatefulSet names.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use super::api::{self, DeleteParams, Resource};
use super::object::ObjectMeta;
use super::pod_template::field_error;
use super::{check, name, Context};
use crate::error::Result;
use crate::op::Call;
use crate::op::Checked;
use crate::step::{self, Operation, Response};
use crate::workload::{Service, ServiceDef, ServicePort};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceBody<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta<'a>,
    spec: SpecBody<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpecBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", rename = "clusterIP")]
    cluster_ip: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    selector: &'a BTreeMap<String, String>,
    ports: Vec<PortBody<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortBody<'a> {
    #[serde(default, skip_serializing_if = "str::is_empty")]
    name: std::borrow::Cow<'a, str>,
    port: u16,
    #[serde(default)]
    target_port: serde_json::Value,
    #[serde(default)]
    protocol: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_port: Option<u16>,
}

/// Validate `def` and build its Service body.
pub fn body(def: &ServiceDef) -> Result<Vec<u8>> {
    name::label("service name", &def.name)?;
    let (kind, cluster_ip) = match def.kind.as_str() {
        "None" => ("ClusterIP", Some("None")),
        k @ ("ClusterIP" | "NodePort" | "LoadBalancer") => (k, None),
        other => {
            return Err(field_error(
                "kind",
                format!("{other:?} is not a service type: ClusterIP, NodePort, LoadBalancer, or None for headless"),
            ))
        }
    };
    if def.ports.is_empty() && cluster_ip.is_none() {
        return Err(field_error("ports", "a service needs at least one port (or kind None for a headless service)"));
    }
    if def.ports.len() > 1 && def.ports.iter().any(|p| p.name.is_empty()) {
        return Err(field_error("ports", "every port of a service with several ports needs a name"));
    }
    let mut ports = Vec::new();
    for (i, p) in def.ports.iter().enumerate() {
        if p.port == 0 || p.target_port == 0 {
            return Err(field_error(format!("ports[{i}]"), "ports must be 1-65535"));
        }
        if p.node_port.is_some() && kind == "ClusterIP" {
            return Err(field_error(
                format!("ports[{i}].node_port"),
                "a node port needs kind NodePort or LoadBalancer",
            ));
        }
        ports.push(PortBody {
            name: p.name.as_str().into(),
            port: p.port,
            target_port: p.target_port.into(),
            protocol: p.protocol.as_str().into(),
            node_port: p.node_port,
        });
    }
    let body = ServiceBody {
        api_version: "v1",
        kind: "Service",
        metadata: Meta { name: &def.name, labels: &def.labels },
        spec: SpecBody { kind, cluster_ip, selector: &def.selector, ports },
    };
    serde_json::to_vec(&body).map_err(|e| crate::error::Error::protocol(format!("could not encode the service: {e}")))
}

#[derive(Deserialize)]
struct ServiceObject<'a> {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default, borrow)]
    spec: SpecObject<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SpecObject<'a> {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "clusterIP", default)]
    cluster_ip: Option<String>,
    #[serde(default)]
    selector: BTreeMap<String, String>,
    #[serde(default, borrow)]
    ports: Vec<PortBody<'a>>,
}

fn parse_service(resp: Response) -> Result<Service> {
    let resp = check(resp)?;
    let obj: ServiceObject<'_> =
        serde_json::from_slice(resp.body()).map_err(|e| crate::error::Error::decode("Service", e, resp.body()))?;
    Ok(Service {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        kind: obj.spec.kind,
        cluster_ip: obj.spec.cluster_ip.filter(|ip| ip != "None" && !ip.is_empty()),
        ports: obj
            .spec
            .ports
            .into_iter()
            .map(|p| ServicePort {
                name: p.name.into_owned(),
                port: p.port,
                // a named target port (`"http"`) has no number: 0
                target_port: p.target_port.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
                protocol: p.protocol.into_owned(),
                node_port: p.node_port,
            })
            .collect(),
        selector: obj.spec.selector,
        labels: obj.metadata.labels,
    })
}

/// `create_service`: create a Service from `def`; returns it as created (with its cluster IP).
///
/// ```
/// use clustermanager_core::{k8s, Operation, ServiceDef, ServicePort, Step};
/// let def = ServiceDef::new("web").select("app", "web").port(ServicePort::new("http", 80, 8080));
/// let mut op = k8s::service::create(&k8s::Context::default(), "shop", &def);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/shop/services");
/// ```
pub fn create(
    ctx: &Context,
    namespace: &str,
    def: &ServiceDef,
) -> impl Operation<Output = Service, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| body(def))
        .and_then(|body| step::request(http::Method::POST, &Resource::SERVICES.list_path(Some(namespace))?, Some(body)))
        .map(|req| Call::new(req, &ctx.retry, parse_service));
    Checked::from(op)
}

/// `get_service` ([`Error::NotFound`](crate::Error::NotFound) when it does not exist).
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Service, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label("service name", name))
        .and_then(|()| step::request(http::Method::GET, &Resource::SERVICES.object_path(Some(namespace), name)?, None))
        .map(|req| Call::new(req, &ctx.retry, parse_service));
    Checked::from(op)
}

/// `delete_service`: `Ok(false)` when it did not exist. A Service has no dependents: the
/// delete is immediate.
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace).and_then(|()| name::label("service name", name)).map(|()| {
        api::delete_then(
            ctx,
            &Resource::SERVICES,
            Some(namespace),
            name,
            &DeleteParams::default(),
            false,
            super::workload::DELETE_WAIT_TIMEOUT,
        )
    });
    Checked::from(op)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_headless_service_has_no_cluster_ip() {
        let def = ServiceDef::new("pg").kind("None").select("app", "db").port(ServicePort::new("pg", 5432, 5432));
        let v: serde_json::Value = serde_json::from_slice(&body(&def).unwrap()).unwrap();
        assert_eq!(v["spec"]["clusterIP"], "None");
        assert_eq!(v["spec"]["type"], "ClusterIP");
        assert_eq!(v["spec"]["ports"][0]["targetPort"], 5432);
        assert!(body(&ServiceDef::new("x").kind("Weird").port(ServicePort::new("a", 1, 1))).is_err());
        assert!(body(&ServiceDef::new("x")).is_err(), "no ports");
    }

    #[test]
    fn the_server_answer_reads_back() {
        let text = r#"{"kind":"Service","metadata":{"name":"web","namespace":"shop"},"spec":{"type":"NodePort",
            "clusterIP":"10.96.12.7","selector":{"app":"web"},
            "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":31080}]}}"#;
        let resp = http::Response::builder().status(201).body(bytes::Bytes::from(text)).unwrap();
        let svc = parse_service(resp).unwrap();
        assert_eq!(svc.cluster_ip.as_deref(), Some("10.96.12.7"));
        assert_eq!(svc.ports[0].node_port, Some(31080));
        assert_eq!(svc.ports[0].target_port, 8080);
    }
}
