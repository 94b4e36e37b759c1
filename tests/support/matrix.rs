//! The conformance matrix of real servers: `tests/matrix.yaml` says, for each server and
//! bundled scenario, the verdict parley gives (status, and the rules of its error and
//! warning findings), with a note for every real deviation. `tests/matrix.rs` plays the
//! suite against each server and compares with the file; [`render`] turns the same file
//! into `docs/matrix.md`, and a test checks that the page is up to date, so the docs
//! cannot drift from what the tests measure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use parley::outcome::{Outcome, Status};
use parley::rules::Severity;
use serde::Deserialize;

/// `tests/matrix.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// The servers, in the order of the table's columns.
    pub servers: Vec<Server>,
}

/// One server (one configuration of it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Short id: the column and the test's name (`vsftpd-chroot`).
    pub id: String,
    /// What it is, with its version.
    pub name: String,
    /// How the tests run it.
    pub config: String,
    /// `ftp` or `http`: which bundled suite it gets.
    pub protocol: String,
    /// Whether it is a real server or a fixture with a planted fault.
    #[serde(default)]
    pub fixture: bool,
    /// The scenarios whose verdict is not "passed, no error or warning".
    #[serde(default)]
    pub expect: BTreeMap<String, Expected>,
}

/// The verdict of one scenario on one server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// `passed` or `failed`.
    pub status: String,
    /// The rules of the error and warning findings, sorted.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Notes that must be among the findings (notes are not compared otherwise).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Why: the real deviation, in a sentence or two.
    pub note: String,
}

/// What a scenario gave, in the terms of [`Expected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `passed`, `failed` or `error`.
    pub status: String,
    /// The rules of the error and warning findings, sorted.
    pub rules: Vec<String>,
    /// The rules of the notes.
    pub notes: BTreeSet<String>,
}

impl Observed {
    /// The verdict of `o`.
    pub fn of(o: &Outcome) -> Observed {
        let status = match o.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            _ => "error",
        };
        let rules: BTreeSet<String> = o
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.rule.to_string())
            .collect();
        let notes = o
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Note)
            .map(|f| f.rule.to_string())
            .collect();
        Observed {
            status: status.to_string(),
            rules: rules.into_iter().collect(),
            notes,
        }
    }

    /// Whether this is what `expected` says (`None`: passed with no error or warning).
    pub fn matches(&self, expected: Option<&Expected>) -> bool {
        match expected {
            None => self.status == "passed" && self.rules.is_empty(),
            Some(e) => {
                self.status == e.status
                    && self.rules == e.rules
                    && e.notes.iter().all(|n| self.notes.contains(n))
            }
        }
    }
}

/// `tests/matrix.yaml` of the repository.
pub fn path() -> PathBuf {
    crate::root().join("tests/matrix.yaml")
}

/// `docs/matrix.md` of the repository.
pub fn doc_path() -> PathBuf {
    crate::root().join("docs/matrix.md")
}

/// Reads `tests/matrix.yaml`; panics with the reason when it does not parse.
pub fn load() -> Matrix {
    let text = std::fs::read_to_string(path()).expect("tests/matrix.yaml is readable");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("tests/matrix.yaml: {e}"))
}

/// The bundled scenarios a server of `protocol` is played: `ftp/` for FTP, the origin
/// scenarios for HTTP (the httpbin ones need httpbin's endpoints).
pub fn suite(protocol: &str) -> Vec<PathBuf> {
    let dir = match protocol {
        "ftp" => "ftp",
        "http" => "http/origin",
        other => panic!("tests/matrix.yaml: unknown protocol `{other}`"),
    };
    parley::scenario::discover(&[crate::scenarios_dir().join(dir)]).expect("the bundled scenarios are found")
}

/// The ids of [`suite`]`(protocol)`, in order.
pub fn suite_ids(protocol: &str) -> Vec<String> {
    suite(protocol)
        .iter()
        .map(|f| parley::scenario::scenario_id(f))
        .collect()
}

fn cell(e: Option<&Expected>) -> String {
    match e {
        None => "ok".to_string(),
        Some(e) => {
            let mut rules = e.rules.clone();
            rules.extend(e.notes.iter().map(|n| format!("{n} (note)")));
            let rules = rules.join(", ");
            match (e.status.as_str(), rules.is_empty()) {
                ("passed", true) => "ok".to_string(),
                ("passed", false) => format!("ok · {rules}"),
                (status, true) => format!("**{}**", status.to_uppercase()),
                (status, false) => format!("**{}** · {rules}", status.to_uppercase()),
            }
        }
    }
}

/// `docs/matrix.md`, rendered from `matrix` and the bundled suites.
pub fn render(matrix: &Matrix) -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- Rendered from tests/matrix.yaml by parley_tests::matrix::render; do not edit.\n     \
         `PARLEY_UPDATE_MATRIX=1 cargo test -p parley-tests --test matrix` rewrites it. -->\n\n",
    );
    out.push_str("# Conformance matrix of real servers\n\n");
    out.push_str(
        "What parley says about real servers, scenario by scenario: each column is a real-peer \
         test in CI (`tests/matrix.rs`), which starts the server on a free loopback port, plays \
         the bundled suite against it with `--target` and compares every verdict with \
         `tests/matrix.yaml`. **ok** is a pass with no error or warning (notes are not shown \
         unless a row is about one); **FAILED** lists the rules of the error and warning \
         findings; every deviation is explained below. Columns marked *fixture* are \
         correct servers with one planted fault (`fixtures/servers/`), there to show that \
         the fault is caught under its rule.\n",
    );
    for (protocol, title) in [
        ("ftp", "FTP (`scenarios/ftp/`)"),
        ("http", "HTTP (`scenarios/http/origin/`)"),
    ] {
        let servers: Vec<&Server> = matrix.servers.iter().filter(|s| s.protocol == protocol).collect();
        if servers.is_empty() {
            continue;
        }
        let _ = write!(out, "\n## {title}\n\n| scenario |");
        for s in &servers {
            let mark = if s.fixture { " *fixture*" } else { "" };
            let _ = write!(out, " {}{mark} |", s.id);
        }
        out.push_str("\n|---|");
        for _ in &servers {
            out.push_str("---|");
        }
        out.push('\n');
        for id in suite_ids(protocol) {
            let _ = write!(out, "| `{id}` |");
            for s in &servers {
                let _ = write!(out, " {} |", cell(s.expect.get(&id)));
            }
            out.push('\n');
        }
        out.push_str("\n| server | what | how it runs |\n|---|---|---|\n");
        for s in &servers {
            let _ = writeln!(out, "| {} | {} | {} |", s.id, s.name, s.config);
        }
        out.push_str("\n### Deviations\n\n");
        for s in &servers {
            for (id, e) in &s.expect {
                let _ = writeln!(
                    out,
                    "- **{}**, `{id}` ({}): {}",
                    s.id,
                    cell(Some(e)),
                    e.note.trim()
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(status: &str, rules: &[&str], notes: &[&str]) -> Expected {
        Expected {
            status: status.into(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            notes: notes.iter().map(|r| r.to_string()).collect(),
            note: String::new(),
        }
    }

    #[test]
    fn a_verdict_matches_on_status_and_exact_rules_and_listed_notes() {
        let seen = Observed {
            status: "failed".into(),
            rules: vec!["F-CMD-3".into(), "F-SEC-6".into()],
            notes: ["F-SEC-5".to_string()].into(),
        };
        assert!(seen.matches(Some(&expected("failed", &["F-CMD-3", "F-SEC-6"], &["F-SEC-5"]))));
        assert!(!seen.matches(Some(&expected("failed", &["F-CMD-3"], &[]))));
        assert!(!seen.matches(Some(&expected("passed", &["F-CMD-3", "F-SEC-6"], &[]))));
        assert!(!seen.matches(None));
        let clean = Observed {
            status: "passed".into(),
            rules: vec![],
            notes: ["H-SL-3".to_string()].into(),
        };
        assert!(clean.matches(None), "notes not listed are not compared");
    }

    #[test]
    fn cells_say_ok_or_the_status_and_rules() {
        assert_eq!(cell(None), "ok");
        assert_eq!(
            cell(Some(&expected("passed", &["F-TYPE-2"], &[]))),
            "ok · F-TYPE-2"
        );
        assert_eq!(
            cell(Some(&expected("failed", &["F-SEC-6"], &[]))),
            "**FAILED** · F-SEC-6"
        );
        assert_eq!(
            cell(Some(&expected("passed", &[], &["F-SEC-5"]))),
            "ok · F-SEC-5 (note)"
        );
    }
}
