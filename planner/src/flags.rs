//! Instruction flags with BuildKit's rules (frontend/dockerfile/instructions/bflag.go):
//! declared flags per instruction, booleans (`--link`, `--link=false`), strings, repeatable
//! strings, and the error texts for unknown, duplicate and missing values.
//!
//! Input: the raw `--flag[=value]` words of an instruction. Output: typed values or an error.
//! Invariant: declared flag names are looked up exactly; suggestions are deterministic (every
//! declared list is in alphabetical order, a test checks it); values are moved out of the words,
//! not copied.

use std::borrow::Cow;

use crate::suggest;

/// The kind of a declared flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--name` or `--name=true|false`.
    Bool,
    /// `--name=value`, at most once.
    String,
    /// `--name=value`, repeatable.
    Strings,
}

/// The parsed flags of one instruction.
#[derive(Debug, Default)]
pub struct Flags<'a> {
    /// Each given value with the index of its declared flag, in order.
    values: Vec<(usize, Cow<'a, str>)>,
    declared: &'static [(&'static str, FlagKind)],
}

/// The part of `word` from byte `offset` on, without copying a borrowed word.
fn tail(word: Cow<'_, str>, offset: usize) -> Cow<'_, str> {
    match word {
        Cow::Borrowed(text) => Cow::Borrowed(&text[offset..]),
        Cow::Owned(mut text) => {
            text.drain(..offset);
            Cow::Owned(text)
        }
    }
}

impl<'a> Flags<'a> {
    /// Parses `args` against the declared flags.
    pub fn parse(
        args: Vec<Cow<'a, str>>,
        declared: &'static [(&'static str, FlagKind)],
    ) -> Result<Flags<'a>, String> {
        let mut flags = Flags {
            values: Vec::with_capacity(args.len()),
            declared,
        };
        for arg in args {
            if arg == "--" {
                break;
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {arg}"));
            };
            let (name, value_at) = match body.split_once('=') {
                Some((name, _)) => (name, Some(2 + name.len() + 1)),
                None => (body, None),
            };
            let Some(key) = declared.iter().position(|(known, _)| *known == name) else {
                // The declared lists are in alphabetical order, the order BuildKit's map of
                // flags is searched in.
                let names: Vec<&str> = declared.iter().map(|(known, _)| *known).collect();
                let message = format!("unknown flag: --{name}");
                return Err(suggest::wrap(message, name, &names, true));
            };
            let kind = declared[key].1;
            if kind != FlagKind::Strings && flags.values.iter().any(|(k, _)| *k == key) {
                return Err(format!("duplicate flag specified: --{name}"));
            }
            let parsed = match (kind, value_at) {
                (FlagKind::Bool, None) => Cow::Borrowed("true"),
                (FlagKind::Bool, Some(at)) => {
                    let value = &arg[at..];
                    if value.is_empty() {
                        return Err(format!("missing a value on flag: --{name}"));
                    } else if value.eq_ignore_ascii_case("true") {
                        Cow::Borrowed("true")
                    } else if value.eq_ignore_ascii_case("false") {
                        Cow::Borrowed("false")
                    } else {
                        return Err(format!(
                            "expecting boolean value for flag --{name}, not: {value}"
                        ));
                    }
                }
                (_, None) => return Err(format!("missing a value on flag: --{name}")),
                (_, Some(at)) => tail(arg, at),
            };
            flags.values.push((key, parsed));
        }
        Ok(flags)
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.declared.iter().position(|(known, _)| *known == name)
    }

    /// Takes the value of a string flag, if given (the last one).
    pub fn take_string(&mut self, name: &str) -> Option<Cow<'a, str>> {
        let key = self.index(name)?;
        let pos = self.values.iter().rposition(|(k, _)| *k == key)?;
        Some(std::mem::take(&mut self.values[pos].1))
    }

    /// Takes every value of a repeatable flag, in order.
    pub fn take_strings(&mut self, name: &str) -> Vec<Cow<'a, str>> {
        let Some(key) = self.index(name) else {
            return Vec::new();
        };
        self.values
            .iter_mut()
            .filter(|(k, _)| *k == key)
            .map(|(_, value)| std::mem::take(value))
            .collect()
    }

    /// A boolean flag's value, or `None` when absent.
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        let key = self.index(name)?;
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value == "true")
    }

    /// A boolean flag's value (false when absent).
    pub fn bool(&self, name: &str) -> bool {
        self.opt_bool(name).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&'static str]) -> Vec<Cow<'static, str>> {
        list.iter().map(|s| Cow::Borrowed(*s)).collect()
    }

    const DECLARED: &[(&str, FlagKind)] = &[
        ("exclude", FlagKind::Strings),
        ("from", FlagKind::String),
        ("link", FlagKind::Bool),
    ];

    #[test]
    fn flag_errors_match_buildkit() {
        let err = |list: &[&'static str]| Flags::parse(args(list), DECLARED).unwrap_err();
        assert_eq!(
            err(&["--form=x"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        let mut flags =
            Flags::parse(args(&["--link", "--exclude=a", "--exclude=b"]), DECLARED).unwrap();
        assert!(flags.bool("link"));
        assert_eq!(flags.take_strings("exclude"), vec!["a", "b"]);
    }

    #[test]
    fn values_borrow_from_the_words() {
        let words = vec![Cow::Borrowed("--from=build")];
        let mut flags = Flags::parse(words, DECLARED).unwrap();
        assert!(matches!(
            flags.take_string("from"),
            Some(Cow::Borrowed("build"))
        ));
        let owned = vec![Cow::Owned("--from=a b".to_string())];
        let mut flags = Flags::parse(owned, DECLARED).unwrap();
        assert_eq!(flags.take_string("from").as_deref(), Some("a b"));
    }
}
