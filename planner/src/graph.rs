//! The stage graph (dockerfile2llb `buildDispatchStates`, `toCommand`, `detectRunMount`,
//! `initOnBuildTriggers`, `validateCircularDependency`): each `FROM` expanded with the global
//! ARGs and resolved to an earlier stage, `scratch` or an image; `COPY --from` and
//! `RUN --mount from=` resolved by index or case-insensitive name (the last definition wins)
//! or as images; ONBUILD triggers of a parent stage prepended to its children; cycles.
//!
//! Input: the typed [`Dockerfile`] and the resolved global ARGs. Output: a [`Graph`].
//! Invariant: errors go to the sink and never stop the walk; a stage whose base cannot be
//! resolved still gets a node (as an image of its raw text) so later stages stay indexed.

use std::collections::BTreeMap;

use crate::args::{validate_reference, MetaArgs, Platform};
use crate::checks::{Rule, Sink};
use crate::diagnostics::Span;
use crate::expand::{Lexer, NoVars};
use crate::instructions::Instr;
use crate::plan::{EdgeKind, Op, Source};
use crate::stage::{locate, Dockerfile};
use crate::suggest;

pub use crate::render::{render, GraphFormat};

/// One dependency edge with the place that creates it.
#[derive(Debug, Clone)]
pub struct GraphEdge {
    /// FROM, COPY or mount.
    pub kind: EdgeKind,
    /// What it points at.
    pub source: Source,
    /// From an ONBUILD trigger of the parent stage.
    pub onbuild: bool,
    /// The reference as written (`--from=` value; FROM base after expansion).
    pub written: String,
    /// Index of the instruction in the stage's (trigger-prefixed) list; `None` for FROM.
    pub instr_idx: Option<usize>,
    /// Bytes of the instruction.
    pub span: Span,
    /// 1-based line.
    pub line: u32,
    /// For mounts: the target path, for the forward-reference message.
    pub mount_target: Option<String>,
    /// Bytes of the reference word in the text (the FROM base, the `--from=` or `from=`
    /// value), when known.
    pub word: Option<Span>,
    /// True for the edge of a mount without `from=` to a stage called `scratch` (nothing
    /// written names it).
    pub implicit: bool,
}

/// A stage node.
#[derive(Debug, Clone)]
pub struct StageNode {
    /// The base after expansion and lookup.
    pub base: Source,
    /// `--platform` after expansion.
    pub platform: Option<String>,
    /// Instructions: parent ONBUILD triggers first (with their origin), then the stage's own.
    pub instructions: Vec<(Instr, Option<usize>)>,
    /// All edges in order, FROM first.
    pub edges: Vec<GraphEdge>,
}

/// The resolved stage graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// One node per stage, in file order.
    pub nodes: Vec<StageNode>,
}

impl Graph {
    /// Sorted, unique indices of the stages `stage_idx` depends on.
    pub fn depends_on(&self, stage_idx: usize) -> Vec<usize> {
        let mut deps: Vec<usize> = self.nodes[stage_idx]
            .edges
            .iter()
            .filter_map(|edge| match edge.source {
                Source::Stage { stage } => Some(stage),
                _ => None,
            })
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }
}

/// BuildKit's display name: the stage name, or `stage-N`.
pub fn display_name(file: &Dockerfile, stage_idx: usize) -> String {
    match &file.stages[stage_idx].name {
        Some(name) => name.clone(),
        None if file.stages.len() == 1 => String::new(),
        None => format!("stage-{stage_idx}"),
    }
}

/// Stage names (lower-cased) to their indices in file order, so lookups do not scan the file.
struct NameIndex<'a> {
    by_name: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> NameIndex<'a> {
    fn new(file: &'a Dockerfile) -> NameIndex<'a> {
        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (idx, stage) in file.stages.iter().enumerate() {
            if let Some(name) = &stage.name {
                by_name.entry(name.as_str()).or_default().push(idx);
            }
        }
        NameIndex { by_name }
    }

    /// The last stage called `name` (case-insensitive): what `COPY --from`, mounts and
    /// `--target` bind to.
    fn last(&self, name: &str) -> Option<usize> {
        let found = match self.by_name.get(name) {
            Some(found) => Some(found),
            None => self.by_name.get(name.to_lowercase().as_str()),
        };
        found.and_then(|indices| indices.last().copied())
    }

    /// The last stage called exactly `name` before `before`: what `FROM` binds to.
    fn last_before(&self, name: &str, before: usize) -> Option<usize> {
        let indices = self.by_name.get(name)?;
        let count = indices.partition_point(|idx| *idx < before);
        count.checked_sub(1).map(|pos| indices[pos])
    }
}

/// Resolves every stage's base and dependencies.
pub fn build(
    file: &Dockerfile,
    meta: &MetaArgs,
    lexer: &Lexer,
    text: &str,
    sink: &mut Sink,
) -> Graph {
    let mut graph = Graph::default();
    let names = NameIndex::new(file);
    for (stage_idx, stage) in file.stages.iter().enumerate() {
        let config = sink.config.for_comments(&stage.comments);
        let (base, platform) =
            resolve_from(file, &names, stage_idx, meta, lexer, text, &config, sink);
        let mut node = StageNode {
            base: base.clone(),
            platform,
            instructions: Vec::new(),
            edges: Vec::new(),
        };
        node.edges.push(GraphEdge {
            kind: EdgeKind::From,
            source: base.clone(),
            onbuild: false,
            written: stage.base_text.clone(),
            instr_idx: None,
            span: stage.span,
            line: stage.line,
            mount_target: None,
            word: stage.base_span,
            implicit: false,
        });
        if let Source::Stage { stage: parent } = base {
            for instr in &file.stages[parent].instructions {
                if let Some(trigger) = &instr.trigger {
                    node.instructions.push(((**trigger).clone(), Some(parent)));
                }
            }
        }
        node.instructions.extend(
            stage
                .instructions
                .iter()
                .cloned()
                .map(|instr| (instr, None)),
        );
        for (instr_idx, (instr, origin)) in node.instructions.iter_mut().enumerate() {
            let edges = instruction_edges(
                file,
                &names,
                instr,
                origin.is_some(),
                instr_idx,
                lexer,
                sink,
            );
            node.edges.extend(edges);
        }
        graph.nodes.push(node);
    }
    check_cycles(file, &graph, sink);
    graph
}

#[allow(clippy::too_many_arguments)]
fn resolve_from(
    file: &Dockerfile,
    names: &NameIndex,
    stage_idx: usize,
    meta: &MetaArgs,
    lexer: &Lexer,
    text: &str,
    config: &crate::checks::CheckConfig,
    sink: &mut Sink,
) -> (Source, Option<String>) {
    let stage = &file.stages[stage_idx];
    let fallback = Source::Image {
        image: stage.base_text.clone(),
    };
    let base = match lexer.process_word(&stage.base_text, &meta.env) {
        Err(e) => {
            sink.error("ExpansionError", e.message, stage.span);
            fallback
        }
        Ok(expanded) => {
            report_undefined_args(&expanded.unmatched, meta, stage.span, config, sink);
            let name = expanded.word;
            if name.is_empty() {
                sink.error(
                    "BlankBaseName",
                    format!("base name ({}) should not be blank", stage.base_text),
                    stage.span,
                );
                fallback
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
                Source::Image { image: name }
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
        report_undefined_args(&expanded.unmatched, meta, stage.span, config, sink);
        if expanded.matched.len() == 1 && expanded.unmatched.is_empty() && expanded.matched.contains("TARGETPLATFORM") && meta.env.get("TARGETPLATFORM") == Some(&expanded.word) {
            let message = format!("Setting platform to predefined {written} in FROM is redundant as this is the default behavior");
            sink.lint(config, Rule::RedundantTargetPlatform, message, span);
        }
        if expanded.word.is_empty() {
            sink.error("InvalidPlatform", format!("empty platform value from expression {written}"), span);
            return None;
        }
        match Platform::parse(&expanded.word) {
            Err(reason) => {
                sink.error("InvalidPlatform", format!("failed to parse platform {written}: {reason}"), span);
                None
            }
            Ok(parsed) => {
                let constant = expanded.matched.is_empty() && expanded.unmatched.is_empty();
                let name = stage.name.as_deref().unwrap_or("");
                if constant && !name.contains(&parsed.os) && !name.contains(&parsed.arch) {
                    let message = format!("FROM --platform flag should not use constant value {:?}", expanded.word);
                    sink.lint(config, Rule::FromPlatformFlagConstDisallowed, message, span);
                }
                Some(parsed.format())
            }
        }
    });
    (base, platform)
}

fn report_undefined_args(
    unmatched: &std::collections::BTreeSet<String>,
    meta: &MetaArgs,
    span: Span,
    config: &crate::checks::CheckConfig,
    sink: &mut Sink,
) {
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
        sink.lint(config, Rule::UndefinedArgInFrom, message, span);
    }
}

/// Go `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// The edges of one instruction; also records the resolved sources in its op (COPY
/// `from` and each mount's `from`).
fn instruction_edges(
    file: &Dockerfile,
    names: &NameIndex,
    instr: &mut Instr,
    onbuild: bool,
    instr_idx: usize,
    lexer: &Lexer,
    sink: &mut Sink,
) -> Vec<GraphEdge> {
    let mut edges = Vec::new();
    let (span, line) = (instr.span, instr.line);
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
    let copy_word = instr.copy_from_span;
    if let Some(from) = &instr.copy_from {
        let unchanged = lexer
            .process_word(from, &NoVars)
            .map(|e| e.word == *from)
            .unwrap_or(false);
        if !unchanged {
            sink.error(
                "VariableInFrom",
                "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
                span,
            );
        } else if let Some(index) = atoi(from) {
            if index < 0 || index as usize >= file.stages.len() {
                sink.error(
                    "InvalidStageIndex",
                    format!("invalid stage index {index}"),
                    span,
                );
            } else {
                edges.push(edge(
                    EdgeKind::Copy,
                    Source::Stage {
                        stage: index as usize,
                    },
                    from,
                    copy_word,
                    None,
                ));
            }
        } else if let Some(found) = names.last(from) {
            edges.push(edge(
                EdgeKind::Copy,
                Source::Stage { stage: found },
                from,
                copy_word,
                None,
            ));
        } else if from == "scratch" {
            edges.push(edge(EdgeKind::Copy, Source::Scratch, from, copy_word, None));
        } else if from.eq_ignore_ascii_case("context") {
            sink.error(
                "ReservedContext",
                "cannot copy --from=context: \"context\" is reserved, not a stage or image; copy from the build context without --from",
                span,
            );
        } else {
            if let Err(reason) = validate_reference(from) {
                sink.error(
                    "InvalidFrom",
                    format!("invalid --from={from:?}: {reason}; name an earlier stage or an image"),
                    span,
                );
            }
            edges.push(edge(
                EdgeKind::Copy,
                Source::Image {
                    image: from.clone(),
                },
                from,
                copy_word,
                None,
            ));
        }
    }
    if let Some(copy_edge) = edges.iter().find(|e| e.kind == EdgeKind::Copy) {
        if let Op::Copy(spec) | Op::Add(spec) = &mut instr.op {
            spec.from = Some(copy_edge.source.clone());
        }
    }
    if let Op::Run { mounts, .. } = &mut instr.op {
        for (mount_idx, (mount, from)) in mounts.iter_mut().zip(&instr.mount_froms).enumerate() {
            let target = mount.target.clone();
            let word = instr.mount_from_spans.get(mount_idx).copied().flatten();
            match from {
                Some(from) => {
                    let source = match names.last(from) {
                        Some(found) => Source::Stage { stage: found },
                        None if from == "scratch" => Source::Scratch,
                        None => Source::Image {
                            image: from.clone(),
                        },
                    };
                    mount.from = Some(source.clone());
                    edges.push(edge(EdgeKind::Mount, source, from, word, target));
                }
                // A mount without `from` looks up the name "scratch": it only matters when a
                // stage is called that.
                None => {
                    if let Some(found) = names.last("scratch") {
                        let mut implicit = edge(
                            EdgeKind::Mount,
                            Source::Stage { stage: found },
                            "scratch",
                            None,
                            target,
                        );
                        implicit.implicit = true;
                        edges.push(implicit);
                    }
                }
            }
        }
    }
    edges
}

/// `circular dependency detected on stage: X`, naming the first stage in file order whose
/// walk finds a cycle, with the cycle spelled out.
fn check_cycles(file: &Dockerfile, graph: &Graph, sink: &mut Sink) {
    let n_stages = graph.nodes.len();
    let mut visited = vec![false; n_stages];
    let mut on_path = vec![false; n_stages];
    let mut path = Vec::new();
    for root in 0..n_stages {
        if let Some(cycle) = visit(graph, root, &mut visited, &mut on_path, &mut path) {
            let names: Vec<String> = cycle.iter().map(|idx| quoted_name(file, *idx)).collect();
            let message = format!(
                "circular dependency detected on stage: {} (cycle: {})",
                quoted_name(file, root),
                names.join(" -> ")
            );
            sink.error("CircularDependency", message, file.stages[root].span);
            return;
        }
    }
}

/// The name BuildKit uses here (checked before a single-stage file's display name is cleared).
fn quoted_name(file: &Dockerfile, idx: usize) -> String {
    match &file.stages[idx].name {
        Some(name) => name.clone(),
        None => format!("stage-{idx}"),
    }
}

fn visit(
    graph: &Graph,
    idx: usize,
    visited: &mut [bool],
    on_path: &mut [bool],
    path: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    if visited[idx] {
        return None;
    }
    visited[idx] = true;
    on_path[idx] = true;
    path.push(idx);
    for edge in graph.nodes[idx]
        .edges
        .iter()
        .filter(|e| e.kind != EdgeKind::From)
    {
        let Source::Stage { stage: dep } = edge.source else {
            continue;
        };
        if on_path[dep] {
            let start = path.iter().position(|p| *p == dep).unwrap_or(0);
            let mut cycle = path[start..].to_vec();
            cycle.push(dep);
            return Some(cycle);
        }
        if let Some(cycle) = visit(graph, dep, visited, on_path, path) {
            return Some(cycle);
        }
    }
    on_path[idx] = false;
    path.pop();
    None
}
