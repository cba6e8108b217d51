//! The stage graph (dockerfile2llb `buildDispatchStates`, `toCommand`, `detectRunMount`,
//! `initOnBuildTriggers`, `validateCircularDependency`): each `FROM` expanded with the global
//! ARGs and resolved to an earlier stage, `scratch` or an image; `COPY --from` and
//! `RUN --mount from=` resolved by index or case-insensitive name (the last definition wins)
//! or as images; ONBUILD triggers of a parent stage prepended to its children; cycles.
//!
//! Input: the typed [`Dockerfile`] and the resolved global ARGs. Output: a [`Graph`], and the
//! resolved sources written into the instructions' ops.
//! Invariant: errors go to the sink and never stop the walk; a stage whose base cannot be
//! resolved still gets a node (as an image of its raw text) so later stages stay indexed; every
//! phase is linear in the stages and edges (name lookups through an ordered index, the cycle
//! search iterative).

use std::collections::BTreeMap;

use crate::args::{validate_reference, MetaArgs, Platform};
use crate::checks::{Rule, Sink};
use crate::diagnostics::Span;
use crate::expand::{Lexer, NoVars};
use crate::instructions::Instr;
use crate::plan::{EdgeKind, Op, Source};
use crate::stage::{locate, Dockerfile, StageDecl};
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
    /// The stage whose ONBUILD triggers run first in this stage (its base stage, when that
    /// has triggers).
    pub triggers_from: Option<usize>,
    /// All edges in order, FROM first.
    pub edges: Vec<GraphEdge>,
    /// Sorted, unique indices of the stages this one depends on.
    pub depends_on: Vec<usize>,
}

/// The resolved stage graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// One node per stage, in file order.
    pub nodes: Vec<StageNode>,
}

impl Graph {
    /// Sorted, unique indices of the stages `stage_idx` depends on.
    pub fn depends_on(&self, stage_idx: usize) -> &[usize] {
        &self.nodes[stage_idx].depends_on
    }
}

fn stage_dependencies(edges: &[GraphEdge]) -> Vec<usize> {
    let mut deps: Vec<usize> = edges
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

/// BuildKit's display name: the stage name, or `stage-N`.
pub fn display_name(file: &Dockerfile, stage_idx: usize) -> String {
    match &file.stages[stage_idx].name {
        Some(name) => name.clone(),
        None if file.stages.len() == 1 => String::new(),
        None => format!("stage-{stage_idx}"),
    }
}

/// Stage names (lower-cased) to their indices in file order, so lookups do not scan the file.
struct NameIndex {
    by_name: BTreeMap<String, Vec<usize>>,
    n_stages: usize,
    /// The last stage called `scratch`, which a mount without `from=` binds to.
    scratch: Option<usize>,
}

impl NameIndex {
    fn new(file: &Dockerfile) -> NameIndex {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (idx, stage) in file.stages.iter().enumerate() {
            if let Some(name) = &stage.name {
                match by_name.get_mut(name.as_str()) {
                    Some(indices) => indices.push(idx),
                    None => {
                        by_name.insert(name.clone(), vec![idx]);
                    }
                }
            }
        }
        let scratch = by_name
            .get("scratch")
            .and_then(|indices| indices.last().copied());
        NameIndex {
            by_name,
            n_stages: file.stages.len(),
            scratch,
        }
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

/// Resolves every stage's base and dependencies, and writes the resolved `COPY --from` and
/// mount sources into the instructions (the triggers' too).
pub fn build(
    file: &mut Dockerfile,
    meta: &MetaArgs,
    lexer: &Lexer,
    text: &str,
    sink: &mut Sink,
) -> Graph {
    let names = NameIndex::new(file);
    for stage in &mut file.stages {
        for instr in &mut stage.instructions {
            if let Some(trigger) = &mut instr.trigger {
                let copy_source = trigger
                    .copy_from
                    .as_deref()
                    .and_then(|from| resolve_copy_from(&names, lexer, from).source);
                resolve_sources(&names, trigger, copy_source);
            }
        }
    }
    let mut graph = Graph {
        nodes: Vec::with_capacity(file.stages.len()),
    };
    for stage_idx in 0..file.stages.len() {
        let (base, platform) = resolve_from(file, &names, stage_idx, meta, lexer, text, sink);
        let stage = &file.stages[stage_idx];
        // FROM, then at most one edge per `--from=` and per mount (the parent's triggers add
        // theirs later, rarely).
        let n_edges = stage
            .instructions
            .iter()
            .map(|instr| usize::from(instr.copy_from.is_some()) + instr.mount_froms.len())
            .sum::<usize>();
        let mut edges = Vec::with_capacity(1 + n_edges);
        edges.push(GraphEdge {
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
        let mut instr_idx = 0;
        let mut triggers_from = None;
        if let Source::Stage { stage: parent } = base {
            for instr in &file.stages[parent].instructions {
                if let Some(trigger) = &instr.trigger {
                    triggers_from = Some(parent);
                    instruction_edges(&names, trigger, true, instr_idx, lexer, sink, &mut edges);
                    instr_idx += 1;
                }
            }
        }
        for instr in &mut file.stages[stage_idx].instructions {
            let copy_source =
                instruction_edges(&names, instr, false, instr_idx, lexer, sink, &mut edges);
            resolve_sources(&names, instr, copy_source);
            instr_idx += 1;
        }
        graph.nodes.push(StageNode {
            base,
            platform,
            triggers_from,
            depends_on: stage_dependencies(&edges),
            edges,
        });
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

/// Go `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// What a `COPY --from=` value resolves to, and the error it raises.
struct CopyFrom {
    source: Option<Source>,
    error: Option<(&'static str, String)>,
}

/// `COPY --from=` as dockerfile2llb `toCommand` resolves it: literal only, an index, a stage
/// name (case-insensitive, the last definition), `scratch`, else an image.
fn resolve_copy_from(names: &NameIndex, lexer: &Lexer, from: &str) -> CopyFrom {
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
fn resolve_sources(names: &NameIndex, instr: &mut Instr, copy_source: Option<Source>) {
    if instr.copy_from.is_some() {
        if let Op::Copy(spec) | Op::Add(spec) = &mut instr.plan.op {
            spec.from = copy_source;
        }
    }
    if let Op::Run { mounts, .. } = &mut instr.plan.op {
        for (mount, from) in mounts.iter_mut().zip(&instr.mount_froms) {
            if let Some(from) = from {
                mount.from = Some(resolve_mount_from(names, from));
            }
        }
    }
}

/// Appends the edges of one instruction to `edges`, reporting what cannot be resolved;
/// returns what its `COPY --from` resolved to.
fn instruction_edges(
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

/// `circular dependency detected on stage: X`, naming the first stage in file order whose
/// walk finds a cycle, with the cycle spelled out. FROM edges are not followed, as in BuildKit
/// (`validateCircularDependency` walks the commands' sources only). The depth-first walk keeps
/// its own stack, so a chain of any length cannot overflow the thread's stack.
fn check_cycles(file: &Dockerfile, graph: &Graph, sink: &mut Sink) {
    let n_stages = graph.nodes.len();
    let mut visited = vec![false; n_stages];
    let mut on_path = vec![false; n_stages];
    for root in 0..n_stages {
        if let Some(cycle) = find_cycle(graph, root, &mut visited, &mut on_path) {
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

/// The first cycle reachable from `root` over non-FROM stage edges, in edge order, as the
/// path from where it closes back to that stage.
fn find_cycle(
    graph: &Graph,
    root: usize,
    visited: &mut [bool],
    on_path: &mut [bool],
) -> Option<Vec<usize>> {
    if visited[root] {
        return None;
    }
    // Each frame: a stage on the path and the position of the next edge to follow.
    let mut path: Vec<(usize, usize)> = vec![(root, 0)];
    visited[root] = true;
    on_path[root] = true;
    while let Some(&mut (idx, ref mut next_edge)) = path.last_mut() {
        let edges = &graph.nodes[idx].edges;
        let mut descend = None;
        while *next_edge < edges.len() {
            let edge = &edges[*next_edge];
            *next_edge += 1;
            if edge.kind == EdgeKind::From {
                continue;
            }
            let Source::Stage { stage: dep } = edge.source else {
                continue;
            };
            if on_path[dep] {
                let start = path.iter().position(|(p, _)| *p == dep).unwrap_or(0);
                let mut cycle: Vec<usize> = path[start..].iter().map(|(p, _)| *p).collect();
                cycle.push(dep);
                return Some(cycle);
            }
            if !visited[dep] {
                descend = Some(dep);
                break;
            }
        }
        match descend {
            Some(dep) => {
                visited[dep] = true;
                on_path[dep] = true;
                path.push((dep, 0));
            }
            None => {
                on_path[idx] = false;
                path.pop();
            }
        }
    }
    None
}
