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
//! [`LogOptions::stderr`], [`LogOptions::offset`] and [`LogOptions::from_end`] are Nomad's: the
//! Kubernetes log interleaves stdout and stderr and has no byte offsets, so they are ignored
//! here (with a `tracing` debug message when set).

use std::convert::Infallible;
use std::time::Instant;

use super::api::{Query, Resource};
use super::Context;
use crate::call::{Call, Exchange, ExchangeStep};
use crate::error::{ApiError, Error, Result};
use crate::lines::{LineSplitter, DEFAULT_MAX_LINE};
use crate::model::{LogLine, LogOptions};
use crate::step::{Event, Operation, Request, Response, Step};

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
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/acm-run/pods/printer-vhpr6/log");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    id: &str,
    options: &LogOptions,
) -> impl Operation<Output = String, Item = Infallible> + Send + 'static {
    let req = log_request(namespace, id, options, false);
    let retry = ctx.retry.clone();
    super::checked::Checked::new(req.map(|r| {
        Call::new(r, &retry, |resp: Response| match super::check(resp) {
            Ok(resp) => Ok(String::from_utf8_lossy(resp.body()).into_owned()),
            Err(e) => Err(with_hint(e)),
        })
    }))
}

/// Follow a pod's log (`follow=true`): yields each line as the container prints it (without its
/// line end, invalid UTF-8 replaced by U+FFFD; a last line without a newline is yielded when the
/// stream ends), and finishes with `Ok(())` when the server ends the stream, which it does when
/// the container exits.
///
/// ```
/// use clustermanager_core::{k8s, LogOptions, Operation, Step};
/// let mut op = k8s::log::follow(&k8s::Context::default(), "acm-run", "printer-vhpr6", &LogOptions::default());
/// let Step::Open(req) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("follow=true"));
/// ```
pub fn follow(ctx: &Context, namespace: &str, id: &str, options: &LogOptions) -> Follow {
    Follow {
        state: match log_request(namespace, id, options, true) {
            Ok(req) => FollowState::Opening(Box::new(Exchange::open(req, &ctx.retry))),
            Err(e) => FollowState::Failed(Some(e)),
        },
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
        match &mut self.state {
            FollowState::Opening(exchange) => match exchange.poll(now) {
                ExchangeStep::Send(req) => Step::Open(req),
                ExchangeStep::Wait(d) => Step::Wait(d),
                ExchangeStep::Done(Err(e)) => self.finish(Err(e)),
                ExchangeStep::Done(Ok(resp)) if resp.status() == http::StatusCode::NO_CONTENT => {
                    let err = not_started(&self.pod);
                    self.finish(Err(err))
                }
                ExchangeStep::Done(Ok(resp)) => match super::check(resp) {
                    Ok(_) => {
                        self.state = FollowState::Streaming { ended: false };
                        Step::Read { timeout: None }
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
                    return Step::Read { timeout: None };
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
        assert!(matches!(op.poll(now), Step::Open(_)));
        let head = http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0;
        op.handle(Event::Head(head));
        assert!(matches!(op.poll(now), Step::Read { timeout: None }));
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
            proptest::prop_assert!(matches!(op.poll(now), Step::Open(_)));
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
