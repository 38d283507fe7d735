//! [`WaitStream`]: a wait for a job as an owned stream of its progress — each
//! [`Progress`] as it happens (stuck and why, unstuck, started, finished), then the finished
//! job — for callers that would rather consume events than pass a callback
//! ([`WaitOptions::on_progress`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use super::waits::WaitOptions;
use super::ClusterManager;
use crate::error::Result;
use crate::model::Job;
use crate::reason::Progress;
use crate::transport::Transport;

/// How many progress events a [`WaitStream`] keeps for a caller that does not read them; older
/// ones are dropped first (progress is reported on changes only, so this is rarely reached).
pub const WAIT_STREAM_BACKLOG: usize = 256;

/// One item of a [`WaitStream`].
// A wait yields a handful of these (progress changes, then one Job): boxing the Job would cost
// every caller a deref for no measurable saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WaitEvent {
    /// The wait's progress changed.
    Progress(Progress),
    /// The job finished (succeeded or failed, as its status says): the last item.
    Finished(Job),
}

type Queue = Arc<Mutex<VecDeque<Progress>>>;

/// A wait for a job as an owned, `Send + 'static` [`futures_core::Stream`] of
/// `Result<`[`WaitEvent`]`>`: its progress events, then [`WaitEvent::Finished`] or the error the
/// wait ended with (as [`ClusterManager::wait_for_job_with`] returns it), then `None`. From
/// [`ClusterManager::wait_for_job_stream`]. Dropping it ends the wait (and leaves the shared
/// observation, as dropping the wait's future does).
pub struct WaitStream {
    queue: Queue,
    wait: Option<Pin<Box<dyn Future<Output = Result<Job>> + Send>>>,
    result: Option<Result<Job>>,
}

impl std::fmt::Debug for WaitStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitStream").field("waiting", &self.wait.is_some()).finish_non_exhaustive()
    }
}

impl WaitStream {
    /// The most progress events a stream keeps for a reader that falls behind (the oldest are
    /// dropped beyond it).
    pub const BACKLOG: usize = WAIT_STREAM_BACKLOG;

    /// The next event; `None` after the last. Cancel-safe: the wait lives in the stream.
    pub async fn next(&mut self) -> Option<Result<WaitEvent>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WaitEvent>>> {
        if let Some(wait) = self.wait.as_mut() {
            if let Poll::Ready(result) = wait.as_mut().poll(cx) {
                self.wait = None;
                self.result = Some(result);
            }
        }
        // the events the poll just reported come first, then the end
        if let Some(p) = self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front() {
            return Poll::Ready(Some(Ok(WaitEvent::Progress(p))));
        }
        match self.result.take() {
            Some(result) => Poll::Ready(Some(result.map(WaitEvent::Finished))),
            None if self.wait.is_none() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

impl futures_core::Stream for WaitStream {
    type Item = Result<WaitEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

impl<T: Transport + Clone + 'static> ClusterManager<T> {
    /// [`wait_for_job_with`](Self::wait_for_job_with) as an owned stream of its progress: each
    /// [`Progress`] as it happens, then [`WaitEvent::Finished`] with the job (or the wait's
    /// error). A callback set with [`WaitOptions::on_progress`] is still called too. The stream
    /// holds a clone of the manager (shared pool and shared observations): move it into a task.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// let options = WaitOptions::new().timeout(Some(Duration::from_secs(600)));
    /// let mut events = cm.wait_for_job_stream("batch", "hello", &options);
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         WaitEvent::Progress(p) => println!("{p}"),
    ///         WaitEvent::Finished(job) => println!("done: {:?}", job.status),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_for_job_stream(&self, namespace: &str, name: &str, options: &WaitOptions) -> WaitStream {
        let queue: Queue = Arc::default();
        let theirs = options.clone();
        let sink = Arc::clone(&queue);
        let options = options.clone().on_progress(move |p| {
            {
                let mut q = sink.lock().unwrap_or_else(PoisonError::into_inner);
                if q.len() >= WAIT_STREAM_BACKLOG {
                    q.pop_front();
                }
                q.push_back(p.clone());
            }
            theirs.report(p);
        });
        let (cm, namespace, name) = (self.clone(), namespace.to_owned(), name.to_owned());
        let wait = Box::pin(async move { cm.wait_for_job_with(&namespace, &name, &options).await });
        WaitStream { queue, wait: Some(wait), result: None }
    }
}
