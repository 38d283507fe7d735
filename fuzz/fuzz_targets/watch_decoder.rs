//! The Kubernetes watch decoder, typed (jobs, pods) and thin, fed the input in two pieces cut
//! where its first byte says; then the watcher-level error mapping of any ERROR event.
#![no_main]

use clustermanager_core::k8s::execution::PodObject;
use clustermanager_core::k8s::job::JobObject;
use clustermanager_core::k8s::watch::{WatchDecoder, WatchEvent};
use clustermanager_core::k8s::object::Thin;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn run<T: DeserializeOwned>(cut: usize, body: &[u8]) {
    let mut d = WatchDecoder::<T>::default();
    let (a, b) = body.split_at(cut.min(body.len()));
    for piece in [a, b] {
        d.push(piece);
        loop {
            match d.next_event() {
                Ok(Some(WatchEvent::Error(status))) => drop(status.to_error()),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
    let _ = d.finish();
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let cut = usize::from(first) * body.len() / 256;
    run::<Thin>(cut, body);
    run::<JobObject>(cut, body);
    run::<PodObject>(cut, body);
});
