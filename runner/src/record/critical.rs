//! The critical path of a build: the chain of steps that decided its wall time.
//!
//! Input: the plan and the stage records (each step's start and end, the stages it waited for).
//! Output: the steps of the path, first to last.
//! Invariant: a pure function; the path ends at the last step of the last target and walks
//! back, at each step, to whichever of its predecessors finished last: the step before it in the
//! stage (or, for a stage's first step, the last step of its base stage) or the last step of a
//! stage it waited for; every step appears at most once.

use std::collections::{BTreeMap, BTreeSet};

use planner::plan::Source;
use planner::Plan;

use super::types::{PathStep, StageRecord};

/// The critical path of a build.
pub fn critical_path(plan: &Plan, stages: &[StageRecord]) -> Vec<PathStep> {
    let by_index: BTreeMap<usize, &StageRecord> = stages.iter().map(|s| (s.index, s)).collect();
    let Some(&target) = plan.targets.last() else {
        return Vec::new();
    };
    let mut path = Vec::new();
    let mut seen = BTreeSet::new();
    let mut at = last_step_of(plan, &by_index, target, 0);
    while let Some((stage, position)) = at {
        if !seen.insert((stage, position)) {
            break;
        }
        let record = by_index[&stage];
        let step = &record.steps[position];
        path.push(PathStep {
            stage,
            step: step.step,
        });
        // The step before it in the stage, or for the first step the base stage's last step.
        let mut best = if position > 0 {
            Some(((stage, position - 1), record.steps[position - 1].end_ms))
        } else {
            base_stage(plan, stage)
                .and_then(|base| last_step_of(plan, &by_index, base, 0))
                .map(|at| (at, end_of(&by_index, at)))
        };
        for &dep in &step.waited_for {
            if let Some(dep_at) = last_step_of(plan, &by_index, dep, 0) {
                let end = end_of(&by_index, dep_at);
                if best.is_none_or(|(_, best_end)| end > best_end) {
                    best = Some((dep_at, end));
                }
            }
        }
        at = best.map(|(at, _)| at);
    }
    path.reverse();
    path
}

fn end_of(by_index: &BTreeMap<usize, &StageRecord>, (stage, position): (usize, usize)) -> u64 {
    by_index[&stage].steps[position].end_ms
}

fn base_stage(plan: &Plan, stage: usize) -> Option<usize> {
    match plan.stages.get(stage)?.base {
        Source::Stage { stage } => Some(stage),
        _ => None,
    }
}

/// The last step of `stage`, or of the nearest base stage with steps.
fn last_step_of(
    plan: &Plan,
    by_index: &BTreeMap<usize, &StageRecord>,
    stage: usize,
    depth: usize,
) -> Option<(usize, usize)> {
    if depth > plan.stages.len() {
        return None;
    }
    match by_index.get(&stage) {
        Some(record) if !record.steps.is_empty() => Some((stage, record.steps.len() - 1)),
        _ => last_step_of(plan, by_index, base_stage(plan, stage)?, depth + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::types::{StepRecord, StepStatus, StepTimes};

    fn plan(text: &str) -> Plan {
        planner::plan(text, &planner::Options::default())
            .plan
            .expect("plan")
    }

    fn step(stage: usize, step: usize, start_ms: u64, end_ms: u64, waited: &[usize]) -> StepRecord {
        StepRecord {
            stage,
            step,
            line: 0,
            text: String::new(),
            status: StepStatus::Ran,
            miss: None,
            miss_text: None,
            key: None,
            start_ms,
            end_ms,
            times: StepTimes::default(),
            size_added: None,
            waited_for: waited.to_vec(),
        }
    }

    fn stage(index: usize, steps: Vec<StepRecord>) -> StageRecord {
        StageRecord {
            index,
            name: format!("s{index}"),
            target: false,
            start_ms: 0,
            end_ms: steps.last().map(|s| s.end_ms),
            image: None,
            size: None,
            layers: None,
            cached: false,
            change: None,
            steps,
        }
    }

    #[test]
    fn the_path_follows_the_slower_branch() {
        let plan = plan(
            "FROM busybox AS fast\nRUN a\n\
             FROM busybox AS slow\nRUN b\nRUN c\n\
             FROM busybox\nRUN d\nCOPY --from=fast /a /\nCOPY --from=slow /b /\n",
        );
        let stages = vec![
            stage(0, vec![step(0, 1, 0, 100, &[])]),
            stage(1, vec![step(1, 1, 0, 500, &[]), step(1, 2, 500, 900, &[])]),
            stage(
                2,
                vec![
                    step(2, 1, 0, 50, &[]),
                    step(2, 2, 50, 120, &[0]),
                    step(2, 3, 120, 950, &[1]),
                ],
            ),
        ];
        let path = critical_path(&plan, &stages);
        let pairs: Vec<(usize, usize)> = path.iter().map(|p| (p.stage, p.step)).collect();
        assert_eq!(pairs, vec![(1, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn a_stage_built_on_another_continues_its_path() {
        let plan = plan("FROM busybox AS base\nRUN a\nFROM base\nENV X=1\nRUN b\n");
        let stages = vec![
            stage(0, vec![step(0, 1, 0, 300, &[])]),
            stage(
                1,
                vec![step(1, 1, 300, 300, &[]), step(1, 2, 300, 400, &[])],
            ),
        ];
        let pairs: Vec<(usize, usize)> = critical_path(&plan, &stages)
            .iter()
            .map(|p| (p.stage, p.step))
            .collect();
        assert_eq!(pairs, vec![(0, 1), (1, 1), (1, 2)]);
    }
}
