//! [`DynTransport`]: any [`Transport`] behind one type, so that a
//! [`ClusterManager`](crate::ClusterManager) can be named without type parameters.
//!
//! [`Transport`] returns `impl Future` from its methods, so it cannot be a trait object (E0038).
//! [`ErasedTransport`] is its object-safe twin (boxed futures, boxed body), implemented for every
//! `Transport + 'static`; [`DynTransport`] holds one behind an `Arc` and implements `Transport`
//! again. `ClusterManager`'s transport parameter defaults to it, and
//! [`ClusterManager::erase`](crate::ClusterManager::erase) turns a manager over a concrete
//! transport (tokio, async-std, the fake cluster) into that one type:
//!
//! ```
//! use clustermanager_core::{ClusterManager, Node, Result};
//!
//! // No type parameters: accepts a manager from any transport, once erased.
//! async fn report(cm: &ClusterManager) -> Result<Vec<Node>> {
//!     cm.get_nodes().await
//! }
//! # fn erase<T: clustermanager_core::Transport + 'static>(cm: ClusterManager<T>) -> ClusterManager { cm.erase() }
//! ```
//!
//! The cost is one allocation for each boxed future (a request, an open, a read, a sleep) and a
//! virtual call; next to a network round trip it does not show (the `erased` benchmark in
//! `benches/` measures it against the generic form over the fake cluster).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadline::Io;
use crate::error::Result;
use crate::step::{Request, Response};
use crate::transport::{BodyStream, Chunk, Opened, Transport};

/// A boxed, `Send` future: what the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`BodyStream`], implemented for every `BodyStream`.
pub trait ErasedBody: Send {
    /// [`BodyStream::next_chunk`], boxed.
    fn next_chunk_boxed(&mut self, timeout: Option<Duration>) -> BoxFuture<'_, Chunk>;
}

impl<B: BodyStream> ErasedBody for B {
    fn next_chunk_boxed(&mut self, timeout: Option<Duration>) -> BoxFuture<'_, Chunk> {
        Box::pin(self.next_chunk(timeout))
    }
}

/// An open response body of any transport (the [`Transport::Body`] of [`DynTransport`]).
/// Dropping it drops (closes) the transport's own body.
pub struct DynBody(Box<dyn ErasedBody>);

impl std::fmt::Debug for DynBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynBody")
    }
}

impl DynBody {
    /// Box `body`.
    pub fn new(body: impl BodyStream + 'static) -> Self {
        DynBody(Box::new(body))
    }
}

impl BodyStream for DynBody {
    fn next_chunk(&mut self, timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send {
        self.0.next_chunk_boxed(timeout)
    }
}

/// The object-safe form of [`Transport`] (boxed futures, a boxed body), implemented for every
/// `Transport + 'static`. Use it through [`DynTransport`].
pub trait ErasedTransport: Send + Sync + 'static {
    /// [`Transport::send`], boxed.
    fn send_boxed(&self, request: Request, io: Io) -> BoxFuture<'_, Result<Response>>;
    /// [`Transport::open`], boxed, with the body boxed too.
    fn open_boxed(&self, request: Request, io: Io) -> BoxFuture<'_, Result<Opened<DynBody>>>;
    /// [`Transport::sleep`], boxed.
    fn sleep_boxed(&self, duration: Duration) -> BoxFuture<'_, ()>;
    /// [`Transport::now`].
    fn now(&self) -> Instant;
    /// The transport itself, for [`DynTransport::downcast_ref`].
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

impl<T: Transport + 'static> ErasedTransport for T {
    fn send_boxed(&self, request: Request, io: Io) -> BoxFuture<'_, Result<Response>> {
        Box::pin(self.send(request, io))
    }

    fn open_boxed(&self, request: Request, io: Io) -> BoxFuture<'_, Result<Opened<DynBody>>> {
        let opening = self.open(request, io);
        Box::pin(async move {
            Ok(match opening.await? {
                Opened::Stream(parts, body) => Opened::Stream(parts, DynBody::new(body)),
                Opened::Complete(response) => Opened::Complete(response),
            })
        })
    }

    fn sleep_boxed(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.sleep(duration))
    }

    fn now(&self) -> Instant {
        Transport::now(self)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

/// Any [`Transport`], type-erased: the default transport of
/// [`ClusterManager`](crate::ClusterManager). Cheap to clone (an `Arc`); clones share the
/// transport, and so its connection pool, budget and credential caches.
///
/// ```
/// # use clustermanager_core::{DynTransport, Transport};
/// # fn demo<T: Transport + 'static>(transport: T) {
/// let erased = DynTransport::new(transport);
/// assert!(erased.downcast_ref::<T>().is_some());
/// # }
/// ```
#[derive(Clone)]
pub struct DynTransport(Arc<dyn ErasedTransport>);

impl std::fmt::Debug for DynTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynTransport")
    }
}

impl DynTransport {
    /// Erase `transport`. A `DynTransport` given here is returned as it is, not boxed again.
    pub fn new<T: Transport + 'static>(transport: T) -> Self {
        let any: &dyn Any = &transport;
        if let Some(erased) = any.downcast_ref::<DynTransport>() {
            return erased.clone();
        }
        DynTransport(Arc::new(transport))
    }

    /// The transport inside, if it is a `T` (`downcast_ref::<TokioTransport>()` to reach its
    /// connection budget, `downcast_ref::<FakeTransport>()` for the fake cluster).
    pub fn downcast_ref<T: Transport + 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
}

impl Transport for DynTransport {
    type Body = DynBody;

    fn send(&self, request: Request, io: Io) -> impl Future<Output = Result<Response>> + Send {
        self.0.send_boxed(request, io)
    }

    fn open(&self, request: Request, io: Io) -> impl Future<Output = Result<Opened<DynBody>>> + Send {
        self.0.open_boxed(request, io)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.0.sleep_boxed(duration)
    }

    fn now(&self) -> Instant {
        self.0.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Clock(Instant);

    struct NoBody;

    impl BodyStream for NoBody {
        async fn next_chunk(&mut self, _timeout: Option<Duration>) -> Chunk {
            Chunk::End
        }
    }

    impl Transport for Clock {
        type Body = NoBody;
        async fn send(&self, _request: Request, _io: Io) -> Result<Response> {
            Ok(http::Response::new(bytes::Bytes::from_static(b"ok")))
        }
        async fn open(&self, _request: Request, _io: Io) -> Result<Opened<NoBody>> {
            Ok(Opened::Stream(http::Response::new(()).into_parts().0, NoBody))
        }
        async fn sleep(&self, _duration: Duration) {}
        fn now(&self) -> Instant {
            self.0
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[test]
    fn forwards_every_call_and_does_not_box_twice() {
        let at = Instant::now();
        let erased = DynTransport::new(Clock(at));
        assert_eq!(Transport::now(&erased), at);
        let again = DynTransport::new(erased.clone());
        assert!(Arc::ptr_eq(&erased.0, &again.0));
        assert!(again.downcast_ref::<Clock>().is_some());
        let request = || crate::step::request(http::Method::GET, "/", None);
        let Ok(request1) = request() else { panic!("request") };
        let Ok(response) = block_on(erased.send(request1, Io::new())) else { panic!("send") };
        assert_eq!(response.body().as_ref(), b"ok");
        let Ok(request2) = request() else { panic!("request") };
        let Ok(Opened::Stream(_, mut body)) = block_on(erased.open(request2, Io::new())) else { panic!("open") };
        assert!(matches!(block_on(body.next_chunk(None)), Chunk::End));
        block_on(erased.sleep(Duration::from_secs(1)));
    }
}
