//! Temporary containers and volumes: naming, tracking and removal on every path.
//!
//! Input: every temporary container and volume the runner makes goes through [`Reaper`].
//! Output: objects named `stageplan-tmp-<boot>-<pidns>-<pid>-<start>-<n>` (see
//! [`RunnerIdentity`]); [`Reaper::remove`] for one, [`Reaper::shutdown`] for all of them on
//! failure or interrupt, [`Reaper::sweep_dead`] at start-up for the debris of runners that were
//! killed (with the cache volumes they left half filled).
//! Invariant: an engine request that creates an object runs in its own task, so dropping the
//! build (an interrupt) cannot abandon a half-made object: [`Reaper::shutdown`] refuses new
//! objects, waits for every creation in flight, then removes everything this process made.
//! Temporary containers carry no labels (they would leak into commits); the name is the only
//! mark, and only names that prove a dead runner of this host and PID namespace are swept.
//! Temporary host files (secrets in `/dev/shm`, copies of bind sources) are tracked the same
//! way, and so is a cache mount's volume until it is filled.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use super::cache_volumes;
use super::identity::{RunnerIdentity, TEMP_PREFIX};
use crate::engine::{ContainerSpec, Engine, EngineError, EngineResult};

/// Why the reaper refused or failed to make an object.
#[derive(Debug, thiserror::Error)]
pub enum ReapError {
    /// The build is shutting down; no new object may be made.
    #[error("the build is being stopped; no new container or volume is made")]
    ShuttingDown,
    /// The engine refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Tracks the temporary objects of this process. Cheap to clone.
#[derive(Clone)]
pub struct Reaper {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    prefix: String,
    identity: Option<RunnerIdentity>,
    counter: AtomicU64,
    closing: AtomicBool,
    containers: Mutex<BTreeSet<String>>,
    volumes: Mutex<BTreeSet<String>>,
    host_files: Mutex<BTreeSet<PathBuf>>,
    in_flight: Mutex<Vec<JoinHandle<()>>>,
}

impl Reaper {
    /// A reaper for objects made on `engine` by this process.
    pub fn new(engine: Engine) -> Reaper {
        let identity = RunnerIdentity::current().cloned();
        let prefix = match &identity {
            Some(identity) => identity.prefix(),
            // Without /proc there is no provable identity: name by pid, never sweep.
            None => format!("{TEMP_PREFIX}unknown-{}-", std::process::id()),
        };
        Reaper {
            inner: Arc::new(Inner {
                engine,
                prefix,
                identity,
                counter: AtomicU64::new(0),
                closing: AtomicBool::new(false),
                containers: Mutex::new(BTreeSet::new()),
                volumes: Mutex::new(BTreeSet::new()),
                host_files: Mutex::new(BTreeSet::new()),
                in_flight: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The name prefix of this process's objects.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn next_name(&self, kind: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}{kind}{n}", self.inner.prefix)
    }

    /// Creates a temporary container; returns its id.
    pub async fn create(&self, mut spec: ContainerSpec) -> Result<String, ReapError> {
        spec.name = self.next_name("c");
        let name = spec.name.clone();
        lock(&self.inner.containers).insert(name.clone());
        let engine = self.inner.engine.clone();
        let result = self
            .in_flight(async move { engine.create_container(&spec).await })
            .await?;
        let mut containers = lock(&self.inner.containers);
        containers.remove(&name);
        match result {
            Ok(id) => {
                containers.insert(id.clone());
                Ok(id)
            }
            Err(e) => Err(ReapError::Engine(e)),
        }
    }

    /// Creates a temporary volume; returns its name.
    pub async fn create_volume(&self) -> Result<String, ReapError> {
        let name = self.next_name("v");
        lock(&self.inner.volumes).insert(name.clone());
        let engine = self.inner.engine.clone();
        let volume = name.clone();
        self.in_flight(async move { engine.create_volume(&volume, &[]).await })
            .await?
            .map_err(ReapError::Engine)?;
        Ok(name)
    }

    /// Creates the named volume `name`, which is to outlive the build (a cache mount's), and
    /// tracks it like a temporary volume until [`Reaper::keep_volume`]: a build that fails or
    /// is stopped before the volume is ready removes it, so no later build finds it half made.
    /// Returns the labels the volume has (an existing volume keeps its own).
    pub async fn create_lasting_volume(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<std::collections::HashMap<String, String>, ReapError> {
        lock(&self.inner.volumes).insert(name.to_string());
        let engine = self.inner.engine.clone();
        let volume = name.to_string();
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.in_flight(async move {
            let labels: Vec<(&str, &str)> = labels
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            engine.create_volume(&volume, &labels).await
        })
        .await?
        .map_err(ReapError::Engine)
    }

    /// Stops tracking a volume made with [`Reaper::create_lasting_volume`]: it is ready and
    /// stays after the build.
    pub fn keep_volume(&self, name: &str) {
        lock(&self.inner.volumes).remove(name);
    }

    /// Whether the runner that made the object `name` (named with its [`Reaper::prefix`]) is
    /// provably dead, as [`Reaper::sweep_dead`] proves it.
    pub fn proves_dead(&self, name: &str) -> bool {
        self.inner.identity.as_ref().is_some_and(|me| {
            RunnerIdentity::from_name(name).is_some_and(|owner| me.proves_dead(&owner))
        })
    }

    /// Runs a creating request in its own task, registered so that [`Reaper::shutdown`] waits
    /// for it; refuses when shutting down.
    async fn in_flight<T: Send + 'static>(
        &self,
        request: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, ReapError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        {
            let mut in_flight = lock(&self.inner.in_flight);
            // Checked under the lock that shutdown takes, so no creation can slip past it.
            if self.inner.closing.load(Ordering::SeqCst) {
                return Err(ReapError::ShuttingDown);
            }
            in_flight.retain(|handle| !handle.is_finished());
            in_flight.push(tokio::spawn(async move {
                let _ = sender.send(request.await);
            }));
        }
        receiver.await.map_err(|_| ReapError::ShuttingDown)
    }

    /// A fresh, tracked path in host directory `dir` for a temporary file (a secret in memory,
    /// a copy of a bind source); removed by [`Reaper::remove_host_file`] or at shutdown.
    pub fn host_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.next_name("f"));
        lock(&self.inner.host_files).insert(path.clone());
        path
    }

    /// Removes a temporary host file.
    pub fn remove_host_file(&self, path: &Path) {
        let _ = std::fs::remove_file(path);
        lock(&self.inner.host_files).remove(path);
    }

    /// Removes one container now. A removal the engine refuses leaves it tracked: shutdown
    /// tries again, and reports it if it fails then too (a refused removal is no reason to fail
    /// a step whose work is done).
    pub async fn remove(&self, id: &str) {
        if self.inner.engine.remove_container(id).await.is_ok() {
            lock(&self.inner.containers).remove(id);
        }
    }

    /// Removes one container in the background: the caller goes on while the engine removes
    /// it, and [`Reaper::shutdown`] waits for the removal. Only for containers no volume
    /// removal waits on (a volume in use cannot be removed). A failed removal leaves the
    /// container tracked, so shutdown removes it.
    pub fn remove_detached(&self, id: String) {
        let reaper = self.clone();
        let mut in_flight = lock(&self.inner.in_flight);
        // Once shutdown has started it removes every tracked container itself.
        if self.inner.closing.load(Ordering::SeqCst) {
            return;
        }
        in_flight.retain(|handle| !handle.is_finished());
        in_flight.push(tokio::spawn(async move { reaper.remove(&id).await }));
    }

    /// Removes one temporary volume.
    pub async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        self.inner.engine.remove_volume(name).await?;
        lock(&self.inner.volumes).remove(name);
        Ok(())
    }

    /// Stops making objects, waits for every creation in flight (at most [`IN_FLIGHT_GRACE`]),
    /// then force-removes every container and volume this process made (tracked, or found by
    /// its name prefix; each phase at most [`REMOVAL_GRACE`]) and its host files; returns what
    /// it removed, what the engine refused (or did not answer) and how many requests in flight
    /// it gave up on.
    pub async fn shutdown(&self) -> Cleanup {
        let handles: Vec<JoinHandle<()>> = {
            let mut in_flight = lock(&self.inner.in_flight);
            self.inner.closing.store(true, Ordering::SeqCst);
            std::mem::take(&mut *in_flight)
        };
        // Bounded: an engine that never answers must not keep a stopped build alive. What a
        // request given up on makes later carries this process's name, and the next runner
        // sweeps it once this one has exited.
        let mut cleanup = Cleanup::default();
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_GRACE;
        for handle in handles {
            let abort = handle.abort_handle();
            if tokio::time::timeout_at(deadline, handle).await.is_err() {
                abort.abort();
                cleanup.unanswered += 1;
            }
        }
        // Each phase is bounded too: a removal the engine never answers is reported as left.
        let engine = &self.inner.engine;
        let mut containers: BTreeSet<String> = std::mem::take(&mut *lock(&self.inner.containers));
        match answered(engine.list_containers_by_prefix(&self.inner.prefix)).await {
            Ok(listed) => containers.extend(listed.into_iter().map(|c| c.id)),
            Err(e) => cleanup.refused(Left::Listing, e),
        }
        let removals = containers
            .iter()
            .map(|id| answered(engine.remove_container(id)));
        let results = futures_util::future::join_all(removals).await;
        for (id, result) in containers.iter().zip(results) {
            match result {
                Ok(()) => cleanup.removed += 1,
                Err(e) => cleanup.refused(Left::Container(short(id).to_string()), e),
            }
        }
        // Volumes are removed after the containers that use them.
        let mut volumes: BTreeSet<String> = std::mem::take(&mut *lock(&self.inner.volumes));
        match answered(engine.list_volumes_by_prefix(&self.inner.prefix)).await {
            Ok(listed) => volumes.extend(listed),
            Err(e) => cleanup.refused(Left::Listing, e),
        }
        let removals = volumes
            .iter()
            .map(|name| answered(engine.remove_volume(name)));
        let results = futures_util::future::join_all(removals).await;
        for (name, result) in volumes.iter().zip(results) {
            match result {
                Ok(()) => cleanup.removed += 1,
                Err(e) => cleanup.refused(Left::Volume(name.clone()), e),
            }
        }
        let files: BTreeSet<PathBuf> = std::mem::take(&mut *lock(&self.inner.host_files));
        cleanup.removed += files
            .iter()
            .filter(|path| std::fs::remove_file(path).is_ok())
            .count();
        cleanup
    }

    /// Removes the containers and volumes of runners that provably died (see
    /// [`RunnerIdentity::proves_dead`]), and the cache volumes they were filling and never
    /// marked ready (see [`cache_volumes::sweep_dead_fills`]); returns how many.
    pub async fn sweep_dead(&self) -> EngineResult<usize> {
        if self.inner.identity.is_none() {
            return Ok(0);
        }
        let engine = &self.inner.engine;
        let mut swept = 0;
        for container in engine.list_containers_by_prefix(TEMP_PREFIX).await? {
            if container.names.iter().any(|n| self.proves_dead(n)) {
                engine.remove_container(&container.id).await?;
                swept += 1;
            }
        }
        for volume in engine.list_volumes_by_prefix(TEMP_PREFIX).await? {
            if self.proves_dead(&volume) {
                engine.remove_volume(&volume).await?;
                swept += 1;
            }
        }
        // After the containers, the dead runners' fill holders among them: a cache volume is
        // refused while one mounts it.
        swept += cache_volumes::sweep_dead_fills(engine, |filler| self.proves_dead(filler)).await?;
        for dir in [PathBuf::from("/dev/shm"), std::env::temp_dir()] {
            swept += self.sweep_dead_in(&dir);
        }
        Ok(swept)
    }

    /// Removes the files and directories in host directory `dir` that runners which provably
    /// died left there (a partial `--output` tar beside its destination, a context read from
    /// standard input); returns how many.
    pub fn sweep_dead_in(&self, dir: &Path) -> usize {
        match &self.inner.identity {
            Some(me) => sweep_dead_in(me, dir),
            None => 0,
        }
    }
}

/// [`Reaper::sweep_dead_in`] for code with no engine at hand (the BuildKit backend's export):
/// removes what runners which provably died left in host directory `dir`; returns how many.
pub fn sweep_dead_files_in(dir: &Path) -> usize {
    RunnerIdentity::current().map_or(0, |me| sweep_dead_in(me, dir))
}

fn sweep_dead_in(me: &RunnerIdentity, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !RunnerIdentity::from_name(&name).is_some_and(|owner| me.proves_dead(&owner)) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        let removed = if is_dir {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
        if removed.is_ok() {
            swept += 1;
        }
    }
    swept
}

/// How long [`Reaper::shutdown`] waits for the creations and removals in flight.
pub const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What [`Reaper::shutdown`] did.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// How many containers, volumes and host files it removed.
    pub removed: usize,
    /// Requests in flight (creations, removals) the engine had not answered after
    /// [`IN_FLIGHT_GRACE`]; they were given up.
    pub unanswered: usize,
    /// What the engine refused to remove (or to list).
    pub left: Vec<Left>,
    /// The first refusal: the request and the engine's answer, with every cause.
    pub first_error: Option<String>,
}

/// An object [`Reaper::shutdown`] could not remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// A container (its short id).
    Container(String),
    /// A volume (its name).
    Volume(String),
    /// The objects named with this process's prefix could not even be listed.
    Listing,
}

impl Cleanup {
    fn refused(&mut self, left: Left, error: String) {
        self.first_error.get_or_insert(error);
        self.left.push(left);
    }
}

/// How long each phase of the removals at the end of a build (listing and removing the
/// containers, then the volumes) waits for the engine.
pub const REMOVAL_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// The result of an engine request at the end of a build, given up after [`REMOVAL_GRACE`];
/// an error is the request's message with every cause.
async fn answered<T>(
    request: impl std::future::Future<Output = EngineResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(REMOVAL_GRACE, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Err(text)
        }
        Err(_) => Err(format!(
            "the engine did not answer within {} s",
            REMOVAL_GRACE.as_secs()
        )),
    }
}

/// A container id as the engine's listings show it (12 digits); names stay whole.
fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
