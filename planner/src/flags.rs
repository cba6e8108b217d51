//! Instruction flags with BuildKit's rules (frontend/dockerfile/instructions/bflag.go):
//! declared flags per instruction, booleans (`--link`, `--link=false`), strings, repeatable
//! strings, and the error texts for unknown, duplicate and missing values.
//!
//! Input: the raw `--flag[=value]` words of an instruction. Output: typed values or an error.
//! Invariant: declared flag names are looked up exactly; suggestions are deterministic.

use std::collections::BTreeMap;

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
pub struct Flags {
    declared: BTreeMap<&'static str, FlagKind>,
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    /// Parses `args` against the declared flags.
    pub fn parse(args: &[String], declared: &[(&'static str, FlagKind)]) -> Result<Flags, String> {
        let mut flags = Flags {
            declared: declared.iter().copied().collect(),
            values: BTreeMap::new(),
        };
        for arg in args {
            if arg == "--" {
                break;
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {arg}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            let flag_name = format!("--{name}");
            let Some((&key, &kind)) = flags.declared.get_key_value(name) else {
                let names: Vec<&str> = flags.declared.keys().copied().collect();
                let message = format!("unknown flag: {flag_name}");
                return Err(suggest::wrap(message, name, &names, true));
            };
            if flags.values.contains_key(key) && kind != FlagKind::Strings {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            let parsed = match kind {
                FlagKind::Bool => match value {
                    Some("") => return Err(format!("missing a value on flag: {flag_name}")),
                    None => "true".to_string(),
                    Some(v) if v.eq_ignore_ascii_case("true") => "true".to_string(),
                    Some(v) if v.eq_ignore_ascii_case("false") => "false".to_string(),
                    Some(v) => {
                        return Err(format!(
                            "expecting boolean value for flag {flag_name}, not: {v}"
                        ))
                    }
                },
                FlagKind::String | FlagKind::Strings => match value {
                    None => return Err(format!("missing a value on flag: {flag_name}")),
                    Some(v) => v.to_string(),
                },
            };
            flags.values.entry(key).or_default().push(parsed);
        }
        Ok(flags)
    }

    /// The value of a string flag, if given.
    pub fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last()).cloned()
    }

    /// Every value of a repeatable flag.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag's value (false when absent).
    pub fn bool(&self, name: &str) -> bool {
        self.string(name).is_some_and(|v| v == "true")
    }

    /// A boolean flag's value, or `None` when absent.
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flag_errors_match_buildkit() {
        let declared = [
            ("from", FlagKind::String),
            ("link", FlagKind::Bool),
            ("exclude", FlagKind::Strings),
        ];
        let err = |list: &[&str]| Flags::parse(&args(list), &declared).unwrap_err();
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
        let flags =
            Flags::parse(&args(&["--link", "--exclude=a", "--exclude=b"]), &declared).unwrap();
        assert!(flags.bool("link"));
        assert_eq!(flags.strings("exclude"), vec!["a", "b"]);
    }
}
