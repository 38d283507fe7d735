//! The operation toolkit: one way to write each kind of operation, on both orchestrators.
//!
//! | to write | use | example |
//! |---|---|---|
//! | one request (get X, create X, delete X without waiting) | [`Call`]: the request, retried under the context's policy, and a parser of the answer | `k8s::node::list`, `nomad::api::get` |
//! | a request that may not be buildable (bad name, bad quantity) | [`Checked`] around it: the error comes at the first poll, nothing is sent | `k8s::execution::list_all` |
//! | several requests in turn (list X page after page, create then read back, delete then wait) | a [`Machine`] run by [`Flow`]: it says which request to send next given the last answer | `nomad::api::list_all`, `nomad::job::create` |
//! | a result reshaped | [`map_output`] | `k8s::execution::list` |
//! | one operation after another built from its result; several in turn | [`and_then`]; [`each`] | the facade's workload calls |
//! | a caller's deadline over any of these | [`within`] (a [`Machine`] returns it from [`Machine::deadline`]; a single [`Exchange`] takes [`Exchange::within`]) | the shared waits' own reads |
//! | watch X (a resumable list + watch) | [`Watcher`](crate::k8s::watcher::Watcher) (Kubernetes), a chain of blocking queries ([`Next::Blocking`]) on Nomad | the shared waits' feeds (`k8s::shared::JobFeed`, `nomad::shared::JobsFeed`), `k8s::api::wait_for` |
//! | a stream (a log followed, an event stream, one raw watch) | a hand-written [`Operation`](crate::Operation) over an [`Exchange`] opened as a stream and an incremental decoder | `k8s::log::follow`, `nomad::events::stream` |
//!
//! Every one of these hands out [`Step`](crate::Step)s whose times are absolute instants and
//! whose request steps carry an [`Io`](crate::deadline::Io).

mod call;
mod combinators;
mod flow;

pub use call::{copy_request, Call, Exchange, ExchangeStep};
pub use combinators::{and_then, each, map_done, map_output, within, AndThen, Checked, Each, MapOutput, Within};
pub use flow::{answer, Flow, Machine, Next};
