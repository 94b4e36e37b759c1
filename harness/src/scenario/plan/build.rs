//! Building the plan: the on-disk documents become a [`Scenario`]. Includes are expanded,
//! every step gets its `file:line:col`, shorthand forms become matchers, and the fault
//! knobs are checked against the protocol. How the parts fit together is `check`'s work.
//!
//! Errors do not stop the build: every include, step and knob that can be checked on its
//! own is checked, and all their errors are reported together. The checks of how the
//! steps fit together run only on a complete list of steps (an include that failed would
//! make them report what the fragment would have provided).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::super::error::{Diagnostic, MAX_SHOWN, ScenarioError};
use super::super::limits::{Budget, Limit, MAX_INCLUDE_DEPTH, MAX_PAYLOAD, bytes};
use super::super::locate::Pos;
use super::super::payload::Payload;
use super::super::schema::{
    FaultsDoc, FragmentDoc, FramingName, ProfileName, ProtocolName, ScenarioDoc, SideDoc, SideFields,
    StepDoc, VarDoc, WhenFields,
};
use super::super::source;
use super::super::template::Template;
use super::model::*;
use crate::proto::{Framing, MAIN, Protocol};
use crate::rules::Profile;

// ---------------------------------------------------------------------------------------
// Building

/// A file taking part in a scenario.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) text: Arc<str>,
    /// Where it was included from, for notes.
    pub(crate) included_from: Vec<Location>,
    /// Byte offset of each line's start.
    line_starts: Vec<usize>,
}

impl Source {
    fn new(path: PathBuf, text: Arc<str>, included_from: Vec<Location>) -> Source {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            path,
            text,
            included_from,
            line_starts,
        }
    }

    /// Where a step is: yaml_serde gives its first key; a step written as a flow map
    /// (`- { client: x }`) is where its `{` is.
    fn step_pos(&self, pos: Pos) -> Pos {
        let Some(&start) = self.line_starts.get(pos.line - 1) else {
            return pos;
        };
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let key = line
            .char_indices()
            .nth(pos.col - 1)
            .map(|(b, _)| b)
            .unwrap_or(line.len());
        let before = line[..key].trim_end_matches([' ', '\t']);
        if before.ends_with('{') {
            Pos {
                line: pos.line,
                col: before.chars().count(),
            }
        } else {
            pos
        }
    }
}

/// A check that failed at a node.
pub(super) struct PlanError {
    pub(super) source: usize,
    pub(super) pos: Pos,
    pub(super) message: String,
    pub(super) help: Option<String>,
    pub(super) underline: Option<String>,
}

impl PlanError {
    pub(super) fn at(source: usize, pos: Pos, message: impl Into<String>) -> PlanError {
        PlanError {
            source,
            pos,
            message: message.into(),
            help: None,
            underline: None,
        }
    }
    pub(super) fn help(mut self, help: impl Into<String>) -> PlanError {
        self.help = Some(help.into());
        self
    }
    pub(super) fn underline(mut self, needle: impl Into<String>) -> PlanError {
        self.underline = Some(needle.into());
        self
    }
}

/// A step before checking, with the file it came from.
pub(super) struct Pending {
    pub(super) source: usize,
    pub(super) pos: Pos,
    pub(super) step: Step,
}

pub(super) struct Planner {
    /// `None` for a fragment checked on its own: the protocol is the includer's.
    pub(super) protocol: Option<Protocol>,
    pub(super) sources: Vec<Source>,
    pub(super) pending: Vec<Pending>,
    /// What the scenario has used of its limits.
    budget: Budget,
    /// The errors found so far (the first [`MAX_SHOWN`] of them).
    errors: Vec<Diagnostic>,
    /// Errors found past those.
    dropped: usize,
    /// A limit was reached: nothing more is read.
    exhausted: bool,
    /// Fragments already read, by canonical path (each include is still counted).
    texts: HashMap<PathBuf, Arc<str>>,
    /// Secret variables of the fragments.
    pub(super) secrets: BTreeSet<String>,
    /// The `one_of` groups found so far, their alternatives as ranges of `pending`.
    pub(super) groups: Vec<GroupPlan>,
    /// The alternatives the steps being expanded are inside.
    branch: Vec<BranchAt>,
}

/// A `one_of` while the plan is built: where it is, and each alternative's name and the
/// range of `pending` its steps take.
#[derive(Debug)]
pub(super) struct GroupPlan {
    pub(super) source: usize,
    pub(super) pos: Pos,
    pub(super) alternatives: Vec<(String, std::ops::Range<usize>)>,
}

/// The hint of a file over the size cap.
const YAML_CAP_HINT: &str = "; set PARLEY_MAX_YAML_BYTES=N to raise the cap";

/// Reads a scenario or fragment file for `budget`: regular files only, at most the
/// budget's YAML bytes, and counted against them.
pub(crate) fn read_yaml(path: &Path, budget: &mut Budget) -> Result<Arc<str>, String> {
    let text =
        source::read_text(path, budget.limits.max_yaml_bytes, YAML_CAP_HINT).map_err(|e| e.to_string())?;
    budget
        .take(Limit::YamlBytes, text.len())
        .map_err(|e| e.to_string())?;
    Ok(text.into())
}

impl Planner {
    fn new(protocol: Option<Protocol>, path: &Path, text: Arc<str>, budget: Budget) -> Planner {
        Planner {
            protocol,
            sources: vec![Source::new(path.to_path_buf(), text, Vec::new())],
            pending: Vec::new(),
            budget,
            errors: Vec::new(),
            dropped: 0,
            exhausted: false,
            texts: HashMap::new(),
            groups: Vec::new(),
            branch: Vec::new(),
            secrets: BTreeSet::new(),
        }
    }

    /// The protocol's default framing for `conn` (a fragment alone: its own framing).
    pub(super) fn default_framing(&self, conn: &str) -> Framing {
        self.protocol
            .map(|p| p.default_framing(conn))
            .unwrap_or(Framing::Protocol)
    }

    /// Records an error (past [`MAX_SHOWN`], only counts it: a file of 40,000 broken
    /// steps must not cost 40,000 renderings).
    pub(super) fn fail(&mut self, e: PlanError) {
        if self.errors.len() >= MAX_SHOWN {
            self.dropped += 1;
            return;
        }
        let d = self.diagnose(e);
        self.errors.push(d);
    }

    fn finish(mut self) -> Result<Planner, ScenarioError> {
        if self.errors.is_empty() {
            return Ok(self);
        }
        // A literal is both what is sent and what is expected: its errors come twice.
        let mut seen = BTreeSet::new();
        let mut errors: Vec<Diagnostic> = std::mem::take(&mut self.errors)
            .into_iter()
            .filter(|d| seen.insert((d.file.clone(), d.line, d.col, d.message.clone())))
            .collect();
        // In the order of the files (as first met), and by place in each.
        let mut files: Vec<PathBuf> = Vec::new();
        for d in &errors {
            if !files.contains(&d.file) {
                files.push(d.file.clone());
            }
        }
        errors.sort_by_key(|d| (files.iter().position(|f| *f == d.file), d.line, d.col));
        let mut joined = Diagnostic::join(errors).expect("errors is not empty");
        joined.not_shown += self.dropped;
        Err(ScenarioError::Invalid(Box::new(joined)))
    }
}

/// Builds the plan of the scenario in `path` whose text is `text`; `budget` is what the
/// scenario has used of its limits (its own text).
pub(crate) fn build(
    id: String,
    path: &Path,
    text: Arc<str>,
    doc: ScenarioDoc,
    budget: Budget,
) -> Result<Scenario, ScenarioError> {
    let protocol = match doc.protocol {
        ProtocolName::Echo => Protocol::Echo,
        ProtocolName::Http => Protocol::Http,
        ProtocolName::Ftp => Protocol::Ftp,
    };
    let mut planner = Planner::new(Some(protocol), path, text, budget);
    let mut chain = vec![source::canonical(path)];
    planner.expand(0, doc.steps.0, None, &mut chain);

    let mut secrets: BTreeSet<String> = doc
        .vars
        .iter()
        .filter(|(_, v)| v.secret)
        .map(|(k, _)| k.0.clone())
        .collect();
    let vars: BTreeMap<String, Template> = doc.vars.into_iter().map(|(k, v)| (k.0, v.value)).collect();
    let source = planner.sources[0].text.clone();
    let knob_error = |key: &str, message: String| {
        let (line, col) = super::super::locate_key(&source, key);
        Diagnostic::at(path, source.clone(), line, col, message)
    };
    let mut knob_errors = Vec::new();
    let faults = match faults(protocol, doc.faults.unwrap_or_default()) {
        Ok(f) => f,
        Err((k, m)) => {
            knob_errors.push(knob_error(k, m));
            Faults::default()
        }
    };
    let mut variants = Vec::new();
    for (name, doc) in doc.variants {
        match self::faults(protocol, doc) {
            Ok(f) => variants.push((name.0, f)),
            Err((k, m)) => knob_errors.push(knob_error(k, m)),
        }
    }
    if !doc.answers.is_empty() && protocol != Protocol::Ftp {
        knob_errors.push(knob_error(
            "answers",
            format!("`answers` are FTP replies by command keyword; this scenario speaks {protocol}"),
        ));
    }
    planner.errors.extend(knob_errors);
    // How the steps fit together is checked on a complete list of steps only.
    if planner.errors.is_empty() {
        planner.check_var_defaults(&vars);
        planner.check();
        planner.check_vars(&vars);
    }
    let planner = planner.finish()?;
    secrets.extend(planner.secrets.iter().cloned());
    let answers = doc
        .answers
        .into_iter()
        .map(|(k, v)| (k.0.to_ascii_uppercase(), v))
        .collect();
    let program = doc.program.unwrap_or_default();
    let program = ProgramExpect {
        stdin: program.stdin,
        exit: program.exit,
        stdout_contains: program.stdout_contains,
        stdout_not_contains: program.stdout_not_contains,
        rule: program.rule.map(|r| r.0),
        grace: program.grace.map(|d| d.0).unwrap_or(Duration::from_secs(5)),
        startup: program.startup.map(|d| d.0),
        points: program.points.unwrap_or(1),
    };
    Ok(Scenario {
        id,
        name: doc.name.0,
        description: doc.description.map(String::from),
        file: path.to_path_buf(),
        protocol,
        rfc: doc.rfc.into_iter().map(String::from).collect(),
        tags: doc.tags.into_iter().map(String::from).collect(),
        vars,
        secrets,
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
        redact: doc
            .redact
            .into_iter()
            .map(|r| Redaction {
                regex: r.regex.0,
                replacement: r.replacement.0,
            })
            .collect(),
        groups: planner
            .groups
            .iter()
            .map(|g| Group {
                location: planner.location(g.source, g.pos),
                alternatives: g
                    .alternatives
                    .iter()
                    .map(|(name, range)| Alternative {
                        name: name.clone(),
                        first: range.start + 1,
                        last: range.end,
                    })
                    .collect(),
            })
            .collect(),
        steps: planner.pending.into_iter().map(|p| p.step).collect(),
    })
}

/// What `parley check` says of a fragment checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentSummary {
    /// Its steps, includes expanded.
    pub steps: usize,
}

/// Checks the fragment in `path` on its own: its schema, its includes, each step, and its
/// variables' defaults. What depends on the scenario that includes it (the protocol's
/// matchers, connections, variables given by the includer) is checked there.
pub(crate) fn build_fragment(
    path: &Path,
    text: Arc<str>,
    doc: FragmentDoc,
    budget: Budget,
) -> Result<FragmentSummary, ScenarioError> {
    let mut planner = Planner::new(None, path, text, budget);
    let mut chain = vec![source::canonical(path)];
    planner.expand(0, doc.steps.0, None, &mut chain);
    let vars: BTreeMap<String, Template> = doc.vars.into_iter().map(|(k, v)| (k.0, v.value)).collect();
    planner.check_var_defaults(&vars);
    let planner = planner.finish()?;
    Ok(FragmentSummary {
        steps: planner.pending.len(),
    })
}

/// Fault knobs given as YAML flow mappings (`{ split_writes: 16, write_delay: 100ms }`,
/// what `parley serve --fault NAME` stands for), merged in order (a later mapping wins
/// on a knob it repeats) and checked as a scenario's `faults:` is.
pub(crate) fn faults_from_yaml(protocol: Protocol, mappings: &[&str]) -> Result<Faults, String> {
    let mut merged = serde_yaml::Mapping::new();
    for text in mappings {
        let one: serde_yaml::Mapping =
            serde_yaml::from_str(text).map_err(|e| format!("fault knobs `{text}`: {e}"))?;
        merged.extend(one);
    }
    let doc: FaultsDoc = serde_yaml::from_value(serde_yaml::Value::Mapping(merged))
        .map_err(|e| format!("fault knobs: {e}"))?;
    faults(protocol, doc).map_err(|(_, message)| message)
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
    only(
        "pasv_without_parentheses",
        doc.pasv_without_parentheses.is_some(),
        Protocol::Ftp,
    )?;
    only("odd_texts", doc.odd_texts.is_some(), Protocol::Ftp)?;
    if doc.split_writes == Some(0) {
        return Err((
            "split_writes",
            "`split_writes: 0` writes nothing; use 1 for a byte per write".into(),
        ));
    }
    if let Some(pad) = doc.pad_data.filter(|p| *p > MAX_PAYLOAD) {
        return Err((
            "pad_data",
            format!(
                "`pad_data: {pad}` is more than the {} limit of one payload",
                bytes(MAX_PAYLOAD)
            ),
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
        pasv_without_parentheses: doc.pasv_without_parentheses.unwrap_or(false),
        odd_texts: doc.odd_texts.unwrap_or(false),
    })
}

impl Planner {
    fn location(&self, source: usize, pos: Pos) -> Location {
        let src = &self.sources[source];
        Location {
            file: Arc::from(src.path.as_path()),
            line: pos.line,
            col: pos.col,
        }
    }

    fn included_notes(from: &[Location]) -> Vec<String> {
        from.iter().map(|l| format!("included from {l}")).collect()
    }

    fn diagnose(&self, e: PlanError) -> Diagnostic {
        let src = &self.sources[e.source];
        let mut d = Diagnostic::at(&src.path, src.text.clone(), e.pos.line, e.pos.col, e.message);
        if let Some(needle) = &e.underline {
            d = d.underline(needle);
        }
        if let Some(help) = e.help {
            d = d.help(help);
        }
        d.notes = Self::included_notes(&src.included_from);
        d
    }

    /// Reads the fragment `path` for an include (from the cache when it was read before),
    /// counted against the budget.
    fn fragment_text(&mut self, path: &Path, canon: &Path) -> Result<Arc<str>, String> {
        if let Some(text) = self.texts.get(canon) {
            let text = Arc::clone(text);
            self.budget
                .take(Limit::YamlBytes, text.len())
                .map_err(|e| e.to_string())?;
            return Ok(text);
        }
        let text = read_yaml(path, &mut self.budget)?;
        self.texts.insert(canon.to_path_buf(), Arc::clone(&text));
        Ok(text)
    }

    /// Expands `steps` of file `source` into `pending`, recording every error.
    /// Expands a `one_of`: each alternative's steps one after another, each step marked
    /// with the alternative it belongs to.
    fn expand_group(
        &mut self,
        source: usize,
        pos: Pos,
        branches: Vec<super::super::schema::BranchDoc>,
        scope: Option<Arc<Scope>>,
        chain: &mut Vec<PathBuf>,
    ) {
        let group = self.groups.len();
        self.groups.push(GroupPlan {
            source,
            pos,
            alternatives: Vec::new(),
        });
        for (alt, branch) in branches.into_iter().enumerate() {
            let name = branch
                .name
                .map(|n| n.0)
                .unwrap_or_else(|| format!("alternative {}", alt + 1));
            let start = self.pending.len();
            self.branch.push(BranchAt { group, alt });
            self.expand(source, branch.steps.0, scope.clone(), chain);
            self.branch.pop();
            let end = self.pending.len();
            self.groups[group].alternatives.push((name, start..end));
        }
    }

    fn expand(
        &mut self,
        source: usize,
        steps: Vec<StepDoc>,
        scope: Option<Arc<Scope>>,
        chain: &mut Vec<PathBuf>,
    ) {
        for doc in steps {
            if self.exhausted {
                return;
            }
            let pos = self.sources[source].step_pos(doc.pos);
            if let Some(branches) = doc.fields.one_of {
                self.expand_group(source, pos, branches, scope.clone(), chain);
                continue;
            }
            let Some(include) = &doc.fields.include else {
                match self.convert(source, pos, doc, scope.clone()) {
                    Ok(step) => self.pending.push(step),
                    Err(e) => self.fail(e),
                }
                continue;
            };
            let include = include.0.clone();
            let file = include.file.0.clone();
            let here = self.location(source, pos);
            if let Err(e) = self.budget.take(Limit::Includes, 1) {
                self.fail(PlanError::at(source, pos, e.to_string()));
                self.exhausted = true;
                return;
            }
            if chain.len() > MAX_INCLUDE_DEPTH {
                self.fail(
                    PlanError::at(
                        source,
                        pos,
                        format!("includes nest deeper than {MAX_INCLUDE_DEPTH} levels"),
                    )
                    .underline(file.clone())
                    .help("flatten the includes: a fragment may include others, 16 levels deep at most"),
                );
                continue;
            }
            let base = self.sources[source]
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let path = base.join(&file);
            let canon = source::canonical(&path);
            if chain.contains(&canon) {
                self.fail(
                    PlanError::at(
                        source,
                        pos,
                        format!("`{file}` includes itself (through {} file(s))", chain.len()),
                    )
                    .underline(file.clone())
                    .help("an include cycle never ends: remove one of the includes"),
                );
                continue;
            }
            let text = match self.fragment_text(&path, &canon) {
                Ok(t) => t,
                Err(err) => {
                    let over = self.budget.yaml_bytes > self.budget.limits.max_yaml_bytes;
                    self.fail(
                        PlanError::at(source, pos, format!("cannot include `{}`: {err}", path.display()))
                            .underline(file.clone())
                            .help("the path is relative to the file that includes it"),
                    );
                    if over {
                        self.exhausted = true;
                    }
                    continue;
                }
            };
            let mut included_from = vec![here];
            included_from.extend(self.sources[source].included_from.iter().cloned());
            let budget = std::mem::take(&mut self.budget);
            let (parsed, budget) = super::super::parse_doc::<FragmentDoc>(&path, &text, budget);
            self.budget = budget;
            let fragment = match parsed {
                Ok(f) => f,
                Err(err) => {
                    let mut d = super::super::yaml_diagnostic(&path, text.clone(), &err);
                    d.notes = Self::included_notes(&included_from);
                    if self.errors.len() < MAX_SHOWN {
                        self.errors.push(d);
                    } else {
                        self.dropped += 1;
                    }
                    self.exhausted |= self.budget.is_exhausted();
                    continue;
                }
            };
            self.sources.push(Source::new(path.clone(), text, included_from));
            let index = self.sources.len() - 1;
            let mut inner = scope.as_deref().cloned().unwrap_or_default();
            for (k, v) in include.vars {
                inner.overrides.insert(k.0, v.0);
            }
            for (k, VarDoc { value, secret }) in fragment.vars {
                if secret {
                    self.secrets.insert(k.0.clone());
                }
                inner.defaults.entry(k.0).or_insert(value);
            }
            chain.push(canon);
            self.expand(index, fragment.steps.0, Some(Arc::new(inner)), chain);
            chain.pop();
        }
    }

    fn convert(
        &self,
        source: usize,
        node: Pos,
        doc: StepDoc,
        scope: Option<Arc<Scope>>,
    ) -> Result<Pending, PlanError> {
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
                    None => self.default_framing(&o.conn.0),
                },
                conn: o.conn.0,
                by: o.by.map(Side::from).unwrap_or(Side::Client),
                to: o.to,
            }
        } else if let Some(listen) = f.listen {
            Action::Listen {
                conn: listen.0.conn.0,
                by: listen.0.by.map(Side::from).unwrap_or(Side::Client),
                host: listen.0.host.map(|h| h.0),
                port: listen.0.port,
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
                header: c.0.header.map(String::from),
                json: c.0.json.map(String::from),
            })
            .collect::<Vec<_>>();
        if let Some(p) = self.protocol.filter(|p| *p != Protocol::Http) {
            if captures.iter().any(|c| c.header.is_some() || c.json.is_some()) {
                return Err(PlanError::at(
                    source,
                    node,
                    format!("`header` and `json` captures read HTTP messages; this scenario speaks {p}"),
                )
                .help("capture with `regex` instead"));
            }
        }
        Ok(Pending {
            source,
            pos: node,
            step: Step {
                number: 0,
                location: self.location(source, node),
                included_from: self.sources[source].included_from.clone(),
                id: f.id.map(String::from),
                note: f.note.map(String::from),
                when: f.when.map(|w| condition(w.0)),
                timeout: f.timeout.map(|d| d.0),
                rule: f.rule.map(|r| r.0),
                captures,
                points: f.points.unwrap_or(1),
                keep_going: f.keep_going.unwrap_or(false),
                branch: self.branch.clone(),
                no_connection: f.no_connection.map(|c| c.0),
                or_close: f.or_close.unwrap_or(false),
                scope,
                action,
            },
        })
    }

    fn message(
        &self,
        source: usize,
        node: Pos,
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
        node: Pos,
        f: SideFields,
    ) -> Result<(Option<Payload>, Expect), PlanError> {
        // A fragment checked alone has no protocol yet: the includer's decides.
        let p = self.protocol.unwrap_or(Protocol::Http);
        let alone = self.protocol.is_none();
        let needs = |field: &str, ok: bool, wants: &str| -> Result<(), PlanError> {
            if ok || alone {
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
            method: f.method.map(String::from),
            path: f.path,
            command: f.command.map(|c| c.to_ascii_uppercase()),
            headers: f
                .headers
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.0, v))
                .collect(),
            body: f.body,
            json: f.json.map(|j| j.0),
            json_at: f
                .json_at
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.0, v.0))
                .collect(),
            body_len: f.body_len,
        };
        let has_matcher = expect.frames_raw() || expect.not_contains.is_some() || expect.reads_the_protocol();

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
}

fn condition(w: WhenFields) -> Condition {
    Condition {
        last_code: w.last_code.map(|c| c.0),
        vars: w
            .vars
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.0, v.0))
            .collect(),
        defined: w.defined.map(|v| v.0),
        undefined: w.undefined.map(|v| v.0),
        passed: w.passed.map(String::from),
        failed: w.failed.map(String::from),
    }
}
