//! The stage graph's types: a node per stage with its resolved base and platform, and every
//! dependency edge with the place in the text that creates it.
//!
//! Input: nothing (plain data). Output: [`Graph`], [`StageNode`], [`GraphEdge`].
//! Invariant: a node's `depends_on` is the sorted, unique set of the stages its edges point at.

use crate::diagnostics::Span;
use crate::plan::{EdgeKind, Source};

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

pub(super) fn stage_dependencies(edges: &[GraphEdge]) -> Vec<usize> {
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
