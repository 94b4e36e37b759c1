//! The loading side of the CLI: fragments checked alone and their schema, ids unique in a
//! run, `--var` typos, secret variables masked in every report, and a binary that carries
//! its suite (copied away from the checkout and run from an empty directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn parley_at(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PARLEY_FIXTURES")
        .output()
        .expect("parley runs")
}

fn parley(args: &[&str]) -> Output {
    parley_at(Path::new(env!("CARGO_BIN_EXE_parley")), &root(), args)
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
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_fragment_is_checked_on_its_own() {
    let o = parley(&["check", "scenarios/ftp/_login.yaml"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(
        out.contains("ok    scenarios/ftp/_login.yaml (fragment, 5 steps)"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "_bad.yaml",
        "steps:\n  - sever: 220\n  - client: \"USER {{user}}\\r\\n\"\n",
    );
    let o = parley(&["check", bad.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("step 1: unknown field `sever`"), "{out}");
    assert!(out.contains("help: did you mean `server`?"), "{out}");
}

#[test]
fn a_fragment_given_to_run_says_what_it_is() {
    let o = parley(&["run", "scenarios/ftp/_login.yaml"]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(
        out.contains("it is a fragment (its name starts with `_`)"),
        "{out}"
    );
}

#[test]
fn the_fragment_schema_in_docs_is_what_parley_prints() {
    let o = parley(&["schema", "--fragment"]);
    assert_eq!(code(&o), 0);
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = root().join("docs/fragment.schema.json");
    let on_disk: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .expect("docs/fragment.schema.json is JSON");
    assert!(
        printed == on_disk,
        "docs/fragment.schema.json is stale: run `cargo run -- schema --fragment > docs/fragment.schema.json`"
    );
    assert_eq!(printed["title"], "parley scenario fragment (v1)");
}

const ECHO: &str = "name: echo\nprotocol: echo\nsteps:\n  - client: \"hi\\r\\n\"\n  - server: \"hi\\r\\n\"\n";

#[test]
fn files_of_the_same_name_in_different_folders_get_different_ids() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/x.yaml", ECHO);
    write(dir.path(), "b/x.yaml", ECHO);
    write(dir.path(), "b/y.yaml", ECHO);
    let o = parley_at(
        Path::new(env!("CARGO_BIN_EXE_parley")),
        dir.path(),
        &["run", "a", "b", "--report", "junit=junit.xml"],
    );
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    for id in ["ok    a::x", "ok    b::x", "ok    y "] {
        assert!(out.contains(id), "{id}:\n{out}");
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"a::x\"") && junit.contains("name=\"b::x\""),
        "{junit}"
    );
    let o = parley_at(
        Path::new(env!("CARGO_BIN_EXE_parley")),
        dir.path(),
        &["list", "a", "b"],
    );
    let out = text(&o);
    assert!(out.contains("a::x") && out.contains("b::x"), "{out}");
}

#[test]
fn a_var_no_scenario_knows_is_refused_with_a_suggestion() {
    let o = parley(&["run", "scenarios/ftp/login.yaml", "--var", "usr=alice"]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(
        out.contains("--var usr: no selected scenario declares or uses `usr`; did you mean `user`?"),
        "{out}"
    );
    // A known one is fine (and a fragment's variable is known).
    let o = parley(&["run", "scenarios/ftp/login.yaml", "--var", "user=anonymous"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn a_secret_variable_is_masked_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    // The mock echoes the secret back; the scenario expects something else, so the
    // secret is in the transcript, the finding's expected and actual bytes, and the hint.
    let file = write(
        dir.path(),
        "secret.yaml",
        "name: a secret in a failing exchange\nprotocol: echo\nvars:\n  pass: { value: \"hunter2-s3cret\", secret: true }\n  user: alice\nsteps:\n  - client: \"PASS {{pass}}\\r\\n\"\n  - server: \"PASS {{pass}}?\\r\\n\"\n",
    );
    let o = parley_at(
        Path::new(env!("CARGO_BIN_EXE_parley")),
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "-v",
            "--report",
            "json=r.json",
            "--report",
            "junit=r.xml",
        ],
    );
    let out = text(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("PASS ****"), "{out}");
    for report in [
        out,
        std::fs::read_to_string(dir.path().join("r.json")).unwrap(),
        std::fs::read_to_string(dir.path().join("r.xml")).unwrap(),
    ] {
        assert!(!report.contains("hunter2"), "the secret leaked:\n{report}");
        assert!(report.contains("****"), "{report}");
    }
    // A value given on the command line for a secret variable is masked too.
    let o = parley_at(
        Path::new(env!("CARGO_BIN_EXE_parley")),
        dir.path(),
        &["run", file.to_str().unwrap(), "--var", "pass=open-sesame-42"],
    );
    let out = text(&o);
    assert!(!out.contains("open-sesame-42"), "{out}");
    assert!(out.contains("PASS ****"), "{out}");
}

#[test]
fn a_copied_binary_plays_its_bundled_suite_from_an_empty_directory() {
    let place = tempfile::tempdir().unwrap();
    let bin = place.path().join("bin/parley");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_parley"), &bin).unwrap();
    let empty = tempfile::tempdir().unwrap();

    let o = parley_at(&bin, empty.path(), &["list"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("echo::basic"), "{out}");
    assert!(out.contains("ftp::list-active"), "{out}");
    assert!(!out.contains("_login"), "{out}");

    let o = parley_at(
        &bin,
        empty.path(),
        &["check", "bundled:/scenarios/ftp/_login.yaml"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));

    let o = parley_at(&bin, empty.path(), &["run", "--jobs", "2"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    for id in [
        "ok    echo::basic",
        "ok    ftp::retr",
        "ok    http::origin::get-file",
        "ok    http::httpbin::get",
    ] {
        assert!(out.contains(id), "{id} missing:\n{out}");
    }
    assert!(out.contains("0 failed, 0 errors"), "{out}");
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "parley wrote into the directory it ran in"
    );
}
