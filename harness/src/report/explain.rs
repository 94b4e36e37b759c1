//! What `parley explain` prints: a rule's card, or an aligned list of rules.

use std::fmt::Write as _;

use super::human::columns;
use crate::rules::{self, Rule};

/// `parley explain --list`: every rule, one per line.
pub fn list() -> String {
    let all: Vec<&Rule> = rules::RULES.iter().collect();
    rule_list(&all)
}

/// `parley explain QUERY`: the rule with that id (any case), or the list of the rules
/// whose ids start with it (`F-SEC`, `h-rl-`); `Err` with the message for an id that
/// names none.
pub fn explain(query: &str) -> Result<String, String> {
    if let Some(r) = rules::lookup(query) {
        return Ok(explain_rule(r));
    }
    let prefix = query.to_ascii_uppercase();
    let matching: Vec<&Rule> = rules::RULES
        .iter()
        .filter(|r| !prefix.is_empty() && r.code.starts_with(&prefix))
        .collect();
    if matching.is_empty() {
        return Err(format!(
            "unknown rule `{query}`; `parley explain --list` lists every rule"
        ));
    }
    Ok(rule_list(&matching))
}

/// `parley explain --list` (or a prefix): one aligned line per rule — id, severity,
/// section, summary.
pub fn rule_list(rules: &[&Rule]) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            vec![
                r.code.to_string(),
                r.severity.to_string(),
                r.section.to_string(),
                r.summary.to_string(),
            ]
        })
        .collect();
    columns(&rows, &[])
}

/// `parley explain ID`: the rule, its severity, what the client and server change, and
/// how parley checks it.
pub fn explain_rule(r: &Rule) -> String {
    use rules::Check;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", r.code, r.section);
    let severity = match r.strict_severity {
        Some(strict) => format!("{} (http10), {} (strict11)", r.severity, strict),
        None => r.severity.to_string(),
    };
    let _ = writeln!(out, "severity: {severity}");
    let _ = writeln!(out, "rule:     {}", r.summary);
    if !r.client.is_empty() {
        let _ = writeln!(out, "client:   {}", r.client);
    }
    if !r.server.is_empty() {
        let _ = writeln!(out, "server:   {}", r.server);
    }
    let how = if !r.is_checked() {
        "not checked yet: no check emits it and no bundled scenario names it".to_string()
    } else {
        match r.check {
            Check::Bytes => {
                "checked on the bytes of every message, whatever the scenario's matchers say".to_string()
            }
            Check::Scenario => "checked by the scenario steps that name it (`rule:`): the peer's behaviour, not the bytes alone".to_string(),
            Check::Behaviour(how) => format!("cannot be judged from the bytes alone: {how}"),
        }
    };
    let _ = writeln!(out, "checked:  {how}");
    out
}
