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

mod base;
mod cycles;
mod model;
mod names;
mod references;

use crate::args::MetaArgs;
use crate::checks::Sink;
use crate::expand::Lexer;
use crate::plan::{EdgeKind, Source};
use crate::stage::Dockerfile;

use base::resolve_from;
use cycles::check_cycles;
use model::stage_dependencies;
pub use model::{Graph, GraphEdge, StageNode};
use names::NameIndex;
use references::{instruction_edges, resolve_copy_from, resolve_sources};

pub use crate::render::{render, GraphFormat};

/// BuildKit's display name: the stage name, or `stage-N`.
pub fn display_name(file: &Dockerfile, stage_idx: usize) -> String {
    match &file.stages[stage_idx].name {
        Some(name) => name.clone(),
        None if file.stages.len() == 1 => String::new(),
        None => format!("stage-{stage_idx}"),
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
