//! Memory stays flat whatever moves: a 1 GiB echo (a generated `repeat`, checked as it
//! comes back, its transcript cut to head and tail) runs in under 64 MiB of resident
//! memory. The only child this test binary starts is that one parley, so the peak
//! resident size of its children is parley's.

use std::path::Path;
use std::process::Command;

use nix::sys::resource::{UsageWho, getrusage};

#[test]
fn a_gigabyte_echo_passes_in_under_64_mib_of_resident_memory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["run", "fixtures/large/echo-1gib.yaml", "--report", "json=-"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .expect("parley runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    // 1 GiB each way was accounted for: the JSON transcript counts what it did not keep.
    assert!(text.contains("\"passed\""), "{text}");
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    // Linux reports kilobytes.
    let peak_mib = usage.max_rss() as f64 / 1024.0;
    assert!(
        peak_mib < 64.0,
        "parley peaked at {peak_mib:.1} MiB echoing 1 GiB"
    );
    assert!(peak_mib > 1.0, "the child's usage was measured ({peak_mib} MiB)");
}
