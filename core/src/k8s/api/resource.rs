//! [`Resource`]: a kind of Kubernetes object (group, version, plural, namespaced) and the
//! paths of its collection and objects, each segment validated and percent-encoded.

use crate::error::{Error, Result};
use std::borrow::Cow;

/// A kind of Kubernetes object, as the API paths name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// API group (`""` for the core group, `apps`, `batch`, `kubeflow.org`, ...).
    pub group: Cow<'static, str>,
    /// Version (`v1`, `v1beta1`, ...).
    pub version: Cow<'static, str>,
    /// Plural, lower-case resource name as in the path (`pods`, `cronjobs`, `tfjobs`).
    pub plural: Cow<'static, str>,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

const fn core_res(plural: &'static str, namespaced: bool) -> Resource {
    Resource { group: Cow::Borrowed(""), version: Cow::Borrowed("v1"), plural: Cow::Borrowed(plural), namespaced }
}

const fn group_res(group: &'static str, version: &'static str, plural: &'static str, namespaced: bool) -> Resource {
    Resource { group: Cow::Borrowed(group), version: Cow::Borrowed(version), plural: Cow::Borrowed(plural), namespaced }
}

impl Resource {
    /// Core `v1` Pods.
    pub const PODS: Resource = core_res("pods", true);
    /// Core `v1` ConfigMaps.
    pub const CONFIGMAPS: Resource = core_res("configmaps", true);
    /// Core `v1` Secrets.
    pub const SECRETS: Resource = core_res("secrets", true);
    /// Core `v1` Services.
    pub const SERVICES: Resource = core_res("services", true);
    /// Core `v1` Events.
    pub const EVENTS: Resource = core_res("events", true);
    /// Core `v1` ResourceQuotas.
    pub const RESOURCE_QUOTAS: Resource = core_res("resourcequotas", true);
    /// Core `v1` PersistentVolumeClaims.
    pub const PERSISTENT_VOLUME_CLAIMS: Resource = core_res("persistentvolumeclaims", true);
    /// Core `v1` Namespaces (cluster-scoped).
    pub const NAMESPACES: Resource = core_res("namespaces", false);
    /// Core `v1` Nodes (cluster-scoped).
    pub const NODES: Resource = core_res("nodes", false);
    /// `batch/v1` Jobs.
    pub const JOBS: Resource = group_res("batch", "v1", "jobs", true);
    /// `batch/v1` CronJobs (Kubernetes 1.21 and later; the only version since 1.25).
    pub const CRONJOBS: Resource = group_res("batch", "v1", "cronjobs", true);
    /// `batch/v1beta1` CronJobs: the only CronJob version Kubernetes 1.19 and 1.20 serve, removed
    /// in 1.25 (use [`CRONJOBS`](Self::CRONJOBS) there).
    pub const CRONJOBS_V1BETA1: Resource = group_res("batch", "v1beta1", "cronjobs", true);
    /// `apps/v1` Deployments.
    pub const DEPLOYMENTS: Resource = group_res("apps", "v1", "deployments", true);
    /// `apps/v1` ReplicaSets.
    pub const REPLICASETS: Resource = group_res("apps", "v1", "replicasets", true);
    /// `apps/v1` StatefulSets.
    pub const STATEFULSETS: Resource = group_res("apps", "v1", "statefulsets", true);
    /// `apiextensions.k8s.io/v1` CustomResourceDefinitions (cluster-scoped).
    pub const CRDS: Resource = group_res("apiextensions.k8s.io", "v1", "customresourcedefinitions", false);
    /// kubeflow `kubeflow.org/v1` TFJobs.
    pub const TFJOBS: Resource = group_res("kubeflow.org", "v1", "tfjobs", true);

    /// Any resource: `Resource::new("batch", "v1beta1", "cronjobs", true)`.
    pub fn new(
        group: impl Into<Cow<'static, str>>,
        version: impl Into<Cow<'static, str>>,
        plural: impl Into<Cow<'static, str>>,
        namespaced: bool,
    ) -> Self {
        Resource { group: group.into(), version: version.into(), plural: plural.into(), namespaced }
    }

    /// `apiVersion` of the objects (`v1`, `batch/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `/api/v1` for the core group, `/apis/{group}/{version}` for the others.
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", segment(&self.version))
        } else {
            format!("/apis/{}/{}", segment(&self.group), segment(&self.version))
        }
    }

    /// The collection path: in `namespace`, or across all namespaces (and for cluster-scoped
    /// resources) when `None`.
    pub fn list_path(&self, namespace: Option<&str>) -> Result<String> {
        match (namespace, self.namespaced) {
            (Some(ns), true) => {
                Ok(format!("{}/namespaces/{}/{}", self.prefix(), nonempty("namespace", ns)?, segment(&self.plural)))
            }
            (Some(_), false) => Err(self.cluster_scoped()),
            (None, _) => Ok(format!("{}/{}", self.prefix(), segment(&self.plural))),
        }
    }

    /// The path of one object. Namespaced resources need a namespace; cluster-scoped ones
    /// refuse one.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> Result<String> {
        let name = nonempty("name", name)?;
        match (namespace, self.namespaced) {
            (Some(_), true) | (None, false) => Ok(format!("{}/{}", self.list_path(namespace)?, name)),
            (None, true) => Err(Error::InvalidInput {
                field: "namespace".into(),
                problem: format!("{} are namespaced: give the namespace of {name:?}", self.plural),
            }),
            (Some(_), false) => Err(self.cluster_scoped()),
        }
    }

    fn cluster_scoped(&self) -> Error {
        Error::InvalidInput {
            field: "namespace".into(),
            problem: format!("{} are cluster-scoped: pass no namespace", self.plural),
        }
    }
}

pub use crate::encode::{query_value, segment};

pub(super) fn nonempty(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        Err(Error::InvalidInput { field: field.into(), problem: "must not be empty".into() })
    } else {
        Ok(segment(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::Query;

    #[test]
    fn paths_for_core_group_and_crds() {
        assert_eq!(Resource::PODS.object_path(Some("ns"), "p").ok().as_deref(), Some("/api/v1/namespaces/ns/pods/p"));
        assert_eq!(Resource::TFJOBS.list_path(None).ok().as_deref(), Some("/apis/kubeflow.org/v1/tfjobs"));
        assert_eq!(
            Resource::CRDS.object_path(None, "tfjobs.kubeflow.org").ok().as_deref(),
            Some("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tfjobs.kubeflow.org")
        );
        assert!(matches!(Resource::PODS.object_path(None, "p"), Err(Error::InvalidInput { .. })));
        assert!(matches!(Resource::NODES.list_path(Some("ns")), Err(Error::InvalidInput { .. })));
        assert!(matches!(Resource::PODS.object_path(Some("ns"), ""), Err(Error::InvalidInput { .. })));
    }

    #[test]
    fn names_cannot_escape_their_segment() {
        assert_eq!(
            Resource::PODS.object_path(Some("ns"), "../x?y").ok().as_deref(),
            Some("/api/v1/namespaces/ns/pods/..%2Fx%3Fy")
        );
    }

    proptest::proptest! {
        #[test]
        fn segments_round_trip_and_never_hold_delimiters(s in ".{0,40}") {
            let enc = segment(&s);
            proptest::prop_assert!(!enc.contains(['/', '?', '#', '&', '=', '+', ' ']));
            proptest::prop_assert_eq!(percent_encoding::percent_decode_str(&enc).collect::<Vec<u8>>(), s.as_bytes().to_vec());
        }

        #[test]
        fn query_values_round_trip(s in ".{0,40}") {
            let q = format!("k={}", query_value(&s));
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs, vec![("k".to_owned(), s)]);
        }
    }

    #[test]
    fn query_values_are_encoded() {
        let mut q = Query::new();
        q.push("labelSelector", "a=b,c in (d)");
        assert_eq!(q.on("/x"), "/x?labelSelector=a%3Db%2Cc%20in%20%28d%29");
    }
}
