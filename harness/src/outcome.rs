//! What playing a scenario produced: a status, the findings, the transcript and the result
//! of each step. The engine fills these in; `report` renders them.

use crate::rules::RuleId;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::finding::Finding;
use crate::rules::Severity;
use crate::scenario::{Diagnostic, Location};

/// The verdict on one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No error-severity finding.
    Passed,
    /// At least one error-severity finding.
    Failed,
    /// The scenario could not be played (see [`RunError`]).
    Error,
    /// It was not played: `--fail-fast` stopped the run after an earlier failure.
    NotRun,
}

impl Status {
    /// `passed`, `failed` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::NotRun => "not-run",
        }
    }
}

/// Why a scenario could not be played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The scenario file is invalid, or cannot be played in this role (exit code 2).
    Scenario,
    /// The target could not be reached, or the program not started (exit code 3).
    Unreachable,
    /// parley itself failed (a panic: a bug in parley) (exit code 4).
    Internal,
}

impl ErrorKind {
    /// `scenario`, `unreachable` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Scenario => "scenario",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Internal => "internal",
        }
    }

    /// The process exit code this kind of error gives.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Scenario => EXIT_USAGE,
            ErrorKind::Unreachable => EXIT_UNREACHABLE,
            ErrorKind::Internal => EXIT_INTERNAL,
        }
    }
}

/// Exit code: every scenario passed.
pub const EXIT_PASSED: i32 = 0;
/// Exit code: a check failed (a finding of error severity, or a step that did not get
/// what it expected).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: what the user wrote is wrong (flags, a scenario file, a scenario that cannot
/// be played in the role asked for), found before anything ran.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the target could not be reached, or the program under test not started.
pub const EXIT_UNREACHABLE: i32 = 3;
/// Exit code: parley failed internally (a bug in parley); the report still has every row.
pub const EXIT_INTERNAL: i32 = 4;

/// A scenario that could not be played.
#[derive(Debug, Clone)]
pub struct RunError {
    /// Which kind.
    pub kind: ErrorKind,
    /// One line.
    pub message: String,
    /// The rustc-style diagnostic, for scenario file errors.
    pub diagnostic: Option<Diagnostic>,
}

/// Which side of the conversation is seen moving bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The client.
    Client,
    /// The server.
    Server,
}

impl Party {
    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Party::Client => "client",
            Party::Server => "server",
        }
    }
}

impl From<crate::scenario::Side> for Party {
    fn from(s: crate::scenario::Side) -> Party {
        match s {
            crate::scenario::Side::Client => Party::Client,
            crate::scenario::Side::Server => Party::Server,
        }
    }
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A side started listening at `addr`.
    Listen {
        /// Who listens.
        by: Party,
        /// Where.
        addr: String,
    },
    /// A connection was established by `by`, from `local` to `peer` (parley's view).
    Open {
        /// Who opened it.
        by: Party,
        /// The client end's address.
        client: String,
        /// The server end's address.
        server: String,
    },
    /// Bytes went from `from` to the other side.
    Data {
        /// Who sent them.
        from: Party,
        /// The bytes (consecutive pieces are joined).
        bytes: Vec<u8>,
    },
    /// Bytes that went from `from` on the connection and the transcript does not keep
    /// (between the head and the tail of a long transfer).
    Omitted {
        /// Who sent them.
        from: Party,
        /// How many.
        bytes: u64,
    },
    /// A side closed its end.
    Close {
        /// Who closed.
        by: Party,
    },
    /// The connection failed (reset, refused).
    Error {
        /// What the OS said.
        message: String,
    },
}

/// One transcript event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Time since the scenario started.
    pub at: Duration,
    /// Connection name.
    pub conn: String,
    /// What happened.
    pub kind: EventKind,
}

/// Everything that crossed the connections, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The events.
    pub events: Vec<Event>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// It ran and its checks held.
    Passed,
    /// It ran and a check failed.
    Failed,
    /// Its `when` was false.
    Skipped,
    /// An earlier failure stopped the scenario before it.
    NotRun,
    /// It belongs to an alternative of a `one_of` that was not chosen: it neither
    /// earns nor costs points.
    NotTaken,
}

impl StepState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Passed => "passed",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::NotRun => "not-run",
            StepState::NotTaken => "not-taken",
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// 1-based number.
    pub number: usize,
    /// Where it is written.
    pub location: Location,
    /// How it ended.
    pub state: StepState,
    /// Its points, when it ran.
    pub points: u32,
}

/// The result of playing one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Scenario id, e.g. `echo::basic`.
    pub id: String,
    /// The scenario's `name:` (the id when it could not be read).
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// Protocol name, when the file was read.
    pub protocol: Option<&'static str>,
    /// What parley talked to: `mock 127.0.0.1:PORT`, `127.0.0.1:21`, a program.
    pub target: String,
    /// The verdict.
    pub status: Status,
    /// Why it could not be played.
    pub error: Option<RunError>,
    /// Wall time.
    pub duration: Duration,
    /// Deviations, in the order found.
    pub findings: Vec<Finding>,
    /// What crossed the wire.
    pub transcript: Transcript,
    /// Per-step results.
    pub steps: Vec<StepResult>,
    /// The fault variant played (grading), `None` for the plain run.
    pub variant: Option<String>,
    /// The submission graded (batch grading).
    pub submission: Option<String>,
    /// The program under test, when parley started one.
    pub program: Option<ProgramSummary>,
    /// Grading: points for rules (the scenario's `rule_points` and the rubric's), each a
    /// check of its own; see [`Outcome::rule_scores`].
    pub rule_points: BTreeMap<RuleId, u32>,
    /// Grading: the checks of the program itself (it exits by itself, its exit status,
    /// its output), each worth points.
    pub program_checks: Vec<ProgramCheck>,
    /// When the conversation first failed (its first error finding), on the transcript's
    /// clock: what the peer did after it is not asked of it (see
    /// [`crate::engine::sandbox::program_left`]). Not reported.
    pub failed_at: Option<Duration>,
    /// Serving a program: when the program first closed or reset the main connection, on
    /// the transcript's clock, also when no step acted on it (the reported transcript then
    /// leaves it out). Not reported.
    pub left_at: Option<Duration>,
    /// The run failed and its program said a port it binds was in use ("Address already
    /// in use", [`crate::engine::sandbox::collided`]): another run's doing without a
    /// sandbox, possibly parley's own sockets in one. Not reported.
    pub port_in_use: bool,
}

/// One check of what the program under test did, apart from the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCheck {
    /// What is checked: `exits by itself`, `exit status 0`, `stdout contains "418"`, ...
    pub what: String,
    /// Its points.
    pub points: u32,
    /// Passed, failed, or not run (the conversation failed first and parley stopped the
    /// program).
    pub state: StepState,
}

impl ProgramCheck {
    /// Whether it held.
    pub fn passed(&self) -> bool {
        self.state == StepState::Passed
    }
}

/// The score of one weighted rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleScore {
    /// The rule id.
    pub rule: RuleId,
    /// Its points.
    pub points: u32,
    /// Earned: the run reached its end with no finding of the rule (warning or error).
    pub earned: bool,
}

/// What the program under test did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramSummary {
    /// The command line, placeholders filled in.
    pub command: String,
    /// `exit status 0`, `killed by signal 9`, ...
    pub status: String,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// Bytes it wrote to stdout.
    pub stdout_bytes: usize,
    /// The last lines of its stderr.
    pub stderr_tail: String,
    /// The start of its stdout, where that is what it said (a server program that wrote
    /// nothing to stderr); empty otherwise.
    pub stdout_head: String,
    /// parley had to stop it.
    pub stopped: bool,
}

impl Outcome {
    /// An outcome for a scenario that could not be played at all.
    pub fn error(id: String, file: PathBuf, error: RunError) -> Outcome {
        Outcome {
            name: id.clone(),
            id,
            file,
            protocol: None,
            target: String::new(),
            status: Status::Error,
            error: Some(error),
            duration: Duration::ZERO,
            findings: Vec::new(),
            transcript: Transcript::default(),
            steps: Vec::new(),
            variant: None,
            submission: None,
            program: None,
            rule_points: BTreeMap::new(),
            program_checks: Vec::new(),
            failed_at: None,
            left_at: None,
            port_in_use: false,
        }
    }

    /// The id with the variant: `ftp::list-active [byte-at-a-time]`.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) => format!("{} [{v}]", self.id),
            None => self.id.clone(),
        }
    }

    /// An outcome for a scenario left unplayed because `--fail-fast` stopped the run;
    /// `steps` are all [`StepState::NotRun`] (they keep their points for the gradebook).
    pub fn not_run(scenario: &crate::scenario::Scenario, steps: Vec<StepResult>) -> Outcome {
        Outcome {
            id: scenario.id.clone(),
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            protocol: Some(scenario.protocol.name()),
            target: String::new(),
            status: Status::NotRun,
            error: None,
            duration: Duration::ZERO,
            findings: Vec::new(),
            transcript: Transcript::default(),
            steps,
            variant: None,
            submission: None,
            program: None,
            rule_points: scenario.rule_points.clone(),
            program_checks: Vec::new(),
            failed_at: None,
            left_at: None,
            port_in_use: false,
        }
    }

    /// Recomputes the status from the findings, steps and program checks (after some were
    /// added): failed when a finding is an error, a step failed or a program check did not
    /// hold.
    pub fn settle(&mut self) {
        if !matches!(self.status, Status::Error | Status::NotRun) {
            self.status = if self.findings.iter().any(Finding::is_error)
                || self.steps.iter().any(|s| s.state == StepState::Failed)
                || self.program_checks.iter().any(|c| c.state == StepState::Failed)
            {
                Status::Failed
            } else {
                Status::Passed
            };
        }
    }

    /// Findings of at least this severity.
    pub fn findings_at_least(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity >= severity)
    }

    /// The distinct rule ids of error findings, in order of first appearance.
    pub fn failed_rules(&self) -> Vec<RuleId> {
        let mut out: Vec<RuleId> = Vec::new();
        for f in self.findings_at_least(Severity::Error) {
            if !out.contains(&f.rule) {
                out.push(f.rule);
            }
        }
        out
    }

    /// Points earned and possible: each step's points when it passed (or was skipped by
    /// its `when:`), each program check's when it held, plus each weighted rule's
    /// ([`Outcome::rule_scores`]). A run that did not pass never shows full marks: a
    /// failure no check accounts for costs one point.
    pub fn points(&self) -> (u32, u32) {
        let rules = self.rule_scores();
        let total = self
            .steps
            .iter()
            .filter(|s| s.state != StepState::NotTaken)
            .map(|s| s.points)
            .sum::<u32>()
            + self.program_checks.iter().map(|c| c.points).sum::<u32>()
            + rules.iter().map(|r| r.points).sum::<u32>();
        let earned = self
            .steps
            .iter()
            .filter(|s| matches!(s.state, StepState::Passed | StepState::Skipped))
            .map(|s| s.points)
            .sum::<u32>()
            + self
                .program_checks
                .iter()
                .filter(|c| c.passed())
                .map(|c| c.points)
                .sum::<u32>()
            + rules.iter().filter(|r| r.earned).map(|r| r.points).sum::<u32>();
        let earned = if self.status != Status::Passed && earned == total {
            earned.saturating_sub(1)
        } else {
            earned
        };
        (earned, total)
    }

    /// How each weighted rule scored. A rule's points are earned only by a run that got to
    /// its last step (a program that never connects earns nothing for the rules it never
    /// had the chance to break) and has no warning or error finding of the rule.
    pub fn rule_scores(&self) -> Vec<RuleScore> {
        let completed = self.status != Status::Error
            && !self.steps.is_empty()
            && self.steps.iter().all(|s| s.state != StepState::NotRun);
        self.rule_points
            .iter()
            .map(|(rule, points)| RuleScore {
                rule: *rule,
                points: *points,
                earned: completed
                    && !self
                        .findings
                        .iter()
                        .any(|f| f.rule == *rule && f.severity >= Severity::Warning),
            })
            .collect()
    }
}

/// Totals over many outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Passed scenarios.
    pub passed: usize,
    /// Failed scenarios.
    pub failed: usize,
    /// Scenarios that could not be played.
    pub errors: usize,
    /// Scenarios left unplayed by `--fail-fast`.
    pub not_run: usize,
}

impl Summary {
    /// Counts `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            match o.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Error => s.errors += 1,
                Status::NotRun => s.not_run += 1,
            }
        }
        s
    }

    /// The process exit code: 4 if parley failed internally, else 2 if a scenario file
    /// was invalid (or cannot be played in its role), else 3 if a target was unreachable or
    /// a program could not start, else 1 if a check failed, else 0.
    pub fn exit_code(outcomes: &[Outcome]) -> i32 {
        let kinds: Vec<ErrorKind> = outcomes
            .iter()
            .filter_map(|o| o.error.as_ref().map(|e| e.kind))
            .collect();
        for kind in [ErrorKind::Internal, ErrorKind::Scenario, ErrorKind::Unreachable] {
            if kinds.contains(&kind) {
                return kind.exit_code();
            }
        }
        if outcomes.iter().any(|o| o.status == Status::Failed) {
            EXIT_FAILED
        } else {
            EXIT_PASSED
        }
    }
}
