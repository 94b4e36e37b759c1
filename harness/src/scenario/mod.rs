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
pub(crate) mod locate;
pub mod payload;
pub mod plan;
pub mod rubric;
pub mod schema;
pub mod template;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use error::{Diagnostic, ScenarioError};
pub use plan::{Action, Condition, Expect, Location, Scenario, Side, Step};

use locate::Kind;

/// Reads and checks the scenario in `path`. Its id is derived from the path
/// (see [`scenario_id`]).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let (text, doc) = read_doc::<schema::ScenarioDoc>(path)?;
    plan::build(scenario_id(path), path, text, doc)
}

/// Reads `path` and parses it as `T`; a read error or a YAML/schema error (located at
/// `file:line:col`) is a [`ScenarioError`]. The text comes back for later diagnostics.
pub(crate) fn read_doc<T: DeserializeOwned>(path: &Path) -> Result<(Arc<str>, T), ScenarioError> {
    let text: Arc<str> = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .into();
    match parse_doc(path, &text, None) {
        Ok(doc) => Ok((text, doc)),
        Err(err) => Err(ScenarioError::Invalid(Box::new(yaml_diagnostic(
            path, text, &err,
        )))),
    }
}

/// Parses `text` as `T` with located nodes.
pub(crate) fn parse_doc<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    target: Option<(Kind, usize)>,
) -> Result<T, serde_yaml::Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    locate::with_context(dir, target, || serde_yaml::from_str::<T>(text))
}

/// Line and column of node `ordinal` of `kind` in the file (see [`locate`]).
pub(crate) fn locate_node(
    path: &Path,
    text: &str,
    fragment: bool,
    kind: Kind,
    ordinal: usize,
) -> (usize, usize) {
    let target = Some((kind, ordinal));
    let err = if fragment {
        parse_doc::<schema::FragmentDoc>(path, text, target).err()
    } else {
        parse_doc::<schema::ScenarioDoc>(path, text, target).err()
    };
    err.filter(|e| e.to_string().contains(locate::SENTINEL))
        .and_then(|e| e.location())
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1))
}

/// Line and column of the first `key:` in `text` (for checks of top-level maps whose
/// values carry no ordinal); `(1, 1)` when absent.
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
    let message = strip_position(&full);
    let (label, help) = explain_yaml_message(&message);
    let mut d = Diagnostic::at(path, text, line, col, message).label(label);
    if let Some(help) = help {
        d = d.help(help);
    }
    d
}

/// Removes yaml_serde's ` at line N column M` (the diagnostic shows the place itself).
fn strip_position(message: &str) -> String {
    let re = regex::Regex::new(r" at line \d+ column \d+").expect("static regex");
    let out = re.replace_all(message, "").into_owned();
    out.trim().to_string()
}

/// A label for the underline and a help line, from the kind of serde error.
fn explain_yaml_message(message: &str) -> (String, Option<String>) {
    let schema_hint = "the scenario language is described in docs/scenarios.md; `parley schema` prints a JSON Schema for editors";
    if message.contains("unknown field") {
        ("not allowed here".into(), Some(schema_hint.into()))
    } else if message.contains("unknown variant") {
        ("not one of the allowed values".into(), None)
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
    let components: Vec<String> = path
        .with_extension("")
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let start = components
        .iter()
        .rposition(|c| c == "scenarios")
        .map(|i| i + 1)
        .unwrap_or(components.len().saturating_sub(1));
    components[start.min(components.len().saturating_sub(1))..].join("::")
}

/// True for a fragment (a file or directory name starting with `_`).
fn is_fragment(name: &str) -> bool {
    name.starts_with('_')
}

/// Finds scenario files: each path that is a file is taken as is; directories are searched
/// recursively for `*.yaml`/`*.yml`, skipping names that start with `_` or `.`. Sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_fragment(&name) || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
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
    fn position_suffix_is_removed() {
        assert_eq!(
            strip_position("steps[0]: unknown field `x` at line 3 column 5"),
            "steps[0]: unknown field `x`"
        );
    }
}
