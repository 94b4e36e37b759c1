//! The checked, runtime form of a scenario: what the engine plays.
//!
//! `build` turns the on-disk documents into a [`Scenario`]: includes are expanded, every
//! step gets its `file:line:col`, and the parts are checked against each other — every
//! variable has a value by the time it is used, connections are opened before use and not
//! used after their side closed them, protocol-specific matchers fit the protocol, `when`
//! refers to steps that exist. Each failure becomes a diagnostic at the offending node.

use crate::rules::RuleId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::{Diagnostic, ScenarioError};
use super::locate::Kind;
use super::payload::Payload;
use super::schema::{
    FaultsDoc, FragmentDoc, FramingName, ProfileName, ProtocolName, ScenarioDoc, SideDoc, SideFields,
    SideName, StepDoc, WhenFields,
};
use super::template::Template;
use crate::proto::{Framing, MAIN, Protocol};
use crate::rules::Profile;

/// Default deadline of one step.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default deadline of a whole scenario.
pub const DEFAULT_SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Variables every scenario has: the target's address.
pub const BUILTIN_VARS: &[&str] = &["host", "port", "target", "authority", "http_date"];

/// A scenario, checked and ready to play.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable id from the path, e.g. `echo::basic`.
    pub id: String,
    /// The `name:` of the file.
    pub name: String,
    /// The `description:`.
    pub description: Option<String>,
    /// The file.
    pub file: PathBuf,
    /// The protocol.
    pub protocol: Protocol,
    /// RFC references.
    pub rfc: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Declared variables and their defaults (they may use the builtin variables).
    pub vars: BTreeMap<String, Template>,
    /// Deadline of the whole scenario.
    pub timeout: Duration,
    /// Default deadline of a step.
    pub step_timeout: Duration,
    /// HTTP profile.
    pub profile: Profile,
    /// Fault knobs for whoever plays the server.
    pub faults: Faults,
    /// Fault variants for grading, by name.
    pub variants: Vec<(String, Faults)>,
    /// What the program under test gets and must do (grading).
    pub program: ProgramExpect,
    /// Server role: answers to unexpected client commands, by keyword (`*` for any).
    pub answers: Vec<(String, Payload)>,
    /// Grading: points for rules, by id.
    pub rule_points: BTreeMap<RuleId, u32>,
    /// The steps, includes expanded.
    pub steps: Vec<Step>,
}

/// Fault knobs, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Write replies in pieces of at most this many bytes.
    pub split_writes: Option<std::num::NonZeroUsize>,
    /// Pause between pieces.
    pub write_delay: Duration,
    /// Pause before each reply.
    pub reply_delay: Duration,
    /// HTTP mock: close-delimited bodies.
    pub no_content_length: bool,
    /// HTTP mock: pause before closing.
    pub close_delay: Duration,
    /// FTP: multi-line greeting.
    pub multiline_greeting: bool,
    /// FTP mock: bare-LF replies.
    pub bare_lf: bool,
    /// FTP: pause before the 226 that ends a transfer.
    pub transfer_delay: Duration,
    /// FTP mock: refuse data connections.
    pub refuse_data: bool,
    /// parley as server: pad data-connection payloads to at least this many bytes.
    pub pad_data: Option<usize>,
}

/// What the program under test gets and must do.
#[derive(Debug, Clone, Default)]
pub struct ProgramExpect {
    /// Its stdin.
    pub stdin: Option<Payload>,
    /// Its exit status.
    pub exit: Option<i32>,
    /// Its stdout contains this.
    pub stdout_contains: Option<Template>,
    /// Its stdout does not contain this.
    pub stdout_not_contains: Option<Template>,
    /// The rule a failed check breaks.
    pub rule: Option<RuleId>,
    /// How long it may take to finish after the conversation.
    pub grace: Duration,
}

impl Faults {
    /// The write knobs in the mock servers' terms.
    pub fn to_mock(&self) -> parley_mock::faults::Faults {
        parley_mock::faults::Faults {
            split_writes: self.split_writes,
            write_delay: self.write_delay,
            reply_delay: self.reply_delay,
        }
    }
}

/// A place in a scenario or fragment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One side of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Opened the main connection.
    Client,
    /// Accepted it.
    Server,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl From<SideName> for Side {
    fn from(s: SideName) -> Side {
        match s {
            SideName::Client => Side::Client,
            SideName::Server => Side::Server,
        }
    }
}

/// Variables an included fragment sees in addition to the scenario's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Values the `include:` gave; they win over the scenario's variables.
    pub overrides: BTreeMap<String, String>,
    /// The fragment's defaults; the scenario's variables win over them.
    pub defaults: BTreeMap<String, Template>,
}

/// One step, ready to play.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the expanded list.
    pub number: usize,
    /// Where it is written.
    pub location: Location,
    /// The include sites it came through, innermost first.
    pub included_from: Vec<Location>,
    /// `id:`.
    pub id: Option<String>,
    /// `note:`.
    pub note: Option<String>,
    /// Runs only when this holds.
    pub when: Option<Condition>,
    /// Its own deadline.
    pub timeout: Option<Duration>,
    /// The rule its failure breaks.
    pub rule: Option<RuleId>,
    /// Variables to set from its message.
    pub captures: Vec<Capture>,
    /// Points its checks are worth.
    pub points: u32,
    /// Include scope.
    pub scope: Option<Arc<Scope>>,
    /// What it does.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// A side opens a connection.
    Open {
        /// Its name.
        conn: String,
        /// Who opens it.
        by: Side,
        /// Where to, when not the default.
        to: Option<Template>,
        /// How its bytes are cut into messages.
        framing: Framing,
    },
    /// A side listens for a connection the other will open.
    Listen {
        /// The connection's name.
        conn: String,
        /// Who listens.
        by: Side,
    },
    /// A side sends a message.
    Message {
        /// Who sends it.
        from: Side,
        /// On which connection.
        conn: String,
        /// The bytes parley sends when it plays `from`.
        send: Option<Payload>,
        /// How parley checks it when the peer plays `from`.
        expect: Box<Expect>,
    },
    /// A side closes its end.
    Close {
        /// Which connection.
        conn: String,
        /// Who closes.
        by: Side,
    },
}

/// How a received message is checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The message as written in the shorthand: compared the protocol's way.
    pub literal: Option<Payload>,
    /// Exactly these bytes.
    pub exact: Option<Payload>,
    /// Contains these bytes.
    pub contains: Option<Payload>,
    /// Does not contain these bytes.
    pub not_contains: Option<Payload>,
    /// Matches this regex.
    pub regex: Option<regex::bytes::Regex>,
    /// Is this long.
    pub len: Option<usize>,
    /// Has one of these codes.
    pub code: Option<Vec<u16>>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP target or FTP argument.
    pub path: Option<Template>,
    /// FTP command keyword.
    pub command: Option<String>,
    /// HTTP headers.
    pub headers: Vec<(String, Template)>,
    /// HTTP body.
    pub body: Option<Payload>,
    /// HTTP JSON body.
    pub json: Option<serde_json::Value>,
    /// HTTP JSON body values at pointers.
    pub json_at: Vec<(String, serde_json::Value)>,
    /// HTTP body length.
    pub body_len: Option<usize>,
}

impl Expect {
    /// True when the matchers fix how many raw bytes the message is.
    pub fn frames_raw(&self) -> bool {
        self.literal.is_some()
            || self.exact.is_some()
            || self.len.is_some()
            || self.contains.is_some()
            || self.regex.is_some()
    }

    fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        for p in [
            &self.literal,
            &self.exact,
            &self.contains,
            &self.not_contains,
            &self.body,
        ]
        .into_iter()
        .flatten()
        {
            out.extend(p.templates());
        }
        out.extend(self.path.iter());
        out.extend(self.headers.iter().map(|(_, t)| t));
        out
    }
}

/// A variable set from a message.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The variable.
    pub name: String,
    /// Regex; first group or whole match.
    pub regex: Option<regex::bytes::Regex>,
    /// HTTP header to read.
    pub header: Option<String>,
    /// JSON pointer into the body.
    pub json: Option<String>,
}

/// A `when:` condition; all given parts must hold.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// The last code seen is one of these.
    pub last_code: Option<Vec<u16>>,
    /// Variables equal these values.
    pub vars: BTreeMap<String, String>,
    /// This variable has a value.
    pub defined: Option<String>,
    /// This variable has no value.
    pub undefined: Option<String>,
    /// The step with this id passed.
    pub passed: Option<String>,
    /// The step with this id failed.
    pub failed: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Building

/// A file taking part in a scenario.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) text: Arc<str>,
    pub(crate) fragment: bool,
    /// Where it was included from, for notes.
    pub(crate) included_from: Vec<Location>,
}

/// A check that failed at a node.
struct PlanError {
    source: usize,
    node: (Kind, usize),
    message: String,
    help: Option<String>,
    underline: Option<String>,
}

impl PlanError {
    fn at(source: usize, node: (Kind, usize), message: impl Into<String>) -> PlanError {
        PlanError {
            source,
            node,
            message: message.into(),
            help: None,
            underline: None,
        }
    }
    fn help(mut self, help: impl Into<String>) -> PlanError {
        self.help = Some(help.into());
        self
    }
    fn underline(mut self, needle: impl Into<String>) -> PlanError {
        self.underline = Some(needle.into());
        self
    }
}

/// A step before checking, with the file it came from.
struct Pending {
    source: usize,
    ordinal: usize,
    step: Step,
}

struct Planner {
    protocol: Protocol,
    sources: Vec<Source>,
    pending: Vec<Pending>,
}

/// Builds the plan of the scenario in `path` whose text is `text`.
pub(crate) fn build(
    id: String,
    path: &Path,
    text: Arc<str>,
    doc: ScenarioDoc,
) -> Result<Scenario, ScenarioError> {
    let protocol = match doc.protocol {
        ProtocolName::Echo => Protocol::Echo,
        ProtocolName::Http => Protocol::Http,
        ProtocolName::Ftp => Protocol::Ftp,
    };
    let mut planner = Planner {
        protocol,
        sources: vec![Source {
            path: path.to_path_buf(),
            text,
            fragment: false,
            included_from: Vec::new(),
        }],
        pending: Vec::new(),
    };
    let mut chain = vec![canonical(path)];
    planner.expand(0, doc.steps.0, None, &mut chain)?;

    let vars: BTreeMap<String, Template> = doc.vars.into_iter().map(|(k, v)| (k.0, v)).collect();
    if let Err(e) = planner.check_var_defaults(&vars) {
        return Err(planner.diagnose(e));
    }
    if let Err(e) = planner.check() {
        return Err(planner.diagnose(e));
    }
    if let Err(e) = planner.check_vars(&vars) {
        return Err(planner.diagnose(e));
    }
    let source = planner.sources[0].text.clone();
    let knob_error = |key: &str, message: String| {
        let (line, col) = super::locate_key(&source, key);
        ScenarioError::Invalid(Box::new(Diagnostic::at(path, source.clone(), line, col, message)))
    };
    let faults = faults(protocol, doc.faults.unwrap_or_default()).map_err(|(k, m)| knob_error(k, m))?;
    let mut variants = Vec::new();
    for (name, doc) in doc.variants {
        variants.push((
            name,
            self::faults(protocol, doc).map_err(|(k, m)| knob_error(k, m))?,
        ));
    }
    if !doc.answers.is_empty() && protocol != Protocol::Ftp {
        return Err(knob_error(
            "answers",
            format!("`answers` are FTP replies by command keyword; this scenario speaks {protocol}"),
        ));
    }
    let answers = doc
        .answers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    let program = doc.program.unwrap_or_default();
    let program = ProgramExpect {
        stdin: program.stdin,
        exit: program.exit,
        stdout_contains: program.stdout_contains,
        stdout_not_contains: program.stdout_not_contains,
        rule: program.rule.map(|r| r.0),
        grace: program.grace.map(|d| d.0).unwrap_or(Duration::from_secs(5)),
    };
    Ok(Scenario {
        id,
        name: doc.name,
        description: doc.description,
        file: path.to_path_buf(),
        protocol,
        rfc: doc.rfc,
        tags: doc.tags,
        vars,
        timeout: doc.timeout.map(|d| d.0).unwrap_or(DEFAULT_SCENARIO_TIMEOUT),
        step_timeout: doc.step_timeout.map(|d| d.0).unwrap_or(DEFAULT_STEP_TIMEOUT),
        profile: match doc.profile {
            Some(ProfileName::Strict11) => Profile::Strict11,
            Some(ProfileName::Http10) | None => Profile::Http10,
        },
        faults,
        variants,
        program,
        answers,
        rule_points: doc.rule_points.into_iter().map(|(r, p)| (r.0, p)).collect(),
        steps: planner.pending.into_iter().map(|p| p.step).collect(),
    })
}

/// Checks the knobs against the protocol; an error names the offending key.
fn faults(protocol: Protocol, doc: FaultsDoc) -> Result<Faults, (&'static str, String)> {
    let only = |key: &'static str, set: bool, wants: Protocol| -> Result<(), (&'static str, String)> {
        if set && protocol != wants {
            Err((
                key,
                format!("`{key}` is a fault of the {wants} server; this scenario speaks {protocol}"),
            ))
        } else {
            Ok(())
        }
    };
    only(
        "no_content_length",
        doc.no_content_length.is_some(),
        Protocol::Http,
    )?;
    only("close_delay", doc.close_delay.is_some(), Protocol::Http)?;
    only(
        "multiline_greeting",
        doc.multiline_greeting.is_some(),
        Protocol::Ftp,
    )?;
    only("bare_lf", doc.bare_lf.is_some(), Protocol::Ftp)?;
    only("transfer_delay", doc.transfer_delay.is_some(), Protocol::Ftp)?;
    only("refuse_data", doc.refuse_data.is_some(), Protocol::Ftp)?;
    if doc.split_writes == Some(0) {
        return Err((
            "split_writes",
            "`split_writes: 0` writes nothing; use 1 for a byte per write".into(),
        ));
    }
    Ok(Faults {
        split_writes: doc.split_writes.and_then(std::num::NonZeroUsize::new),
        write_delay: doc.write_delay.map(|d| d.0).unwrap_or_default(),
        reply_delay: doc.reply_delay.map(|d| d.0).unwrap_or_default(),
        no_content_length: doc.no_content_length.unwrap_or(false),
        close_delay: doc.close_delay.map(|d| d.0).unwrap_or_default(),
        multiline_greeting: doc.multiline_greeting.unwrap_or(false),
        bare_lf: doc.bare_lf.unwrap_or(false),
        transfer_delay: doc.transfer_delay.map(|d| d.0).unwrap_or_default(),
        refuse_data: doc.refuse_data.unwrap_or(false),
        pad_data: doc.pad_data,
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

impl Planner {
    fn location(&self, source: usize, kind: Kind, ordinal: usize) -> Location {
        let src = &self.sources[source];
        let (line, col) = super::locate_node(&src.path, &src.text, src.fragment, kind, ordinal);
        Location {
            file: Arc::from(src.path.as_path()),
            line,
            col,
        }
    }

    fn diagnose(&self, e: PlanError) -> ScenarioError {
        let src = &self.sources[e.source];
        let (line, col) = super::locate_node(&src.path, &src.text, src.fragment, e.node.0, e.node.1);
        let mut d = Diagnostic::at(&src.path, src.text.clone(), line, col, e.message);
        if let Some(needle) = &e.underline {
            d = d.underline(needle);
        }
        if let Some(help) = e.help {
            d = d.help(help);
        }
        d.notes = src
            .included_from
            .iter()
            .map(|l| format!("included from {l}"))
            .collect();
        ScenarioError::Invalid(Box::new(d))
    }

    fn expand(
        &mut self,
        source: usize,
        steps: Vec<StepDoc>,
        scope: Option<Arc<Scope>>,
        chain: &mut Vec<PathBuf>,
    ) -> Result<(), ScenarioError> {
        for doc in steps {
            let node = (Kind::Step, doc.ordinal);
            if let Some(include) = &doc.fields.include {
                let include = include.0.clone();
                let here = self.location(source, Kind::Step, doc.ordinal);
                let base = self.sources[source]
                    .path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let path = base.join(&include.file);
                if chain.len() > MAX_INCLUDE_DEPTH {
                    return Err(self.diagnose(PlanError::at(
                        source,
                        node,
                        format!("includes nest deeper than {MAX_INCLUDE_DEPTH} levels"),
                    )));
                }
                let canon = canonical(&path);
                if chain.contains(&canon) {
                    return Err(self.diagnose(
                        PlanError::at(
                            source,
                            node,
                            format!(
                                "`{}` includes itself (through {} file(s))",
                                include.file,
                                chain.len()
                            ),
                        )
                        .underline(include.file.clone())
                        .help("an include cycle never ends: remove one of the includes"),
                    ));
                }
                let text: Arc<str> = match std::fs::read_to_string(&path) {
                    Ok(t) => t.into(),
                    Err(err) => {
                        return Err(self.diagnose(
                            PlanError::at(
                                source,
                                node,
                                format!("cannot include `{}`: {err}", path.display()),
                            )
                            .underline(include.file.clone())
                            .help("the path is relative to the file that includes it"),
                        ));
                    }
                };
                let mut included_from = vec![here];
                included_from.extend(self.sources[source].included_from.iter().cloned());
                let fragment: FragmentDoc = match super::parse_doc(&path, &text, None) {
                    Ok(f) => f,
                    Err(err) => {
                        let mut d = super::yaml_diagnostic(&path, text.clone(), &err);
                        d.notes = included_from
                            .iter()
                            .map(|l| format!("included from {l}"))
                            .collect();
                        return Err(ScenarioError::Invalid(Box::new(d)));
                    }
                };
                self.sources.push(Source {
                    path: path.clone(),
                    text,
                    fragment: true,
                    included_from,
                });
                let index = self.sources.len() - 1;
                let mut inner = scope.as_deref().cloned().unwrap_or_default();
                for (k, v) in include.vars {
                    inner.overrides.insert(k.0, v);
                }
                for (k, v) in fragment.vars {
                    inner.defaults.entry(k.0).or_insert(v);
                }
                chain.push(canon);
                self.expand(index, fragment.steps.0, Some(Arc::new(inner)), chain)?;
                chain.pop();
                continue;
            }
            let step = self
                .convert(source, doc, scope.clone())
                .map_err(|e| self.diagnose(e))?;
            self.pending.push(step);
        }
        Ok(())
    }

    fn convert(&self, source: usize, doc: StepDoc, scope: Option<Arc<Scope>>) -> Result<Pending, PlanError> {
        let node = (Kind::Step, doc.ordinal);
        let f = doc.fields;
        let conn = f.on.map(|c| c.0).unwrap_or_else(|| MAIN.to_string());
        let action = if let Some(side) = f.client {
            self.message(source, node, Side::Client, conn, side)?
        } else if let Some(side) = f.server {
            self.message(source, node, Side::Server, conn, side)?
        } else if let Some(open) = f.open {
            let o = open.0;
            Action::Open {
                framing: match o.framing {
                    Some(FramingName::Raw) => Framing::Raw,
                    Some(FramingName::Line) => Framing::Line,
                    Some(FramingName::Eof) => Framing::Eof,
                    Some(FramingName::Protocol) => Framing::Protocol,
                    None => self.protocol.default_framing(&o.conn.0),
                },
                conn: o.conn.0,
                by: o.by.map(Side::from).unwrap_or(Side::Client),
                to: o.to,
            }
        } else if let Some(listen) = f.listen {
            Action::Listen {
                conn: listen.0.conn.0,
                by: listen.0.by.map(Side::from).unwrap_or(Side::Client),
            }
        } else if let Some(by) = f.close {
            Action::Close { conn, by: by.into() }
        } else {
            unreachable!("the schema checked that a step has one action")
        };
        let captures = f
            .capture
            .unwrap_or_default()
            .into_iter()
            .map(|(name, c)| Capture {
                name: name.0,
                regex: c.0.regex.map(|r| r.0),
                header: c.0.header,
                json: c.0.json,
            })
            .collect::<Vec<_>>();
        if captures.iter().any(|c| c.header.is_some() || c.json.is_some()) && self.protocol != Protocol::Http
        {
            return Err(PlanError::at(
                source,
                node,
                format!(
                    "`header` and `json` captures read HTTP messages; this scenario speaks {}",
                    self.protocol
                ),
            )
            .help("capture with `regex` instead"));
        }
        Ok(Pending {
            source,
            ordinal: doc.ordinal,
            step: Step {
                number: 0,
                location: self.location(source, Kind::Step, doc.ordinal),
                included_from: self.sources[source].included_from.clone(),
                id: f.id,
                note: f.note,
                when: f.when.map(|w| condition(w.0)),
                timeout: f.timeout.map(|d| d.0),
                rule: f.rule.map(|r| r.0),
                captures,
                points: f.points.unwrap_or(1),
                scope,
                action,
            },
        })
    }

    fn message(
        &self,
        source: usize,
        node: (Kind, usize),
        from: Side,
        conn: String,
        side: SideDoc,
    ) -> Result<Action, PlanError> {
        let (send, expect) = match side {
            SideDoc::Literal(p) => (
                Some(p.clone()),
                Expect {
                    literal: Some(p),
                    ..Expect::default()
                },
            ),
            SideDoc::Code(codes) => (
                None,
                Expect {
                    code: Some(codes),
                    ..Expect::default()
                },
            ),
            SideDoc::Fields(f) => self.fields(source, node, *f)?,
        };
        Ok(Action::Message {
            from,
            conn,
            send,
            expect: Box::new(expect),
        })
    }

    fn fields(
        &self,
        source: usize,
        node: (Kind, usize),
        f: SideFields,
    ) -> Result<(Option<Payload>, Expect), PlanError> {
        let p = self.protocol;
        let needs = |field: &str, ok: bool, wants: &str| -> Result<(), PlanError> {
            if ok {
                Ok(())
            } else {
                Err(PlanError::at(
                    source,
                    node,
                    format!("`{field}` is an {wants} matcher; this scenario speaks {p}"),
                )
                .underline(field.to_string())
                .help("for raw bytes use `exact`, `contains`, `regex` or `len`"))
            }
        };
        needs("code", f.code.is_none() || p != Protocol::Echo, "HTTP or FTP")?;
        needs("path", f.path.is_none() || p != Protocol::Echo, "HTTP or FTP")?;
        needs("command", f.command.is_none() || p == Protocol::Ftp, "FTP")?;
        for (field, set) in [
            ("method", f.method.is_some()),
            ("headers", f.headers.is_some()),
            ("body", f.body.is_some()),
            ("json", f.json.is_some()),
            ("json_at", f.json_at.is_some()),
            ("body_len", f.body_len.is_some()),
        ] {
            needs(field, !set || p == Protocol::Http, "HTTP")?;
        }
        let mut expect = Expect {
            literal: None,
            exact: f.exact,
            contains: f.contains,
            not_contains: f.not_contains,
            regex: f.regex.map(|r| r.0),
            len: f.len,
            code: f.code.map(|c| c.0),
            method: f.method,
            path: f.path,
            command: f.command.map(|c| c.to_ascii_uppercase()),
            headers: f.headers.unwrap_or_default().into_iter().collect(),
            body: f.body,
            json: f.json,
            json_at: f.json_at.unwrap_or_default().into_iter().collect(),
            body_len: f.body_len,
        };
        let has_matcher = expect.frames_raw()
            || expect.not_contains.is_some()
            || expect.code.is_some()
            || expect.method.is_some()
            || expect.path.is_some()
            || expect.command.is_some()
            || !expect.headers.is_empty()
            || expect.body.is_some()
            || expect.json.is_some()
            || !expect.json_at.is_empty()
            || expect.body_len.is_some();

        if !has_matcher {
            match &f.send {
                Some(send) => expect.literal = Some(send.clone()),
                None => {
                    return Err(PlanError::at(source, node, "this message has neither `send` nor a matcher")
                        .help("give `send:` (the bytes) and/or a matcher such as `exact`, `contains`, `regex`, `len`, `code`"));
                }
            }
        }
        Ok((f.send, expect))
    }

    /// Checks connections, step ids and framing, and numbers the steps.
    fn check(&mut self) -> Result<(), PlanError> {
        #[derive(Clone, Copy)]
        enum State {
            Listening(Side),
            Open { framing: Framing, closed: [bool; 2] },
            Closed,
        }
        let mut conns: HashMap<String, State> = HashMap::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for (i, p) in self.pending.iter_mut().enumerate() {
            p.step.number = i + 1;
            let node = (Kind::Step, p.ordinal);
            let at = |m: String| PlanError::at(p.source, node, m);
            if let Some(when) = &p.step.when {
                for id in [&when.passed, &when.failed].into_iter().flatten() {
                    if !ids.contains(id) {
                        return Err(at(format!(
                            "`when` refers to step id `{id}`, which no earlier step has"
                        ))
                        .underline(id.clone())
                        .help(if ids.is_empty() {
                            "give an earlier step `id: NAME`".to_string()
                        } else {
                            format!(
                                "earlier step ids: {}",
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
                Action::Listen { conn, by } => {
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
                                framing: self.protocol.default_framing(MAIN),
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

    fn check_var_defaults(&self, vars: &BTreeMap<String, Template>) -> Result<(), PlanError> {
        for template in vars.values() {
            for name in template.vars() {
                if !BUILTIN_VARS.contains(&name) {
                    return Err(PlanError::at(
                        0,
                        (Kind::Template, template.ordinal),
                        format!(
                            "the value of a variable may only use {}; `{name}` is not one",
                            BUILTIN_VARS
                                .iter()
                                .map(|v| format!("`{{{{{v}}}}}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .underline(format!("{{{{{name}}}}}")));
                }
            }
        }
        Ok(())
    }

    /// Every variable a step uses has a value by then.
    fn check_vars(&self, vars: &BTreeMap<String, Template>) -> Result<(), PlanError> {
        let mut known: BTreeSet<String> = vars.keys().cloned().collect();
        known.extend(BUILTIN_VARS.iter().map(|s| s.to_string()));
        known.extend(self.protocol.provided_vars().iter().map(|s| s.to_string()));
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
                        (Kind::Template, t.ordinal),
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
                    let help = format!(
                        "declare it under `vars:` (then `--var {name}=VALUE` can override it), or capture it earlier; \
                         variables here: {}",
                        names.join(", ")
                    );
                    return Err(if t.source.contains(&needle) {
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
        Ok(())
    }
}

/// Variables a `listen` step sets, after the connection's name and a dot.
pub const LISTEN_VARS: &[&str] = &["host", "port", "addr", "port_args", "eprt_args"];

fn condition(w: WhenFields) -> Condition {
    Condition {
        last_code: w.last_code.map(|c| c.0),
        vars: w
            .vars
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.0, v))
            .collect(),
        defined: w.defined.map(|v| v.0),
        undefined: w.undefined.map(|v| v.0),
        passed: w.passed,
        failed: w.failed,
    }
}
