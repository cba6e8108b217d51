//! The stage graph as Graphviz DOT or Mermaid text, with dockerfilegraph's conventions:
//! stages as boxes (name, else index), external images as dashed boxes, `FROM` edges solid,
//! `COPY --from` dashed with an empty arrowhead, `RUN --mount from=` dotted with a diamond,
//! ONBUILD edges labelled; stages the targets do not need greyed out, targets outlined bold.
//!
//! Input: a [`Plan`]. Output: the graph text. Invariant: deterministic (file order, sorted images).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::plan::{EdgeKind, Plan, Source};

/// The output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

fn stage_label(plan: &Plan, idx: usize) -> String {
    plan.stages
        .get(idx)
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| idx.to_string())
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Every external image any stage uses, sorted, with a stable node id.
fn image_nodes(plan: &Plan) -> Vec<String> {
    let images: BTreeSet<String> = plan
        .stages
        .iter()
        .flat_map(|s| s.edges.iter())
        .filter_map(|e| match &e.source {
            Source::Image { image } => Some(image.clone()),
            _ => None,
        })
        .collect();
    images.into_iter().collect()
}

fn source_id(source: &Source, images: &[String]) -> String {
    match source {
        Source::Stage { stage } => format!("stage_{stage}"),
        Source::Image { image } => format!(
            "image_{}",
            images.iter().position(|i| i == image).unwrap_or(0)
        ),
        Source::Scratch => "scratch".to_string(),
    }
}

/// Renders the plan's stage graph.
pub fn render(plan: &Plan, format: GraphFormat) -> String {
    match format {
        GraphFormat::Dot => render_dot(plan),
        GraphFormat::Mermaid => render_mermaid(plan),
    }
}

fn uses_scratch(plan: &Plan) -> bool {
    plan.stages
        .iter()
        .flat_map(|s| s.edges.iter())
        .any(|e| e.source == Source::Scratch)
}

fn render_dot(plan: &Plan) -> String {
    let images = image_nodes(plan);
    let mut out = String::from("digraph stages {\n  rankdir=LR;\n  node [shape=box, style=\"rounded\", fontname=\"Helvetica\"];\n");
    for (idx, image) in images.iter().enumerate() {
        let _ = writeln!(
            out,
            "  image_{idx} [label=\"{}\", style=\"dashed,rounded\"];",
            escape_dot(image)
        );
    }
    if uses_scratch(plan) {
        out.push_str("  scratch [label=\"scratch\", style=\"dashed,rounded\"];\n");
    }
    for stage in &plan.stages {
        let mut attrs = vec![format!(
            "label=\"{}\"",
            escape_dot(&stage_label(plan, stage.index))
        )];
        let target = plan.targets.contains(&stage.index);
        match (stage.needed, target) {
            (true, true) => attrs
                .push("style=\"rounded,filled,bold\", fillcolor=\"#cfe3ff\", penwidth=2".into()),
            (true, false) => attrs.push("style=\"rounded,filled\", fillcolor=\"#e6f0ff\"".into()),
            (false, _) => {
                attrs.push("style=\"rounded\", color=\"grey60\", fontcolor=\"grey60\"".into())
            }
        }
        let _ = writeln!(out, "  stage_{} [{}];", stage.index, attrs.join(", "));
    }
    for stage in &plan.stages {
        for edge in &stage.edges {
            let mut attrs = match edge.kind {
                EdgeKind::From => vec!["style=solid".to_string()],
                EdgeKind::Copy => vec!["style=dashed".to_string(), "arrowhead=empty".to_string()],
                EdgeKind::Mount => {
                    vec!["style=dotted".to_string(), "arrowhead=ediamond".to_string()]
                }
            };
            if edge.onbuild {
                attrs.push("label=\"onbuild\"".to_string());
            }
            if !stage.needed {
                attrs.push("color=\"grey60\"".to_string());
            }
            let _ = writeln!(
                out,
                "  {} -> stage_{} [{}];",
                source_id(&edge.source, &images),
                stage.index,
                attrs.join(", ")
            );
        }
    }
    out.push_str("}\n");
    out
}

fn render_mermaid(plan: &Plan) -> String {
    let images = image_nodes(plan);
    let mut out = String::from("flowchart LR\n");
    for (idx, image) in images.iter().enumerate() {
        let _ = writeln!(out, "  image_{idx}[\"{}\"]:::image", escape_mermaid(image));
    }
    if uses_scratch(plan) {
        out.push_str("  scratch[\"scratch\"]:::image\n");
    }
    for stage in &plan.stages {
        let class = match (stage.needed, plan.targets.contains(&stage.index)) {
            (true, true) => "target",
            (true, false) => "needed",
            (false, _) => "skipped",
        };
        let _ = writeln!(
            out,
            "  stage_{}[\"{}\"]:::{class}",
            stage.index,
            escape_mermaid(&stage_label(plan, stage.index))
        );
    }
    for stage in &plan.stages {
        for edge in &stage.edges {
            let label = if edge.onbuild { "|onbuild|" } else { "" };
            let arrow = match edge.kind {
                EdgeKind::From => "-->",
                EdgeKind::Copy => "-.->",
                EdgeKind::Mount => "-.-o",
            };
            let _ = writeln!(
                out,
                "  {} {arrow}{label} stage_{}",
                source_id(&edge.source, &images),
                stage.index
            );
        }
    }
    out.push_str("  classDef image stroke-dasharray: 5 5,fill:#fff\n");
    out.push_str("  classDef target fill:#cfe3ff,stroke:#1f5fbf,stroke-width:3px\n");
    out.push_str("  classDef needed fill:#e6f0ff,stroke:#1f5fbf\n");
    out.push_str("  classDef skipped fill:#f4f4f4,stroke:#aaa,color:#999\n");
    out
}
