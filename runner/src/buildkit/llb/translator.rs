//! The state of one translation that every conversion reads and extends: the input, the LLB
//! graph so far, the finished stages, and which op performs which instruction.
//!
//! Input: the [`TranslateInput`].
//! Output: a [`Translator`] the conversions add ops to, and the [`Step`] they are given.
//! Invariant: knows no kind of instruction; the `convert_*` modules and [`super::dispatch`]
//! build on it, never the other way round.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use planner::plan::{Instruction, Plan};

use super::graph::{LlbGraph, NodeId, Output};
use super::state::StageState;
use super::types::{StepInfo, TranslateInput};

/// What the translation builds up.
pub struct Translator<'a> {
    /// The input.
    pub input: &'a TranslateInput<'a>,
    /// The ops.
    pub graph: LlbGraph,
    /// The final state of every stage translated so far.
    pub finished: BTreeMap<usize, StageState>,
    /// The node each step became.
    pub steps: Vec<(NodeId, StepInfo)>,
    /// The build context's source, once a step uses it.
    pub context_node: Option<NodeId>,
    /// Context paths the COPY/ADD steps and bind mounts read (the source's follow paths).
    pub context_paths: BTreeSet<String>,
    /// Image sources by identifier, so each image is one op.
    pub image_nodes: BTreeMap<String, NodeId>,
    /// Entitlements the solve must be granted (`network.host`, `security.insecure`).
    pub entitlements: BTreeSet<String>,
}

/// The instruction being translated, for messages and progress.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// The instruction.
    pub instruction: &'a Instruction,
    /// Its 1-based position in the stage (ONBUILD triggers of an image base first).
    pub number: usize,
}

impl<'a> Translator<'a> {
    /// A translator for `input`.
    pub fn new(input: &'a TranslateInput<'a>) -> Translator<'a> {
        Translator {
            input,
            graph: LlbGraph::default(),
            finished: BTreeMap::new(),
            steps: Vec::new(),
            context_node: None,
            context_paths: BTreeSet::new(),
            image_nodes: BTreeMap::new(),
            entitlements: BTreeSet::new(),
        }
    }

    /// Notes that the solve needs `entitlement`.
    pub fn entitlement(&mut self, entitlement: &str) {
        self.entitlements.insert(entitlement.to_string());
    }

    /// The plan.
    pub fn plan(&self) -> &'a Plan {
        self.input.plan
    }

    /// Whether the daemon supports LLB capability `cap`.
    pub fn has_cap(&self, cap: &str) -> bool {
        self.input.caps.contains(cap)
    }

    /// Records that `node` performs `step` of `state`'s stage.
    pub fn record_step(&mut self, node: NodeId, state: &StageState, step: Step<'_>) {
        self.steps.push((
            node,
            StepInfo {
                stage: state.display.clone(),
                stage_index: state.stage_index,
                step: step.number,
                line: step.instruction.line,
                text: step.instruction.text.clone(),
            },
        ));
    }

    /// The root of a stage translated earlier (for `COPY --from`, mounts and stage bases).
    pub fn stage_root(&self, index: usize) -> Result<Option<Output>, String> {
        self.finished
            .get(&index)
            .map(|state| state.root)
            .ok_or_else(|| {
                format!(
                    "stage {index} is used before it is built; the plan's waves must list it earlier (re-create the plan)"
                )
            })
    }

    /// The op platform of a stage.
    pub fn platform(&self, state: &StageState) -> Option<pb::Platform> {
        Some(state.platform.clone())
    }
}
