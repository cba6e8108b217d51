//! `RUN --mount` and `ADD <url>` on a real engine, from Dockerfile text: what a mount shows is
//! visible to the RUN and absent from the image; a cache mount keeps its contents between
//! builds, and one with `from=` starts as that directory, one cache per base; secrets come from `--secret`; remote files are checked against `--checksum`.
//!
//! Input: Dockerfiles in temporary contexts (plan form and `runner build`), a one-shot HTTP
//! server on a loopback port.
//! Output: assertions on the files of the built images and on exit codes.
//! Invariant: every image and cache id carries `stageplan-rt-<pid>` and is removed at the end.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;

use sha2::Digest;
use support::{
    assert_built, docker, docker_at, forget_cache_tags, image_tag, prefix, remove_images,
    require_engine, run_runner, stage_images, write_plan, TempDir, BASE,
};

#[test]
fn mounts_are_visible_to_the_run_and_absent_from_the_image() {
    require_engine();
    let dir = TempDir::new("mounts");
    dir.write("data/x", "from the context\n");
    let secrets = TempDir::new("mounts-secret");
    secrets.write("token", "s3cret\n");
    let cache_id = format!("{}-mounts", prefix());
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS tools\n\
             RUN mkdir -p /opt/tool && echo from-a-stage > /opt/tool/msg\n\
             \n\
             FROM {BASE} AS m\n\
             RUN --mount=type=bind,from=tools,source=/opt/tool,target=/tool cat /tool/msg > /from-stage\n\
             RUN --mount=type=bind,source=data,target=/data cat /data/x > /copied\n\
             RUN --mount=type=cache,target=/cache,id={cache_id} echo run >> /cache/log && wc -l < /cache/log > /cachecount\n\
             RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && cat /scratch/t > /tmpfs-ok\n\
             RUN --mount=type=secret,id=tok,required test \"$(cat /run/secrets/tok)\" = s3cret && echo ok > /secret-ok\n"
        ),
    );
    let plan = write_plan(
        &dir.0.join("Dockerfile"),
        &[],
        &BTreeMap::new(),
        &secrets.0.join("plan.json"),
    );
    let image = image_tag("mounts");
    let secret = format!("id=tok,src={}", secrets.0.join("token").display());
    let plan_arg = plan.to_string_lossy().into_owned();
    let context = dir.path_str();
    let args = [
        plan_arg.as_str(),
        "--context",
        &context,
        "--dockerfile",
        &format!("{context}/Dockerfile"),
        "-t",
        &image,
        "--secret",
        &secret,
        "--progress",
        "json",
    ];
    let mut built = Vec::new();
    // Round 2 changes the bound context file, so the bind RUN and every step after it run
    // again; the cache RUN then finds the line round 1 left in the cache mount.
    for round in 1..=2 {
        dir.write("data/x", &format!("from the context {round}\n"));
        let out = run_runner(&args);
        assert_built(&out, &format!("round {round}"));
        built.extend(stage_images(&out.stdout));
    }
    let shown = docker(&[
        "run", "--rm", &image, "sh", "-c",
        "cat /copied /cachecount /tmpfs-ok /secret-ok /from-stage; ls -A /data /cache /scratch /run/secrets /tool 2>/dev/null | grep -v ':$' | grep . || echo no-mount-content",
    ]);
    // A required secret that is not given is an error naming it.
    let missing = run_runner(&[
        &plan_arg,
        "--context",
        &context,
        "--no-cache",
        "--progress",
        "plain",
    ]);
    forget_cache_tags(None, &built);
    remove_images(None, &[&image]);
    let made = cache_volumes(&cache_id);
    remove_cache_volumes(&cache_id);
    assert_eq!(made.len(), 1, "one labelled volume for the cache: {made:?}");
    assert_eq!(
        shown,
        "from the context 2\n2\nt\nok\nfrom-a-stage\nno-mount-content\n"
    );
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    // BuildKit's words first (testSecretRequiredWithoutValue), then the fix.
    let missing = String::from_utf8_lossy(&missing.stderr);
    assert!(
        missing.contains("secret tok: not found") && missing.contains("--secret id=tok"),
        "{missing}"
    );
}

/// The runner's cache-mount volumes of cache `id` on the engine (found by the label the runner
/// puts on them).
fn cache_volumes(id: &str) -> Vec<String> {
    docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=stageplan.cache.id={id}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

/// Removes the cache volumes of cache `id`.
fn remove_cache_volumes(id: &str) {
    for volume in cache_volumes(id) {
        let _ = docker_at(None, &["volume", "rm", &volume]);
    }
}

#[test]
fn a_cache_mount_with_from_starts_as_that_directory_and_is_kept_per_base() {
    require_engine();
    let dir = TempDir::new("cache-from");
    let cache_id = format!("{}-cache-from", prefix());
    let image = image_tag("cache-from");
    let context = dir.path_str();
    let mut built = Vec::new();
    let mut seen = Vec::new();
    // (seed content, step marker): the step's text changes every round so it always runs.
    for (seed, step) in [("one", "a"), ("one", "b"), ("two", "c"), ("one", "d")] {
        dir.write(
            "Dockerfile",
            &format!(
                "FROM {BASE} AS seed\n\
                 RUN mkdir -p /data && echo {seed} > /data/seed && chmod 0711 /data\n\
                 FROM {BASE}\n\
                 RUN --mount=type=cache,from=seed,source=/data,target=/c,id={cache_id} \
                 sh -c 'stat -c %a /c; cat /c/seed /c/log 2>/dev/null; echo {step} >> /c/log' > /seen\n"
            ),
        );
        let out = run_runner(&["build", &context, "-t", &image, "--progress", "json"]);
        assert_built(&out, &format!("seed {seed}, step {step}"));
        built.extend(stage_images(&out.stdout));
        seen.push(docker(&[
            "run",
            "--rm",
            &image,
            "sh",
            "-c",
            "cat /seen; ls -A /c",
        ]));
    }
    forget_cache_tags(None, &built);
    remove_images(None, &[&image]);
    let made = cache_volumes(&cache_id);
    remove_cache_volumes(&cache_id);
    assert_eq!(
        seen,
        [
            // A new cache is the seed's directory, its own mode included.
            "711\none\n",
            // The same base: what the last RUN wrote is still there.
            "711\none\na\n",
            // A new base starts a new cache, as BuildKit keeps one per id and base.
            "711\ntwo\n",
            // The first base's cache is kept beside it.
            "711\none\na\nb\n",
        ]
    );
    assert_eq!(made.len(), 2, "one cache volume per base: {made:?}");
}

/// Serves `body` to `n` requests on a loopback port, whatever the path; returns the URL base.
fn serve(body: &'static [u8], n: usize) -> String {
    serve_routes(vec![("*", "", body.to_vec())], n)
}

#[test]
fn add_url_checks_the_checksum() {
    require_engine();
    let dir = TempDir::new("add-url");
    let base = serve(b"remote content\n", 2);
    let url = format!("{base}/files/remote.txt");
    let actual = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(b"remote content\n"))
    );
    let wrong = "sha256:1b2e1f6e0f1e8d1d2b7e0b0c3f1b59ee0c6b7de6a6c95a1f2cfd1d6d9e1c0f2a";
    assert_ne!(wrong, actual, "the wrong checksum must really be wrong");
    let image = image_tag("add-url");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE} AS u\nADD --checksum={actual} {url} /srv/\n"),
    );
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "-t",
        &image,
        "--no-cache",
        "--progress",
        "json",
    ]);
    assert_built(&out, "ADD with the right checksum");
    let shown = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "cat /srv/remote.txt; stat -c %a /srv/remote.txt",
    ]);
    forget_cache_tags(None, &stage_images(&out.stdout));
    remove_images(None, &[&image]);
    assert_eq!(shown, "remote content\n600\n");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE} AS u\nADD --checksum={wrong} {url} /srv/\n"),
    );
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "--no-cache",
        "--progress",
        "plain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("checksum mismatch") && stderr.contains(&actual),
        "{stderr}"
    );
}

/// Serves each path of `routes` (path or `*` for any, extra header lines, body) to `n` requests
/// in all.
fn serve_routes(routes: Vec<(&'static str, &'static str, Vec<u8>)>, n: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]);
            let path = line.split(' ').nth(1).unwrap_or("");
            let Some((_, headers, body)) = routes.iter().find(|(p, _, _)| *p == path || *p == "*")
            else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                continue;
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// BuildKit's testDockerfileADDFromURL, testDockerfileAddArchive (`--unpack=true` of a URL) and
/// testAddChecksum (DigestFromEnv): a download is named after the URL path (`__unnamed__` for
/// none), dated by `Last-Modified` (the epoch without it), unpacked when asked, and
/// `--checksum` is expanded.
#[test]
fn add_url_names_dates_and_unpacks_downloads_as_buildkit_does() {
    require_engine();
    let dir = TempDir::new("add-url-names");
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(9);
    header.set_mode(0o644);
    archive
        .append_data(&mut header, "foo", &b"content0\n"[..])
        .expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive.into_inner().expect("tar"))
        .expect("gzip");
    let base = serve_routes(
        vec![
            ("/files/remote.txt", "", b"remote content\n".to_vec()),
            // Go's RFC 850 form, as BuildKit's test server sends it.
            (
                "/",
                "Last-Modified: Monday, 30-Nov-26 03:10:46 GMT\r\n",
                b"root\n".to_vec(),
            ),
            ("/t.tar.gz", "", gz.finish().expect("gzip")),
        ],
        4,
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(b"remote content\n"))
    );
    let image = image_tag("add-url-names");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS u\n\
             ARG DIGEST\n\
             ENV LINK={base}/files/remote.txt\n\
             ADD --checksum=${{DIGEST}} ${{LINK}} /srv/\n\
             ADD {base}/ /srv/\n\
             ADD --unpack=true {base}/t.tar.gz /unpacked/\n"
        ),
    );
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "-t",
        &image,
        "--no-cache",
        "--build-arg",
        &format!("DIGEST={digest}"),
        "--progress",
        "plain",
    ]);
    assert_built(&out, "ADD of URLs");
    let shown = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "cd /srv && stat -c '%n %Y' remote.txt __unnamed__ && cat __unnamed__ && ls /unpacked && cat /unpacked/foo",
    ]);
    forget_cache_tags(None, &stage_images(&out.stdout));
    remove_images(None, &[&image]);
    assert_eq!(
        shown,
        "remote.txt 0\n__unnamed__ 1796008246\nroot\nfoo\ncontent0\n"
    );
}

#[test]
fn a_secret_can_come_from_an_environment_variable_with_both_backends() {
    require_engine();
    let dir = TempDir::new("secret-env");
    let value = format!("from-the-environment-{}", support::nonce());
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN --mount=type=secret,id=tok,required test \"$(cat /run/secrets/tok)\" = \"{value}\" && echo ok > /ok\n"
        ),
    );
    let context = dir.path_str();
    for backend in ["engine", "buildkit"] {
        let image = image_tag(&format!("secret-env-{backend}"));
        let out = std::process::Command::new(support::runner_bin())
            .args([
                "build",
                &context,
                "--backend",
                backend,
                "--no-cache",
                "--secret",
                "id=tok,env=STAGEPLAN_TEST_SECRET",
                "-t",
                &image,
            ])
            .env("STAGEPLAN_TEST_SECRET", &value)
            .output()
            .expect("run the runner");
        assert_built(
            &out,
            &format!("--secret id=tok,env=VAR with --backend {backend}"),
        );
        assert_eq!(
            docker(&["run", "--rm", &image, "cat", "/ok"]),
            "ok\n",
            "{backend}"
        );
        remove_images(None, &[&image]);
    }
    // A variable that is not set is refused before anything is built.
    let out = run_runner(&[
        "build",
        &context,
        "--secret",
        "id=tok,env=STAGEPLAN_NOBODY_SETS_THIS",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the environment variable STAGEPLAN_NOBODY_SETS_THIS is not set"),
        "{stderr}"
    );
}

#[test]
fn no_cache_keeps_a_cache_mount_another_container_uses() {
    require_engine();
    let dir = TempDir::new("no-cache-busy");
    let cache_id = format!("{}-busy", prefix());
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\nRUN --mount=type=cache,target=/c,id={cache_id} echo {} >> /c/log && cat /c/log > /seen\n",
            support::nonce()
        ),
    );
    let context = dir.path_str();
    let image = image_tag("no-cache-busy");
    let mut built = Vec::new();
    let first = run_runner(&["build", &context, "-t", &image, "--progress", "json"]);
    assert_built(&first, "the first build");
    built.extend(stage_images(&first.stdout));
    let volume = cache_volumes(&cache_id).pop().expect("the cache volume");
    // Another container holds the cache, as a build running beside this one would.
    let holder = docker(&[
        "run",
        "-d",
        "--rm",
        "-v",
        &format!("{volume}:/held"),
        BASE,
        "sleep",
        "60",
    ]);
    let second = run_runner(&[
        "build",
        &context,
        "-t",
        &image,
        "--no-cache",
        "--progress",
        "json",
    ]);
    let _ = docker_at(None, &["rm", "-f", holder.trim()]);
    built.extend(stage_images(&second.stdout));
    let seen = docker(&["run", "--rm", &image, "cat", "/seen"]);
    forget_cache_tags(None, &built);
    remove_images(None, &[&image]);
    remove_cache_volumes(&cache_id);
    assert_built(
        &second,
        "a --no-cache build while another container uses the cache",
    );
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains("is in use by another container, so it keeps its content"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        seen.lines().count(),
        2,
        "the cache kept the first build's line: {seen:?}"
    );
}
