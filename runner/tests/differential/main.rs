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
//!
//! This file runs the cases and compares their images; `build.rs` runs the builds, `snapshot.rs`
//! reads an image and checks a case's expectations, `case.rs` reads `case.json` and
//! `context.rs` prepares a case's context.

#[path = "../support/mod.rs"]
mod support;

mod build;
mod case;
mod context;
mod snapshot;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use build::{
    buildkit_build, llb_backend_build, runner_build, runner_plan_build, runner_warm_build,
    BuildInput, LLB_FORM,
};
use case::Case;
use snapshot::{expectation_problems, Snapshot};
use support::snapshot::{config_differences, file_differences};
use support::{forget_cache_tags, image_tag, remove_images, TempDir};

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
