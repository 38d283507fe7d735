//! Kubernetes: why a Job is not progressing, read from its `Failed` condition and from its pods
//! (the `PodScheduled` condition of a pending pod; each container's `waiting` reason and
//! message). See [`Reason`] for the types and the README for the table.

use std::convert::Infallible;

use super::execution::{pods_request, PodObject};
use super::object::ObjectCondition;
use super::{name, Context};
use crate::error::Result;
use crate::op::{Call, Checked};
use crate::reason::{Diagnosis, Reason, ReasonKind};
use crate::step::{Operation, Response};

/// The reason of a Job's `Failed=True` condition (`BackoffLimitExceeded`, `DeadlineExceeded`).
pub fn of_job_conditions(conditions: &[ObjectCondition]) -> Option<Reason> {
    let failed = conditions.iter().find(|c| c.kind == "Failed" && c.status == "True")?;
    let reason = failed.reason.as_deref().unwrap_or("");
    let message = failed.message.as_deref().unwrap_or("the job failed");
    let source = format!("Job condition Failed: {reason}");
    Some(match reason {
        "BackoffLimitExceeded" => Reason::new(
            ReasonKind::BackoffLimitExceeded,
            format!("{message}: its pods failed more often than backoffLimit allows; read their logs"),
            true,
            source,
        ),
        "DeadlineExceeded" => Reason::new(
            ReasonKind::DeadlineExceeded,
            format!("{message}: it ran longer than activeDeadlineSeconds"),
            true,
            source,
        ),
        // 1.28+: an index ran out of its backoffLimitPerIndex, or too many indexes failed
        "FailedIndexes" | "MaxFailedIndexesExceeded" => Reason::new(
            ReasonKind::BackoffLimitExceeded,
            format!(
                "{message}: some of its indexes failed more often than backoffLimitPerIndex allows; read their logs"
            ),
            true,
            source,
        ),
        // 1.26+: a pod failure matched a FailJob rule of its podFailurePolicy
        "PodFailurePolicy" => Reason::new(
            ReasonKind::TaskFailed,
            format!("{message}: a pod failed as its podFailurePolicy says ends the job"),
            true,
            source,
        ),
        _ => Reason::new(ReasonKind::CrashLoop, message, true, source),
    })
}

/// Why a pod that has not finished is stuck, if its status says.
pub fn of_pod(pod: &PodObject) -> Option<Reason> {
    if matches!(pod.status.phase.as_str(), "Succeeded" | "Failed") {
        return None;
    }
    for c in &pod.status.container_statuses {
        let Some(waiting) = &c.state.waiting else { continue };
        let reason = waiting.reason.as_deref().unwrap_or("");
        let message = waiting.message.as_deref().unwrap_or("");
        let said = |what: &str| {
            if message.is_empty() {
                format!("container {:?} of pod {}: {what}", c.name, pod.metadata.name)
            } else {
                format!("container {:?} of pod {}: {what} ({message})", c.name, pod.metadata.name)
            }
        };
        let source = format!("containerStatuses[{}].state.waiting.reason: {reason}", c.name);
        let (kind, what, permanent) = match reason {
            "InvalidImageName" => (ReasonKind::InvalidImage, "the image name is not valid", true),
            "ErrImageNeverPull" => {
                (ReasonKind::InvalidImage, "the image is not on the node and imagePullPolicy is Never", true)
            }
            "ErrImagePull" | "ImagePullBackOff" | "RegistryUnavailable" | "ImageInspectError" => (
                ReasonKind::ImagePull,
                "the image cannot be pulled: check its name and tag, the registry and imagePullSecrets",
                false,
            ),
            "CreateContainerConfigError" => (
                ReasonKind::ContainerConfig,
                "the container cannot be configured: a ConfigMap, Secret or key it uses is missing",
                false,
            ),
            "CreateContainerError" | "RunContainerError" | "PreStartHookError" | "PostStartHookError" => {
                (ReasonKind::ContainerConfig, "the container cannot be created or started", false)
            }
            "CrashLoopBackOff" => (
                ReasonKind::CrashLoop,
                "the container keeps failing and is restarted after a back-off; read its log",
                false,
            ),
            _ => continue,
        };
        return Some(Reason::new(kind, said(what), permanent, source));
    }
    let unscheduled = pod.status.conditions.iter().find(|c| c.kind == "PodScheduled" && c.status == "False")?;
    let message = unscheduled.message.as_deref().unwrap_or("");
    let kind = if message.contains("Insufficient") {
        ReasonKind::ResourcesExhausted
    } else if message.contains("node(s) didn't match") || message.contains("taint") {
        ReasonKind::ConstraintFiltered
    } else if message.starts_with("no nodes available") || message.starts_with("0/0 nodes") {
        ReasonKind::NoNodes
    } else {
        ReasonKind::Unschedulable
    };
    let source = format!("PodScheduled=False: {}", unscheduled.reason.as_deref().unwrap_or(""));
    Some(Reason::new(kind, format!("pod {} cannot be scheduled: {message}", pod.metadata.name), false, source))
}

/// Whether any container of the pod has run.
pub fn has_started(pod: &PodObject) -> bool {
    matches!(pod.status.phase.as_str(), "Running" | "Succeeded")
        || pod.status.container_statuses.iter().any(|c| c.state.running.is_some() || c.state.terminated.is_some())
}

/// What the pods of a Job say: the first reason one of them is stuck, and whether any started.
pub fn of_pods(pods: &[PodObject]) -> Diagnosis {
    Diagnosis { reason: pods.iter().find_map(of_pod), started: pods.iter().any(has_started), executions: pods.len() }
}

/// Parse the pod list of [`probe`].
pub fn parse_probe(resp: Response) -> Result<Diagnosis> {
    let pods = super::api::parse_items::<PodObject, _>("pod list", resp, |p| p)?;
    Ok(of_pods(&pods))
}

/// One read of Job `job`'s pods (by its `job-name` label), and what they say.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::reason::probe(&k8s::Context::default(), "batch", "hello");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/namespaces/batch/pods?labelSelector=job-name%3Dhello");
/// ```
pub fn probe(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Diagnosis, Item = Infallible> + Send {
    let req = name::label("namespace", namespace)
        .and_then(|()| name::label("job name", job))
        .and_then(|()| pods_request(namespace, job));
    let retry = ctx.retry.clone();
    Checked::new(req.map(|r| Call::new(r, &retry, parse_probe)))
}

/// One read of the pods `selector` matches (a Deployment's or StatefulSet's), and what they say.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::reason::probe_selector(&k8s::Context::default(), "web", "app=frontend");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/namespaces/web/pods?labelSelector=app%3Dfrontend");
/// ```
pub fn probe_selector(
    ctx: &Context,
    namespace: &str,
    selector: &str,
) -> impl Operation<Output = Diagnosis, Item = Infallible> + Send {
    let req = name::label("namespace", namespace).and_then(|()| super::execution::list_request(namespace, selector));
    let retry = ctx.retry.clone();
    Checked::new(req.map(|r| Call::new(r, &retry, parse_probe)))
}

/// One Kubernetes Event (the fields read).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventObject {
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `FailedCreate`, `FailedMount`, ...
    #[serde(default)]
    pub reason: String,
    /// What happened.
    #[serde(default)]
    pub message: String,
    /// When it last happened (RFC 3339).
    #[serde(default)]
    pub last_timestamp: Option<String>,
    /// How often.
    #[serde(default)]
    pub count: Option<u32>,
}

/// Why the job controller made no pod, from the Job's latest `Warning` event: `FailedCreate`
/// with "exceeded quota" is [`ReasonKind::QuotaExhausted`] (the pods come once room frees up);
/// a refusal by admission — Pod Security ("violates PodSecurity", Kubernetes 1.25+), an
/// admission webhook ("admission webhook … denied the request"), a LimitRange ("maximum …
/// usage per Container") — is [`ReasonKind::AdmissionRefused`], permanent, in the server's
/// words; any other `FailedCreate` (a missing service account, which may still come)
/// [`ReasonKind::Unschedulable`].
pub fn of_job_events(events: &[EventObject]) -> Option<Reason> {
    let latest = events
        .iter()
        .filter(|e| e.kind == "Warning" && e.reason == "FailedCreate")
        .max_by(|a, b| a.last_timestamp.cmp(&b.last_timestamp))?;
    let source = format!("Event {}: {}", latest.reason, latest.kind);
    let times = latest.count.filter(|n| *n > 1).map(|n| format!(" ({n} times)")).unwrap_or_default();
    Some(if latest.message.contains("exceeded quota") {
        Reason::new(
            ReasonKind::QuotaExhausted,
            format!("the namespace's quota leaves no room for its pod{times}: {}", latest.message),
            false,
            source,
        )
    } else if let Some(what) = admission_refusal(&latest.message) {
        Reason::new(
            ReasonKind::AdmissionRefused,
            format!("{what} refuses its pod{times}; change the job or the namespace's policy: {}", latest.message),
            true,
            source,
        )
    } else {
        Reason::new(
            ReasonKind::Unschedulable,
            format!("the job controller cannot create its pod{times}: {}", latest.message),
            false,
            source,
        )
    })
}

/// Which admission check a pod creation's refusal names, if one did.
fn admission_refusal(message: &str) -> Option<&'static str> {
    if message.contains("violates PodSecurity") {
        Some("Pod Security admission")
    } else if message.contains("admission webhook") && message.contains("denied the request") {
        Some("an admission webhook")
    } else if message.contains("usage per Container is") || message.contains("usage per Pod is") {
        Some("a LimitRange")
    } else {
        None
    }
}

/// One read of Job `job`'s events (`involvedObject.kind=Job,involvedObject.name=<job>`), for
/// when it has no pod at all.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::reason::job_events(&k8s::Context::default(), "batch", "hello");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/batch/events");
/// ```
pub fn job_events(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Option<Reason>, Item = Infallible> + Send {
    let req = name::label("namespace", namespace).and_then(|()| name::label("job name", job)).and_then(|()| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("fieldSelector", &format!("involvedObject.kind=Job,involvedObject.name={job}"))
            .finish();
        let path = super::api::Resource::EVENTS.list_path(Some(namespace))?;
        crate::step::request(http::Method::GET, &format!("{path}?{query}"), None)
    });
    let retry = ctx.retry.clone();
    Checked::new(req.map(|r| {
        Call::new(r, &retry, |resp| {
            let events = super::api::parse_items::<EventObject, _>("event list", resp, |e| e)?;
            Ok(of_job_events(&events))
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> PodObject {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_job_without_pods_says_what_its_controller_was_refused() {
        let events: Vec<EventObject> = serde_json::from_str(
            r#"[{"type":"Normal","reason":"SuccessfulCreate","message":"Created pod: x","lastTimestamp":"2020-01-01T00:00:00Z"},
            {"type":"Warning","reason":"FailedCreate","count":3,"lastTimestamp":"2020-01-01T00:00:05Z",
             "message":"Error creating: pods \"hello-abcde\" is forbidden: exceeded quota: acm-quota, requested: limits.cpu=2, used: limits.cpu=0, limited: limits.cpu=1"}]"#,
        )
        .unwrap();
        let r = of_job_events(&events).unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::QuotaExhausted, false));
        assert!(r.message.contains("(3 times)") && r.message.contains("limited: limits.cpu=1"), "{}", r.message);
        assert!(of_job_events(&events[..1]).is_none());
    }

    /// acm-33 (v1.36): the job controller's pod creates are refused by Pod Security; the
    /// recorded event's words.
    #[test]
    fn a_pod_security_refusal_is_permanent_and_quotes_the_server() {
        let events: Vec<EventObject> = serde_json::from_str(
            r#"[{"type":"Warning","reason":"FailedCreate","count":1,"lastTimestamp":"2026-12-06T14:03:36Z",
             "message":"Error creating: pods \"privileged-t5q9v\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"main\" must not set securityContext.privileged=true)"}]"#,
        )
        .unwrap();
        let r = of_job_events(&events).unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::AdmissionRefused, true));
        assert!(r.message.starts_with("Pod Security admission refuses its pod"), "{}", r.message);
        assert!(r.message.contains("violates PodSecurity \"restricted:latest\""), "{}", r.message);
    }

    #[test]
    fn an_unschedulable_pod_says_what_is_short() {
        let p = pod(
            r#"{"metadata":{"name":"hello-x"},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/3 nodes are available: 3 Insufficient cpu."}]}}"#,
        );
        let d = of_pods(&[p]);
        let r = d.reason.unwrap();
        assert_eq!(r.kind, ReasonKind::ResourcesExhausted);
        assert!(!r.permanent);
        assert_eq!(r.message, "pod hello-x cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu.");
        assert!(!d.started);
    }

    #[test]
    fn an_invalid_image_name_is_permanent_and_a_pull_back_off_is_not() {
        let bad = pod(
            r#"{"metadata":{"name":"p"},"status":{"phase":"Pending","containerStatuses":[{"name":"main","state":{"waiting":{"reason":"InvalidImageName","message":"Failed to apply default image tag \"BusyBox\": couldn't parse image reference \"BusyBox\": invalid reference format: repository name must be lowercase"}}}]}}"#,
        );
        let r = of_pod(&bad).unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::InvalidImage, true));
        assert!(r.message.contains("repository name must be lowercase"), "{}", r.message);
        let pull = pod(
            r#"{"metadata":{"name":"p"},"status":{"phase":"Pending","containerStatuses":[{"name":"main","state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"nope:1\""}}}]}}"#,
        );
        let r = of_pod(&pull).unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::ImagePull, false));
    }

    #[test]
    fn a_creating_or_running_pod_has_no_reason() {
        let creating = pod(
            r#"{"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}],"containerStatuses":[{"name":"main","state":{"waiting":{"reason":"ContainerCreating"}}}]}}"#,
        );
        assert_eq!(of_pods(&[creating]), Diagnosis { executions: 1, ..Diagnosis::default() });
        let running =
            pod(r#"{"status":{"phase":"Running","containerStatuses":[{"name":"main","state":{"running":{}}}]}}"#);
        assert_eq!(of_pods(&[running]), Diagnosis { reason: None, started: true, executions: 1 });
    }

    #[test]
    fn a_failed_condition_names_the_backoff_limit_or_the_deadline() {
        let c: Vec<ObjectCondition> = serde_json::from_str(
            r#"[{"type":"Failed","status":"True","reason":"DeadlineExceeded","message":"Job was active longer than specified deadline"}]"#,
        )
        .unwrap();
        assert_eq!(of_job_conditions(&c).unwrap().kind, ReasonKind::DeadlineExceeded);
        let c: Vec<ObjectCondition> = serde_json::from_str(r#"[{"type":"Complete","status":"True"}]"#).unwrap();
        assert!(of_job_conditions(&c).is_none());
    }
}
