//! A finding: one deviation from a scenario or an RFC, under a rule id.

use serde::Serialize;

use crate::rules::{self, Profile, Severity};
use crate::visible::visible_truncated;

/// How many bytes of expected/actual data a finding keeps for display.
pub const SHOWN_BYTES: usize = 2048;

/// One deviation, with everything a reader needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id from the catalogue, e.g. `ECHO-2`.
    pub rule: &'static str,
    /// Severity (already resolved for the HTTP profile).
    pub severity: Severity,
    /// RFC section, e.g. `RFC 862`.
    pub section: &'static str,
    /// What happened, in one or two sentences.
    pub message: String,
    /// What to change, from the catalogue.
    pub hint: &'static str,
    /// What was expected, bytes made visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What arrived, bytes made visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The 1-based step number, when a step is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// `file:line:col` of that step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The connection the finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<String>,
}

impl Finding {
    /// A finding under `rule` (default profile severity).
    pub fn new(rule: &'static str, message: impl Into<String>) -> Finding {
        Finding::in_profile(rule, Profile::default(), message)
    }

    /// A finding under `rule` with the severity `profile` gives it.
    pub fn in_profile(rule: &'static str, profile: Profile, message: impl Into<String>) -> Finding {
        let entry = rules::rule(rule);
        Finding {
            rule: entry.id,
            severity: entry.severity_in(profile),
            section: entry.section,
            message: message.into(),
            hint: entry.advice,
            expected: None,
            actual: None,
            step: None,
            location: None,
            conn: None,
        }
    }

    /// Sets the expected bytes (made visible).
    pub fn expected(mut self, bytes: &[u8]) -> Finding {
        self.expected = Some(visible_truncated(bytes, SHOWN_BYTES));
        self
    }

    /// Sets the expected value as already readable text.
    pub fn expected_text(mut self, text: impl Into<String>) -> Finding {
        self.expected = Some(text.into());
        self
    }

    /// Sets the actual bytes (made visible).
    pub fn actual(mut self, bytes: &[u8]) -> Finding {
        self.actual = Some(visible_truncated(bytes, SHOWN_BYTES));
        self
    }

    /// Sets the actual value as already readable text.
    pub fn actual_text(mut self, text: impl Into<String>) -> Finding {
        self.actual = Some(text.into());
        self
    }

    /// Names the connection.
    pub fn on(mut self, conn: impl Into<String>) -> Finding {
        self.conn = Some(conn.into());
        self
    }

    /// True when the finding fails the scenario.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
