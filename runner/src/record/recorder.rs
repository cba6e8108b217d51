//! Collects the build record while stages run: each stage's start, steps and end, the stage
//! memories to keep in the engine, and the facts the leak report needs.
//!
//! Input: events from the stage tasks (started, step finished, stage finished), the context
//! files COPY steps read. Output: the stage records, the memories and the facts, in plan order.
//! Invariant: safe to share between stage tasks (one lock, held only to push or copy); times are
//! milliseconds since the recorder was made, which is when the build started.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use super::memory::StageMemory;
use super::types::{MissReason, StageRecord, StepRecord};

/// A stage memory to keep in the engine once the build is over.
#[derive(Debug, Clone)]
pub struct PendingMemory {
    /// The stage's identity (the record image's tag).
    pub identity: String,
    /// What to remember.
    pub memory: StageMemory,
    /// The record image read at the start, if any.
    pub previous: Option<(String, StageMemory)>,
}

/// What the leak report needs to know about a finished stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageFacts {
    /// The id of the external image the stage's chain of bases starts from (None: scratch).
    pub root_image: Option<String>,
    /// The reference of that image as the plan writes it.
    pub root_reference: Option<String>,
    /// The first COPY/ADD from the build context in the stage or a stage it is built on (line).
    pub context_copy_line: Option<u32>,
    /// The first RUN that added files after sources were copied from the context, in the stage
    /// or a stage it is built on (line): the stage compiles in its own image.
    pub compile_line: Option<u32>,
    /// The stage's image id.
    pub image: Option<String>,
}

/// A file copied from the build context, found again by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Path relative to the context.
    pub rel: String,
    /// Its size.
    pub size: u64,
}

#[derive(Default)]
struct Collected {
    stages: BTreeMap<usize, StageRecord>,
    memories: BTreeMap<usize, PendingMemory>,
    facts: BTreeMap<usize, StageFacts>,
    context_files: BTreeMap<String, ContextFile>,
}

/// The shared collector of one build.
pub struct Recorder {
    started: Instant,
    started_wall: SystemTime,
    built_ms: AtomicU64,
    collected: Mutex<Collected>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            built_ms: AtomicU64::new(u64::MAX),
            collected: Mutex::new(Collected::default()),
        }
    }

    /// Milliseconds since the build started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Marks the moment the last stage is done and the target tagged: the build's wall time
    /// (the leak report and the record files come after).
    pub fn mark_built(&self) {
        self.built_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// The build's wall time: until [`Recorder::mark_built`], or until now when it was not
    /// called (a failed build).
    pub fn built_ms(&self) -> u64 {
        match self.built_ms.load(Ordering::Relaxed) {
            u64::MAX => self.now_ms(),
            ms => ms,
        }
    }

    /// When the build started, RFC 3339 UTC.
    pub fn started_rfc3339(&self) -> String {
        humantime::format_rfc3339_millis(self.started_wall).to_string()
    }

    /// A stage started.
    pub fn stage_started(&self, index: usize, name: &str, target: bool) {
        let record = StageRecord {
            index,
            name: name.to_string(),
            target,
            start_ms: self.now_ms(),
            end_ms: None,
            image: None,
            size: None,
            layers: None,
            cached: true,
            change: None,
            steps: Vec::new(),
        };
        self.lock().stages.insert(index, record);
    }

    /// A step of a stage finished (or failed).
    pub fn step_finished(&self, record: StepRecord) {
        if let Some(stage) = self.lock().stages.get_mut(&record.stage) {
            stage.steps.push(record);
        }
    }

    /// A stage finished with its image.
    pub fn stage_finished(&self, index: usize, finished: FinishedStage) {
        let end_ms = self.now_ms();
        let mut collected = self.lock();
        if let Some(stage) = collected.stages.get_mut(&index) {
            stage.end_ms = Some(end_ms);
            stage.image = finished.image.clone();
            stage.size = finished.size;
            stage.layers = finished.layers;
            stage.cached = finished.cached;
            stage.change = finished.change;
        }
        collected.facts.insert(index, finished.facts);
        if let Some(memory) = finished.memory {
            collected.memories.insert(index, memory);
        }
    }

    /// Context files a COPY/ADD step read, by sha256.
    pub fn context_files(&self, files: impl IntoIterator<Item = (String, ContextFile)>) {
        self.lock().context_files.extend(files);
    }

    /// The stage records so far, in plan order.
    pub fn stages(&self) -> Vec<StageRecord> {
        self.lock().stages.values().cloned().collect()
    }

    /// The facts of the finished stages.
    pub fn facts(&self) -> BTreeMap<usize, StageFacts> {
        self.lock().facts.clone()
    }

    /// The context files the build copied, by sha256.
    pub fn copied_context_files(&self) -> BTreeMap<String, ContextFile> {
        self.lock().context_files.clone()
    }

    /// The memory of a finished stage (to add the layer analysis of a target).
    pub fn memory_mut<T>(
        &self,
        index: usize,
        f: impl FnOnce(&mut PendingMemory) -> T,
    ) -> Option<T> {
        self.lock().memories.get_mut(&index).map(f)
    }

    /// Takes the memories to keep, except the one of stage `keep` (left for later).
    pub fn take_memories(&self, keep: Option<usize>) -> Vec<PendingMemory> {
        let mut collected = self.lock();
        let kept = keep.and_then(|index| collected.memories.remove(&index));
        let taken = std::mem::take(&mut collected.memories);
        if let (Some(index), Some(memory)) = (keep, kept) {
            collected.memories.insert(index, memory);
        }
        taken.into_values().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        // Every update is a single insert or push: a panic cannot leave half of one behind.
        self.collected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a finished stage reports.
#[derive(Debug, Clone, Default)]
pub struct FinishedStage {
    /// Its image id.
    pub image: Option<String>,
    /// Its image size.
    pub size: Option<u64>,
    /// Its layer count.
    pub layers: Option<u64>,
    /// Whether every step came from the cache.
    pub cached: bool,
    /// What changed in it since the last build.
    pub change: Option<MissReason>,
    /// Facts for the leak report.
    pub facts: StageFacts,
    /// Its memory to keep.
    pub memory: Option<PendingMemory>,
}
