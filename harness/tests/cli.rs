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

/// One scenario's verdict: id, status, its findings' rules and severities, its steps' states.
type Verdict = (String, String, Vec<(String, String)>, Vec<String>);

#[test]
fn jobs_1_runs_the_same_suite() {
    // The same selection, one at a time and four at a time: the same scenarios, each with
    // the same verdict (status, rules and severities of its findings, steps' states).
    let dir = tempfile::tempdir().unwrap();
    let verdicts = |jobs: &str| {
        let json = dir.path().join(format!("jobs-{jobs}.json"));
        let o = parley(&[
            "run",
            "scenarios/echo",
            "scenarios/ftp",
            "--jobs",
            jobs,
            "--report",
            &format!("json={}", json.display()),
        ]);
        let report = parley::report::json::parse(&std::fs::read_to_string(&json).unwrap())
            .unwrap_or_else(|e| panic!("{e}\n{}", text(&o)));
        let verdicts: Vec<Verdict> = report
            .outcomes
            .iter()
            .map(|o| {
                (
                    o.id.clone(),
                    o.status.as_str().to_string(),
                    o.findings
                        .iter()
                        .map(|f| (f.rule.as_str().to_string(), format!("{:?}", f.severity)))
                        .collect(),
                    o.steps.iter().map(|s| s.state.as_str().to_string()).collect(),
                )
            })
            .collect();
        (code(&o), verdicts)
    };
    let (one_code, one) = verdicts("1");
    let (four_code, four) = verdicts("4");
    assert_eq!(one_code, four_code);
    assert!(one.len() > 4, "{one:?}");
    assert_eq!(one, four);
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

/// The rule catalogue a reader finds in the repository is the one `parley explain`
/// prints: every rule, rendered from the same table.
#[test]
fn docs_rules_md_is_the_catalogue_parley_explain_prints() {
    let o = parley(&["explain", "--markdown"]);
    assert_eq!(code(&o), 0);
    let printed = text(&o);
    let file = root().join("docs/rules.md");
    let on_disk = std::fs::read_to_string(&file).expect("docs/rules.md is there");
    assert!(
        printed == on_disk,
        "docs/rules.md is stale: run `cargo run -- explain --markdown > docs/rules.md`"
    );
    let list = text(&parley(&["explain", "--list"]));
    let ids: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(ids.len() > 80, "{list}");
    for id in ids {
        assert!(
            printed.contains(&format!("\n| {id} | ")),
            "{id} is missing from docs/rules.md"
        );
    }
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
        "run",
        "grade",
        "serve",
        "record",
        "check",
        "list",
        "explain",
        "schema",
        "merge",
        "completions",
        "manpage",
        "review",
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The ids of the scenarios `parley list ARGS` prints, in order.
fn listed(args: &[&str]) -> Vec<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    let o = parley(&all);
    assert_eq!(code(&o), 0, "{args:?}: {}", text(&o));
    stdout(&o)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn filter_expressions_combine_not_and_or_with_parentheses() {
    let smoke = listed(&["--filter", "tag:smoke"]);
    assert!(smoke.contains(&"echo::basic".to_string()), "{smoke:?}");
    assert!(!smoke.contains(&"echo::large".to_string()), "{smoke:?}");
    let not_grading = listed(&["--filter", "not tag:grading"]);
    assert!(
        !not_grading.iter().any(|id| id.starts_with("grading::")),
        "{not_grading:?}"
    );
    assert!(not_grading.contains(&"ftp::bounce".to_string()));
    let ftp_but_bounce = listed(&["--filter", "ftp:: and not (bounce or login)"]);
    assert!(ftp_but_bounce.contains(&"ftp::list-active".to_string()));
    assert!(
        !ftp_but_bounce
            .iter()
            .any(|id| id == "ftp::bounce" || id == "ftp::login")
    );
    // Repeated --filter still means "any of them".
    let either = listed(&["scenarios/echo", "--filter", "large", "--filter", "binary"]);
    assert_eq!(either, ["echo::binary", "echo::large"]);
    // `run` and `check` take the same expressions.
    let o = parley(&[
        "run",
        "scenarios/echo",
        "--filter",
        "echo and not (basic or large)",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(
        out.contains("echo::binary") && !out.contains("echo::basic"),
        "{out}"
    );
    let o = parley(&["check", "scenarios", "--filter", "tag:smoke and echo"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("1 file(s) checked"), "{out}");
}

#[test]
fn a_bad_filter_expression_exits_2_saying_where() {
    for sub in ["run", "list", "check", "grade"] {
        let mut args = vec![sub];
        if sub == "grade" {
            args.push("scenarios/grading/echo-client.yaml");
        }
        args.extend(["--filter", "tag:smoke and (echo"]);
        if sub == "grade" {
            args.extend(["--", "true"]);
        }
        let o = parley(&args);
        let out = text(&o);
        assert_eq!(code(&o), 2, "{sub}: {out}");
        assert!(
            out.contains("never closed") && out.contains("character 15"),
            "{sub}: {out}"
        );
    }
}

#[test]
fn explain_with_a_prefix_lists_the_matching_rules() {
    let o = parley(&["explain", "f-sec"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let ids: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(ids.len() >= 8, "{out}");
    assert!(ids.iter().all(|id| id.starts_with("F-SEC-")), "{out}");
    let o = parley(&["explain", "Z-NOPE"]);
    assert_eq!(code(&o), 2);
}

/// The column where the second field of each line starts, after aligned padding.
fn second_column(line: &str) -> usize {
    let first = line.split_whitespace().next().unwrap();
    let rest = &line[first.len()..];
    first.len() + rest.len() - rest.trim_start().len()
}

#[test]
fn list_and_explain_list_keep_their_columns_aligned_for_long_ids() {
    let dir = tempfile::tempdir().unwrap();
    let long = write(
        dir.path(),
        "a-scenario-with-a-very-long-name-that-is-wider-than-any-column.yaml",
        "name: long\nprotocol: echo\nsteps:\n  - client: \"x\"\n  - server: \"x\"\n",
    );
    write(
        dir.path(),
        "short.yaml",
        "name: short\nprotocol: echo\nsteps:\n  - client: \"x\"\n  - server: \"x\"\n",
    );
    let o = parley(&["list", dir.path().to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(long.file_stem().unwrap().to_str().unwrap()))
    );
    assert_eq!(second_column(lines[0]), second_column(lines[1]), "{out}");
    let o = parley(&["explain", "--list"]);
    let out = stdout(&o);
    let columns: Vec<usize> = out.lines().map(second_column).collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{out}");
    // The third column (section) is aligned too.
    let third: Vec<usize> = out
        .lines()
        .map(|l| {
            let after = &l[second_column(l)..];
            let sev = after.split_whitespace().next().unwrap();
            second_column(l) + second_column(after).max(sev.len())
        })
        .collect();
    assert!(third.windows(2).all(|w| w[0] == w[1]), "{out}");
}

#[test]
fn wrote_report_lines_go_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--report",
        &format!("json={}", json.display()),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stderr(&o).contains(&format!("wrote json report to {}", json.display())));
    assert!(!stdout(&o).contains("wrote"), "{}", stdout(&o));
}

#[test]
fn a_report_to_stdout_leaves_stdout_to_it_and_sends_the_human_report_to_stderr() {
    let o = parley(&["run", "scenarios/echo", "--report", "json=-"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is only the JSON report");
    assert_eq!(report["summary"]["passed"], 4);
    let err = stderr(&o);
    assert!(
        err.contains("ok    echo::basic") && err.contains("wrote json report to stdout"),
        "{err}"
    );
    let o = parley(&["run", "scenarios/echo/basic.yaml", "--report", "junit=-"]);
    assert!(
        quick_junit::Report::deserialize_from_str(&stdout(&o)).is_ok(),
        "{}",
        stdout(&o)
    );
    let o = parley(&["run", "--report", "json=-", "--report", "junit=-"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("only one report can go to stdout"));
}

#[test]
fn vars_file_sets_variables_and_var_wins_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let vars = write(dir.path(), "vars.yaml", "line: from the vars file\nunused: 42\n");
    let json = dir.path().join("r.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "scenarios/echo/basic.yaml",
            "--vars-file",
            vars.to_str().unwrap(),
            "--report",
        ];
        let report = format!("json={}", json.display());
        args.push(&report);
        args.extend_from_slice(extra);
        let o = parley(&args);
        assert_eq!(code(&o), 0, "{}", text(&o));
        std::fs::read_to_string(&json).unwrap()
    };
    assert!(run(&[]).contains("from the vars file\\\\r\\\\n"));
    let both = run(&["--var", "line=from --var"]);
    assert!(both.contains("from --var\\\\r\\\\n") && !both.contains("from the vars file"));
    let bad = write(dir.path(), "bad.yaml", "- not\n- a map\n");
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--vars-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("YAML map of `name: value`"), "{}", text(&o));
}

#[test]
fn vv_shows_the_transcript_of_passing_runs_and_v_does_not() {
    let o = parley(&["run", "scenarios/echo/basic.yaml", "-v"]);
    assert!(!stdout(&o).contains("transcript"), "{}", stdout(&o));
    let o = parley(&["run", "scenarios/echo/basic.yaml", "-vv"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("transcript") && out.contains("[main] C>"), "{out}");
}

#[test]
fn quiet_prints_only_failures_and_the_summary_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "wrong.yaml",
        "name: wrong\nprotocol: echo\nsteps:\n  - client: \"a\"\n  - server: \"b\"\n",
    );
    let o = parley(&[
        "run",
        "scenarios/echo",
        bad.to_str().unwrap(),
        "-q",
        "--color",
        "never",
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("FAIL  wrong") && out.contains("ECHO-1"), "{out}");
    assert!(
        !out.contains("ok    echo::basic") && !out.contains("parley 0.1"),
        "{out}"
    );
    assert!(out.contains("5 scenario(s): 4 passed, 1 failed"), "{out}");
    assert_eq!(code(&parley(&["run", "-q", "-v"])), 2, "-q and -v conflict");
}

/// A scenario that could not be played is an error, not a failure, and the summary line
/// says so: a run with only errors does not end "some failed".
#[test]
fn the_summary_line_counts_errors_as_errors() {
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--color",
        "never",
        "--",
        "python3",
        "-c",
        "import sys; sys.exit(1)",
        "{port}",
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 3, "{out}");
    assert!(
        out.contains("1 scenario(s): 0 passed, 0 failed, 1 error — some could not be played"),
        "{out}"
    );
    assert!(!out.contains("some failed"), "{out}");
}

#[test]
fn fail_fast_stops_after_the_first_failure_and_reports_the_rest_as_not_run() {
    let dir = tempfile::tempdir().unwrap();
    // The file sorts before scenarios/echo, and --jobs 1 plays one at a time.
    let bad = write(
        dir.path(),
        "wrong.yaml",
        "name: wrong\nprotocol: echo\nsteps:\n  - client: \"a\"\n  - server: \"b\"\n",
    );
    let json = dir.path().join("r.json");
    let o = parley(&[
        "run",
        bad.to_str().unwrap(),
        "scenarios/echo",
        "--jobs",
        "1",
        "--fail-fast",
        "--color",
        "never",
        "--report",
        &format!("json={}", json.display()),
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("skip  echo::basic") && out.contains("not run (--fail-fast)"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed, 0 errors, 4 not run"), "{out}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["not_run"], 4);
    assert_eq!(report["scenarios"][1]["status"], "not-run");
    // Without the flag everything runs.
    let o = parley(&["run", bad.to_str().unwrap(), "scenarios/echo", "--jobs", "1"]);
    assert!(stdout(&o).contains("4 passed, 1 failed"), "{}", stdout(&o));
}

#[test]
fn grade_fail_fast_stops_starting_runs() {
    let o = parley(&[
        "grade",
        "scenarios/grading/http-get.yaml",
        "--submissions",
        "fixtures/class",
        "--cmd",
        "python3 {dir}/get.py {host} {port}",
        "--jobs",
        "1",
        "--fail-fast",
        "--color",
        "never",
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    // alice passes both runs; bob fails first, and nothing after bob's first run starts.
    assert!(
        out.contains("bob: grading::http-get") && out.contains("FAIL"),
        "{out}"
    );
    assert!(out.contains("skip  erin: grading::http-get"), "{out}");
    assert!(out.contains("2 passed, 1 failed, 0 errors, 7 not run"), "{out}");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for (shell, says) in [
        ("bash", "complete -F _parley"),
        ("zsh", "#compdef parley"),
        ("fish", "complete -c parley"),
    ] {
        let o = parley(&["completions", shell]);
        let out = stdout(&o);
        assert_eq!(code(&o), 0, "{shell}: {}", text(&o));
        assert!(out.contains(says), "{shell}: {out}");
        for sub in ["run", "grade", "merge", "fail-fast", "vars-file"] {
            assert!(out.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    assert_eq!(code(&parley(&["completions", "tcsh"])), 2);
}

#[test]
fn manpage_is_roff_with_every_subcommand() {
    let o = parley(&["manpage"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(out.contains(".TH parley 1"), "{out}");
    assert!(
        out.contains(".SH NAME") && out.contains(".SH SUBCOMMANDS"),
        "{out}"
    );
    for sub in ["run", "grade", "merge", "completions", "explain"] {
        assert!(out.contains(&format!("parley\\-{sub}")), "manpage lacks {sub}");
    }
}

fn grade_class(extra: &[&str]) -> Output {
    let mut args = vec![
        "grade",
        "scenarios/grading/http-get.yaml",
        "--submissions",
        "fixtures/class",
        "--cmd",
        "python3 {dir}/get.py {host} {port}",
    ];
    args.extend_from_slice(extra);
    parley(&args)
}

#[test]
fn two_shards_merged_give_the_csv_of_one_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let whole = grade_class(&["--report", &format!("csv={}", path("whole.csv"))]);
    assert_eq!(code(&whole), 1, "{}", text(&whole));
    for k in [1, 2] {
        let o = grade_class(&[
            "--shard",
            &format!("{k}/2"),
            "--report",
            &format!("json={}", path(&format!("shard-{k}.json"))),
        ]);
        assert_eq!(code(&o), 1, "{}", text(&o));
    }
    // Given in either order.
    let o = parley(&[
        "merge",
        &path("shard-2.json"),
        &path("shard-1.json"),
        "--report",
        &format!("csv={}", path("merged.csv")),
        "--report",
        &format!("junit={}", path("merged.xml")),
        "--report",
        &format!("html={}", path("merged.html")),
        "--report",
        &format!("json={}", path("merged.json")),
    ]);
    assert_eq!(code(&o), 1, "the exit code of the single run: {}", text(&o));
    let whole_csv = std::fs::read_to_string(path("whole.csv")).unwrap();
    let merged_csv = std::fs::read_to_string(path("merged.csv")).unwrap();
    assert_eq!(merged_csv, whole_csv);
    assert_eq!(whole_csv.lines().count(), 11, "{whole_csv}");
    // The class table is printed as for the single run.
    let out = stdout(&o);
    assert!(
        out.contains("alice") && out.contains("12/12") && out.contains("erin"),
        "{out}"
    );
    let xml = std::fs::read_to_string(path("merged.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(junit.test_suites.len(), 5);
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("merged.json")).unwrap()).unwrap();
    assert_eq!(merged["summary"]["total"], 10);
    // A shard given twice overlaps.
    let o = parley(&["merge", &path("shard-1.json"), &path("shard-1.json")]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("overlap"), "{}", text(&o));
    let o = parley(&["merge", &path("whole.csv")]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("not a parley JSON report"), "{}", text(&o));
}

#[test]
fn junit_in_grade_mode_has_unique_ids_and_stamped_suites() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("j.xml");
    let o = grade_class(&["--report", &format!("junit={}", xml.display())]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let report = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&xml).unwrap()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for suite in &report.test_suites {
        assert!(suite.time.is_some(), "suite {} has no time", suite.name.as_str());
        assert!(
            suite.timestamp.is_some(),
            "suite {} has no timestamp",
            suite.name.as_str()
        );
        for case in &suite.test_cases {
            let class = case.classname.as_ref().unwrap().as_str().to_string();
            assert_eq!(class, format!("parley.{}.http", suite.name.as_str()));
            assert!(
                ids.insert((class, case.name.as_str().to_string())),
                "duplicate id"
            );
        }
    }
    assert_eq!(ids.len(), 10);
    assert!(
        ids.iter()
            .any(|(c, n)| c == "parley.bob.http" && n == "grading::http-get [split-response]")
    );
}

#[test]
fn junit_reports_an_unloadable_file_as_an_error_of_its_own_test_case() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("j.xml");
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "fixtures/bad-scenarios/unknown-field.yaml",
        "fixtures/bad-scenarios/yaml-syntax.yaml",
        "--report",
        &format!("junit={}", xml.display()),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let report = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&xml).unwrap()).unwrap();
    let cases: Vec<_> = report.test_suites.iter().flat_map(|s| &s.test_cases).collect();
    assert_eq!(cases.len(), 3);
    let errors: Vec<_> = cases
        .iter()
        .filter(|c| {
            matches!(
                &c.status,
                quick_junit::TestCaseStatus::NonSuccess {
                    kind: quick_junit::NonSuccessKind::Error,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(errors.len(), 2, "each invalid file is its own errored test case");
    let names: Vec<&str> = errors.iter().map(|c| c.name.as_str()).collect();
    assert!(
        names.contains(&"unknown-field") && names.contains(&"yaml-syntax"),
        "{names:?}"
    );
    for suite in &report.test_suites {
        assert!(suite.timestamp.is_some() && suite.time.is_some());
    }
}

#[test]
fn every_flag_of_every_subcommand_is_in_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for sub in [
        "run",
        "grade",
        "serve",
        "check",
        "list",
        "explain",
        "schema",
        "merge",
        "completions",
        "manpage",
        "review",
    ] {
        assert!(
            readme.contains(&format!("parley {sub}")) || readme.contains(&format!("-- {sub}")),
            "{sub}"
        );
        let help = stdout(&parley(&[sub, "--help"]));
        for line in help.lines() {
            let line = line.trim_start();
            if !line.starts_with('-') {
                continue;
            }
            for word in line.split([' ', ',', '=', '<', '[']) {
                if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
                    let flag = format!("--{}", flag.trim_end_matches('.'));
                    if !["--help", "--version"].contains(&flag.as_str()) && !readme.contains(&flag) {
                        missing.push(format!("{sub} {flag}"));
                    }
                }
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "flags the README does not mention: {missing:?}"
    );
}

#[test]
fn repeat_plays_the_suite_rounds_and_says_no_verdict_changed() {
    let o = parley(&["run", "scenarios/echo", "--repeat", "3", "--color", "never"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("no flake: 3 rounds of"), "{out}");
    assert!(out.contains("rounds: first "), "{out}");
    // The report shows one round, not three.
    assert_eq!(out.matches("ok    echo::basic").count(), 1, "{out}");
}

#[test]
fn repeat_names_a_scenario_whose_verdict_changes_and_the_rounds_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("starts");
    let o = parley(&[
        "run",
        "scenarios/echo/basic.yaml",
        "--repeat",
        "4",
        "--color",
        "never",
        "--",
        "python3",
        "fixtures/programs/echo-server/every-other-start.py",
        "{port}",
        counter.to_str().unwrap(),
    ]);
    let out = text(&o);
    // The first round passed; the flake alone makes the run fail.
    assert!(out.contains("ok    echo::basic"), "{out}");
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("flaky: 1 of 1 scenario(s) changed verdict over 4 rounds"),
        "{out}"
    );
    assert!(
        out.contains("echo::basic  round 1: passed; differed in 2 round(s)"),
        "{out}"
    );
    assert!(out.contains("round 2: failed (ECHO-1)"), "{out}");
    assert!(out.contains("round 4: failed (ECHO-1)"), "{out}");
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "4");
}

#[test]
fn repeat_zero_is_a_usage_error() {
    let o = parley(&["run", "--repeat", "0"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("--repeat"), "{}", text(&o));
}
