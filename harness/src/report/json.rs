//! The JSON report, version 1 (documented in `docs/report-json.md`).
//!
//! The shape is stable within a version: fields may be added, never renamed or removed.

use crate::rules::RuleId;
use serde::Serialize;

use crate::finding::Finding;
use crate::outcome::{EventKind, Outcome, Summary};
use crate::visible::visible_truncated;

/// The version of the report format.
pub const VERSION: u32 = 1;

/// Bytes of one transcript event kept in the report.
pub const EVENT_BYTES: usize = 4096;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    parley: &'static str,
    summary: SummaryJson,
    scenarios: Vec<ScenarioJson<'a>>,
}

#[derive(Serialize)]
struct SummaryJson {
    total: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    exit_code: i32,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    id: &'a str,
    name: &'a str,
    file: String,
    protocol: Option<&'a str>,
    target: &'a str,
    status: &'a str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submission: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    program: Option<ProgramJson<'a>>,
    points: PointsJson,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule_points: Vec<RulePointsJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    program_checks: Vec<ProgramCheckJson<'a>>,
    findings: &'a [Finding],
    steps: Vec<StepJson>,
    transcript: Vec<EventJson<'a>>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    kind: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct ProgramJson<'a> {
    command: &'a str,
    status: &'a str,
    exit_code: Option<i32>,
    stdout_bytes: usize,
    stderr_tail: &'a str,
    stopped: bool,
}

#[derive(Serialize)]
struct ProgramCheckJson<'a> {
    check: &'a str,
    points: u32,
    state: &'static str,
}

#[derive(Serialize)]
struct PointsJson {
    earned: u32,
    total: u32,
}

#[derive(Serialize)]
struct RulePointsJson {
    rule: RuleId,
    points: u32,
    earned: bool,
}

#[derive(Serialize)]
struct StepJson {
    number: usize,
    location: String,
    state: &'static str,
    points: u32,
}

#[derive(Serialize)]
struct EventJson<'a> {
    t_ms: f64,
    conn: &'a str,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    len: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Renders `outcomes` as a pretty-printed JSON document.
pub fn render(outcomes: &[Outcome]) -> String {
    let s = Summary::of(outcomes);
    let report = Report {
        version: VERSION,
        parley: env!("CARGO_PKG_VERSION"),
        summary: SummaryJson {
            total: outcomes.len(),
            passed: s.passed,
            failed: s.failed,
            errors: s.errors,
            exit_code: Summary::exit_code(outcomes),
        },
        scenarios: outcomes.iter().map(scenario).collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn scenario(o: &Outcome) -> ScenarioJson<'_> {
    let (earned, total) = o.points();
    ScenarioJson {
        id: &o.id,
        name: &o.name,
        file: o.file.display().to_string(),
        protocol: o.protocol,
        target: &o.target,
        status: o.status.as_str(),
        duration_ms: millis(o.duration),
        error: o.error.as_ref().map(|e| ErrorJson {
            kind: e.kind.as_str(),
            message: &e.message,
        }),
        submission: o.submission.as_deref(),
        variant: o.variant.as_deref(),
        program: o.program.as_ref().map(|p| ProgramJson {
            command: &p.command,
            status: &p.status,
            exit_code: p.exit_code,
            stdout_bytes: p.stdout_bytes,
            stderr_tail: &p.stderr_tail,
            stopped: p.stopped,
        }),
        points: PointsJson { earned, total },
        rule_points: o
            .rule_scores()
            .into_iter()
            .map(|r| RulePointsJson {
                rule: r.rule,
                points: r.points,
                earned: r.earned,
            })
            .collect(),
        program_checks: o
            .program_checks
            .iter()
            .map(|c| ProgramCheckJson {
                check: &c.what,
                points: c.points,
                state: c.state.as_str(),
            })
            .collect(),
        findings: &o.findings,
        steps: o
            .steps
            .iter()
            .map(|s| StepJson {
                number: s.number,
                location: s.location.to_string(),
                state: s.state.as_str(),
                points: s.points,
            })
            .collect(),
        transcript: o
            .transcript
            .events
            .iter()
            .map(|e| {
                let mut ev = EventJson {
                    t_ms: millis(e.at),
                    conn: &e.conn,
                    event: "",
                    by: None,
                    from: None,
                    len: None,
                    data: None,
                    addr: None,
                };
                match &e.kind {
                    EventKind::Listen { by, addr } => {
                        ev.event = "listen";
                        ev.by = Some(by.name());
                        ev.addr = Some(addr.clone());
                    }
                    EventKind::Open { by, client, server } => {
                        ev.event = "open";
                        ev.by = Some(by.name());
                        ev.addr = Some(format!("{client} -> {server}"));
                    }
                    EventKind::Data { from, bytes } => {
                        ev.event = "data";
                        ev.from = Some(from.name());
                        ev.len = Some(bytes.len());
                        ev.data = Some(visible_truncated(bytes, EVENT_BYTES));
                    }
                    EventKind::Close { by } => {
                        ev.event = "close";
                        ev.by = Some(by.name());
                    }
                    EventKind::Error { message } => {
                        ev.event = "error";
                        ev.data = Some(message.clone());
                    }
                }
                ev
            })
            .collect(),
    }
}
