//! The runner against a remote engine: a second dockerd listening on a loopback TCP port, with
//! its own data root, exec root, pid file and its own bridge, builds the same Dockerfile as the
//! local engine and gets the same files. (Not `--bridge=none`: a dockerd started that way
//! deletes the host's `docker0`, which the first engine's containers need.)
//!
//! Input: the local engine's test base image (copied over with `docker save | docker load`), a
//! two-stage Dockerfile planned with the planner library (plan form, `--engine tcp://…`).
//! Output: assertions that `--engine tcp://127.0.0.1:PORT` works and that both engines' images
//! have identical files.
//! Invariant: the second dockerd is this test's own process; it is stopped and its directories
//! and bridge removed on every path (a guard's Drop).

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use support::snapshot::filesystem_with_contents;

use support::{
    assert_built, docker_at, filesystem, forget_cache_tags, image_tag, prefix, remove_images,
    require_engine, run_runner, stage_images, write_plan, TempDir, BASE, DOCKER,
};

/// A dockerd started by this test; stopped and cleaned up when dropped.
struct SecondEngine {
    child: Child,
    root: PathBuf,
    host: String,
    bridge: String,
}

impl SecondEngine {
    fn start() -> SecondEngine {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let root = std::env::temp_dir().join(format!("{}-dockerd", prefix()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        let host = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(root.join("dockerd.log")).expect("log file");
        let pid = std::process::id();
        let bridge = format!("sprt{}", pid % 100_000);
        let _ = Command::new("ip").args(["link", "del", &bridge]).status();
        let subnet = format!("10.213.{}.1/24", pid % 250);
        for args in [
            vec!["link", "add", bridge.as_str(), "type", "bridge"],
            vec!["addr", "add", subnet.as_str(), "dev", bridge.as_str()],
            vec!["link", "set", bridge.as_str(), "up"],
        ] {
            let status = Command::new("ip")
                .args(&args)
                .status()
                .expect("run ip (iproute2)");
            assert!(status.success(), "ip {args:?} failed");
        }
        let child = Command::new("dockerd")
            .args(["-H", &host])
            .arg(format!("--data-root={}", root.join("data").display()))
            .arg(format!("--exec-root={}", root.join("exec").display()))
            .arg(format!("--pidfile={}", root.join("dockerd.pid").display()))
            .arg(format!("--bridge={bridge}"))
            .arg("--iptables=false")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a second dockerd (is docker.io installed? scripts/setup.sh)");
        let engine = SecondEngine {
            child,
            root,
            host,
            bridge,
        };
        let started = Instant::now();
        while !docker_at(Some(&engine.host), &["version"]).status.success() {
            let log = std::fs::read_to_string(engine.root.join("dockerd.log")).unwrap_or_default();
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the second dockerd did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

#[test]
fn a_second_engine_on_a_loopback_tcp_port_builds_the_same_plan() {
    require_engine();
    let engine = SecondEngine::start();
    let save = Command::new(DOCKER)
        .args(["save", BASE])
        .output()
        .expect("docker save");
    assert!(save.status.success());
    let mut load = Command::new(DOCKER)
        .args(["-H", &engine.host, "load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("docker load");
    std::io::Write::write_all(load.stdin.as_mut().expect("stdin"), &save.stdout)
        .expect("pipe image");
    drop(load.stdin.take());
    assert!(load.wait().expect("load").success());

    let dir = TempDir::new("remote");
    dir.write("in.txt", "from the context\n");
    dir.write("run.sh", "#!/bin/sh\necho from run.sh\n");
    std::fs::set_permissions(
        dir.0.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod run.sh");
    // Single-file binds (from the context and from a stage, over a file the image has, and
    // rw), which a remote engine cannot bind from the runner's host: the RUN sees each file
    // with its own mode and owner, and the image keeps neither the files nor the writes. A
    // secret in a directory the image has: the RUN still sees that directory's files, and what
    // it writes there stays.
    let secrets = TempDir::new("remote-secret");
    secrets.write("token", "s3cret\n");
    let secret_arg = format!("id=token,src={}", secrets.0.join("token").display());
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS build\n\
             COPY in.txt /src/\n\
             RUN mkdir /out && cp /src/in.txt /out/ && echo built > /out/stamp \\\n\
             \x20&& printf '#!/bin/sh\\necho tool\\n' > /out/tool && chmod 750 /out/tool && chown 7:8 /out/tool\n\
             \n\
             FROM {BASE} AS final\n\
             COPY --from=build /out/ /app/\n\
             RUN --mount=type=bind,source=run.sh,target=/usr/local/bin/run.sh \\\n\
             \x20--mount=type=bind,from=build,source=/out/tool,target=/app/stamp \\\n\
             \x20run.sh > /app/ran && /app/stamp >> /app/ran && stat -c '%a %u %g' /app/stamp >> /app/ran\n\
             RUN --mount=type=bind,source=in.txt,target=/app/in.txt,rw echo more >> /app/in.txt && cat /app/in.txt > /app/rw\n\
             RUN --mount=type=secret,id=token,target=/app/.token \\\n\
             \x20cat /app/stamp > /app/beside-secret && wc -c < /app/.token > /app/token-size\n\
             CMD [\"cat\", \"/app/stamp\"]\n"
        ),
    );
    let plan_dir = TempDir::new("remote-plan");
    let plan = write_plan(
        &dir.0.join("Dockerfile"),
        &[],
        &BTreeMap::new(),
        &plan_dir.0.join("plan.json"),
    );
    let image = image_tag("remote");
    let context = dir.path_str();
    let plan_arg = plan.to_string_lossy().into_owned();
    let remote = run_runner(&[
        &plan_arg,
        "--context",
        &context,
        "-t",
        &image,
        "--engine",
        &engine.host,
        "--secret",
        &secret_arg,
        "--progress",
        "plain",
    ]);
    assert_built(&remote, "the build on the second engine");
    let local = run_runner(&[
        &plan_arg,
        "--context",
        &context,
        "-t",
        &image,
        "--secret",
        &secret_arg,
        "--progress",
        "json",
    ]);
    assert_built(&local, "the build on the local engine");
    let mut contents = BTreeMap::new();
    let remote_files = filesystem_with_contents(Some(&engine.host), &image, Some(&mut contents));
    let local_files = filesystem(None, &image);
    forget_cache_tags(None, &stage_images(&local.stdout));
    remove_images(None, &[&image]);
    assert!(remote_files.contains_key("app/stamp"), "{remote_files:?}");
    let text = |path: &str| String::from_utf8_lossy(&contents[path]).into_owned();
    assert_eq!(text("app/ran"), "from run.sh\ntool\n750 7 8\n");
    assert_eq!(text("app/rw"), "from the context\nmore\n");
    assert_eq!(text("app/stamp"), "built\n");
    assert_eq!(text("app/in.txt"), "from the context\n");
    assert_eq!(text("app/beside-secret"), "built\n");
    assert_eq!(text("app/token-size"), "7\n");
    assert!(!remote_files.contains_key("app/.token"), "{remote_files:?}");
    assert!(
        !remote_files.contains_key("usr/local/bin/run.sh"),
        "{remote_files:?}"
    );
    assert_eq!(remote_files, local_files);
    drop(engine);
}
