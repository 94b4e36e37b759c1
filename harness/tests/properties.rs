//! Property tests (proptest): the framers and inspectors give the same frames and
//! findings whether a byte stream arrives all at once or one byte at a time (the engine
//! sees every split), and the codecs round-trip: FTP PORT arguments, and the payload
//! forms a scenario writes bytes with. The fixed tables in `proto/*/tests.rs` say what
//! each message must raise; these say that no split and no input changes the verdict
//! or panics.

use std::net::{Ipv4Addr, SocketAddrV4};

use parley::finding::Finding;
use parley::proto::ftp::FtpInspector;
use parley::proto::ftp::addr::{addr_to_port_args, parse_port_args, port_to_args};
use parley::proto::http::HttpInspector;
use parley::proto::{Codec, Dir, Frame, Inspector};
use parley::rules::Profile;
use proptest::prelude::*;

/// What a stream became: each message's length and the rules its inspection raised, and
/// what was left unframed at the end.
type Verdict = (Vec<(usize, Vec<String>)>, usize);

/// Feeds `stream` to `inspector` going `dir`, `piece` bytes at a time, framing and
/// inspecting every complete message as the engine does; the end of file comes last.
fn drive(inspector: &mut dyn Inspector, dir: Dir, stream: &[u8], piece: usize) -> Verdict {
    let mut buf: Vec<u8> = Vec::new();
    let mut messages = Vec::new();
    let mut fed = 0;
    loop {
        let n = piece.min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        let eof = fed == stream.len();
        loop {
            match inspector.frame(dir, "main", &buf, eof) {
                Frame::Complete(len) if len > 0 && len <= buf.len() => {
                    let msg: Vec<u8> = buf.drain(..len).collect();
                    let mut found: Vec<Finding> = Vec::new();
                    inspector.inspect(dir, "main", &msg, &mut found);
                    messages.push((len, found.iter().map(|f| f.rule.as_str().to_string()).collect()));
                }
                _ => break,
            }
        }
        if eof {
            return (messages, buf.len());
        }
    }
}

/// Streams made of protocol pieces and stray bytes.
fn stream(pieces: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(pieces).prop_map(|p| p.to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

const HTTP: &[&[u8]] = &[
    b"GET / HTTP/1.0\r\n",
    b"POST /post HTTP/1.1\r\n",
    b"HTTP/1.0 200 OK\r\n",
    b"HTTP/1.1 404 Not Found\r\n",
    b"Host: 127.0.0.1:8080\r\n",
    b"Content-Length: 2\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Type: application/json\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
    b"\r\n",
    b"\n",
    b"hi",
    b"{\"a\": 1}",
    b"2\r\nhi\r\n0\r\n\r\n",
    b" ",
    b":",
];

const FTP_REPLIES: &[&[u8]] = &[
    b"220 ready\r\n",
    b"220-first\r\n",
    b"220 last\r\n",
    b"331 password\r\n",
    b"227 Entering Passive Mode (127,0,0,1,155,171)\r\n",
    b"229 Extended (|||39851|)\r\n",
    b"150 here\r\n",
    b"226 done\r\n",
    b"211-features\r\n",
    b" MDTM\r\n",
    b"211 end\r\n",
    b"\n",
    b"\r",
    b"999 odd\r\n",
];

const FTP_COMMANDS: &[&[u8]] = &[
    b"USER anonymous\r\n",
    b"PASS guest@example.com\r\n",
    b"PORT 127,0,0,1,155,171\r\n",
    b"PORT 127,0,0,1,209.6,171\r\n",
    b"EPRT |1|127.0.0.1|39851|\r\n",
    b"PASV\r\n",
    b"LIST\r\n",
    b"TYPE I\r\n",
    b"RETR readme.txt\r\n",
    b"QUIT\r\n",
    b"user lower\r\n",
    b"\n",
    b"\r",
];

fn http(profile: Profile, dir: Dir) -> HttpInspector {
    let mut i = HttpInspector::new(profile);
    i.target("127.0.0.1", 8080);
    if dir == Dir::ToClient {
        i.inspect(
            Dir::ToServer,
            "main",
            b"GET / HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
            &mut Vec::new(),
        );
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn http_requests_frame_and_judge_the_same_in_any_split(bytes in stream(HTTP), piece in 1usize..8) {
        let whole = drive(&mut http(Profile::Strict11, Dir::ToServer), Dir::ToServer, &bytes, bytes.len().max(1));
        let split = drive(&mut http(Profile::Strict11, Dir::ToServer), Dir::ToServer, &bytes, piece);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn http_responses_frame_and_judge_the_same_in_any_split(bytes in stream(HTTP), piece in 1usize..8) {
        let whole = drive(&mut http(Profile::Http10, Dir::ToClient), Dir::ToClient, &bytes, bytes.len().max(1));
        let split = drive(&mut http(Profile::Http10, Dir::ToClient), Dir::ToClient, &bytes, piece);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn ftp_replies_frame_and_judge_the_same_in_any_split(bytes in stream(FTP_REPLIES), piece in 1usize..8) {
        let whole = drive(&mut FtpInspector::new(), Dir::ToClient, &bytes, bytes.len().max(1));
        let split = drive(&mut FtpInspector::new(), Dir::ToClient, &bytes, piece);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn ftp_commands_frame_and_judge_the_same_in_any_split(bytes in stream(FTP_COMMANDS), piece in 1usize..8) {
        let whole = drive(&mut FtpInspector::new(), Dir::ToServer, &bytes, bytes.len().max(1));
        let split = drive(&mut FtpInspector::new(), Dir::ToServer, &bytes, piece);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn port_arguments_round_trip(a in any::<[u8; 4]>(), port in any::<u16>()) {
        let addr = SocketAddrV4::new(Ipv4Addr::from(a), port);
        let args = addr_to_port_args(addr);
        prop_assert_eq!(parse_port_args(&args).ok(), Some(addr));
        prop_assert!(args.ends_with(&port_to_args(port)));
        let high: u16 = port_to_args(port).split(',').next().unwrap().parse().unwrap();
        prop_assert_eq!(high, port / 256);
    }

    #[test]
    fn port_arguments_never_panic(text in ".{0,40}") {
        let _ = parse_port_args(&text);
    }

    #[test]
    fn hex_and_base64_payloads_give_back_their_bytes(bytes in prop::collection::vec(any::<u8>(), 1..64)) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x} ")).collect();
        let b64 = base64_encode(&bytes);
        for form in [format!("{{ hex: \"{hex}\" }}"), format!("{{ base64: \"{b64}\" }}")] {
            let p: parley::scenario::payload::Payload = serde_yaml_from(&form);
            prop_assert_eq!(p.render(&std::collections::BTreeMap::new()).unwrap(), bytes.clone());
        }
    }

    #[test]
    fn repeat_and_octets_payloads_build_what_they_say(lo in any::<u8>(), len in 0u8..=255, times in 1usize..50) {
        let hi = lo.saturating_add(len);
        let p: parley::scenario::payload::Payload = serde_yaml_from(&format!("{{ octets: [{lo}, {hi}] }}"));
        let want: Vec<u8> = (lo..=hi).collect();
        prop_assert_eq!(p.render(&std::collections::BTreeMap::new()).unwrap(), want.clone());
        let p: parley::scenario::payload::Payload =
            serde_yaml_from(&format!("{{ repeat: {{ octets: [{lo}, {hi}] }}, times: {times} }}"));
        prop_assert_eq!(p.render(&std::collections::BTreeMap::new()).unwrap(), want.repeat(times));
        prop_assert_eq!(p.fixed_len(), Some(want.len() * times));
    }
}

/// Reads a value the way the scenario loader does.
fn serde_yaml_from<T: serde::de::DeserializeOwned>(text: &str) -> T {
    parley::scenario::de::from_yaml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
