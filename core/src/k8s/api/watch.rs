//! [`watch`]: one watch request on any resource, as a stream of [`WatchEvent`]s until the
//! server ends it (it does not resume: the [`Watcher`] does).

use super::params::WatchParams;
use super::resource::Resource;
use crate::deadline::{later, Hold};
use crate::error::Error;
use crate::k8s::watch::{WatchDecoder, WatchEvent};
use crate::k8s::{check, Context};
use crate::op::{Exchange, ExchangeStep};
use crate::step::{Event, Operation, Step};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Extra time, past `timeoutSeconds`, a watch read waits before it counts as stalled.
const WATCH_READ_GRACE: Duration = Duration::from_secs(30);

/// Watch a collection: yields each [`WatchEvent`] (bookmarks and `ERROR` events included, as
/// they came) until the server ends the stream; then finishes with `Ok(())`. It does not
/// resume: to keep watching, start another watch from the last `resourceVersion` seen, and
/// list again after an `ERROR` 410.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource, WatchParams}};
/// use serde_json::value::RawValue;
/// let params = WatchParams { bookmarks: true, timeout_seconds: Some(60), ..WatchParams::from_version("1378") };
/// let op = api::watch::<Box<RawValue>>(&k8s::Context::default(), &Resource::CONFIGMAPS, Some("ns"), &params);
/// # let _ = op;
/// ```
pub fn watch<T>(ctx: &Context, resource: &Resource, namespace: Option<&str>, params: &WatchParams) -> Watch<T>
where
    T: DeserializeOwned,
{
    let req = resource
        .list_path(namespace)
        .and_then(|p| crate::step::request(http::Method::GET, &params.query().on(&p), None));
    let timeout = params.timeout_seconds.map(|s| Duration::from_secs(u64::from(s)) + WATCH_READ_GRACE);
    Watch {
        state: match req {
            Ok(r) => {
                let hold =
                    params.timeout_seconds.map_or(Hold::None, |s| Hold::Server(Duration::from_secs(u64::from(s))));
                WatchState::Opening(Box::new(Exchange::open(r, &ctx.retry).holding(hold)))
            }
            Err(e) => WatchState::Failed(Some(e)),
        },
        decoder: WatchDecoder::default(),
        read_timeout: timeout,
    }
}

#[derive(Debug)]
enum WatchState {
    Opening(Box<Exchange>),
    Streaming { ended: bool },
    Failed(Option<Error>),
    Finished,
}

/// The streaming operation of [`watch`].
#[derive(Debug)]
pub struct Watch<T> {
    state: WatchState,
    decoder: WatchDecoder<T>,
    read_timeout: Option<Duration>,
}

impl<T: DeserializeOwned> Operation for Watch<T> {
    type Output = ();
    type Item = WatchEvent<T>;

    fn poll(&mut self, now: Instant) -> Step<(), WatchEvent<T>> {
        match &mut self.state {
            WatchState::Opening(exchange) => match exchange.poll(now) {
                ExchangeStep::Send(req, io) => Step::Open(req, io),
                ExchangeStep::WaitUntil(at) => Step::WaitUntil(at),
                ExchangeStep::Done(Err(e)) => self.fail(e),
                ExchangeStep::Done(Ok(resp)) => match check(resp) {
                    Ok(_) => {
                        self.state = WatchState::Streaming { ended: false };
                        Step::Read { until: self.read_timeout.map(|t| later(now, t)) }
                    }
                    Err(e) => self.fail(e),
                },
            },
            WatchState::Streaming { ended } => {
                let ended = *ended;
                match self.decoder.next_event() {
                    Ok(Some(ev)) => return Step::Yield(ev),
                    Ok(None) => {}
                    Err(e) => return self.fail(e),
                }
                if !ended {
                    return Step::Read { until: self.read_timeout.map(|t| later(now, t)) };
                }
                match self.decoder.finish() {
                    Ok(Some(ev)) => Step::Yield(ev),
                    Ok(None) => {
                        self.state = WatchState::Finished;
                        Step::Done(Ok(()))
                    }
                    Err(e) => self.fail(e),
                }
            }
            WatchState::Failed(e) => {
                let e = e.take().unwrap_or_else(|| Error::protocol("watch polled after it finished"));
                self.fail(e)
            }
            WatchState::Finished => Step::Done(Err(Error::protocol("watch polled after it finished"))),
        }
    }

    fn handle(&mut self, event: Event) {
        match (&mut self.state, event) {
            (WatchState::Opening(exchange), event) => exchange.handle(event),
            (WatchState::Streaming { .. }, Event::Chunk(bytes)) => self.decoder.push(&bytes),
            (WatchState::Streaming { ended }, Event::End) => *ended = true,
            (WatchState::Streaming { .. }, Event::ReadTimeout) => {
                self.state = WatchState::Failed(Some(Error::Timeout {
                    what: "the watch stream: no data, not even the server's end of stream, within timeoutSeconds plus 30 s"
                        .into(),
                }))
            }
            (WatchState::Streaming { .. }, Event::Failed(e)) => self.state = WatchState::Failed(Some(e)),
            (_, other) => {
                self.state = WatchState::Failed(Some(Error::protocol(format!("unexpected event for a watch: {other:?}"))))
            }
        }
    }
}

impl<T> Watch<T> {
    fn fail(&mut self, e: Error) -> Step<(), WatchEvent<T>> {
        self.state = WatchState::Finished;
        Step::Done(Err(e))
    }
}
