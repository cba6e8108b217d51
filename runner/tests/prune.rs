//! The step cache's housekeeping on the real engine, from Dockerfile text: `runner prune`
//! removes the entries no stage's last build uses and keeps those it uses (a warm build still
//! runs nothing), `--until` spares recent entries (without it, the last two minutes are spared),
//! `--all` also removes the stage memories and the `RUN --mount=type=cache` volumes but never a
//! user's tagged image, and a `--no-cache`
//! build deletes the images whose entries it replaced instead of leaving them untagged.
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh). Output: pass/fail.
//! Invariant: the tests take turns (`--all` clears the engine's whole step cache, so it would
//! pull entries from under a test beside it); every image, tag and record a test makes is
//! removed at its end.

mod support;

use std::sync::Mutex;

use serde_json::Value;

use support::record::{build, cached, project, step, write, Cleanup};
use support::{docker_at, image_tag, nonce, require_engine, run_runner, TempDir, BASE};

/// One test at a time.
static TURN: Mutex<()> = Mutex::new(());

fn dockerfile(word: &str) -> String {
    format!(
        "FROM {BASE} AS build\n\
         RUN echo {word} > /out\n\
         FROM {BASE}\n\
         COPY --from=build /out /out\n"
    )
}

fn exists(reference: &str) -> bool {
    docker_at(None, &["image", "inspect", reference])
        .status
        .success()
}

fn key(record: &Value, stage: &str, number: u64) -> String {
    step(record, stage, number)["key"]
        .as_str()
        .expect("a keyed step")
        .to_string()
}

fn image_of(reference: &str) -> String {
    let out = docker_at(
        None,
        &["image", "inspect", "--format", "{{.Id}}", reference],
    );
    assert!(out.status.success(), "no image {reference}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn prune(args: &[&str]) -> String {
    let mut all = vec!["prune"];
    all.extend_from_slice(args);
    let out = run_runner(&all);
    assert!(
        out.status.success(),
        "runner prune {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn prune_removes_the_entries_no_last_build_uses_and_keeps_the_warm_build_whole() {
    require_engine();
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut cleanup = Cleanup::default();
    let parent = TempDir::new("prune-stale");
    let dir = project(&parent, &format!("prune-{}", std::process::id()));
    let word = nonce();
    let tag = image_tag("prune-app");
    cleanup.tags.push(tag.clone());

    write(&dir, "Dockerfile", &dockerfile(&format!("{word}-one")));
    let first = build(&dir, &["-t", &tag], &[], &mut cleanup);
    let old_run = key(&first.record, "build", 1);
    let old_copy = key(&first.record, "stage-1", 1);
    let old_run_image = image_of(&format!("stageplan-cache:{old_run}"));

    write(&dir, "Dockerfile", &dockerfile(&format!("{word}-two")));
    let second = build(&dir, &["-t", &tag], &[], &mut cleanup);
    let new_run = key(&second.record, "build", 1);
    let new_copy = key(&second.record, "stage-1", 1);
    let target = image_of(&tag);
    assert_ne!(old_run, new_run);

    // Made seconds ago: `--until 1h` spares them, and without `--until` the last minutes are
    // spared too.
    for args in [&["--until", "1h"][..], &[][..]] {
        prune(args);
        assert!(
            exists(&format!("stageplan-cache:{old_run}")),
            "runner prune {args:?} removed an entry made seconds ago"
        );
    }

    let said = prune(&["--until", "0s"]);
    assert!(said.starts_with("removed "), "{said}");
    for old in [&old_run, &old_copy] {
        assert!(
            !exists(&format!("stageplan-cache:{old}")),
            "the first build's entry {old} is still there:\n{said}"
        );
    }
    assert!(
        !exists(&old_run_image),
        "the first build's RUN image {old_run_image} was untagged but not deleted"
    );
    for new in [&new_run, &new_copy] {
        assert!(
            exists(&format!("stageplan-cache:{new}")),
            "the last build's entry {new} was removed:\n{said}"
        );
    }
    assert_eq!(image_of(&tag), target, "the user's tag must stay");

    let warm = build(&dir, &["-t", &tag], &[], &mut cleanup);
    cached(&warm.record, "build", 1);
    cached(&warm.record, "stage-1", 1);
    assert_eq!(
        image_of(&tag),
        target,
        "after a prune, a warm build returns the same image"
    );
}

#[test]
fn a_no_cache_build_deletes_the_images_whose_entries_it_replaced() {
    require_engine();
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut cleanup = Cleanup::default();
    let parent = TempDir::new("prune-nocache");
    let dir = project(&parent, &format!("nocache-{}", std::process::id()));
    write(&dir, "Dockerfile", &dockerfile(&nonce()));
    let tag = image_tag("prune-nocache");
    cleanup.tags.push(tag.clone());

    let first = build(&dir, &["-t", &tag], &[], &mut cleanup);
    let run = key(&first.record, "build", 1);
    let copy = key(&first.record, "stage-1", 1);
    let old_images = [
        image_of(&format!("stageplan-cache:{run}")),
        image_of(&format!("stageplan-cache:{copy}")),
    ];

    // A second name for the first build's image: the user keeps it, so it must stay.
    let kept = image_tag("prune-nocache-kept");
    cleanup.tags.push(kept.clone());
    let kept_image = image_of(&tag);
    assert!(docker_at(None, &["tag", &tag, &kept]).status.success());

    let again = build(&dir, &["-t", &tag, "--no-cache"], &[], &mut cleanup);
    assert_eq!(
        image_of(&kept),
        kept_image,
        "the --no-cache build deleted an image the user had tagged"
    );
    assert_eq!(key(&again.record, "build", 1), run, "same steps, same keys");
    for old in &old_images {
        assert!(
            !exists(old),
            "the --no-cache build left the image {old} it replaced in the engine"
        );
    }
    assert_ne!(image_of(&format!("stageplan-cache:{run}")), old_images[0]);
}

#[test]
fn prune_all_removes_memories_and_cache_volumes_but_not_tagged_images() {
    require_engine();
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut cleanup = Cleanup::default();
    let parent = TempDir::new("prune-all");
    let name = format!("pruneall-{}", std::process::id());
    let dir = project(&parent, &name);
    let word = nonce();
    write(
        &dir,
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN --mount=type=cache,target=/cache,id={word} echo {word} > /cache/seen && cp /cache/seen /out\n"
        ),
    );
    let tag = image_tag("prune-all");
    cleanup.tags.push(tag.clone());
    let first = build(&dir, &["-t", &tag], &[], &mut cleanup);
    let run = key(&first.record, "stage-0", 1);
    // This build's cache volume is the one holding its word (other builds on the engine may
    // make and use cache volumes of their own meanwhile).
    let mine: Vec<String> = cache_volumes()
        .into_iter()
        .filter(|volume| holds(volume, &word))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "the RUN --mount=type=cache build made no cache volume holding {word}"
    );
    let record = format!("stageplan-record:{}", record_identity(&first.events));
    assert!(exists(&record), "no stage memory {record}");

    let dry = prune(&["--all", "--until", "0s", "--dry-run"]);
    assert!(dry.starts_with("would remove "), "{dry}");
    assert!(
        exists(&format!("stageplan-cache:{run}")),
        "a dry run removed an entry"
    );

    let said = prune(&["--all", "--until", "0s"]);
    assert!(!exists(&format!("stageplan-cache:{run}")), "{said}");
    assert!(!exists(&record), "the stage memory stayed:\n{said}");
    let left: Vec<String> = cache_volumes()
        .into_iter()
        .filter(|volume| mine.contains(volume))
        .collect();
    assert!(left.is_empty(), "cache volume {left:?} stayed:\n{said}");
    assert!(exists(&tag), "--all removed the user's tagged image");

    let after = build(&dir, &["-t", &tag], &[], &mut cleanup);
    assert_eq!(
        step(&after.record, "stage-0", 1)["status"],
        "ran",
        "with its entry gone the step runs again"
    );
}

fn cache_volumes() -> Vec<String> {
    let out = docker_at(
        None,
        &["volume", "ls", "-q", "--filter", "name=stageplan-cache-"],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether the cache volume `volume` holds the file `seen` with `word` in it (read on the
/// local engine's host).
fn holds(volume: &str, word: &str) -> bool {
    let out = docker_at(
        None,
        &["volume", "inspect", "--format", "{{.Mountpoint}}", volume],
    );
    let mountpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::read_to_string(std::path::Path::new(&mountpoint).join("seen"))
        .is_ok_and(|text| text.contains(word))
}

/// The stage memory's identity from the build's `stage_done` event (`stageplan-record:<id>`).
fn record_identity(events: &[Value]) -> String {
    events
        .iter()
        .find(|event| event["event"] == "stage_done")
        .and_then(|event| event["record"].as_str())
        .and_then(|record| record.strip_prefix("stageplan-record:"))
        .expect("a stage_done event naming the stage memory")
        .to_string()
}
