//! Memory stays flat whatever moves: a 1 GiB echo (a generated `repeat`, checked as it
//! comes back, its transcript cut to head and tail), a 1 GiB FTP RETR (the bundled
//! mock generates the file as it writes it; parley checks the data connection as it
//! streams in) and a 1 GiB HTTP body (the same, after a head judged alone) each run in
//! under 64 MiB of resident memory. The only children this test
//! binary starts are those parley runs, so the peak resident size of its children is the
//! largest parley's.

use std::path::Path;
use std::process::Command;

use nix::sys::resource::{UsageWho, getrusage};

/// Runs `parley run scenario --report json=-` from the repository root; its exit code,
/// its standard output (the JSON report) and both outputs together.
fn run(scenario: &str) -> (Option<i32>, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["run", scenario, "--report", "json=-"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .expect("parley runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        text,
    )
}

/// The peak resident size of the children waited for so far, in MiB.
fn children_peak_mib() -> f64 {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    // Linux reports kilobytes.
    usage.max_rss() as f64 / 1024.0
}

#[test]
fn a_gigabyte_echo_passes_in_under_64_mib_of_resident_memory() {
    let (code, _, text) = run("fixtures/large/echo-1gib.yaml");
    assert_eq!(code, Some(0), "{text}");
    // 1 GiB each way was accounted for: the JSON transcript counts what it did not keep.
    assert!(text.contains("\"passed\""), "{text}");
    let peak_mib = children_peak_mib();
    assert!(
        peak_mib < 64.0,
        "parley peaked at {peak_mib:.1} MiB echoing 1 GiB"
    );
    assert!(peak_mib > 1.0, "the child's usage was measured ({peak_mib} MiB)");
}

#[test]
fn a_gigabyte_ftp_retr_from_the_mock_passes_in_under_64_mib_of_resident_memory() {
    let (code, json, text) = run("fixtures/large/ftp-retr-1gib.yaml");
    assert_eq!(code, Some(0), "{text}");
    // The data connection carried the whole gigabyte: its transcript keeps a head and a
    // tail and counts what it did not keep.
    let report: serde_json::Value = serde_json::from_str(&json).expect("the report is JSON");
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["status"], "passed", "{text}");
    let carried: u64 = scenario["transcript"]
        .as_array()
        .expect("a transcript")
        .iter()
        .filter(|e| e["conn"] == "data" && e["from"] == "server")
        .filter_map(|e| e["len"].as_u64())
        .sum();
    assert_eq!(carried, 1 << 30, "{text}");
    let peak_mib = children_peak_mib();
    assert!(
        peak_mib < 64.0,
        "parley peaked at {peak_mib:.1} MiB retrieving 1 GiB"
    );
    assert!(peak_mib > 1.0, "the child's usage was measured ({peak_mib} MiB)");
}

#[test]
fn a_gigabyte_http_body_from_the_mock_passes_in_under_64_mib_of_resident_memory() {
    let (code, json, text) = run("fixtures/large/http-get-1gib.yaml");
    assert_eq!(code, Some(0), "{text}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("the report is JSON");
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["status"], "passed", "{text}");
    // The head and the whole gigabyte of body came, a few hundred KiB of it kept.
    let carried: u64 = scenario["transcript"]
        .as_array()
        .expect("a transcript")
        .iter()
        .filter(|e| e["from"] == "server")
        .filter_map(|e| e["len"].as_u64())
        .sum();
    assert!(
        carried > 1 << 30 && carried < (1 << 30) + 512,
        "{carried}: {text}"
    );
    let peak_mib = children_peak_mib();
    assert!(
        peak_mib < 64.0,
        "parley peaked at {peak_mib:.1} MiB receiving a 1 GiB body"
    );
    assert!(peak_mib > 1.0, "the child's usage was measured ({peak_mib} MiB)");
}
