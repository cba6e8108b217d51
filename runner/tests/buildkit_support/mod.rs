//! Helpers of the BuildKit backend's engine tests: build contexts written per test, the backend
//! driven from Dockerfile text, `docker build` of the same context, and the comparison.
//!
//! Input: a [`Case`] (files, modes, links, ignore rules, Dockerfile, build arguments, target,
//! secrets).
//! Output: image ids, a readable report of every difference, file contents read from images.
//! Invariant: every image and container is named `stageplan-llb-test/<case>-<pid>` (or with that
//! prefix) and removed when the case is dropped, also when a test fails; nothing is pulled.

// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runner::buildkit::solve::{build, BuildOptions};
use runner::buildkit::transport::engine::EngineTransport;
use runner::buildkit::transport::hijack::EngineAddress;
use runner::progress::{Progress, ProgressMode};

/// The Docker CLI whose `docker build` uses the engine's BuildKit (`DOCKER_BUILDKIT=1`).
pub const DOCKER: &str = "/usr/bin/docker";

/// The base image the project's setup imports.
pub const BASE: &str = "stageplan-test/busybox:1";

/// One build context, Dockerfile and set of options.
pub struct Case {
    name: String,
    dir: PathBuf,
    secrets_dir: PathBuf,
    dockerfile: String,
    build_args: Vec<(String, String)>,
    target: Option<String>,
    secrets: Vec<(String, PathBuf)>,
}

/// Runs the Docker CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new(DOCKER)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {DOCKER} (scripts/setup.sh installs docker.io): {e}")
        })
}

/// Fails the test with a clear message when the engine or the base image is missing.
pub fn require_engine() {
    let out = docker(&["image", "inspect", BASE]);
    assert!(
        out.status.success(),
        "the engine or the base image {BASE} is missing (run scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Case {
    /// A new, empty case.
    pub fn new(name: &str) -> Case {
        require_engine();
        let root =
            std::env::temp_dir().join(format!("stageplan-llb-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("context");
        let secrets_dir = root.join("secrets");
        std::fs::create_dir_all(&dir).expect("context dir");
        std::fs::create_dir_all(&secrets_dir).expect("secrets dir");
        Case {
            name: name.to_string(),
            dir,
            secrets_dir,
            dockerfile: String::new(),
            build_args: Vec::new(),
            target: None,
            secrets: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        path
    }

    /// A file with `content`.
    pub fn file(self, rel: &str, content: &str) -> Case {
        std::fs::write(self.path(rel), content).expect("write file");
        self
    }

    /// A file of `size` bytes of varied content (several transfer chunks).
    pub fn large_file(self, rel: &str, size: usize) -> Case {
        let data: Vec<u8> = (0..size)
            .map(|i| ((i * 31 + i / 4099) % 251) as u8)
            .collect();
        std::fs::write(self.path(rel), data).expect("write large file");
        self
    }

    /// Sets the permission bits of `rel`.
    pub fn mode(self, rel: &str, mode: u32) -> Case {
        std::fs::set_permissions(self.dir.join(rel), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
        self
    }

    /// A symbolic link `rel` → `target`.
    pub fn symlink(self, rel: &str, target: &str) -> Case {
        std::os::unix::fs::symlink(target, self.path(rel)).expect("symlink");
        self
    }

    /// A hard link `rel` to the existing `existing`.
    pub fn hard_link(self, rel: &str, existing: &str) -> Case {
        std::fs::hard_link(self.dir.join(existing), self.path(rel)).expect("hard link");
        self
    }

    /// A named pipe.
    pub fn fifo(self, rel: &str) -> Case {
        let status = Command::new("mkfifo")
            .arg(self.path(rel))
            .status()
            .expect("mkfifo");
        assert!(status.success(), "mkfifo failed");
        self
    }

    /// An extended attribute on `rel`.
    pub fn xattr(self, rel: &str, name: &str, value: &[u8]) -> Case {
        xattr::set(self.dir.join(rel), name, value).expect("set xattr");
        self
    }

    /// An empty directory (with parents).
    pub fn empty_dir(self, rel: &str) -> Case {
        std::fs::create_dir_all(self.dir.join(rel)).expect("mkdir");
        self
    }

    /// A tar archive with `entries` (path, content).
    pub fn tar(self, rel: &str, entries: &[(&str, &str)]) -> Case {
        let file = std::fs::File::create(self.path(rel)).expect("create tar");
        let mut builder = tar::Builder::new(file);
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(1_700_000_000);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .expect("tar entry");
        }
        builder.finish().expect("finish tar");
        self
    }

    /// A secret for `RUN --mount=type=secret,id=ID` (kept outside the context).
    pub fn secret(mut self, id: &str, value: &str) -> Case {
        let path = self.secrets_dir.join(id);
        std::fs::write(&path, value).expect("write secret");
        self.secrets.push((id.to_string(), path));
        self
    }

    /// The Dockerfile.
    pub fn dockerfile(mut self, text: &str) -> Case {
        std::fs::write(self.dir.join("Dockerfile"), text).expect("write Dockerfile");
        self.dockerfile = text.to_string();
        self
    }

    /// A `--build-arg`.
    pub fn build_arg(mut self, key: &str, value: &str) -> Case {
        self.build_args.push((key.to_string(), value.to_string()));
        self
    }

    /// The `--target`.
    pub fn target(mut self, target: &str) -> Case {
        self.target = Some(target.to_string());
        self
    }

    /// The context directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The contents of `path` in the backend's image.
    pub fn read_from_image(&self, path: &str) -> String {
        let (ours, _) = images_of(self);
        let out = docker(&["run", "--rm", "--entrypoint", "cat", &ours, path]);
        assert!(
            out.status.success(),
            "reading {path} from {ours}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The standard output of `sh -c script` in the backend's image.
    pub fn run_in_image(&self, script: &str) -> String {
        let (ours, _) = images_of(self);
        let out = docker(&["run", "--rm", "--entrypoint", "sh", &ours, "-c", script]);
        assert!(
            out.status.success(),
            "running {script:?} in {ours}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Removes the case's images and files now (they are removed on drop anyway).
    pub fn cleanup(&self) {
        let (ours, theirs) = images_of(self);
        let _ = docker(&["rmi", "-f", &ours, &theirs]);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        self.cleanup();
        if let Some(root) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// The tags of the backend's and docker's images of `case`.
pub fn images_of(case: &Case) -> (String, String) {
    let base = format!("stageplan-llb-test/{}-{}", case.name, std::process::id());
    (format!("{base}:ours"), format!("{base}:docker"))
}

/// Plans the case's Dockerfile and builds it with the BuildKit backend on the engine; returns
/// the image id or the error chain.
pub fn build_ours(case: &Case) -> Result<String, String> {
    build_ours_until(case, std::future::pending::<&'static str>()).map_err(|e| match e {
        BuildFailure::Plan(message) => message,
        BuildFailure::Build(error) => error_chain(&error),
    })
}

/// Why [`build_ours_until`] failed.
#[derive(Debug)]
pub enum BuildFailure {
    /// The planner rejected the Dockerfile.
    Plan(String),
    /// The backend failed.
    Build(runner::buildkit::error::BuildkitError),
}

/// Like [`build_ours`], stopping the build when `cancel` completes.
pub fn build_ours_until(
    case: &Case,
    cancel: impl std::future::Future<Output = &'static str>,
) -> Result<String, BuildFailure> {
    let options = planner::Options {
        targets: case.target.iter().cloned().collect(),
        build_args: case.build_args.iter().cloned().collect::<BTreeMap<_, _>>(),
        ..planner::Options::default()
    };
    let outcome = planner::plan(&case.dockerfile, &options);
    let plan = outcome.plan.ok_or_else(|| {
        BuildFailure::Plan(format!(
            "the planner rejected the Dockerfile: {:?}",
            outcome.diagnostics
        ))
    })?;
    let (ours, _) = images_of(case);
    let build_options = BuildOptions {
        context_dir: case.dir.clone(),
        dockerfile: Some(case.dir.join("Dockerfile")),
        tags: vec![ours],
        secrets: case
            .secrets
            .iter()
            .map(|(id, path)| (id.clone(), runner::secret::SecretSource::File(path.clone())))
            .collect(),
        build_args: BTreeMap::new(),
        no_cache: false,
        labels: BTreeMap::new(),
        output: None,
        network: None,
        add_hosts: Vec::new(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let address = EngineAddress::from_env(None).map_err(BuildFailure::Build)?;
        let transport = EngineTransport::new(address);
        let progress = Progress::new(ProgressMode::Plain);
        build(&transport, &plan, &build_options, &progress, cancel)
            .await
            .map(|outcome| outcome.image)
            .map_err(BuildFailure::Build)
    })
}

/// `docker build` of the case with the engine's BuildKit; returns the image id.
pub fn build_with_docker(case: &Case) -> String {
    let (_, theirs) = images_of(case);
    let mut command = Command::new(DOCKER);
    command
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "-t", &theirs]);
    for (key, value) in &case.build_args {
        command.args(["--build-arg", &format!("{key}={value}")]);
    }
    if let Some(target) = &case.target {
        command.args(["--target", target]);
    }
    for (id, path) in &case.secrets {
        command.args(["--secret", &format!("id={id},src={}", path.display())]);
    }
    command.arg(&case.dir);
    let out = command.output().expect("docker build");
    assert!(
        out.status.success(),
        "docker build of {} failed:\n{}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    image_id(&theirs)
}

/// The id of a local image.
pub fn image_id(reference: &str) -> String {
    let out = docker(&["image", "inspect", "-f", "{{.Id}}", reference]);
    assert!(out.status.success(), "inspect {reference}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds the case both ways and fails with every difference unless the images are identical.
pub fn compare_with_docker(case: &Case) {
    let ours =
        build_ours(case).unwrap_or_else(|e| panic!("the backend failed on {}: {e}", case.name));
    let (ours_tag, theirs_tag) = images_of(case);
    assert_eq!(
        image_id(&ours_tag),
        ours,
        "the backend's tag names its image"
    );
    let theirs = build_with_docker(case);
    if ours == theirs {
        return;
    }
    let mut report = Vec::new();
    for (what, format) in [
        ("config", "{{json .Config}}"),
        ("layers", "{{json .RootFS.Layers}}"),
        ("os/arch", "{{.Os}}/{{.Architecture}}"),
    ] {
        let a = inspect(&ours_tag, format);
        let b = inspect(&theirs_tag, format);
        if a != b {
            report.push(format!("{what}:\n  backend: {a}\n  docker:  {b}"));
        }
    }
    let history = |tag: &str| {
        let out = docker(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", tag]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (a, b) = (history(&ours_tag), history(&theirs_tag));
    if a != b {
        report.push(format!("history:\n  backend: {a:?}\n  docker:  {b:?}"));
    }
    panic!(
        "{}: the backend's image {ours} differs from docker build's {theirs} (a step whose cache key differs was rebuilt):\n{}",
        case.name,
        report.join("\n")
    );
}

fn inspect(reference: &str, format: &str) -> String {
    let out = docker(&["image", "inspect", "-f", format, reference]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An error with its sources, one per line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    text
}
