//! The Kubernetes object shapes operations decode, apart from the operations: the lean
//! [`ObjectMeta`] (with [`OwnerReference`]s), an object's [`ObjectCondition`]s, the lightest
//! object ([`Thin`]), the [`Versioned`] trait a watch needs, and one page of a list
//! ([`ObjectList`], [`parse_list`]). Each holds the fields core reads; the rest of the server's
//! object is skipped while decoding.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::decode;
use crate::error::Result;

/// An object that carries a `metadata.resourceVersion`.
pub trait Versioned {
    /// The object's `metadata.resourceVersion`.
    fn resource_version(&self) -> &str;
    /// Keep the server's bytes of this object (a watch event's object, a list's item), for the
    /// model value it becomes ([`Raw`](crate::Raw)). The default keeps nothing.
    fn keep_raw(&mut self, raw: crate::Raw) {
        let _ = raw;
    }
}

/// The lean `metadata` of the objects the seed's operations read (jobs, pods, and any object a
/// wait only needs to know exists).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `metadata.namespace` (empty for cluster-scoped objects).
    #[serde(default)]
    pub namespace: String,
    /// `metadata.resourceVersion`.
    #[serde(default)]
    pub resource_version: String,
    /// `metadata.creationTimestamp`.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// `metadata.deletionTimestamp`: set once deletion started.
    #[serde(default)]
    pub deletion_timestamp: Option<String>,
    /// `metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `metadata.uid`: tells apart two objects that had the same name at different times.
    #[serde(default)]
    pub uid: String,
    /// `metadata.ownerReferences` (for a Job's pods: the Job, `controller: true`).
    #[serde(default)]
    pub owner_references: Vec<OwnerReference>,
}

/// One entry of `metadata.ownerReferences` (the fields kept).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OwnerReference {
    /// The owner's `kind` (`Job`).
    #[serde(default)]
    pub kind: String,
    /// The owner's `uid`.
    #[serde(default)]
    pub uid: String,
    /// Whether this owner is the managing controller.
    #[serde(default)]
    pub controller: Option<bool>,
}

/// One entry of an object's `status.conditions` (Jobs, pods, CRDs, ...).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectCondition {
    /// `type`: `Complete`, `Failed`, `PodScheduled`, `Established`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// Reason (`BackoffLimitExceeded`, `Unschedulable`, ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The lightest object: only `kind` and `metadata` (for waits that only need to know whether
/// an object exists).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Thin {
    /// `kind` (`Status` for the answer to a delete that removed the object at once).
    #[serde(default)]
    pub kind: String,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
}

impl Versioned for Thin {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

/// One page of a list: the items and the list's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectList<T> {
    /// The objects.
    pub items: Vec<T>,
    /// The list's `resourceVersion` (watch from here to see what happened since).
    pub resource_version: String,
    /// The token of the next page, if there is one.
    pub continue_token: Option<String>,
    /// How many objects the next pages hold, when the server says.
    pub remaining_item_count: Option<u64>,
}

#[derive(Deserialize)]
struct ListBody<T> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default = "Option::default")]
    items: Option<Vec<T>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    #[serde(default)]
    resource_version: String,
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
    #[serde(default)]
    remaining_item_count: Option<u64>,
}

/// Parse a list response body.
pub fn parse_list<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<ObjectList<T>> {
    let list: ListBody<T> = decode(what, body)?;
    Ok(ObjectList {
        items: list.items.unwrap_or_default(),
        resource_version: list.metadata.resource_version,
        continue_token: list.metadata.continue_token.filter(|c| !c.is_empty()),
        remaining_item_count: list.metadata.remaining_item_count,
    })
}
