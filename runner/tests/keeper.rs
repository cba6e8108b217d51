//! The keeper (one long-lived container for a stage's RUN steps) against a process its RUN's
//! user cannot kill: a root process put into the keeper from outside while a RUN as `nobody`
//! runs there, which writes the moment the RUN's process is gone.
//!
//! Input: a Dockerfile written into a temporary context, built with `runner build DIR`; the
//! root process is started with `docker exec` in the runner's running container.
//! Output: assertions on the build's exit code and notes and on the files of the built image.
//! Invariant: every image carries `stageplan-rt-<pid>` and is removed on the way out.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    assert_built, docker, docker_at, forget_cache_tags, image_tag, nonce, remove_images,
    require_engine, runner_bin, stage_images, TempDir, BASE,
};

#[test]
fn a_process_that_outlives_a_run_in_the_keeper_never_reaches_its_image() {
    require_engine();
    let dir = TempDir::new("keeper-survivor");
    let nonce = nonce();
    // The second RUN (an exec in the keeper, as nobody) waits for /tmp/go at most 5 s: in a
    // fresh container nothing creates it.
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN echo {nonce} > /first\n\
             USER nobody\n\
             RUN echo $$ > /tmp/top && i=0 && while [ ! -e /tmp/go ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo done > /tmp/main\n"
        ),
    );
    let image = image_tag("keeper-survivor");
    let child = Command::new(runner_bin())
        .arg("build")
        .arg(&dir.0)
        .args(["--progress", "json", "-t", &image])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner");
    let pid = child.id();
    // The keeper, once the RUN as nobody has written its pid.
    let started = Instant::now();
    let keeper = loop {
        let found = support::containers_of_runner(pid, false)
            .into_iter()
            .find(|name| {
                docker_at(None, &["exec", name, "test", "-s", "/tmp/top"])
                    .status
                    .success()
            });
        if let Some(name) = found {
            break name;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the RUN as nobody never started in a keeper"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // A root process the RUN's user cannot kill writes /late the moment the RUN's process is
    // gone, and stays.
    docker(&[
        "exec",
        "-d",
        "-u",
        "0",
        &keeper,
        "sh",
        "-c",
        "top=$(cat /tmp/top); while [ -e /proc/$top ]; do :; done; echo late > /late; sleep 60",
    ]);
    docker(&["exec", "-u", "0", &keeper, "touch", "/tmp/go"]);
    let out = child.wait_with_output().expect("wait for the runner");
    assert_built(&out, "the build with a surviving process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let check =
        "for f in /late /tmp/go /tmp/main; do [ -e $f ] && echo \"$f yes\" || echo \"$f no\"; done";
    let seen = docker(&["run", "--rm", &image, "sh", "-c", check]);
    forget_cache_tags(None, &stage_images(&out.stdout));
    remove_images(None, &[&image]);
    // The RUN ran again in a fresh container: no /tmp/go there, and no /late.
    assert_eq!(seen, "/late no\n/tmp/go no\n/tmp/main yes\n", "{stdout}");
    assert!(
        stdout.contains("outlived it in the keeper"),
        "the fresh run is noted: {stdout}"
    );
}
