//! One Python exception class per [`Error`] kind, under `ClusterManagerError`, with the kind's
//! fields as attributes (`status`, `reason`, `key`, `job`, ...).

use clustermanager_core::Error;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pyo3::create_exception!(
    clustermanager,
    ClusterManagerError,
    PyException,
    "The base of every error clustermanager raises. `kind` names the error kind."
);
pyo3::create_exception!(
    clustermanager,
    ApiError,
    ClusterManagerError,
    "The server answered with an error status (`status`, `reason`, `message`, `causes`)."
);
pyo3::create_exception!(clustermanager, NotFound, ApiError, "The object does not exist (HTTP 404).");
pyo3::create_exception!(clustermanager, AlreadyExists, ApiError, "The object already exists (HTTP 409 AlreadyExists).");
pyo3::create_exception!(
    clustermanager,
    Conflict,
    ApiError,
    "A conflicting change (HTTP 409): read the object again and retry."
);
pyo3::create_exception!(clustermanager, Unauthorized, ApiError, "The credentials were refused (HTTP 401).");
pyo3::create_exception!(clustermanager, Forbidden, ApiError, "The credentials may not do this (HTTP 403).");
pyo3::create_exception!(clustermanager, Invalid, ApiError, "The server rejected the object as invalid (HTTP 422).");
pyo3::create_exception!(
    clustermanager,
    BadRequest,
    ApiError,
    "The server rejected the request (HTTP 400 and other 4xx)."
);
pyo3::create_exception!(clustermanager, Gone, ApiError, "The resource version is too old (HTTP 410).");
pyo3::create_exception!(clustermanager, TooManyRequests, ApiError, "The server asks to slow down (HTTP 429).");
pyo3::create_exception!(clustermanager, ServerError, ApiError, "The server failed (HTTP 5xx).");
pyo3::create_exception!(
    clustermanager,
    Timeout,
    ClusterManagerError,
    "A wait or request ran out of time (`what` says which)."
);
pyo3::create_exception!(
    clustermanager,
    CannotRun,
    ClusterManagerError,
    "The job cannot run (`job`, and `reason`: why, as a dict with kind, message, permanent, source)."
);
pyo3::create_exception!(
    clustermanager,
    Unsupported,
    ClusterManagerError,
    "The operation is not offered on this orchestrator (`operation`, `orchestrator`, `hint`)."
);
pyo3::create_exception!(
    clustermanager,
    DecodeError,
    ClusterManagerError,
    "A server answer could not be decoded (`what`, `excerpt`)."
);
pyo3::create_exception!(
    clustermanager,
    ConfigError,
    ClusterManagerError,
    "Bad configuration: `key` names the setting, `problem` says what is wrong."
);
pyo3::create_exception!(
    clustermanager,
    InvalidInput,
    ClusterManagerError,
    "An argument was refused before anything was sent (`field`, `problem`)."
);
pyo3::create_exception!(
    clustermanager,
    TransportError,
    ClusterManagerError,
    "The connection failed (`transport_kind`: Connect, Tls, Io or Truncated)."
);
pyo3::create_exception!(clustermanager, ProtocolError, ClusterManagerError, "The server broke the protocol.");
pyo3::create_exception!(
    clustermanager,
    InternalError,
    ClusterManagerError,
    "A bug in clustermanager (a Rust panic, caught): please report it."
);

/// Add the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ClusterManagerError", py.get_type::<ClusterManagerError>())?;
    m.add("ApiError", py.get_type::<ApiError>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("AlreadyExists", py.get_type::<AlreadyExists>())?;
    m.add("Conflict", py.get_type::<Conflict>())?;
    m.add("Unauthorized", py.get_type::<Unauthorized>())?;
    m.add("Forbidden", py.get_type::<Forbidden>())?;
    m.add("Invalid", py.get_type::<Invalid>())?;
    m.add("BadRequest", py.get_type::<BadRequest>())?;
    m.add("Gone", py.get_type::<Gone>())?;
    m.add("TooManyRequests", py.get_type::<TooManyRequests>())?;
    m.add("ServerError", py.get_type::<ServerError>())?;
    m.add("Timeout", py.get_type::<Timeout>())?;
    m.add("CannotRun", py.get_type::<CannotRun>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    m.add("ProtocolError", py.get_type::<ProtocolError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}

/// The Python exception for `err`, with its fields as attributes.
pub(crate) fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    let message = err.to_string();
    let attrs = PyDict::new(py);
    let (py_err, kind) = match &err {
        Error::NotFound(_) => (NotFound::new_err(message), "NotFound"),
        Error::AlreadyExists(_) => (AlreadyExists::new_err(message), "AlreadyExists"),
        Error::Conflict(_) => (Conflict::new_err(message), "Conflict"),
        Error::Unauthorized(_) => (Unauthorized::new_err(message), "Unauthorized"),
        Error::Forbidden(_) => (Forbidden::new_err(message), "Forbidden"),
        Error::Invalid(_) => (Invalid::new_err(message), "Invalid"),
        Error::BadRequest(_) => (BadRequest::new_err(message), "BadRequest"),
        Error::Gone(_) => (Gone::new_err(message), "Gone"),
        Error::TooManyRequests(_) => (TooManyRequests::new_err(message), "TooManyRequests"),
        Error::Server(_) => (ServerError::new_err(message), "Server"),
        Error::Timeout { what } => {
            let _ = attrs.set_item("what", what);
            (Timeout::new_err(message), "Timeout")
        }
        Error::CannotRun { job, reason } => {
            let _ = attrs.set_item("job", job);
            let _ = crate::convert::reason(py, reason).and_then(|r| attrs.set_item("reason", r));
            (CannotRun::new_err(message), "CannotRun")
        }
        Error::Unsupported { operation, orchestrator, hint } => {
            let _ = attrs.set_item("operation", *operation);
            let _ = attrs.set_item("orchestrator", *orchestrator);
            let _ = attrs.set_item("hint", *hint);
            (Unsupported::new_err(message), "Unsupported")
        }
        Error::Decode { what, excerpt, .. } => {
            let _ = attrs.set_item("what", what);
            let _ = attrs.set_item("excerpt", excerpt);
            (DecodeError::new_err(message), "Decode")
        }
        Error::Config { key, problem } => {
            let _ = attrs.set_item("key", key);
            let _ = attrs.set_item("problem", problem);
            (ConfigError::new_err(message), "Config")
        }
        Error::InvalidInput { field, problem } => {
            let _ = attrs.set_item("field", field);
            let _ = attrs.set_item("problem", problem);
            (InvalidInput::new_err(message), "InvalidInput")
        }
        Error::Transport { kind, .. } => {
            let _ = attrs.set_item("transport_kind", format!("{kind:?}"));
            (TransportError::new_err(message), "Transport")
        }
        Error::Protocol(_) => (ProtocolError::new_err(message), "Protocol"),
        _ => (ClusterManagerError::new_err(message), "Other"),
    };
    let _ = attrs.set_item("kind", kind);
    if let Some(api) = err.api() {
        let _ = attrs.set_item("status", api.status);
        let _ = attrs.set_item("reason", api.reason.as_deref());
        let _ = attrs.set_item("message", &api.message);
        let causes: Vec<(Option<String>, String, Option<String>)> =
            api.causes.iter().map(|c| (c.reason.clone(), c.message.clone(), c.field.clone())).collect();
        let _ = attrs.set_item("causes", causes);
        let _ = attrs.set_item("retry_after", api.retry_after.map(|d| d.as_secs_f64()));
    }
    let value = py_err.value(py);
    for (k, v) in attrs.iter() {
        if let Ok(name) = k.extract::<String>() {
            let _ = value.setattr(name.as_str(), v);
        }
    }
    py_err
}

/// A `TypeError` naming the parameter.
pub(crate) fn type_error(param: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    pyo3::exceptions::PyTypeError::new_err(format!("parameter `{param}`: expected {expected}, got {got}"))
}

/// A `ValueError` naming the parameter.
pub(crate) fn value_error(param: &str, problem: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("parameter `{param}`: {problem}"))
}
