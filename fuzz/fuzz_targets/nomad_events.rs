//! Nomad's event stream: each line through `parse_line`, each event's payload through the typed
//! reading a caller would do.
#![no_main]

use clustermanager_core::lines::LineSplitter;
use clustermanager_core::nomad::events::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = LineSplitter::new("events", 1 << 16);
    lines.push(data);
    while let Ok(Some(line)) = lines.next_line() {
        if let Ok(Some(batch)) = parse_line(&line) {
            for event in &batch.events {
                let _ = event.payload_as::<serde_json::Value>();
            }
        }
    }
    let _ = parse_line(data);
});
