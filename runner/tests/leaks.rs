//! The leak report on the real engine, from Dockerfile text: context files in the target image,
//! a target that ships a builder's toolchain (based on a builder stage, on the builder's image, or
//! compiling in its own image), the biggest directories it adds, and a clean multi-stage target.
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh). Output: pass/fail.
//! Invariant: every image, cache tag and record image a test makes is removed at its end.

mod support;

use serde_json::Value;
use support::record::{build, project, write, Built, Cleanup};
use support::{image_tag, require_engine, TempDir, BASE};

/// Builds a one-off project and returns its record and stderr (the summary).
fn build_project(name: &str, files: &[(&str, &str)], cleanup: &mut Cleanup) -> Built {
    let parent = TempDir::new(name);
    let dir = project(&parent, &format!("project-{}-{name}", std::process::id()));
    for (rel, content) in files {
        write(&dir, rel, content);
    }
    let tag = image_tag(name);
    cleanup.tags.push(tag.clone());
    build(&dir, &["-t", &tag], &[], cleanup)
}

fn leaks(record: &Value) -> Vec<&Value> {
    record["leaks"].as_array().expect("leaks").iter().collect()
}

#[test]
fn a_fat_image_ships_its_sources_and_its_toolchain_and_shows_what_it_adds() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let built = build_project(
        "insight-fat",
        &[
            ("main.sh", "echo built\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {BASE}\nWORKDIR /app\nCOPY main.sh ./\nRUN sh main.sh > /app/result && head -c 300000 /dev/zero > /app/cache.bin\nCMD [\"cat\", \"/app/result\"]\n"
                ),
            ),
        ],
        &mut cleanup,
    );
    let found = leaks(&built.record);
    let context = found
        .iter()
        .find(|l| l["kind"] == "context_files")
        .unwrap_or_else(|| panic!("no context-file leak: {found:?}"));
    assert_eq!(context["paths"], serde_json::json!(["/app/main.sh"]));
    assert_eq!(context["line"], 3);
    let toolchain = found
        .iter()
        .find(|l| l["kind"] == "builder_base")
        .unwrap_or_else(|| panic!("no builder-base leak: {found:?}"));
    assert_eq!(toolchain["line"], 4);
    assert!(
        toolchain["message"].as_str().is_some_and(|m| m.contains(
            "builds in its own image (the RUN on line 4 works on sources copied on line 3)"
        )),
        "{toolchain}"
    );
    let dirs = built.record["biggest_dirs"].as_array().expect("dirs");
    assert_eq!(dirs[0]["path"], "/app", "{dirs:?}");
    assert!(
        dirs[0]["bytes"].as_u64().is_some_and(|b| b >= 300_000),
        "{dirs:?}"
    );
    // The summary prints the same.
    assert!(built.summary.contains("warning: line 3: 1 file from the build context ships in target stage \"stage-0\" (/app/main.sh)"), "{}", built.summary);
    assert!(
        built
            .summary
            .contains("biggest directories the image adds over"),
        "{}",
        built.summary
    );
}

#[test]
fn a_target_based_on_a_builder_stage_or_the_builders_image_ships_the_toolchain() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let on_stage = build_project(
        "insight-on-stage",
        &[(
            "Dockerfile",
            &format!(
                "FROM {BASE} AS build\nRUN echo bin > /bin.out\nFROM {BASE} AS test\nCOPY --from=build /bin.out /tested\nFROM build AS final\nCOPY --from=test /tested /tested\n"
            ),
        )],
        &mut cleanup,
    );
    let found = leaks(&on_stage.record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "builder_base");
    assert_eq!(found[0]["line"], 5);
    assert!(found[0]["message"].as_str().is_some_and(|m| m.starts_with(
        "target stage \"final\" is based on stage \"build\", which stage \"test\" copies build output from"
    )));

    let on_image = build_project(
        "insight-on-image",
        &[(
            "Dockerfile",
            &format!("FROM {BASE} AS build\nRUN echo bin > /bin.out\nFROM {BASE}\nCOPY --from=build /bin.out /app\n"),
        )],
        &mut cleanup,
    );
    let found = leaks(&on_image.record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&format!(
            "is based on {BASE}, which stage \"build\" builds in"
        ))));
}

#[test]
fn a_multi_stage_target_from_scratch_is_clean() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let built = build_project(
        "insight-clean",
        &[
            ("main.sh", "echo built\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {BASE} AS build\nCOPY main.sh /src/\nRUN sh /src/main.sh > /out\nFROM scratch\nCOPY --from=build /out /out\n"
                ),
            ),
        ],
        &mut cleanup,
    );
    assert_eq!(leaks(&built.record), Vec::<&Value>::new());
    assert!(
        built.summary.contains("leak report: clean"),
        "{}",
        built.summary
    );
    assert_eq!(built.record["added_bytes"], 6);
}
