//! [`LoopClient`]: the transport's client of a manager connected from a running event loop. Its
//! calls from that loop go over connections the loop drives ([`LoopDial`], tasks of the loop's
//! [`Exec`]); calls polled anywhere else (another loop, a tokio worker) go over tokio's sockets
//! and tasks, as `clustermanager_tokio::TokioTransport` sends them. Both sides are hyper-util's
//! pooled client (HTTP/2 where a TLS server offers it, else HTTP/1.1), each within the
//! connection budget (see [`LoopClient::new`] for why not one budget for both).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clustermanager_core::{Config, Request, Response, Result};
use clustermanager_tokio::{Budget, HyperClient, TokioClient, TokioDial, TokioRuntime};
use clustermanager_transport_common::body::read_whole;
use clustermanager_transport_common::run::{self, HttpTransport, HyperFrames};
use clustermanager_transport_common::settings::Settings;
use clustermanager_transport_common::tls::{self, ClientTls};
use http::response::Parts;
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;

use super::exec::{move_off_loop, Exec};
use super::socket::LoopDial;

/// The transport of a manager the Python package connects.
pub(crate) type LoopTransport = HttpTransport<LoopClient>;

/// An answer at least this large (bytes) is decoded on a tokio worker, not on the loop's thread
/// (a megabyte of JSON takes milliseconds to decode, a stall of every other task on the loop).
pub(crate) const DECODE_OFF_LOOP_BYTES: usize = 256 * 1024;

/// How many requests each side of a transport sent: over the loop's connections, over tokio's;
/// and how many calls moved to tokio to decode a large answer.
#[derive(Default, Debug)]
pub(crate) struct Sides {
    pub(crate) on_loop: AtomicU64,
    pub(crate) on_tokio: AtomicU64,
    pub(crate) moved_to_tokio: AtomicU64,
}

/// The transport for `config`, its home the loop of `home` (`None`: tokio's sockets only), and
/// its counters of requests sent per side.
pub(crate) fn transport(config: &Config, home: Option<Exec>) -> Result<(LoopTransport, Arc<Sides>)> {
    let sides = Arc::new(Sides::default());
    let transport = LoopTransport::with_client(config, |settings| Ok(LoopClient::new(settings, home, &sides)))?;
    Ok((transport, sides))
}

/// See the module docs.
pub struct LoopClient {
    /// The loop's executor and the client over its connections.
    home: Option<(Exec, HyperClient<LoopDial>)>,
    /// The client over tokio's sockets, for calls polled elsewhere.
    elsewhere: TokioClient,
    sides: Arc<Sides>,
}

impl LoopClient {
    /// The client for `settings`, with the connections of `home`'s loop when it has one, counting
    /// requests in `sides`.
    ///
    /// Each side gets the connection budget: the loop's connections live and die with the loop
    /// (a closed loop no longer drives its idle ones; they are closed when the executor finds
    /// the loop closed or gone), so a budget shared with tokio's side could be held by
    /// connections nobody can use. A manager holds at most twice `max_connections`: calls from
    /// other loops, and calls that moved to tokio to decode a large answer (their later
    /// requests, a clean-up's deletes say), take tokio's side.
    fn new(settings: &Settings<TokioRuntime>, home: Option<Exec>, sides: &Arc<Sides>) -> Self {
        let max = settings.config().max_connections;
        let home = home.map(|exec| {
            let client = HyperClient::new(settings, LoopDial(exec.clone()), exec.clone(), Budget::new(max));
            (exec, client)
        });
        let elsewhere = HyperClient::new(settings, TokioDial, TokioExecutor::new(), Budget::new(max));
        LoopClient { home, elsewhere, sides: Arc::clone(sides) }
    }
}

impl run::Client for LoopClient {
    type Runtime = TokioRuntime;
    type Unread = Incoming;
    type Frames = HyperFrames;
    const NAME: &'static str = "AsyncioTransport";

    /// HTTP/2 where the server offers it over TLS (kube-apiserver does), as the tokio transport.
    fn tls(config: &Config) -> Result<ClientTls> {
        ClientTls::offering(config, tls::ALPN_H2_HTTP1)
    }

    /// Tokio's side only (the transport of [`transport`] has a home).
    fn build(settings: &Settings<TokioRuntime>) -> Result<Self> {
        Ok(LoopClient::new(settings, None, &Arc::default()))
    }

    /// The loop's side's budget when the manager has a home loop, else tokio's.
    fn connections<'a>(&'a self, _: &'a Settings<TokioRuntime>) -> &'a Budget {
        match &self.home {
            Some((_, client)) => client.connection_budget(),
            None => self.elsewhere.connection_budget(),
        }
    }

    async fn dispatch(&self, settings: &Settings<TokioRuntime>, request: Request) -> Result<(Parts, Incoming)> {
        match &self.home {
            Some((exec, client)) if exec.is_running_here() => {
                self.sides.on_loop.fetch_add(1, Ordering::Relaxed);
                client.send(settings.host(), request).await
            }
            _ => {
                self.sides.on_tokio.fetch_add(1, Ordering::Relaxed);
                self.elsewhere.send(settings.host(), request).await
            }
        }
    }

    /// The whole body; an answer of [`DECODE_OFF_LOOP_BYTES`] or more read by a call on its loop
    /// moves the rest of the call (decoding it) to a tokio worker (see [`move_off_loop`]).
    async fn read_whole(&self, parts: Parts, body: Incoming, max: usize) -> Result<Response> {
        let response = read_whole(parts, body, max, "AsyncioTransport::with_max_response_bytes").await?;
        let on_loop = self.home.as_ref().is_some_and(|(exec, _)| exec.is_running_here());
        if on_loop && response.body().len() >= DECODE_OFF_LOOP_BYTES && move_off_loop().await {
            self.sides.moved_to_tokio.fetch_add(1, Ordering::Relaxed);
        }
        Ok(response)
    }

    fn stream(&self, body: Incoming) -> HyperFrames {
        HyperFrames(body)
    }
}
