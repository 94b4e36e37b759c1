//! Shared helpers for parley's integration tests: where the repository is, how transcripts
//! are snapshotted, and how tests find real peers (vsftpd, nginx, curl, ...).

pub mod matrix;
pub mod peers;
pub mod trials;

use std::path::{Path, PathBuf};

use parley::outcome::{Party, Transcript};

/// The repository root (the workspace directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `scenarios/` of the repository.
pub fn scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

/// `fixtures/` of the repository.
pub fn fixtures_dir() -> PathBuf {
    root().join("fixtures")
}

/// The insta settings every transcript snapshot uses: snapshots in `tests/snapshots/`,
/// and the library's filters for what legitimately varies between runs
/// ([`parley::report::snapshot::FILTERS`]: ports, PORT/PASV arguments, dates, banners,
/// server versions, durations) — the same ones `parley run --snapshot DIR` applies.
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (pattern, replacement) in SNAPSHOT_FILTERS {
        s.add_filter(pattern, *replacement);
    }
    // Absolute paths of this checkout differ between machines.
    let root = root().display().to_string();
    s.add_filter(&regex_escape(&format!("{root}/")), "");
    s
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The transcript text a snapshot holds, for a play where parley was `parley`:
/// [`parley::report::snapshot::normalized`], the same text `--snapshot DIR` stores (the
/// canonical order of events across connections, and what a peer may do in either order,
/// is documented there). The insta filters of [`snapshot_settings`] leave it as it is.
pub fn snapshot_text(t: &Transcript, parley: Party) -> String {
    parley::report::snapshot::normalized(t, parley, &[])
}

/// Regex → replacement pairs applied to snapshot text: the library's.
pub const SNAPSHOT_FILTERS: &[(&str, &str)] = parley::report::snapshot::FILTERS;

/// Whether CI requires real peers (`PARLEY_REQUIRE_PEERS=1`): then a missing peer fails
/// the test instead of being reported as ignored (see [`trials`]).
pub fn peers_required() -> bool {
    std::env::var("PARLEY_REQUIRE_PEERS").is_ok_and(|v| v == "1" || v == "true")
}

/// Finds a program on `PATH` (or at an absolute path). Only `PATH`: a test that removes
/// a peer from `PATH` sees it missing.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A scenario of `scenarios/` by its path there (`echo/basic.yaml`); panics with the
/// rendered diagnostic when it does not load.
pub fn bundled(path: &str) -> parley::scenario::Scenario {
    parley::scenario::load(&scenarios_dir().join(path)).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A scenario written in the test, loaded from a scratch file.
pub fn inline(yaml: &str) -> parley::scenario::Scenario {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("inline.yaml");
    std::fs::write(&path, yaml).expect("the scratch file is written");
    parley::scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A two-worker runtime for tests that block on the engine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The human report of one outcome (status line, findings, transcript tail), for
/// assertion messages.
pub fn describe(o: &parley::outcome::Outcome) -> String {
    render(o, false)
}

/// Like [`describe`], with the warnings and notes of a passing outcome too.
pub fn describe_verbose(o: &parley::outcome::Outcome) -> String {
    render(o, true)
}

fn render(o: &parley::outcome::Outcome, verbose: bool) -> String {
    let opts = parley::report::human::HumanOptions {
        verbose,
        ..Default::default()
    };
    format!(
        "{}{}",
        parley::report::human::status_line(o, &opts),
        parley::report::human::details(o, &opts)
    )
}

/// A server on a free loopback port that runs `behave` on its first connection.
pub async fn serve_once<F, Fut>(behave: F) -> std::net::SocketAddr
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            behave(stream).await;
        }
    });
    addr
}

/// How long any play of the tests may take before it counts as a hang: far beyond every
/// step deadline they set (the longest is 60 s). It only guards against a hang; what a
/// test checks is the finding, never the time taken.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(150);

/// Play options with step deadline `step`, the rest the defaults.
pub fn quick(step: std::time::Duration) -> parley::engine::PlayOptions {
    parley::engine::PlayOptions {
        step_timeout: Some(step),
        ..parley::engine::PlayOptions::default()
    }
}

/// Plays `scenario` as the client against `addr` with `opts`; panics if the play
/// outlives [`HANG_GUARD`].
pub async fn against(
    scenario: &parley::scenario::Scenario,
    addr: std::net::SocketAddr,
    opts: &parley::engine::PlayOptions,
) -> parley::outcome::Outcome {
    tokio::time::timeout(
        HANG_GUARD,
        parley::engine::play(
            scenario,
            parley::scenario::Side::Client,
            parley::engine::Endpoint::Connect(addr.to_string()),
            opts,
        ),
    )
    .await
    .expect("the engine ended within its deadlines")
}

/// The rules of an outcome's errors, in order, without duplicates.
pub fn rules(o: &parley::outcome::Outcome) -> Vec<&'static str> {
    o.failed_rules().into_iter().map(|r| r.as_str()).collect()
}
