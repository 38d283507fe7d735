//! The generic Kubernetes API: any resource of any group and version, so that a caller is never
//! stuck when clustermanager has no dedicated operation for what they need.
//!
//! A [`Resource`] names a kind of object (`group`, `version`, `plural`, `namespaced`); the
//! operations here ([`list`], [`list_all`], [`get`], [`create`], [`replace`], [`patch`],
//! [`delete`], [`delete_and_wait`], [`wait_for`], [`watch`], and the raw [`request`] /
//! [`send`]) build the requests and parse the answers, generic over the object type: use a lean
//! struct of your own, `serde_json::Value`, or `Box<RawValue>` to keep the server's bytes as
//! they came.
//!
//! ```
//! use clustermanager_core::k8s::{self, api::{self, Resource}};
//! use clustermanager_core::{Operation, Step};
//! use serde_json::value::RawValue;
//!
//! let cronjobs = Resource::new("batch", "v1", "cronjobs", true);
//! let mut op = api::get::<Box<RawValue>>(&k8s::Context::default(), &cronjobs, Some("jobs"), "nightly");
//! let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
//! assert_eq!(req.uri().path(), "/apis/batch/v1/namespaces/jobs/cronjobs/nightly");
//! ```

mod crud;
mod discovery;
mod params;
mod resource;
mod wait;
mod watch;

pub(crate) use crud::delete_request;
pub(crate) use crud::parse_kept;
pub use crud::{
    create, delete, get, list, list_all, parse_items, patch, patch_request, replace, request, send, Deleted, ListAll,
    ListPages, DEFAULT_MAX_PAGES, MAX_LIST_RESTARTS,
};
pub use discovery::{cronjobs, served};
pub use params::{DeleteParams, ListParams, Patch, Propagation, Query, WatchParams, WriteParams};
pub use resource::{query_value, segment, Resource};
pub use wait::{delete_and_wait, delete_then, shows_condition, wait_for, Await, DeleteAndWait, WaitFor};
pub use watch::{watch, Watch};
