//! Hostile scenario files: each must be refused (or, for a large but honest file,
//! accepted) with its exact message, by `parley check` run as a child process within a
//! generous deadline and under an address-space limit. The deadlines are far above what
//! the checks take (milliseconds to a second, in a debug build); they only catch what
//! used to take minutes or never end. The memory limit (`ulimit -v`, 700 MiB of address
//! space for the whole process) is what "under 500 MB" means here: an allocation past it
//! fails, the child aborts, and the test fails on its exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address space the child may map, in KiB.
const ADDRESS_SPACE_KIB: u64 = 700 * 1024;

struct Run {
    code: i32,
    out: String,
    took: Duration,
}

/// Runs `parley ARGS` in `dir` under the memory limit, with `env`, killing it past
/// `deadline`.
fn parley_in(dir: &Path, args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("sh runs");
    // Read the pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("parley {args:?} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    let out = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    Run {
        code: status.code().unwrap_or(-1),
        out,
        took,
    }
}

fn check(dir: &Path, file: &str) -> Run {
    parley_in(dir, &["check", file], &[], Duration::from_secs(60))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn refused(run: &Run, message: &str) {
    assert_eq!(
        run.code,
        2,
        "exit code {} ({:?}):\n{}",
        run.code,
        run.took,
        cut(&run.out)
    );
    assert!(
        run.out.contains(message),
        "missing `{message}`:\n{}",
        cut(&run.out)
    );
}

/// At most a few KiB of output in a failure message.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(4000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[test]
fn one_aliased_string_repeated_a_hundred_thousand_times_stops_at_the_literal_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "name: alias bomb\nprotocol: echo\nvars:\n  big: &big \"{}\"\nsteps:\n",
        "x".repeat(500_000)
    );
    for _ in 0..100_000 {
        text.push_str("  - client: *big\n");
    }
    assert!(text.len() > 1_000_000 && text.len() < 3_000_000);
    write(dir.path(), "bomb.yaml", &text);
    let run = check(dir.path(), "bomb.yaml");
    refused(
        &run,
        "the scenario's strings and payloads add up to more than 128 MiB (counting every include and every YAML alias again)",
    );
    assert!(
        run.out.contains("set PARLEY_MAX_LITERAL_BYTES=N to raise it"),
        "{}",
        cut(&run.out)
    );
    // The diagnostic quotes one line, never the 500 KB string.
    assert!(run.out.len() < 10_000, "{} bytes of output", run.out.len());
}

#[test]
fn nested_aliases_in_a_json_matcher_stop_at_the_literal_limit() {
    // Ten levels of ten aliases each: 10^10 strings if expanded.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "name: billion laughs\nprotocol: http\nsteps:\n  - client: \"GET / HTTP/1.0\\r\\n\\r\\n\"\n  - server:\n      code: 200\n      json:\n        l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for level in 1..10 {
        let prev = format!("*l{}", level - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("        l{level}: &l{level} [{items}]\n"));
    }
    write(dir.path(), "laughs.yaml", &text);
    refused(
        &check(dir.path(), "laughs.yaml"),
        "the YAML aliases expand to too many nodes: yaml_serde follows at most 100 aliases per node",
    );
}

#[test]
fn aliased_steps_count_against_the_step_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        String::from("name: aliased steps\nprotocol: echo\nsteps:\n  - &s { client: \"hi\\r\\n\" }\n");
    for _ in 0..300 {
        text.push_str("  - *s\n");
    }
    write(dir.path(), "steps.yaml", &text);
    let run = parley_in(
        dir.path(),
        &["check", "steps.yaml"],
        &[("PARLEY_MAX_STEPS", "200")],
        Duration::from_secs(60),
    );
    refused(&run, "the scenario has more than 200 steps");
    assert!(
        run.out.contains("set PARLEY_MAX_STEPS=N to raise it"),
        "{}",
        run.out
    );
}

#[test]
fn ten_includes_per_level_eight_levels_deep_stop_at_the_include_limit() {
    let dir = tempfile::tempdir().unwrap();
    for level in 0..8 {
        let mut text = String::from("steps:\n");
        for _ in 0..10 {
            text.push_str(&format!("  - include: _f{}.yaml\n", level + 1));
        }
        write(dir.path(), &format!("_f{level}.yaml"), &text);
    }
    write(dir.path(), "_f8.yaml", "steps:\n  - client: \"hi\\r\\n\"\n");
    write(
        dir.path(),
        "fanout.yaml",
        "name: include fan-out\nprotocol: echo\nsteps:\n  - include: _f0.yaml\n",
    );
    refused(
        &check(dir.path(), "fanout.yaml"),
        "the scenario expands more than 10000 includes; this limit keeps a small file from expanding without bound: set PARLEY_MAX_INCLUDES=N to raise it",
    );
}

#[test]
fn devices_as_include_or_payload_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inc.yaml",
        "name: x\nprotocol: echo\nsteps:\n  - include: /dev/zero\n",
    );
    write(
        dir.path(),
        "file.yaml",
        "name: x\nprotocol: echo\nsteps:\n  - client: { file: /dev/zero }\n",
    );
    for file in ["inc.yaml", "file.yaml"] {
        let run = parley_in(dir.path(), &["check", file], &[], Duration::from_secs(20));
        refused(
            &run,
            "`/dev/zero`: it is a character device, not a regular file: parley reads only regular files",
        );
    }
    // The scenario file itself.
    let run = parley_in(dir.path(), &["check", "/dev/zero"], &[], Duration::from_secs(20));
    refused(&run, "it is a character device, not a regular file");
}

#[test]
fn a_fifo_as_include_payload_or_scenario_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    write(
        dir.path(),
        "inc.yaml",
        "name: x\nprotocol: echo\nsteps:\n  - include: pipe.yaml\n",
    );
    write(
        dir.path(),
        "file.yaml",
        "name: x\nprotocol: echo\nsteps:\n  - client: { file: pipe.yaml }\n",
    );
    for file in ["inc.yaml", "file.yaml", "pipe.yaml"] {
        // No writer ever opens the FIFO: opening it for reading would block forever.
        let run = parley_in(dir.path(), &["check", file], &[], Duration::from_secs(20));
        refused(&run, "it is a FIFO (named pipe), not a regular file");
    }
}

#[test]
fn a_file_over_the_size_cap_is_refused_with_how_to_raise_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name: x\nprotocol: echo\n# {}\nsteps:\n  - client: \"hi\\r\\n\"\n",
        "c".repeat(5000)
    );
    write(dir.path(), "big.yaml", &text);
    let run = parley_in(
        dir.path(),
        &["check", "big.yaml"],
        &[("PARLEY_MAX_YAML_BYTES", "4096")],
        Duration::from_secs(20),
    );
    refused(
        &run,
        "it is larger than 4 KiB; set PARLEY_MAX_YAML_BYTES=N to raise the cap",
    );
}

#[test]
fn forty_thousand_steps_in_one_file_load_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name: forty thousand steps\nprotocol: echo\nsteps:\n");
    for i in 0..20_000 {
        text.push_str(&format!(
            "  - client: \"line {i}\\r\\n\"\n  - server: \"line {i}\\r\\n\"\n"
        ));
    }
    write(dir.path(), "many.yaml", &text);
    let run = check(dir.path(), "many.yaml");
    assert_eq!(run.code, 0, "{}", cut(&run.out));
    assert!(
        run.out.contains("many.yaml (echo, 40000 steps)"),
        "{}",
        cut(&run.out)
    );
    // Quadratic loading took minutes here; linear loading takes about a second in a debug
    // build (0.2 s in release). The deadline only catches the former.
    assert!(run.took < Duration::from_secs(60), "{:?}", run.took);
}

#[test]
fn the_last_of_forty_thousand_steps_is_located_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name: x\nprotocol: echo\nsteps:\n");
    for i in 0..40_000 {
        text.push_str(&format!("  - client: \"line {i}\\r\\n\"\n"));
    }
    text.push_str("  - client: \"{{nope}}\"\n");
    write(dir.path(), "last.yaml", &text);
    let run = check(dir.path(), "last.yaml");
    refused(&run, "unknown variable `nope`");
    assert!(run.out.contains("last.yaml:40004:14"), "{}", cut(&run.out));
}

#[test]
fn giant_durations_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for (value, message) in [
        (
            "1e20",
            "`100000000000000000000` has no unit: write `100000000000000000000s` for seconds",
        ),
        (
            "99999999999999999999s",
            "`99999999999999999999s` is longer than the limit of 1 hour",
        ),
        ("99999999999999999999", "has no unit"),
        (
            "5",
            "`5` has no unit: write `5s` for seconds or `5ms` for milliseconds",
        ),
    ] {
        write(
            dir.path(),
            "d.yaml",
            &format!("name: x\nprotocol: echo\ntimeout: {value}\nsteps:\n  - client: \"hi\\r\\n\"\n"),
        );
        refused(&check(dir.path(), "d.yaml"), message);
    }
    let scenario = write(
        dir.path(),
        "ok.yaml",
        "name: x\nprotocol: echo\nsteps:\n  - client: \"hi\\r\\n\"\n  - server: \"hi\\r\\n\"\n",
    );
    let scenario = scenario.to_str().unwrap();
    for (flag, message) in [
        ("1e20s", "--timeout: `1e20s` is longer than the limit of 1 hour"),
        ("99999999999999999999s", "is longer than the limit of 1 hour"),
        ("5", "--timeout: `5` has no unit"),
    ] {
        let run = parley_in(
            dir.path(),
            &["run", scenario, "--timeout", flag],
            &[],
            Duration::from_secs(20),
        );
        refused(&run, message);
    }
}
