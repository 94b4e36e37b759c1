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
    /// Show warnings and notes of passing scenarios too.
    pub verbose: bool,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            transcript_tail: 12,
            verbose: false,
        }
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
    };
    let warnings = o
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let extra = if warnings > 0 && o.status == Status::Passed {
        format!("  {}", p.yellow(&format!("{warnings} warning(s)")))
    } else {
        String::new()
    };
    let label = match &o.submission {
        Some(sub) => format!("{sub}: {}", o.label()),
        None => o.label(),
    };
    format!("{tag} {label:<40} {:>9}{extra}", duration(o.duration))
}

/// The whole report.
pub fn render(outcomes: &[Outcome], opts: &HumanOptions) -> String {
    let mut out = String::new();
    for o in outcomes {
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
            if !prog.stderr_tail.is_empty() {
                for line in prog.stderr_tail.lines() {
                    let _ = writeln!(out, "        {} {line}", p.dim("stderr|"));
                }
            }
        }
    }

    if o.status == Status::Failed && opts.transcript_tail > 0 && !o.transcript.events.is_empty() {
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
    let verdict = if s.failed + s.errors == 0 {
        p.green("all passed")
    } else {
        p.red("some failed")
    };
    format!(
        "\n{} scenario(s): {} passed, {} failed, {} errors — {verdict} (slowest {})\n",
        outcomes.len(),
        s.passed,
        s.failed,
        s.errors,
        duration(total)
    )
}
