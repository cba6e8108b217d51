//! The stage name index: lower-cased stage names to their indices in file order, so that name
//! lookups do not scan the file.
//!
//! Input: the typed [`Dockerfile`]. Output: [`NameIndex`] lookups (the last stage of a name, the
//! last before a given stage, the last stage called `scratch`).
//! Invariant: each name's indices are in file order, so the last definition wins and a `FROM`
//! binds only to an earlier stage.

use std::collections::BTreeMap;

use crate::stage::Dockerfile;

/// Stage names (lower-cased) to their indices in file order, so lookups do not scan the file.
pub(super) struct NameIndex {
    pub(super) by_name: BTreeMap<String, Vec<usize>>,
    pub(super) n_stages: usize,
    /// The last stage called `scratch`, which a mount without `from=` binds to.
    pub(super) scratch: Option<usize>,
}

impl NameIndex {
    pub(super) fn new(file: &Dockerfile) -> NameIndex {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (idx, stage) in file.stages.iter().enumerate() {
            if let Some(name) = &stage.name {
                match by_name.get_mut(name.as_str()) {
                    Some(indices) => indices.push(idx),
                    None => {
                        by_name.insert(name.clone(), vec![idx]);
                    }
                }
            }
        }
        let scratch = by_name
            .get("scratch")
            .and_then(|indices| indices.last().copied());
        NameIndex {
            by_name,
            n_stages: file.stages.len(),
            scratch,
        }
    }

    /// The last stage called `name` (case-insensitive): what `COPY --from`, mounts and
    /// `--target` bind to.
    pub(super) fn last(&self, name: &str) -> Option<usize> {
        let found = match self.by_name.get(name) {
            Some(found) => Some(found),
            None => self.by_name.get(name.to_lowercase().as_str()),
        };
        found.and_then(|indices| indices.last().copied())
    }

    /// The last stage called exactly `name` before `before`: what `FROM` binds to.
    pub(super) fn last_before(&self, name: &str, before: usize) -> Option<usize> {
        let indices = self.by_name.get(name)?;
        let count = indices.partition_point(|idx| *idx < before);
        count.checked_sub(1).map(|pos| indices[pos])
    }
}
