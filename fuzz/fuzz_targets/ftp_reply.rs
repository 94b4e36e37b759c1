//! FTP replies: the reply framer and parser, the multi-line form, the PASV/EPSV address
//! finders, and the inspector as a client sees replies, framed whole and as it arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::ftp::FtpInspector;
use parley::proto::ftp::addr::{find_epsv_port, find_pasv_numbers};
use parley::proto::ftp::reply::{frame_reply, multiline_form, parse_reply};
use parley::proto::{Codec, Dir, Frame, Hooks, Scan};

/// Frames `data` going `dir` on `main` as it arrives, one byte at a time with one kept
/// scan: each answer must be the one framing that prefix whole gives.
fn framed_as_it_arrives(i: &FtpInspector, dir: Dir, data: &[u8]) {
    let mut scan = Scan::default();
    for end in 0..=data.len() {
        let resumed = i.frame_resuming(dir, "main", &data[..end], false, &mut scan);
        assert_eq!(resumed, i.frame(dir, "main", &data[..end], false), "at {end} bytes");
        if resumed != Frame::Partial {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = frame_reply(data);
    let _ = parse_reply(data);
    let _ = multiline_form(data);
    let text = String::from_utf8_lossy(data);
    let _ = find_pasv_numbers(&text);
    let _ = find_epsv_port(&text);
    let mut i = FtpInspector::new();
    framed_as_it_arrives(&i, Dir::ToClient, data);
    let mut rest = data;
    let mut found = Vec::new();
    while let Frame::Complete(n) = i.frame(Dir::ToClient, "main", rest, true) {
        assert!(n <= rest.len(), "framed {n} of {} bytes", rest.len());
        if n == 0 {
            break;
        }
        i.inspect(Dir::ToClient, "main", &rest[..n], &mut found);
        rest = &rest[n..];
    }
    let _ = i.incomplete(Dir::ToClient, "main", rest);
    i.finish(Dir::ToClient, &mut found);
});
