//! Nomad: `get_execution_log` and `get_execution_log_watch` over `/v1/client/fs/logs/{alloc}`.
//!
//! * [`get`] reads the whole log as text (`plain=true`); [`get_framed`] reads the framed form
//!   (JSON frames with base64 data, decoded with [`super::frames`]).
//! * [`follow`] follows the log (`follow=true`, framed by default, plain with
//!   [`FollowOptions::plain`]) and yields it line by line. Nomad never closes a follow stream,
//!   even after the task ended, so the operation reads with a timeout and checks the allocation
//!   (`GET /v1/allocation/{id}`) when the stream is quiet and every
//!   [`FollowOptions::check_interval`] while it is not (framed streams send a heartbeat every
//!   second, whether or not data is queued). Once the allocation is terminal (`complete`,
//!   `failed`, `lost`) it reads on until the server has nothing left to send (a quiet read, or two
//!   heartbeats with no data between them), flushes the last partial line and ends cleanly; a
//!   garbage-collected allocation (404) ends the follow at once. A check that fails otherwise
//!   is logged (debug) and tried again later: the stream decides, not the check.
//! * File events: `file truncated` flushes the partial line (the data starts again at offset 0);
//!   `file deleted` flushes it and checks the allocation at once (the server goes on with the
//!   next log file when the task rotated its logs; a garbage-collected allocation ends the
//!   follow).
//!
//! Which task: [`LogOptions::container`]; when `None`, the allocation is read first and its group's
//! first main task (not a prestart/poststart/poststop hook) is used. Which stream: stdout, or
//! stderr with [`LogOptions::stderr`]. Where to start: [`LogOptions::offset`] bytes from the start,
//! or from the end with [`LogOptions::from_end`] (`origin=start|end&offset=N`).
//! `tail_lines`, `since_seconds`, `timestamps` and `previous` are Kubernetes options that Nomad's
//! log API does not offer; they are ignored here.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::frames::{self, FileEvent, Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use super::query::{encode_segment, Query};
use super::{check, decode, Context};
use crate::deadline::{later, Hold};
use crate::error::{Error, Result};
use crate::lines::{LineSplitter, DEFAULT_MAX_LINE};
use crate::model::{LogLine, LogOptions};
use crate::op::{Exchange, ExchangeStep};
use crate::op::{Flow, Machine, Next};
use crate::step::{Event, Operation, Request, Response, Step};

/// How [`follow_with`] follows a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowOptions {
    /// Ask for the raw bytes (`plain=true`) instead of JSON frames. Plain streams carry no
    /// heartbeats and no file events.
    pub plain: bool,
    /// How long a read may wait for data before the allocation is checked (default 2 s).
    pub read_timeout: Duration,
    /// Check the allocation at least this often while data keeps coming (default 5 s).
    pub check_interval: Duration,
    /// Once the allocation is terminal, read until the stream is quiet this long (default 1 s)
    /// or two heartbeats arrive with no data between them, to collect the output still queued
    /// (a long log may take many seconds to arrive). Frames without data (file events) do not
    /// keep a finished follow open longer than 3 × this after the last data.
    pub drain_timeout: Duration,
    /// Longest encoded frame accepted (default [`DEFAULT_MAX_FRAME`]).
    pub max_frame: usize,
    /// Longest line accepted (default [`DEFAULT_MAX_LINE`]).
    pub max_line: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            plain: false,
            read_timeout: Duration::from_secs(2),
            check_interval: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(1),
            max_frame: DEFAULT_MAX_FRAME,
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// The fields of an allocation the log operations need.
#[derive(Deserialize)]
struct AllocInfo {
    #[serde(rename = "ClientStatus", default)]
    client_status: String,
    #[serde(rename = "TaskGroup", default)]
    task_group: String,
    #[serde(rename = "Job", default)]
    job: Option<AllocJob>,
    #[serde(rename = "TaskStates", default)]
    task_states: Option<BTreeMap<String, IgnoredAny>>,
}

#[derive(Deserialize)]
struct AllocJob {
    #[serde(rename = "TaskGroups", default)]
    task_groups: Option<Vec<AllocGroup>>,
}

#[derive(Deserialize)]
struct AllocGroup {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Tasks", default)]
    tasks: Option<Vec<AllocTask>>,
}

#[derive(Deserialize)]
struct AllocTask {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Lifecycle", default)]
    lifecycle: Option<IgnoredAny>,
}

impl AllocInfo {
    fn is_terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
    }

    /// The task whose log to read: the group's first main task in declared order, else the
    /// first task at all, else the first task that has a state.
    fn default_task(&self) -> Option<String> {
        let group = self
            .job
            .as_ref()
            .and_then(|j| j.task_groups.as_deref())
            .and_then(|groups| groups.iter().find(|g| g.name == self.task_group));
        let tasks = group.and_then(|g| g.tasks.as_deref()).unwrap_or_default();
        tasks
            .iter()
            .find(|t| t.lifecycle.is_none())
            .or_else(|| tasks.first())
            .map(|t| t.name.clone())
            .or_else(|| self.task_states.as_ref().and_then(|s| s.keys().next().cloned()))
    }
}

fn alloc_request(ctx: &Context, namespace: &str, alloc: &str) -> Result<Request> {
    Query::new(ctx, format!("/v1/allocation/{}", encode_segment(alloc))).namespace(ctx, namespace).get()
}

fn parse_alloc(resp: Response) -> Result<AllocInfo> {
    let resp = check(resp)?;
    decode("Nomad allocation", resp.body())
}

/// How the log request is shaped.
#[derive(Debug, Clone)]
struct LogRequest {
    ctx: Context,
    namespace: String,
    alloc: String,
    options: LogOptions,
    plain: bool,
    follow: bool,
}

impl LogRequest {
    /// The log request's exchange: a follow's head may come only with the log's first byte.
    fn open(&self, req: Request, retry: &crate::retry::Retry) -> Exchange {
        let exchange = Exchange::open(req, retry);
        if self.follow {
            exchange.holding(Hold::Follow)
        } else {
            exchange
        }
    }

    fn build(&self, task: &str) -> Result<Request> {
        let mut q = Query::new(&self.ctx, format!("/v1/client/fs/logs/{}", encode_segment(&self.alloc)))
            .param("task", task)
            .param("type", if self.options.stderr { "stderr" } else { "stdout" });
        if self.plain {
            q = q.param("plain", "true");
        }
        if self.follow {
            q = q.param("follow", "true");
        }
        if self.options.offset.is_some() || self.options.from_end {
            q = q
                .param("origin", if self.options.from_end { "end" } else { "start" })
                .param("offset", self.options.offset.unwrap_or(0).to_string());
        }
        q.namespace(&self.ctx, &self.namespace).get()
    }

    /// The first request: the allocation when no task was named (`None`: the task is to be
    /// found), else the log itself.
    fn first(&self) -> Result<(Option<String>, Request)> {
        match &self.options.container {
            Some(task) if task.is_empty() => {
                Err(Error::InvalidInput { field: "container".into(), problem: "the task name is empty".into() })
            }
            Some(task) => Ok((Some(task.clone()), self.build(task)?)),
            None => Ok((None, alloc_request(&self.ctx, &self.namespace, &self.alloc)?)),
        }
    }

    /// The log request for the allocation read in answer to [`first`](Self::first).
    fn after_alloc(&self, resp: Result<Response>) -> Result<Request> {
        let alloc = parse_alloc(resp?)?;
        self.build(&self.task_of(&alloc)?)
    }

    fn task_of(&self, alloc: &AllocInfo) -> Result<String> {
        alloc.default_task().ok_or_else(|| Error::InvalidInput {
            field: "container".into(),
            problem: format!("allocation {} has no task to read the log of; name the task", self.alloc),
        })
    }
}

/// The one-shot log operations ([`get`], [`get_framed`]): read the allocation if the task must
/// be found, then read the log.
struct LogGet<T> {
    request: LogRequest,
    parse: fn(Response, usize) -> Result<T>,
    /// `true` while the allocation read is the request in flight.
    resolving: bool,
}

impl<T> Machine for LogGet<T> {
    type Output = T;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<T>> {
        let Some(ans) = ans else {
            let (task, req) = self.request.first()?;
            self.resolving = task.is_none();
            return Ok(Next::Send(req));
        };
        if std::mem::take(&mut self.resolving) {
            return Ok(Next::Send(self.request.after_alloc(ans)?));
        }
        Ok(Next::Done((self.parse)(ans?, DEFAULT_MAX_FRAME)))
    }
}

fn log_get<T: Send + 'static>(
    request: LogRequest,
    parse: fn(Response, usize) -> Result<T>,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static {
    let retry = request.ctx.retry.clone();
    Flow::new(LogGet { request, parse, resolving: false }, &retry)
}

fn parse_plain(resp: Response, _max_frame: usize) -> Result<String> {
    let resp = check(resp)?;
    Ok(String::from_utf8_lossy(resp.body()).into_owned())
}

fn parse_framed(resp: Response, max_frame: usize) -> Result<Vec<Frame>> {
    let resp = check(resp)?;
    frames::decode_all(resp.body(), max_frame)
}

/// `get_execution_log`: the whole log of a task of allocation `alloc` so far, as text (invalid
/// UTF-8 replaced). Errors: an unknown allocation is [`Error::NotFound`] (`Unknown allocation`),
/// an unknown task [`Error::BadRequest`] (`unknown task name`).
///
/// ```
/// use clustermanager_core::nomad::{logs, Context};
/// use clustermanager_core::{LogOptions, Operation, Step};
/// let options = LogOptions { container: Some("main".into()), ..Default::default() };
/// let mut op = logs::get(&Context::default(), "default", "294e657f-3f0a-03f7-a46d-932b102c10ce", &options);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/client/fs/logs/294e657f-3f0a-03f7-a46d-932b102c10ce?task=main&type=stdout&plain=true");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    id: &str,
    options: &LogOptions,
) -> impl Operation<Output = String, Item = Infallible> + Send + 'static {
    log_get(log_request(ctx, namespace, id, options, true, false), parse_plain)
}

/// The framed form of [`get`]: the log's frames with their file names and offsets.
///
/// ```
/// use clustermanager_core::nomad::{logs, Context};
/// use clustermanager_core::{LogOptions, Operation, Step};
/// let options = LogOptions { container: Some("main".into()), stderr: true, ..Default::default() };
/// let mut op = logs::get_framed(&Context::default(), "", "294e657f-3f0a-03f7-a46d-932b102c10ce", &options);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("task=main&type=stderr"));
/// ```
pub fn get_framed(
    ctx: &Context,
    namespace: &str,
    id: &str,
    options: &LogOptions,
) -> impl Operation<Output = Vec<Frame>, Item = Infallible> + Send + 'static {
    log_get(log_request(ctx, namespace, id, options, false, false), parse_framed)
}

fn log_request(
    ctx: &Context,
    namespace: &str,
    alloc: &str,
    options: &LogOptions,
    plain: bool,
    follow: bool,
) -> LogRequest {
    LogRequest {
        ctx: ctx.clone(),
        namespace: namespace.to_owned(),
        alloc: alloc.to_owned(),
        options: options.clone(),
        plain,
        follow,
    }
}

#[derive(Debug)]
enum Phase {
    /// Reading the allocation to find the task.
    Resolve(Exchange),
    /// Opening the stream.
    Open(Exchange),
    /// Reading the stream (and checking the allocation now and then).
    Streaming,
    Finished,
}

/// The log follow operation returned by [`follow`] and [`follow_with`].
#[derive(Debug)]
pub struct LogFollow {
    request: LogRequest,
    opts: FollowOptions,
    phase: Phase,
    /// The allocation check in flight while streaming.
    check: Option<Exchange>,
    /// Whether the last step handed out was the check's request (so the event is its answer).
    awaiting_check: bool,
    need_check: bool,
    last_check: Option<Instant>,
    /// Once the allocation was seen terminal: when data last arrived (or the check answered).
    draining_since: Option<Instant>,
    /// Whether a data frame (or plain data) arrived since the last poll.
    got_data: bool,
    /// Heartbeats seen when the last data frame arrived (or draining started).
    heartbeats_at_data: u64,
    frames: FrameDecoder,
    lines: LineSplitter,
    queue: VecDeque<LogLine>,
    error: Option<Error>,
    ended: bool,
}

/// `get_execution_log_watch`: follow a task's log line by line until the allocation is terminal
/// (framed stream, default [`FollowOptions`]).
///
/// ```
/// use clustermanager_core::nomad::{logs, Context};
/// use clustermanager_core::{LogOptions, Operation, Step};
/// let options = LogOptions { container: Some("main".into()), offset: Some(0), ..Default::default() };
/// let mut op = logs::follow(&Context::default(), "default", "593e2590-bcf9-e360-2a94-2b41ed5f4d72", &options);
/// let Step::Open(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("task=main&type=stdout&follow=true&origin=start&offset=0"));
/// ```
pub fn follow(
    ctx: &Context,
    namespace: &str,
    id: &str,
    options: &LogOptions,
) -> impl Operation<Output = (), Item = LogLine> + Send + 'static {
    follow_with(ctx, namespace, id, options, FollowOptions::default())
}

/// [`follow`] with explicit [`FollowOptions`] (plain stream, timeouts, limits).
///
/// ```
/// use clustermanager_core::nomad::{logs, Context};
/// use clustermanager_core::LogOptions;
/// let follow = logs::FollowOptions { plain: true, ..Default::default() };
/// let op = logs::follow_with(&Context::default(), "default", "593e2590-bcf9-e360-2a94-2b41ed5f4d72", &LogOptions::default(), follow);
/// # let _ = op;
/// ```
pub fn follow_with(ctx: &Context, namespace: &str, id: &str, options: &LogOptions, opts: FollowOptions) -> LogFollow {
    let request = log_request(ctx, namespace, id, options, opts.plain, true);
    let mut op = LogFollow {
        frames: FrameDecoder::with_limit(opts.max_frame),
        lines: LineSplitter::splitting_long_lines("Nomad log", opts.max_line),
        request,
        opts,
        phase: Phase::Finished,
        check: None,
        awaiting_check: false,
        need_check: false,
        last_check: None,
        draining_since: None,
        got_data: false,
        heartbeats_at_data: 0,
        queue: VecDeque::new(),
        error: None,
        ended: false,
    };
    let retry = &op.request.ctx.retry;
    match op.request.first() {
        Ok((Some(_), req)) => op.phase = Phase::Open(op.request.open(req, retry)),
        Ok((None, req)) => op.phase = Phase::Resolve(Exchange::send(req, retry)),
        Err(e) => op.error = Some(e),
    }
    op
}

impl LogFollow {
    fn push_line(&mut self, line: &[u8]) {
        self.queue.push_back(LogLine { text: String::from_utf8_lossy(line).into_owned() });
    }

    fn drain_lines(&mut self) {
        loop {
            match self.lines.next_line() {
                Ok(Some(line)) => self.push_line(&line),
                Ok(None) => return,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
    }

    fn flush_partial(&mut self) {
        if let Some(rest) = self.lines.finish() {
            self.push_line(&rest);
        }
    }

    fn end(&mut self) {
        self.flush_partial();
        self.ended = true;
    }

    fn take_chunk(&mut self, chunk: &[u8]) {
        if self.opts.plain {
            self.got_data |= !chunk.is_empty();
            self.lines.push(chunk);
            self.drain_lines();
            return;
        }
        self.frames.push(chunk);
        loop {
            match self.frames.next_frame() {
                Ok(Some(frame)) => {
                    match frame.file_event {
                        Some(FileEvent::Truncated) => self.flush_partial(),
                        Some(FileEvent::Deleted) => {
                            self.flush_partial();
                            self.need_check = true;
                        }
                        _ => {}
                    }
                    if !frame.data.is_empty() {
                        self.got_data = true;
                        self.heartbeats_at_data = self.frames.heartbeats();
                    }
                    self.lines.push(&frame.data);
                    self.drain_lines();
                    if self.error.is_some() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        // Nomad sends a heartbeat every second even while data is queued: only two heartbeats
        // with no data between them say the server has nothing left to send.
        if self.draining_since.is_some() && self.frames.heartbeats() >= self.heartbeats_at_data + 2 {
            self.end();
        }
    }

    /// The answer to an allocation check.
    fn checked(&mut self, result: Result<Response>, now: Instant) {
        match result.and_then(parse_alloc) {
            Ok(alloc) if alloc.is_terminal() => {
                tracing::debug!(alloc = %self.request.alloc, status = %alloc.client_status, "allocation terminal; draining the log");
                self.draining_since = Some(now);
                self.heartbeats_at_data = self.frames.heartbeats();
            }
            Ok(_) => {}
            // Garbage-collected: nothing more will come.
            Err(Error::NotFound(_)) => self.end(),
            // The stream is healthy; a check that failed (after its retries) is tried again at
            // the next quiet read or check interval rather than ending the follow.
            Err(e) => {
                tracing::debug!(alloc = %self.request.alloc, error = %e, "allocation check failed; streaming on");
            }
        }
    }
}

impl Operation for LogFollow {
    type Output = ();
    type Item = LogLine;

    fn poll(&mut self, now: Instant) -> Step<(), LogLine> {
        loop {
            if let Some(line) = self.queue.pop_front() {
                return Step::Yield(line);
            }
            if let Some(e) = self.error.take() {
                self.phase = Phase::Finished;
                return Step::Done(Err(e));
            }
            if self.ended {
                self.phase = Phase::Finished;
                return Step::Done(Ok(()));
            }
            match &mut self.phase {
                Phase::Resolve(ex) => match ex.poll(now) {
                    ExchangeStep::Send(r, io) => return Step::Send(r, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => match self.request.after_alloc(result) {
                        Ok(req) => self.phase = Phase::Open(self.request.open(req, &self.request.ctx.retry)),
                        Err(e) => self.error = Some(e),
                    },
                },
                Phase::Open(ex) => match ex.poll(now) {
                    ExchangeStep::Send(r, io) => return Step::Open(r, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => match result.and_then(check) {
                        Ok(_) => {
                            self.phase = Phase::Streaming;
                            self.last_check = Some(now);
                        }
                        Err(e) => self.error = Some(e),
                    },
                },
                Phase::Streaming => {
                    if let Some(ex) = self.check.as_mut() {
                        match ex.poll(now) {
                            ExchangeStep::Send(r, io) => {
                                self.awaiting_check = true;
                                return Step::Send(r, io);
                            }
                            ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                            ExchangeStep::Done(result) => {
                                self.check = None;
                                self.checked(result, now);
                                continue;
                            }
                        }
                    }
                    if std::mem::take(&mut self.got_data) && self.draining_since.is_some() {
                        self.draining_since = Some(now);
                    }
                    if let Some(since) = self.draining_since {
                        // Bounded from the last data: frames without data (file events) cannot
                        // keep a finished follow alive, a long backlog still arrives whole.
                        if now.saturating_duration_since(since) >= self.opts.drain_timeout * 3 {
                            self.end();
                            continue;
                        }
                        return Step::Read { until: Some(later(now, self.opts.drain_timeout)) };
                    }
                    let due =
                        self.last_check.is_none_or(|t| now.saturating_duration_since(t) >= self.opts.check_interval);
                    if self.need_check || due {
                        self.need_check = false;
                        self.last_check = Some(now);
                        match alloc_request(&self.request.ctx, &self.request.namespace, &self.request.alloc) {
                            Ok(req) => self.check = Some(Exchange::send(req, &self.request.ctx.retry)),
                            Err(e) => self.error = Some(e),
                        }
                        continue;
                    }
                    return Step::Read { until: Some(later(now, self.opts.read_timeout)) };
                }
                Phase::Finished => return Step::Done(Err(Error::protocol("log follow polled after it finished"))),
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match &mut self.phase {
            Phase::Resolve(ex) | Phase::Open(ex) => ex.handle(event),
            Phase::Streaming if self.awaiting_check => {
                self.awaiting_check = false;
                if let Some(ex) = &mut self.check {
                    ex.handle(event);
                }
            }
            Phase::Streaming => match event {
                Event::Chunk(bytes) => self.take_chunk(&bytes),
                Event::End => {
                    if !self.opts.plain {
                        if let Err(e) = self.frames.finish() {
                            self.error = Some(e);
                            return;
                        }
                    }
                    self.end();
                }
                Event::ReadTimeout if self.draining_since.is_some() => self.end(),
                Event::ReadTimeout => self.need_check = true,
                Event::Failed(e) => self.error = Some(e),
                other => self.error = Some(Error::protocol(format!("unexpected event for a log stream: {other:?}"))),
            },
            Phase::Finished => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn default_task_prefers_the_main_task() {
        let alloc: AllocInfo = serde_json::from_str(
            r#"{"ClientStatus":"running","TaskGroup":"g","Job":{"TaskGroups":[
                {"Name":"other","Tasks":[{"Name":"x"}]},
                {"Name":"g","Tasks":[{"Name":"setup","Lifecycle":{"Hook":"prestart"}},{"Name":"app","Lifecycle":null}]}]},
               "TaskStates":{"app":{},"setup":{}}}"#,
        )
        .unwrap();
        assert_eq!(alloc.default_task().as_deref(), Some("app"));
        assert!(!alloc.is_terminal());
        let bare: AllocInfo = serde_json::from_str(r#"{"ClientStatus":"lost","TaskStates":{"b":{},"a":{}}}"#).unwrap();
        assert_eq!(bare.default_task().as_deref(), Some("a"));
        assert!(bare.is_terminal());
    }
}
