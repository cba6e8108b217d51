//! The look-ahead of a build that may be warm: the keys of a run of steps worked out ahead
//! (without the engine), looked up all at once, and the stage resumed after the deepest hit.
//!
//! Input: a stage's instructions from the current one, its state, the futures of the stages it
//! reads, the shared [`Ctx`].
//! Output: the position after the deepest cached step of the run (its steps applied to the state
//! and recorded as cached, each with the sizes of its own cached image), or nothing when no step
//! of the run is cached.
//! Invariant: a predicted key is the key the step would compute when performed (the same
//! functions make both); nothing here touches a container; a stage that already missed, or
//! whose source stage is being rebuilt, is not looked ahead for (its keys are new).

use std::collections::HashMap;

use futures_util::StreamExt;
use planner::plan::{Instruction, Op};

use crate::error::{Result, RunnerError};
use crate::exec::cache::Key;
use crate::exec::ctx::Ctx;
use crate::exec::stage_deps::{instruction_stage_deps, settled_from_cache, StageFuture};
use crate::exec::stage_state::{stage_of, StageState};
use crate::record::memory::KeyField;
use crate::steps::{copy, metadata, run, workdir};

/// How many cache lookups of one run are in flight at once.
const LOOKUPS_AT_ONCE: usize = 16;

/// What the look-ahead knows of one keyed step of the run.
struct Predicted {
    position: usize,
    key: Key,
    fields: Vec<KeyField>,
    reads_context: bool,
    is_run: bool,
}

/// The steps from `position` whose keys can be worked out ahead: COPY, ADD, WORKDIR, RUN with no
/// mount, and the metadata between them, up to the last keyed one.
pub fn keyable_run(all: &[&Instruction], position: usize) -> Vec<usize> {
    let mut run = Vec::new();
    let mut last_keyed = 0;
    for (offset, instruction) in all[position..].iter().enumerate() {
        match &instruction.op {
            Op::Copy(_) | Op::Add(_) | Op::Workdir { .. } => {
                run.push(position + offset);
                last_keyed = run.len();
            }
            Op::Run { mounts, .. } if mounts.is_empty() => {
                run.push(position + offset);
                last_keyed = run.len();
            }
            Op::Run { .. } => break,
            _ => run.push(position + offset),
        }
    }
    run.truncate(last_keyed);
    run
}

/// Predicts the keys of the run's steps (on a copy of the state), looks them all up, and on a
/// hit takes the deepest cached step's image, applies the run's steps up to it (metadata for
/// real, the others as cached) and returns the position after it. Prediction waits for a source
/// stage that is coming from the cache, and stops at one being rebuilt.
pub async fn resume_run(
    ctx: &Ctx,
    state: &mut StageState,
    dep_futures: &HashMap<usize, StageFuture>,
    all: &[&Instruction],
    run: &[usize],
) -> Result<Option<usize>> {
    let mut predicted = state.clone();
    let mut keys: Vec<Predicted> = Vec::new();
    'predict: for &position in run {
        let instruction = all[position];
        for needed in instruction_stage_deps(instruction) {
            if !state.deps.contains_key(&needed) {
                if let Some(future) = dep_futures.get(&needed) {
                    match settled_from_cache(ctx, state.index, needed, future).await {
                        Some(result) => {
                            let result = result.map_err(RunnerError::Shared)?;
                            state.deps.insert(needed, result);
                        }
                        None => break 'predict,
                    }
                }
            }
            if let Some(result) = state.deps.get(&needed) {
                predicted.deps.insert(needed, result.clone());
            }
        }
        match &instruction.op {
            Op::Copy(spec) | Op::Add(spec) => {
                let is_add = matches!(instruction.op, Op::Add(_));
                let prepared = copy::prepare(ctx, &predicted, instruction, spec, is_add).await?;
                predicted.key = prepared.key.clone();
                keys.push(Predicted {
                    position,
                    reads_context: prepared.reads_context(),
                    key: prepared.key,
                    fields: prepared.fields,
                    is_run: false,
                });
            }
            Op::Workdir { path } => {
                workdir::prepare(ctx, &mut predicted, instruction, path)?;
                let fields = std::mem::take(&mut predicted.insight.step.fields);
                keys.push(Predicted {
                    position,
                    key: predicted.key.clone(),
                    fields,
                    reads_context: false,
                    is_run: false,
                });
            }
            Op::Run { .. } => {
                let Some((key, fields)) = run::predicted_key(ctx, &predicted, instruction) else {
                    break 'predict;
                };
                predicted.key = key.clone();
                keys.push(Predicted {
                    position,
                    key,
                    fields,
                    reads_context: false,
                    is_run: true,
                });
            }
            _ => metadata::fold(ctx, &mut predicted, instruction, &all[..position])?,
        }
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let lookups: Vec<Key> = keys.iter().map(|p| p.key.clone()).collect();
    let mut found = futures_util::stream::iter(lookups)
        .map(|key| async move { ctx.cache.lookup_info(&key).await })
        .buffered(LOOKUPS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let Some(deepest) = found.iter().rposition(Option::is_some) else {
        return Ok(None);
    };
    let hit_at = keys[deepest].position;
    for &position in run.iter().take_while(|p| **p <= hit_at) {
        let instruction = all[position];
        state.step += 1;
        state.executed = false;
        state.insight.begin_step(ctx.recorder.now_ms());
        let keyed = keys.iter().position(|p| p.position == position);
        if let Op::Workdir { path } = &instruction.op {
            workdir::prepare(ctx, state, instruction, path)?;
            ctx.progress.step_meta(&state.name, state.step);
        } else if let Some(at) = keyed {
            let step = &keys[at];
            state.key = step.key.clone();
            state.insight.step.fields = step.fields.clone();
            state.insight.step.reads_context = step.reads_context;
            state.ran_run |= step.is_run;
            ctx.progress
                .step_cached(&state.name, state.step, instruction.line, &instruction.text);
        } else {
            metadata::fold(ctx, state, instruction, &all[..position])?;
            ctx.progress.step_meta(&state.name, state.step);
        }
        if let Some(at) = keyed {
            // The record compares the step with the last build (a hit shows no reason).
            state.insight.looked_up(
                state.step,
                instruction,
                true,
                ctx.options.no_cache,
                &|index| stage_of(&state.deps, index),
            );
            // Each step that has its own cached image shows that image's sizes, as when it was
            // looked up alone (a step committed with its run has none).
            if let Some(info) = found[at].take() {
                state
                    .insight
                    .image_now(info.size, info.diff_ids.len() as u64);
                if position == hit_at {
                    state.image = Some(info.id);
                }
            }
        }
        let record = state.insight.finish_step(
            state.index,
            state.step,
            instruction,
            state.key.as_str(),
            ctx.recorder.now_ms(),
            false,
        );
        ctx.progress.step_done(&state.name, &record);
        ctx.recorder.step_finished(record);
    }
    // The hit step set the stage's key above; its image carries the config folded so far.
    state.config_dirty = false;
    Ok(Some(hit_at + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instructions(dockerfile: &str) -> Vec<Instruction> {
        planner::plan(dockerfile, &planner::Options::default())
            .plan
            .expect("plan")
            .stages
            .remove(0)
            .instructions
    }

    #[test]
    fn a_run_reaches_to_its_last_keyed_step_before_a_mount() {
        let stage = instructions(
            "FROM busybox\nENV A=1\nRUN a\nCOPY x /x\nWORKDIR /w\nRUN b\nLABEL l=1\n\
             RUN --mount=type=cache,target=/c c\nRUN d\n",
        );
        let all: Vec<&Instruction> = stage.iter().collect();
        // ENV, RUN a, COPY, WORKDIR, RUN b; the LABEL after the last keyed step is left to the
        // stage (it keys nothing) and the RUN with a mount ends the run.
        assert_eq!(keyable_run(&all, 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(keyable_run(&all, 5), Vec::<usize>::new());
        assert_eq!(keyable_run(&all, 6), Vec::<usize>::new());
        assert_eq!(keyable_run(&all, 7), vec![7]);
    }
}
