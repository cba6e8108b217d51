//! The scheduler: performs every needed stage of a checked plan, each as soon as its own
//! dependencies are done, stops everything on the first failure or a signal, then tags the
//! target and reports sizes.
//!
//! Input: a connected engine, a checked plan, the opened build context, [`BuildOptions`], the
//! installed signal handlers.
//! Output: a [`BuildOutcome`] (target image id and the size summary) or the first error.
//! Invariant: on success, failure and interrupt alike every temporary container, volume and
//! host file of this process is removed before returning (in-flight creations are waited for
//! first), and the context's file digests are saved (no cached work is lost); stages the
//! targets do not need are never touched.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures_util::future::FutureExt;
use planner::Plan;

use crate::conclude;
use crate::containers::reaper::{Cleanup, Left, Reaper, IN_FLIGHT_GRACE, REMOVAL_GRACE};
use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{Result, RunnerError};
use crate::exec::ctx::{BuildOptions, Ctx};
use crate::exec::stage_deps::StageFuture;
use crate::exec::stage_state::StageResult;
use crate::progress::Progress;
use crate::signals::Signals;
use crate::stage::run_stage;

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The last target's image id.
    pub image: String,
    /// Human-readable summary lines (sizes, layers).
    pub summary: Vec<String>,
}

/// Builds the plan's targets (the plan must have passed [`crate::plan_check::check`]).
pub async fn build(
    engine: Engine,
    plan: Plan,
    context: Arc<BuildContext>,
    options: BuildOptions,
    progress: Progress,
    signals: &mut Signals,
) -> Result<BuildOutcome> {
    let reaper = Reaper::new(engine.clone());
    // What killed runners left beside the digest cache (their temporary cache files).
    if let Some(dir) = context.digest_dir() {
        reaper.sweep_dead_in(dir);
    }
    // The sweep touches only objects of provably dead runners, none of this build's: it runs
    // beside the build instead of before it.
    let sweeper = {
        let reaper = reaper.clone();
        tokio::spawn(async move { reaper.sweep_dead().await })
    };
    let sweep_progress = progress.clone();
    let ctx = Arc::new(Ctx::new(
        engine,
        reaper.clone(),
        progress,
        Arc::new(plan),
        context.clone(),
        options.clone(),
    ));
    ctx.read_memories();
    let futures = stage_futures(&ctx);
    let all = futures_util::future::try_join_all(futures.values().cloned());
    let outcome = tokio::select! {
        result = all => result.map_err(unwrap_shared),
        signal = signals.recv() => Err(RunnerError::Interrupted { signal }),
    };
    drop(futures);
    let _ = context.save_digests(reaper.prefix());
    let outcome = match outcome {
        Ok(results) => {
            let by_index: HashMap<usize, Arc<StageResult>> = results
                .into_iter()
                .map(|result| (result.index, result))
                .collect();
            let exported = tokio::select! {
                result = export(&ctx, &by_index, &options) => result,
                signal = signals.recv() => Err(RunnerError::Interrupted { signal }),
            };
            match exported {
                // Once the first tag is asked for, the build stands: a signal while the tags
                // move and the summary is gathered is noted, and a second one stops the runner.
                Ok(exported) => {
                    let publishing = publish(&ctx, &by_index, &options, exported);
                    tokio::pin!(publishing);
                    let mut late = None;
                    loop {
                        tokio::select! {
                            result = &mut publishing => break result,
                            signal = signals.recv() => match late {
                                None => late = Some(signal),
                                Some(_) => break Err(RunnerError::Interrupted { signal }),
                            },
                        }
                    }
                    .inspect(|_| {
                        if let Some(signal) = late {
                            sweep_progress.note(
                                "runner",
                                &format!("{signal} arrived while the image was being tagged; the tags were finished, so the build stands"),
                            );
                        }
                    })
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    // Every store is done: the images of the entries a `--no-cache` build replaced go while the
    // record is concluded (awaited with the cleanup below, on every path).
    let replaced = {
        let cache = ctx.cache.clone();
        tokio::spawn(async move { cache.remove_replaced().await })
    };
    // A signal while the record is written no longer undoes the build: the image is built and
    // tagged, so it is reported (and its --iidfile written) as built.
    let published = outcome.as_ref().ok().cloned();
    let outcome = tokio::select! {
        result = conclude_build(&ctx, outcome) => result,
        signal = signals.recv() => match published {
            Some(published) => {
                sweep_progress.note(
                    "runner",
                    &format!("{signal} arrived after the image was built and tagged; the build record was not written"),
                );
                Ok(published)
            }
            None => Err(RunnerError::Interrupted { signal }),
        },
    };
    // Bounded like the removals below: a sweep the engine never answers is given up.
    let sweeper_abort = sweeper.abort_handle();
    let swept = tokio::time::timeout(REMOVAL_GRACE, sweeper).await;
    if swept.is_err() {
        sweeper_abort.abort();
        sweep_progress.note(
            "runner",
            &format!(
                "the start-up sweep of runners that were killed got no answer from the engine within {} s and was given up",
                REMOVAL_GRACE.as_secs()
            ),
        );
    }
    match swept.unwrap_or(Ok(Ok(0))) {
        Ok(Ok(swept)) if swept > 0 => sweep_progress.note(
            "runner",
            &format!(
                "removed {swept} containers, volumes or files left by runners that were killed (or could not remove them)"
            ),
        ),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => sweep_progress.note("runner", &format!("the start-up sweep failed: {e}")),
        Err(e) => sweep_progress.note("runner", &format!("the start-up sweep failed: {e}")),
    }
    // Everything this process made, on every path, and the images of cache entries a
    // `--no-cache` build replaced; signals that arrive now are ignored until the removal is
    // done.
    let cleanup = async {
        // Bounded like the reaper's phases: deletions the engine does not answer are given up
        // (the images stay untagged, nothing else is left).
        let (cleanup, _) = tokio::join!(
            reaper.shutdown(),
            tokio::time::timeout(REMOVAL_GRACE, replaced)
        );
        cleanup
    };
    tokio::pin!(cleanup);
    let cleanup = loop {
        tokio::select! {
            cleanup = &mut cleanup => break cleanup,
            _ = signals.recv() => {}
        }
    };
    if cleanup.unanswered > 0 {
        sweep_progress.note(
            "runner",
            &format!(
                "the engine did not answer {} request(s) to create or remove a container or volume within {} s of the build's end; what they make is named {}… and is removed by the next runner started on this machine (in this PID namespace)",
                cleanup.unanswered,
                IN_FLIGHT_GRACE.as_secs(),
                reaper.prefix()
            ),
        );
    }
    if let Some(error) = &cleanup.first_error {
        sweep_progress.note("runner", &left_behind(reaper.prefix(), &cleanup, error));
    }
    outcome
}

/// The note for objects the engine refused to remove at the end of a build: what, why, who
/// removes them, and the commands that remove them now.
fn left_behind(prefix: &str, cleanup: &Cleanup, error: &str) -> String {
    let containers: Vec<&str> = cleanup
        .left
        .iter()
        .filter_map(|left| match left {
            Left::Container(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let volumes: Vec<&str> = cleanup
        .left
        .iter()
        .filter_map(|left| match left {
            Left::Volume(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut what = Vec::new();
    let mut commands = Vec::new();
    if !containers.is_empty() {
        what.push(format!("containers {}", containers.join(", ")));
        commands.push(format!("docker rm -f {}", containers.join(" ")));
    }
    if !volumes.is_empty() {
        what.push(format!("volumes {}", volumes.join(", ")));
        commands.push(format!("docker volume rm {}", volumes.join(" ")));
    }
    if cleanup.left.contains(&Left::Listing) {
        what.push(format!("the objects named {prefix}*"));
        commands.push(format!(
            "docker rm -f $(docker ps -aq --filter name=^/{prefix}); docker volume rm $(docker volume ls -q --filter name={prefix})"
        ));
    }
    format!(
        "could not remove {} ({error}); the next runner started on this machine (in this PID namespace) removes them, or remove them now: {}",
        what.join(" and "),
        commands.join("; ")
    )
}

/// The record's end of a build: the leak report (after a success), the stage memories kept in
/// the engine, the summary lines, and the record and report files.
async fn conclude_build(ctx: &Ctx, outcome: Result<BuildOutcome>) -> Result<BuildOutcome> {
    match outcome {
        Ok(mut outcome) => {
            ctx.recorder.mark_built();
            // The other stages' memories go into the engine while the leak report reads the
            // target's layers; the target's memory carries the report's analysis.
            let target = ctx.plan.targets.last().copied();
            let (report, ()) = tokio::join!(
                conclude::leak_report(ctx, &outcome.image),
                conclude::keep_memories(ctx, target)
            );
            let report = report?;
            conclude::keep_memories(ctx, None).await;
            let record = conclude::build_record(ctx, Some(&outcome.image), None, &report);
            outcome
                .summary
                .extend(conclude::critical_path_line(&record));
            outcome.summary.extend(conclude::summary_lines(&report));
            conclude::write_outputs(ctx, &record)?;
            Ok(outcome)
        }
        Err(error) => {
            if matches!(error, RunnerError::Interrupted { .. }) {
                // Stopped by a signal: the stages' memories are kept if the engine takes them
                // in time, not waited for without end.
                if tokio::time::timeout(REMOVAL_GRACE, conclude::keep_memories(ctx, None))
                    .await
                    .is_err()
                {
                    ctx.progress.note(
                        "runner",
                        &format!(
                            "the engine did not take the stages' memories within {} s; they were given up",
                            REMOVAL_GRACE.as_secs()
                        ),
                    );
                }
            } else {
                conclude::keep_memories(ctx, None).await;
            }
            let record =
                conclude::build_record(ctx, None, Some(&error), &conclude::LeakReport::default());
            // The build's own error is what matters; a record that cannot be written is noted.
            if let Err(e) = conclude::write_outputs(ctx, &record) {
                ctx.progress.note("runner", &format!("{e}"));
            }
            Err(error)
        }
    }
}

/// One shared future per needed stage, each awaiting its dependencies itself (the plan check
/// guarantees every dependency of a needed stage is needed and that there is no cycle).
fn stage_futures(ctx: &Arc<Ctx>) -> BTreeMap<usize, StageFuture> {
    let plan = ctx.plan.clone();
    let mut futures: BTreeMap<usize, StageFuture> = BTreeMap::new();
    let mut pending: Vec<usize> = plan
        .stages
        .iter()
        .filter(|s| s.needed)
        .map(|s| s.index)
        .collect();
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
            // Unreachable for a checked plan (no cycles, dependencies needed).
            break;
        }
    }
    futures
}

fn unwrap_shared(error: Arc<RunnerError>) -> RunnerError {
    Arc::try_unwrap(error).unwrap_or_else(RunnerError::Shared)
}

/// The target's image and what the summary says so far, after its `--output` export.
struct Exported {
    image: String,
    summary: Vec<String>,
}

/// Writes the target's `--output`, if any (interrupted by a signal like the build).
async fn export(
    ctx: &Ctx,
    results: &HashMap<usize, Arc<StageResult>>,
    options: &BuildOptions,
) -> Result<Exported> {
    let target = *ctx.plan.targets.last().unwrap_or(&0);
    let result = results.get(&target).ok_or_else(|| RunnerError::Plan {
        origin: "being built".to_string(),
        source: crate::plan_check::PlanError::Graph(format!("target stage {target} was not built")),
    })?;
    let image = result.image.clone().unwrap_or_default();
    let mut summary = Vec::new();
    if let Some(output) = &options.output {
        // A scratch target with no files has no image: an empty directory or tar.
        let source = Some(image.as_str()).filter(|image| !image.is_empty());
        let written = crate::export::write(ctx, source, result.ran_run, output).await?;
        summary.push(match output {
            crate::export::Output::Tar(None) => {
                format!("wrote the target's files as a tar to standard output ({written} entries)")
            }
            other => format!(
                "wrote the target's files to {} ({written} entries)",
                other.dest().display()
            ),
        });
    }
    Ok(Exported { image, summary })
}

/// Tags the target (after the export: a signal during a long export leaves the tags where they
/// were) and completes the summary with its size and every stage's.
async fn publish(
    ctx: &Ctx,
    results: &HashMap<usize, Arc<StageResult>>,
    options: &BuildOptions,
    exported: Exported,
) -> Result<BuildOutcome> {
    let Exported { image, mut summary } = exported;
    for reference in &options.tags {
        let (repo, tag) = split_reference(reference);
        ctx.engine.tag_image(&image, repo, tag).await?;
    }
    if let Some(info) = ctx.engine.inspect_image(&image).await? {
        let tags = if options.tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", options.tags.join(", "))
        };
        summary.push(format!(
            "built {}{tags}: {}, {} layers",
            crate::progress::short_id(&image),
            human_size(info.size),
            info.diff_ids.len()
        ));
    }
    // Every stage's size, asked all at once (a chain of 30 stages asked one after another).
    let mut indices: Vec<&usize> = results.keys().collect();
    indices.sort();
    let inspections = indices.into_iter().filter_map(|index| {
        let stage_image = results[index].image.as_ref()?;
        Some(async move { (*index, ctx.engine.inspect_image(stage_image).await) })
    });
    let mut sizes = Vec::new();
    for (index, inspected) in futures_util::future::join_all(inspections).await {
        if let Some(info) = inspected? {
            let stage = &ctx.plan.stages[index];
            sizes.push(format!("{} {}", stage.display_name, human_size(info.size)));
        }
    }
    if sizes.len() > 1 {
        summary.push(sizes.join(" → "));
    }
    Ok(BuildOutcome { image, summary })
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
    crate::progress::human_bytes(bytes)
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
