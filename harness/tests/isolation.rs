//! The `parley` binary and the isolation of program runs (README, "Isolation"): the
//! course's FTP client, which binds the fixed data port 39851, graded at the default
//! `--jobs` and as a class of four at `--jobs 4`, shows its real bug (F-DATA-1) in every
//! run, sandboxed or not (`PARLEY_NO_SANDBOX=1`), and the fallback is said once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs of the course client outside a sandbox all bind the host's port 39851: one test
/// at a time does (two at once would collide, which parley rightly reports as an error of
/// the machine, not the program's F-DATA-1).
static HOST_PORT_39851: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `parley ARGS`, sandboxed (where this machine allows) or not.
fn parley(args: &[&str], sandbox: bool) -> Output {
    let _host_port = (!sandbox).then(|| HOST_PORT_39851.lock().unwrap_or_else(|p| p.into_inner()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(args).current_dir(root()).env_remove("NO_COLOR");
    if sandbox {
        cmd.env_remove("PARLEY_NO_SANDBOX");
    } else {
        cmd.env("PARLEY_NO_SANDBOX", "1");
    }
    cmd.output().expect("parley runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether this process may create namespaces (CAP_SYS_ADMIN in its effective set).
fn privileged() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

const NOTE: &str = "note: programs run without isolation";

#[test]
fn the_course_client_at_the_default_jobs_shows_f_data_1_in_every_run_and_the_fallback_is_said_once() {
    for sandbox in [true, false] {
        let o = parley(
            &[
                "grade",
                "scenarios/grading/ftp-list.yaml",
                "--color",
                "never",
                "--",
                "python3",
                "fixtures/programs/ftp-client/course.py",
                "{host}",
                "{port}",
            ],
            sandbox,
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        // Plain and five variants, each failing on its PORT and nothing else.
        let failed = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("FAIL  "))
            .count();
        assert_eq!(failed, 6, "{out}");
        assert_eq!(out.matches("F-DATA-1 error").count(), 6, "{out}");
        assert!(!out.contains("S-EXPECT"), "{out}");
        assert!(!out.contains("Address already in use"), "{out}");
        let notes = String::from_utf8_lossy(&o.stderr).matches(NOTE).count();
        if sandbox && privileged() {
            assert_eq!(notes, 0, "{out}");
        } else {
            assert_eq!(notes, 1, "said once per run, not per program: {out}");
        }
        if !sandbox {
            assert!(out.contains("PARLEY_NO_SANDBOX is set"), "{out}");
        }
    }
}

#[test]
fn four_copies_of_the_course_client_as_a_class_at_jobs_4_all_show_f_data_1() {
    let class = tempfile::tempdir().unwrap();
    for name in ["ann", "ben", "cat", "dan"] {
        let dir = class.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(
            root().join("fixtures/programs/ftp-client/course.py"),
            dir.join("client.py"),
        )
        .unwrap();
    }
    for sandbox in [true, false] {
        let report = class.path().join(format!("grades-{sandbox}.json"));
        let o = parley(
            &[
                "grade",
                "scenarios/grading/ftp-list.yaml",
                "--color",
                "never",
                "--submissions",
                class.path().to_str().unwrap(),
                "--cmd",
                "python3 {dir}/client.py {host} {port}",
                "--jobs",
                "4",
                "--report",
                &format!("json={}", report.display()),
            ],
            sandbox,
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let runs = json["scenarios"].as_array().unwrap();
        assert_eq!(runs.len(), 4 * 6, "{out}");
        for run in runs {
            let errors: Vec<&str> = run["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == "error")
                .map(|f| f["rule"].as_str().unwrap())
                .collect();
            assert!(
                !errors.is_empty() && errors.iter().all(|r| *r == "F-DATA-1"),
                "{} {}: {errors:?}\n{out}",
                run["submission"],
                run["variant"]
            );
        }
    }
}
