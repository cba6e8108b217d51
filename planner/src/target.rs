//! Targets and what they need (dockerfile2llb `resolveTarget`, `allReachableStages`,
//! `dispatchStages`): target names resolved case-insensitively with "did you mean", the
//! closure over all edge kinds, forward references that fail when the referencing stage is
//! built, and the parallel waves.
//!
//! Input: the [`Graph`] and the requested target names. Output: target indices, the needed
//! set and waves. Invariant: waves are sorted and every needed stage is in exactly one wave.

use crate::checks::Sink;
use crate::diagnostics::option_diagnostic;
use crate::diagnostics::Severity;
use crate::graph::{display_name, Graph};
use crate::plan::{EdgeKind, Source};
use crate::stage::Dockerfile;
use crate::suggest;

/// Resolves the target names; the last stage when none is given. Unknown names are errors.
pub fn resolve_targets(file: &Dockerfile, requested: &[String], sink: &mut Sink) -> Vec<usize> {
    let requested: Vec<&String> = requested.iter().filter(|t| !t.is_empty()).collect();
    if requested.is_empty() {
        return file.stages.len().checked_sub(1).into_iter().collect();
    }
    let names: Vec<&str> = file
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    let mut targets = Vec::new();
    for target in requested {
        let lowered = target.to_lowercase();
        match file
            .stages
            .iter()
            .rposition(|stage| stage.name.as_deref() == Some(lowered.as_str()))
        {
            Some(idx) => {
                if !targets.contains(&idx) {
                    targets.push(idx);
                }
            }
            None => {
                let mut message = format!("target stage {target:?} could not be found");
                if let Some(found) = suggest_stage_name(target, &names) {
                    message.push_str(&format!(" (did you mean {found}?)"));
                }
                sink.list
                    .push(option_diagnostic(Severity::Error, "UnknownTarget", message));
            }
        }
    }
    targets
}

/// The "did you mean" for a stage name that names no stage: the closest of `names` within
/// Levenshtein distance 2 (BuildKit's rule, case-sensitive as for `--target`), or None when one
/// of `names` is `value` itself or none is close. Target resolution and the stage graph's
/// search box (through the WebAssembly export `suggestStage`) both use it.
pub fn suggest_stage_name(value: &str, names: &[&str]) -> Option<String> {
    suggest::search(value, names, true)
}

/// The stages the targets need: the closure over FROM, COPY --from, mounts and ONBUILD edges.
pub fn needed_stages(graph: &Graph, targets: &[usize]) -> Vec<bool> {
    let mut needed = vec![false; graph.nodes.len()];
    let mut stack: Vec<usize> = targets.to_vec();
    while let Some(idx) = stack.pop() {
        if idx >= needed.len() || needed[idx] {
            continue;
        }
        needed[idx] = true;
        stack.extend_from_slice(graph.depends_on(idx));
    }
    needed
}

/// Forward references from needed stages: BuildKit dispatches in file order, so a COPY or
/// mount from a stage defined later fails when the referencing stage is built.
pub fn check_forward_references(
    file: &Dockerfile,
    graph: &Graph,
    needed: &[bool],
    sink: &mut Sink,
) {
    for (stage_idx, node) in graph.nodes.iter().enumerate() {
        if !needed[stage_idx] {
            continue;
        }
        for edge in &node.edges {
            let Source::Stage { stage: dep } = edge.source else {
                continue;
            };
            if dep <= stage_idx {
                continue;
            }
            let message = match edge.kind {
                EdgeKind::Copy => format!(
                    "cannot copy from stage {:?}, it needs to be defined before current stage {:?}",
                    edge.written,
                    display_name(file, stage_idx)
                ),
                EdgeKind::Mount => format!(
                    "cannot mount from stage {:?} to {:?}, stage needs to be defined before current command",
                    edge.written,
                    edge.mount_target.clone().unwrap_or_default()
                ),
                EdgeKind::From => continue,
            };
            sink.error("ForwardReference", message, edge.span);
        }
    }
}

/// Groups the needed stages into waves: one more than the deepest dependency's wave. Once
/// forward references are rejected every dependency is an earlier stage, so one pass in file
/// order settles it; any other acyclic graph falls back to relaxation.
pub fn waves(graph: &Graph, needed: &[bool]) -> Vec<Vec<usize>> {
    let n_stages = graph.nodes.len();
    let mut wave_of: Vec<Option<usize>> = vec![None; n_stages];
    let mut in_order = true;
    for idx in 0..n_stages {
        if !needed[idx] {
            continue;
        }
        let mut wave = 0;
        for &dep in graph.depends_on(idx) {
            if dep == idx {
                continue;
            }
            match wave_of[dep] {
                Some(dep_wave) => wave = wave.max(dep_wave + 1),
                None => in_order = false,
            }
        }
        wave_of[idx] = Some(wave);
    }
    if !in_order {
        wave_of = relaxed_waves(graph, needed);
    }
    let n_waves = wave_of.iter().flatten().max().map_or(0, |w| w + 1);
    let mut out = vec![Vec::new(); n_waves];
    for (idx, wave) in wave_of.iter().enumerate() {
        if let Some(wave) = wave {
            out[*wave].push(idx);
        }
    }
    out
}

/// Waves by relaxation, for a graph whose dependencies are not all earlier stages.
fn relaxed_waves(graph: &Graph, needed: &[bool]) -> Vec<Option<usize>> {
    let n_stages = graph.nodes.len();
    let mut wave_of: Vec<Option<usize>> = vec![None; n_stages];
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds <= n_stages {
        changed = false;
        rounds += 1;
        for idx in 0..n_stages {
            if !needed[idx] {
                continue;
            }
            let deps = graph.depends_on(idx);
            if deps.iter().any(|d| wave_of[*d].is_none() && *d != idx) {
                continue;
            }
            let wave = deps
                .iter()
                .filter(|d| **d != idx)
                .filter_map(|d| wave_of[*d])
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            if wave_of[idx] != Some(wave) {
                wave_of[idx] = Some(wave);
                changed = true;
            }
        }
    }
    wave_of
}
