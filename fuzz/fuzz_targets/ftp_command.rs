//! FTP commands: the command parser, the PORT/EPRT/TYPE argument parsers, and the
//! inspector as a server sees commands.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::proto::ftp::FtpInspector;
use parley::proto::ftp::addr::{parse_eprt, parse_port_args};
use parley::proto::ftp::command::{parse_command, parse_type};
use parley::proto::{Codec, Dir, Frame, Hooks};

fuzz_target!(|data: &[u8]| {
    let _ = parse_command(data);
    let text = String::from_utf8_lossy(data);
    let _ = parse_port_args(&text);
    let _ = parse_eprt(&text);
    let _ = parse_type(&text);
    let mut i = FtpInspector::new();
    i.inspect(Dir::ToClient, "main", b"220 ready\r\n", &mut Vec::new());
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
