//! FTP commands: the command parser, the PORT/EPRT/TYPE argument parsers, and the
//! inspector as a server sees commands, framed whole and as they arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::ftp::FtpInspector;
use parley::proto::ftp::addr::{parse_eprt, parse_port_args};
use parley::proto::ftp::command::{parse_command, parse_type};
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
    let _ = parse_command(data);
    let text = String::from_utf8_lossy(data);
    let _ = parse_port_args(&text);
    let _ = parse_eprt(&text);
    let _ = parse_type(&text);
    let mut i = FtpInspector::new();
    i.inspect(Dir::ToClient, "main", b"220 ready\r\n", &mut Vec::new());
    framed_as_it_arrives(&i, Dir::ToServer, data);
    let mut rest = data;
    let mut found = Vec::new();
    while let Frame::Complete(n) = i.frame(Dir::ToServer, "main", rest, true) {
        assert!(n <= rest.len(), "framed {n} of {} bytes", rest.len());
        if n == 0 {
            break;
        }
        i.inspect(Dir::ToServer, "main", &rest[..n], &mut found);
        let _ = i.premature(Dir::ToServer, "main", &rest[..n], b"150 here\r\n", true);
        rest = &rest[n..];
    }
    i.finish(Dir::ToServer, &mut found);
});
