//! Grading views: the summary table (submission × scenario: points and the first failed
//! rule, and which fault variants a program fails) and the CSV gradebook.

use crate::rules::RuleId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outcome::{Outcome, Status};

/// Points and failures of one submission on one scenario, plain run and variants together.
#[derive(Debug, Default, Clone)]
struct Cell {
    earned: u32,
    total: u32,
    first_rule: Option<RuleId>,
    plain_passed: Option<bool>,
    failing_variants: Vec<(String, Option<RuleId>)>,
    error: Option<String>,
    /// A run of the cell was left out by `--fail-fast`.
    not_run: bool,
}

fn first_rule(o: &Outcome) -> Option<RuleId> {
    o.failed_rules().first().copied()
}

fn key(o: &Outcome) -> String {
    o.submission.clone().unwrap_or_else(|| "program".to_string())
}

/// Submissions and scenarios in first-seen order, and the cell of each pair.
struct Grid {
    subs: Vec<String>,
    scenarios: Vec<String>,
    table: BTreeMap<(String, String), Cell>,
}

fn cells(outcomes: &[Outcome]) -> Grid {
    let mut subs: Vec<String> = Vec::new();
    let mut scenarios: Vec<String> = Vec::new();
    let mut table: BTreeMap<(String, String), Cell> = BTreeMap::new();
    for o in outcomes {
        let sub = key(o);
        if !subs.contains(&sub) {
            subs.push(sub.clone());
        }
        if !scenarios.contains(&o.id) {
            scenarios.push(o.id.clone());
        }
        let cell = table.entry((sub, o.id.clone())).or_default();
        let (earned, total) = o.points();
        cell.earned += earned;
        cell.total += total;
        if cell.first_rule.is_none() {
            cell.first_rule = first_rule(o);
        }
        if o.status == Status::Error {
            cell.error = o.error.as_ref().map(|e| e.message.clone());
        }
        if o.status == Status::NotRun {
            cell.not_run = true;
            continue;
        }
        match &o.variant {
            None => cell.plain_passed = Some(o.status == Status::Passed),
            Some(v) if o.status != Status::Passed => cell.failing_variants.push((v.clone(), first_rule(o))),
            Some(_) => {}
        }
    }
    Grid {
        subs,
        scenarios,
        table,
    }
}

/// The summary table, and under it one line per submission whose program fails only under
/// some variants ("passes plain; fails when ...").
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let Grid {
        subs,
        scenarios,
        table,
    } = cells(outcomes);
    let mut header = vec!["submission".to_string()];
    header.extend(scenarios.iter().cloned());
    header.push("total".to_string());
    let mut rows = vec![header];
    let mut notes = Vec::new();
    for sub in &subs {
        let mut row = vec![sub.clone()];
        let (mut earned, mut total) = (0, 0);
        for sc in &scenarios {
            let cell = table.get(&(sub.clone(), sc.clone())).cloned().unwrap_or_default();
            earned += cell.earned;
            total += cell.total;
            let mut text = format!("{}/{}", cell.earned, cell.total);
            if cell.error.is_some() {
                text.push_str(" error");
            } else if let Some(rule) = cell.first_rule {
                text.push(' ');
                text.push_str(rule.as_str());
            }
            row.push(text);
            if !cell.failing_variants.is_empty() {
                let how = if cell.plain_passed == Some(true) {
                    "passes plain; fails"
                } else {
                    "fails plain, and"
                };
                let variants = cell
                    .failing_variants
                    .iter()
                    .map(|(v, r)| match r {
                        Some(rule) => format!("{v} ({rule})"),
                        None => v.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                notes.push(format!("{sub} · {sc}: {how} under {variants}"));
            }
            if let Some(e) = &cell.error {
                notes.push(format!("{sub} · {sc}: {e}"));
            }
            if cell.not_run {
                notes.push(format!("{sub} · {sc}: not run (--fail-fast)"));
            }
        }
        row.push(format!("{earned}/{total}"));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, text)| format!("{text:<width$}", width = widths[c]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    out
}

/// The CSV gradebook: one row per run.
pub fn csv(outcomes: &[Outcome]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "submission",
        "scenario",
        "variant",
        "status",
        "points_earned",
        "points_total",
        "first_failed_rule",
        "failed_rules",
        "program_status",
    ])?;
    for o in outcomes {
        let (earned, total) = o.points();
        w.write_record([
            key(o),
            o.id.clone(),
            o.variant.clone().unwrap_or_default(),
            o.status.as_str().to_string(),
            earned.to_string(),
            total.to_string(),
            first_rule(o).map(|r| r.to_string()).unwrap_or_default(),
            o.failed_rules()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            o.program.as_ref().map(|p| p.status.clone()).unwrap_or_default(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
