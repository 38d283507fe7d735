//! A bounded, incremental line splitter: fed byte chunks cut anywhere (mid-line, mid-UTF-8
//! character), it hands back each complete `\n`-terminated line exactly once, without
//! re-scanning bytes it has already seen. The Kubernetes watch, the Kubernetes log follow and the
//! Nomad event stream are all built on it.
//!
//! A line longer than the limit is an error by default ([`LineSplitter::new`]): a framed record
//! (a watch event, a stream event) cut in two cannot be decoded. Log streams instead use
//! [`LineSplitter::splitting_long_lines`], which hands an over-long line out in pieces of at most
//! the limit: a program printing a huge line must not end the follow of its log.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;

/// Default limit on one line: 16 MiB (a Kubernetes object is at most ~1.5 MiB in etcd; a watch
/// event wraps one).
pub const DEFAULT_MAX_LINE: usize = 16 << 20;

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineSplitter {
    buf: BytesMut,
    /// How far `buf` has been searched for a newline already.
    scanned: usize,
    max_line: usize,
    what: &'static str,
    /// Cut over-long lines into pieces instead of failing.
    split_long: bool,
}

impl LineSplitter {
    /// A splitter whose lines may be at most `max_line` bytes; `what` names the stream in errors.
    pub fn new(what: &'static str, max_line: usize) -> Self {
        LineSplitter { buf: BytesMut::new(), scanned: 0, max_line, what, split_long: false }
    }

    /// A splitter for text where an over-long line is not an error: a line longer than
    /// `max_line` bytes is handed out in pieces of at most `max_line` bytes (the last piece ends
    /// at the line end), each as if it were a line of its own. A cut falls before a UTF-8
    /// character that would straddle it, when the text is UTF-8 there, so the pieces decode
    /// cleanly. The buffer stays bounded by `max_line` plus one chunk. For log streams; framed
    /// records (watch events) keep the [`new`](Self::new) behaviour. `max_line` is at least 1.
    pub fn splitting_long_lines(what: &'static str, max_line: usize) -> Self {
        LineSplitter { split_long: true, ..Self::new(what, max_line.max(1)) }
    }

    /// Add a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without its `\n` and any `\r`), `Ok(None)` if none is complete
    /// yet, or an error if the pending line is longer than the limit (in the
    /// [`splitting_long_lines`](Self::splitting_long_lines) mode: the next piece of it instead).
    pub fn next_line(&mut self) -> Result<Option<Bytes>, Error> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let end = self.scanned + pos;
                let len = if end > 0 && self.buf[end - 1] == b'\r' { end - 1 } else { end };
                if self.split_long && len > self.max_line {
                    let piece = self.cut_piece();
                    // The newline is still ahead, at a known place.
                    self.scanned = end - piece.len();
                    return Ok(Some(piece));
                }
                let mut line = self.buf.split_to(end + 1).freeze();
                self.scanned = 0;
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if line.len() > self.max_line {
                    // The line is consumed; what follows it stays for the next call.
                    return Err(self.too_long_error(&line));
                }
                Ok(Some(line))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max_line {
                    if !self.split_long {
                        return Err(self.too_long());
                    }
                    // A line of exactly the limit whose `\r\n` is half-received is not too long.
                    if self.buf.len() == self.max_line + 1 && self.buf.last() == Some(&b'\r') {
                        return Ok(None);
                    }
                    let piece = self.cut_piece();
                    self.scanned = self.buf.len();
                    return Ok(Some(piece));
                }
                Ok(None)
            }
        }
    }

    /// At the end of the stream: the unterminated last line, if any.
    pub fn finish(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        if self.buf.is_empty() {
            None
        } else {
            let rest = self.buf.split().freeze();
            Some(rest)
        }
    }

    /// Bytes buffered but not yet returned.
    pub fn pending(&self) -> usize {
        self.buf.remaining()
    }

    /// The first piece of an over-long pending line: `max_line` bytes, or up to 3 fewer so as not
    /// to cut a UTF-8 character in two. The caller knows `buf` holds more than `max_line` bytes.
    fn cut_piece(&mut self) -> Bytes {
        let is_continuation = |b: u8| b & 0xC0 == 0x80;
        let mut cut = self.max_line;
        // Back up over at most 3 continuation bytes to the start of the straddling character.
        while cut > 0 && self.max_line - cut < 3 && is_continuation(self.buf[cut]) {
            cut -= 1;
        }
        // Not UTF-8 here (or the limit is tiny): cut at the limit, the bytes are passed on as they are.
        if cut == 0 || is_continuation(self.buf[cut]) {
            cut = self.max_line;
        }
        self.buf.split_to(cut).freeze()
    }

    /// The pending (unterminated) line is too long: report it and drop it.
    fn too_long(&mut self) -> Error {
        let error = self.too_long_error(&self.buf);
        self.buf.clear();
        self.scanned = 0;
        error
    }

    fn too_long_error(&self, line: &[u8]) -> Error {
        Error::Decode {
            what: self.what.to_owned(),
            message: format!("a line is longer than the limit of {} bytes", self.max_line),
            excerpt: crate::error::excerpt(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        collect(LineSplitter::new("test", 1024), chunks)
    }

    /// Every line and piece the splitter hands out (stopping at an error), then the rest.
    fn collect(mut s: LineSplitter, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for c in chunks {
            s.push(c);
            while let Some(l) = s.next_line().ok().flatten() {
                out.push(l.to_vec());
            }
        }
        if let Some(rest) = s.finish() {
            out.push(rest.to_vec());
        }
        out
    }

    #[test]
    fn splits_anywhere() {
        let text = "héllo\r\nworld\n\nlast";
        let expected = all_lines(&[text.as_bytes()]);
        assert_eq!(expected, vec![b"h\xc3\xa9llo".to_vec(), b"world".to_vec(), b"".to_vec(), b"last".to_vec()]);
        for cut in 0..=text.len() {
            let (a, b) = text.as_bytes().split_at(cut);
            assert_eq!(all_lines(&[a, b]), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(all_lines(&bytes), expected);
    }

    #[test]
    fn over_long_line_is_an_error() {
        let mut s = LineSplitter::new("test", 4);
        s.push(b"12345");
        assert!(matches!(s.next_line(), Err(Error::Decode { .. })));
        s.push(b"ok\n");
        assert_eq!(s.next_line().ok().flatten().as_deref(), Some(&b"ok"[..]));
        // A complete over-long line is reported with its own start; the lines after it stay.
        s.push(b"abcdefgh\nnext\n");
        match s.next_line() {
            Err(Error::Decode { excerpt, .. }) => assert_eq!(excerpt, "abcdefgh"),
            other => panic!("expected a Decode error, got {other:?}"),
        }
        assert_eq!(s.next_line().ok().flatten().as_deref(), Some(&b"next"[..]));
    }

    /// Feeds `text` split at every offset and one byte at a time; all must give the same pieces.
    fn pieces_split_anywhere(max_line: usize, text: &[u8]) -> Vec<Vec<u8>> {
        let whole = collect(LineSplitter::splitting_long_lines("log", max_line), &[text]);
        for cut in 0..=text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(collect(LineSplitter::splitting_long_lines("log", max_line), &[a, b]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(collect(LineSplitter::splitting_long_lines("log", max_line), &bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn splitting_mode_hands_out_an_over_long_line_in_pieces() {
        let text = b"short\n0123456789abc\nfits\r\n12345678\r\nlast-is-long";
        let pieces = pieces_split_anywhere(4, text);
        let expected: Vec<&[u8]> = vec![
            b"shor", b"t", // 5 bytes: cut at 4
            b"0123", b"4567", b"89ab", b"c",    // 13 bytes: three cuts
            b"fits", // exactly the limit before its \r\n: not cut, no empty piece
            b"1234", b"5678", // a multiple of the limit: no empty piece
            b"last", b"-is-", b"long",
        ];
        assert_eq!(pieces, expected.iter().map(|p| p.to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn splitting_mode_does_not_cut_a_utf8_character() {
        // "aé€😀b": 1 + 2 + 3 + 4 + 1 bytes; every piece decodes as UTF-8 and together they are the line.
        let line = "aé€😀b€€";
        let text = format!("{line}\nnext\n");
        for max_line in 4..=line.len() + 1 {
            let pieces = pieces_split_anywhere(max_line, text.as_bytes());
            let (line_pieces, rest) = pieces.split_at(pieces.len() - 1);
            assert_eq!(rest, [b"next".to_vec()]);
            let mut joined = String::new();
            for p in line_pieces {
                assert!(p.len() <= max_line && !p.is_empty(), "max {max_line}: {p:?}");
                joined.push_str(std::str::from_utf8(p).unwrap());
            }
            assert_eq!(joined, line, "max {max_line}");
        }
    }

    #[test]
    fn splitting_mode_passes_bytes_that_are_not_utf8() {
        // Only continuation bytes: no character start to back up to, so the cut is at the limit.
        let pieces = pieces_split_anywhere(4, b"\x80\x80\x80\x80\x80\x80\n");
        assert_eq!(pieces, vec![vec![0x80; 4], vec![0x80; 2]]);
    }

    #[test]
    fn splitting_mode_keeps_the_buffer_bounded() {
        let mut s = LineSplitter::splitting_long_lines("log", 16);
        let mut handed_out = 0;
        for _ in 0..1000 {
            s.push(b"0123456789");
            while let Some(p) = s.next_line().unwrap() {
                assert_eq!(p.len(), 16);
                handed_out += p.len();
            }
            assert!(s.pending() <= 16 + 10, "{}", s.pending());
        }
        assert_eq!(handed_out + s.pending(), 10_000);
    }

    #[test]
    fn the_default_mode_still_fails_where_the_splitting_mode_cuts() {
        // The watch stream relies on this: a cut event would not decode.
        let text = b"0123456789abc\nok\n";
        let mut s = LineSplitter::new("watch", 4);
        s.push(text);
        assert!(matches!(s.next_line(), Err(Error::Decode { .. })));
    }
}
