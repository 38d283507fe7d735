//! Bounded text: how much of a server's (or a caller's) words an error or a reason keeps, and
//! the one function that cuts them ([`cap`]). Re-exported from [`error`](crate::error).

/// The most bytes of server- or input-provided text an error message keeps (a proxy's HTML
/// page, a 50 MB `Status.message`, a mistyped 10 MB value must not become a megabyte-long
/// error); the rest is replaced by a note of how much was cut.
pub const MAX_MESSAGE: usize = 4096;
/// The most bytes a cause's message, a reason or a field name keeps.
pub const MAX_CAUSE: usize = 512;

/// `text` cut to at most `max` bytes (at a character boundary), with `… (N bytes cut)`.
pub fn cap(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({cut} bytes cut)"));
    text
}
