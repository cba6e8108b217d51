//! The scheduler: performs every needed stage of a plan, each as soon as its own dependencies
//! are done, then tags the target and reports sizes.
//!
//! Input: a connected engine, a checked plan, the opened build context, [`BuildOptions`].
//! Output: a [`BuildOutcome`] (target image id and the size summary) or the first error.
//! Invariant: on any error and on Ctrl-C every temporary container of this process is removed
//! before returning; stages the targets do not need are never touched.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::FutureExt;
use planner::Plan;
use tokio::sync::Semaphore;

use crate::cache::Cache;
use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{Result, RunnerError};
use crate::progress::Progress;
use crate::reaper::Reaper;
use crate::stage::{display_name, run_stage, Ctx, StageFuture, StageResult};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Skip cache lookups (results are still stored).
    pub no_cache: bool,
    /// How many containers may run at once.
    pub jobs: usize,
    /// `name[:tag]` references for the (last) target image.
    pub tags: Vec<String>,
    /// `--build-arg` values; they override the plan's.
    pub build_args: BTreeMap<String, String>,
    /// `--secret` id to file.
    pub secrets: BTreeMap<String, PathBuf>,
    /// Run every RUN in its own fresh container instead of a per-stage keeper.
    pub isolate_runs: bool,
}

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The last target's image id.
    pub image: String,
    /// Human-readable summary lines (sizes, layers).
    pub summary: Vec<String>,
}

/// Builds the plan's targets.
pub async fn build(
    engine: Engine,
    plan: Plan,
    context: Arc<BuildContext>,
    options: BuildOptions,
    progress: Progress,
) -> Result<BuildOutcome> {
    check_graph(&plan)?;
    let reaper = Reaper::new(engine.clone());
    let swept = reaper.sweep_dead().await?;
    if swept > 0 {
        progress.note(
            "runner",
            &format!("removed {swept} containers left by an interrupted runner"),
        );
    }
    let mut build_args = plan.build_args.clone();
    build_args.extend(options.build_args.clone());
    let ctx = Arc::new(Ctx {
        engine: engine.clone(),
        reaper: reaper.clone(),
        cache: Cache::new(engine.clone(), !options.no_cache),
        progress: progress.clone(),
        plan: Arc::new(plan),
        context: context.clone(),
        build_args,
        secrets: options.secrets.clone(),
        jobs: Arc::new(Semaphore::new(options.jobs.max(1))),
        isolate_runs: options.isolate_runs,
        source_holders: tokio::sync::Mutex::new(HashMap::new()),
    });
    let futures = stage_futures(&ctx);
    let all = futures_util::future::try_join_all(futures.values().cloned());
    let outcome = tokio::select! {
        result = all => result.map_err(unwrap_shared),
        _ = tokio::signal::ctrl_c() => Err(RunnerError::Interrupted),
    };
    let _ = context.save_digests();
    let results = match outcome {
        Ok(results) => results,
        Err(e) => {
            drop(futures);
            reaper.remove_all().await;
            return Err(e);
        }
    };
    ctx.remove_source_holders().await?;
    let by_index: HashMap<usize, Arc<StageResult>> = futures.keys().copied().zip(results).collect();
    finish(&ctx, &by_index, &options).await
}

/// Checks that targets, dependencies and waves only name existing stages.
fn check_graph(plan: &Plan) -> Result<()> {
    let n = plan.stages.len();
    for &target in &plan.targets {
        if target >= n {
            return Err(RunnerError::Plan(format!(
                "targets names stage {target}, but the plan has {n} stages"
            )));
        }
    }
    if plan.targets.is_empty() {
        return Err(RunnerError::Plan("the plan has no targets".to_string()));
    }
    for (i, stage) in plan.stages.iter().enumerate() {
        if stage.index != i {
            return Err(RunnerError::Plan(format!(
                "stages[{i}] has index {}; indices must equal positions",
                stage.index
            )));
        }
        for &dep in &stage.depends_on {
            if dep >= n || dep == i {
                return Err(RunnerError::Plan(format!(
                    "stage {i} depends on stage {dep}, which is not another stage of the plan"
                )));
            }
        }
    }
    Ok(())
}

/// One shared future per needed stage, each awaiting its dependencies first.
fn stage_futures(ctx: &Arc<Ctx>) -> BTreeMap<usize, StageFuture> {
    let plan = ctx.plan.clone();
    let mut order: Vec<usize> = plan.waves.iter().flatten().copied().collect();
    if order.is_empty() {
        order = plan
            .stages
            .iter()
            .filter(|s| s.needed)
            .map(|s| s.index)
            .collect();
    }
    // Make sure every dependency comes before its dependants even if `waves` is odd.
    let mut futures: BTreeMap<usize, StageFuture> = BTreeMap::new();
    let mut pending = order;
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|&index| {
            let deps = &plan.stages[index].depends_on;
            if !deps.iter().all(|d| futures.contains_key(d)) {
                return true;
            }
            let dep_futures: HashMap<usize, StageFuture> =
                deps.iter().map(|d| (*d, futures[d].clone())).collect();
            let ctx = ctx.clone();
            let is_target = plan.targets.contains(&index);
            let future = async move {
                run_stage(ctx, index, dep_futures, is_target)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            }
            .boxed()
            .shared();
            futures.insert(index, future);
            false
        });
        if pending.len() == before {
            // A dependency is not among the needed stages: add it.
            let missing: Vec<usize> = pending
                .iter()
                .flat_map(|&i| plan.stages[i].depends_on.clone())
                .filter(|d| !futures.contains_key(d) && !pending.contains(d))
                .collect();
            if missing.is_empty() {
                break;
            }
            pending.extend(missing);
            pending.sort();
            pending.dedup();
        }
    }
    futures
}

fn unwrap_shared(error: Arc<RunnerError>) -> RunnerError {
    Arc::try_unwrap(error).unwrap_or_else(RunnerError::Shared)
}

/// Tags the target and writes the size summary.
async fn finish(
    ctx: &Ctx,
    results: &HashMap<usize, Arc<StageResult>>,
    options: &BuildOptions,
) -> Result<BuildOutcome> {
    let target = *ctx.plan.targets.last().unwrap_or(&0);
    let result = results
        .get(&target)
        .ok_or_else(|| RunnerError::Plan(format!("target stage {target} was not built")))?;
    let image = result
        .image
        .clone()
        .ok_or_else(|| RunnerError::Plan("the target has no image".to_string()))?;
    for reference in &options.tags {
        let (repo, tag) = split_reference(reference);
        ctx.engine.tag_image(&image, repo, tag).await?;
    }
    let mut summary = Vec::new();
    let target_info = ctx.engine.inspect_image(&image).await?;
    if let Some(info) = &target_info {
        let tags = if options.tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", options.tags.join(", "))
        };
        summary.push(format!(
            "built {}{tags}: {}, {} layers",
            crate::progress::short_id(&image),
            human_size(info.size),
            info.layers
        ));
    }
    let mut sizes = Vec::new();
    for (index, stage_result) in sorted(results) {
        let Some(stage_image) = &stage_result.image else {
            continue;
        };
        if let Some(info) = ctx.engine.inspect_image(stage_image).await? {
            let stage = &ctx.plan.stages[index];
            sizes.push(format!("{} {}", display_name(stage), human_size(info.size)));
        }
    }
    if sizes.len() > 1 {
        summary.push(sizes.join(" → "));
    }
    Ok(BuildOutcome { image, summary })
}

fn sorted(results: &HashMap<usize, Arc<StageResult>>) -> Vec<(usize, Arc<StageResult>)> {
    let mut all: Vec<_> = results.iter().map(|(i, r)| (*i, r.clone())).collect();
    all.sort_by_key(|(i, _)| *i);
    all
}

/// Splits `name[:tag]` (a `:` after the last `/`) into repository and tag (`latest`).
pub fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rfind(':') {
        Some(colon) if !reference[colon..].contains('/') => {
            (&reference[..colon], &reference[colon + 1..])
        }
        _ => (reference, "latest"),
    }
}

/// Bytes as `312 MB`, `7.9 MB`, `815 kB` (decimal units, as docker prints).
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", units[unit])
    } else {
        format!("{value:.0} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_sizes() {
        assert_eq!(split_reference("app:1"), ("app", "1"));
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(split_reference("app"), ("app", "latest"));
        assert_eq!(human_size(312_000_000), "312 MB");
        assert_eq!(human_size(7_900_000), "7.9 MB");
        assert_eq!(human_size(999), "999 B");
    }
}
