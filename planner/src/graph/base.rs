//! A stage's `FROM`: its base expanded with the global ARGs and resolved to an earlier stage,
//! `scratch` or an image, and its `--platform` expanded and parsed (dockerfile2llb
//! `buildDispatchStates`), with the checks BuildKit makes there.
//!
//! Input: the typed [`Dockerfile`], the name index, the global ARGs. Output: the base
//! [`Source`] and the platform; errors and checks go to the sink.
//! Invariant: a base that cannot be resolved is an image of its raw text, so the stage keeps a
//! node.

use crate::args::{validate_reference, MetaArgs, Platform};
use crate::checks::{Rule, Sink};
use crate::expand::Lexer;
use crate::plan::Source;
use crate::stage::{locate, Dockerfile, StageDecl};
use crate::suggest;

use super::names::NameIndex;

#[allow(clippy::too_many_arguments)]
pub(super) fn resolve_from(
    file: &Dockerfile,
    names: &NameIndex,
    stage_idx: usize,
    meta: &MetaArgs,
    lexer: &Lexer,
    text: &str,
    sink: &mut Sink,
) -> (Source, Option<String>) {
    let stage = &file.stages[stage_idx];
    let fallback = || Source::Image {
        image: stage.base_text.clone(),
    };
    let base = match lexer.process_word(&stage.base_text, &meta.env) {
        Err(e) => {
            sink.error("ExpansionError", e.message, stage.span);
            fallback()
        }
        Ok(expanded) => {
            report_undefined_args(&expanded.unmatched, meta, stage, sink);
            let name = expanded.word;
            if name.is_empty() {
                sink.error(
                    "BlankBaseName",
                    format!("base name ({}) should not be blank", stage.base_text),
                    stage.span,
                );
                fallback()
            } else if let Some(parent) = names.last_before(&name, stage_idx) {
                Source::Stage { stage: parent }
            } else if name == "scratch" {
                Source::Scratch
            } else {
                if let Err(reason) = validate_reference(&name) {
                    let span = locate(text, stage.span, &stage.base_text);
                    sink.error(
                        "InvalidBaseName",
                        format!("failed to parse stage name {name:?}: {reason}"),
                        span,
                    );
                }
                Source::Image {
                    image: name.into_owned(),
                }
            }
        }
    };
    let platform = stage.platform_text.as_ref().and_then(|written| {
        let span = locate(text, stage.span, written);
        let expanded = match lexer.process_word(written, &meta.env) {
            Ok(expanded) => expanded,
            Err(e) => {
                sink.error("InvalidPlatform", format!("failed to process arguments for platform {written}: {}", e.message), span);
                return None;
            }
        };
        report_undefined_args(&expanded.unmatched, meta, stage, sink);
        if expanded.matched.len() == 1 && expanded.unmatched.is_empty() && expanded.matched.contains("TARGETPLATFORM") && meta.env.get("TARGETPLATFORM").map(String::as_str) == Some(&*expanded.word) {
            let message = format!("Setting platform to predefined {written} in FROM is redundant as this is the default behavior");
            sink.lint(&stage.comments, Rule::RedundantTargetPlatform, message, span);
        }
        if expanded.word.is_empty() {
            let message = with_arg_suggestion(format!("empty platform value from expression {written}"), &expanded.unmatched, meta);
            sink.error("InvalidPlatform", message, span);
            return None;
        }
        match Platform::parse(&expanded.word) {
            Err(reason) => {
                let message = with_arg_suggestion(format!("failed to parse platform {written}: {reason}"), &expanded.unmatched, meta);
                sink.error("InvalidPlatform", message, span);
                None
            }
            Ok(parsed) => {
                let constant = expanded.matched.is_empty() && expanded.unmatched.is_empty();
                let name = stage.name.as_deref().unwrap_or("");
                if constant && !name.contains(&parsed.os) && !name.contains(&parsed.arch) {
                    let message = format!("FROM --platform flag should not use constant value {:?}", expanded.word);
                    sink.lint(&stage.comments, Rule::FromPlatformFlagConstDisallowed, message, span);
                }
                Some(parsed.format())
            }
        }
    });
    (base, platform)
}

/// BuildKit `wrapSuggestAny`: ` (did you mean X?)` for the first undefined name in the
/// expression that is close to a defined global or predefined ARG.
fn with_arg_suggestion(
    message: String,
    unmatched: &std::collections::BTreeSet<String>,
    meta: &MetaArgs,
) -> String {
    let keys: Vec<&str> = meta.env.keys().map(String::as_str).collect();
    for name in unmatched {
        if let Some(found) = suggest::search(name, &keys, true) {
            return format!("{message} (did you mean {found}?)");
        }
    }
    message
}

fn report_undefined_args(
    unmatched: &std::collections::BTreeSet<String>,
    meta: &MetaArgs,
    stage: &StageDecl,
    sink: &mut Sink,
) {
    if unmatched.is_empty() {
        return;
    }
    let known: Vec<&str> = meta
        .declared
        .iter()
        .map(String::as_str)
        .chain(meta.env.keys().map(String::as_str))
        .collect();
    for name in unmatched {
        if known.contains(&name.as_str()) {
            continue;
        }
        let mut message = format!("FROM argument '{name}' is not declared");
        if let Some(found) = suggest::search(name, &known, true) {
            message.push_str(&format!(" (did you mean {found}?)"));
        }
        sink.lint(
            &stage.comments,
            Rule::UndefinedArgInFrom,
            message,
            stage.span,
        );
    }
}
