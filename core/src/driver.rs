//! The [`Driver`] that runs any [`Operation`] over a [`Transport`]: it polls the operation with
//! the transport's clock, carries out each [`Step`] (send, open, read, sleep until an instant)
//! and feeds the outcome back. Written once here for every transport: `carry` carries out one
//! I/O step, for the driver and for the shared observations' turn-taking waiters alike.

use std::time::Instant;

use crate::deadline::{earlier, Io};
use crate::error::{Error, Result};
use crate::step::{Event, Operation, Request, Step};
use crate::transport::{BodyStream, Chunk, Opened, Transport};

/// One I/O step of an operation or a feed, as kept while it is carried out.
#[derive(Debug)]
pub(crate) enum IoStep {
    /// Send a request, read the whole answer.
    Send(Request, Io),
    /// Open a stream.
    Open(Request, Io),
    /// Read the open stream, waiting for data until this instant (`None`: no limit).
    Read(Option<Instant>),
    /// Wait until this instant.
    WaitUntil(Instant),
}

impl IoStep {
    /// The same step, to carry out again (a request is copied: its body is shared).
    pub(crate) fn copy(&self) -> IoStep {
        match self {
            IoStep::Send(r, io) => IoStep::Send(crate::op::copy_request(r), *io),
            IoStep::Open(r, io) => IoStep::Open(crate::op::copy_request(r), *io),
            IoStep::Read(u) => IoStep::Read(*u),
            IoStep::WaitUntil(u) => IoStep::WaitUntil(*u),
        }
    }
}

/// What carrying out an [`IoStep`] gave.
#[derive(Debug)]
pub(crate) enum Carried {
    /// The outcome, to hand to the operation.
    Event(Event),
    /// The step's own instant came ([`IoStep::WaitUntil`]).
    Slept,
    /// The `horizon` cut the step short before it ended: carry it out again (or give up).
    Cut,
}

/// Carry out `step` over `transport`, no later than `horizon` (`None`: the step's own limits
/// only); an opened stream is kept in `stream`, an ended or broken one dropped.
pub(crate) async fn carry<T: Transport>(
    transport: &T,
    step: IoStep,
    stream: &mut Option<T::Body>,
    horizon: Option<Instant>,
) -> Carried {
    let now = transport.now();
    let cut = |result_timed_out: bool| result_timed_out && horizon.is_some_and(|h| transport.now() >= h);
    match step {
        IoStep::Send(req, io) => {
            let result = crate::trace::send(transport, req, io.within(horizon)).await;
            if cut(matches!(result, Err(Error::Timeout { .. }))) {
                return Carried::Cut;
            }
            Carried::Event(match result {
                Ok(resp) => Event::Response(resp),
                Err(err) => Event::Failed(err),
            })
        }
        IoStep::Open(req, io) => {
            *stream = None;
            let result = crate::trace::open(transport, req, io.within(horizon)).await;
            if cut(matches!(result, Err(Error::Timeout { .. }))) {
                return Carried::Cut;
            }
            Carried::Event(opened_event(result, stream))
        }
        IoStep::Read(until) => {
            let Some(body) = stream.as_mut() else {
                return Carried::Event(Event::Failed(Error::protocol("read without an open stream")));
            };
            let limit = earlier(until, horizon).map(|u| u.saturating_duration_since(now));
            match body.next_chunk(limit).await {
                // only the horizon passed, not the step's own read limit
                Chunk::TimedOut if until.is_none_or(|u| transport.now() < u) && horizon.is_some() => Carried::Cut,
                chunk => Carried::Event(chunk_event(chunk, stream)),
            }
        }
        IoStep::WaitUntil(until) => {
            let wake = earlier(Some(until), horizon).unwrap_or(until);
            transport.sleep(wake.saturating_duration_since(now)).await;
            if transport.now() >= until {
                Carried::Slept
            } else {
                Carried::Cut
            }
        }
    }
}

/// Runs one operation over a transport. For a plain operation call [`Driver::finish`]; for a
/// streaming one call [`Driver::next`] until it returns `None`.
///
/// A driver borrows its transport; [`OwnedStream`](crate::stream::OwnedStream) is the same
/// driving over an owned (cloned) transport, as a `'static` [`futures_core::Stream`].
///
/// Dropping a driver (or a future of it) drops any open stream with it: nothing is left behind.
pub struct Driver<'t, T: Transport, O: Operation> {
    transport: &'t T,
    run: Run<O, T::Body>,
}

impl<T: Transport, O: Operation> std::fmt::Debug for Driver<'_, T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("stream_open", &self.run.stream.is_some())
            .field("finished", &self.run.finished)
            .finish()
    }
}

enum Progress<T, I> {
    Item(I),
    Done(Result<T>),
}

impl<'t, T: Transport, O: Operation> Driver<'t, T, O> {
    /// A driver for `op` over `transport`.
    pub fn new(transport: &'t T, op: O) -> Self {
        Driver { transport, run: Run::new(op) }
    }

    /// Run the operation to its end, discarding any items it yields.
    pub async fn finish(mut self) -> Result<O::Output> {
        self.run.finish(self.transport).await
    }

    /// The next item of a streaming operation; `None` once it has ended cleanly. An error ends
    /// the stream (the following call returns `None`).
    pub async fn next(&mut self) -> Option<Result<O::Item>> {
        self.run.next(self.transport).await
    }
}

/// The state of one operation being driven (the operation, its open stream, whether it ended),
/// apart from the transport it is driven over: [`Driver`] borrows the transport,
/// [`OwnedStream`](crate::stream::OwnedStream) owns a clone.
pub(crate) struct Run<O, B> {
    op: O,
    stream: Option<B>,
    finished: bool,
}

impl<O: Operation, B: BodyStream> Run<O, B> {
    pub(crate) fn new(op: O) -> Self {
        Run { op, stream: None, finished: false }
    }

    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    async fn finish<T: Transport<Body = B>>(&mut self, transport: &T) -> Result<O::Output> {
        loop {
            match self.advance(transport).await {
                Progress::Item(_) => continue,
                Progress::Done(result) => return result,
            }
        }
    }

    pub(crate) async fn next<T: Transport<Body = B>>(&mut self, transport: &T) -> Option<Result<O::Item>> {
        if self.finished {
            return None;
        }
        match self.advance(transport).await {
            Progress::Item(item) => Some(Ok(item)),
            Progress::Done(Ok(_)) => None,
            Progress::Done(Err(err)) => Some(Err(err)),
        }
    }

    async fn advance<T: Transport<Body = B>>(&mut self, transport: &T) -> Progress<O::Output, O::Item> {
        if self.finished {
            return Progress::Done(Err(Error::protocol("driver polled after its operation finished")));
        }
        loop {
            let step = match self.op.poll(transport.now()) {
                Step::Send(req, io) => IoStep::Send(req, io),
                Step::Open(req, io) => IoStep::Open(req, io),
                Step::Read { until } => IoStep::Read(until),
                Step::WaitUntil(at) => IoStep::WaitUntil(at),
                Step::Yield(item) => return Progress::Item(item),
                Step::Done(result) => {
                    self.stream = None;
                    self.finished = true;
                    return Progress::Done(result);
                }
            };
            // no horizon: a step is only ever cut by its own limits
            match carry(transport, step, &mut self.stream, None).await {
                Carried::Event(event) => self.op.handle(event),
                Carried::Slept | Carried::Cut => {}
            }
        }
    }
}

/// The [`Event`] for what [`Transport::open`] gave; a 2xx body is kept in `stream`.
pub(crate) fn opened_event<B>(result: Result<Opened<B>>, stream: &mut Option<B>) -> Event {
    match result {
        Ok(Opened::Stream(parts, body)) => {
            *stream = Some(body);
            Event::Head(parts)
        }
        Ok(Opened::Complete(resp)) => Event::Response(resp),
        Err(err) => Event::Failed(err),
    }
}

/// The [`Event`] for one read of `stream`, which is dropped once it ended or broke.
pub(crate) fn chunk_event<B>(chunk: Chunk, stream: &mut Option<B>) -> Event {
    match chunk {
        Chunk::Data(bytes) => Event::Chunk(bytes),
        Chunk::TimedOut => Event::ReadTimeout,
        Chunk::End => {
            *stream = None;
            Event::End
        }
        Chunk::Failed(err) => {
            *stream = None;
            Event::Failed(err)
        }
    }
}
