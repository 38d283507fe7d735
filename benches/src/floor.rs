//! The floors: `serde_json` straight into minimal borrowed structs holding only the fields core
//! returns for each body (strings as `Cow<str>`, borrowed unless they hold escapes), nothing
//! converted, nothing validated beyond JSON. No parser of these bodies can beat that by much:
//! it is the cost of scanning the JSON once and keeping pointers into it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// A borrowed string.
pub type Str<'a> = Cow<'a, str>;

/// `metadata` of a pod: what `Execution` holds (`id`, `job_name`, `namespace`, `created`) and
/// the `resourceVersion` a watch resumes from.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Meta<'a> {
    /// `name`.
    #[serde(borrow, default)]
    pub name: Str<'a>,
    /// `namespace`.
    #[serde(borrow, default)]
    pub namespace: Str<'a>,
    /// `resourceVersion`.
    #[serde(borrow, default)]
    pub resource_version: Str<'a>,
    /// `creationTimestamp`.
    #[serde(borrow, default)]
    pub creation_timestamp: Option<Str<'a>>,
    /// The one label kept.
    #[serde(borrow, default)]
    pub labels: Labels<'a>,
}

/// The `job-name` label.
#[derive(Deserialize, Default)]
pub struct Labels<'a> {
    /// `job-name`.
    #[serde(rename = "job-name", borrow, default)]
    pub job_name: Option<Str<'a>>,
}

/// A container's name.
#[derive(Deserialize)]
pub struct Named<'a> {
    /// `name`.
    #[serde(borrow, default)]
    pub name: Str<'a>,
}

/// Pod `spec`: node and container names.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Spec<'a> {
    /// `nodeName`.
    #[serde(borrow, default)]
    pub node_name: Option<Str<'a>>,
    /// `containers`.
    #[serde(borrow, default)]
    pub containers: Vec<Named<'a>>,
}

/// A container state's detail.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Detail<'a> {
    /// `reason`.
    #[serde(borrow, default)]
    pub reason: Option<Str<'a>>,
    /// `exitCode`.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// A container state.
#[derive(Deserialize, Default)]
pub struct State<'a> {
    /// `waiting`.
    #[serde(borrow, default)]
    pub waiting: Option<Detail<'a>>,
    /// `running`.
    #[serde(borrow, default)]
    pub running: Option<Detail<'a>>,
    /// `terminated`.
    #[serde(borrow, default)]
    pub terminated: Option<Detail<'a>>,
}

/// A container status.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus<'a> {
    /// `name`.
    #[serde(borrow, default)]
    pub name: Str<'a>,
    /// `state`.
    #[serde(borrow, default)]
    pub state: State<'a>,
    /// `restartCount`.
    #[serde(default)]
    pub restart_count: u32,
}

/// A pod condition (for the reason of an unscheduled pod).
#[derive(Deserialize)]
pub struct Condition<'a> {
    /// `type`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Str<'a>,
    /// `status`.
    #[serde(borrow, default)]
    pub status: Str<'a>,
    /// `reason`.
    #[serde(borrow, default)]
    pub reason: Option<Str<'a>>,
}

/// Pod `status`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Status<'a> {
    /// `phase`.
    #[serde(borrow, default)]
    pub phase: Str<'a>,
    /// `containerStatuses`.
    #[serde(borrow, default)]
    pub container_statuses: Vec<ContainerStatus<'a>>,
    /// `conditions`.
    #[serde(borrow, default)]
    pub conditions: Vec<Condition<'a>>,
}

/// A pod: the fields of core's `Execution`.
#[derive(Deserialize)]
pub struct Pod<'a> {
    /// `metadata`.
    #[serde(borrow, default)]
    pub metadata: Meta<'a>,
    /// `spec`.
    #[serde(borrow, default)]
    pub spec: Spec<'a>,
    /// `status`.
    #[serde(borrow, default)]
    pub status: Status<'a>,
}

/// A `PodList`.
#[derive(Deserialize)]
pub struct PodList<'a> {
    /// `items`.
    #[serde(borrow)]
    pub items: Vec<Pod<'a>>,
}

/// One watch event (a bookmark's object decodes as a pod with only a resourceVersion).
#[derive(Deserialize)]
pub struct WatchEvent<'a> {
    /// `type`.
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    /// `object`.
    #[serde(borrow)]
    pub object: Pod<'a>,
}

/// `Details` of a Nomad task event: the exit code.
#[derive(Deserialize)]
pub struct TaskEventDetails<'a> {
    /// `exit_code`.
    #[serde(borrow, default)]
    pub exit_code: Option<Str<'a>>,
}

/// A Nomad task event: what `TaskState` takes from it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEvent<'a> {
    /// `Type`.
    #[serde(rename = "Type", borrow, default)]
    pub kind: Str<'a>,
    /// `DisplayMessage`.
    #[serde(borrow, default)]
    pub display_message: Str<'a>,
    /// `ExitCode`.
    #[serde(default)]
    pub exit_code: i32,
    /// `Details`.
    #[serde(borrow, default)]
    pub details: Option<TaskEventDetails<'a>>,
}

/// A Nomad task state.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState<'a> {
    /// `State`.
    #[serde(borrow, default)]
    pub state: Str<'a>,
    /// `Failed`.
    #[serde(default)]
    pub failed: bool,
    /// `Restarts`.
    #[serde(default)]
    pub restarts: u32,
    /// `Events`.
    #[serde(borrow, default)]
    pub events: Option<Vec<TaskEvent<'a>>>,
}

/// A Nomad allocation stub: the fields of core's `Execution`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alloc<'a> {
    /// `ID`.
    #[serde(rename = "ID", borrow)]
    pub id: Str<'a>,
    /// `JobID`.
    #[serde(rename = "JobID", borrow, default)]
    pub job_id: Str<'a>,
    /// `Namespace`.
    #[serde(borrow, default)]
    pub namespace: Str<'a>,
    /// `NodeID`.
    #[serde(rename = "NodeID", borrow, default)]
    pub node_id: Str<'a>,
    /// `ClientStatus`.
    #[serde(borrow, default)]
    pub client_status: Str<'a>,
    /// `DesiredStatus`.
    #[serde(borrow, default)]
    pub desired_status: Str<'a>,
    /// `TaskStates`.
    #[serde(borrow, default)]
    pub task_states: Option<BTreeMap<Str<'a>, TaskState<'a>>>,
    /// `CreateTime`.
    #[serde(default)]
    pub create_time: i64,
}

/// One frame of a Nomad framed stream; `Data` still base64.
#[derive(Deserialize)]
pub struct Frame<'a> {
    /// `Data`.
    #[serde(rename = "Data", borrow, default)]
    pub data: Option<Str<'a>>,
    /// `File`.
    #[serde(rename = "File", borrow, default)]
    pub file: Option<Str<'a>>,
    /// `Offset`.
    #[serde(rename = "Offset", default)]
    pub offset: i64,
    /// `FileEvent`.
    #[serde(rename = "FileEvent", borrow, default)]
    pub file_event: Option<Str<'a>>,
}

/// One Nomad event, its payload left raw (as core's `Event` does).
#[derive(Deserialize)]
pub struct Event<'a> {
    /// `Topic`.
    #[serde(rename = "Topic", borrow)]
    pub topic: Str<'a>,
    /// `Type`.
    #[serde(rename = "Type", borrow)]
    pub kind: Str<'a>,
    /// `Key`.
    #[serde(rename = "Key", borrow, default)]
    pub key: Str<'a>,
    /// `Namespace`.
    #[serde(rename = "Namespace", borrow, default)]
    pub namespace: Str<'a>,
    /// `FilterKeys`.
    #[serde(rename = "FilterKeys", borrow, default)]
    pub filter_keys: Option<Vec<Str<'a>>>,
    /// `Index`.
    #[serde(rename = "Index", default)]
    pub index: u64,
    /// `Payload`.
    #[serde(rename = "Payload", borrow)]
    pub payload: &'a RawValue,
}

/// One line of the Nomad event stream.
#[derive(Deserialize)]
pub struct EventBatch<'a> {
    /// `Index`.
    #[serde(rename = "Index")]
    pub index: u64,
    /// `Events`.
    #[serde(rename = "Events", borrow, default)]
    pub events: Option<Vec<Event<'a>>>,
}
