//! A transport, written once: [`HttpTransport`] implements core's [`Transport`] over what each
//! transport does differently (a [`Client`]: its runtime's [`Timer`] and credential I/O, how a
//! ready request goes out, how the answer's body is read). The stages of a request and their
//! time limits ([`Limits`](crate::limits::Limits)) are the same for every transport:
//!
//! 1. the request is made ready ([`Settings::prepare`]: server, credentials),
//! 2. it takes a unit of the budget of requests and streams (a stream keeps it until it ends),
//! 3. it is sent and its answer's status noted ([`Settings::answered`]: a 401 runs an exec
//!    plugin again),
//! 4. `send` reads the whole body (at most [`Settings::max_response_bytes`]); `open` streams a
//!    2xx body ([`Streamed`]) and reads any other whole.
//!
//! `send` does all of it within [`Limits::answer`](crate::limits::Limits::answer). `open` gets
//! credentials within [`Limits::credentials`](crate::limits::Limits::credentials), the head by
//! the [`Limits::answer`](crate::limits::Limits::answer) deadline, and a non-2xx body by that
//! same deadline. A log follow's head has no limit of its own (the apiserver proxies a pod's log
//! from the kubelet, which sends the head only with the log's first byte, so a quiet container
//! must not fail it); its credentials still come within `request_timeout` and its error body
//! within [`Limits::rest`](crate::limits::Limits::rest) of the head. A 2xx body streams with no
//! overall limit: each read has its own timeout, and the caller ends a follow by dropping it.

use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::deadline::Io;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::{BodyStream, Config, Request, Response, Result, Transport};
use http::response::Parts;
use hyper::body::Frame;

use crate::auth::CredentialIo;
use crate::body::too_large;
use crate::budget::{Budget, Permit};
use crate::hyper_rustls::short_body;
use crate::settings::Settings;
use crate::tls::ClientTls;

/// A runtime's timer.
pub trait Timer: Send + Sync + 'static {
    /// A future that finishes once `duration` has passed.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
}

/// `work`'s output, or `timed_out()` if `limit` passes first (no limit: `None`). The work is
/// polled first, so work that is ready when the limit passes still counts.
pub async fn within<Tm: Timer, T>(
    limit: Option<Duration>,
    work: impl Future<Output = T>,
    timed_out: impl FnOnce() -> T,
) -> T {
    let Some(limit) = limit else { return work.await };
    let (mut work, mut timer) = (pin!(work), pin!(Tm::sleep(limit)));
    let done = poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
    });
    done.await.unwrap_or_else(timed_out)
}

/// What one transport does differently, plugged into [`HttpTransport`]: its runtime, how a
/// ready request goes out, and how the answer's body is read.
pub trait Client: Sized + Send + Sync + 'static {
    /// The runtime's timer and credential I/O.
    type Runtime: Timer + CredentialIo;
    /// An answer's body, not read yet, with what reading it needs (its connection, say).
    type Unread: Send;
    /// Where a streamed body's frames come from.
    type Frames: Frames + 'static;
    /// The transport's name, in its `Debug` output.
    const NAME: &'static str;

    /// The TLS settings for `config` (with the ALPN offer the client speaks).
    fn tls(config: &Config) -> Result<ClientTls> {
        ClientTls::new(config)
    }

    /// The client of a transport with `settings` (connections are made lazily).
    fn build(settings: &Settings<Self::Runtime>) -> Result<Self>;

    /// The connection budget: TCP connections open now (idle pooled ones included) and at most.
    /// By default the budget of requests and streams, for a client whose every connection
    /// belongs to one request or stream and is closed before its unit is given back.
    fn connections<'a>(&'a self, settings: &'a Settings<Self::Runtime>) -> &'a Budget {
        settings.budget()
    }

    /// Send `request` (ready: absolute URI, credentials) and wait for the answer's head.
    fn dispatch(
        &self,
        settings: &Settings<Self::Runtime>,
        request: Request,
    ) -> impl Future<Output = Result<(Parts, Self::Unread)>> + Send;

    /// Read the whole body of the answer whose head is `parts`, at most `max` bytes.
    fn read_whole(&self, parts: Parts, body: Self::Unread, max: usize)
        -> impl Future<Output = Result<Response>> + Send;

    /// The frames of a 2xx answer's body, to stream.
    fn stream(&self, body: Self::Unread) -> Self::Frames;
}

/// core's [`Transport`] over a [`Client`]: the configuration, TLS settings, credential caches,
/// budget and size cap ([`Settings`]), the request flow of this module, and the builders every
/// transport offers. Cheap to clone: clones share the client (its connection pool) and the
/// settings.
pub struct HttpTransport<C: Client> {
    settings: Settings<C::Runtime>,
    client: Arc<C>,
}

impl<C: Client> Clone for HttpTransport<C> {
    fn clone(&self) -> Self {
        HttpTransport { settings: self.settings.clone(), client: Arc::clone(&self.client) }
    }
}

impl<C: Client> std::fmt::Debug for HttpTransport<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(C::NAME).field("config", self.config()).finish_non_exhaustive()
    }
}

impl<C: Client> HttpTransport<C> {
    /// A transport for the server `config` describes. Checks the TLS settings (CA, client
    /// certificate and key) now, so a bad one fails here with an
    /// [`Error::Config`](clustermanager_core::Error::Config) naming it. Connections are made
    /// lazily, on the first request; building needs no runtime.
    pub fn new(config: &Config) -> Result<Self> {
        Self::with_client(config, C::build)
    }

    /// A transport for `config` over a client the caller made (a client that wraps the caller's
    /// own, like the surf adapter's); otherwise as [`new`](Self::new).
    pub fn over(client: impl Into<C>, config: &Config) -> Result<Self> {
        Self::with_client(config, |_| Ok(client.into()))
    }

    /// A transport for `config` over the client `make` builds from the transport's settings.
    pub fn with_client(config: &Config, make: impl FnOnce(&Settings<C::Runtime>) -> Result<C>) -> Result<Self> {
        let settings = Settings::new(config, C::tls(config)?);
        let client = Arc::new(make(&settings)?);
        Ok(HttpTransport { settings, client })
    }

    /// The request budget: how many requests and streams are in flight now, and the most that
    /// ever were ([`Config::max_connections`] bounds both).
    pub fn budget(&self) -> &Budget {
        self.settings.budget()
    }

    /// The connection budget: how many TCP connections to the server are open now (in flight,
    /// idle in the pool, or on their way back to it), and the most that ever were
    /// ([`Config::max_connections`] bounds both).
    pub fn connections(&self) -> &Budget {
        self.client.connections(&self.settings)
    }

    /// Re-read a token file ([`Auth::TokenFile`](clustermanager_core::config::Auth::TokenFile))
    /// when the last read is older than `refresh` (default
    /// [`DEFAULT_TOKEN_FILE_REFRESH`](crate::auth::DEFAULT_TOKEN_FILE_REFRESH), 60 s). Resets the
    /// cache.
    pub fn with_token_file_refresh(mut self, refresh: Duration) -> Self {
        self.settings.set_token_file_refresh(refresh);
        self
    }

    /// Read whole response bodies of at most `max` bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::body::DEFAULT_MAX_RESPONSE_BYTES), 512 MiB); a
    /// larger one fails with [`Error::Decode`](clustermanager_core::Error::Decode) (not retried).
    /// Streams opened with [`Transport::open`] are not limited as a whole: they are read piece by
    /// piece.
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.settings.set_max_response_bytes(max);
        self
    }

    /// The configuration this transport was built from.
    pub fn config(&self) -> &Config {
        self.settings.config()
    }

    /// The client requests go through.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Send a ready request under a unit of the budget, noting the answer's status.
    async fn dispatch(&self, request: Request) -> Result<(Permit, Parts, C::Unread)> {
        let permit = self.settings.budget().acquire().await;
        let (parts, body) = self.client.dispatch(&self.settings, request).await?;
        self.settings.answered(parts.status).await;
        Ok((permit, parts, body))
    }
}

impl<C: Client> Transport for HttpTransport<C> {
    type Body = Streamed<C::Frames, C::Runtime>;

    /// The whole answer within [`Limits::answer`](crate::limits::Limits::answer).
    async fn send(&self, request: Request, io: Io) -> Result<Response> {
        let limits = self.settings.limits(&request, &io);
        let exchange = async {
            let request = self.settings.prepare(request).await?;
            let (_permit, parts, body) = self.dispatch(request).await?;
            self.client.read_whole(parts, body, self.settings.max_response_bytes()).await
        };
        within::<C::Runtime, _>(limits.answer(), exchange, || Err(limits.response_timed_out())).await
    }

    /// Credentials, head and a non-2xx body within the limits of the [module docs](self).
    async fn open(&self, request: Request, io: Io) -> Result<Opened<Self::Body>> {
        let limits = self.settings.limits(&request, &io);
        let prepare = self.settings.prepare(request);
        let credentials =
            within::<C::Runtime, _>(limits.credentials(), prepare, || Err(limits.credentials_timed_out()));
        let request = credentials.await?;
        let head_limit = limits.left(limits.answer());
        let dispatch = self.dispatch(request);
        let head = within::<C::Runtime, _>(head_limit, dispatch, || Err(limits.head_timed_out()));
        let (permit, parts, body) = head.await?;
        if parts.status.is_success() {
            return Ok(Opened::Stream(parts, Streamed::new(self.client.stream(body), permit)));
        }
        let body_limit = match limits.answer() {
            Some(answer) => limits.left(Some(answer)),
            None => limits.rest(),
        };
        let read = self.client.read_whole(parts, body, self.settings.max_response_bytes());
        within::<C::Runtime, _>(body_limit, read, || Err(limits.error_body_timed_out())).await.map(Opened::Complete)
    }

    async fn sleep(&self, duration: Duration) {
        C::Runtime::sleep(duration).await
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The frames of a hyper body, read as they come.
pub struct HyperFrames(pub hyper::body::Incoming);

impl Frames for HyperFrames {
    async fn frame(&mut self) -> Option<Result<Frame<Bytes>>> {
        let frame = http_body_util::BodyExt::frame(&mut self.0).await?;
        Some(frame.map_err(|err| crate::hyper_rustls::body_error(&err)))
    }
}

/// The data of `frames` to the body's end, at most `max` bytes ([`too_large`] naming `setter`
/// past that, or as soon as the body is [`declared`](Frames::declared) larger): a whole body
/// read through a transport's [`Frames`].
pub async fn collect<F: Frames>(mut frames: F, max: usize, setter: &str) -> Result<Bytes> {
    if frames.declared().is_some_and(|declared| declared > max as u64) {
        return Err(too_large(max, setter));
    }
    let mut body = Vec::new();
    while let Some(frame) = frames.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        if data.len() > max.saturating_sub(body.len()) {
            return Err(too_large(max, setter));
        }
        body.extend_from_slice(&data);
    }
    frames.finished(true);
    Ok(Bytes::from(body))
}

/// The frames of a body whose length the server declared (Content-Length), held to it: for a
/// client that does not check it itself (hyper does; async-h1 ends a short body as if it were
/// complete), a body that ends short fails as truncated ([`short_body`]).
pub struct Declared<F> {
    frames: F,
    declared: Option<u64>,
    /// How many bytes of data came so far.
    received: u64,
}

impl<F> Declared<F> {
    /// The frames of a body of `declared` bytes, if the server said how many.
    pub fn new(frames: F, declared: Option<u64>) -> Self {
        Declared { frames, declared, received: 0 }
    }
}

impl<F: Frames> Frames for Declared<F> {
    async fn frame(&mut self) -> Option<Result<Frame<Bytes>>> {
        let frame = self.frames.frame().await;
        match &frame {
            None => return self.declared.filter(|&d| self.received < d).map(|d| Err(short_body(self.received, d))),
            Some(Ok(frame)) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                self.received = self.received.saturating_add(len as u64);
            }
            Some(Err(_)) => {}
        }
        frame
    }

    fn declared(&self) -> Option<u64> {
        self.declared
    }

    fn finished(&mut self, clean: bool) {
        self.frames.finished(clean)
    }
}

/// Where a streamed body's frames come from.
pub trait Frames: Send {
    /// The next frame: `None` at the body's end, or the error reading it failed with.
    fn frame(&mut self) -> impl Future<Output = Option<Result<Frame<Bytes>>>> + Send;

    /// The body's length as the server declared it (Content-Length), when that is known here.
    fn declared(&self) -> Option<u64> {
        None
    }

    /// The body was read to its end (`clean`) or failed: keep or close its connection.
    fn finished(&mut self, clean: bool) {
        let _ = clean;
    }
}

/// A streamed body of any transport: the data of its frames (empty ones and trailers skipped),
/// each read within its own timeout. Its unit of the budget is given back when it ends, fails or
/// is dropped.
pub struct Streamed<F, Tm> {
    frames: F,
    done: bool,
    permit: Option<Permit>,
    timer: PhantomData<fn() -> Tm>,
}

impl<F, Tm> std::fmt::Debug for Streamed<F, Tm> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed").field("done", &self.done).finish_non_exhaustive()
    }
}

impl<F: Frames, Tm: Timer> Streamed<F, Tm> {
    /// A body read from `frames`, holding `permit`.
    pub fn new(frames: F, permit: Permit) -> Self {
        Streamed { frames, done: false, permit: Some(permit), timer: PhantomData }
    }

    /// The next piece of the body, waiting at most `timeout`. A read cut short by the timeout
    /// loses nothing.
    async fn read_chunk(&mut self, timeout: Option<Duration>) -> Chunk {
        if self.done {
            return Chunk::End;
        }
        let frames = &mut self.frames;
        let read = async {
            loop {
                match frames.frame().await {
                    None => return Chunk::End,
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Chunk::Data(data),
                        // Empty data frames and trailers carry nothing for us.
                        _ => continue,
                    },
                    Some(Err(err)) => return Chunk::Failed(err),
                }
            }
        };
        let chunk = within::<Tm, _>(timeout, read, || Chunk::TimedOut).await;
        if let Chunk::End | Chunk::Failed(_) = &chunk {
            self.done = true;
            self.frames.finished(matches!(chunk, Chunk::End));
            self.permit = None;
        }
        chunk
    }
}

impl<F: Frames, Tm: Timer> BodyStream for Streamed<F, Tm> {
    fn next_chunk(&mut self, timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send {
        self.read_chunk(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clustermanager_core::error::TransportErrorKind;
    use clustermanager_core::Error;

    /// Frames of the given pieces, then the end.
    struct Pieces(Vec<&'static [u8]>);

    impl Frames for Pieces {
        async fn frame(&mut self) -> Option<Result<Frame<Bytes>>> {
            (!self.0.is_empty()).then(|| Ok(Frame::data(Bytes::from_static(self.0.remove(0)))))
        }
    }

    fn collected(pieces: Vec<&'static [u8]>, declared: Option<u64>, max: usize) -> Result<Bytes> {
        futures_lite::future::block_on(collect(Declared::new(Pieces(pieces), declared), max, "X::with_max"))
    }

    #[test]
    fn a_declared_body_is_held_to_its_length() {
        assert_eq!(collected(vec![b"he", b"llo"], Some(5), 10).ok(), Some(Bytes::from_static(b"hello")));
        assert_eq!(collected(vec![b"hello"], None, 10).ok(), Some(Bytes::from_static(b"hello")));
        let short = collected(vec![b"he"], Some(5), 10).err();
        assert!(
            matches!(&short, Some(Error::Transport { kind: TransportErrorKind::Truncated, message }) if message.ends_with("2 of 5 bytes arrived")),
            "{short:?}"
        );
    }

    #[test]
    fn a_body_declared_larger_than_the_cap_is_refused_unread() {
        let err = collected(vec![], Some(11), 10).err();
        assert!(
            matches!(&err, Some(Error::Decode { message, .. }) if message.contains("larger than 10 bytes")),
            "{err:?}"
        );
    }
}
