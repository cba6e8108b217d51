//! Word expansion for the translation: the planner's BuildKit-compatible lexer applied with a
//! stage's LLB environment (base image Env, `ENV`, and `ARG` values, in order).
//!
//! Input: words as the plan keeps them (unexpanded, quotes as written) and the environment.
//! Output: expanded words; display names with variables filled in; heredoc bodies expanded as
//! BuildKit does (quotes are plain characters there, `\` still escapes).
//! Invariant: the expansion is the planner's (`planner::expand`); this module only chooses its
//! switches and never expands by itself, except for splitting a heredoc body into the `$` tokens
//! that it hands to the planner's lexer.

use planner::expand::{Lexer, Lookup};

/// An ordered `KEY=VALUE` environment as LLB states keep it (the last entry of a key wins).
#[derive(Debug, Clone, Copy)]
pub struct EnvLookup<'a>(pub &'a [(String, String)]);

impl Lookup for EnvLookup<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// BuildKit's `ProcessWord`: quotes removed, variables substituted, no splitting.
pub fn expand_word(word: &str, env: &[(String, String)], escape: char) -> Result<String, String> {
    Lexer::new(escape)
        .process_word(word, &EnvLookup(env))
        .map(|expanded| expanded.word.into_owned())
        .map_err(|e| e.to_string())
}

/// BuildKit's `ProcessWords`: expanded and split on unquoted white space.
pub fn expand_words(
    text: &str,
    env: &[(String, String)],
    escape: char,
) -> Result<Vec<String>, String> {
    Lexer::new(escape)
        .process_words(text, &EnvLookup(env))
        .map_err(|e| e.to_string())
}

/// The frontend's `processCmdEnv` for step names: the instruction text with variables filled
/// in; `raw` keeps quotes and leaves unknown variables (as for `RUN`). Falls back to the text.
pub fn display_text(text: &str, env: &[(String, String)], escape: char, raw: bool) -> String {
    let mut lexer = Lexer::new(escape);
    lexer.raw_quotes = raw;
    lexer.skip_unset = raw;
    lexer
        .process_word(text, &EnvLookup(env))
        .map_or_else(|_| text.to_string(), |expanded| expanded.word.into_owned())
}

/// A heredoc body of `COPY <<EOF` with expansion on: `$name` and `${...}` are expanded, the
/// escape `\` drops itself and keeps the next character, quotes stay as written (BuildKit's
/// lexer with `SkipProcessQuotes`, escape token `\`).
pub fn expand_heredoc(body: &str, env: &[(String, String)]) -> Result<String, String> {
    Lexer::heredoc()
        .process_word(body, &EnvLookup(env))
        .map(|expanded| expanded.word.into_owned())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("A".to_string(), "1".to_string()),
            ("HOME".to_string(), "/root".to_string()),
            ("A".to_string(), "2".to_string()),
        ]
    }

    #[test]
    fn words_use_the_last_value() {
        assert_eq!(expand_word("\"$A-${B:-x}\"", &env(), '\\').unwrap(), "2-x");
        assert_eq!(
            expand_words("$A 81/udp", &env(), '\\').unwrap(),
            vec!["2", "81/udp"]
        );
        assert_eq!(
            display_text("RUN echo \"$A\" $NOPE", &env(), '\\', true),
            "RUN echo \"2\" $NOPE"
        );
    }

    #[test]
    fn heredocs_keep_quotes_and_expand_inside_them() {
        let body = "home='$HOME' \"${A}\" \\$A cost: 5$\n";
        assert_eq!(
            expand_heredoc(body, &env()).unwrap(),
            "home='/root' \"2\" $A cost: 5$\n"
        );
    }
}
