//! Word expansion for the runner: the planner library's BuildKit-compatible expander applied to
//! the unexpanded words that plan JSON carries.
//!
//! Input: one word as written in the Dockerfile, the variables in scope, the escape character.
//! Output: the expanded word (quotes removed, variables substituted), or the expander's message.
//! Invariant: the runner expands exactly as the planner does; it has no expander of its own.

use std::collections::BTreeMap;

/// Expands one word (BuildKit `ProcessWord`).
pub fn expand_word(
    word: &str,
    vars: &BTreeMap<String, String>,
    escape: char,
) -> Result<String, String> {
    planner::expand::expand_word(word, vars, escape).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_with_stage_variables() {
        let vars: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
        assert_eq!(expand_word("\"${A}-$B\"", &vars, '\\').unwrap(), "1-");
        assert_eq!(expand_word("${B:-x}", &vars, '\\').unwrap(), "x");
    }
}
