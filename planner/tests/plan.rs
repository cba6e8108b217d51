//! Planner semantics against BuildKit's rules (docs/buildkit-semantics.md: "Stage naming",
//! "Which stages a target builds", "ARGs", "Name resolution"), data-driven through one `check`
//! helper: each case states what BuildKit would build or report.

use std::collections::BTreeMap;

use planner::plan::{EdgeKind, Op, Source};
use planner::{Options, Outcome};

fn run(text: &str, targets: &[&str], build_args: &[(&str, &str)]) -> Outcome {
    let options = Options {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        build_args: build_args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        platform: None,
        build_platform: None,
        dockerfile: None,
    };
    planner::plan(text, &options)
}

/// Asserts the needed stages and waves of a successful plan.
fn check(
    text: &str,
    targets: &[&str],
    build_args: &[(&str, &str)],
    needed: &[usize],
    waves: &[&[usize]],
) -> planner::Plan {
    let outcome = run(text, targets, build_args);
    let plan = outcome
        .plan
        .unwrap_or_else(|| panic!("no plan: {:#?}", outcome.diagnostics));
    let got: Vec<usize> = plan
        .stages
        .iter()
        .filter(|s| s.needed)
        .map(|s| s.index)
        .collect();
    assert_eq!(got, needed, "needed stages");
    let want: Vec<Vec<usize>> = waves.iter().map(|w| w.to_vec()).collect();
    assert_eq!(plan.waves, want, "waves");
    plan
}

/// Asserts that planning fails with an error containing `message`.
fn check_error(text: &str, targets: &[&str], build_args: &[(&str, &str)], message: &str) {
    let outcome = run(text, targets, build_args);
    assert!(outcome.plan.is_none(), "expected an error, got a plan");
    let errors: Vec<&str> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains(message)),
        "no error containing {message:?} in {errors:#?}"
    );
}

fn warnings(text: &str) -> Vec<String> {
    let outcome = run(text, &[], &[]);
    outcome
        .diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.code.clone())
        .collect()
}

const GO: &str = "\
ARG GO_VERSION=1.22
FROM golang:${GO_VERSION}-alpine AS builder
WORKDIR /src
COPY . .
RUN go build -o /out/app .

FROM builder AS test
RUN go test ./...

FROM alpine:3.20 AS prod
COPY --from=builder /out/app /app
ENTRYPOINT [\"/app\"]
";

#[test]
fn target_prunes_unneeded_stages() {
    let plan = check(GO, &["prod"], &[], &[0, 2], &[&[0], &[2]]);
    assert_eq!(plan.images, vec!["alpine:3.20", "golang:1.22-alpine"]);
    assert_eq!(plan.targets, vec![2]);
    assert_eq!(plan.stages[1].base, Source::Stage { stage: 0 });
    assert!(!plan.stages[1].needed);
    check(GO, &["test"], &[], &[0, 1], &[&[0], &[1]]);
}

#[test]
fn default_target_is_last_stage_and_build_args_override_global_args() {
    let plan = check(GO, &[], &[("GO_VERSION", "1.23")], &[0, 2], &[&[0], &[2]]);
    assert_eq!(
        plan.stages[0].base,
        Source::Image {
            image: "golang:1.23-alpine".into()
        }
    );
    assert_eq!(plan.global_args[0].value.as_deref(), Some("1.23"));
}

#[test]
fn several_targets_share_stages() {
    check(GO, &["test", "PROD"], &[], &[0, 1, 2], &[&[0], &[1, 2]]);
}

#[test]
fn unknown_target_suggests() {
    let text = "FROM a AS build\nFROM b AS base\n";
    check_error(
        text,
        &["bulid"],
        &[],
        "target stage \"bulid\" could not be found (did you mean build?)",
    );
    check_error(
        text,
        &["nothing-like-it"],
        &[],
        "target stage \"nothing-like-it\" could not be found",
    );
}

#[test]
fn stage_name_suggestion_is_the_target_error_suggestion() {
    let names = ["build", "base"];
    assert_eq!(
        planner::suggest_stage_name("bulid", &names).as_deref(),
        Some("build")
    );
    assert_eq!(planner::suggest_stage_name("build", &names), None);
    assert_eq!(planner::suggest_stage_name("nothing-like-it", &names), None);
}

#[test]
fn wide_build_runs_in_one_wave() {
    let mut text = String::new();
    for idx in 0..8 {
        text.push_str(&format!("FROM busybox AS s{idx}\nRUN sleep 1\n"));
    }
    text.push_str("FROM busybox\n");
    for idx in 0..8 {
        text.push_str(&format!("COPY --from=s{idx} /x /x{idx}\n"));
    }
    let plan = check(
        &text,
        &[],
        &[],
        &(0..9).collect::<Vec<_>>(),
        &[&[0, 1, 2, 3, 4, 5, 6, 7], &[8]],
    );
    assert_eq!(plan.stages[8].depends_on, (0..8).collect::<Vec<_>>());
}

#[test]
fn copy_from_index_name_case_and_image() {
    let text = "FROM alpine AS Build\nRUN x\nFROM scratch\nCOPY --from=0 /a /a\nCOPY --from=BUILD /b /b\nCOPY --from=nginx:1 /c /c\nCOPY --from=scratch /d /d\n";
    let plan = check(text, &[], &[], &[0, 1], &[&[0], &[1]]);
    let sources: Vec<&Source> = plan.stages[1]
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Copy)
        .map(|e| &e.source)
        .collect();
    assert_eq!(
        sources,
        vec![
            &Source::Stage { stage: 0 },
            &Source::Stage { stage: 0 },
            &Source::Image {
                image: "nginx:1".into()
            },
            &Source::Scratch
        ]
    );
    assert_eq!(plan.images, vec!["alpine", "nginx:1"]);
    assert_eq!(plan.stages[1].base, Source::Scratch);
    let Op::Copy(spec) = &plan.stages[1].instructions[0].op else {
        panic!("copy expected")
    };
    assert_eq!(spec.from, Some(Source::Stage { stage: 0 }));
}

#[test]
fn invalid_stage_index() {
    check_error(
        "FROM a\nCOPY --from=3 /a /a\n",
        &[],
        &[],
        "invalid stage index 3",
    );
}

#[test]
fn variable_in_copy_from_is_an_error() {
    check_error(
        "ARG SRC=builder\nFROM a AS builder\nFROM b\nCOPY --from=${SRC} /a /a\n",
        &[],
        &[],
        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
    );
}

#[test]
fn from_variable_can_select_a_stage() {
    let text = "ARG VARIANT=dev\nFROM alpine AS dev\nFROM debian AS release\nFROM ${VARIANT} AS final\nRUN x\n";
    let plan = check(text, &[], &[], &[0, 2], &[&[0], &[2]]);
    assert_eq!(plan.stages[2].base, Source::Stage { stage: 0 });
    let plan = check(text, &[], &[("VARIANT", "release")], &[1, 2], &[&[1], &[2]]);
    assert_eq!(plan.stages[2].base, Source::Stage { stage: 1 });
}

#[test]
fn from_only_sees_earlier_stages_and_is_case_sensitive() {
    // A later stage of that name does not count: `base` is an image here.
    let plan = check(
        "FROM base AS first\nFROM alpine AS base\n",
        &["first"],
        &[],
        &[0],
        &[&[0]],
    );
    assert_eq!(
        plan.stages[0].base,
        Source::Image {
            image: "base".into()
        }
    );
    // `FROM x AS x` is the image x.
    let plan = check("FROM x AS x\n", &[], &[], &[0], &[&[0]]);
    assert_eq!(plan.stages[0].base, Source::Image { image: "x".into() });
    // BuildKit quirk (moby/buildkit#2003): FROM of an upper-case stage name is an image ref, and invalid.
    check_error("FROM alpine AS test\nFROM TEST\n", &[], &[], "failed to parse stage name \"TEST\": invalid reference format: repository name must be lowercase");
}

#[test]
fn forward_copy_reference_fails_only_when_built() {
    let text = "FROM a AS early\nCOPY --from=late /x /x\nFROM b AS late\nFROM c AS other\n";
    check_error(
        text,
        &["early"],
        &[],
        "cannot copy from stage \"late\", it needs to be defined before current stage \"early\"",
    );
    check(text, &["other"], &[], &[2], &[&[2]]);
    let mount = "FROM a AS early\nRUN --mount=from=late,target=/m true\nFROM b AS late\n";
    check_error(mount, &["early"], &[], "cannot mount from stage \"late\" to \"/m\", stage needs to be defined before current command");
}

#[test]
fn cycles_are_errors_naming_the_stage() {
    check_error(
        "FROM busybox AS s0\nCOPY --from=s0 f /\n",
        &[],
        &[],
        "circular dependency detected on stage: s0",
    );
    check_error(
        "FROM a AS x\nCOPY --from=y /a /a\nFROM b AS y\nCOPY --from=x /b /b\nFROM c\n",
        &[],
        &[],
        "circular dependency detected on stage: x (cycle: x -> y -> x)",
    );
}

#[test]
fn duplicate_names_bind_by_position() {
    let text = "FROM a AS base\nFROM b AS base\nFROM base AS child\nFROM c AS base\nFROM d\nCOPY --from=base /x /x\n";
    let plan = check(text, &[], &[], &[3, 4], &[&[3], &[4]]);
    assert_eq!(plan.stages[2].base, Source::Stage { stage: 1 });
    assert_eq!(
        warnings(text),
        vec!["DuplicateStageName", "DuplicateStageName"]
    );
}

#[test]
fn run_mount_from_is_an_edge() {
    let text = "FROM golang AS deps\nRUN go mod download\nFROM golang\nRUN --mount=type=cache,target=/root/.cache --mount=from=deps,source=/go,target=/go --mount=type=bind,from=tools:1,target=/t go build\n";
    let plan = check(text, &[], &[], &[0, 1], &[&[0], &[1]]);
    let mounts: Vec<(&EdgeKind, &Source)> = plan.stages[1]
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Mount)
        .map(|e| (&e.kind, &e.source))
        .collect();
    assert_eq!(
        mounts,
        vec![
            (&EdgeKind::Mount, &Source::Stage { stage: 0 }),
            (
                &EdgeKind::Mount,
                &Source::Image {
                    image: "tools:1".into()
                }
            )
        ]
    );
    assert_eq!(plan.images, vec!["golang", "tools:1"]);
}

#[test]
fn onbuild_triggers_of_the_parent_run_in_the_child() {
    let text = "FROM alpine AS assets\nRUN make\nFROM alpine AS base\nONBUILD COPY --from=assets /a /a\nFROM base AS app\nRUN x\nFROM base2 AS other\n";
    let plan = check(text, &["app"], &[], &[0, 1, 2], &[&[0, 1], &[2]]);
    let app = &plan.stages[2];
    assert_eq!(app.instructions[0].onbuild_from, Some(1));
    assert!(app
        .edges
        .iter()
        .any(|e| e.onbuild && e.source == Source::Stage { stage: 0 }));
    // The parent itself does not depend on the trigger's source.
    assert_eq!(plan.stages[1].depends_on, Vec::<usize>::new());
}

#[test]
fn predefined_platform_args_in_from() {
    let text = "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETOS TARGETARCH\nFROM alpine:${TARGETARCH}\nCOPY --from=build /a /a\n";
    let plan = check(text, &[], &[], &[0, 1], &[&[0], &[1]]);
    assert_eq!(
        plan.stages[1].base,
        Source::Image {
            image: "alpine:amd64".into()
        }
    );
    assert_eq!(plan.stages[0].platform.as_deref(), Some("linux/amd64"));
    let options = Options {
        platform: Some("linux/arm64".into()),
        ..Options::default()
    };
    let plan = planner::plan(text, &options).plan.unwrap();
    assert_eq!(
        plan.stages[1].base,
        Source::Image {
            image: "alpine:arm64".into()
        }
    );
    assert_eq!(plan.predefined_args["TARGETPLATFORM"], "linux/arm64");
}

#[test]
fn the_build_platform_is_the_builders_and_the_default_target() {
    // As BuildKit takes its worker's platform: an arm64 engine builds for arm64 unless told
    // otherwise, and `$BUILDPLATFORM` names the engine's platform either way.
    let text = "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\nFROM alpine\n";
    let plan_on = |platform: Option<&str>| {
        let options = Options {
            platform: platform.map(str::to_string),
            build_platform: Some("linux/arm64".into()),
            ..Options::default()
        };
        planner::plan(text, &options).plan.unwrap()
    };
    let native = plan_on(None);
    assert_eq!(native.platform, "linux/arm64");
    assert_eq!(native.predefined_args["BUILDPLATFORM"], "linux/arm64");
    assert_eq!(native.predefined_args["BUILDARCH"], "arm64");
    assert_eq!(native.predefined_args["TARGETARCH"], "arm64");
    assert_eq!(native.stages[0].platform.as_deref(), Some("linux/arm64"));
    let cross = plan_on(Some("linux/amd64"));
    assert_eq!(cross.platform, "linux/amd64");
    assert_eq!(cross.predefined_args["BUILDPLATFORM"], "linux/arm64");
    assert_eq!(cross.predefined_args["TARGETARCH"], "amd64");
    assert_eq!(cross.stages[0].platform.as_deref(), Some("linux/arm64"));
    let bad = planner::plan(
        text,
        &Options {
            build_platform: Some("linux//arm64".into()),
            ..Options::default()
        },
    );
    assert!(bad.plan.is_none());
    assert!(
        bad.diagnostics[0]
            .message
            .starts_with("invalid --build-platform"),
        "{:?}",
        bad.diagnostics
    );
}

#[test]
fn expansion_operators_in_from() {
    let text = "ARG IMAGE=docker.io/library/node:20.11.1-slim\nARG TAG\nFROM ${IMAGE%%:*}:${TAG:-lts} AS a\nFROM ${IMAGE#docker.io/} AS b\nFROM ${IMAGE/slim/alpine}\n";
    let plan = run(text, &[], &[]).plan.unwrap();
    let bases: Vec<&Source> = plan.stages.iter().map(|s| &s.base).collect();
    assert_eq!(
        bases,
        vec![
            &Source::Image {
                image: "docker.io/library/node:lts".into()
            },
            &Source::Image {
                image: "library/node:20.11.1-slim".into()
            },
            &Source::Image {
                image: "docker.io/library/node:20.11.1-alpine".into()
            },
        ]
    );
}

#[test]
fn blank_base_name_fails_even_in_unneeded_stages() {
    check_error(
        "ARG BASE\nFROM ${BASE} AS unused\nFROM alpine\n",
        &[],
        &[],
        "base name (${BASE}) should not be blank",
    );
}

#[test]
fn reserved_names_and_scratch_stage() {
    let text = "FROM alpine AS scratch\nRUN x\nFROM scratch\nRUN --mount=type=cache,target=/c y\n";
    let plan = check(text, &[], &[], &[0, 1], &[&[0], &[1]]);
    assert_eq!(plan.stages[1].base, Source::Stage { stage: 0 });
    assert!(warnings(text).contains(&"ReservedStageName".to_string()));
}

#[test]
fn a_cache_mount_without_from_starts_from_a_stage_called_scratch() {
    // BuildKit's dispatchRunMounts resolves the name `scratch` for every mount without `from=`;
    // a cache mount starts from what it finds, a bind mount still reads the context.
    let mounts_of = |text: &str, needed: &[usize], waves: &[&[usize]]| -> Vec<Option<Source>> {
        let plan = check(text, &[], &[], needed, waves);
        match &plan.stages[1].instructions[0].op {
            Op::Run { mounts, .. } => mounts.iter().map(|m| m.from.clone()).collect(),
            other => panic!("not a RUN: {other:?}"),
        }
    };
    let run = "RUN --mount=type=cache,target=/c --mount=type=bind,target=/m \
               --mount=type=cache,target=/d,from=alpine true\n";
    assert_eq!(
        mounts_of(
            &format!("FROM busybox AS scratch\nFROM alpine\n{run}"),
            &[0, 1],
            &[&[0], &[1]]
        ),
        [
            Some(Source::Stage { stage: 0 }),
            None,
            Some(Source::Image {
                image: "alpine".to_string()
            }),
        ]
    );
    assert_eq!(
        mounts_of(
            &format!("FROM busybox AS tools\nFROM alpine\n{run}"),
            &[1],
            &[&[1]]
        ),
        [
            None,
            None,
            Some(Source::Image {
                image: "alpine".to_string()
            }),
        ]
    );
}

#[test]
fn checks_with_positions() {
    let text = "FROM alpine AS Builder\nFROM --platform=linux/amd64 alpine AS two\nFROM --platform=$TARGETPLATFORM alpine\nFROM ${NOPE:-alpine} AS four\n";
    let outcome = run(text, &[], &[]);
    let found: Vec<(String, u32, u32)> = outcome
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), d.line, d.column))
        .collect();
    assert_eq!(
        found,
        vec![
            ("StageNameCasing".to_string(), 1, 16),
            ("FromPlatformFlagConstDisallowed".to_string(), 2, 17),
            ("RedundantTargetPlatform".to_string(), 3, 17),
            ("UndefinedArgInFrom".to_string(), 4, 1),
        ]
    );
}

#[test]
fn check_directive_and_comments_skip_rules() {
    assert_eq!(
        warnings("# check=skip=StageNameCasing\nFROM a AS Build\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        warnings("FROM a\n# check=skip=JSONArgsRecommended\nCMD run\nENTRYPOINT run\n"),
        vec!["JSONArgsRecommended"]
    );
    assert_eq!(
        warnings("# check=skip=all\nFROM a AS Build\nMAINTAINER me\n"),
        Vec::<String>::new()
    );
    check_error(
        "# check=bogus=1\nFROM a\n",
        &[],
        &[],
        "invalid check option",
    );
}

#[test]
fn never_panics_on_garbage() {
    for text in [
        "",
        "\u{feff}",
        "FROM",
        "FROM \\",
        "RUN <<",
        "COPY --from= a b",
        "FROM a\nCOPY --from=-1 /a /a",
        "\0\0\0",
        "FROM a AS\n",
    ] {
        let _ = run(text, &["x"], &[]);
        let _ = planner::check(text);
    }
}
