//! Shared helpers for parley's integration tests: where the repository is, how transcripts
//! are snapshotted, and how tests find real peers (vsftpd, nginx, curl, ...).
#![allow(clippy::print_stderr)]

pub mod peers;

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `scenarios/` of the repository.
pub fn scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

/// `fixtures/` of the repository.
pub fn fixtures_dir() -> PathBuf {
    root().join("fixtures")
}

/// The insta settings every transcript snapshot uses: snapshots in `tests/snapshots/`,
/// and filters for what legitimately varies between runs (ports, PORT/PASV arguments,
/// dates, server versions).
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (pattern, replacement) in SNAPSHOT_FILTERS {
        s.add_filter(pattern, *replacement);
    }
    // Absolute paths of this checkout differ between machines.
    let root = root().display().to_string();
    s.add_filter(&regex_escape(&format!("{root}/")), "");
    s
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Regex → replacement pairs applied to snapshot text.
pub const SNAPSHOT_FILTERS: &[(&str, &str)] = &[
    // Addresses with ports: 127.0.0.1:40123
    (r"(\d+\.\d+\.\d+\.\d+):\d{2,5}", "$1:[port]"),
    // FTP PORT / 227 arguments: 127,0,0,1,155,171
    (
        r"\b(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),\d{1,3},\d{1,3}\b",
        "$1,$2,$3,$4,[p1],[p2]",
    ),
    // EPRT / 229: |1|127.0.0.1|39851| and (|||39851|)
    (r"\|(\d?)\|([^|]*)\|\d+\|", "|$1|$2|[port]|"),
    // HTTP dates
    (r"(?i)(date|last-modified|expires): [^\\]*\\r", "$1: [date]\\r"),
    (
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT",
        "[date]",
    ),
    // Server versions
    (r"(?i)server: [^\\]*\\r", "Server: [server]\\r"),
    // Host headers carry the port
    (r"(?i)(host|origin): ([^\\:]*):\d+", "$1: $2:[port]"),
];

/// Whether CI requires real peers (`PARLEY_REQUIRE_PEERS=1`): then a missing peer fails
/// the test instead of skipping it.
pub fn peers_required() -> bool {
    std::env::var("PARLEY_REQUIRE_PEERS").is_ok_and(|v| v == "1" || v == "true")
}

/// Finds a program on PATH (or at an absolute path).
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The path of a peer program, or `None` after printing why the test is skipped.
/// Panics when `PARLEY_REQUIRE_PEERS=1` and the program is missing.
pub fn peer(program: &str, install_hint: &str) -> Option<PathBuf> {
    match which(program) {
        Some(p) => Some(p),
        None if peers_required() => {
            panic!("PARLEY_REQUIRE_PEERS=1 but `{program}` is not installed ({install_hint})")
        }
        None => {
            eprintln!(
                "SKIPPED: `{program}` is not installed ({install_hint}); set PARLEY_REQUIRE_PEERS=1 to fail instead"
            );
            None
        }
    }
}

/// True when `python3 -c "import MODULE"` works; otherwise prints why the test is
/// skipped (or panics under `PARLEY_REQUIRE_PEERS=1`).
pub fn python_module(module: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if peers_required() {
            panic!(
                "PARLEY_REQUIRE_PEERS=1 but the Python module `{module}` is missing (python3 -m pip install {module})"
            );
        }
        eprintln!("SKIPPED: Python module `{module}` is missing (python3 -m pip install {module})");
    }
    ok
}
