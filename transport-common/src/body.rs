//! Reading a whole response body into memory under a size cap, whatever the runtime: the
//! default cap ([`DEFAULT_MAX_RESPONSE_BYTES`]), the error a larger body becomes ([`too_large`]),
//! and [`read_whole`] for a hyper body (Content-Length or chunked), refused as soon as its
//! declared or received length passes the cap.

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Error, Response, Result};
use http_body_util::BodyExt;

use crate::hyper_rustls::body_error;

/// The largest response body a transport reads into memory by default: 512 MiB, far above any
/// paginated list, so that a misdirected request (a file server, an endless body) fails instead
/// of exhausting memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 512 << 20;

/// A whole response body is larger than `max` bytes; `setter` names the method that raises the
/// limit (e.g. `TokioTransport::with_max_response_bytes`). A [`Error::Decode`], not retried.
pub fn too_large(max: usize, setter: &str) -> Error {
    Error::decode(
        "response body",
        format!("it is larger than {max} bytes; check the server address, or raise the limit with {setter}"),
        b"",
    )
}

/// Read a whole response body (Content-Length or chunked) into memory, at most `max` bytes
/// ([`too_large`] naming `setter` past that), as the response with the head `parts`. A failed
/// read becomes [`body_error`]'s error.
pub async fn read_whole<B>(parts: http::response::Parts, body: B, max: usize, setter: &str) -> Result<Response>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large(max, setter));
    }
    let bytes = match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return Err(match err.downcast_ref::<hyper::Error>() {
                Some(hyper_err) => body_error(hyper_err),
                None if err.is::<http_body_util::LengthLimitError>() => too_large(max, setter),
                None => Error::transport(TransportErrorKind::Io, format!("reading the response body failed: {err}")),
            })
        }
    };
    Ok(Response::from_parts(parts, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn response(body: &'static str) -> (http::response::Parts, Full<&'static [u8]>) {
        http::Response::new(Full::new(body.as_bytes())).into_parts()
    }

    #[test]
    fn a_body_within_the_cap_is_read_and_a_larger_one_refused() {
        futures_lite::future::block_on(async {
            let (parts, body) = response("hello");
            let read = read_whole(parts, body, 5, "X::with_max").await;
            assert_eq!(read.ok().map(|r| r.into_body()), Some("hello".into()));
            let (parts, body) = response("hello!");
            let err = read_whole(parts, body, 5, "X::with_max").await.err();
            assert!(
                matches!(&err, Some(Error::Decode { message, .. }) if message.contains("larger than 5 bytes") && message.contains("X::with_max")),
                "{err:?}"
            );
        });
    }
}
