//! `SOURCE_DATE_EPOCH` as BuildKit resolves it before dispatching (dockerfile2llb/epoch.go
//! `resolveSourceDateEpochValue`): a build argument (or a global ARG with a value) that must be
//! an integer, `context`, or the name of a stage that only fetches one remote source (`FROM
//! scratch`, `ARG`s, exactly one `ADD` of one HTTP(S) URL or git repository).
//!
//! Input: the build arguments, the resolved global ARGs and the typed stages. Output: errors in
//! BuildKit's words. Invariant: only the value's form is checked; the planner fetches nothing.

use std::collections::BTreeMap;

use crate::args::MetaArgs;
use crate::checks::Sink;
use crate::diagnostics::{option_diagnostic, Severity};
use crate::dispatch::{classify_source, SourceKind};
use crate::expand::{Lexer, Lookup};
use crate::plan::Op;
use crate::stage::{Dockerfile, StageDecl};
use crate::values::{check_digest, parse_int};

const NAME: &str = "SOURCE_DATE_EPOCH";

/// Checks the `SOURCE_DATE_EPOCH` value, if one is set, and returns it when it is a number of
/// seconds (BuildKit then dates the image and its new history entries with it). A value of
/// `context` or a stage name is resolved from a source at build time, which the planner does
/// not read: it is checked but not returned.
pub fn check(
    file: &Dockerfile,
    meta: &MetaArgs,
    build_args: &BTreeMap<String, String>,
    lexer: &Lexer,
    sink: &mut Sink,
) -> Option<i64> {
    let value = match build_args.get(NAME) {
        Some(given) => given.as_str(),
        None => match meta.env.get(NAME) {
            Some(global) if !global.is_empty() => global.as_str(),
            _ => return None,
        },
    };
    if let Ok(seconds) = parse_int(value, 64) {
        return Some(seconds);
    }
    if value.is_empty() || value == "context" {
        return None;
    }
    let Some(stage) = file.stages.iter().find(|stage| {
        stage
            .name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(value))
    }) else {
        let message = format!("invalid {NAME}: {value}");
        sink.list.push(option_diagnostic(
            Severity::Error,
            "InvalidSourceDateEpoch",
            message,
        ));
        return None;
    };
    // BuildKit deletes SOURCE_DATE_EPOCH from the variables the stage is read with.
    let env = StageVars {
        vars: meta.env.clone(),
        epoch_hidden: true,
    };
    if let Err(message) = check_source_stage(stage, env, build_args, lexer) {
        sink.error("InvalidSourceDateEpoch", message, stage.span);
    }
    None
}

/// The variables the source stage is read with: the global ARGs without `SOURCE_DATE_EPOCH`
/// (until the stage declares it), plus the stage's ARGs.
struct StageVars {
    vars: BTreeMap<String, String>,
    epoch_hidden: bool,
}

impl StageVars {
    fn insert(&mut self, name: &str, value: String) {
        if name == NAME {
            self.epoch_hidden = false;
        }
        self.vars.insert(name.to_string(), value);
    }
}

impl Lookup for StageVars {
    fn lookup(&self, name: &str) -> Option<String> {
        if self.epoch_hidden && name == NAME {
            return None;
        }
        self.vars.get(name).cloned()
    }
}

/// BuildKit `sourceDateEpochStageSource`: the stage that names the source of the timestamp.
fn check_source_stage(
    stage: &StageDecl,
    mut env: StageVars,
    build_args: &BTreeMap<String, String>,
    lexer: &Lexer,
) -> Result<(), String> {
    let base = lexer
        .process_word(&stage.base_text, &env)
        .map_err(|e| {
            format!(
                "failed to process source stage base name {:?}: {}",
                stage.base_text, e.message
            )
        })?
        .word;
    if base != "scratch" {
        return Err(format!("{NAME} stage must use FROM scratch"));
    }
    let mut found_add = false;
    for instr in &stage.instructions {
        match &instr.plan.op {
            Op::Arg { args } => {
                for arg in args {
                    if let Some(given) = build_args.get(&arg.name) {
                        env.insert(&arg.name, given.clone());
                    } else if let Some(default) = &arg.default {
                        let value = lexer
                            .process_word(default, &env)
                            .map_err(|e| e.message)?
                            .word
                            .into_owned();
                        env.insert(&arg.name, value);
                    }
                }
            }
            Op::Add(spec) => {
                if found_add {
                    return Err(format!("{NAME} stage must contain exactly one remote ADD"));
                }
                found_add = true;
                if !spec.heredocs.is_empty() || spec.sources.len() != 1 {
                    return Err(format!(
                        "{NAME} stage must contain exactly one remote ADD source"
                    ));
                }
                let source = lexer
                    .process_word(&spec.sources[0], &env)
                    .map_err(|e| e.message)?
                    .word;
                match classify_source(&source) {
                    SourceKind::Http => {
                        if let Some(checksum) = &spec.checksum {
                            let checksum = lexer
                                .process_word(checksum, &env)
                                .map_err(|e| e.message)?
                                .word;
                            check_digest(&checksum)?;
                        }
                    }
                    SourceKind::Git => {}
                    SourceKind::Local => {
                        return Err(format!(
                            "{NAME} stage source must be a single HTTP(S) or Git ADD"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                "{NAME} stage does not meet source-only requirements: unsupported {} instruction",
                instr.keyword
            ))
            }
        }
    }
    if !found_add {
        return Err(format!("{NAME} stage must contain exactly one remote ADD"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn errors(text: &str, build_args: &[(&str, &str)]) -> Vec<String> {
        let options = crate::Options {
            build_args: build_args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..crate::Options::default()
        };
        crate::plan(text, &options)
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}:{}", d.line, d.message))
            .collect()
    }

    #[test]
    fn source_date_epoch_values_like_buildkit() {
        // testSourceDateEpoch... in BuildKit's dockerfile_source_date_epoch_test.go.
        assert_eq!(
            errors(
                "ARG SOURCE_DATE_EPOCH=not-a-timestamp\nFROM scratch\nCOPY Dockerfile .\n",
                &[]
            ),
            vec!["0:invalid SOURCE_DATE_EPOCH: not-a-timestamp"]
        );
        assert_eq!(
            errors(
                "ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\nCOPY Dockerfile /Dockerfile\nFROM scratch\n",
                &[]
            ),
            vec!["2:SOURCE_DATE_EPOCH stage does not meet source-only requirements: unsupported COPY instruction"]
        );
        let text =
            "FROM scratch AS src\nARG URL=https://example.com/a.tar.gz\nADD $URL /\nFROM scratch\n";
        assert!(errors(text, &[("SOURCE_DATE_EPOCH", "src")]).is_empty());
        assert!(errors(text, &[("SOURCE_DATE_EPOCH", "1700000000")]).is_empty());
        assert!(errors(text, &[("SOURCE_DATE_EPOCH", "context")]).is_empty());
        assert!(errors(text, &[("SOURCE_DATE_EPOCH", "")]).is_empty());
        assert_eq!(
            errors(text, &[("SOURCE_DATE_EPOCH", "1.5")]),
            vec!["0:invalid SOURCE_DATE_EPOCH: 1.5"]
        );
        assert_eq!(
            errors(
                "FROM alpine AS src\nADD https://example.com/a /\nFROM scratch\n",
                &[("SOURCE_DATE_EPOCH", "SRC")]
            ),
            vec!["1:SOURCE_DATE_EPOCH stage must use FROM scratch"]
        );
        assert_eq!(
            errors(
                "FROM scratch AS src\nADD local.txt /\nFROM scratch\n",
                &[("SOURCE_DATE_EPOCH", "src")]
            ),
            vec!["1:SOURCE_DATE_EPOCH stage source must be a single HTTP(S) or Git ADD"]
        );
    }
}
