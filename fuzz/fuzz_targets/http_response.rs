//! The HTTP inspector on responses, after a GET, a HEAD or an HTTP/1.1 request, framed
//! whole, at a split point, and as they arrive with a kept scan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::http::HttpInspector;
use parley::proto::{Codec, Dir, Frame, Hooks, Scan};
use parley::rules::Profile;

const ASKED: [&[u8]; 3] = [
    b"GET /get HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
    b"HEAD /hello.txt HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
];

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
    i.inspect(
        Dir::ToServer,
        "main",
        ASKED[usize::from(first >> 1) % 3],
        &mut Vec::new(),
    );
    framed_as_it_arrives(&i, Dir::ToClient, bytes, first & 4 == 0);
    let split = usize::from(first) % (bytes.len() + 1);
    let _ = i.frame(Dir::ToClient, "main", &bytes[..split], false);
    let mut found = Vec::new();
    match i.frame(Dir::ToClient, "main", bytes, first & 4 == 0) {
        Frame::Complete(n) => {
            assert!(n <= bytes.len(), "framed {n} of {} bytes", bytes.len());
            let view = i.inspect(Dir::ToClient, "main", &bytes[..n], &mut found);
            let _ = i.literal_matches(Dir::ToClient, b"HTTP/1.0 200 OK\r\n\r\n", &bytes[..n], &view);
            let _ = i.trailing(Dir::ToClient, "main", &bytes[n..]);
        }
        Frame::Partial => {
            let _ = i.incomplete(Dir::ToClient, "main", bytes);
        }
    }
    let _ = i.closed_while_sending(Dir::ToClient, "main");
    let _ = i.early_close_rule(Dir::ToClient, "main");
    i.finish(Dir::ToClient, &mut found);
});
