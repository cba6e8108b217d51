//! The references an instruction makes to other stages or images: `COPY --from` (dockerfile2llb
//! `toCommand`: an index, a stage name or an image) and `RUN --mount from=` (`detectRunMount`: a
//! stage name or an image), turned into edges and written into the instruction's op.
//!
//! Input: a typed instruction and the name index. Output: its [`GraphEdge`]s, and the resolved
//! sources in its op; errors go to the sink.
//! Invariant: an edge is added for every reference that resolves, whatever else fails.

use crate::args::validate_reference;
use crate::checks::Sink;
use crate::diagnostics::Span;
use crate::expand::{Lexer, NoVars};
use crate::instructions::Instr;
use crate::plan::{EdgeKind, Op, Source};

use super::model::GraphEdge;
use super::names::NameIndex;

/// Go `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// What a `COPY --from=` value resolves to, and the error it raises.
pub(super) struct CopyFrom {
    pub(super) source: Option<Source>,
    error: Option<(&'static str, String)>,
}

/// `COPY --from=` as dockerfile2llb `toCommand` resolves it: literal only, an index, a stage
/// name (case-insensitive, the last definition), `scratch`, else an image.
pub(super) fn resolve_copy_from(names: &NameIndex, lexer: &Lexer, from: &str) -> CopyFrom {
    let unchanged = lexer
        .process_word(from, &NoVars)
        .map(|e| e.word == from)
        .unwrap_or(false);
    let fail = |code, message: String| CopyFrom {
        source: None,
        error: Some((code, message)),
    };
    let resolved = |source| CopyFrom {
        source: Some(source),
        error: None,
    };
    if !unchanged {
        return fail(
            "VariableInFrom",
            "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string(),
        );
    }
    if let Some(index) = atoi(from) {
        return if index < 0 || index as usize >= names.n_stages {
            fail("InvalidStageIndex", format!("invalid stage index {index}"))
        } else {
            resolved(Source::Stage {
                stage: index as usize,
            })
        };
    }
    if let Some(found) = names.last(from) {
        return resolved(Source::Stage { stage: found });
    }
    if from == "scratch" {
        return resolved(Source::Scratch);
    }
    if from.eq_ignore_ascii_case("context") {
        return fail(
            "ReservedContext",
            "cannot copy --from=context: \"context\" is reserved, not a stage or image; copy from the build context without --from".to_string(),
        );
    }
    CopyFrom {
        source: Some(Source::Image {
            image: from.to_string(),
        }),
        error: validate_reference(from).err().map(|reason| {
            (
                "InvalidFrom",
                format!("invalid --from={from:?}: {reason}; name an earlier stage or an image"),
            )
        }),
    }
}

/// A mount's `from=`: a stage name (case-insensitive, the last definition), `scratch`, else
/// an image (no index, unlike COPY).
fn resolve_mount_from(names: &NameIndex, from: &str) -> Source {
    match names.last(from) {
        Some(found) => Source::Stage { stage: found },
        None if from == "scratch" => Source::Scratch,
        None => Source::Image {
            image: from.to_string(),
        },
    }
}

/// Writes the resolved `COPY --from` source (`copy_source`, resolved by the caller) and each
/// mount's `from` source into the op.
pub(super) fn resolve_sources(names: &NameIndex, instr: &mut Instr, copy_source: Option<Source>) {
    if instr.copy_from.is_some() {
        if let Op::Copy(spec) | Op::Add(spec) = &mut instr.plan.op {
            spec.from = copy_source;
        }
    }
    if let Op::Run { mounts, .. } = &mut instr.plan.op {
        for (mount, from) in mounts.iter_mut().zip(&instr.mount_froms) {
            match from {
                Some(from) => mount.from = Some(resolve_mount_from(names, from)),
                // BuildKit starts a cache mount without `from=` from whatever the name
                // `scratch` resolves to: a stage called that, when there is one.
                None if mount.mount_type == "cache" => {
                    mount.from = names.scratch.map(|stage| Source::Stage { stage });
                }
                None => {}
            }
        }
    }
}

/// Appends the edges of one instruction to `edges`, reporting what cannot be resolved;
/// returns what its `COPY --from` resolved to.
pub(super) fn instruction_edges(
    names: &NameIndex,
    instr: &Instr,
    onbuild: bool,
    instr_idx: usize,
    lexer: &Lexer,
    sink: &mut Sink,
    edges: &mut Vec<GraphEdge>,
) -> Option<Source> {
    let (span, line) = (instr.span, instr.plan.line);
    let edge = |kind, source, written: &str, word: Option<Span>, mount_target| GraphEdge {
        kind,
        source,
        onbuild,
        written: written.to_string(),
        instr_idx: Some(instr_idx),
        span,
        line,
        mount_target,
        word,
        implicit: false,
    };
    let mut copy_source = None;
    if let Some(from) = &instr.copy_from {
        let resolved = resolve_copy_from(names, lexer, from);
        if let Some((code, message)) = resolved.error {
            sink.error(code, message, span);
        }
        if let Some(source) = resolved.source {
            copy_source = Some(source.clone());
            edges.push(edge(
                EdgeKind::Copy,
                source,
                from,
                instr.copy_from_span,
                None,
            ));
        }
    }
    if let Op::Run { mounts, .. } = &instr.plan.op {
        for (mount_idx, (mount, from)) in mounts.iter().zip(&instr.mount_froms).enumerate() {
            match from {
                Some(from) => {
                    let source = resolve_mount_from(names, from);
                    let word = instr.mount_from_spans.get(mount_idx).copied().flatten();
                    let target = mount.target.clone();
                    edges.push(edge(EdgeKind::Mount, source, from, word, target));
                }
                // A mount without `from` looks up the name "scratch": it only matters when a
                // stage is called that.
                None => {
                    if let Some(found) = names.scratch {
                        let mut implicit = edge(
                            EdgeKind::Mount,
                            Source::Stage { stage: found },
                            "scratch",
                            None,
                            mount.target.clone(),
                        );
                        implicit.implicit = true;
                        edges.push(implicit);
                    }
                }
            }
        }
    }
    copy_source
}
