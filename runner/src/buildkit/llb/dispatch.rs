//! The translation loop: every needed stage, in the plan's wave order, instruction by
//! instruction (BuildKit's `Dockerfile2LLB` and `dispatch`).
//!
//! Input: the [`TranslateInput`].
//! Output: the graph, each needed stage's final [`StageState`], and which node each instruction
//! became (for progress and errors).
//! Invariant: stage names, targets, edges and waves are read from the plan, never re-derived;
//! each instruction kind is handled by its own `convert_*` module, and this loop is the only
//! place that calls them.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use planner::plan::{Instruction, Op, Plan, Source, Stage};

use super::graph::{LlbGraph, NodeId, Output};
use super::state::StageState;
use super::{
    convert_copy, convert_metadata, convert_run, convert_source, convert_workdir, StepInfo,
    TranslateError, TranslateInput,
};

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

    /// Translates every needed stage.
    pub fn run(&mut self) -> Result<(), TranslateError> {
        let plan = self.plan();
        let order: Vec<usize> = plan.waves.iter().flatten().copied().collect();
        for index in order {
            let stage = plan.stages.get(index).ok_or_else(|| TranslateError {
                stage: format!("stage-{index}"),
                line: 0,
                message: format!(
                    "the plan's waves name stage {index}, but it has {} stages; re-create the plan",
                    plan.stages.len()
                ),
            })?;
            let state = self.translate_stage(stage)?;
            self.finished.insert(index, state);
        }
        convert_source::finish_context(self);
        Ok(())
    }

    fn translate_stage(&mut self, stage: &'a Stage) -> Result<StageState, TranslateError> {
        let display = super::display_name(stage);
        let fail = |line: u32, message: String| TranslateError {
            stage: display.clone(),
            line,
            message,
        };
        let (mut state, triggers) = convert_source::base_state(self, stage, &display)
            .map_err(|m| fail(stage.location.line, m))?;
        let mut number = 0;
        for trigger in &triggers {
            number += 1;
            let step = Step {
                instruction: trigger,
                number,
            };
            self.dispatch(&mut state, step).map_err(|m| {
                fail(
                    stage.location.line,
                    format!("ONBUILD trigger `{}` of the base image: {m}", trigger.text),
                )
            })?;
        }
        for instruction in &stage.instructions {
            number += 1;
            let step = Step {
                instruction,
                number,
            };
            self.dispatch(&mut state, step)
                .map_err(|m| fail(instruction.line, m))?;
        }
        Ok(state)
    }

    /// Translates one instruction.
    pub fn dispatch(&mut self, state: &mut StageState, step: Step<'_>) -> Result<(), String> {
        match &step.instruction.op {
            Op::Run { .. } => convert_run::convert_run(self, state, step),
            Op::Copy(spec) => convert_copy::convert_copy(self, state, step, spec, false),
            Op::Add(spec) => convert_copy::convert_copy(self, state, step, spec, true),
            Op::Workdir { path } => convert_workdir::convert_workdir(self, state, step, path),
            _ => convert_metadata::convert_metadata(self, state, step),
        }
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

    /// The filesystem a `--from`/`from=` source names: a stage's root, an image, or nothing.
    pub fn source_root(&mut self, source: &Source) -> Result<Option<Output>, String> {
        match source {
            Source::Stage { stage } => self.stage_root(*stage),
            Source::Image { image } => Ok(Some(convert_source::image_output(self, image))),
            Source::Scratch => Ok(None),
        }
    }

    /// The op platform of a stage.
    pub fn platform(&self, state: &StageState) -> Option<pb::Platform> {
        Some(state.platform.clone())
    }
}
