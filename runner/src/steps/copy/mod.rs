//! `COPY` and `ADD`: resolve the sources (build context, heredocs, URLs, another stage or an
//! image), key the step by what it copies, and on a miss write them into a holder of the stage's
//! image and commit.
//!
//! Input: the instruction's [`CopySpec`], the stage state, source stage results, the context.
//! Output: the stage's new image (or the cached one).
//! Invariant: BuildKit's copy rules: the destination is resolved through symlinks inside the
//! image; missing directories up to it are created owned by the `--chown` user (root
//! otherwise) with the octal `--chmod` mode (0755 without one); a directory source copies its
//! contents; a file goes inside the destination when
//! it ends in `/` or is a directory; context files, heredocs and downloads become root-owned,
//! files from another stage keep their owner, `--chown` overrides both; heredocs are copied
//! after the paths, as files named after their delimiter.
//!
//! This module keys the step and commits it; `resolve.rs` expands and resolves what it copies
//! (no container), `write.rs` writes it into the target container on a miss.

mod resolve;
mod write;

use std::time::Instant;

use planner::plan::{CopySpec, Instruction};

use self::resolve::{resolve, Resolved};
use self::write::write;
use crate::error::Result;
use crate::exec::cache::Key;
use crate::exec::commit::{cached_or_started, commit_step};
use crate::exec::ctx::Ctx;
use crate::exec::holders::{after_target, target_container};
use crate::exec::stage_state::StageState;
use crate::record::memory::KeyField;

/// A COPY or ADD resolved and keyed, before any container work.
pub struct Prepared {
    /// The step's cache key (chained from the stage's key at the time).
    pub key: Key,
    /// The key's named fields, for the build record.
    pub fields: Vec<KeyField>,
    resolved: Resolved,
}

impl Prepared {
    /// Whether the step copies from the build context.
    pub fn reads_context(&self) -> bool {
        self.resolved.context.is_some()
    }
}

/// Resolves a COPY or ADD against `state` (expanding its words, digesting its context sources)
/// and computes its cache key; touches no container.
pub async fn prepare(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    is_add: bool,
) -> Result<Prepared> {
    let fail = state.fail_at(instruction.line);
    let resolved = resolve(ctx, state, spec, is_add).await?.map_err(&fail)?;
    let mut key = state
        .key
        .step(if is_add { "add" } else { "copy" })
        .text("dest", &resolved.dest)
        .flag("dest-is-dir", resolved.dest_word.ends_with('/'))
        .optional("chown", resolved.chown.as_deref())
        .optional("chmod", resolved.chmod_text.as_deref())
        .flag("parents", spec.parents)
        .list("exclude", &spec.exclude)
        .optional(
            "unpack",
            spec.unpack.map(|u| if u { "true" } else { "false" }),
        )
        .list("from-paths", &resolved.image_paths)
        .text("origin", &resolved.origin)
        .detail(resolved.origin_parts.clone());
    for (name, body) in &resolved.heredocs {
        key = key.text("heredoc", name).text("body", body);
    }
    for download in &resolved.downloads {
        key = key
            .text("download", &download.name)
            .text("sha256", &download.digest)
            .text("modified", &download.modified.to_string());
    }
    let (key, fields) = key.finish_fields();
    Ok(Prepared {
        key,
        fields,
        resolved,
    })
}

/// Performs a COPY or ADD (or takes its result from the cache). With `defer`, a written step
/// is not committed: the next COPY/ADD of the stage writes into the same container and the
/// last one of the run commits them all ([`StageState::pending`]).
pub async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    is_add: bool,
    defer: bool,
) -> Result<()> {
    let fail = state.fail_at(instruction.line);
    let Prepared {
        key,
        fields,
        resolved,
    } = prepare(ctx, state, instruction, spec, is_add).await?;
    state.key = key;
    state.insight.step.fields = fields;
    state.insight.step.reads_context = resolved.context.is_some();
    if cached_or_started(ctx, state, instruction).await? {
        // A cached result replaces whatever a run of uncommitted steps had written.
        if let Some(container) = state.pending.take() {
            after_target(ctx, state, &container, false).await?;
        }
        return Ok(());
    }
    let holder = match state.pending.take() {
        Some(container) => container,
        None => target_container(ctx, state).await?,
    };
    let writing = Instant::now();
    let written = write(ctx, state, &holder, spec, is_add, resolved).await;
    state.insight.step.clock.add_transfer(writing.elapsed());
    let result = match written {
        Ok(Ok(())) if defer => {
            state.pending = Some(holder);
            state.executed = true;
            state.all_cached = false;
            return Ok(());
        }
        Ok(Ok(())) => commit_step(ctx, state, &holder, instruction).await,
        Ok(Err(e)) => Err(fail(e)),
        Err(e) => Err(e),
    };
    let settled = after_target(ctx, state, &holder, result.is_ok()).await;
    result.and(settled)
}
