//! Merging JSON reports read back with [`super::json::parse`]: the shards of a class
//! (`parley grade --shard K/N` on N machines) become the outcomes one machine grading the
//! whole class would have produced, in the same order — submissions by name, each one's
//! runs in the order of its own report — so every report rendered from the merge (CSV,
//! JUnit, HTML, JSON) equals the single run's.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::json::ReadReport;
use crate::outcome::Outcome;

/// The merged outcomes and when the earliest shard started.
#[derive(Debug, Clone)]
pub struct Merged {
    /// Outcomes, in single-run order.
    pub outcomes: Vec<Outcome>,
    /// The earliest `started` of the reports.
    pub started: SystemTime,
}

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The same run is in two reports: the shards overlap.
    #[error("{run} is in both {first} and {second}: the reports overlap (give each shard's report once)")]
    Overlap {
        /// The run: `submission · scenario [variant]`.
        run: String,
        /// The report it was first seen in.
        first: String,
        /// The other.
        second: String,
    },
    /// Nothing to merge.
    #[error("no reports to merge")]
    Empty,
}

/// Merges `reports` (each named, for messages). Outcomes of no submission (a `run`, or
/// scenario files that could not be loaded, which every shard of a class reports) come
/// first and once each; then each submission's outcomes, submissions sorted by name as
/// `parley grade --submissions` sorts them. The same submission run in two reports is an
/// [`MergeError::Overlap`].
pub fn merge(reports: Vec<(String, ReadReport)>) -> Result<Merged, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let started = reports
        .iter()
        .filter_map(|(_, r)| r.started)
        .min()
        .unwrap_or_else(SystemTime::now);
    let mut plain: Vec<Outcome> = Vec::new();
    let mut plain_seen: BTreeMap<(String, String, Option<String>), usize> = BTreeMap::new();
    // submission -> (the report it came from, its outcomes)
    let mut by_submission: BTreeMap<String, (usize, Vec<Outcome>)> = BTreeMap::new();
    let names: Vec<String> = reports.iter().map(|(n, _)| n.clone()).collect();
    for (index, (name, report)) in reports.into_iter().enumerate() {
        for o in report.outcomes {
            match o.submission.clone() {
                None => {
                    let key = (o.id.clone(), o.file.display().to_string(), o.variant.clone());
                    match plain_seen.get(&key) {
                        // Every shard of a class reports the same invalid files: keep one.
                        Some(first) if *first != index && o.error.is_some() => {}
                        Some(first) if *first != index => {
                            return Err(MergeError::Overlap {
                                run: o.label(),
                                first: names[*first].clone(),
                                second: name.clone(),
                            });
                        }
                        _ => {
                            plain_seen.insert(key, index);
                            plain.push(o);
                        }
                    }
                }
                Some(sub) => {
                    let entry = by_submission
                        .entry(sub.clone())
                        .or_insert_with(|| (index, Vec::new()));
                    if entry.0 != index {
                        return Err(MergeError::Overlap {
                            run: format!("submission `{sub}` ({})", o.label()),
                            first: names[entry.0].clone(),
                            second: name.clone(),
                        });
                    }
                    entry.1.push(o);
                }
            }
        }
    }
    let mut outcomes = plain;
    for (_, (_, runs)) in by_submission {
        outcomes.extend(runs);
    }
    Ok(Merged { outcomes, started })
}
