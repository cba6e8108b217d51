//! Which stages of this build will not come wholly from the cache.
//!
//! Input: the plan's stage edges (`depends_on`); a stage's first cache miss ([`Rebuilding::mark`]).
//! Output: per stage, whether it is known to be rebuilt, and a future that resolves when it is.
//! Invariant: a marked stage stays marked; marking a stage marks every stage that depends on it,
//! transitively (their keys are made from its keys, so they miss too), each stage at most once.
//!
//! A warm build of a run of COPY steps (committed once, at its last step) can only find that
//! step if it knows the keys of the stages the run reads. Waiting for a stage that comes from the
//! cache costs milliseconds; waiting for one being rebuilt would hold back work a cold build can
//! do now. This is what tells the two apart while the stage is still running.

use planner::Plan;
use tokio::sync::watch;

/// One flag per stage of the plan: "this stage missed the cache, or depends on one that did".
pub struct Rebuilding {
    flags: Vec<watch::Sender<bool>>,
    dependents: Vec<Vec<usize>>,
}

impl Rebuilding {
    /// No stage marked yet.
    pub fn new(plan: &Plan) -> Rebuilding {
        let count = plan.stages.len();
        let mut dependents = vec![Vec::new(); count];
        for stage in &plan.stages {
            for &dep in &stage.depends_on {
                if let Some(list) = dependents.get_mut(dep) {
                    list.push(stage.index);
                }
            }
        }
        Rebuilding {
            flags: (0..count).map(|_| watch::channel(false).0).collect(),
            dependents,
        }
    }

    /// Marks stage `index` and every stage that depends on it as rebuilt.
    pub fn mark(&self, index: usize) {
        let mut stack = vec![index];
        while let Some(current) = stack.pop() {
            let Some(flag) = self.flags.get(current) else {
                continue;
            };
            // Already marked: so are its dependents.
            if flag.send_if_modified(|marked| !std::mem::replace(marked, true)) {
                stack.extend(&self.dependents[current]);
            }
        }
    }

    /// Whether stage `index` is known to be rebuilt.
    pub fn is_marked(&self, index: usize) -> bool {
        self.flags.get(index).is_some_and(|flag| *flag.borrow())
    }

    /// Resolves once stage `index` is marked (never, for a stage that comes from the cache).
    pub async fn marked(&self, index: usize) {
        match self.flags.get(index) {
            Some(flag) => {
                let mut receiver = flag.subscribe();
                // The sender lives as long as `self`, so this only ends when the flag is set.
                let _ = receiver.wait_for(|marked| *marked).await;
            }
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn plan(dockerfile: &str) -> Plan {
        planner::plan(dockerfile, &planner::Options::default())
            .plan
            .expect("plan")
    }

    #[test]
    fn marking_a_stage_marks_its_dependents_and_nothing_else() {
        // 0 ← 1 ← 3 (COPY --from), 2 alone.
        let plan = plan(
            "FROM busybox AS a\nFROM a AS b\nFROM busybox AS c\nFROM busybox\nCOPY --from=b / /\nCOPY --from=c / /\n",
        );
        let rebuilding = Rebuilding::new(&plan);
        rebuilding.mark(1);
        let marked: Vec<bool> = (0..4).map(|i| rebuilding.is_marked(i)).collect();
        assert_eq!(marked, vec![false, true, false, true]);
        rebuilding.mark(0);
        assert!(rebuilding.is_marked(0));
        assert!(!rebuilding.is_marked(2));
    }

    #[tokio::test]
    async fn marked_resolves_when_marked_and_not_before() {
        let plan = plan("FROM busybox AS a\nFROM busybox\nCOPY --from=a / /\n");
        let rebuilding = std::sync::Arc::new(Rebuilding::new(&plan));
        let early = tokio::time::timeout(Duration::from_millis(20), rebuilding.marked(1)).await;
        assert!(early.is_err(), "an unmarked stage must not resolve");
        let waiter = {
            let rebuilding = rebuilding.clone();
            tokio::spawn(async move { rebuilding.marked(1).await })
        };
        rebuilding.mark(0);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("marking the stage it reads resolves the wait")
            .expect("task");
    }
}
