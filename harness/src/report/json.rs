//! The JSON report, version 1 (documented in `docs/report-json.md`): [`render`] writes
//! it, [`parse`] reads one back into [`Outcome`]s (for `parley merge`).
//!
//! The shape is stable within a version: fields may be added, never renamed or removed;
//! the reader ignores fields it does not know.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::rules::RuleId;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::outcome::{
    ErrorKind, Event, EventKind, Outcome, Party, ProgramCheck, ProgramSummary, RunError, Status, StepResult,
    StepState, Summary, Transcript,
};
use crate::scenario::Location;
use crate::visible::{unvisible, visible_truncated};

/// The version of the report format.
pub const VERSION: u32 = 1;

/// Bytes of one transcript event kept in the report.
pub const EVENT_BYTES: usize = 4096;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    parley: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    summary: SummaryJson,
    scenarios: Vec<ScenarioJson<'a>>,
}

#[derive(Serialize)]
struct SummaryJson {
    total: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    #[serde(skip_serializing_if = "is_zero")]
    not_run: usize,
    exit_code: i32,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    #[serde(skip_serializing_if = "str::is_empty")]
    stdout_head: &'a str,
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

/// Renders `outcomes` as a pretty-printed JSON document (without `started`).
pub fn render(outcomes: &[Outcome]) -> String {
    render_report(outcomes, None)
}

/// Renders `outcomes`, with `started`: when the run began.
pub fn render_started(outcomes: &[Outcome], started: SystemTime) -> String {
    render_report(outcomes, Some(started))
}

fn render_report(outcomes: &[Outcome], started: Option<SystemTime>) -> String {
    let s = Summary::of(outcomes);
    let report = Report {
        version: VERSION,
        parley: env!("CARGO_PKG_VERSION"),
        started: started.map(super::rfc3339),
        summary: SummaryJson {
            total: outcomes.len(),
            passed: s.passed,
            failed: s.failed,
            errors: s.errors,
            not_run: s.not_run,
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
            stdout_head: &p.stdout_head,
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
                    EventKind::Omitted { from, bytes } => {
                        ev.event = "omitted";
                        ev.from = Some(from.name());
                        ev.len = Some(usize::try_from(*bytes).unwrap_or(usize::MAX));
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

/// A JSON report read back.
#[derive(Debug, Clone)]
pub struct ReadReport {
    /// The outcomes, in the report's order.
    pub outcomes: Vec<Outcome>,
    /// When the run began, if the report says.
    pub started: Option<SystemTime>,
}

/// Why a JSON report cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON, or not the shape of a parley report.
    #[error("not a parley JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// Another version of the format.
    #[error("report version {0}, but this parley reads version {VERSION}")]
    Version(u32),
    /// A value this parley does not know.
    #[error("scenario `{scenario}`: {message}")]
    Value {
        /// The scenario's id.
        scenario: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct ReportIn {
    version: u32,
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    scenarios: Vec<ScenarioIn>,
}

#[derive(Deserialize)]
struct ScenarioIn {
    id: String,
    name: String,
    file: String,
    protocol: Option<String>,
    #[serde(default)]
    target: String,
    status: String,
    #[serde(default)]
    duration_ms: f64,
    #[serde(default)]
    error: Option<ErrorIn>,
    #[serde(default)]
    submission: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    program: Option<ProgramIn>,
    #[serde(default)]
    rule_points: Vec<RulePointsIn>,
    #[serde(default)]
    program_checks: Vec<ProgramCheckIn>,
    #[serde(default)]
    findings: Vec<FindingIn>,
    #[serde(default)]
    steps: Vec<StepIn>,
    #[serde(default)]
    transcript: Vec<EventIn>,
}

#[derive(Deserialize)]
struct ErrorIn {
    kind: String,
    message: String,
}

#[derive(Deserialize)]
struct ProgramIn {
    command: String,
    status: String,
    exit_code: Option<i32>,
    #[serde(default)]
    stdout_bytes: usize,
    #[serde(default)]
    stderr_tail: String,
    #[serde(default)]
    stdout_head: String,
    #[serde(default)]
    stopped: bool,
}

#[derive(Deserialize)]
struct ProgramCheckIn {
    check: String,
    points: u32,
    state: String,
}

#[derive(Deserialize)]
struct RulePointsIn {
    rule: String,
    points: u32,
}

#[derive(Deserialize)]
struct FindingIn {
    rule: String,
    severity: String,
    message: String,
    #[serde(default)]
    hint: String,
    #[serde(default)]
    sent_by: Option<String>,
    #[serde(default)]
    expected: Option<String>,
    #[serde(default)]
    actual: Option<String>,
    #[serde(default)]
    step: Option<usize>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    conn: Option<String>,
}

#[derive(Deserialize)]
struct StepIn {
    number: usize,
    location: String,
    state: String,
    points: u32,
}

#[derive(Deserialize)]
struct EventIn {
    t_ms: f64,
    conn: String,
    event: String,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    len: Option<u64>,
}

fn party(name: Option<&str>) -> Option<Party> {
    match name? {
        "client" => Some(Party::Client),
        "server" => Some(Party::Server),
        _ => None,
    }
}

/// `file:line:col` back into a location (the file may itself contain colons).
fn location(text: &str) -> Location {
    let mut parts = text.rsplitn(3, ':');
    let col = parts.next().and_then(|c| c.parse().ok());
    let line = parts.next().and_then(|l| l.parse().ok());
    match (parts.next(), line, col) {
        (Some(file), Some(line), Some(col)) => Location {
            file: Arc::from(Path::new(file)),
            line,
            col,
        },
        _ => Location {
            file: Arc::from(Path::new(text)),
            line: 1,
            col: 1,
        },
    }
}

fn from_millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// Reads a JSON report (version 1) back into outcomes. What the report does not keep —
/// a scenario error's rustc-style snippet, payload bytes past 4096 — stays lost; points,
/// statuses and findings come back as they were.
pub fn parse(text: &str) -> Result<ReadReport, ReadError> {
    let report: ReportIn = serde_json::from_str(text)?;
    if report.version != VERSION {
        return Err(ReadError::Version(report.version));
    }
    let outcomes = report
        .scenarios
        .into_iter()
        .map(outcome)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReadReport {
        outcomes,
        started: report.started.as_deref().and_then(super::parse_rfc3339),
    })
}

fn outcome(s: ScenarioIn) -> Result<Outcome, ReadError> {
    let bad = |message: String| ReadError::Value {
        scenario: s.id.clone(),
        message,
    };
    let rule = |id: &str| {
        crate::rules::lookup(id)
            .map(|r| r.id)
            .ok_or_else(|| bad(format!("unknown rule `{id}`")))
    };
    let status = match s.status.as_str() {
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "error" => Status::Error,
        "not-run" => Status::NotRun,
        other => return Err(bad(format!("unknown status `{other}`"))),
    };
    let protocol = match &s.protocol {
        Some(name) => Some(
            crate::proto::Protocol::from_name(name)
                .map(|p| p.name())
                .ok_or_else(|| bad(format!("unknown protocol `{name}`")))?,
        ),
        None => None,
    };
    let mut findings = Vec::with_capacity(s.findings.len());
    for f in &s.findings {
        let id = rule(&f.rule)?;
        let mut finding = Finding::new(id, f.message.clone()).with_hint(f.hint.clone());
        finding.severity = match f.severity.as_str() {
            "error" => crate::rules::Severity::Error,
            "warning" => crate::rules::Severity::Warning,
            "note" => crate::rules::Severity::Note,
            other => return Err(bad(format!("unknown severity `{other}`"))),
        };
        finding.sent_by = party(f.sent_by.as_deref());
        finding.expected = f.expected.clone();
        finding.actual = f.actual.clone();
        finding.step = f.step;
        finding.location = f.location.clone();
        finding.conn = f.conn.clone();
        findings.push(finding);
    }
    let step_state = |state: &str| match state {
        "passed" => Ok(StepState::Passed),
        "failed" => Ok(StepState::Failed),
        "skipped" => Ok(StepState::Skipped),
        "not-run" => Ok(StepState::NotRun),
        "not-taken" => Ok(StepState::NotTaken),
        other => Err(bad(format!("unknown step state `{other}`"))),
    };
    let mut steps = Vec::with_capacity(s.steps.len());
    for step in &s.steps {
        let state = step_state(&step.state)?;
        steps.push(StepResult {
            number: step.number,
            location: location(&step.location),
            state,
            points: step.points,
        });
    }
    let mut rule_points = BTreeMap::new();
    for r in &s.rule_points {
        rule_points.insert(rule(&r.rule)?, r.points);
    }
    let mut events = Vec::with_capacity(s.transcript.len());
    for e in &s.transcript {
        let by = party(e.by.as_deref());
        let kind = match (e.event.as_str(), by) {
            ("listen", Some(by)) => EventKind::Listen {
                by,
                addr: e.addr.clone().unwrap_or_default(),
            },
            ("open", Some(by)) => {
                let addr = e.addr.clone().unwrap_or_default();
                let (client, server) = addr.split_once(" -> ").unwrap_or((&addr, ""));
                EventKind::Open {
                    by,
                    client: client.to_string(),
                    server: server.to_string(),
                }
            }
            ("close", Some(by)) => EventKind::Close { by },
            ("omitted", _) => EventKind::Omitted {
                from: party(e.from.as_deref())
                    .ok_or_else(|| bad("an omitted event without `from`".into()))?,
                bytes: e.len.unwrap_or(0),
            },
            ("data", _) => EventKind::Data {
                from: party(e.from.as_deref()).ok_or_else(|| bad("a data event without `from`".into()))?,
                bytes: unvisible(e.data.as_deref().unwrap_or("")),
            },
            ("error", _) => EventKind::Error {
                message: e.data.clone().unwrap_or_default(),
            },
            (other, _) => return Err(bad(format!("unknown transcript event `{other}`"))),
        };
        events.push(Event {
            at: from_millis(e.t_ms),
            conn: e.conn.clone(),
            kind,
        });
    }
    let error = match &s.error {
        Some(e) => Some(RunError {
            kind: match e.kind.as_str() {
                "scenario" => ErrorKind::Scenario,
                "unreachable" => ErrorKind::Unreachable,
                "internal" => ErrorKind::Internal,
                other => return Err(bad(format!("unknown error kind `{other}`"))),
            },
            message: e.message.clone(),
            diagnostic: None,
        }),
        None => None,
    };
    Ok(Outcome {
        id: s.id.clone(),
        name: s.name.clone(),
        file: PathBuf::from(&s.file),
        protocol,
        target: s.target.clone(),
        status,
        error,
        duration: from_millis(s.duration_ms),
        findings,
        transcript: Transcript { events },
        steps,
        variant: s.variant.clone(),
        submission: s.submission.clone(),
        program: s.program.as_ref().map(|p| ProgramSummary {
            command: p.command.clone(),
            status: p.status.clone(),
            exit_code: p.exit_code,
            stdout_bytes: p.stdout_bytes,
            stderr_tail: p.stderr_tail.clone(),
            stdout_head: p.stdout_head.clone(),
            stopped: p.stopped,
        }),
        rule_points,
        failed_at: None,
        left_at: None,
        port_in_use: false,
        program_checks: s
            .program_checks
            .iter()
            .map(|c| {
                Ok(ProgramCheck {
                    what: c.check.clone(),
                    points: c.points,
                    state: step_state(&c.state)?,
                })
            })
            .collect::<Result<Vec<_>, ReadError>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{H_RL_2, S_EXPECT};

    fn sample() -> Outcome {
        let file: Arc<Path> = Arc::from(Path::new("scenarios/grading/http-get.yaml"));
        let mut o = Outcome::error(
            "grading::http-get".into(),
            PathBuf::from("scenarios/grading/http-get.yaml"),
            RunError {
                kind: ErrorKind::Unreachable,
                message: "x".into(),
                diagnostic: None,
            },
        );
        o.error = None;
        o.status = Status::Failed;
        o.name = "an HTTP GET".into();
        o.protocol = Some("http");
        o.target = "prog (parley serving at 127.0.0.1:1)".into();
        o.duration = Duration::from_micros(12_345);
        o.submission = Some("bob".into());
        o.variant = Some("split-response".into());
        o.rule_points.insert(H_RL_2, 2);
        o.findings.push(
            Finding::new(H_RL_2, "trailing space")
                .by(Party::Client)
                .actual(b"GET / HTTP/1.0 \r\n")
                .on("main"),
        );
        let mut f = Finding::new(S_EXPECT, "waited").expected(b"\x00\xff");
        f.step = Some(2);
        f.location = Some("scenarios/grading/http-get.yaml:20:5".into());
        o.findings.push(f);
        o.steps = vec![
            StepResult {
                number: 1,
                location: Location {
                    file: file.clone(),
                    line: 18,
                    col: 5,
                },
                state: StepState::Passed,
                points: 1,
            },
            StepResult {
                number: 2,
                location: Location {
                    file,
                    line: 20,
                    col: 5,
                },
                state: StepState::Failed,
                points: 3,
            },
        ];
        o.program = Some(ProgramSummary {
            command: "python3 get.py".into(),
            status: "exit status 0".into(),
            exit_code: Some(0),
            stdout_bytes: 3,
            stderr_tail: "oops".into(),
            stopped: false,
            ..ProgramSummary::default()
        });
        o.transcript.events = vec![
            Event {
                at: Duration::from_micros(100),
                conn: "main".into(),
                kind: EventKind::Open {
                    by: Party::Client,
                    client: "127.0.0.1:2".into(),
                    server: "127.0.0.1:1".into(),
                },
            },
            Event {
                at: Duration::from_micros(200),
                conn: "main".into(),
                kind: EventKind::Data {
                    from: Party::Client,
                    bytes: b"GET / HTTP/1.0 \r\n\r\n".to_vec(),
                },
            },
            Event {
                at: Duration::from_micros(300),
                conn: "main".into(),
                kind: EventKind::Close { by: Party::Server },
            },
        ];
        o
    }

    #[test]
    fn a_report_read_back_renders_the_same_report() {
        let outcomes = vec![sample()];
        let text = render(&outcomes);
        let back = parse(&text).unwrap();
        assert_eq!(back.outcomes.len(), 1);
        assert_eq!(render(&back.outcomes), text);
        let o = &back.outcomes[0];
        assert_eq!(o.points(), outcomes[0].points());
        assert_eq!(o.transcript, outcomes[0].transcript);
        assert_eq!(o.findings[0].sent_by, Some(Party::Client));
    }

    #[test]
    fn started_is_written_and_read_back() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let back = parse(&render_started(&[sample()], t)).unwrap();
        assert_eq!(back.started, Some(t));
    }

    #[test]
    fn another_version_or_shape_is_refused() {
        assert!(matches!(
            parse(r#"{"version": 2, "scenarios": []}"#),
            Err(ReadError::Version(2))
        ));
        assert!(matches!(parse("submission,scenario"), Err(ReadError::Json(_))));
        let bad = render(&[sample()]).replace("\"H-RL-2\"", "\"X-9\"");
        assert!(
            parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown rule `X-9`")
        );
    }
}
