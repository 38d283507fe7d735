//! Kubernetes execution logs: `get_execution_log` ([`get`], the log so far) and
//! `get_execution_log_watch` ([`follow`], the log line by line as the container prints it),
//! both `GET /api/v1/namespaces/{ns}/pods/{pod}/log`.
//!
//! What the apiserver answers before a container runs:
//! * a pod not yet bound to a node: `204 No Content` with an empty body. [`get`] returns an
//!   empty string (there is no log yet); [`follow`] fails with [`Error::BadRequest`] saying
//!   the pod has not started, because a followed log that ends at once would look like a
//!   container that printed nothing.
//! * a container still waiting (`ContainerCreating`, image pull): `400` with the kubelet's
//!   message, reported as [`Error::BadRequest`] with that message plus a hint to wait until the
//!   execution is Running.
//! * an unknown container: `400` (`container x is not valid for pod y`), with a hint to choose
//!   one with [`LogOptions::container`].
//!
//! A pod with several containers (a sidecar next to the job's container) has no log without a
//! container name: the apiserver answers `400` "a container name must be specified for pod X,
//! choose one of: [...]". When the caller named no container, the request is sent without one
//! (one container: one request), and on that answer the pod is read and the log asked again for
//! the container kubectl would choose: the one the `kubectl.kubernetes.io/default-container`
//! annotation names, else `main` (the container of the jobs this library creates), else the
//! first one.
//!
//! [`LogOptions::stderr`], [`LogOptions::offset`] and [`LogOptions::from_end`] are Nomad's: the
//! Kubernetes log interleaves stdout and stderr and has no byte offsets, so they are ignored
//! here (with a `tracing` debug message when set).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use serde::Deserialize;

use super::api::{Query, Resource};
use super::execution::NamedContainer;
use super::Context;
use crate::deadline::{Hold, Io};
use crate::error::{ApiError, Error, Result};
use crate::lines::{LineSplitter, DEFAULT_MAX_LINE};
use crate::model::{LogLine, LogOptions};
use crate::op::{Exchange, ExchangeStep};
use crate::retry::Retry;
use crate::step::{Event, Operation, Request, Response, Step};

// The annotation naming the container `kubectl logs` uses when none is given (our pod
// templates write it for a container not named `CONTAINER`), and our containers' name.
use super::pod_template::CONTAINER as JOB_CONTAINER;
pub use super::pod_template::DEFAULT_CONTAINER_ANNOTATION;

/// Whether this is the answer to a log request without a container for a pod that has several.
fn needs_container(err: &Error) -> bool {
    matches!(err, Error::BadRequest(api) if api.message.contains("a container name must be specified"))
}

fn pod_request(namespace: &str, pod: &str) -> Result<Request> {
    crate::step::request(http::Method::GET, &Resource::PODS.object_path(Some(namespace), pod)?, None)
}

#[derive(Debug, Default, Deserialize)]
struct PodContainers {
    #[serde(default)]
    metadata: Annotations,
    #[serde(default)]
    spec: ContainersOnly,
}

#[derive(Debug, Default, Deserialize)]
struct Annotations {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct ContainersOnly {
    #[serde(default)]
    containers: Vec<NamedContainer>,
}

/// The container kubectl would show the log of (see the module docs), from the pod's answer.
fn default_container(resp: Result<Response>) -> Result<Option<String>> {
    let resp = resp.and_then(super::check)?;
    let pod = super::decode::<PodContainers>("pod", resp.body())?;
    let has = |name: &str| pod.spec.containers.iter().any(|c| c.name == name);
    let annotated = pod.metadata.annotations.get(DEFAULT_CONTAINER_ANNOTATION).filter(|c| has(c));
    Ok(annotated
        .cloned()
        .or_else(|| has(JOB_CONTAINER).then(|| JOB_CONTAINER.to_owned()))
        .or_else(|| pod.spec.containers.first().map(|c| c.name.clone())))
}

/// Where a log request stands in choosing a container.
#[derive(Debug)]
enum Choice {
    /// The caller named one, or the pod has one: the first answer is final.
    Settled,
    /// No container named yet: a "must be specified" answer makes it read the pod.
    Open,
    /// Reading the pod; the log request's error stands if no container can be chosen.
    Reading(Box<Exchange>, Option<Error>),
}

/// What [`Choice::poll_pod_read`] says to do next.
enum PodRead {
    /// No pod read under way: go on with the log request.
    Idle,
    /// Send the pod read's request.
    Send(Request, Io),
    /// Wait until this instant before retrying the pod read.
    WaitUntil(Instant),
    /// The pod was read and a container chosen: this log request asks for it.
    Resend(Box<Exchange>),
    /// No container could be chosen: finish with the log request's error.
    Fail(Error),
}

impl Choice {
    /// Drive the pod read, if one is under way; once it answers, the choice is settled and
    /// `target` gives the log request (`follow` or not) for the chosen container.
    fn poll_pod_read(&mut self, now: Instant, target: &mut Target, follow: bool) -> PodRead {
        let Choice::Reading(ex, err) = self else { return PodRead::Idle };
        match ex.poll(now) {
            ExchangeStep::Send(req, io) => PodRead::Send(req, io),
            ExchangeStep::WaitUntil(at) => PodRead::WaitUntil(at),
            ExchangeStep::Done(pod) => {
                let err = err.take();
                *self = Choice::Settled;
                match target.again(pod, err, follow) {
                    Ok(ex) => PodRead::Resend(Box::new(ex)),
                    Err(e) => PodRead::Fail(e),
                }
            }
        }
    }
}

/// A log request's options and target, to send it again with a chosen container.
#[derive(Debug)]
struct Target {
    namespace: String,
    pod: String,
    options: LogOptions,
    retry: Retry,
}

impl Target {
    fn choice(&self) -> Choice {
        if self.options.container.is_some() {
            Choice::Settled
        } else {
            Choice::Open
        }
    }

    /// Read the pod after `err`, or give `err` back.
    fn read_pod(&self, err: Error) -> std::result::Result<Choice, Error> {
        match pod_request(&self.namespace, &self.pod) {
            Ok(req) => Ok(Choice::Reading(Box::new(Exchange::send(req, &self.retry)), Some(err))),
            Err(_) => Err(err),
        }
    }

    /// The log request again for the container chosen from the pod's answer, or the original
    /// error (with its hint) if none can be.
    fn again(&mut self, pod: Result<Response>, err: Option<Error>, follow: bool) -> Result<Exchange> {
        let err = err.unwrap_or_else(|| Error::protocol("log error lost"));
        match default_container(pod) {
            Ok(Some(container)) => {
                tracing::debug!(pod = %self.pod, %container, "pod has several containers; asking for the default one");
                self.options.container = Some(container);
                let req = log_request(&self.namespace, &self.pod, &self.options, follow)?;
                Ok(if follow {
                    Exchange::open(req, &self.retry).holding(Hold::Follow)
                } else {
                    Exchange::send(req, &self.retry)
                })
            }
            Ok(None) | Err(_) => Err(with_hint(err)),
        }
    }
}

fn log_request(namespace: &str, pod: &str, options: &LogOptions, follow: bool) -> Result<Request> {
    if options.stderr || options.offset.is_some() || options.from_end {
        tracing::debug!("LogOptions stderr/offset/from_end are Nomad options; Kubernetes ignores them");
    }
    super::name::label("namespace", namespace)?;
    super::name::subdomain("execution id", pod)?;
    let path = format!("{}/log", Resource::PODS.object_path(Some(namespace), pod)?);
    let mut q = Query::new();
    q.push_opt("container", options.container.as_deref());
    if follow {
        q.push("follow", "true");
    }
    q.push_opt("tailLines", options.tail_lines.map(|n| n.to_string()).as_deref())
        .push_opt("sinceSeconds", options.since_seconds.map(|n| n.to_string()).as_deref());
    if options.timestamps {
        q.push("timestamps", "true");
    }
    if options.previous {
        q.push("previous", "true");
    }
    crate::step::request(http::Method::GET, &q.on(&path), None)
}

/// Add what to do to the errors a log request of a pod that has not started (or of a wrong
/// container) gives.
fn with_hint(mut err: Error) -> Error {
    if let Error::BadRequest(api) = &mut err {
        let m = api.message.as_str();
        let hint = if m.contains("waiting to start")
            || m.contains("does not have a host")
            || m.contains("ContainerCreating")
            || m.contains("PodInitializing")
        {
            Some("the container has not started yet: wait until the execution is Running, then ask again")
        } else if m.contains("is not valid for pod") || m.contains("a container name must be specified") {
            Some("choose one of the pod's containers with LogOptions::container")
        } else if m.contains("previous terminated container") {
            Some("there is no previous instance: ask without LogOptions::previous")
        } else {
            None
        };
        if let Some(hint) = hint {
            api.message = format!("{} ({hint})", api.message);
        }
    }
    err
}

fn not_started(pod: &str) -> Error {
    Error::BadRequest(ApiError {
        status: 204,
        reason: None,
        message: format!(
            "pod {pod:?} is not on a node yet, so it has no log to follow (the server answered 204 No Content): \
             wait until the execution is Running, then follow again"
        ),
        ..ApiError::default()
    })
}

/// The log of a pod so far (stdout and stderr interleaved), as text (invalid UTF-8 replaced by
/// U+FFFD). A pod that is not on a node yet has an empty log.
///
/// ```
/// use clustermanager_core::{k8s, LogOptions, Operation, Step};
/// let options = LogOptions { tail_lines: Some(2), container: Some("main".into()), ..LogOptions::default() };
/// let mut op = k8s::log::get(&k8s::Context::default(), "acm-run", "printer-vhpr6", &options);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/acm-run/pods/printer-vhpr6/log");
/// ```
pub fn get(ctx: &Context, namespace: &str, id: &str, options: &LogOptions) -> LogGet {
    let target = Target {
        namespace: namespace.to_owned(),
        pod: id.to_owned(),
        options: options.clone(),
        retry: ctx.retry.clone(),
    };
    let state = match log_request(namespace, id, options, false) {
        Ok(req) => GetState::Log(Box::new(Exchange::send(req, &ctx.retry))),
        Err(e) => GetState::Failed(Some(e)),
    };
    LogGet { choice: target.choice(), state, target }
}

#[derive(Debug)]
enum GetState {
    Log(Box<Exchange>),
    Failed(Option<Error>),
    Done,
}

/// The operation of [`get`].
#[derive(Debug)]
pub struct LogGet {
    state: GetState,
    choice: Choice,
    target: Target,
}

impl LogGet {
    fn finish(&mut self, result: Result<String>) -> Step<String> {
        self.state = GetState::Done;
        Step::Done(result)
    }
}

impl Operation for LogGet {
    type Output = String;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<String> {
        loop {
            match self.choice.poll_pod_read(now, &mut self.target, false) {
                PodRead::Idle => {}
                PodRead::Send(req, io) => return Step::Send(req, io),
                PodRead::WaitUntil(at) => return Step::WaitUntil(at),
                PodRead::Resend(ex) => self.state = GetState::Log(ex),
                PodRead::Fail(e) => return self.finish(Err(e)),
            }
            match &mut self.state {
                GetState::Log(ex) => match ex.poll(now) {
                    ExchangeStep::Send(req, io) => return Step::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => match result.and_then(super::check) {
                        Ok(resp) => return self.finish(Ok(String::from_utf8_lossy(resp.body()).into_owned())),
                        Err(e) if matches!(self.choice, Choice::Open) && needs_container(&e) => {
                            match self.target.read_pod(e) {
                                Ok(choice) => self.choice = choice,
                                Err(e) => return self.finish(Err(with_hint(e))),
                            }
                        }
                        Err(e) => return self.finish(Err(with_hint(e))),
                    },
                },
                GetState::Failed(e) => {
                    let e = e.take().unwrap_or_else(|| Error::protocol("log read polled after it finished"));
                    return self.finish(Err(e));
                }
                GetState::Done => return Step::Done(Err(Error::protocol("log read polled after it finished"))),
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Choice::Reading(ex, _) = &mut self.choice {
            ex.handle(event);
        } else if let GetState::Log(ex) = &mut self.state {
            ex.handle(event);
        }
    }
}

/// Follow a pod's log (`follow=true`): yields each line as the container prints it (without its
/// line end, invalid UTF-8 replaced by U+FFFD; a last line without a newline is yielded when the
/// stream ends), and finishes with `Ok(())` when the server ends the stream, which it does when
/// the container exits.
///
/// ```
/// use clustermanager_core::{k8s, LogOptions, Operation, Step};
/// let mut op = k8s::log::follow(&k8s::Context::default(), "acm-run", "printer-vhpr6", &LogOptions::default());
/// let Step::Open(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("follow=true"));
/// ```
pub fn follow(ctx: &Context, namespace: &str, id: &str, options: &LogOptions) -> Follow {
    let target = Target {
        namespace: namespace.to_owned(),
        pod: id.to_owned(),
        options: options.clone(),
        retry: ctx.retry.clone(),
    };
    Follow {
        state: match log_request(namespace, id, options, true) {
            Ok(req) => FollowState::Opening(Box::new(Exchange::open(req, &ctx.retry).holding(Hold::Follow))),
            Err(e) => FollowState::Failed(Some(e)),
        },
        choice: target.choice(),
        target,
        pod: id.to_owned(),
        lines: LineSplitter::splitting_long_lines("log stream", DEFAULT_MAX_LINE),
    }
}

#[derive(Debug)]
enum FollowState {
    Opening(Box<Exchange>),
    Streaming { ended: bool },
    Failed(Option<Error>),
    Finished,
}

/// The streaming operation of [`follow`].
#[derive(Debug)]
pub struct Follow {
    state: FollowState,
    choice: Choice,
    target: Target,
    pod: String,
    lines: LineSplitter,
}

fn to_line(bytes: &[u8]) -> LogLine {
    LogLine { text: String::from_utf8_lossy(bytes).into_owned() }
}

impl Follow {
    fn finish(&mut self, result: Result<()>) -> Step<(), LogLine> {
        self.state = FollowState::Finished;
        Step::Done(result)
    }
}

impl Operation for Follow {
    type Output = ();
    type Item = LogLine;

    fn poll(&mut self, now: Instant) -> Step<(), LogLine> {
        match self.choice.poll_pod_read(now, &mut self.target, true) {
            PodRead::Idle => {}
            PodRead::Send(req, io) => return Step::Send(req, io),
            PodRead::WaitUntil(at) => return Step::WaitUntil(at),
            PodRead::Resend(ex) => self.state = FollowState::Opening(ex),
            PodRead::Fail(e) => return self.finish(Err(e)),
        }
        match &mut self.state {
            FollowState::Opening(exchange) => match exchange.poll(now) {
                ExchangeStep::Send(req, io) => Step::Open(req, io),
                ExchangeStep::WaitUntil(at) => Step::WaitUntil(at),
                ExchangeStep::Done(Err(e)) => self.finish(Err(e)),
                ExchangeStep::Done(Ok(resp)) if resp.status() == http::StatusCode::NO_CONTENT => {
                    let err = not_started(&self.pod);
                    self.finish(Err(err))
                }
                ExchangeStep::Done(Ok(resp)) => match super::check(resp) {
                    Ok(_) => {
                        self.state = FollowState::Streaming { ended: false };
                        Step::Read { until: None }
                    }
                    Err(e) if matches!(self.choice, Choice::Open) && needs_container(&e) => {
                        match self.target.read_pod(e) {
                            Ok(choice) => {
                                self.choice = choice;
                                self.poll(now)
                            }
                            Err(e) => self.finish(Err(with_hint(e))),
                        }
                    }
                    Err(e) => self.finish(Err(with_hint(e))),
                },
            },
            FollowState::Streaming { ended } => {
                let ended = *ended;
                match self.lines.next_line() {
                    Ok(Some(line)) => return Step::Yield(to_line(&line)),
                    Ok(None) => {}
                    Err(e) => return self.finish(Err(e)),
                }
                if !ended {
                    return Step::Read { until: None };
                }
                match self.lines.finish() {
                    // the splitter trims `\r` from terminated lines only
                    Some(rest) => Step::Yield(to_line(rest.strip_suffix(b"\r").unwrap_or(&rest))),
                    None => self.finish(Ok(())),
                }
            }
            FollowState::Failed(e) => {
                let e = e.take().unwrap_or_else(|| Error::protocol("log follow polled after it finished"));
                self.finish(Err(e))
            }
            FollowState::Finished => Step::Done(Err(Error::protocol("log follow polled after it finished"))),
        }
    }

    fn handle(&mut self, event: Event) {
        if let Choice::Reading(ex, _) = &mut self.choice {
            return ex.handle(event);
        }
        match (&mut self.state, event) {
            (FollowState::Opening(exchange), event) => exchange.handle(event),
            (FollowState::Streaming { .. }, Event::Chunk(bytes)) => self.lines.push(&bytes),
            (FollowState::Streaming { ended }, Event::End) => *ended = true,
            (FollowState::Streaming { .. }, Event::Failed(e)) => self.state = FollowState::Failed(Some(e)),
            (_, other) => {
                self.state =
                    FollowState::Failed(Some(Error::protocol(format!("unexpected event for a log stream: {other:?}"))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_holds_every_option() {
        let options = LogOptions {
            container: Some("main".into()),
            tail_lines: Some(10),
            since_seconds: Some(60),
            timestamps: true,
            previous: true,
            ..LogOptions::default()
        };
        let req = log_request("ns", "p", &options, true).ok();
        assert_eq!(
            req.as_ref().and_then(|r| r.uri().query()),
            Some("container=main&follow=true&tailLines=10&sinceSeconds=60&timestamps=true&previous=true")
        );
    }

    #[test]
    fn waiting_container_gets_a_hint() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"container \"main\" in pod \"p\" is waiting to start: ContainerCreating","reason":"BadRequest","code":400}"#;
        let resp = http::Response::builder().status(400).body(bytes::Bytes::from_static(body)).unwrap_or_default();
        let err = with_hint(super::super::check(resp).err().unwrap_or_else(|| Error::protocol("expected an error")));
        assert!(
            matches!(&err, Error::BadRequest(a) if a.message.starts_with("container \"main\" in pod \"p\" is waiting to start: ContainerCreating (the container has not started yet")),
            "{err:?}"
        );
    }

    #[test]
    fn follow_decodes_invalid_utf8_lossily() {
        let now = Instant::now();
        let mut op = follow(&Context::default(), "ns", "p", &LogOptions::default());
        assert!(matches!(op.poll(now), Step::Open(..)));
        let head = http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0;
        op.handle(Event::Head(head));
        assert!(matches!(op.poll(now), Step::Read { until: None }));
        op.handle(Event::Chunk(bytes::Bytes::from_static(b"ok \xff\xfe\nend\r")));
        let Step::Yield(first) = op.poll(now) else { panic!("expected a line") };
        assert_eq!(first.text, "ok \u{fffd}\u{fffd}");
        assert!(matches!(op.poll(now), Step::Read { .. }));
        op.handle(Event::End);
        let Step::Yield(last) = op.poll(now) else { panic!("expected the last line") };
        assert_eq!(last.text, "end");
        assert!(matches!(op.poll(now), Step::Done(Ok(()))));
    }

    proptest::proptest! {
        #[test]
        fn follow_yields_the_same_lines_however_the_stream_is_cut(
            lines in proptest::collection::vec("[^\n\r]{0,12}", 0..6),
            cuts in proptest::collection::vec(0usize..80, 0..8),
            terminated in proptest::bool::ANY,
        ) {
            let mut text = lines.join("\n");
            if terminated && !lines.is_empty() {
                text.push('\n');
            }
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let now = Instant::now();
            let mut op = follow(&Context::default(), "ns", "p", &LogOptions::default());
            proptest::prop_assert!(matches!(op.poll(now), Step::Open(..)));
            let head = http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0;
            op.handle(Event::Head(head));
            let mut pieces = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                pieces.push(bytes[start..c].to_vec());
                start = c;
            }
            let mut pieces = pieces.into_iter();
            let mut got = Vec::new();
            loop {
                match op.poll(now) {
                    Step::Read { .. } => match pieces.next() {
                        Some(p) => op.handle(Event::Chunk(bytes::Bytes::from(p))),
                        None => op.handle(Event::End),
                    },
                    Step::Yield(line) => got.push(line.text),
                    Step::Done(r) => {
                        proptest::prop_assert!(r.is_ok());
                        break;
                    }
                    _ => proptest::prop_assert!(false, "unexpected step"),
                }
            }
            // what was printed: every `\n`-ended line, and a last line only if it has text
            let expected: Vec<String> = text.split_terminator('\n').map(str::to_owned).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
