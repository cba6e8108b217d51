//! Hover on a stage name, a reference to a stage or a `FROM` image: its base, what depends on
//! it, which of the chosen targets need it, and its wave.
//!
//! Input: the outline and what is at the cursor. Output: Markdown.
//! Invariant: every fact is read from the planner's outline (edges, `needed`, `stage_needs`,
//! targets, waves).

use std::fmt::Write;

use planner::plan::{EdgeKind, Source, Stage};
use planner::Outline;

use super::navigation::{edge, stage_of, At};

/// How a stage is named in text: `builder`, or `stage 2` when it has no name.
pub fn display_name(stage: &Stage) -> String {
    match &stage.name {
        Some(name) => format!("`{name}`"),
        None => format!("stage {}", stage.index),
    }
}

fn kind_name(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::From => "FROM",
        EdgeKind::Copy => "COPY --from",
        EdgeKind::Mount => "RUN --mount from",
    }
}

fn source_text(outline: &Outline, source: &Source) -> String {
    match source {
        Source::Stage { stage } => format!("stage {}", display_name(&outline.stages[*stage])),
        Source::Image { image } => format!("image `{image}`"),
        Source::Scratch => "`scratch` (empty)".to_string(),
    }
}

/// The Markdown of a hover over a stage.
pub fn stage_hover(outline: &Outline, stage_idx: usize) -> String {
    let stage = &outline.stages[stage_idx];
    let mut out = format!(
        "**stage {}** (index {})\n\n",
        display_name(stage),
        stage.index
    );
    let _ = writeln!(
        out,
        "- base: {} (`FROM {}`)",
        source_text(outline, &stage.base),
        stage.base_text
    );
    let targets: Vec<String> = outline
        .targets
        .iter()
        .map(|idx| display_name(&outline.stages[*idx]))
        .collect();
    let targets_text = if targets.is_empty() {
        "no target".to_string()
    } else {
        targets.join(", ")
    };
    let wave = outline
        .waves
        .iter()
        .position(|wave| wave.contains(&stage_idx));
    match (stage.needed, wave) {
        (true, Some(wave)) => {
            let needed_by: Vec<String> = outline
                .targets
                .iter()
                .filter(|target| outline.stage_needs[**target].contains(&stage_idx))
                .map(|idx| display_name(&outline.stages[*idx]))
                .collect();
            let _ = writeln!(
                out,
                "- needed by the target{} {}; wave {} of {}",
                if needed_by.len() == 1 { "" } else { "s" },
                needed_by.join(", "),
                wave + 1,
                outline.waves.len()
            );
        }
        (true, None) => {
            let _ = writeln!(out, "- needed, but on a dependency cycle (no wave)");
        }
        (false, _) => {
            let _ = writeln!(out, "- skipped: not needed for {targets_text}");
        }
    }
    let needs = &outline.stage_needs[stage_idx];
    let _ = writeln!(
        out,
        "- building it as the target builds {} stage{}",
        needs.len(),
        if needs.len() == 1 { "" } else { "s" }
    );
    let mut used_by: Vec<String> = Vec::new();
    for other in &outline.stages {
        for edge in &other.edges {
            if edge.source == (Source::Stage { stage: stage_idx }) {
                let item = format!(
                    "{} ({}, line {})",
                    display_name(other),
                    kind_name(edge.kind),
                    edge.line
                );
                if !used_by.contains(&item) {
                    used_by.push(item);
                }
            }
        }
    }
    if used_by.is_empty() {
        out.push_str("- used by no other stage\n");
    } else {
        let _ = writeln!(out, "- used by: {}", used_by.join(", "));
    }
    out
}

/// The Markdown of a hover at `at`.
pub fn hover(outline: &Outline, at: &At) -> Option<String> {
    if let Some(stage) = stage_of(outline, at) {
        return Some(stage_hover(outline, stage));
    }
    let At::Reference {
        in_stage,
        edge: idx,
    } = at
    else {
        return None;
    };
    let edge = edge(outline, *in_stage, *idx)?;
    let stage = &outline.stages[*in_stage];
    let mut out = format!(
        "**{}** — {} of stage {}\n\n",
        source_text(outline, &edge.source),
        kind_name(edge.kind),
        display_name(stage)
    );
    if let (Some(written), Source::Image { image }) = (&edge.written, &edge.source) {
        if written != image {
            let _ = writeln!(out, "- written `{written}`, `{image}` after ARG expansion");
        }
    }
    let _ = writeln!(
        out,
        "- {}",
        if stage.needed {
            "pulled: the stage is needed for the targets"
        } else {
            "not pulled: the stage is skipped for the targets"
        }
    );
    Some(out)
}
