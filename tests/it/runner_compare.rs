//! The runner against BuildKit on the same engine: the same Dockerfile, built by the runner
//! (from its plan) and by `DOCKER_BUILDKIT=1 docker build`, must give the same files and config.
//!
//! Input: fixture Dockerfiles written with [`Df`] (Dockerfile text and plan side by side) and a
//! small build context.
//! Output: failures listing every path whose type, mode, owner, link target or content differs,
//! and every differing config field (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
//! Labels, StopSignal, Volumes).
//! Invariant: both images come from one engine and one context; the only normalisation is
//! null = `[]` = `{}` in the config (the runner's commits must write `Entrypoint: []`, see
//! RUNNER-NOTES P5) and mtimes, which differ between any two builds.

use std::process::Command;

use planner::plan::{Command as PlanCommand, Op, Source};

use crate::runner_support::{
    config, copy_spec, filesystem, kv, remove_images, require_engine, run_runner, write_plan, Df,
    TempDir, BASE, DOCKER,
};

/// Builds `df` for `target` both ways in `dir` and compares the results; `extra` are more
/// runner arguments.
fn compare_with(name: &str, df: &Df, target: &str, dir: &TempDir, extra: &[&str]) {
    require_engine();
    dir.write("Dockerfile", df.text());
    let plan_path = write_plan(&dir.0, &df.plan(target));
    let ours = format!("stageplan-it/{name}-runner:{}", std::process::id());
    let theirs = format!("stageplan-it/{name}-buildkit:{}", std::process::id());
    let context = dir.0.to_string_lossy().into_owned();
    let dockerfile = dir.0.join("Dockerfile").to_string_lossy().into_owned();
    let mut args = vec![
        plan_path.to_str().expect("utf-8 path"),
        "--context",
        &context,
        "--dockerfile",
        &dockerfile,
        "-t",
        &ours,
        "--progress",
        "plain",
        "--no-cache",
    ];
    args.extend_from_slice(extra);
    let out = run_runner(&args);
    assert!(
        out.status.success(),
        "runner failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = Command::new(DOCKER)
        .env("DOCKER_BUILDKIT", "1")
        .args([
            "build",
            "-q",
            "--no-cache",
            "--target",
            target,
            "-t",
            &theirs,
            &context,
        ])
        .output()
        .expect("docker build");
    assert!(
        built.status.success(),
        "docker build failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let problems = differences(&ours, &theirs);
    remove_images(None, &[&ours, &theirs]);
    assert!(
        problems.is_empty(),
        "{name}: the runner's image differs from BuildKit's:\n{}",
        problems.join("\n")
    );
}

/// Every difference in files and config between two images of the local engine.
fn differences(ours: &str, theirs: &str) -> Vec<String> {
    let (fs_ours, fs_theirs) = (filesystem(None, ours), filesystem(None, theirs));
    let (cfg_ours, cfg_theirs) = (config(None, ours), config(None, theirs));
    let mut problems = Vec::new();
    for path in fs_ours
        .keys()
        .chain(fs_theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (fs_ours.get(path), fs_theirs.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => problems.push(format!("{path}: runner {a:?}, buildkit {b:?}")),
        }
    }
    for (key, value) in &cfg_theirs {
        if cfg_ours.get(key) != Some(value) {
            problems.push(format!(
                "config {key}: runner {:?}, buildkit {value}",
                cfg_ours.get(key)
            ));
        }
    }
    problems
}

/// Builds the Dockerfile in `context` with `runner build` and with BuildKit, both given the same
/// `options` (`--target`, `--build-arg`, ...), removes both images and returns how they differ.
fn build_dir_both(name: &str, context: &str, options: &[&str]) -> Vec<String> {
    let ours = format!("stageplan-it/{name}-runner:{}", std::process::id());
    let theirs = format!("stageplan-it/{name}-buildkit:{}", std::process::id());
    let mut runner_args = vec![
        "build",
        context,
        "-t",
        &ours,
        "--no-cache",
        "--progress",
        "plain",
    ];
    runner_args.extend_from_slice(options);
    let out = run_runner(&runner_args);
    assert!(
        out.status.success(),
        "runner build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut docker_args = vec!["build", "-q", "--no-cache", "-t", &theirs];
    docker_args.extend_from_slice(options);
    docker_args.push(context);
    let built = Command::new(DOCKER)
        .env("DOCKER_BUILDKIT", "1")
        .args(&docker_args)
        .output()
        .expect("docker build");
    if !built.status.success() {
        remove_images(None, &[&ours]);
        panic!(
            "docker build failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    let problems = differences(&ours, &theirs);
    remove_images(None, &[&ours, &theirs]);
    problems
}

/// [`compare_with`] in the default mode (RUN steps of a stage share a keeper container).
fn compare(name: &str, df: &Df, target: &str, dir: &TempDir) {
    compare_with(name, df, target, dir, &[]);
}

#[test]
fn runner_matches_buildkit_on_a_multi_stage_build() {
    let dir = TempDir::new("compare-multi");
    dir.write("src/main.txt", "main\n");
    dir.write("src/lib/util.txt", "util\n");
    dir.write("top.txt", "top\n");
    let mut df = Df::new();
    df.from(BASE, "builder")
        .arg("VERSION", Some("1.2"))
        .env(&[("APP_HOME", "/opt/app"), ("PATH", "/opt/app/bin:$PATH")])
        .ins("WORKDIR $APP_HOME", Op::Workdir { path: "$APP_HOME".into() })
        .copy("", &["src/"], "./src/", copy_spec())
        .copy("", &["top.txt"], ".", copy_spec())
        .copy("", &["top.txt"], "src", copy_spec())
        .run(
            "mkdir -p bin out/private && echo \"v$VERSION\" > out/version && chmod 700 out/private \
             && echo s > out/private/s && ln -s version out/link && ln out/version out/hard \
             && chown -R 1000:1000 out/private && rm /usr/bin/wc",
        )
        .ins("USER user", Op::User { user: "user".into() })
        .run("echo \"$(id -u) $VERSION $APP_HOME\" > /tmp/who");
    df.from(BASE, "unused").run("exit 1");
    let from_builder = || {
        let mut spec = copy_spec();
        spec.from = Some(Source::Stage { stage: 0 });
        spec
    };
    let mut chowned = from_builder();
    chowned.chown = Some("1000:1000".into());
    df.from("scratch", "prod")
        .copy(
            "--from=builder",
            &["/opt/app/out/"],
            "/out/",
            from_builder(),
        )
        .copy(
            "--from=builder",
            &["/opt/app/out/link"],
            "/linked",
            from_builder(),
        )
        .copy(
            "--from=builder --chown=1000:1000",
            &["/opt/app/top.txt"],
            "/srv/",
            chowned,
        )
        .copy("--from=builder", &["/tmp/who"], "/who", from_builder())
        .ins(
            "LABEL org.example.name=\"demo app\" version=$VERSION",
            Op::Label {
                pairs: vec![
                    kv("org.example.name", "\"demo app\""),
                    kv("version", "$VERSION"),
                ],
            },
        )
        .ins(
            "EXPOSE 8080 53/udp",
            Op::Expose {
                ports: vec!["8080".into(), "53/udp".into()],
            },
        )
        .ins(
            "VOLUME /data",
            Op::Volume {
                paths: vec!["/data".into()],
            },
        )
        .ins(
            "STOPSIGNAL SIGTERM",
            Op::Stopsignal {
                signal: "SIGTERM".into(),
            },
        )
        .ins(
            "WORKDIR /srv",
            Op::Workdir {
                path: "/srv".into(),
            },
        )
        .ins(
            "ENTRYPOINT [\"/bin/app\"]",
            Op::Entrypoint {
                command: PlanCommand::Exec {
                    args: vec!["/bin/app".into()],
                },
            },
        )
        .ins(
            "CMD [\"--serve\"]",
            Op::Cmd {
                command: PlanCommand::Exec {
                    args: vec!["--serve".into()],
                },
            },
        );
    compare("multi", &df, "prod", &dir);
    compare_with("multi-isolated", &df, "prod", &dir, &["--isolate-runs"]);
}

#[test]
fn runner_matches_buildkit_on_a_stage_built_on_a_stage() {
    let dir = TempDir::new("compare-chain");
    dir.write("a.txt", "a\n");
    let mut df = Df::new();
    df.from(BASE, "base")
        .env(&[("MODE", "base")])
        .ins(
            "WORKDIR /work",
            Op::Workdir {
                path: "/work".into(),
            },
        )
        .run("echo base > marker");
    df.from("base", "child")
        .copy("", &["a.txt"], "/work/", copy_spec())
        .env(&[("MODE", "child")])
        .run("echo \"$MODE\" >> marker && mkdir -p /etc/app && echo x > /etc/app/conf")
        .ins(
            "USER 1000:1000",
            Op::User {
                user: "1000:1000".into(),
            },
        )
        .ins(
            "CMD echo hello",
            Op::Cmd {
                command: PlanCommand::Shell {
                    script: "echo hello".into(),
                },
            },
        );
    compare("chain", &df, "child", &dir);
}

#[test]
fn runner_matches_buildkit_on_add_archives_and_named_chown() {
    let dir = TempDir::new("compare-add");
    dir.write("pkg/bin/tool", "#!/bin/sh\necho tool\n");
    dir.write("pkg/share/doc.txt", "doc\n");
    dir.write("plain.txt", "plain\n");
    let packed = Command::new("tar")
        .args([
            "czf",
            "pkg.tar.gz",
            "--owner=42",
            "--group=43",
            "-C",
            "pkg",
            ".",
        ])
        .current_dir(&dir.0)
        .status()
        .expect("tar");
    assert!(packed.success());
    let mut chowned = copy_spec();
    chowned.chown = Some("user:user".into());
    let mut df = Df::new();
    df.from(BASE, "add")
        .ins(
            "ADD pkg.tar.gz /opt/pkg/",
            Op::Add(planner::plan::CopySpec {
                sources: vec!["pkg.tar.gz".into()],
                dest: "/opt/pkg/".into(),
                ..copy_spec()
            }),
        )
        .ins(
            "ADD plain.txt /opt/",
            Op::Add(planner::plan::CopySpec {
                sources: vec!["plain.txt".into()],
                dest: "/opt/".into(),
                ..copy_spec()
            }),
        )
        .copy(
            "--chown=user:user",
            &["plain.txt"],
            "/home/user/notes/",
            chowned,
        )
        .run("ls -ln /opt/pkg > /opt/listing");
    compare("add", &df, "add", &dir);
}

#[test]
fn runner_build_of_a_dockerfile_matches_buildkit() {
    require_engine();
    let dir = TempDir::new("compare-build");
    dir.write("app/main.sh", "#!/bin/sh\necho app\n");
    dir.write("app/.hidden", "hidden\n");
    dir.write("app/debug.log", "noise\n");
    dir.write(".dockerignore", "**/*.log\n");
    dir.write(
        "Dockerfile",
        &format!(
            "ARG BASE={BASE}\n\
             ARG FLAVOUR=plain\n\
             FROM $BASE AS deps\n\
             ARG FLAVOUR\n\
             ENV FLAVOUR=$FLAVOUR HOME_DIR=/home/user\n\
             RUN mkdir -p /deps && echo \"$FLAVOUR\" > /deps/flavour\n\
             \n\
             FROM $BASE AS build\n\
             WORKDIR /build\n\
             COPY app/ ./app/\n\
             COPY --from=deps /deps /deps\n\
             RUN chmod 755 app/main.sh && ls -A app > manifest && cat /deps/flavour >> manifest\n\
             \n\
             FROM $BASE AS final\n\
             COPY --from=1 --chown=user /build/ /srv/\n\
             COPY --from=deps /deps/flavour /etc/flavour\n\
             USER user\n\
             WORKDIR /srv\n\
             ENV PATH=/srv/app:$PATH\n\
             EXPOSE 80/tcp\n\
             SHELL [\"/bin/sh\", \"-ec\"]\n\
             RUN echo \"shell $FLAVOUR\" > /tmp/shell-form\n\
             HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD [\"true\"]\n\
             STOPSIGNAL SIGINT\n\
             LABEL maintainer=\"x y\" flavour=\"${{FLAVOUR:-none}}\"\n\
             VOLUME [\"/data\", \"/cache\"]\n\
             CMD echo default\n\
             ENTRYPOINT [\"main.sh\"]\n"
        ),
    );
    let context = dir.0.to_string_lossy().into_owned();
    let problems = build_dir_both(
        "build",
        &context,
        &["--target", "final", "--build-arg", "FLAVOUR=spicy"],
    );
    assert!(
        problems.is_empty(),
        "runner build differs from BuildKit:\n{}",
        problems.join("\n")
    );
}

#[test]
fn onbuild_triggers_of_an_external_base_run_as_in_buildkit() {
    require_engine();
    let dir = TempDir::new("compare-onbuild");
    let base = format!("stageplan-it/onbuild-base:{}", std::process::id());
    dir.write(
        "base/Dockerfile",
        &format!("FROM {BASE}\nONBUILD ARG WHO=child\nONBUILD RUN echo \"triggered by $WHO\" > /t\nONBUILD COPY in.txt /in/\n"),
    );
    let built = Command::new(DOCKER)
        .env("DOCKER_BUILDKIT", "1")
        .args([
            "build",
            "-q",
            "-t",
            &base,
            &dir.0.join("base").to_string_lossy(),
        ])
        .output()
        .expect("docker build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    dir.write("child/in.txt", "input\n");
    dir.write(
        "child/Dockerfile",
        &format!("FROM {base} AS child\nRUN cat /t /in/in.txt > /both\n"),
    );
    let context = dir.0.join("child").to_string_lossy().into_owned();
    let problems = build_dir_both("onbuild", &context, &[]);
    remove_images(None, &[&base]);
    assert!(
        problems.is_empty(),
        "ONBUILD differs from BuildKit:\n{}",
        problems.join("\n")
    );
}

#[test]
fn copies_from_a_stage_see_its_real_etc_files_not_the_init_layer() {
    require_engine();
    let dir = TempDir::new("compare-masked");
    dir.write("hosts", "127.0.0.1 real-hosts-content\n");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS a\n\
             COPY hosts /etc/hosts\n\
             RUN echo marker > /etc/marker\n\
             \n\
             FROM scratch AS out\n\
             COPY --from=a /etc/hosts /h\n\
             COPY --from=a /etc/ /e/\n\
             COPY --from=a / /all/\n"
        ),
    );
    let context = dir.0.to_string_lossy().into_owned();
    let problems = build_dir_both("masked", &context, &[]);
    assert!(
        problems.is_empty(),
        "masked files differ from BuildKit:\n{}",
        problems.join("\n")
    );
}
