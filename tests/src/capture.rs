//! Captures `tracing` WARN events as text, for tests that check what a user is warned about.

use std::sync::{Arc, Mutex};

/// A subscriber that keeps the fields of every WARN event (`name=value;` pairs) in its vector.
pub struct WarnCapture(pub Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?};", field.name(), value));
    }
}

impl tracing::Subscriber for WarnCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(&mut Fields(&mut text));
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(text);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Run `f`, returning its result and the WARN events it emitted on this thread.
pub fn warnings<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = tracing::subscriber::with_default(WarnCapture(Arc::clone(&seen)), f);
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    (out, seen)
}

/// A subscriber that keeps every span (`name{field=value;…}`, with the fields recorded later
/// appended) and every event (`event:field=value;…`) as text, at every level.
#[derive(Default)]
pub struct SpanCapture {
    spans: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
}

impl tracing::Subscriber for SpanCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = format!("{}{{", attrs.metadata().name());
        attrs.record(&mut Fields(&mut text));
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        spans.push(text);
        tracing::span::Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(text) = usize::try_from(id.into_u64()).ok().and_then(|i| spans.get_mut(i - 1)) {
            values.record(&mut Fields(text));
        }
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::from("event:");
        event.record(&mut Fields(&mut text));
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Run `f`, returning its result, the spans and the events it made on this thread.
pub fn spans<R>(f: impl FnOnce() -> R) -> (R, Vec<String>, Vec<String>) {
    let capture = Arc::new(SpanCapture::default());
    let out = tracing::subscriber::with_default(Arc::clone(&capture), f);
    let spans = capture.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let events = capture.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    (out, spans, events)
}
