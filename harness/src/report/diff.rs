//! Unified diffs of expected vs actual bytes, with CR and LF visible; for long
//! payloads, the first differing offset with a window of bytes around it.

use similar::{ChangeTag, TextDiff};

/// Splits an already visible string (see [`crate::visible`]) into lines after each `\n`
/// escape, so a diff shows one protocol line per line.
pub fn split_visible_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                current.push(next);
                chars.next();
                if next == 'n' {
                    lines.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// A unified diff (`-expected`, `+actual`) of two visible strings; `None` when they are
/// the same or when a line-level diff would not help (both one short line).
pub fn unified(expected: &str, actual: &str) -> Option<Vec<(ChangeTag, String)>> {
    if expected == actual {
        return None;
    }
    let old = split_visible_lines(expected).join("\n");
    let new = split_visible_lines(actual).join("\n");
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = Vec::new();
    for change in diff.iter_all_changes() {
        out.push((change.tag(), change.value().trim_end_matches('\n').to_string()));
    }
    Some(out)
}

/// Past this many visible characters (expected and actual together) a line diff is no
/// help to a reader: [`first_difference`] shows where they part instead.
pub const LONG: usize = 400;

/// Bytes of context shown on each side of the first difference.
const WINDOW: usize = 32;

/// The byte count a [`crate::visible::visible_truncated`] string stands for: its
/// `(N bytes in all)` tail, else the bytes it shows.
fn total_of(text: &str, shown: usize) -> usize {
    text.strip_suffix(" bytes in all)")
        .and_then(|t| t.rsplit_once("… (").map(|(_, n)| n))
        .and_then(|n| n.parse().ok())
        .unwrap_or(shown)
}

/// For two long visible strings (payloads cut to their first bytes are fine), the
/// lines that say where they first differ: the byte offset, both sizes, and a window of
/// [`WINDOW`] bytes on each side, in each. `None` when they are the same as far as
/// they are shown and as long.
pub fn first_difference(expected: &str, actual: &str) -> Option<Vec<String>> {
    use crate::visible::{unvisible, visible};
    let (e, a) = (unvisible(expected), unvisible(actual));
    let (e_all, a_all) = (total_of(expected, e.len()), total_of(actual, a.len()));
    let common = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let size = |n: usize| {
        if n == 1 {
            "1 byte".to_string()
        } else {
            format!("{n} bytes")
        }
    };
    // Identical as far as both are shown: the same, or different past what is kept.
    let shown_agree = common == e.len().min(a.len());
    if shown_agree && e_all == a_all && e.len() == a.len() {
        return None;
    }
    if shown_agree && common < e_all.min(a_all) {
        return Some(vec![format!(
            "the first {} agree (all that is kept of them); expected {} in all, got {}",
            size(common),
            size(e_all),
            size(a_all)
        )]);
    }
    let from = common.saturating_sub(WINDOW);
    let window = |bytes: &[u8], all: usize| -> String {
        let to = (common + 1 + WINDOW).min(bytes.len());
        let mut w = String::new();
        if from > 0 {
            w.push('…');
        }
        w.push('"');
        w.push_str(&visible(&bytes[from..to.max(from)]));
        w.push('"');
        if to < all {
            w.push('…');
        } else if to == common {
            w.push_str(" (ends here)");
        }
        w
    };
    let at = if common == a_all {
        format!("the actual bytes end at byte {common}")
    } else if common == e_all {
        format!("the actual bytes go on past the expected {}", size(e_all))
    } else {
        format!("first difference at byte {common}")
    };
    Some(vec![
        format!("{at} (expected {}, got {}):", size(e_all), size(a_all)),
        format!("expected: {}", window(&e, e_all)),
        format!("actual:   {}", window(&a, a_all)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_echo_shows_where_the_actual_bytes_end() {
        let e = crate::visible::visible_truncated(&b"0123456789abcdef".repeat(4096), 2048);
        let a = crate::visible::visible_truncated(&b"0123456789abcdef".repeat(64), 2048);
        let lines = first_difference(&e, &a).unwrap();
        assert_eq!(
            lines[0],
            "the actual bytes end at byte 1024 (expected 65536 bytes, got 1024 bytes):"
        );
        assert_eq!(
            lines[1],
            "expected: …\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"…"
        );
        assert_eq!(
            lines[2],
            "actual:   …\"0123456789abcdef0123456789abcdef\" (ends here)"
        );
    }

    #[test]
    fn a_changed_byte_is_found_with_its_window() {
        let mut changed = b"x".repeat(500);
        changed[300] = b'Y';
        let e = crate::visible::visible(&b"x".repeat(500));
        let a = crate::visible::visible(&changed);
        let lines = first_difference(&e, &a).unwrap();
        assert_eq!(
            lines[0],
            "first difference at byte 300 (expected 500 bytes, got 500 bytes):"
        );
        assert!(
            lines[2].contains(&format!("{}Y{}", "x".repeat(32), "x".repeat(32))),
            "{}",
            lines[2]
        );
        assert_eq!(first_difference(&e, &e), None);
    }

    #[test]
    fn payloads_equal_as_far_as_kept_say_so() {
        let e = crate::visible::visible_truncated(&b"a".repeat(5000), 2048);
        let a = crate::visible::visible_truncated(&b"a".repeat(6000), 2048);
        let lines = first_difference(&e, &a).unwrap();
        assert_eq!(
            lines,
            [
                "the first 2048 bytes agree (all that is kept of them); expected 5000 bytes in all, got 6000 bytes"
            ]
        );
    }

    #[test]
    fn lines_split_after_escaped_lf_only() {
        assert_eq!(split_visible_lines("a\\r\\nb\\\\nc"), vec!["a\\r\\n", "b\\\\nc"]);
    }

    #[test]
    fn diff_marks_the_changed_line() {
        let d = unified(
            "GET / HTTP/1.0\\r\\nHost: a\\r\\n",
            "GET / HTTP/1.0\\r\\nHost: b\\r\\n",
        )
        .unwrap();
        assert!(d.contains(&(ChangeTag::Delete, "Host: a\\r\\n".to_string())));
        assert!(d.contains(&(ChangeTag::Insert, "Host: b\\r\\n".to_string())));
        assert!(d.contains(&(ChangeTag::Equal, "GET / HTTP/1.0\\r\\n".to_string())));
    }
}
