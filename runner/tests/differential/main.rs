//! The differential suite: every golden case under `cases/` is built from its Dockerfile text by
//! the runner (`runner build`, for some cases also the plan form, and `runner build --backend
//! buildkit` when the runner has that backend) and by this engine's BuildKit
//! (`DOCKER_BUILDKIT=1 docker build`, same engine, same context), and the images must be
//! identical: every file (path, type, mode, owner, link target, content, xattrs) and every field
//! of the image config, exactly. For syntax this engine's BuildKit cannot build, the two
//! backends must also be identical to each other.
//!
//! Input: `cases/<name>/{case.json, Dockerfile, context files…}` (format in `case.rs`), the
//! local engine, the runner binary cargo built for this test.
//! Output: one test per case (libtest-mimic, so cases run in parallel and fail one by one),
//! each failure listing every difference; with `STAGEPLAN_DIFF_REPORT=FILE` the failures are
//! also appended to FILE as Markdown; with `STAGEPLAN_DIFF_WARM=1` the runner builds each case
//! a second time with the cache the first build filled, and the two images must be identical.
//! Invariant: no assertion is loosened for a case: identical is the bar, and the only inputs
//! BuildKit does not build itself are the `reference` cases, whose equivalent context is built
//! by BuildKit and whose expectations name their BuildKit source. Every image a case makes is
//! named `stageplan-rt-<pid>/<case>-…` and removed, on every path.

#[path = "../support/mod.rs"]
mod support;

mod case;
mod context;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use case::{Case, Expectations, ExpectedFile};
use support::snapshot::{config_differences, file_differences, filesystem_with_contents};
use support::{forget_cache_tags, image_config, image_tag, remove_images, stage_images, TempDir};

/// The longest a single build may take before the case fails (and the build is killed).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

fn main() {
    let arguments = libtest_mimic::Arguments::from_args();
    let cases_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/cases");
    let mut names: Vec<String> = std::fs::read_dir(&cases_dir)
        .expect("read tests/differential/cases")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("case.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let trials = names
        .into_iter()
        .map(|name| {
            let dir = cases_dir.join(&name);
            let case_name = name.clone();
            libtest_mimic::Trial::test(name, move || {
                run_case(&case_name, &dir).map_err(|problems| {
                    report(&case_name, &problems);
                    libtest_mimic::Failed::from(problems)
                })
            })
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit();
}

/// Appends a failing case to `$STAGEPLAN_DIFF_REPORT` (a Markdown list for tracking).
fn report(name: &str, problems: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let Some(path) = std::env::var_os("STAGEPLAN_DIFF_REPORT") else {
        return;
    };
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let text = format!("### {name}\n```\n{}\n```\n\n", problems.trim_end());
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
}

/// The images of one case, removed (with the runner's cache tags for them) when dropped.
#[derive(Default)]
struct Images {
    tags: Vec<String>,
    runner_stage_images: Vec<String>,
}

impl Drop for Images {
    fn drop(&mut self) {
        forget_cache_tags(None, &self.runner_stage_images);
        let refs: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        remove_images(None, &refs);
    }
}

/// One built image, read once: files with contents, and the config.
struct Snapshot {
    files: BTreeMap<String, support::FileEntry>,
    contents: BTreeMap<String, Vec<u8>>,
    config: serde_json::Value,
}

impl Snapshot {
    fn of(image: &str) -> Snapshot {
        let mut contents = BTreeMap::new();
        let files = filesystem_with_contents(None, image, Some(&mut contents));
        Snapshot {
            files,
            contents,
            config: image_config(None, image),
        }
    }
}

/// What a build needs besides its context: file, target, build args, secrets.
#[derive(Clone, Copy)]
struct BuildInput<'a> {
    context: &'a Path,
    dockerfile: Option<&'a str>,
    target: Option<&'a str>,
    build_args: &'a BTreeMap<String, String>,
    secrets: &'a [(String, PathBuf)],
}

fn run_case(name: &str, dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("case.json"))
        .map_err(|e| format!("read {}/case.json: {e}", dir.display()))?;
    let case: Case =
        serde_json::from_str(&text).map_err(|e| format!("{}/case.json: {e}", dir.display()))?;
    let base = support::docker_at(None, &["image", "inspect", support::BASE]);
    if !base.status.success() {
        return Err(format!(
            "the engine or {} is missing: run scripts/setup.sh",
            support::BASE
        ));
    }
    let work = TempDir::new(&format!("diff-{name}"));
    let context = work.0.join("context");
    context::copy_case(dir, &context)?;
    context::prepare(&context, dir, &case.setup)?;
    let mut secrets = Vec::new();
    for (id, content) in &case.secrets {
        let path = work.0.join(format!("secret-{id}"));
        std::fs::write(&path, content).map_err(|e| e.to_string())?;
        secrets.push((id.clone(), path));
    }
    let mut images = Images::default();
    let mut build_args = case.build_args.clone();
    for prerequisite in &case.images {
        let prerequisite_context = work.0.join(&prerequisite.dir);
        context::copy_all(&dir.join(&prerequisite.dir), &prerequisite_context)?;
        let tag = image_tag(&format!("{name}-{}", prerequisite.arg.to_ascii_lowercase()));
        images.tags.push(tag.clone());
        let input = BuildInput {
            context: &prerequisite_context,
            dockerfile: None,
            target: None,
            build_args: &build_args,
            secrets: &[],
        };
        buildkit_build(&input, &tag)?;
        build_args.insert(prerequisite.arg.clone(), tag);
    }
    let input = BuildInput {
        context: &context,
        dockerfile: case.dockerfile.as_deref(),
        target: case.target.as_deref(),
        build_args: &build_args,
        secrets: &secrets,
    };
    let reference_context = work.0.join("reference");
    let buildkit_input = match &case.reference {
        Some(reference) => {
            context::copy_all(&dir.join(&reference.dir), &reference_context)?;
            context::prepare(&reference_context, dir, &reference.setup)?;
            BuildInput {
                context: &reference_context,
                dockerfile: None,
                ..input
            }
        }
        None => input,
    };
    let theirs = image_tag(&format!("{name}-buildkit"));
    let ours = image_tag(&format!("{name}-runner"));
    let ours_plan = image_tag(&format!("{name}-plan"));
    let ours_llb = image_tag(&format!("{name}-llb"));
    images.tags.extend([
        theirs.clone(),
        ours.clone(),
        ours_plan.clone(),
        ours_llb.clone(),
    ]);
    let (buildkit, runner, runner_plan, runner_llb) = std::thread::scope(|scope| {
        let buildkit = scope.spawn(|| buildkit_build(&buildkit_input, &theirs));
        let runner_llb = scope.spawn(|| llb_backend_build(&input, &ours_llb));
        let runner_plan = scope.spawn(|| {
            if case.plan_form {
                Some(runner_plan_build(
                    &input,
                    &case.runner_args,
                    &work.0,
                    &ours_plan,
                ))
            } else {
                None
            }
        });
        let runner = runner_build(&input, &case.runner_args, &ours);
        (
            buildkit
                .join()
                .unwrap_or_else(|_| Err("the BuildKit build panicked".into())),
            runner,
            runner_plan.join().unwrap_or(None),
            runner_llb
                .join()
                .unwrap_or_else(|_| Some(Err("the BuildKit backend's build panicked".into()))),
        )
    });
    let mut problems = Vec::new();
    let excepted: Vec<String> = case
        .reference
        .as_ref()
        .map(|r| r.except_config.clone())
        .unwrap_or_default();
    for field in &excepted {
        if !case
            .expect
            .as_ref()
            .is_some_and(|e| e.config.contains_key(field))
        {
            problems.push(format!(
                "case.json: reference.except_config names {field}, which expect.config does not pin"
            ));
        }
    }
    let mut built = Vec::new();
    match runner {
        Ok(stages) => {
            images.runner_stage_images.extend(stages);
            built.push(("runner build", ours.clone()));
        }
        Err(e) => problems.push(format!("runner build failed: {e}")),
    }
    match runner_plan {
        Some(Ok(stages)) => {
            images.runner_stage_images.extend(stages);
            built.push(("runner plan form", ours_plan.clone()));
        }
        Some(Err(e)) => problems.push(format!("runner plan form failed: {e}")),
        None => {}
    }
    match (runner_llb, &case.buildkit_backend_needs) {
        (Some(Ok(_)), _) => built.push((LLB_FORM, ours_llb.clone())),
        // An older BuildKit lacks what the case needs: the refusal must say so, with exit 2.
        (Some(Err(e)), Some(cap)) if e.starts_with("exit Some(2)") && e.contains(cap.as_str()) => {}
        (Some(Err(e)), Some(cap)) => problems.push(format!(
            "{LLB_FORM} failed without naming the capability {cap} it needs: {e}"
        )),
        (Some(Err(e)), None) => problems.push(format!("{LLB_FORM} failed: {e}")),
        (None, _) => {}
    }
    let reference = match buildkit {
        Ok(()) => Some(Snapshot::of(&theirs)),
        Err(e) => {
            problems.push(format!("BuildKit build failed: {e}"));
            None
        }
    };
    if let (Some(expect), Some(reference)) = (&case.expect, &reference) {
        // The reference cannot show the excepted fields; everything else must hold there too.
        for problem in expectation_problems(expect, reference, &excepted) {
            problems.push(format!("BuildKit image: {problem}"));
        }
    }
    let mut snapshots = BTreeMap::new();
    if let Some(why) = &case.buildkit_backend_follows_engine {
        if let Some(at) = built.iter().position(|(form, _)| *form == LLB_FORM) {
            let (_, image) = built.remove(at);
            let engine_tag = image_tag(&format!("{name}-engine-buildkit"));
            images.tags.push(engine_tag.clone());
            match buildkit_build(&input, &engine_tag) {
                Ok(()) => {
                    let (llb, engine) = (Snapshot::of(&image), Snapshot::of(&engine_tag));
                    let mut found = file_differences(&llb.files, &engine.files);
                    found.extend(config_differences(&llb.config, &engine.config));
                    if !found.is_empty() {
                        problems.push(format!(
                            "{LLB_FORM} differs from this engine's BuildKit on the case's own context, which it follows here ({why}) ({} differences):\n  {}",
                            found.len(),
                            found.join("\n  ")
                        ));
                    }
                }
                Err(e) => problems.push(format!(
                    "this engine's BuildKit failed on the case's own context: {e}"
                )),
            }
        }
    }
    for (form, image) in &built {
        let snapshot = Snapshot::of(image);
        if let Some(reference) = &reference {
            let mut found = file_differences(&snapshot.files, &reference.files);
            found.extend(
                config_differences(&snapshot.config, &reference.config)
                    .into_iter()
                    .filter(|line| {
                        !excepted
                            .iter()
                            .any(|field| line.starts_with(&format!("Config.{field}:")))
                    }),
            );
            if !found.is_empty() {
                let against = match &case.reference {
                    Some(r) => format!(
                        "BuildKit's build of the equivalent {} ({})",
                        r.dir, r.source
                    ),
                    None => "BuildKit".to_string(),
                };
                problems.push(format!(
                    "{form} differs from {against} ({} differences):\n  {}",
                    found.len(),
                    found.join("\n  ")
                ));
            }
        }
        if let Some(expect) = &case.expect {
            for problem in expectation_problems(expect, &snapshot, &[]) {
                problems.push(format!("{form}: {problem}"));
            }
        }
        snapshots.insert(*form, snapshot);
    }
    // With `STAGEPLAN_DIFF_WARM=1`, a second runner build with the cache the first one filled
    // must give the same image, every file and config field.
    if std::env::var_os("STAGEPLAN_DIFF_WARM").is_some_and(|v| v == "1") {
        if let Some(cold) = snapshots.get("runner build") {
            let warm_tag = image_tag(&format!("{name}-warm"));
            images.tags.push(warm_tag.clone());
            match runner_warm_build(&input, &case.runner_args, &warm_tag) {
                Ok(stages) => {
                    images.runner_stage_images.extend(stages);
                    let warm = Snapshot::of(&warm_tag);
                    let mut found = file_differences(&warm.files, &cold.files);
                    found.extend(config_differences(&warm.config, &cold.config));
                    if !found.is_empty() {
                        problems.push(format!(
                            "the warm runner build differs from the cold one ({} differences):\n  {}",
                            found.len(),
                            found.join("\n  ")
                        ));
                    }
                }
                Err(e) => problems.push(format!("the warm runner build failed: {e}")),
            }
        }
    }
    // Syntax this engine's BuildKit cannot build: the two backends must agree with each other
    // in every field, the ones the reference cannot show included.
    if case.reference.is_some() {
        if let (Some(engine), Some(llb)) = (snapshots.get("runner build"), snapshots.get(LLB_FORM))
        {
            let mut found = file_differences(&llb.files, &engine.files);
            found.extend(config_differences(&llb.config, &engine.config));
            if !found.is_empty() {
                problems.push(format!(
                    "{LLB_FORM} differs from the engine backend ({} differences):\n  {}",
                    found.len(),
                    found.join("\n  ")
                ));
            }
        }
    }
    drop(images);
    if problems.is_empty() {
        Ok(())
    } else {
        let reason = case
            .reason
            .as_ref()
            .map(|r| format!("(documented difference: {r})\n"))
            .unwrap_or_default();
        Err(format!("{}\n{reason}{}", case.about, problems.join("\n")))
    }
}

/// How `snapshot` misses the expectations, one line each (the expectations' source first);
/// the config fields in `skip` are not checked.
fn expectation_problems(
    expect: &Expectations,
    snapshot: &Snapshot,
    skip: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, want) in &expect.files {
        let key = path.trim_start_matches('/');
        let have = snapshot.files.get(key);
        problems.extend(file_problems(path, want, have, snapshot.contents.get(key)));
    }
    for (field, want) in expect.config.iter().filter(|(f, _)| !skip.contains(f)) {
        let have = snapshot.config["Config"].get(field);
        if have != Some(want) {
            problems.push(format!(
                "Config.{field} is {}, expected {want}",
                have.map_or("missing".to_string(), |v| v.to_string())
            ));
        }
    }
    if !problems.is_empty() {
        problems.insert(0, format!("expectations from {}:", expect.source));
    }
    problems
}

fn file_problems(
    path: &str,
    want: &ExpectedFile,
    have: Option<&support::FileEntry>,
    content: Option<&Vec<u8>>,
) -> Vec<String> {
    let Some(have) = have else {
        return if want.absent {
            Vec::new()
        } else {
            vec![format!("  {path} is missing")]
        };
    };
    if want.absent {
        return vec![format!("  {path} exists ({have}) but must not")];
    }
    let mut problems = Vec::new();
    if let Some(kind) = want.kind {
        if kind != have.kind {
            problems.push(format!(
                "  {path} is of kind {}, expected {kind}",
                have.kind
            ));
        }
    }
    if let Some(mode) = &want.mode {
        if u32::from_str_radix(mode, 8).ok() != Some(have.mode) {
            problems.push(format!(
                "  {path} has mode {:04o}, expected {mode}",
                have.mode
            ));
        }
    }
    if let Some(owner) = &want.owner {
        let actual = format!("{}:{}", have.uid, have.gid);
        if &actual != owner {
            problems.push(format!("  {path} is owned by {actual}, expected {owner}"));
        }
    }
    if let Some(link) = &want.link {
        if link != &have.link {
            problems.push(format!(
                "  {path} links to {:?}, expected {link:?}",
                have.link
            ));
        }
    }
    if let Some(expected) = &want.content {
        let actual = content.map(|c| String::from_utf8_lossy(c).into_owned());
        if actual.as_deref() != Some(expected.as_str()) {
            problems.push(format!(
                "  {path} contains {actual:?}, expected {expected:?}"
            ));
        }
    }
    problems
}

/// The Dockerfile a build reads: the given one, else `Dockerfile`, else `dockerfile`.
fn dockerfile_of(input: &BuildInput) -> PathBuf {
    match input.dockerfile {
        Some(file) => input.context.join(file),
        None if input.context.join("Dockerfile").exists() => input.context.join("Dockerfile"),
        None => input.context.join("dockerfile"),
    }
}

/// Checks the Dockerfile has a `FROM` line before it goes to the engine's BuildKit, which
/// panics (and takes dockerd down) on a Dockerfile with no stage.
fn has_stage(dockerfile: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dockerfile)
        .map_err(|e| format!("read {}: {e}", dockerfile.display()))?;
    let found = text.lines().any(|line| {
        let line = line.trim_start();
        line.len() > 5 && line[..5].eq_ignore_ascii_case("from ")
    });
    if found {
        Ok(())
    } else {
        Err(format!(
            "{} has no FROM line; it is not sent to BuildKit",
            dockerfile.display()
        ))
    }
}

/// `DOCKER_BUILDKIT=1 docker build --no-cache -t tag …`.
fn buildkit_build(input: &BuildInput, tag: &str) -> Result<(), String> {
    has_stage(&dockerfile_of(input))?;
    let mut command = Command::new(support::DOCKER);
    command
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "--no-cache", "-t", tag]);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    command.arg(input.context);
    let out = output_within(&mut command)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn add_common_args(command: &mut Command, input: &BuildInput) {
    if let Some(target) = input.target {
        command.args(["--target", target]);
    }
    for (key, value) in input.build_args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    for (id, path) in input.secrets {
        command
            .arg("--secret")
            .arg(format!("id={id},src={}", path.display()));
    }
}

/// The name of the BuildKit backend's build in reports.
const LLB_FORM: &str = "runner --backend buildkit";

/// `runner build --backend buildkit CONTEXT …` when the runner has the BuildKit backend.
fn llb_backend_build(input: &BuildInput, tag: &str) -> Option<Result<Vec<String>, String>> {
    if !cfg!(feature = "buildkit") {
        return None;
    }
    let mut command = Command::new(support::runner_bin());
    command
        .arg("build")
        .arg(input.context)
        .args(["--backend", "buildkit"]);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    Some(runner_finish(&mut command, &[], tag))
}

/// `runner build CONTEXT [-f FILE] … -t tag --no-cache`; returns the stage images it built.
fn runner_build(input: &BuildInput, extra: &[String], tag: &str) -> Result<Vec<String>, String> {
    let mut command = Command::new(support::runner_bin());
    command.arg("build").arg(input.context);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    runner_finish(&mut command, extra, tag)
}

/// `runner build CONTEXT … -t tag` again, with the cache the cold build just filled.
fn runner_warm_build(
    input: &BuildInput,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    let mut command = Command::new(support::runner_bin());
    command.arg("build").arg(input.context);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    runner_finish_with_cache(&mut command, extra, tag)
}

/// The plan form: the planner library plans the Dockerfile (as `planner plan` would), then
/// `runner plan.json --context CONTEXT … -t tag --no-cache`.
fn runner_plan_build(
    input: &BuildInput,
    extra: &[String],
    work: &Path,
    tag: &str,
) -> Result<Vec<String>, String> {
    let targets: Vec<&str> = input.target.into_iter().collect();
    let json = support::plan_json(&dockerfile_of(input), &targets, input.build_args)?;
    let plan = work.join("plan.json");
    std::fs::write(&plan, json).map_err(|e| format!("write {}: {e}", plan.display()))?;
    let mut command = Command::new(support::runner_bin());
    command.arg(&plan).arg("--context").arg(input.context);
    for (key, value) in input.build_args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    for (id, path) in input.secrets {
        command
            .arg("--secret")
            .arg(format!("id={id},src={}", path.display()));
    }
    runner_finish(&mut command, extra, tag)
}

fn runner_finish(
    command: &mut Command,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    command.arg("--no-cache");
    runner_finish_with_cache(command, extra, tag)
}

/// Runs a runner build to `tag` as it is (a warm build when `--no-cache` is not given).
fn runner_finish_with_cache(
    command: &mut Command,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    command.args(["-t", tag, "--progress", "json"]).args(extra);
    let out = output_within(command)?;
    let stages = stage_images(&out.stdout);
    if out.status.success() {
        Ok(stages)
    } else {
        let logs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "log")
            .filter_map(|e| e["line"].as_str().map(str::to_string))
            .collect();
        Err(format!(
            "exit {:?}: {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim_end(),
            if logs.is_empty() {
                String::new()
            } else {
                format!("\n  output: {}", logs.join("\n  output: "))
            }
        ))
    }
}

/// Runs `command` to completion with its output captured, killing it after [`BUILD_TIMEOUT`].
fn output_within(command: &mut Command) -> Result<Output, String> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(BUILD_TIMEOUT) {
        Ok(output) => output.map_err(|e| e.to_string()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
            let output = receiver.recv_timeout(Duration::from_secs(30));
            if output.is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            Err(format!(
                "{command:?} did not finish within {} s",
                BUILD_TIMEOUT.as_secs()
            ))
        }
    }
}
