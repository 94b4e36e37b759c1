//! JUnit XML for CI viewers (GitLab, Jenkins, GitHub test reporters).
//!
//! `parley run`: one test suite per protocol, one test case per scenario, classname
//! `parley.<protocol>`. `parley grade`: one suite per submission, classname
//! `parley.<submission>.<protocol>` and the variant in the name (`grading::http-get
//! [split-response]`), so every test id is unique. Every suite has `time` (the sum of its
//! cases) and `timestamp` (when the run started). A failed scenario is a `failure` whose
//! `type` is the first failed rule id; a scenario file that could not be loaded is an
//! `error` of its own test case (in the suite of the protocol it names); a scenario left
//! unplayed by `--fail-fast` is `skipped`.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::outcome::{ErrorKind, Outcome, Status};
use crate::proto::Protocol;
use crate::report::transcript::{TranscriptStyle, render as render_transcript};

/// Renders `outcomes` as JUnit XML, stamped with the current time.
pub fn render(outcomes: &[Outcome]) -> Result<String, quick_junit::SerializeError> {
    let longest = outcomes.iter().map(|o| o.duration).max().unwrap_or_default();
    render_started(outcomes, SystemTime::now() - longest)
}

/// The protocol a test case belongs to: the outcome's, or for a file that could not be
/// loaded, the one its id starts with or its `protocol:` line names.
fn protocol_of(o: &Outcome) -> String {
    if let Some(p) = o.protocol {
        return p.to_string();
    }
    let first = o.id.split("::").next().unwrap_or("");
    if Protocol::from_name(first).is_some() {
        return first.to_string();
    }
    std::fs::read_to_string(&o.file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let value = l.strip_prefix("protocol:")?.trim().trim_matches(['"', '\'']);
                Protocol::from_name(value).map(|p| p.name().to_string())
            })
        })
        .unwrap_or_else(|| "invalid".to_string())
}

/// Renders `outcomes` as JUnit XML; `started` is when the run began (every suite's
/// `timestamp`).
pub fn render_started(
    outcomes: &[Outcome],
    started: SystemTime,
) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("parley");
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    let mut times: BTreeMap<String, Duration> = BTreeMap::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let stamp = super::rfc3339(started);

    for o in outcomes {
        let protocol = protocol_of(o);
        // Grading: one suite per submission; otherwise one per protocol.
        let suite_name = o.submission.clone().unwrap_or_else(|| protocol.clone());
        let suite = suites.entry(suite_name.clone()).or_insert_with(|| {
            let mut s = TestSuite::new(suite_name.as_str());
            s.extra.insert("timestamp".into(), stamp.as_str().into());
            s
        });
        *times.entry(suite_name.clone()).or_default() += o.duration;
        let status = match o.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let first = o.findings.iter().find(|f| f.is_error());
                if let Some(f) = first {
                    s.set_type(f.rule.as_str());
                    s.set_message(format!("{} ({}): {}", f.rule, f.section, f.message));
                }
                s.set_description(description(o));
                s
            }
            Status::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                if let Some(e) = &o.error {
                    s.set_type(match e.kind {
                        ErrorKind::Scenario => "scenario-error",
                        ErrorKind::Unreachable => "unreachable",
                        ErrorKind::Internal => "internal-error",
                    });
                    s.set_message(e.message.clone());
                    match &e.diagnostic {
                        Some(d) => s.set_description(d.render(false)),
                        None => s.set_description(e.message.clone()),
                    };
                }
                s
            }
            Status::NotRun => {
                let mut s = TestCaseStatus::skipped();
                s.set_message("not run: --fail-fast stopped the run after an earlier failure");
                s
            }
        };
        let classname = match &o.submission {
            Some(sub) => format!("parley.{sub}.{protocol}"),
            None => format!("parley.{protocol}"),
        };
        // Two files may share an id (`a/x.yaml`, `b/x.yaml`): the file tells them apart.
        let mut name = o.label();
        if !seen.insert((classname.clone(), name.clone())) {
            name = format!("{name} ({})", o.file.display());
        }
        let mut case = TestCase::new(name, status);
        case.set_classname(classname);
        case.set_time(o.duration);
        case.extra
            .insert("file".into(), o.file.display().to_string().as_str().into());
        if !o.transcript.events.is_empty() {
            case.set_system_out(render_transcript(&o.transcript, TranscriptStyle::default()));
        }
        if let Some(p) = &o.program {
            if !p.stderr_tail.is_empty() {
                case.set_system_err(p.stderr_tail.clone());
            }
        }
        suite.add_test_case(case);
    }
    for (name, suite) in &mut suites {
        suite.set_time(times.get(name).copied().unwrap_or_default());
    }
    report.add_test_suites(suites.into_values());
    report.to_string()
}

fn description(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| {
            let mut text = format!("{} {} ({})", f.rule, f.severity, f.section);
            if let Some(loc) = &f.location {
                text.push_str(&format!(" at {loc}"));
            }
            text.push_str(&format!(": {}", f.message));
            if let Some(e) = &f.expected {
                text.push_str(&format!("\n  expected: {e}"));
            }
            if let Some(a) = &f.actual {
                text.push_str(&format!("\n  actual:   {a}"));
            }
            text.push_str(&format!("\n  hint: {}", f.hint));
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}
