//! Plays one scenario: walks the steps in order, sending the side parley plays and
//! checking the other, with a deadline on every wait.
//!
//! A step that fails ends the scenario: the finding that failed it is the main one, the
//! remaining steps are reported as not run and cost no time, and only clean-up follows
//! (connections closed; the caller stops a program under test at once). A step marked
//! `continue: true` is informational: its findings keep their rule's severity and the
//! scenario goes on. Every finding names the party whose bytes broke the rule, so its
//! hint is addressed to that party. The pieces: `env`
//! (variables), `open` (connections: open, listen, close), `send` (parley's messages,
//! with the fault knobs when it plays the server), `receive` (the peer's messages, RFC
//! checks, matchers, captures).

mod env;
mod open;
mod receive;
mod send;
mod streamed;
mod streamed_body;

use crate::rules::RuleId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;

use super::conn::Conn;
use super::transcript::Recorder;
use crate::finding::Finding;
use crate::outcome::{ErrorKind, Outcome, Party, RunError, Status, StepResult, StepState};
use crate::proto::{Dir, Inspector, MAIN};
use crate::rules;
use crate::scenario::plan::{Action, Condition, Faults, Step};
use crate::scenario::template::{MissingVar, Template, Vars};
use crate::scenario::{Scenario, Side};
use crate::visible::visible_truncated;

use env::Env;
pub use env::listen_vars;

/// Where the main connection comes from.
#[derive(Debug)]
pub enum Endpoint {
    /// parley plays the client and connects here (`host:port`).
    Connect(String),
    /// parley plays the server and accepts here.
    Accept(TcpListener),
}

/// How long parley, as a server, keeps retrying a data connection the client refused.
pub const DATA_GRACE: Duration = Duration::from_millis(1500);

/// How long a program under test may take to start — to connect to parley, or to listen
/// on its port — unless the scenario (`program: { startup }`) or `--startup-timeout`
/// says otherwise. Apart from the step deadlines: an interpreter that needs a second to
/// start on a loaded machine is not slow to answer.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(30);

/// Settings for one play.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--var` values; they override the scenario's.
    pub vars: BTreeMap<String, String>,
    /// `--timeout`: the default step deadline, instead of the scenario's.
    pub step_timeout: Option<Duration>,
    /// When parley plays the server: the fault knobs of the variant being graded
    /// (default: the scenario's `faults`).
    pub server_faults: Option<Faults>,
    /// What to call the target in reports.
    pub target_label: Option<String>,
    /// `--startup-timeout`: how long the program under test may take to start, instead of
    /// the scenario's `program: { startup }` or [`DEFAULT_STARTUP`].
    pub startup: Option<Duration>,
    /// The process id of the program under test, to read its listening ports from /proc.
    pub program_pid: Option<i32>,
    /// Cancelled when the program under test exits: parley stops waiting for it to connect.
    pub program_exited: Option<tokio_util::sync::CancellationToken>,
    /// Grading: the course's rule weights (`--rubric`), over the scenario's `rule_points`.
    pub rubric: Option<std::sync::Arc<crate::scenario::rubric::Rubric>>,
    // --- isolation (engine/sandbox): begin
    /// Where parley creates its sockets (listeners, connections, probes): the sandbox of
    /// the program under test; `None` is parley's own network namespace.
    pub sockets: Option<std::sync::Arc<dyn crate::engine::sandbox::SocketFactory>>,
    /// Whether programs under test run in a sandbox (`grade`, `run -- CMD`).
    pub isolation: crate::engine::sandbox::Isolation,
    // --- isolation: end
}

impl PlayOptions {
    /// Where parley creates its sockets for this play.
    pub fn sockets(&self) -> &dyn crate::engine::sandbox::SocketFactory {
        match &self.sockets {
            Some(s) => s.as_ref(),
            None => &crate::engine::sandbox::HOST,
        }
    }
}

/// Why the steps stopped.
enum Stop {
    /// The rest cannot run; findings say why.
    Halt,
    /// The step failed for this reason; the rest cannot run.
    Failed(Box<Finding>),
    /// The target could not be reached at all.
    Unreachable(String),
    /// parley itself could not go on (a local socket could not be made).
    Internal(String),
}

struct Session<'a> {
    scenario: &'a Scenario,
    me: Side,
    opts: &'a PlayOptions,
    faults: Faults,
    recorder: Recorder,
    inspector: Box<dyn Inspector>,
    conns: HashMap<String, Conn>,
    listeners: HashMap<String, TcpListener>,
    main_endpoint: Option<Endpoint>,
    globals: BTreeMap<String, String>,
    findings: Vec<Finding>,
    passed: HashSet<String>,
    failed: HashSet<String>,
    last_code: Option<u16>,
    deadline: Instant,
    main_opened: bool,
    /// Every connection opened, by name, with its inbox (also those closed since): which
    /// of the peer's closes a step acted on ([`Session::shown_transcript`]).
    opened: Vec<(String, std::sync::Arc<super::conn::Shared>)>,
    /// A data connection failed and parley answered for it: skip the steps of that
    /// transfer until the client's next message on `main`.
    resync: bool,
    /// parley already sent its first message on `main` (the greeting).
    greeted: bool,
    /// The step (number, location) that received the peer's last message on each
    /// connection, for findings the inspector gives at the end (`Inspector::finish`).
    received_at: HashMap<String, (usize, String)>,
    /// The number of a step parley sent early, while it retried a data connection
    /// (`open::send_ahead`): it is not sent again when its turn comes.
    sent_ahead: Option<usize>,
    /// The alternative chosen in each `one_of` group decided so far.
    chosen: HashMap<usize, usize>,
    /// The peer's message that chose an alternative, kept for its first step.
    prefetched: Option<Prefetched>,
    /// The peer's answer to a large message parley sent, checked while it was sent.
    pending_stream: Option<streamed::PendingStream>,
    /// A connection parley closes right after the first piece of the message it writes
    /// next (`Hooks::send_before_close`: an FTP 226 goes out with the data connection's end).
    close_after_first_piece: Option<String>,
    /// When the conversation first failed, on the recorder's clock ([`Self::failed_by`]).
    failed_at: Option<Duration>,
}

/// A message received and judged while choosing an alternative of a `one_of`, waiting
/// for the alternative's first step to check it.
struct Prefetched {
    conn: String,
    msg: Vec<u8>,
    view: crate::proto::MessageView,
}

/// Whether a step is played, given the alternatives chosen so far.
enum Branching {
    /// It is outside any `one_of`, or inside the alternatives chosen.
    Taken,
    /// It belongs to an alternative not chosen.
    NotTaken,
    /// It begins an alternative of a group not decided yet.
    Undecided(usize),
}

fn party(side: Side) -> Party {
    side.into()
}

fn dir_from(side: Side) -> Dir {
    match side {
        Side::Client => Dir::ToServer,
        Side::Server => Dir::ToClient,
    }
}

/// Plays `scenario` as `me` (the side parley plays) against `endpoint`.
pub async fn play(scenario: &Scenario, me: Side, endpoint: Endpoint, opts: &PlayOptions) -> Outcome {
    let started = std::time::Instant::now();
    let target = opts.target_label.clone().unwrap_or_else(|| match &endpoint {
        Endpoint::Connect(addr) => addr.clone(),
        Endpoint::Accept(l) => l.local_addr().map(|a| a.to_string()).unwrap_or_default(),
    });
    let (host, port) = match &endpoint {
        Endpoint::Connect(addr) => env::split_host_port(addr),
        Endpoint::Accept(l) => l
            .local_addr()
            .map(|a| (a.ip().to_string(), a.port().to_string()))
            .unwrap_or_default(),
    };
    let faults = match me {
        Side::Server => opts
            .server_faults
            .clone()
            .unwrap_or_else(|| scenario.faults.clone()),
        Side::Client => Faults::default(),
    };
    let mut session = Session {
        scenario,
        me,
        opts,
        faults,
        recorder: Recorder::new(),
        inspector: scenario.protocol.inspector(scenario.profile),
        conns: HashMap::new(),
        listeners: HashMap::new(),
        main_endpoint: Some(endpoint),
        globals: BTreeMap::new(),
        findings: Vec::new(),
        passed: HashSet::new(),
        failed: HashSet::new(),
        last_code: None,
        deadline: Instant::now() + scenario.timeout,
        main_opened: false,
        opened: Vec::new(),
        resync: false,
        greeted: false,
        received_at: HashMap::new(),
        sent_ahead: None,
        chosen: HashMap::new(),
        prefetched: None,
        pending_stream: None,
        close_after_first_piece: None,
        failed_at: None,
    };
    for (name, value) in env::builtin_vars(&host, &port, std::time::SystemTime::now()) {
        session.globals.insert(name.into(), value);
    }
    if let Ok(p) = session.globals["port"].parse::<u16>() {
        session.inspector.target(&session.globals["host"], p);
    }
    for (name, value) in &scenario.vars {
        let rendered = value
            .render(&session.globals)
            .unwrap_or_else(|_| value.source.clone());
        session.globals.insert(name.clone(), rendered);
    }

    let mut results = Vec::with_capacity(scenario.steps.len());
    let mut stopped: Option<Stop> = None;
    for step in &scenario.steps {
        // `one_of`: the first step of an undecided group decides it; the steps of the
        // alternatives not chosen are not taken.
        loop {
            match session.branching(step) {
                Branching::Taken => break,
                Branching::NotTaken => break,
                Branching::Undecided(group) if stopped.is_some() => {
                    // Never decided: count the first alternative as the one not run.
                    session.chosen.insert(group, 0);
                }
                Branching::Undecided(group) => match session.choose(group).await {
                    Ok(alt) => {
                        session.chosen.insert(group, alt);
                    }
                    Err(stop) => {
                        session.chosen.insert(group, 0);
                        let stop = match stop {
                            Stop::Failed(f) => {
                                let conn = f.conn.clone().unwrap_or_else(|| MAIN.to_string());
                                session.push(*f, &conn);
                                Stop::Halt
                            }
                            other => other,
                        };
                        stopped = Some(stop);
                        // The step that was to be chosen failed in the choosing.
                        results.push(result(step, session.settle(step, true)));
                        break;
                    }
                },
            }
        }
        if results.last().is_some_and(|r| r.number == step.number) {
            continue;
        }
        if matches!(session.branching(step), Branching::NotTaken) {
            results.push(result(step, StepState::NotTaken));
            continue;
        }
        if stopped.is_some() {
            results.push(result(step, StepState::NotRun));
            continue;
        }
        if session.sent_ahead == Some(step.number) {
            session.sent_ahead = None;
            let failed = session
                .findings
                .iter()
                .any(|f| f.step == Some(step.number) && f.is_error());
            results.push(result(step, session.settle(step, failed)));
            continue;
        }
        if session.resync {
            if session.is_peer_message_on_main(step) {
                session.resync = false;
            } else {
                results.push(result(step, StepState::NotRun));
                continue;
            }
        }
        if let Some(cond) = &step.when {
            if !session.holds(cond, step) {
                results.push(result(step, StepState::Skipped));
                continue;
            }
        }
        let before = session.findings.len();
        let outcome = session.run_step(step).await;
        // A step that stopped the scenario failed, findings or not; an informational
        // step that gave up waiting (a deadline, a close) is judged by its findings,
        // which keep their rule's severity, and the scenario goes on.
        let informational = step.keep_going && matches!(outcome, Err(Stop::Halt));
        let failed =
            (outcome.is_err() && !informational) || session.findings[before..].iter().any(Finding::is_error);
        let state = session.settle(step, failed);
        if failed {
            // A step that failed without an error finding (one that stopped the scenario).
            session.failed_by(session.recorder.elapsed());
        }
        results.push(result(step, state));
        match outcome {
            Err(Stop::Failed(f)) => {
                let conn = f.conn.clone().unwrap_or_else(|| MAIN.to_string());
                session.push(*f, &conn);
                stopped = Some(Stop::Halt);
            }
            Err(Stop::Halt) if informational => {}
            Err(stop) => stopped = Some(stop),
            // A failed step ends the scenario unless it is informational.
            Ok(()) if failed && !step.keep_going => stopped = Some(Stop::Halt),
            Ok(()) => {}
        }
    }
    session.finish(&mut results);

    let failed_step = results.iter().any(|r| r.state == StepState::Failed);
    let (status, error) = match stopped {
        Some(Stop::Unreachable(message)) => (
            Status::Error,
            Some(RunError {
                kind: ErrorKind::Unreachable,
                message,
                diagnostic: None,
            }),
        ),
        Some(Stop::Internal(message)) => (
            Status::Error,
            Some(RunError {
                kind: ErrorKind::Internal,
                message,
                diagnostic: None,
            }),
        ),
        _ if failed_step || session.findings.iter().any(Finding::is_error) => (Status::Failed, None),
        _ => (Status::Passed, None),
    };
    let outcome = Outcome {
        id: scenario.id.clone(),
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        protocol: Some(scenario.protocol.name()),
        target,
        status,
        error,
        duration: started.elapsed(),
        left_at: session.left_at(),
        port_in_use: false,
        findings: std::mem::take(&mut session.findings),
        transcript: session.shown_transcript(),
        steps: results,
        variant: None,
        submission: None,
        program: None,
        rule_points: rule_points(scenario, opts),
        program_checks: Vec::new(),
        failed_at: session.failed_at,
    };
    // Serving a program whose conversation failed while it was still connected: it is
    // stopped before parley's connections close (just below), so whether it first reacts
    // to that close (prints, exits) is no race. A fatal signal is acted on before the
    // program runs another instruction, so sending it first is enough.
    if let (Side::Server, Some(pid), false) = (me, opts.program_pid, outcome.status == Status::Passed) {
        if !crate::engine::sandbox::program_left(&outcome) {
            crate::engine::program::signal_group(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
    // Close everything; the peer sees the connections end.
    session.conns.clear();
    session.listeners.clear();
    outcome
}

/// How long the program under test of `scenario` may take to start, under `opts`.
pub fn startup(scenario: &Scenario, opts: &PlayOptions) -> Duration {
    opts.startup
        .or(scenario.program.startup)
        .unwrap_or(DEFAULT_STARTUP)
}

/// The rule weights of `scenario` under the options' rubric.
pub fn rule_points(scenario: &Scenario, opts: &PlayOptions) -> BTreeMap<RuleId, u32> {
    match &opts.rubric {
        Some(rubric) => rubric.weights_for(scenario.protocol, &scenario.rule_points),
        None => scenario.rule_points.clone(),
    }
}

/// Every step of `scenario` as not run (a program that could not be started).
pub fn not_run(scenario: &Scenario) -> Vec<StepResult> {
    scenario
        .steps
        .iter()
        .map(|s| result(s, StepState::NotRun))
        .collect()
}

fn result(step: &Step, state: StepState) -> StepResult {
    StepResult {
        number: step.number,
        location: step.location.clone(),
        state,
        points: step.points,
    }
}

impl Session<'_> {
    /// The state of a step that ran and `failed` or not; remembers it under the step's
    /// `id` for later `when: { passed/failed }` conditions.
    fn settle(&mut self, step: &Step, failed: bool) -> StepState {
        if let Some(id) = &step.id {
            if failed {
                self.failed.insert(id.clone());
            } else {
                self.passed.insert(id.clone());
            }
        }
        if failed {
            StepState::Failed
        } else {
            StepState::Passed
        }
    }

    /// The transcript as reported: without the peer's closes and failures no step acted on
    /// (see [`super::conn::Inbox::noticed`]), so that it does not depend on whether the
    /// reader task had recorded them when the last step ended.
    fn shown_transcript(&self) -> crate::outcome::Transcript {
        let left_out: Vec<(String, Duration)> = self
            .opened
            .iter()
            .filter_map(|(conn, shared)| {
                let inbox = shared.lock();
                inbox
                    .closed_at
                    .filter(|_| !inbox.noticed)
                    .map(|at| (conn.clone(), at))
            })
            .collect();
        self.recorder.snapshot_without(&left_out)
    }

    /// When the client first closed or reset the main connection, noticed by a step or
    /// not ([`Outcome::left_at`]).
    fn left_at(&self) -> Option<Duration> {
        self.opened
            .iter()
            .filter(|(conn, _)| conn == MAIN)
            .filter_map(|(_, shared)| {
                let inbox = shared.lock();
                let by_client = inbox.error.is_some() || (inbox.eof && self.me == Side::Server);
                inbox.closed_at.filter(|_| by_client)
            })
            .min()
    }

    /// Takes the verdicts the inspector kept until it knew what followed a message
    /// ([`Inspector::finish`]), attaches each to the step that received the peer's last
    /// message on its connection, and fails that step when the verdict is an error.
    fn finish(&mut self, results: &mut [StepResult]) {
        let mut late = Vec::new();
        self.inspector.finish(dir_from(self.me.other()), &mut late);
        for mut f in late {
            let at = f.conn.as_ref().and_then(|c| self.received_at.get(c));
            if let Some((number, location)) = at {
                f.step = Some(*number);
                f.location = Some(location.clone());
                if f.is_error() {
                    if let Some(r) = results
                        .iter_mut()
                        .find(|r| r.number == *number && r.state == StepState::Passed)
                    {
                        r.state = StepState::Failed;
                    }
                }
            }
            self.findings.push(f.by(party(self.me.other())));
        }
    }

    /// Whether `step` is played, given the alternatives chosen so far.
    fn branching(&self, step: &Step) -> Branching {
        for at in &step.branch {
            match self.chosen.get(&at.group) {
                Some(alt) if *alt == at.alt => {}
                Some(_) => return Branching::NotTaken,
                None => return Branching::Undecided(at.group),
            }
        }
        Branching::Taken
    }

    /// Decides `one_of` group `group`: by the peer's message when the alternatives begin
    /// with one, else the first alternative whose first step's `when:` holds (the first
    /// alternative when none does).
    async fn choose(&mut self, group: usize) -> Result<usize, Stop> {
        let scenario = self.scenario;
        let heads = scenario.group_heads(group);
        let peer_first = heads
            .first()
            .is_some_and(|s| matches!(&s.action, Action::Message { from, .. } if *from != self.me));
        if peer_first {
            return self.choose_by_message(group).await;
        }
        Ok(heads
            .iter()
            .position(|s| s.when.as_ref().is_none_or(|c| self.holds(c, s)))
            .unwrap_or(0))
    }

    fn env<'s>(&'s self, step: &'s Step) -> Env<'s> {
        Env {
            cli: &self.opts.vars,
            globals: &self.globals,
            scope: step.scope.as_deref(),
        }
    }

    fn is_peer_message_on_main(&self, step: &Step) -> bool {
        matches!(&step.action, Action::Message { from, conn, .. } if *from != self.me && conn == MAIN)
    }

    fn holds(&self, cond: &Condition, step: &Step) -> bool {
        let env = self.env(step);
        let last_code = cond
            .last_code
            .as_ref()
            .is_none_or(|codes| self.last_code.is_some_and(|c| codes.contains(&c)));
        let vars = cond
            .vars
            .iter()
            .all(|(name, want)| env.get(name).as_deref() == Some(want.as_str()));
        let defined = cond.defined.as_ref().is_none_or(|n| env.get(n).is_some());
        let undefined = cond.undefined.as_ref().is_none_or(|n| env.get(n).is_none());
        let passed = cond.passed.as_ref().is_none_or(|id| self.passed.contains(id));
        let failed = cond.failed.as_ref().is_none_or(|id| self.failed.contains(id));
        last_code && vars && defined && undefined && passed && failed
    }

    /// Echo with parley as the server: parley mirrors what the client sends (RFC 862 has
    /// no framing: a server sends back whatever it gets), whatever the `server:` steps say.
    fn mirror(&self) -> bool {
        self.me == Side::Server && self.scenario.protocol == crate::proto::Protocol::Echo
    }

    /// How long the program under test may take to start.
    fn startup(&self) -> Duration {
        startup(self.scenario, self.opts)
    }

    /// The deadline of `step`, how long that is, and whether it is the scenario's
    /// deadline rather than the step's own.
    fn step_deadline(&self, step: &Step) -> (Instant, Duration, bool) {
        let wait = step
            .timeout
            .or(self.opts.step_timeout)
            .unwrap_or(self.scenario.step_timeout);
        let own = Instant::now() + wait;
        if own > self.deadline {
            (self.deadline, self.scenario.timeout, true)
        } else {
            (own, wait, false)
        }
    }

    /// A finding at `step`, with the severity `rule` has in the scenario's profile.
    fn finding(&self, step: &Step, rule: RuleId, message: impl Into<String>) -> Finding {
        let mut f = Finding::in_profile(rule, self.scenario.profile, message);
        f.step = Some(step.number);
        f.location = Some(step.location.to_string());
        f
    }

    /// A finding that says `step` did not get what it expected: an error whatever its
    /// rule's severity (the step failed), unless the step is informational
    /// (`continue: true`), where the rule's own severity stands.
    fn expectation(&self, step: &Step, rule: RuleId, message: impl Into<String>) -> Finding {
        let mut f = self.finding(step, rule, message);
        if !step.keep_going {
            f.severity = crate::rules::Severity::Error;
        }
        f
    }

    /// Records a finding about the peer's bytes on `conn`: its hint is the fix for the peer.
    fn push(&mut self, f: Finding, conn: &str) {
        let f = if f.sent_by.is_some() {
            f
        } else {
            f.by(party(self.me.other()))
        };
        if f.is_error() {
            self.failed_by(self.recorder.elapsed());
        }
        self.findings.push(f.on(conn));
    }

    /// The conversation failed no later than `at` (the earliest of these is kept).
    fn failed_by(&mut self, at: Duration) {
        self.failed_at = Some(self.failed_at.map_or(at, |t| t.min(at)));
    }

    /// The step's own `rule:`, when it is one the peer can break (a client rule named on a
    /// step that checks a server is not the server's rule).
    fn own_rule(&self, step: &Step) -> Option<RuleId> {
        step.rule.filter(|r| r.rule().applies_to(party(self.me.other())))
    }

    /// The rule broken when the peer closed `conn` while parley was still sending:
    /// the step's own rule, else the protocol's, else S-CLOSE.
    fn closed_while_sending_rule(&self, step: &Step, conn: &str) -> RuleId {
        self.own_rule(step)
            .or_else(|| self.inspector.closed_while_sending(dir_from(self.me), conn))
            .unwrap_or(rules::S_CLOSE)
    }

    /// The rule a failed expectation of `step` breaks: its own, else the protocol's basic
    /// rule for what the peer sends.
    fn step_rule(&self, step: &Step) -> RuleId {
        self.own_rule(step)
            .unwrap_or(self.scenario.protocol.default_rule(party(self.me.other())))
    }

    fn render(&self, step: &Step, t: &Template) -> Result<String, Stop> {
        t.render(&self.env(step)).map_err(|e| self.missing(step, e))
    }

    /// A variable the step needs has no value: the step that sets it did not run or did
    /// not capture it (a `when:` skipped it, or the peer's message did not allow it).
    fn missing(&self, step: &Step, e: MissingVar) -> Stop {
        let setter = self
            .scenario
            .steps
            .iter()
            .find(|s| s.number < step.number && s.captures.iter().any(|c| c.name == e.name));
        let why = match setter {
            Some(s) => format!(
                "step {} ({}), which sets it, did not run or did not capture it",
                s.number, s.location
            ),
            None => "no earlier step of this run set it".to_string(),
        };
        Stop::Failed(Box::new(self.expectation(
            step,
            self.step_rule(step),
            format!(
                "step {} needs `{}`, which has no value: {why}",
                step.number, e.name
            ),
        )))
    }

    /// A connection the step needs is not open (the step that opens it did not run).
    fn not_open(&self, step: &Step, conn: &str) -> Stop {
        let mut f = self.expectation(
            step,
            rules::S_EXPECT,
            format!(
                "`{conn}` is not open at step {}: the step that opens it did not run",
                step.number
            ),
        );
        f.conn = Some(conn.to_string());
        Stop::Failed(Box::new(f))
    }

    async fn run_step(&mut self, step: &Step) -> Result<(), Stop> {
        match &step.action {
            Action::Open {
                conn,
                by,
                to,
                framing,
            } => self.open(step, conn, *by, to.as_ref(), *framing).await,
            Action::Listen { conn, by, host, port } => self.listen(step, conn, *by, *host, *port).await,
            Action::Message {
                from,
                conn,
                send,
                expect,
            } => {
                self.ensure_main(step, conn).await?;
                if *from == self.me {
                    self.send(step, conn, send.as_ref(), expect).await
                } else {
                    self.receive(step, conn, *from, expect).await
                }
            }
            Action::Close { conn, by } => {
                self.ensure_main(step, conn).await?;
                if *by == self.me {
                    self.close_mine(step, conn).await
                } else {
                    self.await_close(step, conn, *by).await
                }
            }
        }
    }
}

fn after_sending(last: &[u8]) -> String {
    if last.is_empty() {
        String::new()
    } else {
        format!(" after sending \"{}\"", visible_truncated(last, 60))
    }
}

fn got_tail(got: &[u8]) -> String {
    if got.is_empty() {
        String::new()
    } else {
        format!(": \"{}\"", visible_truncated(got, 120))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_what_was_sent_last() {
        assert_eq!(after_sending(b"hi\r\n"), " after sending \"hi\\r\\n\"");
        assert_eq!(after_sending(b""), "");
        assert_eq!(got_tail(b"x"), ": \"x\"");
    }

    /// An echo server that answers on `a` and closes it before it accepts `b`, then
    /// answers on `b`; `a`'s close reaches parley long before the last step ends.
    async fn closes_a_then_serves_b(listener: tokio::net::TcpListener) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut served = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut line = [0u8; 4];
            s.read_exact(&mut line).await.unwrap();
            s.write_all(&line).await.unwrap();
            s.shutdown().await.unwrap();
            served.push(s);
        }
        // Holds the sockets until parley closes them.
        for mut s in served {
            let _ = s.read(&mut [0u8; 1]).await;
        }
    }

    async fn play_against(yaml: &str) -> Outcome {
        let scenario =
            crate::scenario::load_str(std::path::Path::new("closes.yaml"), yaml, Default::default()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(closes_a_then_serves_b(listener));
        let o = play(
            &scenario,
            Side::Client,
            Endpoint::Connect(addr),
            &PlayOptions::default(),
        )
        .await;
        server.await.unwrap();
        o
    }

    fn closes_by_server(o: &Outcome, conn: &str) -> usize {
        use crate::outcome::EventKind;
        let by_server = |e: &&crate::outcome::Event| {
            e.conn == conn && matches!(e.kind, EventKind::Close { by: Party::Server })
        };
        o.transcript.events.iter().filter(by_server).count()
    }

    /// Whether the reader had recorded a close no step waited for when the last step ended
    /// is timing: the reported transcript leaves such a close out, so it is the same on
    /// every run. A close a step waited for is shown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_close_no_step_waited_for_is_left_out_of_the_transcript() {
        let steps = |wait_for_a: &str| {
            format!(
                "name: a closes early\nprotocol: echo\nsteps:\n  - open: a\n  - client: \"one\\n\"\n    on: a\n  - server: \"one\\n\"\n    on: a\n{wait_for_a}  - open: b\n  - client: \"two\\n\"\n    on: b\n  - server: \"two\\n\"\n    on: b\n"
            )
        };
        for _ in 0..5 {
            let o = play_against(&steps("")).await;
            assert_eq!(o.status, Status::Passed, "{:?}", o.findings);
            assert_eq!(closes_by_server(&o, "a"), 0, "{:#?}", o.transcript.events);
            assert!(o.transcript.events.iter().any(|e| e.conn == "b"));
            let o = play_against(&steps("  - close: server\n    on: a\n")).await;
            assert_eq!(o.status, Status::Passed, "{:?}", o.findings);
            assert_eq!(closes_by_server(&o, "a"), 1, "{:#?}", o.transcript.events);
        }
    }
}
