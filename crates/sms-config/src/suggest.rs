//! "Did you mean": the closest known name to a misspelt one.

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo (at
/// most a third of the word's length, and at least 1, or `word` is a prefix/suffix of it).
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= limit || (word.len() >= 3 && (c.starts_with(word) || word.starts_with(*c))))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edits (insertions, deletions, substitutions, adjacent swaps) between two strings, by character.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Full matrix: keys are short, and it makes the adjacent-swap rule simple.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key_and_strangers_find_nothing() {
        let keys = ["account", "key", "base_url", "international_base_url"];
        assert_eq!(closest("acount", keys), Some("account"));
        assert_eq!(closest("base_ulr", keys), Some("base_url"));
        assert_eq!(closest("kye", keys), Some("key"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(levenshtein("abc", "abc"), 0);
        assert_eq!(levenshtein("", "abc"), 3);
    }
}
