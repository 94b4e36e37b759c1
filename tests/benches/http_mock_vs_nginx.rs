//! Requests per second of the bundled HTTP mock against nginx, side by side over loopback.
//!
//! `cargo bench -p parley-tests --bench http_mock_vs_nginx` starts the mock (one tokio
//! worker thread) and nginx (one worker process, `location = /get` answering a JSON body of
//! the same size), then drives each in turn with the same load: `CONNS` concurrent
//! HTTP/1.0 clients, a new connection per request as HTTP/1.0 without keep-alive does,
//! `GET /get`, reading each response to the server's close. Rounds alternate mock, nginx,
//! mock, ... so both see the same machine; the median of each is compared. Target: the mock
//! at no less than 0.8× nginx. Prints the figures (they go in the README); skips nginx with
//! a message when it is not installed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parley_mock::MockServer;
use parley_mock::http::HttpConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent clients.
const CONNS: usize = 32;
/// Length of one measured round.
const ROUND: Duration = Duration::from_secs(2);
/// Rounds per server.
const ROUNDS: usize = 3;

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// One request on a fresh connection; the number of response bytes (0 on failure).
async fn one_request(addr: SocketAddr, request: &[u8], buf: &mut Vec<u8>) -> usize {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    if s.write_all(request).await.is_err() {
        return 0;
    }
    buf.clear();
    match s.read_to_end(buf).await {
        Ok(n) if buf.starts_with(b"HTTP/1.") && buf[9..12] == *b"200" => n,
        _ => 0,
    }
}

/// Requests per second `addr` answered with 200 over one round.
fn measure(load: &tokio::runtime::Runtime, addr: SocketAddr) -> f64 {
    let request: Arc<Vec<u8>> = Arc::new(format!("GET /get HTTP/1.0\r\nHost: {addr}\r\n\r\n").into_bytes());
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    load.block_on(async {
        let end = started + ROUND;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONNS {
            let (request, done, failed) = (request.clone(), done.clone(), failed.clone());
            tasks.spawn(async move {
                let mut buf = Vec::with_capacity(1024);
                while Instant::now() < end {
                    if one_request(addr, &request, &mut buf).await > 0 {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        eprintln!("  ({failures} requests to {addr} failed)");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // `cargo test` runs benches with --bench absent: do nothing quickly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server_rt = runtime(1);
    let mock = server_rt
        .block_on(MockServer::http(HttpConfig::default()))
        .expect("the mock starts");
    let mock_addr = mock.addr();
    let load = runtime(1);

    // The body nginx returns: the mock's own /get answer, so both send the same bytes.
    let sample = load.block_on(async {
        let mut buf = Vec::new();
        let req = format!("GET /get HTTP/1.0\r\nHost: {mock_addr}\r\n\r\n");
        one_request(mock_addr, req.as_bytes(), &mut buf).await;
        buf
    });
    let body_start = sample
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(sample.len());
    let body = String::from_utf8_lossy(&sample[body_start..]).replace('\'', "\\'");
    let location = format!(
        "    location = /get {{\n      default_type application/json;\n      return 200 '{}';\n    }}",
        body.replace('\n', "\\n")
    );
    let nginx = parley_tests::peers::NGINX
        .available()
        .then(|| parley_tests::peers::nginx_with(&parley_tests::peers::fixture("www"), &location));

    println!(
        "HTTP/1.0 GET /get, {CONNS} concurrent clients, a connection per request, {ROUNDS} rounds of {} s each",
        ROUND.as_secs()
    );
    let mut mock_rps = Vec::new();
    let mut nginx_rps = Vec::new();
    for round in 1..=ROUNDS {
        let m = measure(&load, mock_addr);
        println!("  round {round}: parley-mock {m:>9.0} req/s");
        mock_rps.push(m);
        if let Some(peer) = &nginx {
            let n = measure(&load, peer.addr);
            println!("  round {round}: nginx       {n:>9.0} req/s");
            nginx_rps.push(n);
        }
    }
    let m = median(mock_rps);
    println!("parley-mock: {m:.0} req/s (median)");
    if nginx_rps.is_empty() {
        println!("nginx is not installed: no comparison (apt-get install nginx-light)");
    } else {
        let n = median(nginx_rps);
        let ratio = m / n;
        let verdict = if ratio >= 0.8 { "meets" } else { "MISSES" };
        println!("nginx:       {n:.0} req/s (median)");
        println!("ratio mock/nginx: {ratio:.2} ({verdict} the 0.8 target)");
    }
    server_rt.block_on(mock.shutdown());
}
