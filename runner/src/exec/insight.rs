//! What the build record needs from a stage while it is built: the last build's memory of it,
//! per step the key's named fields, whether the cache hit and why it missed, the time split and
//! the bytes added; and the stage's memory for the next build.
//!
//! Input: the stage's identity and starting point, then per step its key fields (from the key
//! builder), the cache lookup's answer and the image sizes after it.
//! Output: a [`StepRecord`] per step, the stage's change since the last build, a
//! [`StepMemory`] per keyed step.
//! Invariant: a step's miss reason is the first key input that differs from the last build of
//! the same stage and step (or `--no-cache`, a first build, an evicted cache entry); a reason
//! that comes through an earlier step names that step's own cause.

use planner::plan::Instruction;

use super::timing::StepClock;
use crate::record::diff::{self, Links};
use crate::record::memory::KeyField;
use crate::record::memory::{RootMemory, StageMemory, StepMemory};
use crate::record::phrase::phrase;
use crate::record::types::{MissReason, StepRecord, StepStatus};

/// The record bookkeeping of one stage (cloned with the stage state to predict keys).
#[derive(Debug, Clone, Default)]
pub struct StageInsight {
    /// The stage's identity across builds (its record image's tag).
    pub identity: String,
    /// The last build's memory of the stage and its record image id.
    pub memory: Option<(String, StageMemory)>,
    /// Where the stage starts now.
    pub root: Option<RootMemory>,
    /// What changed first in the stage (its starting point, else the first changed step).
    pub first_change: Option<MissReason>,
    /// The last keyed step so far (number, line) and what changed at it.
    before: Option<(usize, u32)>,
    before_change: Option<MissReason>,
    /// The size of the stage's current image, when known.
    pub image_size: Option<u64>,
    /// The layer count of the stage's current image, when known.
    pub layers: Option<u64>,
    /// The keyed steps of this build, for the next one.
    pub remembered: Vec<StepMemory>,
    /// The cache key of the stage's final image, when it is a target.
    pub final_image_key: Option<String>,
    /// The first COPY/ADD from the context in the stage or the stages it is built on.
    pub context_copy_line: Option<u32>,
    /// The first RUN that added files after a context copy, in the stage or its bases.
    pub compile_line: Option<u32>,
    /// The step being performed.
    pub step: StepInsight,
}

/// The record bookkeeping of the step being performed.
#[derive(Debug, Clone, Default)]
pub struct StepInsight {
    /// When it started, ms since the build started.
    pub start_ms: u64,
    /// Its time split.
    pub clock: StepClock,
    /// The named fields of its key (empty for metadata steps).
    pub fields: Vec<KeyField>,
    /// Cached or ran, once known.
    pub status: Option<StepStatus>,
    /// Why the cache missed.
    pub miss: Option<MissReason>,
    /// Bytes it added.
    pub size_added: Option<i64>,
    /// Stages it waited for.
    pub waited_for: Vec<usize>,
    /// It copies from the build context.
    pub reads_context: bool,
    /// Its result is committed (and cached) with a later step of its run of COPY/ADD/WORKDIR
    /// steps: that step's number and line.
    pub committed_with: Option<(usize, u32)>,
}

impl StageInsight {
    /// The bookkeeping of the stage `identity` (no memory read yet).
    pub fn new(identity: String) -> StageInsight {
        StageInsight {
            identity,
            ..StageInsight::default()
        }
    }

    /// Sets where the stage starts and compares it with the last build; `base_stage` is the
    /// base stage's index, name and change since its last build, when the stage has one.
    pub fn start(
        &mut self,
        root: RootMemory,
        base_stage: Option<(usize, String, Option<MissReason>)>,
    ) {
        let previous_root = self.memory.as_ref().map(|(_, memory)| &memory.root);
        self.first_change = match previous_root {
            None => Some(MissReason::FirstBuild),
            Some(previous) => diff::compare_root(previous, &root, base_stage),
        };
        self.before_change = self.first_change.clone();
        self.root = Some(root);
    }

    /// Starts the record of the next step.
    pub fn begin_step(&mut self, start_ms: u64) {
        self.step = StepInsight {
            start_ms,
            clock: StepClock::start(),
            ..StepInsight::default()
        };
    }

    /// The cache lookup of step `step` answered `hit`: compares its key fields with the last
    /// build's and returns the miss reason to show (none on a hit). `stage_of` gives the name
    /// and change of a stage the step reads (see [`super::stage_state::stage_of`]).
    pub fn looked_up(
        &mut self,
        step: usize,
        instruction: &Instruction,
        hit: bool,
        no_cache: bool,
        stage_of: &dyn Fn(usize) -> Option<(String, Option<MissReason>)>,
    ) -> Option<MissReason> {
        let links = Links {
            before_step: self.before,
            before: self.before_change.as_ref(),
            stage: stage_of,
        };
        let previous = self
            .memory
            .as_ref()
            .and_then(|(_, memory)| memory.step(step));
        let change = match previous {
            None => Some(MissReason::FirstBuild),
            Some(previous) => diff::compare(previous, &self.step.fields, &instruction.text, &links),
        };
        if self.first_change.is_none() {
            self.first_change = change.clone();
        }
        self.before = Some((step, instruction.line));
        self.before_change = change.clone();
        self.step.status = Some(if hit {
            StepStatus::Cached
        } else {
            StepStatus::Ran
        });
        let miss = match (hit, no_cache, change, self.step.committed_with) {
            (true, ..) => None,
            (false, true, ..) => Some(MissReason::NoCache),
            (false, false, Some(change), _) => Some(change),
            // Unchanged, but never cached alone: it reruns with the run it is committed with.
            (false, false, None, Some((step, line))) => {
                Some(MissReason::CommittedWithRun { step, line })
            }
            (false, false, None, None) => Some(MissReason::CacheEvicted),
        };
        self.step.miss = miss.clone();
        miss
    }

    /// The stage's image is now one of `size` bytes and `layers` layers.
    pub fn image_now(&mut self, size: u64, layers: u64) {
        if let Some(before) = self.image_size {
            let added = size as i64 - before as i64;
            self.step.size_added = Some(self.step.size_added.unwrap_or(0) + added);
        }
        self.image_size = Some(size);
        self.layers = Some(layers);
    }

    /// Ends the step: its record, and its memory when it was keyed.
    pub fn finish_step(
        &mut self,
        stage: usize,
        step: usize,
        instruction: &Instruction,
        key: &str,
        end_ms: u64,
        failed: bool,
    ) -> StepRecord {
        let keyed = !self.step.fields.is_empty();
        let status = match (failed, self.step.status) {
            (true, _) => StepStatus::Failed,
            (false, Some(status)) => status,
            (false, None) => StepStatus::Config,
        };
        let fields = std::mem::take(&mut self.step.fields);
        if keyed && !failed {
            if self.step.reads_context && self.context_copy_line.is_none() {
                self.context_copy_line = Some(instruction.line);
            }
            let is_run = matches!(instruction.op, planner::plan::Op::Run { .. });
            if is_run
                && self.context_copy_line.is_some()
                && self.compile_line.is_none()
                && self.step.size_added.unwrap_or(0) > 0
            {
                self.compile_line = Some(instruction.line);
            }
            self.remembered.push(StepMemory {
                step,
                text: instruction.text.clone(),
                key: key.to_string(),
                fields,
                size_added: self.step.size_added,
            });
        }
        StepRecord {
            stage,
            step,
            line: instruction.line,
            text: instruction.text.clone(),
            status,
            miss_text: self.step.miss.as_ref().map(phrase),
            miss: self.step.miss.take(),
            key: keyed.then(|| key.to_string()),
            start_ms: self.step.start_ms,
            end_ms,
            times: self.step.clock.times(),
            size_added: if keyed { self.step.size_added } else { None },
            waited_for: std::mem::take(&mut self.step.waited_for),
        }
    }

    /// The memory of this build of the stage.
    pub fn memory_now(&self) -> Option<StageMemory> {
        Some(StageMemory {
            format: crate::record::memory::MEMORY_FORMAT,
            root: self.root.clone()?,
            steps: self.remembered.clone(),
            final_image_key: self.final_image_key.clone(),
            analysis: None,
        })
    }
}
