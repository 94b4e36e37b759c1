//! Plays one scenario: walks the steps in order, sending the side parley plays and
//! checking the other, with a deadline on every wait.
//!
//! A failed check is recorded and the scenario goes on (one bug must not hide the next);
//! a wait that ends without the message (deadline, peer closed, reset, too many bytes)
//! stops it, and the remaining steps are reported as not run.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::conn::{BUFFER_LIMIT, Conn};
use super::matcher::{self, Wanted};
use super::transcript::Recorder;
use crate::finding::Finding;
use crate::outcome::{ErrorKind, EventKind, Outcome, Party, RunError, Status, StepResult, StepState};
use crate::proto::{Dir, Frame, Framing, Inspector, MAIN};
use crate::scenario::duration::human;
use crate::scenario::plan::{Action, Condition, Scope, Step};
use crate::scenario::template::{MissingVar, Template, Vars};
use crate::scenario::{Scenario, Side};
use crate::visible::visible_truncated;

/// Where the main connection comes from.
#[derive(Debug)]
pub enum Endpoint {
    /// parley plays the client and connects here (`host:port`).
    Connect(String),
    /// parley plays the server and accepts here.
    Accept(TcpListener),
}

/// Settings for one play.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--var` values; they override the scenario's.
    pub vars: BTreeMap<String, String>,
    /// `--timeout`: the default step deadline, instead of the scenario's.
    pub step_timeout: Option<Duration>,
    /// How parley writes when it plays the server (fault variants).
    pub server_faults: Option<parley_mock::faults::Faults>,
    /// What to call the target in reports.
    pub target_label: Option<String>,
}

/// Why the steps stopped.
enum Stop {
    /// The rest cannot run; findings say why.
    Halt,
    /// The target could not be reached at all.
    Unreachable(String),
    /// The scenario cannot be played this way.
    Invalid(String),
}

struct Session<'a> {
    scenario: &'a Scenario,
    me: Side,
    opts: &'a PlayOptions,
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
}

/// Variables as a step sees them.
struct Env<'s> {
    cli: &'s BTreeMap<String, String>,
    globals: &'s BTreeMap<String, String>,
    scope: Option<&'s Scope>,
}

impl Vars for Env<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = self.cli.get(name) {
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.scope.and_then(|s| s.overrides.get(name)) {
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.globals.get(name) {
            return Some(Cow::Borrowed(v));
        }
        let default = self.scope.and_then(|s| s.defaults.get(name))?;
        let outer = Env {
            cli: self.cli,
            globals: self.globals,
            scope: None,
        };
        default.render(&outer).ok().map(Cow::Owned)
    }
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
        Endpoint::Connect(addr) => split_host_port(addr),
        Endpoint::Accept(l) => l
            .local_addr()
            .map(|a| (a.ip().to_string(), a.port().to_string()))
            .unwrap_or_default(),
    };
    let mut session = Session {
        scenario,
        me,
        opts,
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
    };
    session.globals.insert("target".into(), format!("{host}:{port}"));
    session.globals.insert("host".into(), host);
    session.globals.insert("port".into(), port);
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
        if stopped.is_some() {
            results.push(result(step, StepState::NotRun));
            continue;
        }
        if let Some(cond) = &step.when {
            if !session.holds(cond, step) {
                results.push(result(step, StepState::Skipped));
                continue;
            }
        }
        let before = session.findings.len();
        let outcome = session.run_step(step).await;
        let failed = session.findings[before..].iter().any(Finding::is_error);
        if let Some(id) = &step.id {
            if failed {
                session.failed.insert(id.clone());
            } else {
                session.passed.insert(id.clone());
            }
        }
        results.push(result(
            step,
            if failed || outcome.is_err() {
                StepState::Failed
            } else {
                StepState::Passed
            },
        ));
        if let Err(stop) = outcome {
            stopped = Some(stop);
        }
    }
    // Close everything; the peer sees the connections end.
    session.conns.clear();
    session.listeners.clear();

    let (status, error) = match stopped {
        Some(Stop::Unreachable(message)) => (
            Status::Error,
            Some(RunError {
                kind: ErrorKind::Unreachable,
                message,
                diagnostic: None,
            }),
        ),
        Some(Stop::Invalid(message)) => (
            Status::Error,
            Some(RunError {
                kind: ErrorKind::Scenario,
                message,
                diagnostic: None,
            }),
        ),
        _ if session.findings.iter().any(Finding::is_error) => (Status::Failed, None),
        _ => (Status::Passed, None),
    };
    Outcome {
        id: scenario.id.clone(),
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        protocol: Some(scenario.protocol.name()),
        target,
        status,
        error,
        duration: started.elapsed(),
        findings: session.findings,
        transcript: session.recorder.snapshot(),
        steps: results,
    }
}

fn result(step: &Step, state: StepState) -> StepResult {
    StepResult {
        number: step.number,
        location: step.location.clone(),
        state,
        points: step.points,
    }
}

fn split_host_port(addr: &str) -> (String, String) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p.to_string()),
        None => (addr.to_string(), String::new()),
    }
}

impl Session<'_> {
    fn env<'s>(&'s self, step: &'s Step) -> Env<'s> {
        Env {
            cli: &self.opts.vars,
            globals: &self.globals,
            scope: step.scope.as_deref(),
        }
    }

    fn holds(&self, cond: &Condition, step: &Step) -> bool {
        let env = self.env(step);
        if let Some(codes) = &cond.last_code {
            if !self.last_code.is_some_and(|c| codes.contains(&c)) {
                return false;
            }
        }
        for (name, want) in &cond.vars {
            if env.get(name).as_deref() != Some(want.as_str()) {
                return false;
            }
        }
        if let Some(name) = &cond.defined {
            if env.get(name).is_none() {
                return false;
            }
        }
        if let Some(name) = &cond.undefined {
            if env.get(name).is_some() {
                return false;
            }
        }
        if let Some(id) = &cond.passed {
            if !self.passed.contains(id) {
                return false;
            }
        }
        if let Some(id) = &cond.failed {
            if !self.failed.contains(id) {
                return false;
            }
        }
        true
    }

    /// The deadline of `step`, and whether it is the scenario's rather than the step's.
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

    fn finding(&self, step: &Step, rule: &'static str, message: impl Into<String>) -> Finding {
        let mut f = Finding::in_profile(rule, self.scenario.profile, message);
        f.step = Some(step.number);
        f.location = Some(step.location.to_string());
        f
    }

    fn step_rule(&self, step: &Step) -> &'static str {
        step.rule.unwrap_or(self.scenario.protocol.default_rule())
    }

    /// The rule a message that never completed breaks, and the protocol's reason: the
    /// step's own rule, else the protocol's judgement of the partial bytes, else (at end of
    /// file) the protocol's early-close rule, else the step's default.
    fn stalled_rule(
        &self,
        step: &Step,
        dir: Dir,
        conn: &str,
        got: &[u8],
        eof: bool,
    ) -> (&'static str, String) {
        if let Some(rule) = step.rule {
            return (rule, String::new());
        }
        if !got.is_empty() {
            if let Some((rule, why)) = self.inspector.incomplete(dir, conn, got) {
                return (rule, format!(" — {why}"));
            }
        }
        if eof {
            if let Some(rule) = self.inspector.early_close_rule(dir, conn) {
                return (rule, String::new());
            }
        }
        (self.step_rule(step), String::new())
    }

    fn render(&self, step: &Step, t: &Template) -> Result<String, Stop> {
        t.render(&self.env(step)).map_err(|e| self.missing(step, e))
    }

    fn missing(&self, step: &Step, e: MissingVar) -> Stop {
        Stop::Invalid(format!(
            "step {} ({}): variable `{}` has no value when the step runs (was the step that captures it skipped or failed?)",
            step.number, step.location, e.name
        ))
    }

    async fn run_step(&mut self, step: &Step) -> Result<(), Stop> {
        match &step.action {
            Action::Open {
                conn,
                by,
                to,
                framing,
            } => self.open(step, conn, *by, to.as_ref(), *framing).await,
            Action::Listen { conn, by } => self.listen(step, conn, *by).await,
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

    /// Opens `main` at its first use.
    async fn ensure_main(&mut self, step: &Step, conn: &str) -> Result<(), Stop> {
        if conn == MAIN && !self.main_opened {
            let framing = self.scenario.protocol.default_framing(MAIN);
            self.open(step, MAIN, Side::Client, None, framing).await?;
        }
        Ok(())
    }

    async fn open(
        &mut self,
        step: &Step,
        conn: &str,
        by: Side,
        to: Option<&Template>,
        framing: Framing,
    ) -> Result<(), Stop> {
        let (deadline, wait, _) = self.step_deadline(step);
        let stream = if by == self.me {
            let addr = match to {
                Some(t) => self.render(step, t)?,
                // The client's connections go to the target unless the step says otherwise.
                None if by == Side::Client => self.globals.get("target").cloned().unwrap_or_default(),
                None => {
                    return Err(Stop::Invalid(format!(
                        "step {} ({}): nothing says where to connect `{conn}`: add `to:`",
                        step.number, step.location
                    )));
                }
            };
            match tokio::time::timeout_at(deadline, TcpStream::connect(addr.as_str())).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(self.connect_failed(step, conn, &addr, &e.to_string())),
                Err(_) => {
                    return Err(self.connect_failed(
                        step,
                        conn,
                        &addr,
                        &format!("no answer within {}", human(wait)),
                    ));
                }
            }
        } else {
            // The client's connections arrive on the main listener, others on their own.
            let listener = match (self.listeners.get(conn), &self.main_endpoint) {
                (Some(l), _) => l,
                (None, Some(Endpoint::Accept(l))) if by == Side::Client => l,
                _ => {
                    return Err(Stop::Invalid(format!(
                        "step {} ({}): the {} opens `{conn}`, but parley is not listening for it: add a `listen` step",
                        step.number,
                        step.location,
                        by.name()
                    )));
                }
            };
            let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
            match accepted {
                Ok(Ok((stream, _))) => stream,
                Ok(Err(e)) => {
                    let f = self.finding(
                        step,
                        step.rule.unwrap_or("S-CONNECT"),
                        format!("accepting `{conn}` failed: {e}"),
                    );
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
                Err(_) => {
                    let f = self.finding(
                        step,
                        step.rule.unwrap_or("S-CONNECT"),
                        format!(
                            "no {} connected to `{conn}` at {addr} within {}",
                            by.name(),
                            human(wait)
                        ),
                    );
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
            }
        };
        // Record the opening before the reader starts, so it precedes anything received.
        let ends = stream.local_addr().and_then(|l| Ok((l, stream.peer_addr()?)));
        let (local, peer) =
            ends.map_err(|e| Stop::Unreachable(format!("connection `{conn}` failed at once: {e}")))?;
        let (client, server) = match self.me {
            Side::Client => (local, peer),
            Side::Server => (peer, local),
        };
        self.recorder.push(
            conn,
            EventKind::Open {
                by: party(by),
                client: client.to_string(),
                server: server.to_string(),
            },
        );
        let c = Conn::start(conn, party(self.me), framing, stream, self.recorder.clone())
            .map_err(|e| Stop::Unreachable(format!("connection `{conn}` failed at once: {e}")))?;
        if conn == MAIN {
            self.main_opened = true;
        }
        self.conns.insert(conn.to_string(), c);
        Ok(())
    }

    fn connect_failed(&mut self, step: &Step, conn: &str, addr: &str, why: &str) -> Stop {
        if conn == MAIN && !self.main_opened {
            return Stop::Unreachable(format!("cannot connect to {addr}: {why}"));
        }
        let f = self.finding(
            step,
            step.rule.unwrap_or("S-CONNECT"),
            format!("cannot open `{conn}` to {addr}: {why}"),
        );
        self.findings.push(f.on(conn));
        Stop::Halt
    }

    async fn listen(&mut self, step: &Step, conn: &str, by: Side) -> Result<(), Stop> {
        if by != self.me {
            // The peer listens; its address reaches parley through the protocol (PORT, 227).
            return Ok(());
        }
        // Listen on the address the peer reaches parley at: the main connection's local IP.
        let ip = self
            .conns
            .get(MAIN)
            .map(|c| c.local.ip())
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| Stop::Invalid(format!("step {}: cannot listen for `{conn}`: {e}", step.number)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Stop::Invalid(format!("step {}: {e}", step.number)))?;
        for (suffix, value) in listen_vars(addr) {
            self.globals.insert(format!("{conn}.{suffix}"), value);
        }
        self.recorder.push(
            conn,
            EventKind::Listen {
                by: party(by),
                addr: addr.to_string(),
            },
        );
        self.listeners.insert(conn.to_string(), listener);
        Ok(())
    }

    async fn send(
        &mut self,
        step: &Step,
        conn: &str,
        send: Option<&crate::scenario::payload::Payload>,
        expect: &crate::scenario::Expect,
    ) -> Result<(), Stop> {
        let payload = send.or(expect.literal.as_ref()).or(expect.exact.as_ref());
        let Some(payload) = payload else {
            return Err(Stop::Invalid(format!(
                "step {} ({}): parley plays the {} here but the step says only how to check the message; add `send:`",
                step.number,
                step.location,
                self.me.name()
            )));
        };
        let bytes = payload
            .render(&self.env(step))
            .map_err(|e| self.missing(step, e))?;
        let faults = match self.me {
            Side::Server => self
                .opts
                .server_faults
                .clone()
                .unwrap_or_else(|| self.scenario.faults.to_mock()),
            Side::Client => parley_mock::faults::Faults::default(),
        };
        let (deadline, wait, _) = self.step_deadline(step);
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(Stop::Invalid(format!(
                "step {}: `{conn}` is not open",
                step.number
            )));
        };
        let Some(writer) = c.writer() else {
            return Err(Stop::Invalid(format!(
                "step {}: parley already closed `{conn}`",
                step.number
            )));
        };
        // Record before writing: the peer's answer must not appear before what it answers.
        self.recorder.data(conn, party(self.me), &bytes);
        let result = tokio::time::timeout_at(
            deadline,
            parley_mock::faults::write_shaped(writer, &bytes, &faults),
        )
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let f = self
                    .finding(
                        step,
                        "S-IO",
                        format!("sending {} bytes on `{conn}` failed: {e}", bytes.len()),
                    )
                    .expected(&bytes);
                self.findings.push(f.on(conn));
                return Err(Stop::Halt);
            }
            Err(_) => {
                let f = self.finding(
                    step,
                    "S-IO",
                    format!(
                        "could not send {} bytes on `{conn}` within {}: the peer is not reading",
                        bytes.len(),
                        human(wait)
                    ),
                );
                self.findings.push(f.on(conn));
                return Err(Stop::Halt);
            }
        }
        c.last_sent = bytes.clone();
        let mut ignored = Vec::new();
        self.inspector
            .inspect(dir_from(self.me), conn, &bytes, &mut ignored);
        if let Some(code) = leading_code(&bytes) {
            self.last_code = Some(code);
        }
        Ok(())
    }

    async fn receive(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        expect: &crate::scenario::Expect,
    ) -> Result<(), Stop> {
        let wanted = Wanted::render(expect, &self.env(step)).map_err(|e| self.missing(step, e))?;
        let (deadline, wait, scenario_wide) = self.step_deadline(step);
        let dir = dir_from(from);
        let Some(c) = self.conns.get(conn) else {
            return Err(Stop::Invalid(format!(
                "step {}: `{conn}` is not open",
                step.number
            )));
        };
        let framing = c.framing;
        let shared = c.shared.clone();
        let last_sent = c.last_sent.clone();
        let msg = loop {
            {
                let mut inbox = shared.lock();
                let decision = matcher::frame(
                    framing,
                    &wanted,
                    self.inspector.as_mut(),
                    dir,
                    conn,
                    &inbox.buf,
                    inbox.eof,
                );
                if let Frame::Complete(n) = decision {
                    let n = n.min(inbox.buf.len());
                    break inbox.buf.drain(..n).collect::<Vec<u8>>();
                }
                if inbox.overflow {
                    let got = inbox.buf[..inbox.buf.len().min(256)].to_vec();
                    drop(inbox);
                    let waited_for = wanted.describe(framing);
                    let f = self
                        .finding(
                            step,
                            "S-LIMIT",
                            format!(
                                "the {} sent more than {} MiB on `{conn}` without completing {waited_for}",
                                from.name(),
                                BUFFER_LIMIT / (1024 * 1024)
                            ),
                        )
                        .actual(&got);
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
                if inbox.eof || inbox.error.is_some() {
                    let how = match &inbox.error {
                        Some(e) => format!("the connection `{conn}` failed ({e})"),
                        None => format!("the {} closed `{conn}`", from.name()),
                    };
                    let got = std::mem::take(&mut inbox.buf);
                    drop(inbox);
                    let waited_for = wanted.describe(framing);

                    let (rule, why) = self.stalled_rule(step, dir, conn, &got, true);
                    let mut f = self.finding(
                        step,
                        rule,
                        format!(
                            "{how} while parley waited for {waited_for}{}; got {} bytes{}{why}",
                            after_sending(&last_sent),
                            got.len(),
                            got_tail(&got)
                        ),
                    );
                    f = with_expected(f, &wanted).actual(&got);
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let got = shared.lock().buf.clone();
                    let whose = if scenario_wide { "the scenario's timeout of " } else { "" };
                    let (rule, why) = self.stalled_rule(step, dir, conn, &got, false);
                    let mut f = self.finding(
                        step,
                        rule,
                        format!(
                            "waited {whose}{} for {} from the {} on `{conn}`{}; got {} bytes{}{why}",
                            human(wait),
                            wanted.describe(framing),
                            from.name(),
                            after_sending(&last_sent),
                            got.len(),
                            got_tail(&got)
                        ),
                    );
                    f = with_expected(f, &wanted).actual(&got);
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
            }
        };
        // RFC checks on every message, whatever the step's matchers say.
        let mut found = Vec::new();
        let view = self.inspector.inspect(dir, conn, &msg, &mut found);
        for mut f in found {
            f.step = Some(step.number);
            f.location = Some(step.location.to_string());
            f.conn = Some(conn.to_string());
            self.findings.push(f);
        }
        for m in matcher::check(&wanted, self.inspector.as_ref(), dir, &msg, &view) {
            let f = self
                .finding(
                    step,
                    self.step_rule(step),
                    format!("the {} sent something else: {}", from.name(), m.message),
                )
                .expected_text(m.expected)
                .actual_text(m.actual);
            self.findings.push(f.on(conn));
        }
        if let Some(code) = view.code {
            self.last_code = Some(code);
        }
        for (name, value) in &view.vars {
            self.globals.insert(name.clone(), value.clone());
        }
        self.capture(step, &msg, &view);
        Ok(())
    }

    fn capture(&mut self, step: &Step, msg: &[u8], view: &crate::proto::MessageView) {
        for c in &step.captures {
            let source: Option<Vec<u8>> = if let Some(h) = &c.header {
                view.header(h).map(|v| v.as_bytes().to_vec())
            } else if let Some(pointer) = &c.json {
                view.body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .and_then(|v| v.pointer(pointer).cloned())
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.into_bytes(),
                        other => other.to_string().into_bytes(),
                    })
            } else {
                Some(msg.to_vec())
            };
            let value = source.and_then(|bytes| match &c.regex {
                None => Some(bytes),
                Some(re) => re.captures(&bytes).map(|caps| {
                    caps.get(1)
                        .or_else(|| caps.get(0))
                        .map(|m| m.as_bytes().to_vec())
                        .unwrap_or_default()
                }),
            });
            match value {
                Some(v) => {
                    self.globals
                        .insert(c.name.clone(), String::from_utf8_lossy(&v).into_owned());
                }
                None => {
                    let f = self.finding(
                        step,
                        self.step_rule(step),
                        format!("could not capture `{}`: the message does not have it", c.name),
                    );
                    self.findings.push(f.actual(msg));
                }
            }
        }
    }

    async fn close_mine(&mut self, step: &Step, conn: &str) -> Result<(), Stop> {
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(Stop::Invalid(format!(
                "step {}: `{conn}` is not open",
                step.number
            )));
        };
        self.recorder.push(conn, EventKind::Close { by: party(self.me) });
        // A peer that reset the connection makes shutdown fail; the close still happened.
        let _ = c.shutdown().await;
        Ok(())
    }

    async fn await_close(&mut self, step: &Step, conn: &str, by: Side) -> Result<(), Stop> {
        let (deadline, wait, _) = self.step_deadline(step);
        let Some(c) = self.conns.get(conn) else {
            return Err(Stop::Invalid(format!(
                "step {}: `{conn}` is not open",
                step.number
            )));
        };
        let shared = c.shared.clone();
        let rule = step.rule.unwrap_or("S-CLOSE");
        loop {
            {
                let mut inbox = shared.lock();
                if !inbox.buf.is_empty() {
                    let extra: Vec<u8> = std::mem::take(&mut inbox.buf);
                    drop(inbox);
                    let f = self
                        .finding(
                            step,
                            rule,
                            format!(
                                "the {} sent {} more bytes on `{conn}` where it should have closed it",
                                by.name(),
                                extra.len()
                            ),
                        )
                        .actual(&extra);
                    self.findings.push(f.on(conn));
                    continue;
                }
                if inbox.eof || inbox.error.is_some() || inbox.overflow {
                    return Ok(());
                }
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let f = self.finding(
                        step,
                        rule,
                        format!("waited {} for the {} to close `{conn}`; it kept the connection open", human(wait), by.name()),
                    );
                    self.findings.push(f.on(conn));
                    return Err(Stop::Halt);
                }
            }
        }
    }
}

fn with_expected(f: Finding, wanted: &Wanted<'_>) -> Finding {
    match wanted.literal.as_ref().or(wanted.exact.as_ref()) {
        Some(bytes) => f.expected(bytes),
        None => f,
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

/// A reply code at the start of a message parley sent (for `when: { last_code }` when
/// parley plays the server).
fn leading_code(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.get(..3)?;
    if digits.iter().all(u8::is_ascii_digit)
        && matches!(bytes.get(3), Some(b' ' | b'-' | b'\r' | b'\n') | None)
    {
        std::str::from_utf8(digits).ok()?.parse().ok()
    } else if bytes.starts_with(b"HTTP/") {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned();
        text.split(' ').nth(1)?.parse().ok()
    } else {
        None
    }
}

/// The variables a `listen` at `addr` sets (see `plan::LISTEN_VARS`).
pub fn listen_vars(addr: SocketAddr) -> Vec<(&'static str, String)> {
    let host = addr.ip().to_string();
    let port = addr.port();
    let port_args = match addr.ip() {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            )
        }
        std::net::IpAddr::V6(_) => String::new(),
    };
    let family = if addr.is_ipv4() { 1 } else { 2 };
    vec![
        ("host", host.clone()),
        ("port", port.to_string()),
        ("addr", addr.to_string()),
        ("port_args", port_args),
        ("eprt_args", format!("|{family}|{host}|{port}|")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_vars_encode_the_port_high_byte_first() {
        let vars: BTreeMap<_, _> = listen_vars("127.0.0.1:39851".parse().unwrap())
            .into_iter()
            .collect();
        assert_eq!(vars["port_args"], "127,0,0,1,155,171");
        assert_eq!(vars["eprt_args"], "|1|127.0.0.1|39851|");
    }

    #[test]
    fn leading_code_reads_ftp_and_http() {
        assert_eq!(leading_code(b"331 Password\r\n"), Some(331));
        assert_eq!(leading_code(b"HTTP/1.0 418 I'm a teapot\r\n"), Some(418));
        assert_eq!(leading_code(b"hello"), None);
    }

    #[test]
    fn messages_show_what_was_sent_last() {
        assert_eq!(after_sending(b"hi\r\n"), " after sending \"hi\\r\\n\"");
        assert_eq!(after_sending(b""), "");
    }
}
