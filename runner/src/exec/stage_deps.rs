//! The stages a stage reads: their shared futures, waiting for them, and which of them an
//! instruction reads.
//!
//! Input: the futures of a stage's dependencies (one shared future per needed stage, made by the
//! scheduler), the shared [`Ctx`] (which stages are being rebuilt).
//! Output: a dependency's [`StageResult`] once it is finished.
//! Invariant: a stage waits for a dependency only when it reaches the instruction that reads it;
//! the look-ahead of cached steps waits only for a dependency that is coming from the cache.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::FutureExt;
use planner::plan::{Instruction, Op, Source};

use super::ctx::Ctx;
use super::stage_state::StageResult;
use crate::error::{Result, RunnerError};

/// A stage's eventual result, shared by every stage that waits for it.
pub type StageFuture = futures_util::future::Shared<
    futures_util::future::BoxFuture<
        'static,
        std::result::Result<Arc<StageResult>, Arc<RunnerError>>,
    >,
>;

/// Waits for stage `index` (if this stage depends on it) and records its result.
pub async fn await_dep(
    futures: &HashMap<usize, StageFuture>,
    deps: &mut HashMap<usize, Arc<StageResult>>,
    index: usize,
) -> Result<()> {
    if let Some(future) = futures.get(&index) {
        let result = future.clone().await.map_err(RunnerError::Shared)?;
        deps.insert(index, result);
    }
    Ok(())
}

/// The result of stage `needed`, read ahead by stage `reader`, once it has finished from the
/// cache; `None` as soon as it (or the reader) is known to be rebuilt. A stage that has missed
/// changes the keys of everything after it, so waiting would only delay the reader's work; a
/// stage that hits finishes in milliseconds, and its key lets the reader find its own steps.
pub async fn settled_from_cache(
    ctx: &Ctx,
    reader: usize,
    needed: usize,
    future: &StageFuture,
) -> Option<std::result::Result<Arc<StageResult>, Arc<RunnerError>>> {
    if let Some(result) = future.clone().now_or_never() {
        return Some(result);
    }
    if ctx.rebuilding.is_marked(reader) || ctx.rebuilding.is_marked(needed) {
        return None;
    }
    tokio::select! {
        result = future.clone() => Some(result),
        () = ctx.rebuilding.marked(needed) => None,
    }
}

/// The stages an instruction reads from (`COPY --from`, `RUN --mount from=`).
pub fn instruction_stage_deps(instruction: &Instruction) -> Vec<usize> {
    let mut sources: Vec<&Source> = Vec::new();
    match &instruction.op {
        Op::Copy(spec) | Op::Add(spec) => sources.extend(spec.from.iter()),
        Op::Run { mounts, .. } => sources.extend(mounts.iter().filter_map(|m| m.from.as_ref())),
        _ => {}
    }
    sources
        .into_iter()
        .filter_map(|s| match s {
            Source::Stage { stage } => Some(*stage),
            _ => None,
        })
        .collect()
}
