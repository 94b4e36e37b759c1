//! The one way a real-peer test runs: each [`peer_test`] declares the peers it needs
//! (programs on `PATH`, Python modules) and a test binary built with `harness = false`
//! hands its trials to [`run`] (libtest-mimic).
//!
//! - every need is met: the test runs;
//! - one is missing: the trial is reported as **ignored** (the summary counts it, and
//!   the binary prints which peer is missing for each), except under
//!   `PARLEY_REQUIRE_PEERS=1` (as `.ci/run` sets), where the trial runs and fails naming
//!   the missing peer and how to install it.
//!
//! A trial run with `--ignored` or `--include-ignored` while a peer is missing fails
//! the same way: it never passes without having checked anything. Setup failures inside
//! a test (a scratch directory, a configuration file, a peer that does not start) panic,
//! which fails the test; nothing in a peer test returns early without a verdict.
#![allow(clippy::print_stderr)]

use libtest_mimic::{Arguments, Failed, Trial};

/// A peer a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A program found on `PATH`, with how to install it.
    Program {
        /// The program's name (`vsftpd`).
        name: &'static str,
        /// How to install it (`apt-get install vsftpd`).
        install: &'static str,
    },
    /// A module `python3` can import.
    PythonModule {
        /// The module (`pyftpdlib`).
        name: &'static str,
        /// How to install it (`python3 -m pip install pyftpdlib`).
        install: &'static str,
    },
    /// The tests run as root (a server that chroots its sessions).
    Root,
}

impl Need {
    /// A program on `PATH`.
    pub const fn program(name: &'static str, install: &'static str) -> Need {
        Need::Program { name, install }
    }

    /// A Python module.
    pub const fn python(name: &'static str, install: &'static str) -> Need {
        Need::PythonModule { name, install }
    }

    /// Whether the peer is there.
    pub fn available(&self) -> bool {
        match self {
            Need::Program { name, .. } => crate::which(name).is_some(),
            Need::PythonModule { name, .. } => {
                crate::which("python3").is_some()
                    && std::process::Command::new("python3")
                        .args(["-c", &format!("import {name}")])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
            }
            Need::Root => std::process::Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.trim_ascii() == b"0"),
        }
    }

    /// `program `vsftpd` (apt-get install vsftpd)`.
    pub fn describe(&self) -> String {
        match self {
            Need::Program { name, install } => format!("program `{name}` ({install})"),
            Need::PythonModule { name, install } => format!("Python module `{name}` ({install})"),
            Need::Root => "root (the server chroots its sessions; run the tests as root)".to_string(),
        }
    }
}

/// What becomes of a trial whose needs are `missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything is there: run it.
    Run,
    /// Report it as ignored, saying why.
    Ignore(String),
    /// Run it, and fail with this message without running the body.
    Fail(String),
}

/// The verdict for a trial with these `missing` peers, when peers are `required`
/// (`PARLEY_REQUIRE_PEERS=1`) or not.
pub fn verdict(missing: &[Need], required: bool) -> Verdict {
    if missing.is_empty() {
        return Verdict::Run;
    }
    let names = missing.iter().map(Need::describe).collect::<Vec<_>>().join(", ");
    if required {
        Verdict::Fail(format!(
            "PARLEY_REQUIRE_PEERS=1 but a peer this test needs is missing: {names}"
        ))
    } else {
        Verdict::Ignore(format!(
            "missing {names}; set PARLEY_REQUIRE_PEERS=1 to make this a failure"
        ))
    }
}

/// A trial named `name` that needs `needs` and runs `body` (which panics to fail).
pub fn peer_test(name: &str, needs: &[Need], body: impl FnOnce() + Send + 'static) -> Trial {
    peer_trial(name, needs, crate::peers_required(), body)
}

/// [`peer_test`] with `required` given rather than read from the environment.
pub fn peer_trial(name: &str, needs: &[Need], required: bool, body: impl FnOnce() + Send + 'static) -> Trial {
    let missing: Vec<Need> = needs.iter().copied().filter(|n| !n.available()).collect();
    match verdict(&missing, required) {
        Verdict::Run => Trial::test(name, move || {
            body();
            Ok(())
        }),
        Verdict::Fail(message) => Trial::test(name, move || Err(Failed::from(message))),
        Verdict::Ignore(reason) => {
            // Run with --ignored all the same, it fails: it cannot check anything.
            let message = format!("not run: {reason}");
            eprintln!("ignored {name}: {reason}");
            Trial::test(name, move || Err(Failed::from(message))).with_ignored_flag(true)
        }
    }
}

/// A trial that needs no peer (a mock, a scripted server).
pub fn plain_test(name: &str, body: impl FnOnce() + Send + 'static) -> Trial {
    peer_test(name, &[], body)
}

/// Runs `trials` with the command line's arguments and exits with libtest's status.
pub fn run(trials: Vec<Trial>) -> ! {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials).exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABSENT: Need = Need::program("parley-no-such-peer", "it does not exist");

    #[test]
    fn a_missing_peer_is_ignored_unless_peers_are_required_then_it_fails_naming_it() {
        assert_eq!(verdict(&[], true), Verdict::Run);
        match verdict(&[ABSENT], false) {
            Verdict::Ignore(why) => assert!(why.contains("`parley-no-such-peer`"), "{why}"),
            v => panic!("{v:?}"),
        }
        match verdict(&[ABSENT], true) {
            Verdict::Fail(why) => {
                assert!(why.contains("PARLEY_REQUIRE_PEERS=1"), "{why}");
                assert!(why.contains("`parley-no-such-peer` (it does not exist)"), "{why}");
            }
            v => panic!("{v:?}"),
        }
    }
}
