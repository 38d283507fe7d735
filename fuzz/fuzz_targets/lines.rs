//! The line splitter under every line-based stream (watches, Nomad events, plain logs), in both
//! modes, with the input cut into pieces where its first bytes say.
#![no_main]

use clustermanager_core::lines::LineSplitter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let max = usize::from(first % 64) + 1;
    for mut s in [LineSplitter::new("fuzz", max), LineSplitter::splitting_long_lines("fuzz", max)] {
        let mut total = 0usize;
        for piece in body.chunks(usize::from(first / 64) * 3 + 1) {
            s.push(piece);
            loop {
                match s.next_line() {
                    Ok(Some(line)) => {
                        assert!(line.len() <= max + 2, "a line longer than the limit came out");
                        total += line.len();
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let _ = s.finish();
        assert!(total <= body.len());
    }
});
