//! Framing time of large messages delivered in small pieces, sans-I/O: the framers the
//! engine calls on every read, fed a growing buffer as a slow peer would fill it.
//!
//! `cargo bench -p parley-tests --bench framing` frames, for 1, 4 and 16 MiB: a multi-line
//! FTP reply of 64-byte lines, one long FTP command line, an HTTP request head of many
//! header fields, an HTTP response with a chunked body of 1 KiB chunks, and a raw message
//! cut by a `contains:` needle or by a `regex:` (`END\r\n$`). Each message arrives 1 byte at a time and one [`Scan`] is
//! kept across the looks, as the engine keeps one per wait: the time per MiB must stay
//! flat as the size grows (linear time). For contrast, the same messages in 4 KiB pieces
//! re-framed from their start on every look (a fresh scan each time, which is what the
//! engine did before framing could resume) at 1 and 4 MiB: the time per MiB grows with
//! the size (quadratic time); 16 MiB is left out there, it takes minutes. Prints the
//! medians of 3 rounds, in ms per MiB.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use parley::engine::matcher::{Framer, Wanted};
use parley::proto::ftp::FtpInspector;
use parley::proto::http::HttpInspector;
use parley::proto::{Codec, Dir, Frame, Framing, MAIN, Scan};
use parley::rules::Profile;

const MIB: usize = 1024 * 1024;
/// Message sizes, in MiB.
const SIZES: [usize; 3] = [1, 4, 16];
/// Rounds per case and size; the median is shown.
const ROUNDS: usize = 3;

/// A framer fed a growing buffer.
type FrameFn = Box<dyn Fn(&[u8], &mut Scan) -> Frame>;

/// One kind of large message: how to make one of about `n` bytes, and its framer.
struct Case {
    name: &'static str,
    make: fn(usize) -> Vec<u8>,
    framer: FrameFn,
}

/// Appends `unit` to `out` until it holds at least `n` bytes.
fn fill(out: &mut Vec<u8>, unit: &[u8], n: usize) {
    while out.len() < n {
        out.extend_from_slice(unit);
    }
}

fn multiline_reply(n: usize) -> Vec<u8> {
    let mut m = b"211-Features and more features:\r\n".to_vec();
    fill(
        &mut m,
        b" a feature line of sixty-four bytes, padded .................\r\n",
        n,
    );
    m.extend_from_slice(b"211 End\r\n");
    m
}

fn long_command(n: usize) -> Vec<u8> {
    let mut m = b"STOR ".to_vec();
    fill(&mut m, b"a-long-file-name", n);
    m.extend_from_slice(b"\r\n");
    m
}

fn request_head(n: usize) -> Vec<u8> {
    let mut m = b"GET /get HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n".to_vec();
    fill(&mut m, b"X-Padding: a header field of forty-eight bytes\r\n", n);
    m.extend_from_slice(b"\r\n");
    m
}

fn chunked_response(n: usize) -> Vec<u8> {
    let mut m = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut chunk = b"400\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b'x', 1024));
    chunk.extend_from_slice(b"\r\n");
    fill(&mut m, &chunk, n);
    m.extend_from_slice(b"0\r\n\r\n");
    m
}

fn raw_until_needle(n: usize) -> Vec<u8> {
    let mut m = Vec::new();
    fill(&mut m, b"0123456789abcdef", n);
    m.extend_from_slice(b"END\r\n");
    m
}

fn cases() -> Vec<Case> {
    let ftp = || FtpInspector::new();
    let http = || HttpInspector::new(Profile::Http10);
    let reply = ftp();
    let command = ftp();
    let request = http();
    let response = http();
    // The framer borrows the step's expectations for as long as the bench runs.
    let wanted: &'static Wanted<'static> = Box::leak(Box::new(Wanted {
        contains: Some(b"END\r\n".to_vec()),
        ..Wanted::default()
    }));
    let regex: &'static regex::bytes::Regex = Box::leak(Box::new(
        regex::bytes::Regex::new(r"END\r\n$").expect("a valid regex"),
    ));
    let by_regex: &'static Wanted<'static> = Box::leak(Box::new(Wanted {
        regex: Some(regex),
        ..Wanted::default()
    }));
    let inspector: &'static FtpInspector = Box::leak(Box::new(ftp()));
    let raw = move |wanted: &'static Wanted<'static>| -> FrameFn {
        Box::new(move |b, s| {
            let framer = Framer {
                framing: Framing::Raw,
                wanted,
                inspector,
                dir: Dir::ToClient,
                conn: MAIN,
            };
            framer.frame(b, false, s)
        })
    };
    vec![
        Case {
            name: "FTP multi-line reply",
            make: multiline_reply,
            framer: Box::new(move |b, s| reply.frame_resuming(Dir::ToClient, MAIN, b, false, s)),
        },
        Case {
            name: "FTP command line",
            make: long_command,
            framer: Box::new(move |b, s| command.frame_resuming(Dir::ToServer, MAIN, b, false, s)),
        },
        Case {
            name: "HTTP request head",
            make: request_head,
            framer: Box::new(move |b, s| request.frame_resuming(Dir::ToServer, MAIN, b, false, s)),
        },
        Case {
            name: "HTTP chunked body",
            make: chunked_response,
            framer: Box::new(move |b, s| response.frame_resuming(Dir::ToClient, MAIN, b, false, s)),
        },
        Case {
            name: "raw, `contains:`",
            make: raw_until_needle,
            framer: raw(wanted),
        },
        Case {
            name: "raw, `regex:`",
            make: raw_until_needle,
            framer: raw(by_regex),
        },
    ]
}

/// Frames `msg` delivered `piece` bytes at a time, keeping the scan across looks or
/// starting afresh on each; checks that it is one message, whole only at its end.
fn time(framer: &FrameFn, msg: &[u8], piece: usize, keep: bool) -> Duration {
    let start = Instant::now();
    let mut scan = Scan::default();
    let mut end = 0;
    loop {
        end = (end + piece).min(msg.len());
        if !keep {
            scan = Scan::default();
        }
        match framer(black_box(&msg[..end]), &mut scan) {
            Frame::Complete(n) => {
                assert_eq!((n, end), (msg.len(), msg.len()), "framed {n} of {end} bytes");
                break;
            }
            Frame::Partial => assert!(end < msg.len(), "the whole message did not frame"),
        }
    }
    start.elapsed()
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// Milliseconds per MiB of the median round, for each size.
fn per_mib(case: &Case, sizes: &[usize], piece: usize, keep: bool) -> Vec<f64> {
    sizes
        .iter()
        .map(|&mib| {
            let msg = (case.make)(mib * MIB);
            let rounds = (0..ROUNDS)
                .map(|_| time(&case.framer, &msg, piece, keep))
                .collect();
            median(rounds).as_secs_f64() * 1e3 / (msg.len() as f64 / MIB as f64)
        })
        .collect()
}

fn table(title: &str, sizes: &[usize], piece: usize, keep: bool) {
    println!("{title}");
    let head: Vec<String> = sizes
        .iter()
        .map(|s| format!("{:>9}", format!("{s} MiB")))
        .collect();
    println!("  {:<22}{}   (ms per MiB)   growth", "", head.join(""));
    for case in cases() {
        let figures = per_mib(&case, sizes, piece, keep);
        let shown: Vec<String> = figures.iter().map(|f| format!("{f:>9.2}")).collect();
        let growth = figures[figures.len() - 1] / figures[0];
        println!(
            "  {:<22}{}                  {growth:>5.2}×",
            case.name,
            shown.join("")
        );
    }
}

fn main() {
    // `cargo test --benches` runs benches with `--bench` absent: stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("framing: run with `cargo bench -p parley-tests --bench framing`");
        return;
    }
    table(
        "kept scan, 1-byte pieces (growth: ms per MiB at 16 MiB over 1 MiB; 1.00× is linear)",
        &SIZES,
        1,
        true,
    );
    println!();
    table(
        "fresh scan on every look, 4 KiB pieces (before; growth at 4 MiB over 1 MiB; 4.00× is quadratic)",
        &SIZES[..2],
        4096,
        false,
    );
}
