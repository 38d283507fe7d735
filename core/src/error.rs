//! The one error type of clustermanager, with kinds a caller can match, and the mapping of
//! server error bodies (Kubernetes `Status` objects, Nomad plain text) onto it.

use std::time::Duration;

use serde::Deserialize;

/// Shorthand for `Result<T, clustermanager_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The seed's answers, where it had a value instead of an error: `None` for an object that does
/// not exist (the seed's getters returned `None` on a 404; kube-rs calls this `get_opt`) and for
/// an operation the orchestrator does not offer (the seed's `define_quota` did nothing on Nomad).
///
/// ```no_run
/// use clustermanager_core::{ClusterManager, Result, ResultExt};
/// # async fn demo(cm: &ClusterManager) -> Result<()> {
/// if let Some(job) = cm.get_job("batch", "hello").await.found()? {
///     println!("{:?}", job.status);
/// }
/// // portable: a quota where the orchestrator has them, nothing where it does not
/// cm.define_quota("batch", "4", "8Gi").await.supported()?;
/// # Ok(()) }
/// ```
pub trait ResultExt<T> {
    /// `Ok(None)` where the server answered that the object does not exist
    /// ([`Error::NotFound`]); every other error stays an error.
    fn found(self) -> Result<Option<T>>;
    /// `Ok(None)` where the orchestrator does not offer the operation
    /// ([`Error::Unsupported`]); every other error stays an error.
    fn supported(self) -> Result<Option<T>>;
}

impl<T> ResultExt<T> for Result<T> {
    fn found(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn supported(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(Error::Unsupported { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// What a server said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Kubernetes `Status.reason` (`NotFound`, `AlreadyExists`, `Expired`, ...); `None` for Nomad.
    pub reason: Option<String>,
    /// The server's message (Kubernetes `Status.message`, Nomad's plain-text body, trimmed).
    pub message: String,
    /// Field-level causes (Kubernetes `Status.details.causes`; for Nomad the `* ...` lines of a
    /// multi-error body).
    pub causes: Vec<Cause>,
    /// What `Retry-After` (or `Status.details.retryAfterSeconds`) asked for.
    pub retry_after: Option<Duration>,
    /// A fresh `continue` token that a Kubernetes 410 for an expired list carries.
    pub continue_token: Option<String>,
}

/// One cause of an [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cause {
    /// Machine-readable reason (`FieldValueInvalid`, ...), if the server gave one.
    pub reason: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The field concerned (`metadata.name`, ...), if the server gave one.
    pub field: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(reason) = &self.reason {
            write!(f, " {reason}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// How a transport failed to carry out a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (refused, unreachable, DNS). The request was not sent, so
    /// retrying is safe even for writes.
    Connect,
    /// The TLS handshake failed (unknown CA, bad certificate, client certificate refused, ...).
    Tls,
    /// The connection broke after the request may have been sent.
    Io,
    /// A stream ended before its last frame was complete.
    Truncated,
}

/// Every failure clustermanager reports. Match on the variant; each message says what went wrong
/// and what to do. No variant ever carries a token, password or private key.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object (namespace, job, execution, ...) or the path does not exist (HTTP 404).
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// The object already exists (Kubernetes 409 `AlreadyExists`).
    #[error("already exists: {0}")]
    AlreadyExists(ApiError),
    /// The write conflicts with the object's current state (409 `Conflict`): re-read and retry.
    #[error("conflict: {0}; read the object again and retry the change")]
    Conflict(ApiError),
    /// The server does not know who we are (401): check the token, certificate or password.
    #[error("unauthorized: {0}; check the configured token, client certificate or password")]
    Unauthorized(ApiError),
    /// The server knows who we are and refuses (403): grant the identity the permission (RBAC or
    /// a Nomad ACL policy), or the namespace is being deleted.
    #[error("forbidden: {0}")]
    Forbidden(ApiError),
    /// The server rejected the content of the request (Kubernetes 422, Nomad validation errors).
    #[error("invalid: {0}")]
    Invalid(ApiError),
    /// The server could not understand the request (400, 405, 406, 415, ...).
    #[error("bad request: {0}")]
    BadRequest(ApiError),
    /// The resource version or continue token is too old (410): list again from scratch.
    #[error("gone: {0}; list again to get a fresh resourceVersion")]
    Gone(ApiError),
    /// The server asks us to slow down (429); `retry_after` says for how long.
    #[error("too many requests: {0}; retry later")]
    TooManyRequests(ApiError),
    /// The server failed (5xx other than validation errors).
    #[error("server error: {0}")]
    Server(ApiError),
    /// A deadline passed: the caller's timeout, a request timeout, or a retry budget.
    #[error("timed out: {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
    },
    /// The job cannot run as it is: the server says why, and the reason does not go away
    /// without changing the job or the cluster (see [`Reason::permanent`](crate::reason::Reason::permanent)), or no execution
    /// started within the wait's startup deadline. The job is left as it is; delete it or fix it.
    #[error("job {job} cannot run: {reason}")]
    CannotRun {
        /// The job (`namespace/name`).
        job: String,
        /// Why.
        reason: crate::reason::Reason,
    },
    /// The orchestrator does not offer this operation.
    #[error("{operation} is not supported on {orchestrator}: {hint}")]
    Unsupported {
        /// The operation (`define_quota`, ...).
        operation: &'static str,
        /// `Kubernetes` or `Nomad`.
        orchestrator: &'static str,
        /// Why, and what to use instead.
        hint: &'static str,
    },
    /// A response body could not be decoded.
    #[error("could not decode {what}: {message} (body starts with {excerpt:?})")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The decoder's message.
        message: String,
        /// The first bytes of what came back, lossily as text.
        excerpt: String,
    },
    /// The configuration is wrong: `key` names the setting.
    #[error("bad configuration `{key}`: {problem}")]
    Config {
        /// The key, file or environment variable at fault.
        key: String,
        /// What is wrong with it and how to fix it.
        problem: String,
    },
    /// No cluster is configured at all: [`Config::infer`](crate::Config::infer) found no
    /// kubeconfig (`KUBECONFIG` unset and no `~/.kube/config`), is not running in a pod and
    /// `NOMAD_ADDR` is unset. Distinct from [`Error::Config`], which means a source *is*
    /// configured but wrong (a kubeconfig that is not YAML, names a context it does not have, a
    /// server that is not a URL): a program may fall back to something else (a local or fake
    /// cluster) on this error, and never on that one.
    #[error("no Kubernetes or Nomad server is configured; tried {}. Set KUBECONFIG, run inside a pod, or set NOMAD_ADDR", .tried.join("; "))]
    NotConfigured {
        /// Each source looked at, and why it did not apply.
        tried: Vec<String>,
    },
    /// Input given to an operation was rejected before any request was sent (a bad name, ...).
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        /// The argument at fault.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The request could not be carried to the server or the answer back.
    #[error("transport error ({kind:?}): {message}")]
    Transport {
        /// Which stage failed.
        kind: TransportErrorKind,
        /// What the transport said.
        message: String,
    },
    /// An operation was driven against the protocol (a bug in a driver or in clustermanager).
    #[error("protocol misuse: {0}")]
    Protocol(String),
}

impl Error {
    /// A [`Error::Protocol`] error (its message capped at [`MAX_MESSAGE`] bytes).
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol(cap(message.into(), MAX_MESSAGE))
    }

    /// A [`Error::Decode`] error with an excerpt of `body`. The parser's message is capped at
    /// [`MAX_MESSAGE`] bytes: serde_json quotes a whole mistyped value, which may be megabytes.
    pub fn decode(what: impl Into<String>, message: impl std::fmt::Display, body: &[u8]) -> Self {
        let message = cap(message.to_string(), MAX_MESSAGE);
        Error::Decode { what: cap(what.into(), MAX_MESSAGE), message, excerpt: excerpt(body) }
    }

    /// A [`Error::Config`] error (its problem capped at [`MAX_MESSAGE`] bytes).
    pub fn config(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Config { key: cap(key.into(), MAX_MESSAGE), problem: cap(problem.into(), MAX_MESSAGE) }
    }

    /// A [`Error::Transport`] error (its message capped at [`MAX_MESSAGE`] bytes).
    pub fn transport(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Error::Transport { kind, message: cap(message.into(), MAX_MESSAGE) }
    }

    /// The server's answer, for the variants that carry one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::NotFound(e)
            | Error::AlreadyExists(e)
            | Error::Conflict(e)
            | Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::Invalid(e)
            | Error::BadRequest(e)
            | Error::Gone(e)
            | Error::TooManyRequests(e)
            | Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status the server answered, if this error came from an answer.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// Classify a server's refusal by its status code (and Kubernetes reason, if any).
    pub fn from_api(api: ApiError) -> Self {
        match (api.status, api.reason.as_deref()) {
            (409, Some("AlreadyExists")) => Error::AlreadyExists(api),
            (409, _) => Error::Conflict(api),
            (404, _) => Error::NotFound(api),
            (401, _) => Error::Unauthorized(api),
            (403, _) => Error::Forbidden(api),
            (422, _) => Error::Invalid(api),
            (410, _) => Error::Gone(api),
            (429, _) => Error::TooManyRequests(api),
            (504, Some("Timeout")) => Error::Server(api),
            (s, _) if s >= 500 => Error::Server(api),
            _ => Error::BadRequest(api),
        }
    }
}

/// Up to 200 bytes of `body`, lossily as text, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let cut = body.len().min(MAX);
    let mut text = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > MAX {
        text.push('…');
    }
    text
}

pub use crate::text::{cap, MAX_CAUSE, MAX_MESSAGE};

/// The most causes an [`ApiError`] keeps (the rest are counted in one last cause).
pub const MAX_CAUSES: usize = 32;

/// A text error body as a message: trimmed, and cut after [`MAX_MESSAGE`] bytes.
fn body_text(body: &[u8]) -> String {
    let head = &body[..body.len().min(MAX_MESSAGE)];
    let mut text = String::from_utf8_lossy(head).trim().to_owned();
    if body.len() > MAX_MESSAGE {
        text.push_str(&format!("… ({} bytes cut)", body.len() - MAX_MESSAGE));
    }
    text
}

/// At most [`MAX_CAUSES`] causes, each capped; a last one says how many more there were.
fn cap_causes(mut causes: Vec<Cause>) -> Vec<Cause> {
    let more = causes.len().saturating_sub(MAX_CAUSES);
    causes.truncate(MAX_CAUSES);
    for c in &mut causes {
        c.message = cap(std::mem::take(&mut c.message), MAX_CAUSE);
        c.reason = c.reason.take().map(|r| cap(r, MAX_CAUSE));
        c.field = c.field.take().map(|f| cap(f, MAX_CAUSE));
    }
    if more > 0 {
        causes.push(Cause { reason: None, message: format!("… and {more} more causes (cut)"), field: None });
    }
    causes
}

/// `Retry-After` in seconds (the HTTP-date form is not used by either orchestrator).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[derive(Deserialize)]
struct K8sStatus<'a> {
    #[serde(default)]
    kind: Option<&'a str>,
    #[serde(default, borrow)]
    message: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    details: Option<K8sDetails>,
    #[serde(default)]
    metadata: Option<K8sListMeta>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sDetails {
    #[serde(default)]
    causes: Vec<K8sCause>,
    #[serde(default)]
    retry_after_seconds: Option<u64>,
}

#[derive(Deserialize)]
struct K8sCause {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    field: Option<String>,
}

#[derive(Deserialize)]
struct K8sListMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

/// Turn a non-2xx Kubernetes answer into an [`Error`]. The body is usually a `meta/v1 Status`;
/// anything else (text/plain 404 of an unknown group, a proxy's HTML) keeps its text as message.
pub fn from_k8s_response(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Error {
    let mut api = ApiError { status, retry_after: retry_after(headers), ..ApiError::default() };
    match serde_json::from_slice::<K8sStatus<'_>>(body) {
        Ok(st) if st.kind == Some("Status") => {
            api.message = cap(st.message.map(|m| m.into_owned()).unwrap_or_default(), MAX_MESSAGE);
            api.reason = st.reason.map(|r| cap(r.into_owned(), MAX_CAUSE)).filter(|r| !r.is_empty());
            if let Some(details) = st.details {
                api.causes = cap_causes(
                    details
                        .causes
                        .into_iter()
                        .map(|c| Cause { reason: c.reason, message: c.message.unwrap_or_default(), field: c.field })
                        .collect(),
                );
                if api.retry_after.is_none() {
                    api.retry_after = details.retry_after_seconds.map(Duration::from_secs);
                }
            }
            api.continue_token =
                st.metadata.and_then(|m| m.continue_token).filter(|c| !c.is_empty() && c.len() <= MAX_MESSAGE);
        }
        _ => api.message = body_text(body),
    }
    Error::from_api(api)
}

/// Turn a non-2xx Nomad answer into an [`Error`]. Nomad's error bodies are plain text; a
/// multi-error (`1 error occurred:\n\t* Missing job datacenters\n\n`) gives one [`Cause`] per
/// `*` line. Nomad answers validation failures with 500, so a 500 whose text is a validation
/// report becomes [`Error::Invalid`].
pub fn from_nomad_response(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Error {
    let message = body_text(body);
    let causes: Vec<Cause> = cap_causes(
        message
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("* "))
            .map(|m| Cause { reason: None, message: m.trim().to_owned(), field: None })
            .collect(),
    );
    let message = if message.is_empty() { default_reason(status).to_owned() } else { message };
    let validation = status == 500 && is_nomad_validation(&message);
    let api =
        ApiError { status, reason: None, message, causes, retry_after: retry_after(headers), continue_token: None };
    if validation {
        Error::Invalid(api)
    } else {
        Error::from_api(api)
    }
}

fn is_nomad_validation(message: &str) -> bool {
    message.contains("error occurred")
        || message.contains("errors occurred")
        || message.starts_with("Invalid")
        || message.contains("validation failed")
        || message.contains("does not exist")
}

fn default_reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k8s_status_maps_reason_and_causes() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"x\" already exists","reason":"AlreadyExists","details":{"name":"x","kind":"namespaces"},"code":409}"#;
        let err = from_k8s_response(409, &http::HeaderMap::new(), body);
        assert!(matches!(err, Error::AlreadyExists(ref a) if a.message.contains("already exists")));
    }

    #[test]
    fn nomad_multi_error_is_invalid_with_causes() {
        let body = b"1 error occurred:\n\t* Missing job datacenters\n\n";
        let err = from_nomad_response(500, &http::HeaderMap::new(), body);
        let Error::Invalid(api) = err else { panic!("expected Invalid, got {err:?}") };
        assert_eq!(api.causes.len(), 1);
        assert_eq!(api.causes[0].message, "Missing job datacenters");
    }

    #[test]
    fn garbage_body_keeps_text() {
        let err = from_k8s_response(404, &http::HeaderMap::new(), b"404 page not found\n");
        assert!(matches!(err, Error::NotFound(ref a) if a.message == "404 page not found"));
    }

    #[test]
    fn a_huge_text_body_is_cut_in_the_message() {
        let page = format!("<html>{}</html>", "x".repeat(1 << 20));
        for err in [
            from_k8s_response(502, &http::HeaderMap::new(), page.as_bytes()),
            from_nomad_response(502, &http::HeaderMap::new(), page.as_bytes()),
        ] {
            let Error::Server(api) = err else { panic!("expected Server, got {err:?}") };
            assert!(
                api.message.starts_with("<html>xxx") && api.message.ends_with("bytes cut)"),
                "{}",
                &api.message[..20]
            );
            assert!(api.message.len() < 5000, "{}", api.message.len());
        }
    }

    #[test]
    fn a_huge_status_message_and_its_causes_are_cut_with_a_note() {
        let huge = "m".repeat(50 << 20);
        let causes: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"reason":"FieldValueInvalid","message":"{}","field":"f{i}"}}"#, "c".repeat(10_000)))
            .collect();
        let body = format!(
            r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"{huge}","reason":"Invalid","details":{{"causes":[{}]}},"code":422}}"#,
            causes.join(",")
        );
        let err = from_k8s_response(422, &http::HeaderMap::new(), body.as_bytes());
        let Error::Invalid(api) = &err else { panic!("expected Invalid") };
        assert!(api.message.len() < MAX_MESSAGE + 64, "{}", api.message.len());
        assert!(
            api.message.ends_with(&format!("… ({} bytes cut)", (50 << 20) - MAX_MESSAGE)),
            "{}",
            &api.message[4000..]
        );
        assert_eq!(api.causes.len(), MAX_CAUSES + 1);
        assert!(api.causes.iter().all(|c| c.message.len() < MAX_CAUSE + 64));
        assert!(api.causes[MAX_CAUSES].message.contains("968 more causes"));
        assert!(err.to_string().len() < 2 * MAX_MESSAGE);
        assert!(format!("{err:?}").len() < 40 * MAX_CAUSE + 2 * MAX_MESSAGE);
    }

    #[test]
    fn a_huge_mistyped_value_makes_a_short_decode_error() {
        let body = format!(r#"{{"count":"{}"}}"#, "9".repeat(10 << 20));
        #[derive(Debug, Deserialize)]
        struct Counted {
            #[allow(dead_code)]
            count: u32,
        }
        let parsed = serde_json::from_str::<Counted>(&body).map_err(|e| Error::decode("counted", e, body.as_bytes()));
        let err = parsed.unwrap_err();
        assert!(err.to_string().len() < 2 * MAX_MESSAGE, "{}", err.to_string().len());
        assert!(err.to_string().contains("bytes cut"));
    }

    #[test]
    fn cutting_respects_character_boundaries() {
        let text = "é".repeat(10);
        let cut = cap(text, 5);
        assert!(cut.starts_with("éé") && cut.ends_with("(16 bytes cut)"), "{cut}");
    }
}
