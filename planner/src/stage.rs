//! Stages: the typed instructions grouped under their `FROM`, the global ARGs kept apart, and
//! the checks BuildKit runs on every stage at parse time (frontend/dockerfile/instructions
//! `Parse`, dockerfile2llb `validateStageNames`, `validateCommandCasing`); the checks of
//! dispatch time are in `dispatch/`.
//!
//! Input: the syntax layer's instructions, one at a time. Output: a [`Dockerfile`] of stages, with errors
//! and warnings sent to the [`Sink`]. Invariant: every stage keeps its file order index.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::checks::{Rule, Sink};
use crate::diagnostics::Span;
use crate::fixes;
use crate::flags::{FlagKind, Flags};
use crate::instructions::{type_arg, type_instruction, Instr};
use crate::syntax::{self, words, RawInstruction};

/// A global ARG (declared before the first `FROM`).
#[derive(Debug, Clone)]
pub struct MetaArg {
    /// The name.
    pub name: String,
    /// The default, unexpanded.
    pub default: Option<String>,
    /// 1-based line.
    pub line: u32,
    /// Bytes of the instruction.
    pub span: Span,
}

/// One stage as declared.
#[derive(Debug, Clone)]
pub struct StageDecl<'a> {
    /// The `FROM` keyword as written.
    pub keyword: Cow<'a, str>,
    /// The name, lower-cased.
    pub name: Option<String>,
    /// The base word as written.
    pub base_text: String,
    /// `--platform=` as written.
    pub platform_text: Option<String>,
    /// 1-based line of `FROM`.
    pub line: u32,
    /// 1-based last line of `FROM`.
    pub end_line: u32,
    /// Bytes of the `FROM` instruction.
    pub span: Span,
    /// Bytes of the `FROM` keyword.
    pub keyword_span: Span,
    /// Bytes of the base word, when known (see `syntax::words`).
    pub base_span: Option<Span>,
    /// Bytes of the stage name after `AS`, when known.
    pub name_span: Option<Span>,
    /// Comments directly above `FROM`.
    pub comments: Vec<&'a str>,
    /// The stage's instructions in order.
    pub instructions: Vec<Instr<'a>>,
}

/// A Dockerfile typed into stages.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile<'a> {
    /// The global ARGs in order.
    pub meta_args: Vec<MetaArg>,
    /// The stages in order.
    pub stages: Vec<StageDecl<'a>>,
    /// How the keywords of the stages (`FROM` and the instructions) are cased, counted as
    /// they are added, for `ConsistentInstructionCasing`.
    pub keyword_cases: KeywordCases,
}

/// Counts of keywords written in lower case, in upper case, and in neither.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeywordCases {
    /// Keywords with no upper-case letter.
    pub lower: usize,
    /// Keywords with no lower-case letter (and at least one upper-case one).
    pub upper: usize,
    /// Keywords with both.
    pub mixed: usize,
}

impl KeywordCases {
    /// Counts one keyword (keywords are ASCII; others are unknown instructions, rejected
    /// before they are counted).
    fn count(&mut self, keyword: &str) {
        if is_lower_keyword(keyword) {
            self.lower += 1;
        } else if is_upper_keyword(keyword) {
            self.upper += 1;
        } else {
            self.mixed += 1;
        }
    }
}

fn is_lower_keyword(keyword: &str) -> bool {
    !keyword.bytes().any(|byte| byte.is_ascii_uppercase())
}

fn is_upper_keyword(keyword: &str) -> bool {
    !keyword.bytes().any(|byte| byte.is_ascii_lowercase())
}

/// Finds `needle` within `span` of `text` (for precise diagnostic ranges); the span itself
/// when it is not there.
pub fn locate(text: &str, span: Span, needle: &str) -> Span {
    let haystack = text.get(span.start..span.end.min(text.len())).unwrap_or("");
    match haystack.find(needle).filter(|_| !needle.is_empty()) {
        Some(offset) => Span::new(span.start + offset, span.start + offset + needle.len()),
        None => span,
    }
}

/// BuildKit's stage name rule, for a lower-cased name.
pub fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|ch| {
            ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '-' | '_' | '.')
        })
}

/// Whether `word` equals its `to_lowercase()` (checked without building it for ASCII).
fn is_lowercase(word: &str) -> bool {
    if word.is_ascii() {
        !word.bytes().any(|byte| byte.is_ascii_uppercase())
    } else {
        word == word.to_lowercase()
    }
}

/// Whether `word` equals its `to_uppercase()` (checked without building it for ASCII).
fn is_uppercase(word: &str) -> bool {
    if word.is_ascii() {
        !word.bytes().any(|byte| byte.is_ascii_lowercase())
    } else {
        word == word.to_uppercase()
    }
}

const FROM_FLAGS: &[(&str, FlagKind)] = &[("platform", FlagKind::String)];

fn parse_from<'a>(
    raw: RawInstruction<'a>,
    text: &str,
    escape: char,
    sink: &mut Sink,
) -> Result<StageDecl<'a>, String> {
    let args = &raw.args;
    let word_spans = words::argument_spans(&raw, text, escape);
    let word_span = |idx: usize| word_spans.get(idx).copied().flatten();
    if args.len() == 3 && !is_lowercase(&args[2]) {
        let span = locate(text, raw.span, &args[2]);
        sink.lint_with(
            &raw.comments,
            Rule::StageNameCasing,
            format!("Stage name '{}' should be lowercase", args[2]),
            span,
            fixes::stage_name_casing(word_span(2), &args[2]),
        );
    }
    if args.len() >= 3 {
        let keyword = &raw.keyword;
        let (lower, upper) = (is_lowercase(keyword), is_uppercase(keyword));
        let as_word = &args[1];
        let mismatch = (lower && !is_lowercase(as_word)) || (upper && !is_uppercase(as_word));
        if (lower || upper) && mismatch {
            let message = format!("'{as_word}' and '{keyword}' keywords' casing do not match");
            let fix = fixes::from_as_casing(word_span(1), keyword);
            sink.lint_with(&raw.comments, Rule::FromAsCasing, message, raw.span, fix);
        }
    }
    let name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let lowered = args[2].to_lowercase();
            if !is_valid_stage_name(&lowered) {
                return Err(format!(
                    "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                    args[2]
                ));
            }
            Some(lowered)
        }
        1 => None,
        _ => return Err("FROM requires either one or three arguments".to_string()),
    };
    let has_name = name.is_some();
    let (base_span, name_span) = (word_span(0), word_span(2).filter(|_| has_name));
    let mut flags = Flags::parse(raw.flags, FROM_FLAGS)?;
    let base_text = raw.args.into_iter().next().unwrap_or_default().into_owned();
    Ok(StageDecl {
        keyword: raw.keyword,
        name,
        base_text,
        platform_text: flags
            .take_string("platform")
            .filter(|p| !p.is_empty())
            .map(Cow::into_owned),
        line: raw.start_line,
        end_line: raw.end_line,
        span: raw.span,
        keyword_span: raw.keyword_span,
        base_span,
        name_span,
        comments: raw.comments,
        instructions: Vec::new(),
    })
}

/// Groups the parsed instructions into stages, reporting parse-time errors and checks.
/// `escape` is the file's escape character (for locating words in the text).
pub fn build<'a>(
    instructions: impl IntoIterator<Item = RawInstruction<'a>>,
    text: &str,
    escape: char,
    sink: &mut Sink,
) -> Dockerfile<'a> {
    let mut file = Dockerfile::default();
    // After a FROM that failed, its instructions belong to no stage (not to the stage before
    // it); do not report that too.
    let mut from_failed = false;
    for raw in instructions {
        let command = raw.command;
        let span = raw.span;
        if command == syntax::Command::Maintainer {
            let message = "Maintainer instruction is deprecated in favor of using label";
            let fix = raw
                .args
                .first()
                .and_then(|name| fixes::maintainer_to_label(raw.span, &raw.keyword, name));
            sink.lint_with(
                &raw.comments,
                Rule::MaintainerDeprecated,
                message,
                span,
                fix,
            );
        }
        if command == syntax::Command::From {
            match parse_from(raw, text, escape, sink) {
                Ok(stage) => {
                    file.keyword_cases.count(&stage.keyword);
                    file.stages.push(stage);
                    from_failed = false;
                }
                Err(message) => {
                    sink.error("ParseError", message, span);
                    from_failed = true;
                }
            }
            continue;
        }
        if file.stages.is_empty() && command == syntax::Command::Arg {
            let line = raw.start_line;
            match type_arg(raw.flags, raw.args) {
                Ok(args) => file.meta_args.extend(args.into_iter().map(|arg| MetaArg {
                    name: arg.name,
                    default: arg.default,
                    line,
                    span,
                })),
                Err(message) => sink.error("ParseError", message, span),
            }
            continue;
        }
        // Where the stage references are written, found before the words move into the op.
        let references = References::of(&raw, text, escape);
        match type_instruction(raw) {
            Err(message) => sink.error("ParseError", message, span),
            Ok(_) if from_failed => {}
            Ok(mut instr) => match file.stages.last_mut() {
                Some(stage) => {
                    references.apply(&mut instr);
                    file.keyword_cases.count(&instr.keyword);
                    stage.instructions.push(instr);
                }
                None => sink.error("ParseError", "no build stage in current context", span),
            },
        }
    }
    file
}

/// Where the stage references of an instruction (`--from=`, mount `from=`, and those of an
/// ONBUILD trigger) are in the text; looked up only when the instruction has such flags.
struct References {
    copy_from: Option<Span>,
    mount_froms: Vec<Option<Span>>,
    trigger: Option<Box<References>>,
}

impl References {
    fn of(raw: &RawInstruction, text: &str, escape: char) -> References {
        let has_flag = |prefix: &str| raw.flags.iter().any(|flag| flag.starts_with(prefix));
        References {
            copy_from: if has_flag("--from=") {
                words::flag_value_spans(raw, text, escape, "from")
                    .first()
                    .copied()
                    .flatten()
            } else {
                None
            },
            // Only a mount with a `from=` field gets a span (see `apply`), so the flags are
            // read again only when one may have it.
            mount_froms: if raw
                .flags
                .iter()
                .any(|flag| flag.starts_with("--mount=") && mentions_from(flag))
            {
                words::mount_from_spans(raw, text, escape)
            } else {
                Vec::new()
            },
            trigger: raw
                .sub
                .as_deref()
                .map(|sub| Box::new(References::of(sub, text, escape))),
        }
    }

    fn apply(self, instr: &mut Instr) {
        if instr.copy_from.is_some() {
            instr.copy_from_span = self.copy_from;
        }
        if instr.mount_froms.iter().any(Option::is_some) {
            instr.mount_from_spans = self.mount_froms;
        }
        if let (Some(trigger), Some(sub)) = (instr.trigger.as_deref_mut(), self.trigger) {
            sub.apply(trigger);
        }
    }
}

/// Whether `flag` contains `from=` in any letter case (a mount value that may name a stage).
fn mentions_from(flag: &str) -> bool {
    flag.as_bytes()
        .windows(5)
        .any(|window| window.eq_ignore_ascii_case(b"from="))
}

/// `ReservedStageName` and `DuplicateStageName` over all stages, with the file-level check
/// configuration (BuildKit does not apply comments above `FROM` here).
pub fn validate_stage_names(file: &Dockerfile, text: &str, sink: &mut Sink) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for stage in &file.stages {
        let Some(name) = stage.name.as_deref() else {
            continue;
        };
        let span = locate(text, stage.span, name);
        if name == "scratch" || name == "context" {
            let message =
                format!("Stage name should not use the same name as reserved stage {name:?}");
            sink.lint(&[], Rule::ReservedStageName, message, span);
        }
        if !seen.insert(name) {
            let message = format!("Duplicate stage name {name:?}, stage names should be unique");
            sink.lint(&[], Rule::DuplicateStageName, message, span);
        }
    }
}

/// `ConsistentInstructionCasing` over all stages (global ARGs are not counted, as in BuildKit),
/// with the file-level check configuration.
pub fn validate_command_casing(file: &Dockerfile, sink: &mut Sink) {
    let KeywordCases {
        lower,
        upper,
        mixed,
    } = file.keyword_cases;
    let majority_lower = lower > upper;
    // Nothing to report when every keyword has the majority's case.
    if mixed == 0
        && (if majority_lower {
            upper == 0
        } else {
            lower == 0
        })
    {
        return;
    }
    let (is_lower, is_upper) = (is_lower_keyword, is_upper_keyword);
    let keywords = file.stages.iter().flat_map(|stage| {
        std::iter::once((stage.keyword.as_ref(), stage.keyword_span)).chain(
            stage
                .instructions
                .iter()
                .map(|i| (i.keyword.as_ref(), i.keyword_span)),
        )
    });
    for (keyword, span) in keywords {
        let wanted = if majority_lower && !is_lower(keyword) {
            "lowercase"
        } else if !majority_lower && !is_upper(keyword) {
            "uppercase"
        } else {
            continue;
        };
        let message =
            format!("Command '{keyword}' should match the case of the command majority ({wanted})");
        let fix = fixes::instruction_casing(span, keyword, wanted == "lowercase");
        sink.lint_with(&[], Rule::ConsistentInstructionCasing, message, span, fix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn codes(text: &str) -> Vec<String> {
        let parsed = parse(text);
        let mut sink = Sink::new(text);
        let file = build(parsed.instructions, text, '\\', &mut sink);
        validate_stage_names(&file, text, &mut sink);
        validate_command_casing(&file, &mut sink);
        crate::diagnostics::sort(&mut sink.list);
        sink.list
            .iter()
            .map(|d| format!("{}:{}", d.code, d.line))
            .collect()
    }

    #[test]
    fn stage_checks() {
        assert_eq!(
            codes("FROM a AS Build\nFROM b as x\n"),
            vec!["StageNameCasing:1", "FromAsCasing:2"]
        );
        assert_eq!(
            codes("FROM a AS x\nFROM b AS x\nFROM c AS scratch\n"),
            vec!["DuplicateStageName:2", "ReservedStageName:3"]
        );
        assert_eq!(
            codes("FROM a\nRUN x\nrun y\nCOPY a b\n"),
            vec!["ConsistentInstructionCasing:3"]
        );
        assert_eq!(
            codes("FROM a\nRUN x\nrun y\ncopy a b\n"),
            vec![
                "ConsistentInstructionCasing:3",
                "ConsistentInstructionCasing:4"
            ]
        );
        assert_eq!(
            codes("FROM a\nCMD x\nMAINTAINER me\n"),
            vec!["MaintainerDeprecated:3"]
        );
    }

    #[test]
    fn from_errors() {
        let text = "FROM a b\nFROM a AS 1x\nRUN x\n";
        let mut sink = Sink::new(text);
        build(parse(text).instructions, text, '\\', &mut sink);
        let messages: Vec<&str> = sink.list.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "FROM requires either one or three arguments",
                "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
            ]
        );
        let text = "ENV A=1\nFROM a\n";
        let mut sink = Sink::new(text);
        build(parse(text).instructions, text, '\\', &mut sink);
        assert_eq!(sink.list[0].message, "no build stage in current context");
    }
}
