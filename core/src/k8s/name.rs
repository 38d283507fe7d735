//! Client-side validation of Kubernetes object names, so that a bad name is reported as
//! [`Error::InvalidInput`] naming the argument, before any request is sent (and before it can
//! end up in a request path).
//!
//! - Namespaces, jobs, volumes and containers use **RFC 1123 labels**: at most 63 characters of
//!   lower-case letters, digits and `-`, starting and ending with a letter or digit. (A job's
//!   name is also the value of its pods' `job-name` label, which is limited to 63 characters.)
//! - Most other objects (pods, ConfigMaps, Secrets, claims) use **RFC 1123 subdomains**: at most
//!   253 characters, dot-separated labels.

use crate::error::Error;

/// Longest RFC 1123 label.
pub const MAX_LABEL: usize = 63;
/// Longest RFC 1123 subdomain.
pub const MAX_SUBDOMAIN: usize = 253;

fn invalid(field: &str, value: &str, problem: impl std::fmt::Display) -> Error {
    Error::InvalidInput { field: field.to_owned(), problem: format!("{value:?} {problem}") }
}

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Check that `value`, given as argument `field`, is an RFC 1123 label (`my-job`, `ns-1`).
///
/// ```
/// use clustermanager_core::k8s::name;
/// assert!(name::label("namespace", "team-a").is_ok());
/// let err = name::label("namespace", "Team_A").unwrap_err();
/// assert!(err.to_string().contains("namespace"));
/// ```
pub fn label(field: &str, value: &str) -> Result<(), Error> {
    const RULE: &str =
        "must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. 'my-name' or '123-abc')";
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(invalid(field, value, "is empty: a name is required"));
    }
    if bytes.len() > MAX_LABEL {
        return Err(invalid(
            field,
            value,
            format_args!("is {} characters long; at most {MAX_LABEL} are allowed", bytes.len()),
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| !(alnum(b) || b == b'-')) {
        let c = value[pos..].chars().next().unwrap_or('?');
        return Err(invalid(field, value, format_args!("contains {c:?} at position {pos}: a name {RULE}")));
    }
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(invalid(field, value, format_args!("starts or ends with '-': a name {RULE}")));
    }
    Ok(())
}

/// Check that `value`, given as argument `field`, is an RFC 1123 subdomain (`my-pod-x7k2p`,
/// `config.v1`).
///
/// ```
/// use clustermanager_core::k8s::name;
/// assert!(name::subdomain("pod", "hello-ok-mnnkx").is_ok());
/// assert!(name::subdomain("pod", "a..b").is_err());
/// ```
pub fn subdomain(field: &str, value: &str) -> Result<(), Error> {
    const RULE: &str = "must consist of lower case letters, digits, '-' or '.', and each dot-separated part must start and end with a letter or digit (e.g. 'example.com')";
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(invalid(field, value, "is empty: a name is required"));
    }
    if bytes.len() > MAX_SUBDOMAIN {
        return Err(invalid(
            field,
            value,
            format_args!("is {} characters long; at most {MAX_SUBDOMAIN} are allowed", bytes.len()),
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| !(alnum(b) || b == b'-' || b == b'.')) {
        let c = value[pos..].chars().next().unwrap_or('?');
        return Err(invalid(field, value, format_args!("contains {c:?} at position {pos}: a name {RULE}")));
    }
    for part in value.split('.') {
        let p = part.as_bytes();
        if p.is_empty() || !alnum(p[0]) || !alnum(p[p.len() - 1]) {
            return Err(invalid(field, value, format_args!("is not a valid name: it {RULE}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "abc", "a-b", "0", "123-abc", &"a".repeat(63)] {
            assert!(label("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "é", &"a".repeat(64), "a b"] {
            let err = label("job name", bad).err();
            assert!(
                matches!(err, Some(Error::InvalidInput { ref field, .. }) if field == "job name"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["a", "a.b", "hello-ok-mnnkx", "a-1.b-2", &"a".repeat(253)] {
            assert!(subdomain("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a.-b", "A", "a_b", &"a".repeat(254)] {
            assert!(subdomain("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_ascii_does_not_panic() {
        assert!(label("n", "aé").is_err());
        assert!(subdomain("n", "ü.b").is_err());
    }
}
