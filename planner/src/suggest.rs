//! "Did you mean" suggestions with BuildKit's rule (util/suggest): the closest option within
//! Levenshtein distance 2, first one wins on ties.
//!
//! Input: a value and the options. Output: the suggestion, or the message with
//! ` (did you mean X?)` appended. Invariant: deterministic for a given option order.

/// Levenshtein distance over Unicode scalar values.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b_chars: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b_chars.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b_chars.iter().enumerate() {
            let current = row[j + 1];
            let cost = usize::from(ca != *cb);
            row[j + 1] = (row[j] + 1).min(current + 1).min(prev + cost);
            prev = current;
        }
    }
    row[b_chars.len()]
}

/// The closest option to `value`, if one is within distance 2 and none is equal. An option
/// whose length differs by the best distance so far or more is skipped without comparing (the
/// distance is at least the length difference), so a long value costs no more than a short one.
pub fn search(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let needle = if case_sensitive {
        value.to_string()
    } else {
        value.to_lowercase()
    };
    let needle_len = needle.chars().count();
    let mut best: Option<String> = None;
    let mut min_dist = 3;
    for option in options {
        // The option's length as compared: lower-casing keeps it unless a character lowers to
        // several (then the option is simply compared).
        let (option_len, same_length_lowered) = if option.is_ascii() {
            (option.len(), true)
        } else {
            let lowers_to_one = option.chars().all(|c| c.to_lowercase().count() == 1);
            (option.chars().count(), case_sensitive || lowers_to_one)
        };
        if same_length_lowered && option_len.abs_diff(needle_len) >= min_dist {
            continue;
        }
        let candidate = if case_sensitive {
            option.to_string()
        } else {
            option.to_lowercase()
        };
        if candidate == needle {
            return None;
        }
        let dist = levenshtein(&needle, &candidate);
        if dist < min_dist {
            best = Some(if case_sensitive {
                candidate
            } else {
                match_case(&candidate, value)
            });
            min_dist = dist;
        }
    }
    best
}

fn match_case(candidate: &str, original: &str) -> String {
    if original == original.to_lowercase() {
        candidate.to_lowercase()
    } else if original == original.to_uppercase() {
        candidate.to_uppercase()
    } else {
        candidate.to_string()
    }
}

/// `message` with ` (did you mean X?)` when a suggestion exists.
pub fn wrap(message: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    match search(value, options, case_sensitive) {
        Some(found) => format!("{message} (did you mean {found}?)"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(levenshtein("bulid", "build"), 2);
        assert_eq!(
            search("bulid", &["base", "build"], true).as_deref(),
            Some("build")
        );
        assert_eq!(search("zzzzzz", &["build"], true), None);
        assert_eq!(
            search("RUM", &["run", "copy"], false).as_deref(),
            Some("RUN")
        );
        // A long value is not compared with short options at all, and finds nothing.
        assert_eq!(search(&"x".repeat(60_000), &["run", "copy"], false), None);
        assert_eq!(search("COPYY", &["COPY"], true).as_deref(), Some("COPY"));
    }
}
