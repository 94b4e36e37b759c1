//! Soak runs (`parley run --repeat N`): the same selection played N rounds back to back,
//! each round's verdicts compared with the first's. A verdict is a scenario's status and
//! the rules it failed; a scenario whose verdict is not the same in every round is a
//! flake, named with the rounds where it changed and what it changed to. Only the first
//! round's outcomes and one verdict per scenario are kept, so a thousand rounds hold no
//! more memory than one.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::outcome::{Outcome, Status};
use crate::rules::RuleId;

/// What two rounds must agree on for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Passed, failed, error…
    pub status: Status,
    /// The rules of its error findings, in order of first appearance.
    pub failed: Vec<RuleId>,
}

impl Verdict {
    /// The verdict of one outcome.
    pub fn of(o: &Outcome) -> Verdict {
        Verdict {
            status: o.status,
            failed: o.failed_rules(),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status.as_str())?;
        if !self.failed.is_empty() {
            let ids: Vec<&str> = self.failed.iter().map(|r| r.as_str()).collect();
            write!(f, " ({})", ids.join(", "))?;
        }
        Ok(())
    }
}

/// The key of an outcome within a round: its id and variant.
fn key(o: &Outcome) -> String {
    match &o.variant {
        Some(v) => format!("{} [{v}]", o.id),
        None => o.id.clone(),
    }
}

/// One round whose verdict for a scenario differed from the first round's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The round, counted from 1 (the first round is the reference).
    pub round: usize,
    /// What that round gave instead.
    pub verdict: Option<Verdict>,
}

/// The rounds seen so far.
#[derive(Debug, Default)]
pub struct Soak {
    /// The first round's verdict of each scenario.
    reference: BTreeMap<String, Verdict>,
    /// The rounds where a scenario's verdict differed, per scenario (first 10 kept).
    changes: BTreeMap<String, (usize, Vec<Change>)>,
    /// Each round's wall-clock time.
    pub durations: Vec<Duration>,
}

/// Changes kept per scenario; the rest are counted.
const KEPT: usize = 10;

impl Soak {
    /// Records round `durations.len() + 1`, which took `took`.
    pub fn observe(&mut self, outcomes: &[Outcome], took: Duration) {
        self.durations.push(took);
        let round = self.durations.len();
        if round == 1 {
            self.reference = outcomes.iter().map(|o| (key(o), Verdict::of(o))).collect();
            return;
        }
        let mut seen: BTreeMap<String, Verdict> = outcomes.iter().map(|o| (key(o), Verdict::of(o))).collect();
        let mut changed = Vec::new();
        for (name, first) in &self.reference {
            let now = seen.remove(name);
            if now.as_ref() != Some(first) {
                changed.push((name.clone(), now));
            }
        }
        for (name, now) in changed {
            self.change(&name, round, now);
        }
        // A scenario the first round did not have.
        for (name, now) in seen {
            self.change(&name, round, Some(now));
        }
    }

    fn change(&mut self, name: &str, round: usize, verdict: Option<Verdict>) {
        let (count, kept) = self.changes.entry(name.to_string()).or_default();
        *count += 1;
        if kept.len() < KEPT {
            kept.push(Change { round, verdict });
        }
    }

    /// How many rounds were played.
    pub fn rounds(&self) -> usize {
        self.durations.len()
    }

    /// Whether every scenario had the same verdict in every round.
    pub fn is_stable(&self) -> bool {
        self.changes.is_empty()
    }

    /// The flaky scenarios: name, first-round verdict (if it had one), how many rounds
    /// differed, and the first of those rounds.
    pub fn flakes(&self) -> impl Iterator<Item = (&str, Option<&Verdict>, usize, &[Change])> {
        self.changes
            .iter()
            .map(|(name, (count, kept))| (name.as_str(), self.reference.get(name), *count, kept.as_slice()))
    }

    /// How many scenarios each round played (the first round's).
    pub fn scenarios(&self) -> usize {
        self.reference.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::rules;

    fn outcome(id: &str, status: Status, rule: Option<RuleId>) -> Outcome {
        let error = crate::outcome::RunError {
            kind: crate::outcome::ErrorKind::Scenario,
            message: String::new(),
            diagnostic: None,
        };
        let mut o = Outcome::error(id.to_string(), "x.yaml".into(), error);
        o.error = None;
        o.status = status;
        if let Some(rule) = rule {
            o.findings.push(Finding::new(rule, "bad"));
        }
        o
    }

    #[test]
    fn the_same_verdicts_every_round_are_stable() {
        let mut soak = Soak::default();
        for _ in 0..3 {
            soak.observe(
                &[
                    outcome("a", Status::Passed, None),
                    outcome("b", Status::Failed, Some(rules::ECHO_1)),
                ],
                Duration::from_millis(5),
            );
        }
        assert!(soak.is_stable());
        assert_eq!((soak.rounds(), soak.scenarios()), (3, 2));
    }

    #[test]
    fn a_changed_status_or_rule_or_a_missing_scenario_is_a_flake_with_its_round() {
        let mut soak = Soak::default();
        let took = Duration::from_millis(5);
        soak.observe(
            &[
                outcome("a", Status::Passed, None),
                outcome("b", Status::Failed, Some(rules::ECHO_1)),
            ],
            took,
        );
        soak.observe(
            &[
                outcome("a", Status::Failed, Some(rules::S_IO)),
                outcome("b", Status::Failed, Some(rules::ECHO_1)),
            ],
            took,
        );
        soak.observe(
            &[
                outcome("a", Status::Passed, None),
                outcome("b", Status::Failed, Some(rules::ECHO_3)),
            ],
            took,
        );
        soak.observe(&[outcome("a", Status::Passed, None)], took);
        assert!(!soak.is_stable());
        let flakes: Vec<_> = soak.flakes().collect();
        assert_eq!(flakes.len(), 2);
        let (name, first, count, changes) = flakes[0];
        assert_eq!((name, count), ("a", 1));
        assert_eq!(first.unwrap().to_string(), "passed");
        assert_eq!(changes[0].round, 2);
        assert_eq!(changes[0].verdict.as_ref().unwrap().to_string(), "failed (S-IO)");
        let (name, _, count, changes) = flakes[1];
        assert_eq!((name, count), ("b", 2));
        assert_eq!(
            changes[0].verdict.as_ref().unwrap().to_string(),
            "failed (ECHO-3)"
        );
        assert_eq!((changes[1].round, changes[1].verdict.as_ref()), (4, None));
    }
}
