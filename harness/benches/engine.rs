//! Engine overhead and suite speed, measured over loopback.
//!
//! `cargo bench -p parley` runs divan benchmarks of one echo scenario played by the engine
//! and of a hand-written tokio client replaying the same bytes against the same mock, then
//! prints the ratio (target: at most 1.5×) and the wall time of the whole bundled suite
//! (target: under 1 s on 2 cores). The figures go in the README.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parley::engine::{self, Endpoint, PlayOptions, RunConfig, play};
use parley::scenario::{self, Scenario, Side};
use parley_mock::MockServer;
use parley_mock::echo::EchoConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Fixture {
    addr: String,
    scenario: Scenario,
    // Keeps the mock's runtime alive.
    _mock_runtime: tokio::runtime::Runtime,
    _mock: MockServer,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mock = rt.block_on(MockServer::echo(EchoConfig::default())).unwrap();
        let scenario = scenario::load(&root().join("scenarios/echo/basic.yaml")).unwrap();
        Fixture {
            addr: mock.addr().to_string(),
            scenario,
            _mock_runtime: rt,
            _mock: mock,
        }
    })
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn engine_once(f: &Fixture) {
    let o = play(
        &f.scenario,
        Side::Client,
        Endpoint::Connect(f.addr.clone()),
        &PlayOptions::default(),
    )
    .await;
    assert_eq!(o.status, parley::outcome::Status::Passed);
}

/// The same conversation as scenarios/echo/basic.yaml, by hand.
async fn replay_once(addr: &str) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    for line in [&b"hello, parley\r\n"[..], b"second line\r\n"] {
        s.write_all(line).await.unwrap();
        let mut back = vec![0u8; line.len()];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(back, line);
    }
    s.shutdown().await.unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[divan::bench]
fn engine_plays_echo_basic(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    let rt = client_runtime();
    bencher.bench_local(|| rt.block_on(engine_once(f)));
}

#[divan::bench]
fn raw_tokio_replay_of_echo_basic(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    let rt = client_runtime();
    bencher.bench_local(|| rt.block_on(replay_once(&f.addr)));
}

fn per_second<F: std::future::Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    mut once: impl FnMut() -> F,
) -> f64 {
    // Warm up, then run for about a second.
    for _ in 0..50 {
        rt.block_on(once());
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        rt.block_on(once());
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn main() {
    divan::main();

    let f = fixture();
    let rt = client_runtime();
    let engine = per_second(&rt, || engine_once(f));
    let raw = per_second(&rt, || replay_once(&f.addr));
    println!();
    println!("echo::basic over loopback, one scenario at a time:");
    println!("  engine:     {engine:>8.0} scenarios/s");
    println!("  raw replay: {raw:>8.0} scenarios/s");
    println!(
        "  engine overhead: {:.2}x the raw replay (target: at most 1.5x)",
        raw / engine
    );

    let files = scenario::discover(&[root().join("scenarios")]).unwrap();
    let suite_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = RunConfig::default();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let outcomes = suite_rt.block_on(engine::run(&files, &config));
        best = best.min(start.elapsed());
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == parley::outcome::Status::Passed)
        );
    }
    println!(
        "bundled suite: {} scenarios, mocks included, best of 5: {:.1} ms (target: under 1 s)",
        files.len(),
        best.as_secs_f64() * 1000.0
    );
}
