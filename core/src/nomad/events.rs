//! Nomad's event stream (`/v1/event/stream`, Nomad ≥ 1.0): typed [`EventBatch`]es.
