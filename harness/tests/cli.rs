//! The `parley` binary end to end: exit codes, reports, options, subcommands.

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
        .env_remove("NO_COLOR")
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

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn run_of_the_echo_scenarios_passes_with_exit_code_0() {
    let o = parley(&["run", "scenarios/echo"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("ok    echo::basic"), "{out}");
    assert!(
        out.contains("4 scenario(s): 4 passed, 0 failed, 0 errors"),
        "{out}"
    );
}

#[test]
fn a_failed_check_exits_1_and_shows_rule_diff_and_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "wrong.yaml",
        "name: expects another echo\nprotocol: echo\nsteps:\n  - client: \"GET / HTTP/1.0\\r\\nHost: a\\r\\n\"\n  - server: \"GET / HTTP/1.0\\r\\nHost: b\\r\\n\"\n",
    );
    let o = parley(&["run", file.to_str().unwrap(), "--color", "never"]);
    let out = text(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("FAIL  wrong"), "{out}");
    assert!(out.contains("ECHO-1 error · RFC 862 · step 2 at"), "{out}");
    assert!(out.contains("-Host: b\\r\\n"), "{out}");
    assert!(out.contains("+Host: a\\r\\n"), "{out}");
    assert!(out.contains("transcript"), "{out}");
}

#[test]
fn an_invalid_scenario_exits_2_with_its_diagnostic() {
    let o = parley(&[
        "run",
        "fixtures/bad-scenarios/unknown-field.yaml",
        "--color",
        "never",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("unknown field `varz`"), "{out}");
    assert!(
        out.contains("fixtures/bad-scenarios/unknown-field.yaml:3:1"),
        "{out}"
    );
}

#[test]
fn an_unreachable_target_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("echo=127.0.0.1:{port}");
    let o = parley(&["run", "scenarios/echo/basic.yaml", "--target", &target]);
    let out = text(&o);
    assert_eq!(code(&o), 3, "{out}");
    assert!(
        out.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    for (args, says) in [
        (
            vec!["run", "--target", "smtp=1.2.3.4:25"],
            "unknown protocol `smtp`",
        ),
        (vec!["run", "--target", "echo"], "PROTO=HOST:PORT"),
        (vec!["run", "--timeout", "5h"], "unknown unit `h`"),
        (vec!["run", "--report", "xml=out.xml"], "unknown format `xml`"),
        (vec!["run", "--filter", "no-such-scenario"], "no scenario matches"),
        (vec!["run", "--jobs", "0"], "at least 1"),
        (vec!["run", "no/such/dir"], "cannot read"),
        (vec!["explain", "NOPE-1"], "unknown rule `NOPE-1`"),
    ] {
        let o = parley(&args);
        let out = text(&o);
        assert_eq!(code(&o), 2, "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
    }
}

#[test]
fn reports_are_written_as_json_and_junit_that_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "wrong.yaml",
        "name: wrong echo\nprotocol: echo\nsteps:\n  - client: \"a\\r\\n\"\n  - server: \"b\\r\\n\"\n    rule: ECHO-1\n",
    );
    let json = dir.path().join("out/report.json");
    let junit = dir.path().join("out/junit.xml");
    let o = parley(&[
        "run",
        "scenarios/echo",
        bad.to_str().unwrap(),
        "--report",
        &format!("json={}", json.display()),
        "--report",
        &format!("junit={}", junit.display()),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["summary"]["passed"], 4);
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["errors"], 0);
    let scenarios = report["scenarios"].as_array().unwrap();
    let failed = scenarios.iter().find(|s| s["status"] == "failed").unwrap();
    assert_eq!(failed["name"], "wrong echo");
    assert!(failed["file"].as_str().unwrap().ends_with("wrong.yaml"));
    assert!(failed["duration_ms"].as_f64().is_some());
    let finding = &failed["findings"][0];
    assert_eq!(finding["rule"], "ECHO-1");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["section"], "RFC 862");
    assert_eq!(finding["expected"], "b\\r\\n");
    assert_eq!(finding["actual"], "a\\r\\n");
    assert!(finding["message"].as_str().unwrap().contains("differ"));
    let transcript = failed["transcript"].as_array().unwrap();
    assert!(
        transcript
            .iter()
            .any(|e| e["event"] == "data" && e["from"] == "client" && e["data"] == "a\\r\\n")
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit parses back");
    assert_eq!(parsed.test_suites.len(), 1);
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "echo");
    assert_eq!(suite.test_cases.len(), 5);
    assert_eq!(suite.failures, 1);
    let case = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "wrong")
        .unwrap();
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { kind, ty, .. } => {
            assert_eq!(*kind, quick_junit::NonSuccessKind::Failure);
            assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("ECHO-1"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn filter_selects_by_id_and_by_tag() {
    let o = parley(&["run", "scenarios/echo", "--filter", "large"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(
        out.contains("echo::large") && !out.contains("echo::basic"),
        "{out}"
    );
    let o = parley(&["run", "scenarios/echo", "--filter", "tag:smoke"]);
    let out = text(&o);
    assert!(
        out.contains("echo::basic") && !out.contains("echo::large"),
        "{out}"
    );
}

#[test]
fn var_overrides_a_scenario_variable() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--var",
        "line=overridden by --var",
        "--report",
        &format!("json={}", json.display()),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("overridden by --var\\\\r\\\\n"), "{report}");
}

#[test]
fn jobs_1_runs_the_same_suite() {
    let o = parley(&["run", "scenarios/echo", "--jobs", "1"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn check_validates_without_running() {
    let o = parley(&["check", "scenarios"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("0 invalid"));
    let o = parley(&["check", "fixtures/bad-scenarios", "--color", "never"]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("unknown variable `usr`"), "{out}");
}

#[test]
fn list_shows_ids_protocols_and_tags() {
    let o = parley(&["list", "scenarios/echo"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("echo::basic") && out.contains("[smoke]"), "{out}");
}

#[test]
fn explain_prints_the_rule_and_how_it_is_checked() {
    let o = parley(&["explain", "echo-2"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("ECHO-2 — RFC 862"), "{out}");
    assert!(out.contains("64 KiB"), "{out}");
    assert!(out.contains("checked:"), "{out}");
    let o = parley(&["explain", "--list"]);
    let out = text(&o);
    for id in ["ECHO-1", "H-RL-2", "F-CMD-3", "F-SEC-6", "S-EXPECT"] {
        assert!(out.contains(id), "{id} missing from --list");
    }
}

#[test]
fn schema_output_matches_the_checked_in_schema() {
    let o = parley(&["schema"]);
    assert_eq!(code(&o), 0);
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = root().join("docs/scenario.schema.json");
    let on_disk: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .expect("docs/scenario.schema.json is JSON");
    assert_eq!(
        printed, on_disk,
        "docs/scenario.schema.json is stale: run `cargo run -- schema > docs/scenario.schema.json`"
    );
    assert_eq!(printed["title"], "parley scenario (v1)");
}

#[test]
fn color_always_uses_ansi_and_never_does_not() {
    let o = parley(&["run", "scenarios/echo/basic.yaml", "--color", "always"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\u{1b}["));
    let o = parley(&["run", "scenarios/echo/basic.yaml", "--color", "never"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\u{1b}["));
    // Piped output under `auto` has no colour either.
    let o = parley(&["run", "scenarios/echo/basic.yaml"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\u{1b}["));
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        "run", "grade", "serve", "record", "check", "list", "explain", "schema",
    ] {
        let o = parley(&[sub, "--help"]);
        let out = text(&o);
        assert_eq!(code(&o), 0, "{sub}: {out}");
        assert!(out.contains("Example"), "{sub} --help has no example:\n{out}");
    }
}

#[test]
fn output_into_a_closed_pipe_is_dropped_without_a_panic() {
    // `parley list | head -1`: the reader is gone before parley writes.
    for args in [&["list"][..], &["explain", "--list"], &["run", "scenarios/echo"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .current_dir(root())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("parley runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(code(&o), 0, "{args:?}: {stderr}");
    }
}

#[test]
fn a_broken_rubric_exits_2_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let rubric = write(dir.path(), "rubric.yaml", "rules:\n  H-RL-2: 2\n  X-1: 1\n");
    let o = parley(&[
        "grade",
        "--rubric",
        rubric.to_str().unwrap(),
        "--color",
        "never",
        "scenarios/grading/echo-client.yaml",
        "--",
        "true",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("unknown rule `X-1`"), "{out}");
    assert!(out.contains("rubric.yaml:3:"), "{out}");
}

#[test]
fn serve_prints_its_address_and_each_exchange_and_stops_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "echo", "--port", "0", "--color", "never"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parley serve starts");
    // Lines of its stdout, as they come, through a channel read with deadlines.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("parley serve printed no {what} within 10 s"))
    };
    let first = next("address line");
    let addr = first
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(b"hello\r\n").unwrap();
    let mut back = [0u8; 7];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello\r\n");
    drop(conn);
    let mut seen = Vec::new();
    // Each side's close is a line of its own: the client's, then the server's answer.
    while !seen.iter().any(|l: &String| l.contains("closed by the server")) {
        seen.push(next("close line"));
    }
    let log = seen.join("\n");
    assert!(log.contains("connected"), "{log}");
    assert!(log.contains(r#"C> "hello\r\n""#), "{log}");
    // Ctrl-C: SIGINT to the process.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    // Wait for the exit as an event, with a deadline.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("parley serve stops within 10 s of SIGINT")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(next("stopping line"), "stopping");
}

/// A plain TCP echo server on a free port, on a thread, for as long as the test runs.
fn echo_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn record_starts_the_client_prints_each_message_and_writes_a_scenario_check_accepts() {
    let upstream = echo_server().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.yaml");
    let o = parley(&[
        "record",
        "--protocol",
        "echo",
        "--upstream",
        &upstream,
        "-o",
        file.to_str().unwrap(),
        "--color",
        "never",
        "--",
        "python3",
        "-c",
        "import socket, sys\n\
         s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\n\
         s.sendall(b'hello\\r\\n')\n\
         assert s.recv(100) == b'hello\\r\\n'\n\
         s.close()",
        "{host}",
        "{port}",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains(r#"[#1] C> "hello\r\n""#), "{out}");
    assert!(out.contains(r#"[#1] S> "hello\r\n""#), "{out}");
    assert!(out.contains("wrote "), "{out}");
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.contains("  - client: \"hello\\r\\n\"\n  - server: \"hello\\r\\n\"\n"),
        "{yaml}"
    );
    let checked = parley(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&checked), 0, "{}", text(&checked));
}

#[test]
fn record_of_an_unreachable_server_exits_3_and_writes_nothing() {
    // A port nothing listens on: bound, then closed.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("none.yaml");
    let o = parley(&[
        "record",
        "--protocol",
        "http",
        "--upstream",
        &upstream,
        "-o",
        file.to_str().unwrap(),
        "--",
        "curl",
        "-s",
        "--max-time",
        "5",
        "http://{host}:{port}/",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 3, "{out}");
    assert!(out.contains("cannot reach the server"), "{out}");
    assert!(!file.exists());
}

#[test]
fn record_stopped_by_sigterm_writes_what_was_seen_so_far() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;
    use std::time::Duration;

    let upstream = echo_server().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("partial.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "record",
            "--protocol",
            "echo",
            "--upstream",
            &upstream,
            "--color",
            "never",
            "-o",
        ])
        .arg(&file)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parley record starts");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("parley record printed no {what} within 10 s"))
    };
    let first = next("address line");
    let addr = first
        .split("point the client at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(b"hello\r\n").unwrap();
    let mut back = [0u8; 7];
    conn.read_exact(&mut back).unwrap();
    // The echo is printed before it is forwarded: it has been recorded.
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("S> ")) {
        seen.push(next("echo line"));
    }
    // The connection stays open; SIGTERM ends the recording with what was seen.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("parley record stops within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(conn);
    let yaml = std::fs::read_to_string(&file).expect("the file is written");
    assert!(
        yaml.contains("  - client: \"hello\\r\\n\"\n  - server: \"hello\\r\\n\"\n"),
        "{yaml}"
    );
    let checked = parley(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&checked), 0, "{}", text(&checked));
}
