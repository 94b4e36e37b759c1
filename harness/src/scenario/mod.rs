//! Scenario files: the on-disk schema, parsing with file:line:col diagnostics, and the
//! checked plan the engine plays.
//!
//! `load` reads a file, parses it with yaml_serde into [`schema::ScenarioDoc`]
//! (`deny_unknown_fields` everywhere), then [`plan`] expands includes and checks how the
//! parts fit. `discover` finds scenario files under directories; files and directories
//! whose name starts with `_` are fragments, not scenarios.

pub mod de;
pub mod duration;
pub mod error;
pub mod limits;
pub(crate) mod locate;
pub mod payload;
pub mod plan;
pub mod rubric;
pub mod schema;
pub mod source;
pub mod suggest;
pub mod template;
mod vars;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;

pub use error::{Diagnostic, ScenarioError};
pub use limits::Limits;
pub use locate::Pos;
pub use plan::{Action, Condition, Expect, FragmentSummary, Location, Redaction, Scenario, Side, Step};
pub use vars::{Secrets, check_var_names};

use limits::Budget;

/// Reads and checks the scenario in `path`, within the limits the environment sets
/// (see [`limits`]). Its id is derived from the path (see [`scenario_id`]).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_as(path, scenario_id(path))
}

/// [`load`] with the id given (see [`ids`] for ids unique in a run).
pub fn load_as(path: &Path, id: String) -> Result<Scenario, ScenarioError> {
    load_with(path, id, Limits::from_env())
}

/// [`load`] within `limits`.
pub fn load_with(path: &Path, id: String, limits: Limits) -> Result<Scenario, ScenarioError> {
    if is_fragment_path(path) {
        // A fragment read as a scenario would fail on its missing `name`: say what it is.
        if let Ok((_, _, _)) = read_doc_within::<schema::FragmentDoc>(path, Budget::new(limits)) {
            return Err(ScenarioError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other(
                    "it is a fragment (its name starts with `_`): scenarios use it with `include:`, \
                     and `parley check` checks it on its own",
                ),
            });
        }
    }
    let (text, doc, budget) = read_doc_within::<schema::ScenarioDoc>(path, Budget::new(limits))?;
    plan::build(id, path, text, doc, budget)
}

/// Parses `text` as the scenario in `path` (nothing is read from disk but what it
/// includes): what the fuzzer and tests load.
pub fn load_str(path: &Path, text: &str, limits: Limits) -> Result<Scenario, ScenarioError> {
    let text: Arc<str> = text.into();
    let mut budget = Budget::new(limits);
    if let Err(e) = budget.take(limits::Limit::YamlBytes, text.len()) {
        return Err(ScenarioError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        });
    }
    let (parsed, budget) = parse_doc::<schema::ScenarioDoc>(path, &text, budget);
    match parsed {
        Ok(doc) => plan::build(scenario_id(path), path, text, doc, budget),
        Err(err) => Err(ScenarioError::Invalid(Box::new(yaml_diagnostic(
            path, text, &err,
        )))),
    }
}

/// Checks the fragment in `path` on its own (see [`plan::build_fragment`]).
pub fn check_fragment(path: &Path) -> Result<FragmentSummary, ScenarioError> {
    let (text, doc, budget) = read_doc_within::<schema::FragmentDoc>(path, Budget::new(Limits::from_env()))?;
    plan::build_fragment(path, text, doc, budget)
}

/// What `parley check` found in one file.
#[derive(Debug)]
pub enum Checked {
    /// A valid scenario.
    Scenario(Box<Scenario>),
    /// A valid fragment (`_*.yaml`).
    Fragment(FragmentSummary),
}

/// Checks `path`: as a fragment when its name starts with `_`, else as a scenario.
pub fn check_file(path: &Path) -> Result<Checked, ScenarioError> {
    if is_fragment_path(path) {
        check_fragment(path).map(Checked::Fragment)
    } else {
        load(path).map(|s| Checked::Scenario(Box::new(s)))
    }
}

/// True for a path whose file name starts with `_`.
pub fn is_fragment_path(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(is_fragment)
}

/// Reads `path` and parses it as `T`; a read error or a YAML/schema error (located at
/// `file:line:col`) is a [`ScenarioError`]. The text comes back for later diagnostics.
pub(crate) fn read_doc<T: DeserializeOwned>(path: &Path) -> Result<(Arc<str>, T), ScenarioError> {
    read_doc_within(path, Budget::new(Limits::from_env())).map(|(text, doc, _)| (text, doc))
}

fn read_doc_within<T: DeserializeOwned>(
    path: &Path,
    mut budget: Budget,
) -> Result<(Arc<str>, T, Budget), ScenarioError> {
    let text = plan::read_yaml(path, &mut budget).map_err(|e| ScenarioError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    let (parsed, budget) = parse_doc(path, &text, budget);
    match parsed {
        Ok(doc) => Ok((text, doc, budget)),
        Err(err) => Err(ScenarioError::Invalid(Box::new(yaml_diagnostic(
            path, text, &err,
        )))),
    }
}

/// Parses `text` as `T`, with `budget` for what it may build; returns the budget left.
pub(crate) fn parse_doc<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    budget: Budget,
) -> (Result<T, serde_yaml::Error>, Budget) {
    let dir = path.parent().unwrap_or(Path::new("."));
    locate::with_context(dir, budget, || serde_yaml::from_str::<T>(text))
}

/// Line and column of the first `key:` in `text` (for checks of top-level maps whose
/// values carry no position); `(1, 1)` when absent.
pub(crate) fn locate_key(text: &str, key: &str) -> (usize, usize) {
    let needle = format!("{key}:");
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(&needle) || trimmed.starts_with(&format!("{{ {needle}")) {
            return (i + 1, line.len() - trimmed.len() + 1);
        }
        if let Some(pos) = line.find(&needle) {
            return (i + 1, line[..pos].chars().count() + 1);
        }
    }
    (1, 1)
}

/// Turns a yaml_serde error into a diagnostic at its location.
pub(crate) fn yaml_diagnostic(path: &Path, text: Arc<str>, err: &serde_yaml::Error) -> Diagnostic {
    let (line, col) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    let full = err.to_string();
    let mut message = shorten_quotes(&one_based_path(&strip_position(&full)));
    if message == "repetition limit exceeded" {
        message = "the YAML aliases expand to too many nodes: yaml_serde follows at most 100 aliases \
                   per node of the file (aliases of aliases multiply); write the values out"
            .to_string();
    }
    let (label, help) = explain_yaml_message(&message);
    let mut d = Diagnostic::at(path, text, line, col, message).label(label);
    if let Some(help) = help {
        d = d.help(help);
    }
    d
}

fn regex(cell: &'static OnceLock<regex::Regex>, pattern: &str) -> &'static regex::Regex {
    cell.get_or_init(|| regex::Regex::new(pattern).expect("static regex"))
}

/// Removes yaml_serde's ` at line N column M` (the diagnostic shows the place itself).
fn strip_position(message: &str) -> String {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let out = regex(&RE, r" at line \d+ column \d+")
        .replace_all(message, "")
        .into_owned();
    out.trim().to_string()
}

/// yaml_serde's path prefix `steps[3].client: ...` with 1-based step numbers:
/// `step 4, client: ...`; other list indexes become `item N`.
fn one_based_path(message: &str) -> String {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = regex(&RE, r"^steps\[(\d+)\](\.?)(\S*?): ");
    let Some(c) = re.captures(message) else {
        return message.to_string();
    };
    let number = c[1].parse::<usize>().map(|n| n + 1).unwrap_or(0);
    static ITEM: OnceLock<regex::Regex> = OnceLock::new();
    let rest = regex(&ITEM, r"\[(\d+)\]").replace_all(&c[3], |i: &regex::Captures<'_>| {
        format!(" item {}", i[1].parse::<usize>().map(|n| n + 1).unwrap_or(0))
    });
    let tail = &message[c.get(0).map(|m| m.end()).unwrap_or(0)..];
    if rest.is_empty() {
        format!("step {number}: {tail}")
    } else {
        format!("step {number}, {rest}: {tail}")
    }
}

/// Quoted text longer than a line (a whole file read as one string, a huge key) is
/// cut to its start.
fn shorten_quotes(message: &str) -> String {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    regex(&RE, r#""(?:[^"\\]|\\.)*"|`[^`]*`"#)
        .replace_all(message, |c: &regex::Captures<'_>| {
            let quoted = &c[0];
            if quoted.chars().count() <= 82 {
                return quoted.to_string();
            }
            let quote = quoted.chars().next().unwrap_or('"');
            let head: String = quoted.chars().skip(1).take(60).collect();
            format!("{quote}{head}…{quote} ({} bytes)", quoted.len() - 2)
        })
        .into_owned()
}

/// The name and the names allowed in `unknown field `x`, expected one of `a`, `b``.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = regex(
        &RE,
        r"unknown (?:field|variant) `([^`]*)`, expected (?:one of )?(.*)$",
    );
    let c = re.captures(message)?;
    let names = c[2]
        .split(", ")
        .flat_map(|n| n.split(" or "))
        .map(|n| n.trim_start_matches("or ").trim_matches('`').to_string())
        .collect();
    Some((c[1].to_string(), names))
}

/// A label for the underline and a help line, from the kind of serde error.
fn explain_yaml_message(message: &str) -> (String, Option<String>) {
    let schema_hint = "the scenario language is described in docs/scenarios.md; `parley schema` prints a JSON Schema for editors";
    let suggestion = unknown_name(message)
        .and_then(|(name, names)| suggest::did_you_mean(&name, names.iter().map(String::as_str)));
    if message.contains("unknown field") {
        (
            "not allowed here".into(),
            Some(suggestion.unwrap_or_else(|| schema_hint.into())),
        )
    } else if message.contains("unknown variant") {
        ("not one of the allowed values".into(), suggestion)
    } else if message.contains("invalid type") {
        ("wrong type".into(), Some(schema_hint.into()))
    } else if message.contains("missing field") {
        (
            "in this map".into(),
            Some(
                "a scenario needs `name`, `protocol` and `steps`; a fragment (a file whose name \
                 starts with `_`, used by `include:`) needs only `steps`"
                    .into(),
            ),
        )
    } else if message.contains("duplicate") {
        ("duplicate".into(), None)
    } else if message.contains("PARLEY_MAX_") {
        ("limit reached here".into(), None)
    } else if message.contains("while parsing")
        || message.contains("while scanning")
        || message.contains("found")
    {
        (
            "YAML syntax error".into(),
            Some("check the indentation (spaces, not tabs) and the quotes around this point".into()),
        )
    } else {
        ("here".into(), None)
    }
}

/// The id of a scenario: its path below the nearest `scenarios` directory, or below the
/// directory it is in, without `.yaml`, with `::` between parts — `echo::basic`.
pub fn scenario_id(path: &Path) -> String {
    let components = id_components(path);
    let start = id_start(&components);
    components[start..].join("::")
}

/// The path's names without the extension, `bundled:` and `.`/`..` left out.
fn id_components(path: &Path) -> Vec<String> {
    path.with_extension("")
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) if s != source::BUNDLED => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// Where the id starts in `components`: after the last `scenarios`, else at the file.
fn id_start(components: &[String]) -> usize {
    let last = components.len().saturating_sub(1);
    components
        .iter()
        .rposition(|c| c == "scenarios")
        .map(|i| i + 1)
        .unwrap_or(last)
        .min(last)
}

/// The ids of `files` in one run, unique: each is [`scenario_id`], and files whose ids
/// clash get as many parent folders as it takes to tell them apart (`a/x.yaml` and
/// `b/x.yaml` are `a::x` and `b::x`). Paths whose folders never differ (the same file
/// written two ways, `/a/x.yaml` and `a/x.yaml` from `/`) get an error that names them.
pub fn ids(files: &[PathBuf]) -> Vec<Result<String, String>> {
    let parts: Vec<Vec<String>> = files.iter().map(|f| id_components(f)).collect();
    let mut start: Vec<usize> = parts.iter().map(|p| id_start(p)).collect();
    let mut clash: Vec<Option<String>> = vec![None; files.len()];
    let id = |i: usize, start: &[usize]| parts[i][start[i]..].join("::");
    loop {
        let mut by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in (0..files.len()).filter(|&i| clash[i].is_none()) {
            by_id.entry(id(i, &start)).or_default().push(i);
        }
        let clashes: Vec<Vec<usize>> = by_id.into_values().filter(|v| v.len() > 1).collect();
        if clashes.is_empty() {
            break;
        }
        for group in clashes {
            // Those already at their first folder cannot change; two of them always clash.
            let fixed: Vec<usize> = group.iter().copied().filter(|&i| start[i] == 0).collect();
            if fixed.len() > 1 {
                let names: Vec<String> = fixed
                    .iter()
                    .map(|&i| format!("`{}`", files[i].display()))
                    .collect();
                let message = format!(
                    "{} would all get the scenario id `{}`, and their folders cannot tell them apart; \
                     give one of them another name, or run them separately",
                    names.join(" and "),
                    id(fixed[0], &start)
                );
                for &i in &fixed {
                    clash[i] = Some(message.clone());
                }
            }
            for i in group {
                start[i] = start[i].saturating_sub(1);
            }
        }
    }
    (0..files.len())
        .map(|i| match &clash[i] {
            Some(message) => Err(message.clone()),
            None => Ok(id(i, &start)),
        })
        .collect()
}

/// True for a fragment (a file or directory name starting with `_`).
fn is_fragment(name: &str) -> bool {
    name.starts_with('_')
}

/// Finds scenario files: each path that is a file is taken as is; directories are searched
/// recursively for `*.yaml`/`*.yml`, skipping names that start with `_` or `.`. Paths
/// under `bundled:` are the suite built into parley. Sorted; a file named twice (even
/// written two ways) is found once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut found = Vec::new();
    for path in paths {
        let kind = source::kind(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        match kind {
            source::Kind::Dir => walk(path, &mut found)?,
            source::Kind::File => found.push(path.clone()),
        }
    }
    found.sort();
    found.dedup();
    let mut seen = BTreeSet::new();
    found.retain(|p| seen.insert(source::canonical(p)));
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let entries = source::read_dir(dir).map_err(|source| ScenarioError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for (name, path, is_dir) in entries {
        if is_fragment(&name) || name.starts_with('.') {
            continue;
        }
        if is_dir {
            walk(&path, found)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            found.push(path);
        }
    }
    Ok(())
}

/// The JSON Schema of the scenario format.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(schema::ScenarioDoc);
    serde_json::to_value(schema).unwrap_or_default()
}

/// The JSON Schema of fragment files.
pub fn fragment_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(schema::FragmentDoc);
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_path_below_scenarios() {
        assert_eq!(scenario_id(Path::new("scenarios/echo/basic.yaml")), "echo::basic");
        assert_eq!(
            scenario_id(Path::new("/x/scenarios/http/httpbin/status-418.yaml")),
            "http::httpbin::status-418"
        );
        assert_eq!(scenario_id(Path::new("elsewhere/mine.yaml")), "mine");
    }

    #[test]
    fn clashing_ids_get_their_parent_folders() {
        let files = [
            PathBuf::from("a/x.yaml"),
            PathBuf::from("b/x.yaml"),
            PathBuf::from("c/y.yaml"),
            PathBuf::from("scenarios/echo/basic.yaml"),
        ];
        let ok = |files: &[PathBuf]| ids(files).into_iter().map(Result::unwrap).collect::<Vec<_>>();
        assert_eq!(ok(&files), ["a::x", "b::x", "y", "echo::basic"]);
        let deep = [PathBuf::from("p/a/x.yaml"), PathBuf::from("q/a/x.yaml")];
        assert_eq!(ok(&deep), ["p::a::x", "q::a::x"]);
        let nested = [PathBuf::from("x.yaml"), PathBuf::from("a/x.yaml")];
        assert_eq!(ok(&nested), ["x", "a::x"]);
        let same = [
            PathBuf::from("/a/x.yaml"),
            PathBuf::from("a/x.yaml"),
            PathBuf::from("b/y.yaml"),
        ];
        let got = ids(&same);
        let err = got[0].clone().unwrap_err();
        assert!(err.contains("`/a/x.yaml` and `a/x.yaml`"), "{err}");
        assert_eq!(got[2].as_deref(), Ok("y"));
        assert_eq!(
            scenario_id(Path::new("bundled:/scenarios/echo/basic.yaml")),
            "echo::basic"
        );
    }

    #[test]
    fn step_paths_are_one_based() {
        assert_eq!(
            one_based_path("steps[0]: unknown field `sever`"),
            "step 1: unknown field `sever`"
        );
        assert_eq!(
            one_based_path("steps[2].server.code[1]: bad"),
            "step 3, server.code item 2: bad"
        );
        assert_eq!(one_based_path("vars.x: bad"), "vars.x: bad");
    }

    #[test]
    fn long_quotes_are_cut() {
        let long = format!("invalid type: string \"{}\", expected x", "a".repeat(5000));
        let short = shorten_quotes(&long);
        assert!(short.len() < 120, "{short}");
        assert!(short.contains("(5000 bytes)"), "{short}");
    }

    #[test]
    fn position_suffix_is_removed() {
        assert_eq!(
            strip_position("steps[0]: unknown field `x` at line 3 column 5"),
            "steps[0]: unknown field `x`"
        );
    }
}
