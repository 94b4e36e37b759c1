//! FTP replies: the reply framer and parser, the multi-line form, the PASV/EPSV address
//! finders, and the inspector as a client sees replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::ftp::FtpInspector;
use parley::proto::ftp::addr::{find_epsv_port, find_pasv_numbers};
use parley::proto::ftp::reply::{frame_reply, multiline_form, parse_reply};
use parley::proto::{Codec, Dir, Frame, Hooks};

fuzz_target!(|data: &[u8]| {
    let _ = frame_reply(data);
    let _ = parse_reply(data);
    let _ = multiline_form(data);
    let text = String::from_utf8_lossy(data);
    let _ = find_pasv_numbers(&text);
    let _ = find_epsv_port(&text);
    let mut i = FtpInspector::new();
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
