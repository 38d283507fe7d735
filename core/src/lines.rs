//! A bounded, incremental line splitter: fed byte chunks cut anywhere (mid-line, mid-UTF-8
//! character), it hands back each complete `\n`-terminated line exactly once, without
//! re-scanning bytes it has already seen. The Kubernetes watch, the Kubernetes log follow and the
//! Nomad event stream are all built on it.

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
}

impl LineSplitter {
    /// A splitter whose lines may be at most `max_line` bytes; `what` names the stream in errors.
    pub fn new(what: &'static str, max_line: usize) -> Self {
        LineSplitter { buf: BytesMut::new(), scanned: 0, max_line, what }
    }

    /// Add a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without its `\n` and any `\r`), `Ok(None)` if none is complete
    /// yet, or an error if the pending line is longer than the limit.
    pub fn next_line(&mut self) -> Result<Option<Bytes>, Error> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let end = self.scanned + pos;
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
                    return Err(self.too_long());
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
        let mut s = LineSplitter::new("test", 1024);
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
}
