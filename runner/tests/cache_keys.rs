//! The step cache is honest: a step reruns when what it executes or reads changes, and only
//! then — from Dockerfile text, on the real engine.
//!
//! Input: the local engine and `stageplan-test/busybox:1`, the runner binary, small contexts.
//! Output: pass/fail per rule, judged from the runner's plain progress (`#N CACHED ...` lines)
//! and the built images.
//! Invariant: every image is tagged `stageplan-keys-<pid>-…` and removed; cache mounts use ids
//! unique to this process.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::nonce;

const DOCKER: &str = "/usr/bin/docker";

struct Context(PathBuf);

impl Context {
    fn new(name: &str) -> Context {
        let dir =
            std::env::temp_dir().join(format!("stageplan-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("context dir");
        Context(dir)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tag(name: &str) -> String {
    format!("stageplan-keys-{}-{name}", std::process::id())
}

/// Builds the context; returns the plain progress (stderr) and panics on failure.
fn build(ctx: &Context, tag: &str, extra: &[&str]) -> String {
    let mut args = vec!["build", ctx.path(), "-t", tag, "--progress", "plain"];
    args.extend_from_slice(extra);
    let out: Output = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(&args)
        .output()
        .expect("runner");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "runner failed:\n{stderr}");
    stderr
}

/// The instructions (as printed) that ran, not from the cache (without the `  (cache miss: …)`
/// reason after them).
fn ran(progress: &str) -> Vec<String> {
    progress
        .lines()
        .filter_map(|line| line.split_once("] #").map(|(_, rest)| rest))
        .filter(|rest| !rest.contains(" CACHED ") && !rest.contains(" done in "))
        .filter_map(|rest| rest.split_once(' ').map(|(_, text)| text))
        .map(|text| match text.rsplit_once("  (cache miss: ") {
            Some((instruction, _)) => instruction.to_string(),
            None => text.to_string(),
        })
        .collect()
}

fn cat(image: &str, path: &str) -> String {
    let out = Command::new(DOCKER)
        .args(["run", "--rm", "--network", "none", image, "cat", path])
        .output()
        .expect("docker run");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn remove(image: &str) {
    let _ = Command::new(DOCKER).args(["rmi", "-f", image]).output();
}

#[test]
fn run_keys_cover_what_runs_and_nothing_else() {
    let ctx = Context::new("run");
    let image = tag("run");
    let run_id = nonce();
    let dockerfile = |shell: &str, label: &str| {
        format!("FROM stageplan-test/busybox:1\nSHELL [\"/bin/sh\", \"{shell}\"]\nLABEL note={label}\nRUN echo \"$0 $- {run_id}\" > /shell\n")
    };
    ctx.write("Dockerfile", &dockerfile("-c", "one"));
    build(&ctx, &image, &[]);
    // A label changes the image config, not what RUN executes: the RUN is a cache hit.
    ctx.write("Dockerfile", &dockerfile("-c", "two"));
    let progress = build(&ctx, &image, &[]);
    assert_eq!(ran(&progress), Vec::<String>::new(), "{progress}");
    let label = Command::new(DOCKER)
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Config.Labels.note}}",
            &image,
        ])
        .output()
        .expect("inspect");
    assert_eq!(
        String::from_utf8_lossy(&label.stdout).trim(),
        "two",
        "the config is current"
    );
    // Same instruction text, another shell: the command that runs changed, so the RUN reruns.
    ctx.write("Dockerfile", &dockerfile("-ec", "two"));
    let progress = build(&ctx, &image, &[]);
    assert_eq!(
        ran(&progress),
        vec![format!("RUN echo \"$0 $- {run_id}\" > /shell")],
        "{progress}"
    );
    assert!(cat(&image, "/shell").contains('e'), "the new shell ran");
    remove(&image);
}

#[test]
fn a_mount_from_a_stage_is_keyed_by_its_source_only() {
    let ctx = Context::new("mountsrc");
    let image = tag("mountsrc");
    ctx.write(
        "Dockerfile",
        "FROM stageplan-test/busybox:1 AS build\nCOPY out /out\nCOPY other.txt /other.txt\nFROM stageplan-test/busybox:1\nRUN --mount=from=build,src=/out,target=/m cat /m/x > /y\n",
    );
    let run_id = nonce();
    ctx.write("out/x", &format!("first {run_id}\n"));
    ctx.write("other.txt", &format!("a {run_id}\n"));
    build(&ctx, &image, &[]);
    // An unrelated file of the source stage changes: the mounting RUN stays cached.
    ctx.write("other.txt", &format!("b {run_id}\n"));
    let progress = build(&ctx, &image, &[]);
    // (The two COPY steps form one run, committed once, so both are written again.)
    assert_eq!(
        ran(&progress),
        vec!["COPY out /out", "COPY other.txt /other.txt"],
        "{progress}"
    );
    // The mounted path changes: the RUN reruns and sees it.
    ctx.write("out/x", &format!("second {run_id}\n"));
    let progress = build(&ctx, &image, &[]);
    assert!(
        ran(&progress)
            .contains(&"RUN --mount=from=build,src=/out,target=/m cat /m/x > /y".to_string()),
        "{progress}"
    );
    assert_eq!(cat(&image, "/y"), format!("second {run_id}\n"));
    remove(&image);
}

#[test]
fn an_in_place_edit_keeping_size_and_mtime_is_noticed() {
    let ctx = Context::new("inplace");
    let image = tag("inplace");
    ctx.write(
        "Dockerfile",
        "FROM stageplan-test/busybox:1\nCOPY f.txt /f.txt\n",
    );
    let run_id = nonce();
    let (before, after) = (format!("a{run_id}"), format!("b{run_id}"));
    ctx.write("f.txt", &before);
    let path = ctx.0.join("f.txt");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(old)
        .expect("mtime");
    // Long enough after the change that the digest is remembered between builds.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    build(&ctx, &image, &[]);
    let progress = build(&ctx, &image, &[]);
    assert_eq!(
        ran(&progress),
        Vec::<String>::new(),
        "unchanged: cached\n{progress}"
    );
    {
        use std::io::Write;
        let mut file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.write_all(after.as_bytes()).expect("write");
        file.set_modified(old).expect("mtime");
    }
    let progress = build(&ctx, &image, &[]);
    assert_eq!(ran(&progress), vec!["COPY f.txt /f.txt"], "{progress}");
    assert_eq!(cat(&image, "/f.txt"), after);
    remove(&image);
}

fn layer_count(image: &str) -> usize {
    let out = Command::new(DOCKER)
        .args([
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            image,
        ])
        .output()
        .expect("inspect");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn a_run_of_copy_steps_is_committed_once_and_cached_as_a_whole() {
    let ctx = Context::new("copyrun");
    let image = tag("copyrun");
    ctx.write(
        "Dockerfile",
        "FROM stageplan-test/busybox:1\nCOPY a /a\nENV X=1\nCOPY b /b\nCOPY c /c\nRUN cat /a /b /c > /all\n",
    );
    let run_id = nonce();
    for (name, text) in [("a", "1"), ("b", "2"), ("c", "3")] {
        ctx.write(name, &format!("{text} {run_id}\n"));
    }
    build(&ctx, &image, &[]);
    let base_layers = layer_count("stageplan-test/busybox:1");
    // One commit for the three COPY steps, one for the RUN.
    assert_eq!(layer_count(&image), base_layers + 2);
    assert_eq!(
        cat(&image, "/all"),
        format!("1 {run_id}\n2 {run_id}\n3 {run_id}\n")
    );
    let progress = build(&ctx, &image, &[]);
    assert_eq!(
        ran(&progress),
        Vec::<String>::new(),
        "warm: all cached\n{progress}"
    );
    // A change in the middle of the run: the run is written again (it was committed as one).
    ctx.write("b", &format!("two {run_id}\n"));
    let progress = build(&ctx, &image, &[]);
    assert_eq!(
        ran(&progress),
        vec![
            "COPY a /a",
            "COPY b /b",
            "COPY c /c",
            "RUN cat /a /b /c > /all"
        ],
        "{progress}"
    );
    assert_eq!(
        cat(&image, "/all"),
        format!("1 {run_id}\ntwo {run_id}\n3 {run_id}\n")
    );
    remove(&image);
}

#[test]
fn no_cache_starts_cache_mounts_empty() {
    let ctx = Context::new("nocache");
    let image = tag("nocache");
    let id = format!("stageplan-keys-{}", nonce());
    ctx.write(
        "Dockerfile",
        &format!("FROM stageplan-test/busybox:1\nARG ROUND\nRUN --mount=type=cache,id={id},target=/c ls /c > /seen; echo $ROUND > /c/round-$ROUND\n"),
    );
    build(&ctx, &image, &["--build-arg", "ROUND=1"]);
    build(&ctx, &image, &["--build-arg", "ROUND=2"]);
    assert_eq!(
        cat(&image, "/seen"),
        "round-1\n",
        "a cache mount keeps its content"
    );
    build(&ctx, &image, &["--build-arg", "ROUND=3", "--no-cache"]);
    assert_eq!(
        cat(&image, "/seen"),
        "",
        "--no-cache starts it empty, as BuildKit does"
    );
    build(&ctx, &image, &["--build-arg", "ROUND=4"]);
    assert_eq!(
        cat(&image, "/seen"),
        "round-3\n",
        "and the next build sees what it wrote"
    );
    remove(&image);
    // The cache volume of this id (named after a digest of the id and its options).
    let volumes = Command::new(DOCKER)
        .args(["volume", "ls", "-q", "--filter", "name=stageplan-cache-"])
        .output()
        .expect("volume ls");
    for volume in String::from_utf8_lossy(&volumes.stdout).lines() {
        let inspect = Command::new(DOCKER)
            .args([
                "run",
                "--rm",
                "-v",
                &format!("{volume}:/v"),
                "stageplan-test/busybox:1",
                "ls",
                "/v",
            ])
            .output()
            .expect("ls volume");
        if String::from_utf8_lossy(&inspect.stdout).contains("round-4") {
            let _ = Command::new(DOCKER)
                .args(["volume", "rm", "-f", volume])
                .output();
        }
    }
}
