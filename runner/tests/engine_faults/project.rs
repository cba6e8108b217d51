//! A project of the engine-fault cases: a build context with the standard Dockerfile (or a
//! variant), a 4 MB context file and a secret, built through the proxy or on the real engine,
//! and everything its builds made, removed when it drops.
//!
//! Input: a case name (and a Dockerfile maker). Output: [`Project`], its builds' runs and
//! records. Invariant: every image, cache entry, stage record, tag and cache volume its builds
//! made is removed when it drops, also what a fault left untagged.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::Digest;

use crate::check::step_keys;
use crate::support::fault_proxy::FaultProxy;
use crate::support::faulted::{self, Finished};
use crate::support::{self, forget_cache_tags, remove_images, stage_images, TempDir};

/// The size of the context file the big COPY sends (a few MB, so a cut lands mid-stream).
pub const BIG: usize = 4 << 20;

/// One build project: a context (Dockerfile, a big file), a secret file, and what its builds
/// made, removed when dropped.
pub struct Project {
    pub scratch: TempDir,
    pub context: PathBuf,
    pub nonce: String,
    pub secret: PathBuf,
    pub secret_text: String,
    pub tag: String,
    /// Every image the builds made or named (stage images, commits and loads seen by the proxy).
    pub images: Vec<String>,
    /// The cache keys of the steps the builds' records name.
    pub keys: Vec<String>,
}

impl Project {
    /// A project with the standard Dockerfile (see [`dockerfile`]), named `name`.
    pub fn new(name: &str) -> Project {
        Project::with_dockerfile(name, dockerfile)
    }

    /// A project whose Dockerfile is `make(nonce)`.
    pub fn with_dockerfile(name: &str, make: fn(&str) -> String) -> Project {
        let scratch = TempDir::new(&format!("ef-{name}"));
        let nonce = format!(
            "{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        );
        let context = scratch.0.join(format!("project-{name}"));
        std::fs::create_dir_all(&context).expect("context");
        std::fs::write(context.join("Dockerfile"), make(&nonce)).expect("Dockerfile");
        let mut big = Vec::with_capacity(BIG);
        let mut state = sha2::Sha256::digest(nonce.as_bytes()).to_vec();
        while big.len() < BIG {
            state = sha2::Sha256::digest(&state).to_vec();
            big.extend_from_slice(&state);
        }
        std::fs::write(context.join("big.bin"), big).expect("big.bin");
        let secret_text = format!("canary-{nonce}");
        let secret = scratch.0.join("token");
        std::fs::write(&secret, &secret_text).expect("secret");
        let tag = format!("{}/ef-{name}:1", support::prefix());
        Project {
            scratch,
            context,
            nonce,
            secret,
            secret_text,
            tag,
            images: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// `runner build` arguments for this project (engine, record file) .
    pub fn args(&self, engine: Option<&str>, record: &Path) -> Vec<String> {
        let mut args = vec![
            "build".to_string(),
            self.context.display().to_string(),
            "--progress".to_string(),
            "json".to_string(),
            "--secret".to_string(),
            format!("id=token,src={}", self.secret.display()),
            "-t".to_string(),
            self.tag.clone(),
            "--record".to_string(),
            record.display().to_string(),
        ];
        if let Some(engine) = engine {
            args.extend(["--engine".to_string(), engine.to_string()]);
        }
        args
    }

    /// Builds through `proxy`; returns the run and its record (a failed build writes one too).
    pub fn build_through(&mut self, proxy: &FaultProxy) -> (Finished, Option<Value>) {
        let record = self.scratch.0.join("faulted.record.json");
        let run = faulted::start(
            &self.args(Some(&proxy.url()), &record),
            &[],
            &self.scratch.0,
        )
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{hung}\nrequests:\n{}", proxy.log_text()));
        self.images.extend(stage_images(run.stdout.as_bytes()));
        self.images.extend(proxy.images_made());
        let record: Option<Value> = std::fs::read_to_string(&record)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("the record is JSON"));
        if let Some(record) = &record {
            self.keys.extend(step_keys(record));
        }
        (run, record)
    }

    /// Builds on the real engine; asserts it built and returns its record.
    pub fn build_direct(&mut self) -> Value {
        let record = self.scratch.0.join("direct.record.json");
        let run = faulted::run(&self.args(None, &record), &self.scratch.0);
        self.images.extend(stage_images(run.stdout.as_bytes()));
        assert_eq!(
            run.code,
            Some(0),
            "the build on the real engine after the fault failed:\n{}",
            run.stderr
        );
        let text = std::fs::read_to_string(&record).expect("the record");
        let record: Value = serde_json::from_str(&text).expect("the record is JSON");
        self.keys.extend(step_keys(&record));
        record
    }

    /// The cache mount's volume (named as the runner names it: id, uid, gid, mode).
    pub fn cache_volume(&self) -> String {
        let digest = hex::encode(sha2::Sha256::digest(
            format!("{}\0{}\0{}\0{:o}", self.nonce, 1234, 0, 0o700).as_bytes(),
        ));
        format!("stageplan-cache-{}", &digest[..16])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        remove_images(None, &[self.tag.as_str()]);
        // A step's cache entry is found by its key: its image need not be on the parent chain
        // of a stage's image (a target's final image is loaded, without a parent).
        let mut entries = Vec::new();
        for key in &self.keys {
            let entry = format!("stageplan-cache:{key}");
            if let Ok(inspect) = support::engine_get(None, &format!("/images/{entry}/json")) {
                if let Some(id) = inspect["Id"].as_str() {
                    self.images.push(id.to_string());
                }
                entries.push(entry);
            }
        }
        if !entries.is_empty() {
            let mut args = vec!["rmi"];
            args.extend(entries.iter().map(String::as_str));
            let _ = support::docker_at(None, &args);
        }
        remove_made_images(&self.images);
        // The project's cache volumes (its nonce is their id) and their ready markers.
        let mut volumes = vec![self.cache_volume()];
        let listed = support::docker_at(
            None,
            &[
                "volume",
                "ls",
                "-q",
                "--filter",
                &format!("label=stageplan.cache.id={}", self.nonce),
            ],
        );
        volumes.extend(
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(str::to_string),
        );
        let markers: Vec<String> = volumes.iter().map(|v| format!("{v}-ready")).collect();
        volumes.extend(markers);
        let mut args = vec!["volume", "rm", "-f"];
        args.extend(volumes.iter().map(String::as_str));
        let _ = support::docker_at(None, &args);
    }
}

/// The seed image [`image_seeded_cache_dockerfile`] names for a project's nonce.
pub fn seed_image(nonce: &str) -> String {
    format!("ef-seed-{nonce}:1")
}

/// A Dockerfile whose RUN mounts a cache that starts as the `/data` of the image
/// [`seed_image`] (which the case builds first): the same cache for a `--no-cache` build too.
pub fn image_seeded_cache_dockerfile(nonce: &str) -> String {
    format!(
        "FROM stageplan-test/busybox:1 AS final
RUN --mount=type=cache,target=/c,from={},source=/data,id={nonce} ls /c | wc -l > /n
",
        seed_image(nonce)
    )
}

/// A Dockerfile whose RUN mounts a cache that starts as 300 files of another stage (`from=`):
/// its fill is one upload, which the cases of the cache fill hold.
pub fn seeded_cache_dockerfile(nonce: &str) -> String {
    format!(
        "FROM stageplan-test/busybox:1 AS src
RUN mkdir /data && for i in $(seq 1 300); do echo {nonce} > /data/f$i; done
FROM stageplan-test/busybox:1 AS final
RUN --mount=type=cache,target=/c,from=src,source=/data,id={nonce} ls /c | wc -l > /n
"
    )
}

/// Removes the cache tags and stage records of `images` and of their parents, then every image
/// among them that no tag names any more, children first (an image with a tag left, such as the
/// base image, or with children, stays): the builds' commits, also those a fault left untagged.
pub fn remove_made_images(images: &[String]) {
    forget_cache_tags(None, images);
    let mut chain = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for image in images {
        let mut current = image.clone();
        while !current.is_empty() && seen.insert(current.clone()) {
            let Ok(inspect) = support::engine_get(None, &format!("/images/{current}/json")) else {
                break;
            };
            if inspect["RepoTags"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
            {
                break;
            }
            chain.push(current.clone());
            current = inspect["Parent"].as_str().unwrap_or_default().to_string();
        }
    }
    // One `docker rmi` takes them all, children first (each image comes before its parent in
    // its chain); an image whose child is in a later chain goes in the next round.
    for _ in 0..3 {
        if chain.is_empty() {
            break;
        }
        let mut args = vec!["rmi"];
        args.extend(chain.iter().map(String::as_str));
        let _ = support::docker_at(None, &args);
        chain.retain(|id| support::engine_get(None, &format!("/images/{id}/json")).is_ok());
    }
}

/// The Dockerfile every case builds: two RUNs in a keeper (the first prints a few thousand
/// lines), a big COPY from the context, a RUN with a secret and a cache mount (in a fresh
/// container), and a final stage that copies from the first one.
pub fn dockerfile(nonce: &str) -> String {
    format!(
        "FROM stageplan-test/busybox:1 AS build
RUN echo {nonce} > /nonce && seq 1 4000 | tee /numbers
RUN wc -l < /numbers > /count
COPY big.bin /big.bin
RUN --mount=type=secret,id=token --mount=type=cache,target=/cache,id={nonce},uid=1234,mode=0700 sh -c 'test \"$(stat -c %u:%a /cache)\" = 1234:700 && wc -c < /run/secrets/token > /secret-len && date > /cache/stamp'
FROM stageplan-test/busybox:1 AS final
COPY --from=build /count /secret-len /out/
CMD [\"cat\", \"/out/count\"]
"
    )
}

/// The first stage of [`dockerfile`] alone (the same lines): two RUNs in a keeper. The cases
/// of the keeper's requests build it, at half the cost.
pub fn keeper_dockerfile(nonce: &str) -> String {
    dockerfile(nonce)
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The standard Dockerfile whose first RUN prints one line, then goes on for a second.
pub fn dockerfile_with_a_quiet_first_run(nonce: &str) -> String {
    keeper_dockerfile(nonce).replace(
        "seq 1 4000 | tee /numbers\n",
        "seq 1 4000 > /numbers && echo started && sleep 1\n",
    )
}

/// The standard Dockerfile whose first RUN prints one line, waits a second, then prints its
/// thousands of lines.
pub fn dockerfile_with_a_late_loud_first_run(nonce: &str) -> String {
    keeper_dockerfile(nonce).replace(
        "seq 1 4000 | tee /numbers\n",
        "echo started && sleep 1 && seq 1 4000 | tee /numbers\n",
    )
}
