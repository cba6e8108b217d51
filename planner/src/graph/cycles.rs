//! Circular dependencies between stages (dockerfile2llb `validateCircularDependency`).
//!
//! Input: the typed [`Dockerfile`] and its [`Graph`]. Output: at most one error in the sink.
//! Invariant: the walk keeps its own stack (no recursion), so any chain length is safe.

use crate::checks::Sink;
use crate::plan::{EdgeKind, Source};
use crate::stage::Dockerfile;

use super::model::Graph;

/// `circular dependency detected on stage: X`, naming the first stage in file order whose
/// walk finds a cycle, with the cycle spelled out. FROM edges are not followed, as in BuildKit
/// (`validateCircularDependency` walks the commands' sources only). The depth-first walk keeps
/// its own stack, so a chain of any length cannot overflow the thread's stack.
pub(super) fn check_cycles(file: &Dockerfile, graph: &Graph, sink: &mut Sink) {
    let n_stages = graph.nodes.len();
    let mut visited = vec![false; n_stages];
    let mut on_path = vec![false; n_stages];
    let mut path = Vec::new();
    for root in 0..n_stages {
        if let Some(cycle) = find_cycle(graph, root, &mut visited, &mut on_path, &mut path) {
            let names: Vec<String> = cycle.iter().map(|idx| quoted_name(file, *idx)).collect();
            let message = format!(
                "circular dependency detected on stage: {} (cycle: {})",
                quoted_name(file, root),
                names.join(" -> ")
            );
            sink.error("CircularDependency", message, file.stages[root].span);
            return;
        }
    }
}

/// The name BuildKit uses here (checked before a single-stage file's display name is cleared).
fn quoted_name(file: &Dockerfile, idx: usize) -> String {
    match &file.stages[idx].name {
        Some(name) => name.clone(),
        None => format!("stage-{idx}"),
    }
}

/// The first cycle reachable from `root` over non-FROM stage edges, in edge order, as the
/// path from where it closes back to that stage. `path` is the walk's stack (each frame: a
/// stage on the path and the position of the next edge to follow), reused between roots.
fn find_cycle(
    graph: &Graph,
    root: usize,
    visited: &mut [bool],
    on_path: &mut [bool],
    path: &mut Vec<(usize, usize)>,
) -> Option<Vec<usize>> {
    if visited[root] {
        return None;
    }
    path.clear();
    path.push((root, 0));
    visited[root] = true;
    on_path[root] = true;
    while let Some(&mut (idx, ref mut next_edge)) = path.last_mut() {
        let edges = &graph.nodes[idx].edges;
        let mut descend = None;
        while *next_edge < edges.len() {
            let edge = &edges[*next_edge];
            *next_edge += 1;
            if edge.kind == EdgeKind::From {
                continue;
            }
            let Source::Stage { stage: dep } = edge.source else {
                continue;
            };
            if on_path[dep] {
                let start = path.iter().position(|(p, _)| *p == dep).unwrap_or(0);
                let mut cycle: Vec<usize> = path[start..].iter().map(|(p, _)| *p).collect();
                cycle.push(dep);
                return Some(cycle);
            }
            if !visited[dep] {
                descend = Some(dep);
                break;
            }
        }
        match descend {
            Some(dep) => {
                visited[dep] = true;
                on_path[dep] = true;
                path.push((dep, 0));
            }
            None => {
                on_path[idx] = false;
                path.pop();
            }
        }
    }
    None
}
