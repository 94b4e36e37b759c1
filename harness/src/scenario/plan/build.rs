//! Building the plan: the on-disk documents become a [`Scenario`]. Includes are expanded,
//! every step gets its `file:line:col`, shorthand forms become matchers, and the fault
//! knobs are checked against the protocol. How the parts fit together is `check`'s work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::super::error::{Diagnostic, ScenarioError};
use super::super::locate::Kind;
use super::super::payload::Payload;
use super::super::schema::{
    FaultsDoc, FragmentDoc, FramingName, ProfileName, ProtocolName, ScenarioDoc, SideDoc, SideFields,
    StepDoc, WhenFields,
};
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
    pub(crate) fragment: bool,
    /// Where it was included from, for notes.
    pub(crate) included_from: Vec<Location>,
}

/// A check that failed at a node.
pub(super) struct PlanError {
    pub(super) source: usize,
    pub(super) node: (Kind, usize),
    pub(super) message: String,
    pub(super) help: Option<String>,
    pub(super) underline: Option<String>,
}

impl PlanError {
    pub(super) fn at(source: usize, node: (Kind, usize), message: impl Into<String>) -> PlanError {
        PlanError {
            source,
            node,
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
    pub(super) ordinal: usize,
    pub(super) step: Step,
}

pub(super) struct Planner {
    pub(super) protocol: Protocol,
    pub(super) sources: Vec<Source>,
    pub(super) pending: Vec<Pending>,
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
        let (line, col) = super::super::locate_key(&source, key);
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
        startup: program.startup.map(|d| d.0),
        points: program.points.unwrap_or(1),
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
    only("odd_texts", doc.odd_texts.is_some(), Protocol::Ftp)?;
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
        odd_texts: doc.odd_texts.unwrap_or(false),
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

impl Planner {
    fn location(&self, source: usize, kind: Kind, ordinal: usize) -> Location {
        let src = &self.sources[source];
        let (line, col) = super::super::locate_node(&src.path, &src.text, src.fragment, kind, ordinal);
        Location {
            file: Arc::from(src.path.as_path()),
            line,
            col,
        }
    }

    fn diagnose(&self, e: PlanError) -> ScenarioError {
        let src = &self.sources[e.source];
        let (line, col) = super::super::locate_node(&src.path, &src.text, src.fragment, e.node.0, e.node.1);
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
                let fragment: FragmentDoc = match super::super::parse_doc(&path, &text, None) {
                    Ok(f) => f,
                    Err(err) => {
                        let mut d = super::super::yaml_diagnostic(&path, text.clone(), &err);
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
                keep_going: f.keep_going.unwrap_or(false),
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
}

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
