//! Checking how the parts of a plan fit together: every variable has a value by the time
//! it is used, connections are opened before use and not used after their side closed
//! them, raw connections say where a message ends, `when` refers to steps that exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::error::{Diagnostic, ScenarioError};
use super::super::suggest;
use super::super::template::Template;
use super::build::{PlanError, Planner};
use super::model::*;
use crate::proto::{Framing, MAIN};

impl Planner {
    /// Checks connections, step ids and framing, and numbers the steps; every error is
    /// recorded, and the check goes on as if the step had been right.
    pub(super) fn check(&mut self) {
        let mut errors = Vec::new();
        self.check_steps(&mut errors);
        for e in errors {
            self.fail(e);
        }
    }

    fn check_steps(&mut self, errors: &mut Vec<PlanError>) {
        let mut conns: HashMap<String, State> = HashMap::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let default_main = self.default_framing(MAIN);
        // Each alternative of a `one_of` starts from the connections as they were before
        // it, and all must leave them alike: what follows the group is checked once.
        let mut before: HashMap<usize, Conns> = HashMap::new();
        let mut after: HashMap<usize, Vec<(String, Conns)>> = HashMap::new();
        let groups: Vec<(usize, Alternatives)> = self
            .groups
            .iter()
            .enumerate()
            .map(|(g, plan)| (g, plan.alternatives.clone()))
            .collect();
        let total = self.pending.len();
        for i in 0..=total {
            // Groups ending here, innermost first.
            for (g, alts) in groups.iter().rev() {
                let end = alts.last().map(|(_, r)| r.end).unwrap_or(0);
                if end == i && !alts.is_empty() {
                    let name = &alts[alts.len() - 1].0;
                    after.entry(*g).or_default().push((name.clone(), conns.clone()));
                    let ends = after.remove(g).unwrap_or_default();
                    if let Some((first_name, first)) = ends.first() {
                        for (other_name, other) in &ends[1..] {
                            if let Some(conn) = differing(first, other) {
                                let at = &self.groups[*g];
                                errors.push(PlanError::at(
                                    at.source,
                                    at.pos,
                                    format!(
                                        "the alternatives of this `one_of` leave `{conn}` in different states: \
                                         `{first_name}` and `{other_name}` must both open, close or leave it alike"
                                    ),
                                ));
                            }
                        }
                        conns = first.clone();
                    }
                }
            }
            if i == total {
                break;
            }
            // Alternatives starting here, outermost first.
            for (g, alts) in &groups {
                for (k, (_, range)) in alts.iter().enumerate() {
                    if range.start != i || range.is_empty() {
                        continue;
                    }
                    if k == 0 {
                        before.insert(*g, conns.clone());
                    } else {
                        let prev = &alts[k - 1].0;
                        after.entry(*g).or_default().push((prev.clone(), conns.clone()));
                        conns = before.get(g).cloned().unwrap_or_default();
                    }
                }
            }
            let p = &mut self.pending[i];
            p.step.number = i + 1;
            if let Err(e) = Self::check_step(p, &mut conns, &mut ids, default_main) {
                errors.push(e);
            }
        }
        self.check_group_heads(errors);
    }

    /// The alternatives of a `one_of` begin with a message from the same side on the same
    /// connection (that message chooses the alternative), and no two begin alike (the
    /// second could never be chosen).
    fn check_group_heads(&self, errors: &mut Vec<PlanError>) {
        for group in &self.groups {
            if self.protocol == Some(crate::proto::Protocol::Echo) {
                errors.push(PlanError::at(
                    group.source,
                    group.pos,
                    "`one_of` chooses by the peer's message, and echo messages have no framing to tell them apart",
                ));
                continue;
            }
            // Each alternative is chosen by its first message; only `listen` steps (the
            // side that announces a data address listens first) may come before it.
            let mut heads: Vec<(&str, &super::build::Pending)> = Vec::new();
            for (name, range) in &group.alternatives {
                let steps = &self.pending[range.clone()];
                match steps.iter().find(|p| !matches!(p.step.action, Action::Listen { .. })) {
                    Some(p) if matches!(p.step.action, Action::Message { .. }) => heads.push((name, p)),
                    Some(p) => errors.push(PlanError::at(
                        p.source,
                        p.pos,
                        format!(
                            "the alternative `{name}` of a `one_of` must begin with the message that chooses it \
                             (only `listen` steps may come before it)"
                        ),
                    )),
                    None => {}
                }
            }
            let Some((first_name, first)) = heads.first() else {
                continue;
            };
            let Action::Message { from, conn, .. } = &first.step.action else {
                continue;
            };
            for (name, p) in &heads[1..] {
                match &p.step.action {
                    Action::Message { from: f, conn: c, .. } if f == from && c == conn => {}
                    _ => errors.push(PlanError::at(
                        p.source,
                        p.pos,
                        format!(
                            "the alternative `{name}` begins with another kind of step than `{first_name}`: every \
                             alternative of a `one_of` begins with a {} message on `{conn}`",
                            from.name()
                        ),
                    )),
                }
            }
            for (k, (name, p)) in heads.iter().enumerate() {
                for (earlier, q) in &heads[..k] {
                    if head_signature(&q.step) == head_signature(&p.step) {
                        errors.push(
                            PlanError::at(
                                p.source,
                                p.pos,
                                format!(
                                    "the alternative `{name}` can never be chosen: `{earlier}` begins with the same message"
                                ),
                            )
                            .help("make the first message of each alternative different (another command, method or path)"),
                        );
                    }
                }
            }
        }
    }

    /// Checks one step against what the steps before it did.
    fn check_step(
        p: &mut super::build::Pending,
        conns: &mut HashMap<String, State>,
        ids: &mut BTreeSet<String>,
        default_main: Framing,
    ) -> Result<(), PlanError> {
        {
            let node = p.pos;
            let at = |m: String| PlanError::at(p.source, node, m);
            if let Some(when) = &p.step.when {
                for id in [&when.passed, &when.failed].into_iter().flatten() {
                    if !ids.contains(id) {
                        let suggestion = suggest::did_you_mean(id, ids.iter().map(String::as_str));
                        return Err(at(format!(
                            "`when` refers to step id `{id}`, which no earlier step has"
                        ))
                        .underline(id.clone())
                        .help(if ids.is_empty() {
                            "give an earlier step `id: NAME`".to_string()
                        } else {
                            format!(
                                "{}earlier step ids: {}",
                                suggestion.map(|s| format!("{s} ")).unwrap_or_default(),
                                ids.iter().cloned().collect::<Vec<_>>().join(", ")
                            )
                        }));
                    }
                }
            }
            if let Some(id) = &p.step.id {
                if !ids.insert(id.clone()) {
                    return Err(at(format!("step id `{id}` is used twice")).underline(id.clone()));
                }
            }
            if let Some(watched) = &p.step.no_connection {
                if !matches!(conns.get(watched), Some(State::Listening(_))) {
                    return Err(at(format!(
                        "`no_connection: {watched}` watches a listener, but nothing listens for `{watched}` here"
                    ))
                    .underline(watched.clone())
                    .help(format!("add `listen: {{ conn: {watched} }}` before this step")));
                }
            }
            match &p.step.action {
                Action::Open {
                    conn,
                    by,
                    to,
                    framing,
                } => {
                    if conn == MAIN && *by == Side::Server {
                        return Err(at("the client opens `main`; `by: server` is for connections such as FTP active-mode data".to_string()));
                    }
                    match conns.get(conn) {
                        Some(State::Open { .. }) => {
                            return Err(at(format!("`{conn}` is already open here"))
                                .help("close it on both sides first, or pick another name"));
                        }
                        Some(State::Listening(listener)) if *listener == *by => {
                            return Err(at(format!(
                                "the {} listens for `{conn}`, so the {} opens it, not the {}",
                                listener.name(),
                                listener.other().name(),
                                by.name()
                            )));
                        }
                        Some(State::Listening(_)) => {}
                        None | Some(State::Closed) => {
                            // A client-opened connection goes to the target, like `main`.
                            if *by == Side::Server && to.is_none() {
                                return Err(at(format!(
                                    "nothing says where the server connects `{conn}` to: add a `listen: {{ conn: {conn}, by: client }}` step before, or `to: \"HOST:PORT\"`"
                                )));
                            }
                        }
                    }
                    conns.insert(
                        conn.clone(),
                        State::Open {
                            framing: *framing,
                            closed: [false; 2],
                        },
                    );
                }
                Action::Listen { conn, by, .. } => {
                    if let Some(State::Open { .. } | State::Listening(_)) = conns.get(conn) {
                        return Err(at(format!("`{conn}` is already open or listened for here")));
                    }
                    conns.insert(conn.clone(), State::Listening(*by));
                }
                Action::Message {
                    from, conn, expect, ..
                } => {
                    let state = match conns.get(conn) {
                        None if conn == MAIN => {
                            let s = State::Open {
                                framing: default_main,
                                closed: [false; 2],
                            };
                            conns.insert(conn.clone(), s);
                            s
                        }
                        None | Some(State::Listening(_)) => {
                            return Err(at(format!("`{conn}` is used before it is opened"))
                                .underline(conn.clone())
                                .help(format!("add `open: {conn}` before this step")));
                        }
                        Some(s) => *s,
                    };
                    match state {
                        State::Open { framing, closed } => {
                            if closed[from.index()] {
                                return Err(at(format!(
                                    "the {} closed `{conn}` earlier and cannot send on it",
                                    from.name()
                                )));
                            }
                            if framing == Framing::Raw && !expect.frames_raw() {
                                return Err(at(format!(
                                    "`{conn}` carries raw bytes: this message needs `exact`, `len`, `contains` or `regex` (or a string) to say where it ends"
                                )));
                            }
                        }
                        State::Closed => {
                            return Err(at(format!("`{conn}` was closed by both sides earlier"))
                                .help(format!("add `open: {conn}` to open it again")));
                        }
                        State::Listening(_) => unreachable!("handled above"),
                    }
                }
                Action::Close { conn, by } => match conns.get_mut(conn) {
                    Some(State::Open { closed, .. }) => {
                        if closed[by.index()] {
                            return Err(at(format!("the {} already closed `{conn}`", by.name())));
                        }
                        closed[by.index()] = true;
                        if closed.iter().all(|c| *c) {
                            conns.insert(conn.clone(), State::Closed);
                        }
                    }
                    _ => {
                        return Err(at(format!("`{conn}` is not open here, so it cannot be closed"))
                            .underline(conn.clone()));
                    }
                },
            }
        }
        Ok(())
    }

    /// The values of the variables use only the builtin variables.
    pub(super) fn check_var_defaults(&mut self, vars: &BTreeMap<String, Template>) {
        let mut errors = Vec::new();
        for template in vars.values() {
            for name in template.vars() {
                if !BUILTIN_VARS.contains(&name) {
                    errors.push(
                        PlanError::at(
                            0,
                            template.pos,
                            format!(
                                "the value of a variable may only use {}; `{name}` is not one",
                                BUILTIN_VARS
                                    .iter()
                                    .map(|v| format!("`{{{{{v}}}}}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                        .underline(format!("{{{{{name}}}}}")),
                    );
                }
            }
        }
        for e in errors {
            self.fail(e);
        }
    }

    /// Every variable a step uses has a value by then.
    pub(super) fn check_vars(&mut self, vars: &BTreeMap<String, Template>) {
        let mut errors = Vec::new();
        self.unknown_vars(vars, &mut errors);
        for e in errors {
            self.fail(e);
        }
    }

    fn unknown_vars(&self, vars: &BTreeMap<String, Template>, errors: &mut Vec<PlanError>) {
        let mut known: BTreeSet<String> = vars.keys().cloned().collect();
        known.extend(BUILTIN_VARS.iter().map(|s| s.to_string()));
        if let Some(p) = self.protocol {
            known.extend(p.provided_vars().iter().map(|s| s.to_string()));
        }
        // Where each capture is first set, to tell "captured later" from "unknown".
        let mut captured_at: BTreeMap<&str, &Step> = BTreeMap::new();
        for p in &self.pending {
            for c in &p.step.captures {
                captured_at.entry(c.name.as_str()).or_insert(&p.step);
            }
        }
        for p in &self.pending {
            let step = &p.step;
            let mut templates: Vec<&Template> = Vec::new();
            match &step.action {
                Action::Open { to, .. } => templates.extend(to.iter()),
                Action::Message { send, expect, .. } => {
                    if let Some(s) = send {
                        templates.extend(s.templates());
                    }
                    templates.extend(expect.templates());
                }
                Action::Listen { .. } | Action::Close { .. } => {}
            }
            let scoped = |name: &str| {
                step.scope
                    .as_ref()
                    .is_some_and(|s| s.overrides.contains_key(name) || s.defaults.contains_key(name))
            };
            for t in templates {
                for name in t.vars() {
                    if known.contains(name) || scoped(name) {
                        continue;
                    }
                    let needle = format!("{{{{{name}}}}}");
                    let err = PlanError::at(
                        p.source,
                        t.pos,
                        match captured_at.get(name) {
                            Some(at) => format!(
                                "variable `{name}` is used before step {} ({}) captures it",
                                at.number, at.location
                            ),
                            None => format!("unknown variable `{name}`"),
                        },
                    );
                    let mut names: Vec<String> = known.iter().cloned().collect();
                    if let Some(scope) = &step.scope {
                        names.extend(scope.overrides.keys().cloned());
                        names.extend(scope.defaults.keys().cloned());
                    }
                    names.sort();
                    names.dedup();
                    let suggestion = if captured_at.contains_key(name) {
                        None
                    } else {
                        suggest::did_you_mean(name, names.iter().map(String::as_str))
                    };
                    let help = format!(
                        "{}declare it under `vars:` (then `--var {name}=VALUE` can override it), or capture it earlier; \
                         variables here: {}",
                        suggestion.map(|s| format!("{s} ")).unwrap_or_default(),
                        names.join(", ")
                    );
                    errors.push(if t.source.contains(&needle) {
                        err.underline(needle).help(help)
                    } else {
                        err.underline(name.to_string()).help(help)
                    });
                }
            }
            for c in &step.captures {
                known.insert(c.name.clone());
            }
            if let Action::Listen { conn, .. } = &step.action {
                for suffix in LISTEN_VARS {
                    known.insert(format!("{conn}.{suffix}"));
                }
            }
        }
    }
}

/// The state of every connection, by name.
type Conns = HashMap<String, State>;
/// The alternatives of a group: names and ranges of `pending`.
type Alternatives = Vec<(String, std::ops::Range<usize>)>;

/// What the steps so far did to a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Listening(Side),
    Open { framing: Framing, closed: [bool; 2] },
    Closed,
}

/// Variables a `listen` step sets, after the connection's name and a dot.
///
/// The one list of their names: the engine destructures this array to name what it sets
/// (`engine::session::env::listen_vars`), so a name added here does not compile until the
/// engine gives it a value.
pub const LISTEN_VARS: [&str; 5] = ["host", "port", "addr", "port_args", "eprt_args"];

impl Scenario {
    /// Whether parley can play `me`'s side of this scenario: every message of that side
    /// says which bytes to send. Checked before any program starts or socket opens; the
    /// error points at the first step that cannot be played.
    pub fn playable_as(&self, me: Side) -> Result<(), ScenarioError> {
        for step in &self.steps {
            let Action::Message {
                from, send, expect, ..
            } = &step.action
            else {
                continue;
            };
            if *from != me || outgoing(send.as_ref(), expect).is_some() {
                continue;
            }
            // An echo server sends back what it got: its messages need no bytes of their own.
            if me == Side::Server && self.protocol == crate::proto::Protocol::Echo {
                continue;
            }
            let role = match me {
                Side::Client => "`parley run` plays the client",
                Side::Server => "`parley grade` plays the server",
            };
            let text: std::sync::Arc<str> = std::fs::read_to_string(&step.location.file)
                .unwrap_or_default()
                .into();
            let d = Diagnostic::at(
                &step.location.file,
                text,
                step.location.line,
                step.location.col,
                format!(
                    "step {} cannot be played as the {}: {role}, and this {} message only says how to check it",
                    step.number,
                    me.name(),
                    me.name()
                ),
            )
            .label("no bytes to send")
            .help(format!(
                "add `send:` with the bytes parley sends as the {} (the matchers still check them when parley plays the other side)",
                me.name()
            ));
            let mut d = d;
            d.notes = step
                .included_from
                .iter()
                .map(|l| format!("included from {l}"))
                .collect();
            return Err(ScenarioError::Invalid(Box::new(d)));
        }
        Ok(())
    }
}

/// The first connection whose state differs between two ends of alternatives.
fn differing(a: &HashMap<String, State>, b: &HashMap<String, State>) -> Option<String> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names.into_iter().find(|n| a.get(*n) != b.get(*n)).cloned()
}

/// What a message step checks, as text: two alternatives whose first steps check the same
/// cannot be told apart.
fn head_signature(step: &Step) -> String {
    match &step.action {
        Action::Message {
            from, conn, expect, ..
        } => format!(
            "{from:?} {conn} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            expect.command,
            expect.method,
            expect.path.as_ref().map(|t| &t.source),
            expect.literal,
            expect.exact,
            expect.contains,
            expect.regex.as_ref().map(|r| r.as_str().to_string()),
            expect.code,
            expect
                .headers
                .iter()
                .map(|(n, t)| (n, &t.source))
                .collect::<Vec<_>>(),
        ),
        other => format!("{other:?}"),
    }
}
