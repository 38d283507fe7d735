//! The [`Driver`] that runs any [`Operation`] over a [`Transport`]: it polls the operation with
//! the transport's clock, carries out each [`Step`] (send, open, read, sleep until an instant)
//! and feeds the outcome back. Written once here for every transport.

use crate::error::{Error, Result};
use crate::step::{Event, Operation, Step};
use crate::transport::{BodyStream, Chunk, Opened, Transport};

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
            let now = transport.now();
            let step = self.op.poll(now);
            let event = match step {
                Step::Send(req, io) => match crate::trace::send(transport, req, io).await {
                    Ok(resp) => Event::Response(resp),
                    Err(err) => Event::Failed(err),
                },
                Step::Open(req, io) => {
                    self.stream = None;
                    opened_event(crate::trace::open(transport, req, io).await, &mut self.stream)
                }
                Step::Read { until } => match self.stream.as_mut() {
                    None => Event::Failed(Error::protocol("read without an open stream")),
                    Some(stream) => {
                        let chunk = stream.next_chunk(until.map(|u| u.saturating_duration_since(now))).await;
                        chunk_event(chunk, &mut self.stream)
                    }
                },
                Step::WaitUntil(at) => {
                    transport.sleep(at.saturating_duration_since(now)).await;
                    continue;
                }
                Step::Yield(item) => return Progress::Item(item),
                Step::Done(result) => {
                    self.stream = None;
                    self.finished = true;
                    return Progress::Done(result);
                }
            };
            self.op.handle(event);
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
