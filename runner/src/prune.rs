//! `runner prune`: removes step-cache entries from the engine, as `docker builder prune` does
//! for BuildKit's cache.
//!
//! Input: an engine and [`PruneOptions`]: by default the entries no stage's last build uses
//! (an entry is a `stageplan-cache:<key>` tag; a stage's last build is its memory in a
//! `stageplan-record:<identity>` image); with `all`, every entry, every stage memory and every
//! `RUN --mount=type=cache` volume no container uses; `until` spares what was made more
//! recently than that (without it, the last two minutes are spared); `dry_run` removes nothing.
//! Output: a [`PruneSummary`] (what went, what stayed and why, about how many bytes).
//! Invariant: nothing is forced: an image another tag names (a user's `-t` tag), a child image
//! needs or a container uses stays, and a volume a container uses stays; deleting an entry's
//! tag deletes its image and the untagged parents only it held. A build running beside a prune
//! keeps what it needs when `until` is left alone: its images are in its containers and its
//! fresh entries inside the two minutes spared; and without `all`, the stage memories are read
//! again (at most a second old) before each deletion, so an entry a build that finished during
//! the prune remembers stays.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use crate::containers::cache_volumes::{ready_marker, CACHE_VOLUME_PREFIX};
use crate::engine::{Deletion, Engine, EngineResult, ImageListing};
use crate::exec::cache::CACHE_REPO;
use crate::record::memory::RECORD_REPO;
use crate::record::store::memory_in_labels;

/// What to remove.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Every entry, memory and cache volume, not only the entries no last build uses.
    pub all: bool,
    /// Spare entries and volumes made less than this long ago (default: two minutes). Stage
    /// memories have no age: `all` removes every one.
    pub until: Option<Duration>,
    /// Count, remove nothing.
    pub dry_run: bool,
}

/// What a prune did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneSummary {
    /// Cache entries removed.
    pub entries_removed: usize,
    /// Images deleted with them (an entry's image and the untagged parents only it held).
    pub images_deleted: usize,
    /// About how many bytes of layers those images held (each image's size over its parent's).
    pub bytes_freed: u64,
    /// Entries kept because the last build of a stage uses them.
    pub kept_in_use: usize,
    /// Entries kept because they are more recent than `until` (without it, than two minutes).
    pub kept_recent: usize,
    /// Entries whose image the engine kept (a container uses it).
    pub refused: usize,
    /// Stage memories removed.
    pub memories_removed: usize,
    /// Cache-mount volumes removed.
    pub volumes_removed: usize,
    /// Cache-mount volumes kept because a container uses them.
    pub volumes_in_use: usize,
}

/// How recent an entry or volume is spared when no `until` is given.
const GRACE: Duration = Duration::from_secs(120);

/// Removes cache entries (see the module comment).
pub async fn prune(
    engine: &Engine,
    options: &PruneOptions,
    now: SystemTime,
) -> EngineResult<PruneSummary> {
    let (records, entries) = tokio::try_join!(
        engine.list_images(Some(RECORD_REPO), false),
        engine.list_images(Some(CACHE_REPO), false),
    )?;
    let mut remembered = MemoryView::new(match options.all {
        true => BTreeSet::new(),
        false => keys_in_memories(&records),
    });
    // `--until` says how recent is spared; without it, what was made in the last minutes is
    // spared: a build still running has not written its memories, and a step it has just
    // committed may not be in a container yet.
    let spare = options.until.unwrap_or(GRACE);
    let made_before = now.checked_sub(spare).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut summary = PruneSummary::default();
    let mut doomed = Vec::new();
    for entry in &entries {
        for tag in cache_tags(entry) {
            if remembered
                .keys
                .contains(tag.trim_start_matches(&format!("{CACHE_REPO}:")))
            {
                summary.kept_in_use += 1;
            } else if entry.created > made_before {
                summary.kept_recent += 1;
            } else {
                doomed.push(tag.to_string());
            }
        }
    }
    if options.dry_run {
        summary.entries_removed = doomed.len();
        if options.all {
            summary.memories_removed = record_tags(&records).count();
        }
        summary.volumes_removed = volumes_to_remove(engine, options, now).await?.len();
        return Ok(summary);
    }
    let sizes = engine.list_images(None, true).await?;
    let own_size = own_sizes(&sizes);
    for tag in &doomed {
        // The deletions take a while, and a build that finished meanwhile has written memories
        // naming the entries it used: they are read again (at most every REREAD) before a
        // deletion. Reading them costs an image listing, as long as a deletion on a large store.
        if !options.all && remembered.names(engine, tag).await? {
            summary.kept_in_use += 1;
            continue;
        }
        match engine.delete_image(tag).await? {
            Deletion::Done { deleted } => {
                summary.entries_removed += 1;
                summary.images_deleted += deleted.len();
                summary.bytes_freed += deleted
                    .iter()
                    .map(|id| own_size.get(id.as_str()).copied().unwrap_or(0))
                    .sum::<u64>();
            }
            Deletion::Refused(_) => summary.refused += 1,
            Deletion::Missing => {}
        }
    }
    if options.all {
        for tag in record_tags(&records) {
            if let Deletion::Done { .. } = engine.delete_image(tag).await? {
                summary.memories_removed += 1;
            }
        }
    }
    for volume in volumes_to_remove(engine, options, now).await? {
        match engine.remove_unused_volume(&volume).await? {
            true => {
                summary.volumes_removed += 1;
                // Its ready marker goes with it (a marker alone would vouch for the next
                // volume of that name before it is filled).
                engine.remove_volume(&ready_marker(&volume)).await?;
            }
            false => summary.volumes_in_use += 1,
        }
    }
    Ok(summary)
}

/// How old the keys the stage memories name may be when prune decides on a deletion.
const REREAD: Duration = Duration::from_secs(1);

/// The keys the stage memories name, read again from the engine when older than [`REREAD`].
struct MemoryView {
    keys: BTreeSet<String>,
    read_at: std::time::Instant,
}

impl MemoryView {
    fn new(keys: BTreeSet<String>) -> MemoryView {
        MemoryView {
            keys,
            read_at: std::time::Instant::now(),
        }
    }

    /// Whether a stage memory names the entry `tag` (as of at most [`REREAD`] ago).
    async fn names(&mut self, engine: &Engine, tag: &str) -> EngineResult<bool> {
        if self.read_at.elapsed() >= REREAD {
            let records = engine.list_images(Some(RECORD_REPO), false).await?;
            self.keys = keys_in_memories(&records);
            self.read_at = std::time::Instant::now();
        }
        let key = tag.trim_start_matches(&format!("{CACHE_REPO}:"));
        Ok(self.keys.contains(key))
    }
}

/// The keys every stage memory names: its steps', its final image's, and its parent stage's.
fn keys_in_memories(records: &[ImageListing]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for record in records {
        for tag in &record.tags {
            let Some(identity) = tag.strip_prefix(&format!("{RECORD_REPO}:")) else {
                continue;
            };
            let Some(memory) = memory_in_labels(|name| record.labels.get(name), identity) else {
                continue;
            };
            keys.extend(memory.steps.into_iter().map(|step| step.key));
            keys.extend(memory.final_image_key);
            if memory.root.kind == "stage" {
                keys.insert(memory.root.value);
            }
        }
    }
    keys
}

/// An entry image's `stageplan-cache:` tags.
fn cache_tags(entry: &ImageListing) -> impl Iterator<Item = &str> {
    entry
        .tags
        .iter()
        .map(String::as_str)
        .filter(|tag| tag.starts_with(&format!("{CACHE_REPO}:")))
}

/// The `stageplan-record:` tags.
fn record_tags(records: &[ImageListing]) -> impl Iterator<Item = &str> {
    records
        .iter()
        .flat_map(|record| record.tags.iter().map(String::as_str))
        .filter(|tag| tag.starts_with(&format!("{RECORD_REPO}:")))
}

/// Each image's size over its parent's: the bytes of its own layer.
fn own_sizes(images: &[ImageListing]) -> HashMap<&str, u64> {
    let size: HashMap<&str, u64> = images
        .iter()
        .map(|image| (image.id.as_str(), image.size))
        .collect();
    images
        .iter()
        .map(|image| {
            let parent = size.get(image.parent.as_str()).copied();
            // A loaded image (a target's final image) has no parent and reuses the layers of
            // the committed image it was made from: it adds nothing of its own.
            let own = parent.map_or(0, |parent| image.size.saturating_sub(parent));
            (image.id.as_str(), own)
        })
        .collect()
}

/// The cache-mount volumes `--all` removes: all of them, or with `until` those made before.
async fn volumes_to_remove(
    engine: &Engine,
    options: &PruneOptions,
    now: SystemTime,
) -> EngineResult<Vec<String>> {
    if !options.all {
        return Ok(Vec::new());
    }
    let made_before = now
        .checked_sub(options.until.unwrap_or(GRACE))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let volumes = engine.list_volumes_made(CACHE_VOLUME_PREFIX).await?;
    // A cache's ready marker is removed with its cache, not on its own.
    let markers: BTreeSet<String> = volumes.iter().map(|v| ready_marker(&v.name)).collect();
    Ok(volumes
        .into_iter()
        .filter(|volume| !markers.contains(&volume.name))
        .filter(|volume| volume.created.is_some_and(|created| created <= made_before))
        .map(|volume| volume.name)
        .collect())
}

/// The summary as lines for the terminal.
pub fn summary_lines(summary: &PruneSummary, dry_run: bool) -> Vec<String> {
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut lines = Vec::new();
    let mut first = format!("{verb} {} cache entries", summary.entries_removed);
    if !dry_run {
        first.push_str(&format!(
            " ({} images, about {})",
            summary.images_deleted,
            crate::progress::human_bytes(summary.bytes_freed)
        ));
    }
    lines.push(first);
    let kept = [
        (summary.kept_in_use, "the last build of a stage uses them"),
        (
            summary.kept_recent,
            "made more recently than --until (without it, in the last 2 minutes)",
        ),
        (summary.refused, "a container uses their image"),
    ];
    for (count, why) in kept {
        if count > 0 {
            lines.push(format!("kept {count} cache entries: {why}"));
        }
    }
    if summary.memories_removed > 0 {
        lines.push(format!(
            "{verb} {} stage memories (the next build of each stage reads as a first build)",
            summary.memories_removed
        ));
    }
    if summary.volumes_removed > 0 {
        lines.push(format!(
            "{verb} {} cache-mount volumes",
            summary.volumes_removed
        ));
    }
    if summary.volumes_in_use > 0 {
        lines.push(format!(
            "kept {} cache-mount volumes: a container uses them",
            summary.volumes_in_use
        ));
    }
    lines
}
