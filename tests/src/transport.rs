//! A [`Transport`] that answers from a recording, with a virtual clock, so the async
//! [`ClusterManager`](clustermanager_core::ClusterManager) facade can be tested without a server or
//! an async runtime (see [`block_on`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::transport::Opened;
use clustermanager_core::{BodyStream, Chunk, Error, Request, Response, Transport};

use crate::{assert_request_matches, Exchange, Scenario};

#[derive(Debug)]
struct State {
    queue: VecDeque<Exchange>,
    made: Vec<String>,
    elapsed: Duration,
}

/// Serves the exchanges of a scenario, in order, to whatever asks; panics on a request that
/// does not match the next recorded one.
#[derive(Debug, Clone)]
pub struct ReplayTransport {
    state: Arc<Mutex<State>>,
    start: Instant,
    check_body: bool,
}

impl ReplayTransport {
    /// Serve `order`'s exchanges of `scenario`, in that order.
    pub fn new(scenario: &Scenario, order: impl IntoIterator<Item = usize>) -> Self {
        let queue = order.into_iter().map(|i| scenario.exchanges[i].clone()).collect();
        ReplayTransport {
            state: Arc::new(Mutex::new(State { queue, made: Vec::new(), elapsed: Duration::ZERO })),
            start: Instant::now(),
            check_body: true,
        }
    }

    /// Serve several scenarios' exchanges one after the other.
    pub fn chain(parts: &[(&Scenario, &[usize])]) -> Self {
        let t = ReplayTransport {
            state: Arc::new(Mutex::new(State { queue: VecDeque::new(), made: Vec::new(), elapsed: Duration::ZERO })),
            start: Instant::now(),
            check_body: true,
        };
        for (scenario, order) in parts {
            let mut st = t.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.queue.extend(order.iter().map(|&i| scenario.exchanges[i].clone()));
        }
        t
    }

    /// Also serve the response of `scenario`'s exchange `i` to whatever request comes next,
    /// without checking the request (for answers from the wrong kind of server).
    pub fn with_response_of(self, scenario: &Scenario, i: usize) -> Self {
        let mut ex = scenario.exchanges[i].clone();
        ex.request.method = String::new();
        self.state.lock().unwrap_or_else(PoisonError::into_inner).queue.push_back(ex);
        self
    }

    /// Do not compare request bodies.
    pub fn ignore_bodies(mut self) -> Self {
        self.check_body = false;
        self
    }

    /// The requests made so far (`METHOD path?query`).
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).made.clone()
    }

    /// How many recorded exchanges are still unused.
    pub fn remaining(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).queue.len()
    }

    fn take(&self, req: &Request) -> Exchange {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ex = st
            .queue
            .pop_front()
            .unwrap_or_else(|| panic!("request beyond the recording: {} {}", req.method(), req.uri()));
        if !ex.request.method.is_empty() {
            assert_request_matches(req, &ex.request, self.check_body);
        }
        st.made.push(format!("{} {}", req.method(), req.uri()));
        ex
    }
}

/// The body of a replayed stream.
#[derive(Debug)]
pub struct ReplayBody {
    pieces: VecDeque<Bytes>,
}

impl BodyStream for ReplayBody {
    fn next_chunk(&mut self, _timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send {
        let chunk = match self.pieces.pop_front() {
            Some(p) => Chunk::Data(p),
            None => Chunk::End,
        };
        std::future::ready(chunk)
    }
}

impl Transport for ReplayTransport {
    type Body = ReplayBody;

    fn send(
        &self,
        request: Request,
        _io: clustermanager_core::deadline::Io,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        let ex = self.take(&request);
        std::future::ready(Ok(ex.response.to_http()))
    }

    fn open(
        &self,
        request: Request,
        _io: clustermanager_core::deadline::Io,
    ) -> impl Future<Output = Result<Opened<ReplayBody>, Error>> + Send {
        let ex = self.take(&request);
        let out = if (200..300).contains(&ex.response.status) {
            Opened::Stream(ex.response.parts(), ReplayBody { pieces: ex.response.pieces().into() })
        } else {
            Opened::Complete(ex.response.to_http())
        };
        std::future::ready(Ok(out))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).elapsed += duration;
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        self.start + self.state.lock().unwrap_or_else(PoisonError::into_inner).elapsed
    }
}

/// Run a future that never waits on real I/O (everything over a [`ReplayTransport`]) to its end,
/// without an async runtime: the fake cluster's noop-waker executor, which serves replays as well.
pub use clustermanager_fake::block_on;
