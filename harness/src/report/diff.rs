//! Unified diffs of expected vs actual bytes, with CR and LF visible.

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

#[cfg(test)]
mod tests {
    use super::*;

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
