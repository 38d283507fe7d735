//! Tracing (issue 12): one span per operation, named after the method, with its namespace and
//! object; one `request` span per request, with its method, path, attempt and status — and
//! never a credential or a query string.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use clustermanager_core::{Config, Secret};
use clustermanager_tests::capture::spans;
use clustermanager_tests::server::{Reply, Server};

#[test]
fn every_operation_and_request_has_a_span_and_no_secret_is_in_them() {
    let body = r#"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"hello","namespace":"batch","uid":"u1"},"status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}"#;
    let server = Server::start(None, Arc::new(move |_| Reply::Full(200, body.to_owned())));
    let config = Config::kubernetes(&server.http_url()).unwrap().with_token(Secret::new("s3cr3t-t0ken"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (job, spans, events) = spans(|| {
        rt.block_on(async {
            let cm = clustermanager_tokio::connect(&config).await.unwrap();
            cm.get_job("batch", "hello").await
        })
    });
    let job = job.unwrap();
    assert_eq!(job.name, "hello");
    let op = spans.iter().find(|s| s.starts_with("get_job{")).unwrap_or_else(|| panic!("{spans:#?}"));
    assert!(op.contains("namespace=batch;") && op.contains("object=hello;"), "{op}");
    let request = spans.iter().find(|s| s.starts_with("request{")).unwrap_or_else(|| panic!("{spans:#?}"));
    for field in ["method=GET;", "path=/apis/batch/v1/namespaces/batch/jobs/hello;", "attempt=1;", "status=200;"] {
        assert!(request.contains(field), "{field} missing in {request}");
    }
    assert!(request.contains("ms="), "{request}");
    for text in spans.iter().chain(&events) {
        assert!(!text.contains("s3cr3t"), "a secret in the trace: {text}");
        assert!(!text.to_ascii_lowercase().contains("authorization"), "a header in the trace: {text}");
    }
}
