//! The build record's cache-miss reasons on the real engine, from Dockerfile text: first build,
//! a context file by path (added and changed), a build argument by name, an ENV variable, the base
//! image, the instruction text, an earlier step, a stage read with COPY --from, `--no-cache`, an
//! evicted cache entry and an unchanged COPY committed with its run of COPY steps, read
//! back from the stage memories the engine keeps (also from another copy of the context, as
//! another machine would); the progress events carry the record's fields; a failed build still
//! writes its record and report; a warm build that changes nothing writes nothing, even when an
//! intermediate step's cache entry was pruned.
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh). Output: pass/fail.
//! Invariant: every image, cache tag and record image a test makes is removed at its end.

mod support;

use std::process::Command;

use serde_json::Value;

use support::record::{
    build, cached, miss, project, read_record, record_images, runner, step, write, Cleanup,
};
use support::{
    assert_built, docker_at, image_tag, nonce, require_engine, runner_bin, stage_images, TempDir,
    BASE,
};

/// The Dockerfile of the reasons test; `unique` keeps its steps out of other builds' cache
/// entries (a step whose image is the shared base image would lose its entry whenever another
/// test forgets the base image's cache tags).
fn dockerfile(unique: &str, env_line: &str, run: &str) -> String {
    format!(
        "FROM {BASE} AS build\n\
         RUN echo {unique} > /unique\n\
         COPY notes.txt /src/\n\
         COPY *.txt /src/\n\
         ARG FLAVOR=plain\n\
         {env_line}\n\
         {run}\n\
         FROM {BASE}\n\
         COPY --from=build /out /out\n"
    )
}

#[test]
fn each_cache_miss_names_the_first_input_that_differs_from_the_last_build() {
    require_engine();
    let mut cleanup = Cleanup::default();
    // The project directory has the same name in two places, as on two machines sharing one
    // engine; each place has its own context digest cache.
    let name = format!("project-{}-reasons", std::process::id());
    let (here_parent, there_parent) = (TempDir::new("reasons-a"), TempDir::new("reasons-b"));
    let (here, there) = (project(&here_parent, &name), project(&there_parent, &name));
    let run = "RUN cat /src/*.txt > /out && echo \"$FLAVOR $MODE\" >> /out";
    let unique = nonce();
    for dir in [&here, &there] {
        write(dir, "app.txt", &format!("app 1 {unique}\n"));
        write(dir, "notes.txt", "notes\n");
        write(
            dir,
            "Dockerfile",
            &dockerfile(&unique, "ENV MODE=fast", run),
        );
    }
    let caches = (
        TempDir::new("reasons-cache-a"),
        TempDir::new("reasons-cache-b"),
    );
    let env_here = [("XDG_CACHE_HOME", caches.0 .0.as_path())];
    let env_there = [("XDG_CACHE_HOME", caches.1 .0.as_path())];

    let first = build(&here, &[], &env_here, &mut cleanup);
    for (stage, number) in [
        ("build", 1),
        ("build", 2),
        ("build", 3),
        ("build", 6),
        ("stage-1", 1),
    ] {
        assert_eq!(miss(&first.record, stage, number)["kind"], "first_build");
    }
    assert_eq!(step(&first.record, "build", 5)["status"], "config");

    // A changed context file, built from the other copy: the engine's record of the first build
    // is found, and the reason goes through the RUN after it and the stage that copies from it.
    write(&there, "app.txt", "app 2\n");
    let record_file = there.with_extension("record.json");
    let out = runner(&there, &record_file, "plain", &[], &env_there);
    assert_built(&out, "the build after app.txt changed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("#3 COPY *.txt /src/  (cache miss: app.txt changed)"),
        "{stderr}"
    );
    let second = read_record(&record_file);
    cleanup.images.extend(record_images(&second));
    // The first COPY is unchanged, but it is committed (and cached) with the COPY after it.
    assert_eq!(
        miss(&second, "build", 2),
        &serde_json::json!({"kind": "committed_with_run", "step": 3, "line": 4})
    );
    assert_eq!(step(&second, "build", 2)["miss_text"], "committed with #3");
    assert_eq!(
        miss(&second, "build", 3),
        &serde_json::json!({"kind": "context_file", "path": "app.txt", "change": "changed", "more": 0})
    );
    let through = miss(&second, "build", 6);
    assert_eq!(through["kind"], "earlier_step");
    assert_eq!(
        (through["step"].as_u64(), through["line"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(through["cause"]["path"], "app.txt");
    assert_eq!(step(&second, "build", 6)["miss_text"], "app.txt changed");
    let from_stage = miss(&second, "stage-1", 1);
    assert_eq!(from_stage["kind"], "stage");
    assert_eq!(from_stage["name"], "build");
    assert_eq!(from_stage["cause"]["path"], "app.txt");
    assert_eq!(
        step(&second, "stage-1", 1)["miss_text"],
        "stage build changed: app.txt changed"
    );

    // A build argument, named; the progress events carry the record's fields.
    let third = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&third.record, "build", 3);
    assert_eq!(
        miss(&third.record, "build", 6),
        &serde_json::json!({"kind": "build_arg", "name": "FLAVOR"})
    );
    let started = third
        .events
        .iter()
        .find(|e| e["event"] == "step_started" && e["stage"] == "build" && e["step"] == 6)
        .expect("a step_started event for build #6");
    assert_eq!(started["miss_text"], "build arg FLAVOR changed");
    let done = third
        .events
        .iter()
        .find(|e| e["event"] == "step_done" && e["stage"] == "build" && e["step"] == 6)
        .expect("a step_done event for build #6");
    assert_eq!(&done["record"], step(&third.record, "build", 6));

    // A new context file matched by the wildcard.
    write(&there, "extra.txt", "extra\n");
    let fourth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    assert_eq!(
        miss(&fourth.record, "build", 3),
        &serde_json::json!({"kind": "context_file", "path": "extra.txt", "change": "added", "more": 0})
    );

    // An ENV variable the RUN sees.
    write(
        &there,
        "Dockerfile",
        &dockerfile(&unique, "ENV MODE=slow", run),
    );
    let fifth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&fifth.record, "build", 3);
    assert_eq!(
        miss(&fifth.record, "build", 6),
        &serde_json::json!({"kind": "env", "name": "MODE"})
    );

    // The instruction's own text.
    let edited = "RUN cat /src/*.txt > /out && echo \"$FLAVOR $MODE edited\" >> /out";
    write(
        &there,
        "Dockerfile",
        &dockerfile(&unique, "ENV MODE=slow", edited),
    );
    let sixth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    assert_eq!(
        miss(&sixth.record, "build", 6),
        &serde_json::json!({"kind": "instruction", "field": "text"})
    );
    assert_eq!(
        step(&sixth.record, "build", 6)["miss_text"],
        "instruction changed"
    );

    // --no-cache, for every step.
    let args = ["--build-arg", "FLAVOR=fancy", "--no-cache"];
    let seventh = build(&there, &args, &env_there, &mut cleanup);
    for (stage, number) in [
        ("build", 1),
        ("build", 2),
        ("build", 3),
        ("build", 6),
        ("stage-1", 1),
    ] {
        assert_eq!(miss(&seventh.record, stage, number)["kind"], "no_cache");
    }

    // The same key as the last build, but its cache entry is gone.
    let key = step(&seventh.record, "stage-1", 1)["key"]
        .as_str()
        .expect("a key")
        .to_string();
    let untag = docker_at(None, &["rmi", &format!("stageplan-cache:{key}")]);
    assert!(untag.status.success(), "{untag:?}");
    let eighth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&eighth.record, "build", 6);
    assert_eq!(
        miss(&eighth.record, "stage-1", 1),
        &serde_json::json!({"kind": "cache_evicted"})
    );
}

#[test]
fn a_new_base_image_is_the_reason_and_the_record_names_both_references() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let other = image_tag("insight-other-base");
    cleanup.tags.push(other.clone());
    let base_dir = TempDir::new("insight-other-base");
    let unique = nonce();
    base_dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN echo other {unique} > /other\n"),
    );
    let out = Command::new(runner_bin())
        .args([
            "build",
            &base_dir.path_str(),
            "--progress",
            "json",
            "-t",
            &other,
        ])
        .output()
        .expect("run the runner");
    assert_built(&out, "the other base image");
    cleanup.images.extend(stage_images(&out.stdout));

    let parent = TempDir::new("insight-base");
    let dir = project(&parent, &format!("project-{}-base", std::process::id()));
    write(
        &dir,
        "Dockerfile",
        &format!("ARG IMAGE={BASE}\nFROM ${{IMAGE}} AS app\nRUN echo hi {unique} > /hi\n"),
    );
    let first = build(&dir, &[], &[], &mut cleanup);
    assert_eq!(miss(&first.record, "app", 1)["kind"], "first_build");
    let second = build(
        &dir,
        &["--build-arg", &format!("IMAGE={other}")],
        &[],
        &mut cleanup,
    );
    assert_eq!(
        miss(&second.record, "app", 1),
        &serde_json::json!({"kind": "base_image", "image": other, "previous_image": BASE})
    );
    assert_eq!(
        step(&second.record, "app", 1)["miss_text"],
        format!("base image {BASE} -> {other}")
    );
}

#[test]
fn a_failed_build_still_writes_its_record_and_report() {
    require_engine();
    let parent = TempDir::new("insight-failed");
    let dir = project(&parent, &format!("project-{}-failed", std::process::id()));
    let unique = nonce();
    write(
        &dir,
        "Dockerfile",
        &format!("FROM {BASE} AS app\nRUN echo {unique} > /ok\nRUN exit 3\n"),
    );
    let record_file = dir.with_extension("record.json");
    let report = dir.with_extension("html");
    let report_arg = report.to_string_lossy().into_owned();
    let out = runner(&dir, &record_file, "json", &["--report", &report_arg], &[]);
    let mut cleanup = Cleanup::default();
    cleanup.images.extend(stage_images(&out.stdout));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = read_record(&record_file);
    // The finished step's cache entry (its stage never finished, so no event names its image).
    if let Some(key) = step(&record, "app", 1)["key"].as_str() {
        cleanup.tags.push(format!("stageplan-cache:{key}"));
    }
    assert_eq!(record["ok"], false);
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e.contains("`RUN exit 3` exited with code 3")),
        "{record:#}"
    );
    assert_eq!(miss(&record, "app", 1)["kind"], "first_build");
    assert_eq!(step(&record, "app", 2)["status"], "failed");
    assert_eq!(record["stages"][0]["end_ms"], Value::Null);
    let page = std::fs::read_to_string(&report).expect("the report page");
    assert!(page.contains("<script id=\"stageplan-record\" type=\"application/json\">"));
}

/// The record images a build's `stage_done` events name, as image ids.
fn record_image_ids(built: &support::record::Built) -> Vec<String> {
    built
        .events
        .iter()
        .filter(|e| e["event"] == "stage_done")
        .filter_map(|e| e["record"].as_str())
        .map(|tag| support::docker(&["image", "inspect", "--format", "{{.Id}}", tag]))
        .collect()
}

#[test]
fn a_warm_build_that_changes_nothing_runs_no_step_keeps_every_record_image_and_survives_a_pruned_step(
) {
    require_engine();
    let mut cleanup = Cleanup::default();
    let parent = TempDir::new("insight-warm-run");
    let dir = project(&parent, &format!("project-{}-warm-run", std::process::id()));
    let unique = nonce();
    // The final stage's three COPY steps are committed once, at the last one. On a warm build
    // the final stage reaches them while `parts` is still looking up its five cached steps:
    // the run's key is only known once `parts` has finished from the cache.
    write(
        &dir,
        "Dockerfile",
        &format!(
            "FROM {BASE} AS parts\n\
             RUN echo {unique} > /part\n\
             RUN echo 2 >> /part\n\
             RUN echo 3 >> /part\n\
             RUN echo 4 >> /part\n\
             RUN echo 5 >> /part\n\
             FROM {BASE} AS more\n\
             RUN echo {unique} > /more\n\
             FROM {BASE}\n\
             COPY --from=parts /part /one\n\
             COPY --from=parts /part /two\n\
             COPY --from=more /more /three\n"
        ),
    );
    let cache = TempDir::new("insight-warm-run-cache");
    let env = [("XDG_CACHE_HOME", cache.0.as_path())];
    let cold = build(&dir, &[], &env, &mut cleanup);
    assert_eq!(miss(&cold.record, "stage-2", 3)["kind"], "first_build");
    // The memories of the stages go into the engine together (one record image, loaded once),
    // the target's after the leak report (a second one).
    let cold_records = record_image_ids(&cold);
    let distinct: std::collections::BTreeSet<&String> = cold_records.iter().collect();
    assert_eq!(distinct.len(), 2, "{cold_records:?}");
    let mut records = vec![cold_records.clone()];
    for round in 0..3 {
        let warm = build(&dir, &[], &env, &mut cleanup);
        for number in 1..=5 {
            cached(&warm.record, "parts", number);
        }
        for number in 1..=3 {
            cached(&warm.record, "stage-2", number);
        }
        let ids = record_image_ids(&warm);
        assert_eq!(ids.len(), 3, "round {round}: {:?}", warm.events);
        records.push(ids);
    }
    // An intermediate step's cache entry is gone (pruned): the steps after it are still
    // found, and nothing runs again (BuildKit, too, only needs the deepest cached result).
    let evicted = step(&cold.record, "parts", 2)["key"]
        .as_str()
        .expect("a RUN step has a key")
        .to_string();
    support::docker(&["image", "rm", &format!("stageplan-cache:{evicted}")]);
    let after_prune = build(&dir, &[], &env, &mut cleanup);
    for number in 1..=5 {
        cached(&after_prune.record, "parts", number);
    }
    for number in 1..=3 {
        cached(&after_prune.record, "stage-2", number);
    }
    // A build that found the same steps keeps the cold build's record: nothing is written again
    // (a warm build sees the sizes of a run committed once on the run's cached last step, where
    // the cold build saw them too).
    assert!(
        records.windows(2).all(|pair| pair[0] == pair[1]),
        "the record images changed (cold build first): {records:?}"
    );
}
