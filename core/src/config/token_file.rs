//! The policy of a bearer token read from a file (in-cluster service account, kubeconfig
//! `tokenFile`), without the reading: the transport reads the file when [`TokenFile::due`] says
//! so and hands the outcome to [`TokenFile::update`].
//!
//! Like client-go: the file is read again after a refresh interval (kubelet rotates projected
//! service-account tokens well before they expire), and a failed re-read keeps the token read
//! before — a file caught mid-rotation must not fail requests while the old token is valid. Only
//! a first read that fails is an error.

use std::time::{Duration, Instant};

use super::bearer_header;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// How often a token file is read again by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// The cached state of one token file.
#[derive(Debug)]
pub struct TokenFile {
    path: String,
    refresh: Duration,
    cached: Option<(Instant, http::HeaderValue)>,
}

impl TokenFile {
    /// The state of the token file at `path`, re-read every `refresh`.
    pub fn new(path: impl Into<String>, refresh: Duration) -> Self {
        TokenFile { path: path.into(), refresh, cached: None }
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The cached `Authorization` header if it is still fresh at `now`; `None` means: read the
    /// file and call [`update`](Self::update).
    pub fn due(&self, now: Instant) -> Option<http::HeaderValue> {
        match &self.cached {
            Some((read_at, value)) if now.saturating_duration_since(*read_at) < self.refresh => Some(value.clone()),
            _ => None,
        }
    }

    /// The outcome of reading the file at `now`: the header to send, or a [`Error::Config`]
    /// naming `tokenFile` when no token was ever read. The error never quotes the file.
    pub fn update(&mut self, now: Instant, read: std::io::Result<Vec<u8>>) -> Result<http::HeaderValue> {
        match self.parse(read) {
            Ok(value) => {
                self.cached = Some((now, value.clone()));
                Ok(value)
            }
            Err(err) => match &self.cached {
                Some((_, previous)) => {
                    tracing::warn!(path = %self.path, error = %err, "cannot re-read the token file; using the token read before");
                    Ok(previous.clone())
                }
                None => Err(err),
            },
        }
    }

    fn parse(&self, read: std::io::Result<Vec<u8>>) -> Result<http::HeaderValue> {
        let bytes = read.map_err(|e| {
            Error::config(
                "tokenFile",
                format!("cannot read the token file {:?}: {e}; check the path and its permissions", self.path),
            )
        })?;
        let token = String::from_utf8(bytes)
            .map_err(|_| Error::config("tokenFile", format!("the token file {:?} is not UTF-8 text", self.path)))?;
        let token = Secret::new(token.trim());
        if token.is_empty() {
            return Err(Error::config("tokenFile", format!("the token file {:?} is empty", self.path)));
        }
        bearer_header(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_token_while_the_file_is_unreadable() {
        let t0 = Instant::now();
        let mut file = TokenFile::new("/token", Duration::from_secs(60));
        assert!(file.due(t0).is_none());
        let first = file.update(t0, Ok(b"first\n".to_vec())).unwrap();
        assert_eq!(first, "Bearer first");
        assert_eq!(file.due(t0 + Duration::from_secs(59)), Some(first.clone()));
        assert!(file.due(t0 + Duration::from_secs(60)).is_none());
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(file.update(t0 + Duration::from_secs(60), Err(missing)).unwrap(), first);
        let second = file.update(t0 + Duration::from_secs(61), Ok(b"second".to_vec())).unwrap();
        assert_eq!(second, "Bearer second");
    }

    #[test]
    fn a_first_read_that_fails_is_a_config_error_without_the_content() {
        let mut file = TokenFile::new("/token", DEFAULT_REFRESH);
        let err = file.update(Instant::now(), Ok(b"  \n".to_vec())).unwrap_err();
        assert!(matches!(&err, Error::Config { key, .. } if key == "tokenFile"), "{err}");
        let err = file.update(Instant::now(), Ok(vec![0xff, b's', b'3', b'c'])).unwrap_err();
        assert!(!err.to_string().contains("s3c"));
    }
}
