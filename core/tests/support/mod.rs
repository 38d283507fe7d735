//! What the config tests share: the test PKI's PEM files, base64, and the check that a loader
//! failed with a `Config` error (returning the key it names and its text).

#![allow(dead_code, clippy::result_large_err)] // each test file uses its own part

use base64::Engine as _;
use clustermanager_core::{Config, Error, Result};

/// A client certificate signed by [`CA`].
pub const CERT: &str = include_str!("../data/test-client-cert.pem");
/// The private key of [`CERT`] (PKCS#8).
pub const KEY: &str = include_str!("../data/test-client-key.pem");
/// The test CA.
pub const CA: &str = include_str!("../data/test-ca-cert.pem");

/// Standard base64, as the seed's dictionary and kubeconfig `*-data` fields carry PEM.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The key a `Config` error names, and the error's text; panics on success or another error.
pub fn config_err(r: Result<Config>) -> (String, String) {
    match r {
        Err(e @ Error::Config { .. }) => {
            let text = e.to_string();
            let Error::Config { key, .. } = e else { unreachable!() };
            (key, text)
        }
        Err(other) => panic!("expected a Config error, got {other}"),
        Ok(c) => panic!("expected a Config error, got {c:?}"),
    }
}
