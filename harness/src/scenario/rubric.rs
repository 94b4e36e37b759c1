//! Rubrics: a course's weights for rules, given to `parley grade --rubric FILE` and applied
//! to every scenario of the run.
//!
//! ```yaml
//! name: Networks lab 2
//! rules:
//!   H-RL-2: 2      # a clean request line is worth two points
//!   H-HOST-1: 1
//!   F-DATA-1: 3
//! ```
//!
//! A rule of the rubric is a check of its own in every scenario of its protocol (an FTP
//! rule does not give points to an HTTP scenario); it overrides the scenario's own
//! `rule_points` for the same id. Like scenario files, a broken rubric is refused with
//! `file:line:col` and the offending line.

use crate::rules::RuleId;
use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use super::error::ScenarioError;
use super::schema::RuleRef;
use crate::proto::Protocol;

/// The rubric file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "parley rubric (v1)")]
pub struct RubricDoc {
    /// Editor hint; ignored.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// What the rubric is for.
    #[serde(default)]
    pub name: Option<String>,
    /// Points per rule id.
    pub rules: BTreeMap<RuleRef, u32>,
}

/// A checked rubric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rubric {
    /// Its name, when it has one.
    pub name: Option<String>,
    /// Points per rule id.
    pub rules: BTreeMap<RuleId, u32>,
}

impl Rubric {
    /// The rule points for a scenario of `protocol` that has `own` rule points: the
    /// scenario's, overridden and extended by the rubric's rules of that protocol (and
    /// parley's own `S-*` rules).
    pub fn weights_for(&self, protocol: Protocol, own: &BTreeMap<RuleId, u32>) -> BTreeMap<RuleId, u32> {
        let mut out = own.clone();
        for (id, points) in &self.rules {
            let family = id.rule().family();
            if family == protocol.name() || family == "scenario" {
                out.insert(*id, *points);
            }
        }
        out
    }
}

/// Reads and checks the rubric in `path`.
pub fn load(path: &Path) -> Result<Rubric, ScenarioError> {
    let (_, doc) = super::read_doc::<RubricDoc>(path)?;
    Ok(Rubric {
        name: doc.name,
        rules: doc.rules.into_iter().map(|(r, p)| (r.0, p)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn rubric_rules_apply_only_to_scenarios_of_their_protocol() {
        let (_d, path) = write("name: lab 2\nrules:\n  H-RL-2: 2\n  F-DATA-1: 3\n  S-PROGRAM: 1\n");
        let rubric = load(&path).unwrap();
        let own = BTreeMap::from([(rules::H_RL_2, 1), (rules::H_HOST_1, 1)]);
        let http = rubric.weights_for(Protocol::Http, &own);
        assert_eq!(
            http,
            BTreeMap::from([(rules::H_RL_2, 2), (rules::H_HOST_1, 1), (rules::S_PROGRAM, 1)])
        );
        let ftp = rubric.weights_for(Protocol::Ftp, &BTreeMap::new());
        assert_eq!(ftp, BTreeMap::from([(rules::F_DATA_1, 3), (rules::S_PROGRAM, 1)]));
    }

    #[test]
    fn an_unknown_rule_in_a_rubric_is_refused_at_its_line() {
        let (_d, path) = write("rules:\n  H-RL-2: 2\n  H-NOPE-1: 3\n");
        let err = load(&path).unwrap_err().render(false);
        assert!(err.contains("unknown rule `H-NOPE-1`"), "{err}");
        assert!(err.contains("rubric.yaml:3:"), "{err}");
    }

    #[test]
    fn an_unknown_field_in_a_rubric_is_refused() {
        let (_d, path) = write("rules: {}\nweights: {}\n");
        let err = load(&path).unwrap_err().render(false);
        assert!(err.contains("unknown field `weights`"), "{err}");
    }
}
