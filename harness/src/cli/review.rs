//! `parley review DIR`: the pending snapshots of a `--snapshot DIR`, one by one, each
//! accepted, rejected or skipped — asked on a terminal, or all at once with
//! `--accept-all`/`--reject-all`. The library finds and moves the files
//! ([`parley::snapshot`]) and renders the screens ([`parley::report::snapshot`]); this
//! only asks.

use std::io::{BufRead, IsTerminal};

use parley::report::snapshot::{self as render, ReviewAction};
use parley::snapshot::{self, SnapFile};

use super::args::ReviewArgs;
use super::commands::Usage;
use super::output::{say, say_err, say_raw};

/// What the person at the terminal answered.
enum Answer {
    Act(ReviewAction),
    /// Skip this one and every one after it.
    Quit,
}

/// Asks until the answer is one of a / r / s / q; the end of input is `q`.
fn ask() -> Answer {
    let stdin = std::io::stdin();
    loop {
        say_raw!("accept (a), reject (r), skip (s), skip the rest (q)? ");
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                say!();
                return Answer::Quit;
            }
            Ok(_) => {}
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "a" | "accept" => return Answer::Act(ReviewAction::Accepted),
            "r" | "reject" => return Answer::Act(ReviewAction::Rejected),
            "s" | "skip" | "" => return Answer::Act(ReviewAction::Skipped),
            "q" | "quit" => return Answer::Quit,
            other => say!("`{other}`: answer a, r, s or q"),
        }
    }
}

/// Runs `parley review`.
pub fn review(args: ReviewArgs) -> Result<u8, Usage> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(Usage(format!(
            "{}: not a directory (give the DIR of `--snapshot DIR`)",
            dir.display()
        )));
    }
    let flag = match (args.accept_all, args.reject_all) {
        (true, _) => Some(ReviewAction::Accepted),
        (_, true) => Some(ReviewAction::Rejected),
        _ => None,
    };
    if flag.is_none() && !std::io::stdin().is_terminal() {
        return Err(Usage(format!(
            "parley review asks on a terminal, and stdin is not one: pass --accept-all to store every \
             pending snapshot of {0}, or --reject-all to drop them (`parley review {0} --accept-all`)",
            dir.display()
        )));
    }
    let color = super::commands::color(args.color);
    let pending = snapshot::pending(dir).map_err(|e| Usage(e.to_string()))?;
    if pending.is_empty() {
        say!("no pending snapshots (*.snap.new) in {}", dir.display());
        return Ok(0);
    }
    let total = pending.len();
    let mut done: Vec<ReviewAction> = Vec::with_capacity(total);
    let mut broken = 0;
    let mut quit = false;
    for (index, p) in pending.iter().enumerate() {
        let action = if quit {
            ReviewAction::Skipped
        } else if let Some(action) = flag {
            action
        } else {
            let new = match SnapFile::read(&p.new) {
                Ok(f) => f,
                Err(e) => {
                    say_err!("error: {e}");
                    broken += 1;
                    continue;
                }
            };
            let stored = if p.stored.exists() {
                match SnapFile::read(&p.stored) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        say_err!("error: {e}");
                        broken += 1;
                        continue;
                    }
                }
            } else {
                None
            };
            say_raw!(
                "{}",
                render::review_entry(index + 1, total, p, stored.as_ref(), &new, color)
            );
            match ask() {
                Answer::Act(a) => a,
                Answer::Quit => {
                    quit = true;
                    ReviewAction::Skipped
                }
            }
        };
        let result = match action {
            ReviewAction::Accepted => snapshot::accept(p),
            ReviewAction::Rejected => snapshot::reject(p),
            ReviewAction::Skipped => Ok(()),
        };
        match result {
            Ok(()) => {
                say!("{}", render::review_done(action, p));
                done.push(action);
            }
            Err(e) => {
                say_err!("error: {e}");
                broken += 1;
            }
        }
    }
    say!("{}", render::review_summary(dir, &done));
    Ok(if broken > 0 { 2 } else { 0 })
}
