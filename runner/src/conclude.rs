//! The end of a build, for the record: the leak report of the target image, the stage memories
//! kept in the engine for the next build, the summary lines, and the record and report files.
//!
//! Input: the build's [`Ctx`] (its recorder, plan, engine, options) and how the build ended.
//! Output: leak warnings and size lines for the summary; `--record FILE` (record JSON v1) and
//! `--report FILE` (the self-contained report page) written.
//! Invariant: the target's layers are read only when its image is not the one the last build
//! analysed; nothing here fails a build that succeeded: an analysis or a memory that cannot be
//! kept becomes a note, and only writing the files the user asked for is an error.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Result, RunnerError};
use crate::exec::ctx::Ctx;
use crate::progress::human_bytes;
use crate::record::critical::critical_path;
use crate::record::leaks::{self, TOP_DIRS};
use crate::record::memory::LayerAnalysis;
use crate::record::store;
use crate::record::types::{BuildRecord, DirSize, Leak, StepStatus, RECORD_VERSION};
use crate::record::{layers, layers_disk};

/// What the leak report found in the target image.
#[derive(Debug, Clone, Default)]
pub struct LeakReport {
    /// The warnings.
    pub leaks: Vec<Leak>,
    /// The biggest directories the image adds over its base.
    pub biggest_dirs: Vec<DirSize>,
    /// Bytes it adds over its base.
    pub added_bytes: Option<u64>,
    /// The base it was compared with, for the summary (`stageplan-seed/golang:1.19`).
    pub base: String,
    /// A note when the layers could not be read.
    pub note: Option<String>,
    /// How long the report took (reading the layers, unless the last build's analysis of the
    /// same image was reused).
    pub elapsed_ms: Option<u64>,
}

/// Analyses the last target's image: the builder-base warning from the plan and the stage facts,
/// and (from its layers, or the last build's analysis of the same image) the context files it
/// ships and the directories it adds.
pub async fn leak_report(ctx: &Ctx, image: &str) -> Result<LeakReport> {
    let Some(&target) = ctx.plan.targets.last() else {
        return Ok(LeakReport::default());
    };
    let started = std::time::Instant::now();
    let facts = ctx.recorder.facts();
    let mut report = LeakReport::default();
    let stage = &ctx.plan.stages[target];
    let own = facts.get(&target).cloned().unwrap_or_default();
    report.base = own
        .root_reference
        .clone()
        .unwrap_or_else(|| "scratch".to_string());
    let base_id = own.root_image.clone().unwrap_or_default();
    let remembered = ctx
        .recorder
        .memory_mut(target, |pending| {
            pending
                .previous
                .as_ref()
                .and_then(|(_, memory)| memory.analysis.clone())
        })
        .flatten()
        .filter(|analysis| analysis.image == image && analysis.base == base_id);
    let analysis = match remembered {
        Some(analysis) => Some(analysis),
        None => analyse(
            ctx,
            image,
            &base_id,
            target,
            &stage.display_name,
            own.context_copy_line,
        )
        .await
        .map_err(|note| report.note = Some(note))
        .ok(),
    };
    if let Some(analysis) = analysis {
        report.leaks.extend(analysis.context_leak.clone());
        report.biggest_dirs = analysis.biggest_dirs.clone();
        report.added_bytes = Some(analysis.added_bytes);
        ctx.recorder.memory_mut(target, |pending| {
            pending.memory.analysis = Some(analysis);
        });
    }
    report
        .leaks
        .extend(leaks::builder_base(&ctx.plan, &facts, target));
    report.elapsed_ms = Some(started.elapsed().as_millis() as u64);
    Ok(report)
}

/// Reads the layers `image` adds over `base_id` and finds the context files and big directories.
async fn analyse(
    ctx: &Ctx,
    image: &str,
    base_id: &str,
    target: usize,
    target_name: &str,
    copy_line: Option<u32>,
) -> std::result::Result<LayerAnalysis, String> {
    let failed = |e: &dyn std::fmt::Display| format!("leak report skipped: {e}");
    let (info, base, storage) = tokio::join!(
        ctx.engine.inspect_image(image),
        async {
            match base_id.is_empty() {
                true => Ok(None),
                false => ctx.engine.inspect_image(base_id).await,
            }
        },
        async {
            match ctx.engine.is_local() {
                true => ctx.engine.storage().await.ok(),
                false => None,
            }
        }
    );
    let info = info
        .map_err(|e| failed(&e))?
        .ok_or_else(|| failed(&format!("image {image} is gone")))?;
    let base_layers = base
        .map_err(|e| failed(&e))?
        .map(|base| base.diff_ids)
        .unwrap_or_default();
    let added_from = match info.diff_ids.starts_with(&base_layers) {
        true => base_layers.len(),
        false => 0,
    };
    let added = info.diff_ids[added_from..].to_vec();
    let copied = ctx.recorder.copied_context_files();
    let sizes: BTreeSet<u64> = copied.values().map(|f| f.size).filter(|s| *s > 0).collect();
    // On a local overlay2 engine the layers are directories: a walk instead of `docker save`.
    let on_disk = match storage.filter(|storage| storage.driver == "overlay2") {
        Some(storage) => {
            let (diff_ids, sizes) = (info.diff_ids.clone(), sizes.clone());
            tokio::task::spawn_blocking(move || {
                layers_disk::added_files_on_disk(&storage.root, &diff_ids, added_from, &sizes)
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let listing = match on_disk {
        Some(listing) => listing,
        None => layers::added_files(&ctx.engine, image, &added, sizes)
            .await
            .map_err(|e| failed(&e))?,
    };
    let line = copy_line.unwrap_or(ctx.plan.stages[target].location.line);
    Ok(LayerAnalysis {
        image: image.to_string(),
        base: base_id.to_string(),
        context_leak: leaks::context_files(&listing, &copied, target, target_name, line),
        biggest_dirs: leaks::biggest_dirs(&listing, TOP_DIRS),
        added_bytes: leaks::added_bytes(&listing),
    })
}

/// The summary lines of a leak report: a warning per leak, then the biggest directories.
pub fn summary_lines(report: &LeakReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .leaks
        .iter()
        .map(|leak| format!("warning: line {}: {}", leak.line, leak.message))
        .collect();
    if let Some(note) = &report.note {
        lines.push(format!("note: {note}"));
    }
    if report.leaks.is_empty() && report.note.is_none() {
        lines.push(
            "leak report: clean (no build-context file and no builder base in the target image)"
                .to_string(),
        );
    }
    if let (Some(added), false) = (report.added_bytes, report.biggest_dirs.is_empty()) {
        lines.push(format!(
            "biggest directories the image adds over {} ({} in all):",
            report.base,
            human_bytes(added)
        ));
        for dir in &report.biggest_dirs {
            lines.push(format!("  {:>8}  {}", human_bytes(dir.bytes), dir.path));
        }
    }
    lines
}

/// Keeps the finished stages' memories in the engine (notes it when they could not be kept);
/// with `except`, that stage's memory is left for a later call (the target's, which the leak
/// report is still adding to).
pub async fn keep_memories(ctx: &Ctx, except: Option<usize>) {
    let pending = ctx.recorder.take_memories(except);
    let keeps: Vec<store::Keep<'_>> = pending
        .iter()
        .map(|pending| store::Keep {
            identity: &pending.identity,
            memory: &pending.memory,
            previous: pending.previous.as_ref(),
        })
        .collect();
    if let Err(e) = store::save_all(&ctx.engine, &keeps).await {
        ctx.progress.note(
            "runner",
            &format!("the record of this build could not be kept in the engine: {e}"),
        );
    }
}

/// The build record of this build.
pub fn build_record(
    ctx: &Ctx,
    image: Option<&str>,
    error: Option<&RunnerError>,
    report: &LeakReport,
) -> BuildRecord {
    let stages = ctx.recorder.stages();
    let critical = critical_path(&ctx.plan, &stages);
    BuildRecord {
        version: RECORD_VERSION,
        runner: env!("CARGO_PKG_VERSION").to_string(),
        started: ctx.recorder.started_rfc3339(),
        ok: error.is_none(),
        error: error.map(|error| crate::error::chain_text(error)),
        no_cache: ctx.options.no_cache,
        plan: (*ctx.plan).clone(),
        image: image.map(str::to_string),
        total_ms: ctx.recorder.built_ms(),
        leak_report_ms: report.elapsed_ms,
        stages,
        critical_path: critical,
        leaks: report.leaks.clone(),
        biggest_dirs: report.biggest_dirs.clone(),
        added_bytes: report.added_bytes,
    }
}

/// The critical path as one summary line: the steps on it that ran, with their times
/// (`critical path: builder #4 9.8s → stage-1 #3 0.4s (build 13.0s)`).
pub fn critical_path_line(record: &BuildRecord) -> Option<String> {
    let mut hops: Vec<String> = Vec::new();
    for on_path in &record.critical_path {
        let stage = record.stages.iter().find(|s| s.index == on_path.stage)?;
        let step = stage.steps.iter().find(|s| s.step == on_path.step)?;
        if step.status == StepStatus::Ran {
            hops.push(format!(
                "{} #{} {:.1}s",
                stage.name,
                step.step,
                step.times.total_ms as f64 / 1000.0
            ));
        }
    }
    if hops.is_empty() {
        return None;
    }
    Some(format!(
        "critical path: {} (build {:.1}s)",
        hops.join(" → "),
        record.total_ms as f64 / 1000.0
    ))
}

/// Writes `--record FILE` and `--report FILE`, when asked for.
pub fn write_outputs(ctx: &Ctx, record: &BuildRecord) -> Result<()> {
    if let Some(path) = &ctx.options.record_file {
        let json = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
        write_file(path, json.as_bytes())?;
    }
    if let Some(path) = &ctx.options.report_file {
        write_file(path, crate::record::report::html(record).as_bytes())?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| RunnerError::io(format!("writing {}", path.display()), e))
}
