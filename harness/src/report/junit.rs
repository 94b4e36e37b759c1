//! JUnit XML: one test suite per protocol, one test case per scenario; a failed scenario
//! is a `failure` whose `type` is the first failed rule id, an unplayable one an `error`.

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::outcome::{Outcome, Status};
use crate::report::transcript::{TranscriptStyle, render as render_transcript};

/// Renders `outcomes` as JUnit XML.
pub fn render(outcomes: &[Outcome]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("parley");
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();

    for o in outcomes {
        let protocol = o.protocol.unwrap_or("invalid");
        // Grading a class: one suite per submission; otherwise one per protocol.
        let suite_name = o.submission.clone().unwrap_or_else(|| protocol.to_string());
        let suite = suites
            .entry(suite_name.clone())
            .or_insert_with(|| TestSuite::new(suite_name.as_str()));
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
                        crate::outcome::ErrorKind::Scenario => "scenario-error",
                        crate::outcome::ErrorKind::Unreachable => "unreachable",
                        crate::outcome::ErrorKind::Internal => "internal-error",
                    });
                    s.set_message(e.message.clone());
                    if let Some(d) = &e.diagnostic {
                        s.set_description(d.render(false));
                    }
                }
                s
            }
        };
        let mut case = TestCase::new(o.label(), status);
        case.set_classname(format!("parley.{protocol}"));
        case.set_time(o.duration);
        if !o.transcript.events.is_empty() {
            case.set_system_out(render_transcript(&o.transcript, TranscriptStyle::default()));
        }
        suite.add_test_case(case);
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
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}
