//! The edits of the quick fixes, for the checks that have an obvious one: StageNameCasing,
//! FromAsCasing, ConsistentInstructionCasing, MaintainerDeprecated (to a LABEL),
//! LegacyKeyValueFormat (to `key=value`) and JSONArgsRecommended (to the JSON form).
//!
//! Input: the words of an instruction and their byte spans. Output: [`Edits`] (a title and
//! byte-span replacements) that the sink turns into a diagnostic's `fix`.
//! Invariant: a fix never changes what the instruction means; when that cannot be promised
//! (a value or command that needs shell quoting, a word whose place is unknown) there is no
//! fix rather than a guess.

use crate::checks::Edits;
use crate::diagnostics::Span;
use crate::plan::{Command, KeyValue, Op};
use crate::syntax::split::parse_words;

/// StageNameCasing: the name after `AS` in lower case.
pub fn stage_name_casing(name_span: Option<Span>, written: &str) -> Option<Edits> {
    let span = name_span?;
    Some((
        format!(
            "Lower-case the stage name to \"{}\"",
            written.to_lowercase()
        ),
        vec![(span, written.to_lowercase())],
    ))
}

/// FromAsCasing: `AS` in the casing of the `FROM` keyword.
pub fn from_as_casing(as_span: Option<Span>, keyword: &str) -> Option<Edits> {
    let span = as_span?;
    let wanted = if keyword == keyword.to_lowercase() {
        "as"
    } else {
        "AS"
    };
    Some((
        format!("Write \"{wanted}\""),
        vec![(span, wanted.to_string())],
    ))
}

/// ConsistentInstructionCasing: the keyword in the file's majority casing.
pub fn instruction_casing(keyword_span: Span, keyword: &str, lower: bool) -> Option<Edits> {
    let wanted = if lower {
        keyword.to_lowercase()
    } else {
        keyword.to_uppercase()
    };
    Some((format!("Write \"{wanted}\""), vec![(keyword_span, wanted)]))
}

/// The keyword `LABEL` (or another) in the casing `like` is written in.
fn keyword_like(keyword: &str, like: &str) -> String {
    if like == like.to_lowercase() {
        keyword.to_lowercase()
    } else {
        keyword.to_string()
    }
}

/// MaintainerDeprecated: `MAINTAINER name` becomes
/// `LABEL org.opencontainers.image.authors="name"` (the OCI annotation for the author; the
/// value is quoted and `\`, `"` and `$` escaped, because LABEL expands variables and MAINTAINER
/// does not).
pub fn maintainer_to_label(span: Span, keyword: &str, name: &str) -> Option<Edits> {
    if name.is_empty() || name.contains(['\n', '\r']) {
        return None;
    }
    let mut escaped = String::with_capacity(name.len() + 2);
    for ch in name.chars() {
        if matches!(ch, '\\' | '"' | '$') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    let label = keyword_like("LABEL", keyword);
    Some((
        "Replace MAINTAINER with an org.opencontainers.image.authors LABEL".to_string(),
        vec![(
            span,
            format!("{label} org.opencontainers.image.authors=\"{escaped}\""),
        )],
    ))
}

/// LegacyKeyValueFormat: `ENV key value` becomes `ENV key=value`. The value stays as written
/// when it is one shell word; a value of several words is put in double quotes when it holds
/// no quote or escape character (`\` or `` ` ``, whichever the file uses); otherwise there is
/// no fix.
pub fn key_value(span: Span, keyword: &str, op: &Op) -> Option<Edits> {
    let pairs: &[KeyValue] = match op {
        Op::Env { pairs } | Op::Label { pairs } => pairs,
        _ => return None,
    };
    let [pair] = pairs else {
        return None;
    };
    let value = &pair.value;
    let words = parse_words(value, '\\');
    let value = if words.len() <= 1 {
        value.clone()
    } else if !value.contains(['"', '\'', '\\', '`', '\n']) {
        format!("\"{value}\"")
    } else {
        return None;
    };
    Some((
        format!("Write \"{}={}\"", pair.key, value),
        vec![(span, format!("{keyword} {}={value}", pair.key))],
    ))
}

/// Characters that keep a shell word plain: no quoting, expansion, globbing or operators.
fn is_plain_word(word: &str) -> bool {
    !word.is_empty()
        && word.chars().all(|ch| {
            ch.is_ascii_alphanumeric()
                || matches!(
                    ch,
                    '-' | '_' | '.' | '/' | ':' | '=' | '@' | '+' | ',' | '%'
                )
        })
}

/// JSONArgsRecommended: a shell-form `CMD`/`ENTRYPOINT` whose words are all plain becomes the
/// JSON form of the same words (the shell would have split them the same way).
pub fn json_args(span: Span, keyword: &str, op: &Op) -> Option<Edits> {
    let (Op::Cmd {
        command: Command::Shell { script },
    }
    | Op::Entrypoint {
        command: Command::Shell { script },
    }) = op
    else {
        return None;
    };
    let words = parse_words(script, '\\');
    if words.is_empty() || !words.iter().all(|word| is_plain_word(word)) {
        return None;
    }
    let array = serde_json::to_string(&words)
        .ok()?
        .replace("\",\"", "\", \"");
    Some((
        format!("Use the JSON form {array}"),
        vec![(span, format!("{keyword} {array}"))],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_text(fix: Option<Edits>) -> Option<String> {
        fix.map(|(_, edits)| edits[0].1.clone())
    }

    #[test]
    fn label_from_maintainer_escapes() {
        let span = Span::new(0, 1);
        assert_eq!(
            new_text(maintainer_to_label(
                span,
                "MAINTAINER",
                "Jo \"J\" <jo@x.y> $HOME"
            ))
            .unwrap(),
            "LABEL org.opencontainers.image.authors=\"Jo \\\"J\\\" <jo@x.y> \\$HOME\""
        );
        assert_eq!(
            new_text(maintainer_to_label(span, "maintainer", "me")).unwrap(),
            "label org.opencontainers.image.authors=\"me\""
        );
    }

    #[test]
    fn key_value_keeps_meaning_or_gives_no_fix() {
        let env = |key: &str, value: &str| Op::Env {
            pairs: vec![KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            }],
        };
        let span = Span::new(0, 1);
        assert_eq!(
            new_text(key_value(span, "ENV", &env("A", "1"))).unwrap(),
            "ENV A=1"
        );
        assert_eq!(
            new_text(key_value(span, "ENV", &env("P", "/usr/bin:$PATH"))).unwrap(),
            "ENV P=/usr/bin:$PATH"
        );
        assert_eq!(
            new_text(key_value(span, "ENV", &env("M", "\"a b\""))).unwrap(),
            "ENV M=\"a b\""
        );
        assert_eq!(
            new_text(key_value(span, "LABEL", &env("D", "two words"))).unwrap(),
            "LABEL D=\"two words\""
        );
        assert_eq!(key_value(span, "ENV", &env("Q", "a \"x y\" b")), None);
    }

    #[test]
    fn json_args_only_for_plain_words() {
        let cmd = |script: &str| Op::Cmd {
            command: Command::Shell {
                script: script.to_string(),
            },
        };
        let span = Span::new(0, 1);
        assert_eq!(
            new_text(json_args(span, "CMD", &cmd("nginx -g daemon=off"))).unwrap(),
            "CMD [\"nginx\", \"-g\", \"daemon=off\"]"
        );
        for script in ["echo $HOME", "a && b", "echo 'x y'", "run *.txt"] {
            assert_eq!(json_args(span, "CMD", &cmd(script)), None, "{script}");
        }
    }
}
