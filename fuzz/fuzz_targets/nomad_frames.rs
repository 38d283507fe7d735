//! Nomad's framed log stream (`{"Offset":..,"Data":"<base64>","File":..}` objects, heartbeats
//! `{}`): incremental decoding cut anywhere must agree with the one-shot decoder.
#![no_main]

use clustermanager_core::nomad::frames::{decode_all, FrameDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let limit = 1 << 16;
    let whole = decode_all(body, limit);
    let mut d = FrameDecoder::with_limit(limit);
    let mut frames = Vec::new();
    let mut failed = false;
    for piece in body.chunks(usize::from(first) + 1) {
        d.push(piece);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            break;
        }
    }
    if !failed && d.finish().is_ok() {
        if let Ok(whole) = whole {
            assert_eq!(whole.len(), frames.len(), "incremental and one-shot decoding disagree");
        }
    }
});
