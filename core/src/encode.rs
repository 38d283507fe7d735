//! Percent-encoding of request paths and query values, one implementation for both
//! orchestrators (`k8s::api::segment`, `nomad::query::encode_segment` and friends are this).
//!
//! Names and ids come from callers and may hold anything: a dispatched Nomad job ID holds `/`,
//! a label selector holds `=` and `,`. Encoded, they can never leave their path segment or
//! query value.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// [`SEGMENT`] with `/` and `:` left as they are: both are allowed in a query (RFC 3986 §3.4)
/// and keep values such as `batch/v1` or `app:web` readable.
const QUERY_VALUE: &AsciiSet = &SEGMENT.remove(b'/').remove(b':');

/// Percent-encode one path segment: everything but `A-Z a-z 0-9 - . _ ~`, so `/`, `?` and `#`
/// cannot escape it (UTF-8 bytes are encoded one by one, hex in upper case).
///
/// ```
/// use clustermanager_core::encode::segment;
/// assert_eq!(segment("acm-param/dispatch-1795639013-f06b5802"), "acm-param%2Fdispatch-1795639013-f06b5802");
/// assert_eq!(segment("a b?é"), "a%20b%3F%C3%A9");
/// ```
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encode a query value: as [`segment`], but `/` and `:` stay (space is `%20`, never
/// `+`, which servers would read as a literal plus or a space depending on their parser).
///
/// ```
/// use clustermanager_core::encode::query_value;
/// assert_eq!(query_value("job-name=printer,app in (a b)"), "job-name%3Dprinter%2Capp%20in%20%28a%20b%29");
/// assert_eq!(query_value("batch/v1:x"), "batch/v1:x");
/// ```
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;

    proptest::proptest! {
        #[test]
        fn segments_decode_back_and_hold_only_unreserved_characters(s in "\\PC{0,40}|.{0,40}") {
            let enc = segment(&s);
            proptest::prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{}", enc);
            proptest::prop_assert_eq!(percent_decode_str(&enc).collect::<Vec<u8>>(), s.as_bytes().to_vec());
        }

        #[test]
        fn query_values_parse_back_as_one_value(s in "\\PC{0,40}|.{0,40}") {
            let q = format!("k={}&z=1", query_value(&s));
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs, vec![("k".to_owned(), s), ("z".to_owned(), "1".to_owned())]);
        }
    }

    #[test]
    fn every_byte_outside_the_unreserved_set_is_encoded_in_upper_case_hex() {
        for b in 0u8..=0x7f {
            let s = char::from(b).to_string();
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            assert_eq!(segment(&s), if unreserved { s.clone() } else { format!("%{b:02X}") }, "{b:#x}");
            let kept = unreserved || b"/:".contains(&b);
            assert_eq!(query_value(&s), if kept { s.clone() } else { format!("%{b:02X}") }, "{b:#x}");
        }
    }
}
