//! "Did you mean `server`?": the closest known name to a misspelt one.

/// The edit distance between `a` and `b` (insertions, deletions, substitutions and
/// swaps of two neighbours, each one edit), compared case-insensitively.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// The candidate closest to `name`, when it is close enough to be what was meant: at
/// most one edit for names of up to four characters, two up to eight, three beyond. Ties
/// go to the first candidate.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Comparing a huge name with every candidate would be slow, and it is no typo.
    if name.len() > 256 {
        return None;
    }
    let allowed = match name.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate, if any.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits_and_swaps() {
        assert_eq!(distance("sever", "server"), 1);
        assert_eq!(distance("usr", "user"), 1);
        assert_eq!(distance("clinet", "client"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn the_closest_name_is_suggested_only_when_close() {
        let fields = ["client", "server", "open", "listen", "close", "include"];
        assert_eq!(closest("sever", fields), Some("server"));
        assert_eq!(closest("clent", fields), Some("client"));
        assert_eq!(closest("opne", fields), Some("open"));
        assert_eq!(closest("bananas", fields), None);
        assert_eq!(
            did_you_mean("usr", ["user", "pass"]).as_deref(),
            Some("did you mean `user`?")
        );
    }
}
