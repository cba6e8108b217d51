//! Stages: the typed instructions grouped under their `FROM`, the global ARGs kept apart, and
//! the checks BuildKit runs on every stage at parse time (frontend/dockerfile/instructions
//! `Parse`, dockerfile2llb `validateStageNames`, `validateCommandCasing`).
//!
//! Input: the syntax layer's [`Parsed`] file. Output: a [`Dockerfile`] of stages, with errors
//! and warnings sent to the [`Sink`]. Invariant: every stage keeps its file order index.

use crate::checks::{CheckConfig, Rule, Sink};
use crate::diagnostics::Span;
use crate::fixes;
use crate::flags::{FlagKind, Flags};
use crate::instructions::{type_arg, type_instruction, Instr};
use crate::plan::{Command, Op};
use crate::syntax::{words, Parsed, RawInstruction};

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
pub struct StageDecl {
    /// The `FROM` keyword as written.
    pub keyword: String,
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
    pub comments: Vec<String>,
    /// The stage's instructions in order.
    pub instructions: Vec<Instr>,
}

/// A Dockerfile typed into stages.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    /// The global ARGs in order.
    pub meta_args: Vec<MetaArg>,
    /// The stages in order.
    pub stages: Vec<StageDecl>,
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

fn parse_from(
    raw: &RawInstruction,
    text: &str,
    escape: char,
    config: &CheckConfig,
    sink: &mut Sink,
) -> Result<StageDecl, String> {
    let args = &raw.args;
    let word_spans = words::argument_spans(raw, text, escape);
    let word_span = |idx: usize| word_spans.get(idx).copied().flatten();
    if args.len() == 3 && args[2] != args[2].to_lowercase() {
        let span = locate(text, raw.span, &args[2]);
        sink.lint_with(
            config,
            Rule::StageNameCasing,
            format!("Stage name '{}' should be lowercase", args[2]),
            span,
            fixes::stage_name_casing(word_span(2), &args[2]),
        );
    }
    if args.len() >= 3 {
        let keyword = &raw.keyword;
        let (lower, upper) = (
            keyword == &keyword.to_lowercase(),
            keyword == &keyword.to_uppercase(),
        );
        let as_word = &args[1];
        let mismatch = (lower && as_word != &as_word.to_lowercase())
            || (upper && as_word != &as_word.to_uppercase());
        if (lower || upper) && mismatch {
            let message = format!("'{as_word}' and '{keyword}' keywords' casing do not match");
            let fix = fixes::from_as_casing(word_span(1), keyword);
            sink.lint_with(config, Rule::FromAsCasing, message, raw.span, fix);
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
    let flags = Flags::parse(&raw.flags, &[("platform", FlagKind::String)])?;
    let has_name = name.is_some();
    Ok(StageDecl {
        keyword: raw.keyword.clone(),
        name,
        base_text: args[0].clone(),
        platform_text: flags.string("platform").filter(|p| !p.is_empty()),
        line: raw.start_line,
        end_line: raw.end_line,
        span: raw.span,
        keyword_span: raw.keyword_span,
        base_span: word_span(0),
        name_span: word_span(2).filter(|_| has_name),
        comments: raw.comments.clone(),
        instructions: Vec::new(),
    })
}

/// Groups the parsed instructions into stages, reporting parse-time errors and checks.
pub fn build(parsed: &Parsed, text: &str, sink: &mut Sink) -> Dockerfile {
    let mut file = Dockerfile::default();
    // After a FROM that failed, its instructions belong to no stage (not to the stage before
    // it); do not report that too.
    let mut from_failed = false;
    for raw in &parsed.instructions {
        let config = sink.config.for_comments(&raw.comments);
        let keyword = raw.command();
        if keyword == "maintainer" {
            let message = "Maintainer instruction is deprecated in favor of using label";
            let fix = raw
                .args
                .first()
                .and_then(|name| fixes::maintainer_to_label(raw.span, &raw.keyword, name));
            sink.lint_with(&config, Rule::MaintainerDeprecated, message, raw.span, fix);
        }
        if keyword == "from" {
            match parse_from(raw, text, parsed.escape, &config, sink) {
                Ok(stage) => {
                    file.stages.push(stage);
                    from_failed = false;
                }
                Err(message) => {
                    sink.error("ParseError", message, raw.span);
                    from_failed = true;
                }
            }
            continue;
        }
        if file.stages.is_empty() && keyword == "arg" {
            match type_arg(raw) {
                Ok(args) => file.meta_args.extend(args.into_iter().map(|arg| MetaArg {
                    name: arg.name,
                    default: arg.default,
                    line: raw.start_line,
                    span: raw.span,
                })),
                Err(message) => sink.error("ParseError", message, raw.span),
            }
            continue;
        }
        match type_instruction(raw) {
            Err(message) => sink.error("ParseError", message, raw.span),
            Ok(_) if from_failed => {}
            Ok(mut instr) => match file.stages.last_mut() {
                Some(stage) => {
                    locate_references(&mut instr, raw, text, parsed.escape);
                    stage.instructions.push(instr);
                }
                None => sink.error("ParseError", "no build stage in current context", raw.span),
            },
        }
    }
    file
}

/// Records where the stage references of `instr` (`--from=`, mount `from=`, and those of an
/// ONBUILD trigger) are in the text.
fn locate_references(instr: &mut Instr, raw: &RawInstruction, text: &str, escape: char) {
    if instr.copy_from.is_some() {
        instr.copy_from_span = words::flag_value_spans(raw, text, escape, "from")
            .first()
            .copied()
            .flatten();
    }
    if instr.mount_froms.iter().any(Option::is_some) {
        instr.mount_from_spans = words::mount_from_spans(raw, text, escape);
    }
    if let (Some(trigger), Some(sub)) = (instr.trigger.as_deref_mut(), raw.sub.as_deref()) {
        locate_references(trigger, sub, text, escape);
    }
}

/// `ReservedStageName` and `DuplicateStageName` over all stages, with the file-level check
/// configuration (BuildKit does not apply comments above `FROM` here).
pub fn validate_stage_names(file: &Dockerfile, text: &str, sink: &mut Sink) {
    let config = sink.config.clone();
    let mut seen: Vec<&str> = Vec::new();
    for stage in &file.stages {
        let Some(name) = stage.name.as_deref() else {
            continue;
        };
        let span = locate(text, stage.span, name);
        if name == "scratch" || name == "context" {
            let message =
                format!("Stage name should not use the same name as reserved stage {name:?}");
            sink.lint(&config, Rule::ReservedStageName, message, span);
        }
        if seen.contains(&name) {
            let message = format!("Duplicate stage name {name:?}, stage names should be unique");
            sink.lint(&config, Rule::DuplicateStageName, message, span);
        }
        seen.push(name);
    }
}

/// `ConsistentInstructionCasing` over all stages (global ARGs are not counted, as in BuildKit),
/// with the file-level check configuration.
pub fn validate_command_casing(file: &Dockerfile, sink: &mut Sink) {
    let config = sink.config.clone();
    // Keywords are ASCII (others are rejected as unknown instructions before this).
    let is_lower = |s: &str| !s.bytes().any(|b| b.is_ascii_uppercase());
    let is_upper = |s: &str| !s.bytes().any(|b| b.is_ascii_lowercase());
    let keywords = file.stages.iter().flat_map(|stage| {
        std::iter::once((stage.keyword.as_str(), stage.keyword_span)).chain(
            stage
                .instructions
                .iter()
                .map(|i| (i.keyword.as_str(), i.keyword_span)),
        )
    });
    let (mut lower, mut upper) = (0usize, 0usize);
    for (keyword, _) in keywords.clone() {
        if is_lower(keyword) {
            lower += 1;
        } else if is_upper(keyword) {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
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
        sink.lint_with(
            &config,
            Rule::ConsistentInstructionCasing,
            message,
            span,
            fix,
        );
    }
}

/// What a stage passes on to stages built `FROM` it, for the dispatch-time checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inherited {
    /// An absolute WORKDIR was set in this file.
    pub workdir_set: bool,
    /// A `SHELL` is in the image config (shell-form CMD/ENTRYPOINT are then intended).
    pub shell_set: bool,
}

/// The checks BuildKit runs while dispatching a stage: `JSONArgsRecommended`,
/// `LegacyKeyValueFormat`, `WorkdirRelativePath` and `MultipleInstructionsDisallowed`.
/// Returns what the stage passes on to its children.
pub fn dispatch_checks(stage: &StageDecl, inherited: Inherited, sink: &mut Sink) -> Inherited {
    let mut state = inherited;
    let mut last_seen: [Option<Span>; 3] = [None, None, None];
    for instr in &stage.instructions {
        let config = sink.config.for_comments(&instr.comments);
        let name = instr.keyword.to_ascii_uppercase();
        let slot = match &instr.op {
            Op::Cmd { .. } => Some(0),
            Op::Entrypoint { .. } => Some(1),
            Op::Healthcheck { .. } => Some(2),
            _ => None,
        };
        if let Some(slot) = slot {
            if let Some(previous) = last_seen[slot] {
                let message = format!(
                    "Multiple {name} instructions should not be used in the same stage because only the last one will be used"
                );
                sink.lint(
                    &config,
                    Rule::MultipleInstructionsDisallowed,
                    message,
                    previous,
                );
            }
            last_seen[slot] = Some(instr.span);
        }
        match &instr.op {
            Op::Cmd {
                command: Command::Shell { .. },
            }
            | Op::Entrypoint {
                command: Command::Shell { .. },
            } if !state.shell_set => {
                let message = format!(
                    "JSON arguments recommended for {name} to prevent unintended behavior related to OS signals"
                );
                let fix = fixes::json_args(instr.span, &instr.keyword, &instr.op);
                sink.lint_with(&config, Rule::JsonArgsRecommended, message, instr.span, fix);
            }
            Op::Shell { .. } => state.shell_set = true,
            Op::Env { .. } | Op::Label { .. } if instr.legacy_key_value => {
                let message = format!(
                    "\"{name} key=value\" should be used instead of legacy \"{name} key value\" format"
                );
                let fix = fixes::key_value(instr.span, &instr.keyword, &instr.op);
                sink.lint_with(
                    &config,
                    Rule::LegacyKeyValueFormat,
                    message,
                    instr.span,
                    fix,
                );
            }
            Op::Workdir { path } => {
                let absolute = path.starts_with('/') || path.starts_with('$');
                if !absolute && !state.workdir_set {
                    let message = format!(
                        "Relative workdir {path:?} can have unexpected results if the base image changes"
                    );
                    sink.lint(&config, Rule::WorkdirRelativePath, message, instr.span);
                }
                state.workdir_set = true;
            }
            _ => {}
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn codes(text: &str) -> Vec<String> {
        let parsed = parse(text);
        let mut sink = Sink::new(text);
        let file = build(&parsed, text, &mut sink);
        validate_stage_names(&file, text, &mut sink);
        validate_command_casing(&file, &mut sink);
        for stage in &file.stages {
            dispatch_checks(stage, Inherited::default(), &mut sink);
        }
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
            codes("FROM a\nCMD x\nCMD [\"y\"]\nENV A 1\nWORKDIR app\nMAINTAINER me\n"),
            vec![
                "JSONArgsRecommended:2",
                "MultipleInstructionsDisallowed:2",
                "LegacyKeyValueFormat:4",
                "WorkdirRelativePath:5",
                "MaintainerDeprecated:6"
            ]
        );
    }

    #[test]
    fn from_errors() {
        let text = "FROM a b\nFROM a AS 1x\nRUN x\n";
        let mut sink = Sink::new(text);
        build(&parse(text), text, &mut sink);
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
        build(&parse(text), text, &mut sink);
        assert_eq!(sink.list[0].message, "no build stage in current context");
    }
}
