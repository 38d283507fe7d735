//! The decoder of Nomad's framed file streams (`/v1/client/fs/logs` and `/v1/client/fs/stream`
//! without `plain=true`).
//!
//! The body is a sequence of JSON objects concatenated with **no separator**:
//! `{"Data":"aGVsbG8K","File":"alloc/logs/main.stdout.0","Offset":6}{}{"Data":...}`. `Data` is
//! base64, `Offset` the file offset after the frame, `FileEvent` is `"file deleted"` or
//! `"file truncated"` when the file changed under the stream, and `{}` is a heartbeat the server
//! sends about every second. Nomad frames hold at most 64 KiB of data.
//!
//! [`FrameDecoder`] is fed chunks cut anywhere (in the middle of a frame, of a base64 word or of a
//! UTF-8 character). A frame can only end with a `}`, so it parses (with serde_json, which finds
//! the object's end in the same pass) only when a chunk brought one: every frame is parsed about
//! once, whatever the chunking, and a frame longer than the limit is refused instead of being
//! buffered without bound.
//!
//! ```
//! use clustermanager_core::nomad::frames::FrameDecoder;
//! let mut decoder = FrameDecoder::new();
//! decoder.push(br#"{"Data":"aGVsbG8K","File":"alloc/logs/main.stdout.0","Off"#);
//! assert!(decoder.next_frame().unwrap().is_none()); // not complete yet
//! decoder.push(br#"set":6}{}"#);
//! let frame = decoder.next_frame().unwrap().unwrap();
//! assert_eq!(&frame.data[..], b"hello\n");
//! assert_eq!(frame.offset, 6);
//! assert!(decoder.next_frame().unwrap().is_none()); // the `{}` heartbeat is skipped
//! decoder.finish().unwrap();
//! ```

use std::borrow::Cow;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use serde::Deserialize;

use crate::error::{Error, TransportErrorKind};

/// Default limit on one encoded frame: 1 MiB (Nomad frames carry at most 64 KiB of data, about
/// 87 KiB once base64-encoded).
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// A change to the streamed file that Nomad reports in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// `"file deleted"`: the file was removed (log rotation or the allocation directory was
    /// garbage-collected). For logs the server goes on with the next log file, if any.
    Deleted,
    /// `"file truncated"`: the file was truncated; the frame's data starts again at offset 0.
    Truncated,
    /// Any other event name, as sent.
    Other(String),
}

impl FileEvent {
    fn parse(name: &str) -> Option<FileEvent> {
        match name {
            "" => None,
            "file deleted" => Some(FileEvent::Deleted),
            "file truncated" => Some(FileEvent::Truncated),
            other => Some(FileEvent::Other(other.to_owned())),
        }
    }
}

/// One decoded frame of a framed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The file's bytes carried by this frame (already base64-decoded; may be empty for a frame
    /// that only reports a [`FileEvent`]).
    pub data: Bytes,
    /// The file the data comes from, relative to the allocation directory
    /// (`alloc/logs/main.stdout.0`).
    pub file: String,
    /// The offset in `file` after this frame's data.
    pub offset: i64,
    /// A change to the file, if the server reported one.
    pub file_event: Option<FileEvent>,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "Data", default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(rename = "File", default, borrow)]
    file: Option<Cow<'a, str>>,
    #[serde(rename = "Offset", default)]
    offset: i64,
    #[serde(rename = "FileEvent", default, borrow)]
    file_event: Option<Cow<'a, str>>,
}

/// Incremental decoder of a framed stream; see the [module documentation](self).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// Whether a `}` arrived since the last attempt that found the frame incomplete: a frame can
    /// only complete with its closing brace, so parsing is retried only then.
    may_be_complete: bool,
    max_frame: usize,
    heartbeats: u64,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder with the default frame limit ([`DEFAULT_MAX_FRAME`]).
    pub fn new() -> Self {
        FrameDecoder::with_limit(DEFAULT_MAX_FRAME)
    }

    /// A decoder refusing encoded frames longer than `max_frame` bytes.
    pub fn with_limit(max_frame: usize) -> Self {
        FrameDecoder { buf: BytesMut::new(), may_be_complete: false, max_frame, heartbeats: 0 }
    }

    /// Add a chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.may_be_complete |= chunk.contains(&b'}');
        self.buf.extend_from_slice(chunk);
    }

    /// The next frame with data or a file event (heartbeats are skipped), `Ok(None)` when no
    /// complete frame is buffered, or a [`Error::Decode`] for garbage or an over-long frame.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            let skip = self.buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            self.buf.advance(skip);
            match self.buf.first() {
                None => return Ok(None),
                Some(b'{') => {}
                Some(_) => return Err(self.garbage("expected `{` at the start of a frame")),
            }
            if !self.may_be_complete {
                return self.incomplete();
            }
            // serde_json finds where the object ends and parses it in the same pass.
            let mut objects = serde_json::Deserializer::from_slice(&self.buf).into_iter::<RawFrame<'_>>();
            let parsed = match objects.next() {
                Some(Ok(raw)) => Some((decode_frame(raw), objects.byte_offset())),
                Some(Err(e)) if e.is_eof() => None,
                Some(Err(e)) => {
                    let err = Error::decode("Nomad framed stream frame", e, &self.buf);
                    self.reset();
                    return Err(err);
                }
                None => None,
            };
            let Some((frame, used)) = parsed else {
                self.may_be_complete = false;
                return self.incomplete();
            };
            if used > self.max_frame {
                return Err(self.too_long());
            }
            self.buf.advance(used);
            match frame {
                Ok(Some(frame)) => return Ok(Some(frame)),
                Ok(None) => self.heartbeats += 1,
                Err(err) => {
                    self.reset();
                    return Err(err);
                }
            }
        }
    }

    fn incomplete(&mut self) -> Result<Option<Frame>, Error> {
        if self.buf.len() > self.max_frame {
            return Err(self.too_long());
        }
        Ok(None)
    }

    /// At the end of the body: an [`Error::Transport`] of kind
    /// [`Truncated`](TransportErrorKind::Truncated) if a frame was cut off.
    pub fn finish(&mut self) -> Result<(), Error> {
        let pending = &self.buf[..];
        if pending.iter().all(u8::is_ascii_whitespace) {
            self.reset();
            return Ok(());
        }
        let message = format!(
            "the framed stream ended in the middle of a frame ({} bytes pending: {:?})",
            pending.len(),
            crate::error::excerpt(pending)
        );
        self.reset();
        Err(Error::transport(TransportErrorKind::Truncated, message))
    }

    /// How many heartbeats (`{}`) were skipped so far.
    pub fn heartbeats(&self) -> u64 {
        self.heartbeats
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.may_be_complete = false;
    }

    fn garbage(&mut self, message: &str) -> Error {
        let err = Error::decode("Nomad framed stream", message, &self.buf);
        self.reset();
        err
    }

    fn too_long(&mut self) -> Error {
        let err = Error::decode(
            "Nomad framed stream",
            format!("a frame is longer than the limit of {} bytes", self.max_frame),
            &self.buf,
        );
        self.reset();
        err
    }
}

/// Turn one parsed object into a frame; `None` for a heartbeat.
fn decode_frame(frame: RawFrame<'_>) -> Result<Option<Frame>, Error> {
    let data = frame.data.as_deref().unwrap_or("");
    let file = frame.file.as_deref().unwrap_or("");
    let file_event = FileEvent::parse(frame.file_event.as_deref().unwrap_or(""));
    if data.is_empty() && file.is_empty() && frame.offset == 0 && file_event.is_none() {
        return Ok(None);
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Error::decode("the base64 Data of a Nomad frame", e, data.as_bytes()))?;
    Ok(Some(Frame { data: Bytes::from(data), file: file.to_owned(), offset: frame.offset, file_event }))
}

/// Decode a whole framed body (a non-follow framed log) at once.
pub fn decode_all(body: &[u8], max_frame: usize) -> Result<Vec<Frame>, Error> {
    let mut decoder = FrameDecoder::with_limit(max_frame);
    decoder.push(body);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame()? {
        frames.push(frame);
    }
    decoder.finish()?;
    Ok(frames)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        r#"{"Data":"bGluZSAxCg==","File":"alloc/logs/main.stdout.0","Offset":7}"#,
        "{}",
        r#"{"Data":"aMOpbGxvIHsifSBcIgo=","File":"alloc/logs/main.stdout.0","Offset":19}"#,
        "\n{}  ",
        r#"{"File":"alloc/logs/main.stdout.0","FileEvent":"file truncated","Offset":0}"#,
    );

    fn decode_chunks(chunks: &[&[u8]]) -> Result<Vec<Frame>, Error> {
        let mut d = FrameDecoder::with_limit(256);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(f) = d.next_frame()? {
                out.push(f);
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn decodes_frames_and_skips_heartbeats() {
        let frames = decode_chunks(&[STREAM.as_bytes()]).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(&frames[0].data[..], b"line 1\n");
        assert_eq!(frames[0].offset, 7);
        assert_eq!(&frames[1].data[..], "héllo {\"} \\\"\n".as_bytes());
        assert_eq!(frames[2].file_event, Some(FileEvent::Truncated));
        assert!(frames[2].data.is_empty());
    }

    #[test]
    fn any_split_gives_the_same_frames() {
        let whole = decode_chunks(&[STREAM.as_bytes()]).unwrap();
        let bytes = STREAM.as_bytes();
        for k in 0..=bytes.len() {
            let (a, b) = bytes.split_at(k);
            assert_eq!(decode_chunks(&[a, b]).unwrap(), whole, "split at {k}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_chunks(&singles).unwrap(), whole);
    }

    #[test]
    fn garbage_is_a_decode_error_with_excerpt() {
        let err = decode_chunks(&[b"{}not json"]).unwrap_err();
        let Error::Decode { excerpt, .. } = err else { panic!("{err:?}") };
        assert!(excerpt.starts_with("not json"));
        assert!(matches!(decode_chunks(&[br#"{"Data":"%%%"}"#]), Err(Error::Decode { .. })));
        assert!(matches!(decode_chunks(&[br#"{"Data":1}"#]), Err(Error::Decode { .. })));
    }

    #[test]
    fn over_long_frame_is_refused() {
        let long = format!(r#"{{"Data":"{}"}}"#, "A".repeat(400));
        let err = decode_chunks(&[long.as_bytes()]).unwrap_err();
        assert!(matches!(err, Error::Decode { ref message, .. } if message.contains("limit")), "{err:?}");
        // also when it arrives a byte at a time (refused before the frame ends)
        let mut d = FrameDecoder::with_limit(256);
        let mut failed_at = None;
        for (i, b) in long.as_bytes().iter().enumerate() {
            d.push(std::slice::from_ref(b));
            if d.next_frame().is_err() {
                failed_at = Some(i);
                break;
            }
        }
        assert_eq!(failed_at, Some(256));
    }

    #[test]
    fn truncated_end_is_a_transport_error() {
        let err = decode_chunks(&[br#"{"Data":"bGlu"#]).unwrap_err();
        assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Truncated, .. }), "{err:?}");
        assert!(decode_chunks(&[b"{}\n  "]).unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn random_data_round_trips(datas in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..6), cuts in proptest::collection::vec(0usize..400, 0..6)) {
            let mut body = String::new();
            let mut offset = 0i64;
            for d in &datas {
                offset += d.len() as i64;
                body.push_str(&format!(r#"{{"Data":"{}","File":"f","Offset":{offset}}}{{}}"#, base64::engine::general_purpose::STANDARD.encode(d)));
            }
            let bytes = body.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for c in cuts { chunks.push(&bytes[last..c]); last = c; }
            chunks.push(&bytes[last..]);
            let frames = decode_chunks(&chunks).unwrap();
            let got: Vec<Vec<u8>> = frames.iter().map(|f| f.data.to_vec()).collect();
            // frames with empty data and a file are still frames (not heartbeats)
            proptest::prop_assert_eq!(got, datas);
        }
    }
}
