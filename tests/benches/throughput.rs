//! Throughput of parley moving large messages against a plain socket copy, on loopback,
//! in the same run.
//!
//! `cargo bench -p parley-tests --bench throughput` starts the bundled echo mock (its own
//! one-thread runtime, so it gets one core) and echoes through it, in turn: parley playing
//! `fixtures/large/echo-*.yaml` (a generated message checked byte for byte as it comes
//! back, transcript kept to head and tail), and a plain tokio client that writes the same
//! bytes and reads them back at the same time without looking at them. Then the same for
//! a 1 GiB HTTP body from the bundled HTTP mock (`GET /generated/1073741824`): parley
//! playing `fixtures/large/http-get-1gib.yaml` (the head judged, the body checked as it
//! streams) against a plain client that sends the request and reads to the end. Rounds
//! alternate parley, plain, parley, ... and the medians are compared. Target: parley at no
//! less than 0.8× the plain copy, for 64 MiB in one step and in 1 MiB steps. Prints the
//! figures (they go in the README).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parley::engine::{Endpoint, PlayOptions, play};
use parley::outcome::Status;
use parley::scenario::Side;
use parley_mock::MockServer;
use parley_mock::echo::EchoConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Rounds per contender and case.
const ROUNDS: usize = 15;
/// The plain client's write size (parley writes pieces of the same size).
const PIECE: usize = 256 * 1024;

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Echoes `steps` messages of `size` bytes through `addr`, each written while its echo is
/// read; returns when every byte came back.
async fn plain_copy(addr: SocketAddr, size: usize, steps: usize) {
    let stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let (mut read, mut write) = stream.into_split();
    let unit = b"0123456789abcdef".repeat(PIECE / 16);
    for _ in 0..steps {
        let writer = async {
            let mut left = size;
            while left > 0 {
                let n = left.min(PIECE);
                write.write_all(&unit[..n]).await.expect("writes");
                left -= n;
            }
        };
        let reader = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            while got < size {
                let n = read.read(&mut buf).await.expect("reads");
                assert!(n > 0, "the echo server closed early");
                got += n;
            }
        };
        tokio::join!(writer, reader);
    }
    write.shutdown().await.expect("shuts down");
    let mut rest = Vec::new();
    read.read_to_end(&mut rest).await.expect("reads to the end");
}

/// Asks `addr` for `GET /generated/<size>` and reads the response to its end, without
/// looking at it.
async fn plain_get(addr: SocketAddr, size: usize) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let request = format!("GET /generated/{size} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    loop {
        let n = stream.read(&mut buf).await.expect("reads");
        if n == 0 {
            break;
        }
        got += n;
    }
    assert!(got > size, "the whole response came ({got} bytes)");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / 1e6
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let server = runtime(1);
    let mock = server
        .block_on(MockServer::echo(EchoConfig::default()))
        .expect("the echo mock starts");
    let addr = mock.addr();
    let load = runtime(2);
    println!("echo through the bundled mock on {addr}: parley vs a plain socket copy, {ROUNDS} rounds each");
    println!("| case | parley | plain copy | parley / plain |");
    println!("|---|---|---|---|");
    let cases: [(&str, &str, usize, usize); 3] = [
        ("64 MiB in one step", "echo-64mib.yaml", 64 << 20, 1),
        ("64 MiB in 1 MiB steps", "echo-64x1mib.yaml", 1 << 20, 64),
        ("1 GiB in one step", "echo-1gib.yaml", 1 << 30, 1),
    ];
    let mut below = false;
    for (label, file, size, steps) in cases {
        let path = root.join("fixtures/large").join(file);
        let scenario = parley::scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let total = size * steps;
        let rounds = if total > 256 << 20 { 5 } else { ROUNDS };
        let (mut ours, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            let o = load.block_on(play(
                &scenario,
                Side::Client,
                Endpoint::Connect(addr.to_string()),
                &PlayOptions::default(),
            ));
            let took = started.elapsed();
            assert_eq!(o.status, Status::Passed, "{file}: {:?}", o.findings);
            ours.push(mb_per_s(total, took));
            let started = Instant::now();
            load.block_on(plain_copy(addr, size, steps));
            plain.push(mb_per_s(total, started.elapsed()));
        }
        let (a, b) = (median(ours), median(plain));
        let ratio = a / b;
        if steps > 1 || size == 64 << 20 {
            below |= ratio < 0.8;
        }
        println!("| {label} | {a:.0} MB/s each way | {b:.0} MB/s | **{ratio:.2}** |");
    }
    let http = server
        .block_on(MockServer::http(parley_mock::http::HttpConfig::default()))
        .expect("the HTTP mock starts");
    let path = root.join("fixtures/large/http-get-1gib.yaml");
    let scenario = parley::scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let o = load.block_on(play(
            &scenario,
            Side::Client,
            Endpoint::Connect(http.addr().to_string()),
            &PlayOptions::default(),
        ));
        let took = started.elapsed();
        assert_eq!(o.status, Status::Passed, "http-get-1gib.yaml: {:?}", o.findings);
        ours.push(mb_per_s(1 << 30, took));
        let started = Instant::now();
        load.block_on(plain_get(http.addr(), 1 << 30));
        plain.push(mb_per_s(1 << 30, started.elapsed()));
    }
    let (a, b) = (median(ours), median(plain));
    println!(
        "| 1 GiB HTTP body from the HTTP mock | {a:.0} MB/s | {b:.0} MB/s | **{:.2}** |",
        a / b
    );
    println!();
    println!(
        "target: parley at least 0.8x the plain copy for 64 MiB in one step and in 1 MiB steps: {}",
        if below { "MISSED" } else { "met" }
    );
}
