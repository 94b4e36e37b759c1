//! A finding: one deviation from a scenario or an RFC, under a rule id.

use std::borrow::Cow;

use serde::Serialize;

use crate::outcome::Party;
use crate::rules::{Profile, RuleId, Severity};
use crate::visible::visible_truncated;

/// How many bytes of expected/actual data a finding keeps for display.
pub const SHOWN_BYTES: usize = 2048;

/// One deviation, with everything a reader needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id from the catalogue, e.g. `ECHO-2`.
    pub rule: RuleId,
    /// Severity (already resolved for the HTTP profile).
    pub severity: Severity,
    /// RFC section, e.g. `RFC 862`.
    pub section: &'static str,
    /// What happened, in one or two sentences.
    pub message: String,
    /// What to change, told to the party that sent the bytes (the catalogue's fix for
    /// that party, unless the finding knows better).
    pub hint: Cow<'static, str>,
    /// The party whose bytes or behaviour broke the rule, when known.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "party_name")]
    pub sent_by: Option<Party>,
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
    /// The hint was written for this finding and is not replaced by [`Finding::by`].
    #[serde(skip)]
    own_hint: bool,
}

fn party_name<S: serde::Serializer>(p: &Option<Party>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(p.name()),
        None => s.serialize_none(),
    }
}

impl Finding {
    /// A finding under `rule` (default profile severity).
    pub fn new(rule: RuleId, message: impl Into<String>) -> Finding {
        Finding::in_profile(rule, Profile::default(), message)
    }

    /// A finding under `rule` with the severity `profile` gives it.
    pub fn in_profile(rule: RuleId, profile: Profile, message: impl Into<String>) -> Finding {
        let entry = rule.rule();
        let hint = if entry.client.is_empty() {
            entry.server
        } else {
            entry.client
        };
        Finding {
            rule,
            severity: entry.severity_in(profile),
            section: entry.section,
            message: message.into(),
            hint: Cow::Borrowed(hint),
            sent_by: None,
            expected: None,
            actual: None,
            step: None,
            location: None,
            conn: None,
            own_hint: false,
        }
    }

    /// Names the party whose bytes broke the rule; the hint becomes the catalogue's fix
    /// for that party (unless the finding has a hint of its own).
    pub fn by(mut self, sender: Party) -> Finding {
        self.sent_by = Some(sender);
        if !self.own_hint {
            self.hint = Cow::Borrowed(self.rule.rule().fix_for(sender));
        }
        self
    }

    /// A hint for this finding only, instead of the catalogue's.
    pub fn with_hint(mut self, hint: impl Into<Cow<'static, str>>) -> Finding {
        self.hint = hint.into();
        self.own_hint = true;
        self
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{ECHO_1, H_HD_4, H_LEN_2};

    #[test]
    fn the_hint_is_the_fix_for_the_party_that_sent_the_bytes() {
        let client = Finding::new(H_HD_4, "padded").by(Party::Client);
        assert_eq!(client.hint, H_HD_4.rule().client);
        let server = Finding::new(H_HD_4, "padded").by(Party::Server);
        assert_eq!(server.hint, H_HD_4.rule().server);
        // A server rule blamed on a server keeps the server's fix.
        assert_eq!(
            Finding::new(ECHO_1, "x").by(Party::Server).hint,
            ECHO_1.rule().server
        );
    }

    #[test]
    fn a_hint_of_its_own_survives_blaming() {
        let f = Finding::new(H_LEN_2, "extra CRLF")
            .with_hint("drop the \\r\\n after the body")
            .by(Party::Client);
        assert_eq!(f.hint, "drop the \\r\\n after the body");
        assert_eq!(f.sent_by, Some(Party::Client));
    }
}
