//! Error bodies: Kubernetes `Status` objects and Nomad plain text become bounded errors, never a
//! panic, whatever the status and body.
#![no_main]

use clustermanager_core::error::{from_k8s_response, from_nomad_response, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let status = 400 + u16::from(first);
    let mut headers = http::HeaderMap::new();
    if first % 3 == 0 {
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("7"));
    }
    for err in [from_k8s_response(status, &headers, body), from_nomad_response(status, &headers, body)] {
        let text = err.to_string();
        assert!(text.len() <= 2 * MAX_MESSAGE + 512, "an error message of {} bytes", text.len());
        let _ = format!("{err:?}");
    }
});
