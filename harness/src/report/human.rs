//! The human report: one line per scenario, then for each failure the rule, the RFC
//! section, what was expected and what arrived (a diff with CR/LF visible), a hint, and
//! the tail of the transcript. Colour only when asked for.

use std::fmt::Write as _;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use similar::ChangeTag;

use super::diff::unified;
use super::transcript::{TranscriptStyle, event_line};
use crate::finding::Finding;
use crate::outcome::{Outcome, Status, Summary};
use crate::rules::Severity;

/// The most findings shown under one scenario.
pub const MAX_FINDINGS_SHOWN: usize = 20;

/// Options of the human report.
#[derive(Debug, Clone, Copy)]
pub struct HumanOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Transcript events shown under a failure.
    pub transcript_tail: usize,
    /// Show warnings and notes of passing scenarios too (`-v`).
    pub verbose: bool,
    /// Show the whole transcript of every scenario, passing ones too (`-vv`).
    pub transcripts: bool,
    /// Only the failures and the summary line (`-q`).
    pub quiet: bool,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            transcript_tail: 12,
            verbose: false,
            transcripts: false,
            quiet: false,
        }
    }
}

impl HumanOptions {
    /// Whether `o` is shown at all: under `quiet`, only scenarios that failed or could
    /// not be played are.
    pub fn shows(&self, o: &Outcome) -> bool {
        !self.quiet || matches!(o.status, Status::Failed | Status::Error)
    }
}

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
    fn green(&self, t: &str) -> String {
        self.paint(AnsiColor::Green.on_default().bold(), t)
    }
    fn red(&self, t: &str) -> String {
        self.paint(AnsiColor::Red.on_default().bold(), t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default().bold(), t)
    }
    fn cyan(&self, t: &str) -> String {
        self.paint(AnsiColor::Cyan.on_default(), t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint(Style::new().bold(), t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint(Style::new().dimmed(), t)
    }
}

/// The end of a soak (`run --repeat N`): rounds, scenarios, whether any verdict changed
/// (each flaky scenario with its first-round verdict and the rounds that differed), and
/// the first, median and last round's time with the last/first ratio (a run that slows
/// down round after round leaks something).
pub fn soak(soak: &crate::engine::repeat::Soak, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let rounds = soak.rounds();
    let flakes: Vec<_> = soak.flakes().collect();
    if flakes.is_empty() {
        out.push_str(&format!(
            "\n{}: {rounds} rounds of {} scenario(s), every verdict the same in every round\n",
            p.green("no flake"),
            soak.scenarios()
        ));
    } else {
        out.push_str(&format!(
            "\n{}: {} of {} scenario(s) changed verdict over {rounds} rounds\n",
            p.red("flaky"),
            flakes.len(),
            soak.scenarios()
        ));
        for (name, first, count, changes) in flakes {
            let first = first.map_or_else(|| "absent".to_string(), ToString::to_string);
            out.push_str(&format!(
                "  {}  round 1: {first}; differed in {count} round(s)\n",
                p.bold(name)
            ));
            for c in changes {
                let now = c
                    .verdict
                    .as_ref()
                    .map_or_else(|| "absent".to_string(), ToString::to_string);
                out.push_str(&format!("    round {}: {now}\n", c.round));
            }
            if count > changes.len() {
                out.push_str(&format!("    … and {} more\n", count - changes.len()));
            }
        }
    }
    let mut sorted = soak.durations.clone();
    sorted.sort();
    if let (Some(first), Some(last)) = (soak.durations.first(), soak.durations.last()) {
        let median = sorted[sorted.len() / 2];
        out.push_str(&format!(
            "rounds: first {}, median {}, last {} (last/first {:.2})\n",
            duration(*first),
            duration(median),
            duration(*last),
            last.as_secs_f64() / first.as_secs_f64().max(f64::EPSILON)
        ));
    }
    out
}

/// Formats a duration for the report.
pub fn duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else if d >= Duration::from_millis(10) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// The status line of one scenario.
pub fn status_line(o: &Outcome, opts: &HumanOptions) -> String {
    let p = Paint { color: opts.color };
    let tag = match o.status {
        Status::Passed => p.green("ok   "),
        Status::Failed => p.red("FAIL "),
        Status::Error => p.red("ERROR"),
        Status::NotRun => p.dim("skip "),
    };
    let warnings = o
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let extra = if warnings > 0 && o.status == Status::Passed {
        format!("  {}", p.yellow(&format!("{warnings} warning(s)")))
    } else if o.status == Status::NotRun {
        format!("  {}", p.dim("not run (--fail-fast)"))
    } else {
        String::new()
    };
    let label = match &o.submission {
        Some(sub) => format!("{sub}: {}", o.label()),
        None => o.label(),
    };
    format!("{tag} {label:<40} {:>9}{extra}", duration(o.duration))
}

/// The whole report (under `quiet`, only failures and the summary line).
pub fn render(outcomes: &[Outcome], opts: &HumanOptions) -> String {
    let mut out = String::new();
    for o in outcomes.iter().filter(|o| opts.shows(o)) {
        out.push_str(&status_line(o, opts));
        out.push('\n');
        out.push_str(&details(o, opts));
    }
    out.push_str(&summary_line(outcomes, opts));
    out
}

/// The details under a scenario's status line: findings, error, transcript tail.
pub fn details(o: &Outcome, opts: &HumanOptions) -> String {
    let p = Paint { color: opts.color };
    let mut out = String::new();
    if let Some(err) = &o.error {
        match &err.diagnostic {
            Some(d) => {
                for line in d.render(opts.color).lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            None => {
                let _ = writeln!(out, "      {} {}", p.red("error:"), err.message);
            }
        }
    }
    let mut shown: Vec<&Finding> = o
        .findings
        .iter()
        .filter(|f| opts.verbose || o.status != Status::Passed || f.severity >= Severity::Warning)
        .collect();
    // The finding that failed the scenario comes first; the rest in the order found.
    shown.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in shown.iter().take(MAX_FINDINGS_SHOWN) {
        out.push_str(&finding(f, &p));
    }
    if shown.len() > MAX_FINDINGS_SHOWN {
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!(
                "... and {} more finding(s) (all of them are in the JSON report)",
                shown.len() - MAX_FINDINGS_SHOWN
            ))
        );
    }
    if let Some(prog) = &o.program {
        if o.status != Status::Passed {
            let _ = writeln!(
                out,
                "      {} {} — {}",
                p.bold("program"),
                prog.command,
                prog.status
            );
            for (label, text) in [("stderr|", &prog.stderr_tail), ("stdout|", &prog.stdout_head)] {
                for line in text.lines() {
                    let _ = writeln!(out, "        {} {line}", p.dim(label));
                }
            }
        }
    }

    if opts.transcripts && !o.transcript.events.is_empty() {
        // `-vv`: the whole conversation, whatever the verdict.
        let _ = writeln!(
            out,
            "      {} (target {}; {} events)",
            p.bold("transcript"),
            o.target,
            o.transcript.events.len()
        );
        for e in &o.transcript.events {
            let _ = writeln!(
                out,
                "        {}",
                p.dim(&event_line(e, TranscriptStyle::default()))
            );
        }
    } else if o.status == Status::Failed
        && opts.transcript_tail > 0
        && !o.transcript.events.is_empty()
        && !failed_by_snapshot_only(o)
    {
        let events = &o.transcript.events;
        let from = events.len().saturating_sub(opts.transcript_tail);
        let _ = writeln!(
            out,
            "      {} (target {}; {} of {} events)",
            p.bold("transcript"),
            o.target,
            events.len() - from,
            events.len()
        );
        for e in &events[from..] {
            let _ = writeln!(
                out,
                "        {}",
                p.dim(&event_line(e, TranscriptStyle::default()))
            );
        }
    }
    out
}

/// Whether the only thing wrong is a snapshot difference (its diff already shows the
/// conversation, so no transcript tail is added).
fn failed_by_snapshot_only(o: &Outcome) -> bool {
    use crate::outcome::StepState;
    o.findings
        .iter()
        .filter(|f| f.is_error())
        .all(|f| f.rule == crate::rules::S_SNAPSHOT)
        && !o.steps.iter().any(|s| s.state == StepState::Failed)
        && !o.program_checks.iter().any(|c| c.state == StepState::Failed)
}

fn finding(f: &Finding, p: &Paint) -> String {
    let mut out = String::new();
    let sev = match f.severity {
        Severity::Error => p.red("error"),
        Severity::Warning => p.yellow("warning"),
        Severity::Note => p.cyan("note"),
    };
    let mut head = format!("      {} {sev} · {}", p.bold(f.rule.as_str()), f.section);
    if let (Some(step), Some(loc)) = (f.step, &f.location) {
        let _ = write!(head, " · step {step} at {loc}");
    }
    if let Some(conn) = &f.conn {
        let _ = write!(head, " · on `{conn}`");
    }
    let _ = writeln!(out, "{head}");
    for line in f.message.lines() {
        let _ = writeln!(out, "        {line}");
    }
    match (&f.expected, &f.actual) {
        // A snapshot: a unified diff of the stored text and this run's, with context.
        (Some(e), Some(a)) if f.rule == crate::rules::S_SNAPSHOT => {
            out.push_str(&super::snapshot::finding_diff(e, a, "        ", p.color));
        }
        // Long payloads: where they part, not two screens of bytes.
        (Some(e), Some(a)) if e.len() + a.len() > super::diff::LONG => {
            for line in super::diff::first_difference(e, a).unwrap_or_default() {
                let _ = writeln!(out, "        {line}");
            }
        }
        (Some(e), Some(a)) => match unified(e, a) {
            Some(lines) if lines.len() > 2 || e.len() + a.len() > 60 => {
                let _ = writeln!(out, "        {}", p.dim("--- expected  +++ actual"));
                for (tag, line) in lines {
                    let text = match tag {
                        ChangeTag::Delete => p.red(&format!("-{line}")),
                        ChangeTag::Insert => p.green(&format!("+{line}")),
                        ChangeTag::Equal => format!(" {line}"),
                    };
                    let _ = writeln!(out, "        {text}");
                }
            }
            _ => {
                let _ = writeln!(out, "        expected: {e}");
                let _ = writeln!(out, "        actual:   {a}");
            }
        },
        (Some(e), None) => {
            let _ = writeln!(out, "        expected: {e}");
        }
        (None, Some(a)) => {
            let _ = writeln!(out, "        actual:   {a}");
        }
        (None, None) => {}
    }
    let _ = writeln!(out, "        {} {}", p.cyan("hint:"), f.hint);
    out
}

/// The closing line: counts and time.
pub fn summary_line(outcomes: &[Outcome], opts: &HumanOptions) -> String {
    let p = Paint { color: opts.color };
    let s = Summary::of(outcomes);
    let total: Duration = outcomes.iter().map(|o| o.duration).max().unwrap_or_default();
    // An error is a scenario that could not be played (a program that never listened, a
    // file that cannot be read): it is not called a failure.
    let verdict = match (s.failed, s.errors) {
        (0, 0) => p.green("all passed"),
        (_, 0) => p.red("some failed"),
        (0, _) => p.red("some could not be played"),
        _ => p.red("some failed, some could not be played"),
    };
    let errors = if s.errors == 1 { "error" } else { "errors" };
    let not_run = if s.not_run > 0 {
        format!(", {} not run", s.not_run)
    } else {
        String::new()
    };
    format!(
        "\n{} scenario(s): {} passed, {} failed, {} {errors}{not_run} — {verdict} (slowest {})\n",
        outcomes.len(),
        s.passed,
        s.failed,
        s.errors,
        duration(total)
    )
}

/// What `parley run` plays against, for [`run_header`]: the server program started per
/// scenario, else the `--target`s (bundled mocks for the other protocols), else the mocks.
pub fn run_against(
    server_program: Option<&[String]>,
    targets: &std::collections::BTreeMap<crate::proto::Protocol, String>,
) -> String {
    if let Some(cmd) = server_program {
        format!(
            "the server program `{}` (a fresh one per scenario)",
            cmd.join(" ")
        )
    } else if targets.is_empty() {
        "the bundled mock servers".to_string()
    } else {
        targets
            .iter()
            .map(|(p, a)| format!("{p}={a}"))
            .collect::<Vec<_>>()
            .join(", ")
            + " (bundled mocks for the other protocols)"
    }
}

/// The first line of `parley run`: the version, how many scenarios, against what.
pub fn run_header(scenarios: usize, against: &str) -> String {
    format!(
        "parley {}: {scenarios} scenario(s) against {against}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The line that says a report was written (the CLI prints it on stderr); `dest` is a
/// path, or `-` for stdout.
pub fn wrote_report(format: &str, dest: &str) -> String {
    if dest == "-" {
        format!("wrote {format} report to stdout")
    } else {
        format!("wrote {format} report to {dest}")
    }
}

/// Pads the cells of each column to the widest one, two spaces apart, without trailing
/// blanks: tables stay aligned whatever the length of ids.
pub fn columns(rows: &[Vec<String>], right_aligned: &[usize]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|t| t.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, text)| {
                if right_aligned.contains(&c) {
                    format!("{text:>width$}", width = widths[c])
                } else {
                    format!("{text:<width$}", width = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// `parley list`: one aligned line per scenario — id, protocol, steps, name, tags and
/// variants.
pub fn scenario_list(scenarios: &[crate::scenario::Scenario]) -> String {
    let rows: Vec<Vec<String>> = scenarios
        .iter()
        .map(|s| {
            let mut extra = String::new();
            if !s.tags.is_empty() {
                let _ = write!(extra, "[{}]", s.tags.join(", "));
            }
            if !s.variants.is_empty() {
                if !extra.is_empty() {
                    extra.push_str("  ");
                }
                let names: Vec<&str> = s.variants.iter().map(|(n, _)| n.as_str()).collect();
                let _ = write!(extra, "variants: {}", names.join(", "));
            }
            vec![
                s.id.clone(),
                s.protocol.to_string(),
                format!("{} steps", s.steps.len()),
                s.name.clone(),
                extra,
            ]
        })
        .collect();
    columns(&rows, &[2])
}

/// `parley check`: the line of a valid file, `kind` its protocol or `fragment`.
pub fn check_ok(file: &std::path::Path, kind: &str, steps: usize) -> String {
    format!("ok    {} ({kind}, {steps} steps)", file.display())
}

/// `parley check`: the closing count of files checked, `bad` of them invalid.
pub fn check_summary(checked: usize, bad: usize) -> String {
    format!(
        "{checked} file(s) checked: {} valid, {bad} invalid",
        checked - bad
    )
}

/// What `parley grade` prints. One program (`single`): the full report, then its grade
/// table. A class: a status line for each run that did not pass (with details under
/// `-v`, every run), the gradebook table, the summary line. Under `quiet`: failures
/// and the summary line only.
pub fn grade_report(outcomes: &[Outcome], opts: &HumanOptions, single: bool) -> String {
    let mut out = String::new();
    if single {
        out.push_str(&render(outcomes, opts));
        if !opts.quiet {
            out.push('\n');
            out.push_str(&super::grades::summary_table(outcomes));
        }
        return out;
    }
    for o in outcomes
        .iter()
        .filter(|o| opts.shows(o) && (opts.verbose || o.status != Status::Passed))
    {
        out.push_str(&status_line(o, opts));
        out.push('\n');
        if opts.verbose || opts.quiet {
            out.push_str(&details(o, opts));
        }
    }
    if !opts.quiet {
        out.push('\n');
        out.push_str(&super::grades::summary_table(outcomes));
    }
    out.push_str(&summary_line(outcomes, opts));
    out
}

/// What `parley merge` prints: the class view of [`grade_report`] when the reports are
/// of a class, else the report of [`render`].
pub fn merge_report(outcomes: &[Outcome], opts: &HumanOptions, class: bool) -> String {
    if class {
        grade_report(outcomes, opts, false)
    } else {
        render(outcomes, opts)
    }
}
