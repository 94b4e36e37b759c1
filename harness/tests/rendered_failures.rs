//! Golden tests of the failure output a person reads once: the whole text `parley run`
//! prints for known-bad server programs, compared by snapbox with `[..]` where times,
//! ports and pids vary. A hint that points at bytes not shown, a label that names the
//! wrong stream, a long payload printed whole instead of where it differs, or a summary
//! that calls errors failures changes this text and fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn parley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("parley runs")
}

fn assert_printed(o: &Output, code: i32, expected: &str) {
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(code), "{printed}");
    snapbox::Assert::new()
        .action(snapbox::assert::Action::Verify)
        .normalize_paths(false)
        .eq(printed, expected);
}

/// A 64 KiB echo that comes back changed at byte 10: the first difference with a window
/// of bytes around it, not two screens of payload; the server's stdout labelled stdout.
#[test]
fn a_long_echo_that_differs_shows_the_first_differing_byte_and_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("large-echo.yaml");
    std::fs::write(
        &scenario,
        "name: a 64 KiB message comes back unchanged\nprotocol: echo\nsteps:\n  \
         - client: { send: { repeat: \"0123456789abcdef\", times: 4096 }, len: 65536 }\n  \
         - server: { exact: { repeat: \"0123456789abcdef\", times: 4096 } }\n    rule: ECHO-1\n",
    )
    .unwrap();
    let o = parley(&[
        "run",
        scenario.to_str().unwrap(),
        "--",
        "python3",
        "fixtures/programs/echo-server/uppercases.py",
        "{port}",
    ]);
    assert_printed(
        &o,
        1,
        "\
parley 0.1.0: 1 scenario(s) against the server program `python3 fixtures/programs/echo-server/uppercases.py {port}` (a fresh one per scenario)

FAIL  large-echo [..]
      ECHO-1 error · RFC 862 · step 2 at [..]large-echo.yaml:5:5 · on `main`
        the server sent something else: the bytes differ from byte 10 on
        first difference at byte 10 (expected 65536 bytes, got [..] bytes):
        expected: \"0123456789abcdef0123456789abcdef0123456789a\"…
        actual:   \"0123456789ABCDEF0123456789ABCDEF0123456789A\"…
        hint: Send back exactly the bytes you received, in the order received, without adding or dropping any.
      program python3 fixtures/programs/echo-server/uppercases.py [..] — stopped by parley (SIGTERM)
        stdout| listening on 127.0.0.1:[..]\\n
      transcript (target python3 fixtures/programs/echo-server/uppercases.py [..] (on 127.0.0.1:[..]); 3 of 3 events)
[..][main] client opens 127.0.0.1:[..] -> 127.0.0.1:[..]
[..][main] C> \"0123456789abcdef[..]… (65536 bytes in all)\"
[..][main] S> \"0123456789ABCDEF[..]… ([..] bytes in all)\"

1 scenario(s): 0 passed, 1 failed, 0 errors — some failed (slowest [..])
",
    );
}

/// A server program that exits before it listens: an error, counted as one, and the
/// summary does not call it a failure.
#[test]
fn a_run_with_only_errors_says_they_could_not_be_played() {
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--",
        "python3",
        "-c",
        "import sys; print('no port given', file=sys.stderr); sys.exit(1)",
        "{port}",
    ]);
    assert_printed(
        &o,
        3,
        "\
parley 0.1.0: 1 scenario(s) against the server program `python3 -c import sys; print('no port given', file=sys.stderr); sys.exit(1) {port}` (a fresh one per scenario)

ERROR echo::basic [..]
      error: the server program `python3 -c import sys; print('no port given', file=sys.stderr); sys.exit(1) [..]`: it exited (exit status: 1) before listening on 127.0.0.1:[..]
      program python3 -c import sys; print('no port given', file=sys.stderr); sys.exit(1) [..] — exit status 1
        stderr| no port given

1 scenario(s): 0 passed, 0 failed, 1 error — some could not be played (slowest [..])
",
    );
}
