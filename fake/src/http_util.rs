//! Small HTTP helpers shared by both fake servers: query parsing, response building.

use bytes::Bytes;
use clustermanager_core::{Request, Response};

/// The decoded `key=value` pairs of a request's query, in order.
pub(crate) fn query(request: &Request) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of query parameter `key`.
pub(crate) fn param<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Percent-decoding (and `+` as space) of one query component or path segment.
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response with a status, content type, extra headers and body.
pub(crate) fn response(
    status: u16,
    content_type: &str,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> Response {
    let mut resp = http::Response::new(body.into());
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if !content_type.is_empty() {
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
    }
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value)) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

/// A JSON response (`application/json`), the body ending in a newline like the apiserver's.
pub(crate) fn json(status: u16, headers: &[(&str, String)], value: &serde_json::Value, newline: bool) -> Response {
    let mut body = value.to_string();
    if newline {
        body.push('\n');
    }
    response(status, "application/json", headers, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(super::decode("job-name%3Dhello%2Cx+y%"), "job-name=hello,x y%");
    }
}
