//! What each exit code means, end to end: 1 only for a check that failed, 2 only for what
//! the user wrote (flags, files, a scenario that cannot be played in its role — found
//! before anything starts), 3 for a target or program that cannot be reached or started.

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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_target_port_out_of_range_is_a_usage_error_before_anything_runs() {
    let o = parley(&[
        "run",
        "scenarios/ftp/login.yaml",
        "--target",
        "ftp=127.0.0.1:99999",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--target ftp=127.0.0.1:99999: `99999` is not a TCP port"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("scenario(s)"), "nothing ran: {}", text(&o));
}

#[test]
fn more_jobs_than_the_open_file_limit_allows_are_lowered_with_a_note() {
    let o = parley(&["run", "scenarios/echo/basic.yaml", "--jobs", "100000000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("note: --jobs 100000000 lowered to"), "{err}");
    assert!(err.contains("open-file limit"), "{err}");
}

#[test]
fn a_server_program_without_scenario_paths_is_refused_with_the_command_to_type() {
    let o = parley(&[
        "run",
        "--",
        "python3",
        "fixtures/programs/echo-server/good.py",
        "{port}",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o)
            .contains("`parley run scenarios/echo -- python3 fixtures/programs/echo-server/good.py {port}`"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_scenario_that_cannot_be_played_as_the_server_is_refused_before_the_program_starts() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let file = dir.path().join("check-only.yaml");
    std::fs::write(
        &file,
        "name: parley cannot answer\nprotocol: http\nsteps:\n  - client: \"GET / HTTP/1.0\\r\\n\\r\\n\"\n  - server: { code: 200 }\n",
    )
    .unwrap();
    let o = parley(&[
        "grade",
        file.to_str().unwrap(),
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("step 2 cannot be played as the server"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("check-only.yaml:5:"), "{}", text(&o));
    assert!(text(&o).contains("add `send:`"), "{}", text(&o));
    assert!(!marker.exists(), "the program was started");
}

#[test]
fn a_check_that_fails_is_exit_1_and_an_unreachable_target_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.yaml");
    std::fs::write(
        &file,
        "name: wrong echo\nprotocol: echo\nsteps:\n  - client: \"a\"\n  - server: \"b\"\n",
    )
    .unwrap();
    let o = parley(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A port nothing listens on: bind one, learn its number, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("echo=127.0.0.1:{port}");
    let o = parley(&["run", file.to_str().unwrap(), "--target", &target]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[test]
fn the_exit_codes_are_in_the_help() {
    let o = parley(&["--help"]);
    let out = text(&o);
    for line in [
        "0  every scenario passed",
        "1  a check failed",
        "2  usage or scenario file error",
        "3  the target could not be reached",
        "4  parley failed internally",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

/// A server that closes a named echo connection early is a failed check (exit 1), not
/// parley failing: parley keeps its own end of `a` until the scenario closes it.
#[test]
fn a_server_closing_a_named_connection_early_fails_the_step_that_needed_it() {
    let o = parley(&[
        "run",
        "scenarios/echo/concurrent.yaml",
        "--",
        "python3",
        "fixtures/programs/echo-server/truncates-1024.py",
        "{port}",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("ECHO-4 error"), "{t}");
    assert!(t.contains("on `a`"), "{t}");
    assert!(!t.contains("parley already closed"), "{t}");
}
