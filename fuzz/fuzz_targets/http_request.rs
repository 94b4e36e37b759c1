//! The HTTP inspector on requests: framing (whole, at a split point taken from the input,
//! and as it arrives with a kept scan), inspection, and the hooks for messages that never
//! end or are followed by more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::http::HttpInspector;
use parley::proto::{Codec, Dir, Frame, Hooks, Scan};
use parley::rules::Profile;

/// Frames `bytes` going `dir` as it arrives, one byte at a time with one kept scan (the
/// sender closing after the last when `eof`): each answer must be the one framing that
/// prefix whole gives.
fn framed_as_it_arrives(i: &HttpInspector, dir: Dir, bytes: &[u8], eof: bool) {
    let mut scan = Scan::default();
    for end in 0..=bytes.len() {
        let closed = eof && end == bytes.len();
        let resumed = i.frame_resuming(dir, "main", &bytes[..end], closed, &mut scan);
        assert_eq!(resumed, i.frame(dir, "main", &bytes[..end], closed), "at {end} bytes");
        if resumed != Frame::Partial {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let profile = if first & 1 == 0 {
        Profile::Http10
    } else {
        Profile::Strict11
    };
    let mut i = HttpInspector::new(profile);
    i.target("127.0.0.1", 8080);
    framed_as_it_arrives(&i, Dir::ToServer, bytes, true);
    let split = usize::from(first) % (bytes.len() + 1);
    let _ = i.frame(Dir::ToServer, "main", &bytes[..split], false);
    let mut found = Vec::new();
    match i.frame(Dir::ToServer, "main", bytes, true) {
        Frame::Complete(n) => {
            assert!(n <= bytes.len(), "framed {n} of {} bytes", bytes.len());
            let view = i.inspect(Dir::ToServer, "main", &bytes[..n], &mut found);
            let _ = i.literal_matches(Dir::ToServer, bytes, &bytes[..n], &view);
            let _ = i.trailing(Dir::ToServer, "main", &bytes[n..]);
        }
        Frame::Partial => {
            let _ = i.incomplete(Dir::ToServer, "main", bytes);
            i.inspect(Dir::ToServer, "main", bytes, &mut found);
        }
    }
    let _ = i.early_close_rule(Dir::ToServer, "main");
    i.finish(Dir::ToServer, &mut found);
});
