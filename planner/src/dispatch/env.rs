//! A stage's build environment while it is dispatched: the variables the builder expands
//! words with (the base's `PATH`, `ENV`, `ARG`s with a value) and the `ARG` names declared so far,
//! shared along a chain of `FROM <stage>` through an undo log.
//!
//! Input: assignments and declarations as the dispatcher meets them. Output: lookups for the
//! shell lexer, and the variable names in BuildKit's `EnvList.Keys` order for suggestions.
//! Invariant: rolling back to a mark restores exactly the state at that mark, so a child stage
//! sees its parent's final environment and a sibling never sees its brother's.

use std::collections::BTreeMap;

use crate::expand::Lookup;

/// One change to undo.
enum Undo {
    /// A variable's previous value and order (none when it was unset).
    Var(String, Option<(String, u64)>),
    /// An `ARG` name declared once more.
    Declared(String),
}

/// The environment of the stage being dispatched. Nothing is ever removed from its maps (an
/// unset variable keeps its key with no value), which keeps the WebAssembly build small.
#[derive(Default)]
pub struct StageEnv {
    /// Variables with their value and the order of their last assignment (`None`: unset).
    vars: BTreeMap<String, Option<(String, u64)>>,
    /// How often each `ARG` name has been declared along the chain.
    declared: BTreeMap<String, u32>,
    next_order: u64,
    undo: Vec<Undo>,
}

impl StageEnv {
    /// A point to roll back to.
    pub fn mark(&self) -> usize {
        self.undo.len()
    }

    /// Undoes every change made since `mark`.
    pub fn rollback(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop() {
                Some(Undo::Var(name, previous)) => {
                    self.vars.insert(name, previous);
                }
                Some(Undo::Declared(name)) => {
                    if let Some(count) = self.declared.get_mut(&name) {
                        *count = count.saturating_sub(1);
                    }
                }
                None => break,
            }
        }
    }

    /// Sets a variable (`ENV`, an `ARG` with a value, the base image's `PATH`).
    pub fn set(&mut self, name: &str, value: String) {
        self.next_order += 1;
        let previous = self
            .vars
            .insert(name.to_string(), Some((value, self.next_order)))
            .flatten();
        self.undo.push(Undo::Var(name.to_string(), previous));
    }

    /// Records an `ARG` declaration (with or without a value).
    pub fn declare(&mut self, name: &str) {
        *self.declared.entry(name.to_string()).or_insert(0) += 1;
        self.undo.push(Undo::Declared(name.to_string()));
    }

    /// Whether an `ARG` of this name was declared in the stage or its ancestors.
    pub fn is_declared(&self, name: &str) -> bool {
        self.declared.get(name).is_some_and(|count| *count > 0)
    }

    /// The variable names, oldest assignment first (BuildKit's `EnvList.Keys` order).
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<(&str, u64)> = self
            .vars
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|(_, order)| (name.as_str(), *order)))
            .collect();
        keys.sort_unstable_by_key(|(_, order)| *order);
        keys.into_iter().map(|(name, _)| name).collect()
    }
}

impl Lookup for StageEnv {
    fn lookup(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .and_then(|value| value.as_ref())
            .map(|(value, _)| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_the_parent_state() {
        let mut env = StageEnv::default();
        env.set("PATH", "/bin".into());
        env.declare("A");
        let mark = env.mark();
        env.set("PATH", "/usr/bin".into());
        env.set("B", "2".into());
        env.declare("A");
        env.declare("C");
        assert_eq!(env.keys(), vec!["PATH", "B"]);
        env.rollback(mark);
        assert_eq!(env.lookup("PATH").as_deref(), Some("/bin"));
        assert_eq!(env.lookup("B"), None);
        assert!(env.is_declared("A") && !env.is_declared("C"));
    }

    #[test]
    fn keys_follow_the_last_assignment() {
        let mut env = StageEnv::default();
        env.set("A", "1".into());
        env.set("B", "1".into());
        env.set("A", "2".into());
        assert_eq!(env.keys(), vec!["B", "A"]);
    }
}
