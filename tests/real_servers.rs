//! Real servers as peers: the bundled scenarios played with `--target` against nginx and
//! `python3 -m http.server` (document root `fixtures/www/`), and against vsftpd and
//! pyftpdlib (root `fixtures/ftp-root/`), each started on a free loopback port for the
//! test. A test whose peer is not installed is reported as ignored, unless
//! `PARLEY_REQUIRE_PEERS=1` (set by `.ci/run`), which makes a missing peer a failure
//! (`parley_tests::trials`).
//!
//! Every bundled scenario against every real server, with the verdict of each, is the
//! conformance matrix (`tests/matrix.rs`, `tests/matrix.yaml`, `docs/matrix.md`); the
//! tests here check the details a matrix cell does not show.
//!
//! Where a real server legitimately differs from the mock (its own error pages, an
//! `HTTP/1.1` status line, 331 instead of 230), the scenarios allow it and the report shows
//! it as a note or warning, never as an error: the assertions below check both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parley::engine::{self, RunConfig};
use parley::outcome::{Outcome, Status};
use parley::proto::Protocol;
use parley::rules::Severity;
use parley_tests::peers::{self, NGINX, PYFTPDLIB, PYTHON3, Peer, VSFTPD};
use parley_tests::trials::{peer_test, run};
use parley_tests::{describe_verbose, runtime};

fn main() {
    run(vec![
        peer_test(
            "origin_scenarios_pass_against_nginx_with_its_http11_status_line_as_a_note",
            &[NGINX],
            origin_scenarios_pass_against_nginx_with_its_http11_status_line_as_a_note,
        ),
        peer_test(
            "origin_scenarios_pass_against_python_http_server",
            &[PYTHON3],
            origin_scenarios_pass_against_python_http_server,
        ),
        peer_test(
            "core_ftp_scenarios_pass_against_vsftpd",
            &[VSFTPD],
            core_ftp_scenarios_pass_against_vsftpd,
        ),
        peer_test(
            "core_ftp_scenarios_pass_against_pyftpdlib",
            &[PYTHON3, PYFTPDLIB],
            core_ftp_scenarios_pass_against_pyftpdlib,
        ),
    ])
}

fn files(paths: &[&str]) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = paths
        .iter()
        .map(|p| parley_tests::scenarios_dir().join(p))
        .collect();
    parley::scenario::discover(&dirs).expect("scenarios are found")
}

/// Plays `paths` with `--target PROTO=peer`, `jobs` scenarios at once.
fn run_against(peer: &Peer, protocol: Protocol, paths: &[&str], jobs: usize) -> Vec<Outcome> {
    let config = RunConfig {
        targets: BTreeMap::from([(protocol, peer.addr.to_string())]),
        jobs,
        ..RunConfig::default()
    };
    let outcomes = runtime().block_on(engine::run(&files(paths), &config));
    assert!(!outcomes.is_empty(), "no scenarios under {paths:?}");
    outcomes
}

fn assert_all_pass(peer: &Peer, outcomes: &[Outcome]) {
    for o in outcomes {
        assert_eq!(
            o.status,
            Status::Passed,
            "{} against {}:\n{}",
            o.id,
            peer.name,
            describe_verbose(o)
        );
        assert!(
            o.findings.iter().all(|f| f.severity != Severity::Error),
            "{}",
            describe_verbose(o)
        );
    }
}

fn has_note(o: &Outcome, rule: &str) -> bool {
    o.findings
        .iter()
        .any(|f| f.rule == rule && f.severity == Severity::Note)
}

fn by_id<'a>(outcomes: &'a [Outcome], id: &str) -> &'a Outcome {
    outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome for {id}"))
}

fn origin_scenarios_pass_against_nginx_with_its_http11_status_line_as_a_note() {
    let peer = peers::nginx(&peers::fixture("www"));
    let outcomes = run_against(&peer, Protocol::Http, &["http/origin"], 2);
    assert_all_pass(&peer, &outcomes);
    // nginx answers an HTTP/1.0 request with `HTTP/1.1 200 OK`: legal, reported as a note.
    let get = by_id(&outcomes, "http::origin::get-file");
    assert!(has_note(get, "H-SL-3"), "{}", describe_verbose(get));
}

fn origin_scenarios_pass_against_python_http_server() {
    let peer = peers::python_http_server(&peers::fixture("www"));
    let outcomes = run_against(&peer, Protocol::Http, &["http/origin"], 2);
    assert_all_pass(&peer, &outcomes);
    // It answers in HTTP/1.0 itself: no H-SL-3 note.
    let get = by_id(&outcomes, "http::origin::get-file");
    assert!(!has_note(get, "H-SL-3"), "{}", describe_verbose(get));
}

/// The FTP scenarios that must pass unchanged against every real server.
const FTP_CORE: [&str; 4] = [
    "ftp/login.yaml",
    "ftp/list-active.yaml",
    "ftp/list-passive.yaml",
    "ftp/quit.yaml",
];

/// pyftpdlib 2.2 serves every session from one event loop, which can stall for seconds
/// when an active-mode transfer and a passive one overlap (reproduced with Python's ftplib
/// alone, without parley): its scenarios are played one at a time.
const PYFTPDLIB_JOBS: usize = 1;

fn core_ftp_scenarios_pass_against_vsftpd() {
    let peer = peers::vsftpd(&peers::fixture("ftp-root"));
    let outcomes = run_against(&peer, Protocol::Ftp, &FTP_CORE, 2);
    assert_eq!(outcomes.len(), 4);
    assert_all_pass(&peer, &outcomes);
    // vsftpd logs anonymous in after PASS: the 331 branch of the login fragment ran.
    let login = by_id(&outcomes, "ftp::login");
    assert!(
        login.transcript.events.iter().any(|e| matches!(
            &e.kind,
            parley::outcome::EventKind::Data { bytes, .. } if bytes.starts_with(b"331")
        )),
        "{}",
        describe_verbose(login)
    );
}

fn core_ftp_scenarios_pass_against_pyftpdlib() {
    let peer = peers::pyftpdlib(&peers::fixture("ftp-root"));
    let outcomes = run_against(&peer, Protocol::Ftp, &FTP_CORE, PYFTPDLIB_JOBS);
    assert_eq!(outcomes.len(), 4);
    assert_all_pass(&peer, &outcomes);
}
