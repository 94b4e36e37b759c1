//! The rule every real-peer test follows (`parley_tests::trials`), checked end to end on a
//! test binary: this one runs itself again with a trial that needs vsftpd and a `PATH`
//! without it. Without `PARLEY_REQUIRE_PEERS` the trial shows as ignored in the summary;
//! with `PARLEY_REQUIRE_PEERS=1` the binary fails and names the missing peer.

use std::process::{Command, Output};

use parley_tests::peers::VSFTPD;
use parley_tests::trials::{peer_test, plain_test, run};

/// Set in the child: it then runs only the probe trial.
const PROBE: &str = "PARLEY_TRIALS_PROBE";

fn main() {
    if std::env::var_os(PROBE).is_some() {
        run(vec![peer_test("probe_needs_vsftpd", &[VSFTPD], || {})]);
    }
    run(vec![
        plain_test(
            "a_missing_peer_is_reported_as_ignored_in_the_summary",
            a_missing_peer_is_reported_as_ignored_in_the_summary,
        ),
        plain_test(
            "a_missing_peer_fails_the_binary_naming_it_under_parley_require_peers",
            a_missing_peer_fails_the_binary_naming_it_under_parley_require_peers,
        ),
    ])
}

/// This binary again, as the probe, with a `PATH` that holds no peer.
fn probe(require: bool) -> Output {
    let empty = tempfile::tempdir().expect("an empty directory for PATH");
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args(["--test-threads", "1", "--color", "never"])
        .env(PROBE, "1")
        .env("PATH", empty.path());
    if require {
        cmd.env("PARLEY_REQUIRE_PEERS", "1");
    } else {
        cmd.env_remove("PARLEY_REQUIRE_PEERS");
    }
    cmd.output().expect("the probe runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn a_missing_peer_is_reported_as_ignored_in_the_summary() {
    let out = probe(false);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("test probe_needs_vsftpd ... ignored"), "{stdout}");
    assert!(stdout.contains("0 passed; 0 failed; 1 ignored"), "{stdout}");
    assert!(
        stderr.contains("ignored probe_needs_vsftpd: missing program `vsftpd` (apt-get install vsftpd)"),
        "{stderr}"
    );
}

fn a_missing_peer_fails_the_binary_naming_it_under_parley_require_peers() {
    let out = probe(true);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("test probe_needs_vsftpd ... FAILED"), "{stdout}");
    assert!(
        stdout.contains(
            "PARLEY_REQUIRE_PEERS=1 but a peer this test needs is missing: program `vsftpd` (apt-get install vsftpd)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed; 1 failed; 0 ignored"), "{stdout}");
}
