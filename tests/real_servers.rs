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
            "a_64_mib_file_streams_from_nginx_and_python_http_server",
            &[NGINX, PYTHON3],
            a_64_mib_file_streams_from_nginx_and_python_http_server,
        ),
        peer_test(
            "a_server_sending_a_large_file_with_one_send_is_h_len_2",
            &[PYTHON3],
            a_server_sending_a_large_file_with_one_send_is_h_len_2,
        ),
        peer_test(
            "the_readme_shows_what_a_chrooted_vsftpd_gets_for_the_security_scenarios",
            &[VSFTPD],
            the_readme_shows_what_a_chrooted_vsftpd_gets_for_the_security_scenarios,
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

/// A document root holding `big.bin`: 64 MiB of `0123456789abcdef` repeated.
fn big_file_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("big.bin"), b"0123456789abcdef".repeat(4 << 20)).expect("writes big.bin");
    dir
}

/// Plays `fixtures/large/http-get-64mib-file.yaml` against `peer`.
fn get_big_file(peer: &Peer) -> Outcome {
    let file = parley_tests::fixtures_dir().join("large/http-get-64mib-file.yaml");
    let config = RunConfig {
        targets: BTreeMap::from([(Protocol::Http, peer.addr.to_string())]),
        ..RunConfig::default()
    };
    let mut outcomes = runtime().block_on(engine::run(&[file], &config));
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

/// A body too large to buffer is checked as it streams, and a correct server passes
/// with it: nginx (sendfile) and Python's http.server (shutil.copyfileobj).
fn a_64_mib_file_streams_from_nginx_and_python_http_server() {
    let root = big_file_root();
    for peer in [peers::nginx(root.path()), peers::python_http_server(root.path())] {
        let o = get_big_file(&peer);
        assert_all_pass(&peer, std::slice::from_ref(&o));
    }
}

/// `fixtures/servers/one_send_httpd.py` writes its response with one `send()` whose count
/// it ignores: 64 MiB are cut wherever the socket buffer filled, under a Content-Length
/// of the whole file. That is H-LEN-2, and nothing else.
fn a_server_sending_a_large_file_with_one_send_is_h_len_2() {
    let root = big_file_root();
    let peer = peers::fixture_server("one_send_httpd.py", "one_send_httpd.py", root.path(), &[]);
    let o = get_big_file(&peer);
    assert_eq!(o.status, Status::Failed, "{}", describe_verbose(&o));
    let rules: Vec<&str> = o.failed_rules().iter().map(|r| r.as_str()).collect();
    assert_eq!(rules, ["H-LEN-2"], "{}", describe_verbose(&o));
    let f = &o.findings[0];
    assert!(
        f.message
            .ends_with("of 67108864 body bytes: Content-Length is larger than the body sent"),
        "{}",
        f.message
    );
    assert!(f.message.starts_with("the server closed `main`"), "{}", f.message);
}

/// The first ```text block of README.md after the line containing `after`.
fn readme_block(after: &str) -> String {
    let readme = std::fs::read_to_string(parley_tests::scenarios_dir().parent().unwrap().join("README.md"))
        .expect("README.md");
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("README.md has no {after:?}"));
    let rest = &readme[start..];
    let open = rest.find("```text\n").expect("a text block follows") + "```text\n".len();
    let close = rest[open..].find("```").expect("the block ends") + open;
    rest[open..close].to_string()
}

/// Printed output with what varies between runs blanked: times (and the alignment before
/// them) and the peer's port.
fn normalized(text: &str, addr: std::net::SocketAddr) -> String {
    let times = regex::Regex::new(r" +[0-9]+(\.[0-9]+)? ?(ms|s|µs)\b").unwrap();
    let root = format!("{}/", parley_tests::scenarios_dir().parent().unwrap().display());
    let text = text
        .replace(&addr.to_string(), "127.0.0.1:2121")
        .replace(&root, "");
    times.replace_all(&text, " [time]").into_owned()
}

/// The README shows the output of `parley run scenarios/ftp --target ftp=... --filter
/// tag:security` against vsftpd as the Debian package runs it: this is that command's
/// output against that vsftpd, line for line (times and port aside), so a change of the
/// verdicts, the messages or the layout fails here until the README shows it.
fn the_readme_shows_what_a_chrooted_vsftpd_gets_for_the_security_scenarios() {
    let peer = peers::vsftpd_with(&peers::fixture("ftp-root"), "", true);
    let targets = BTreeMap::from([(Protocol::Ftp, peer.addr.to_string())]);
    let config = RunConfig {
        targets: targets.clone(),
        filters: vec!["tag:security".to_string()],
        ..RunConfig::default()
    };
    let outcomes = runtime().block_on(engine::run(&files(&["ftp"]), &config));
    let opts = parley::report::human::HumanOptions::default();
    let against = parley::report::human::run_against(None, &targets);
    let printed = format!(
        "{}\n{}",
        parley::report::human::run_header(outcomes.len(), &against),
        parley::report::human::render(&outcomes, &opts)
    );
    let shown = readme_block("vsftpd 3.0 run as the Debian package runs it");
    assert_eq!(
        normalized(&printed, peer.addr).trim_end(),
        normalized(&shown, peer.addr).trim_end(),
        "README.md shows another output than vsftpd gives (left: this run)"
    );
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
