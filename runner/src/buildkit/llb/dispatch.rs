//! The translation loop: every needed stage, in the plan's wave order, instruction by
//! instruction (BuildKit's `Dockerfile2LLB` and `dispatch`).
//!
//! Input: a fresh [`Translator`] over the [`super::types::TranslateInput`].
//! Output: the translator with the graph, each needed stage's final [`StageState`], and which
//! node each instruction became (for progress and errors).
//! Invariant: stage names, targets, edges and waves are read from the plan, never re-derived;
//! each instruction kind is handled by its own `convert_*` module, and this loop is the only
//! place that calls them (no conversion calls back into it).

use planner::plan::{Op, Stage};

use super::convert_copy::convert_copy;
use super::convert_metadata::convert_metadata;
use super::convert_run::convert_run;
use super::convert_source::{base_state, finish_context};
use super::convert_workdir::convert_workdir;
use super::state::StageState;
use super::translator::{Step, Translator};
use super::types::{display_name, TranslateError};

/// Translates every needed stage.
pub fn translate_stages(t: &mut Translator<'_>) -> Result<(), TranslateError> {
    let plan = t.plan();
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
        let state = translate_stage(t, stage)?;
        t.finished.insert(index, state);
    }
    finish_context(t);
    Ok(())
}

/// Translates one stage: its base (with the ONBUILD triggers of an image base) and then its
/// instructions.
fn translate_stage(t: &mut Translator<'_>, stage: &Stage) -> Result<StageState, TranslateError> {
    let display = display_name(stage);
    let fail = |line: u32, message: String| TranslateError {
        stage: display.clone(),
        line,
        message,
    };
    let (mut state, triggers) =
        base_state(t, stage, &display).map_err(|m| fail(stage.location.line, m))?;
    let mut number = 0;
    for trigger in &triggers {
        number += 1;
        let step = Step {
            instruction: trigger,
            number,
        };
        dispatch(t, &mut state, step).map_err(|m| {
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
        dispatch(t, &mut state, step).map_err(|m| fail(instruction.line, m))?;
    }
    Ok(state)
}

/// Translates one instruction.
fn dispatch(t: &mut Translator<'_>, state: &mut StageState, step: Step<'_>) -> Result<(), String> {
    match &step.instruction.op {
        Op::Run { .. } => convert_run(t, state, step),
        Op::Copy(spec) => convert_copy(t, state, step, spec, false),
        Op::Add(spec) => convert_copy(t, state, step, spec, true),
        Op::Workdir { path } => convert_workdir(t, state, step, path),
        _ => convert_metadata(t, state, step),
    }
}
