//! `RUN --mount` and `ADD <url>` on a real engine: what a mount shows is visible to the RUN and
//! absent from the image; cache mounts persist between builds; secrets come from `--secret`;
//! remote files are checked against `--checksum`.
//!
//! Input: small plans written with [`Df`], a one-shot HTTP server on a loopback port.
//! Output: assertions on the files of the built images and on exit codes.
//! Invariant: every test removes the images it tags.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;

use planner::plan::{Command as PlanCommand, CopySpec, Mount, Op};

use crate::runner_support::{
    copy_spec, docker, remove_images, require_engine, run_runner, write_plan, Df, TempDir, BASE,
};

fn mount(kind: &str, target: &str, options: &[(&str, &str)]) -> Mount {
    Mount {
        mount_type: kind.to_string(),
        from: None,
        source: None,
        target: Some(target.to_string()),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn run_with(df: &mut Df, flags: &str, script: &str, mounts: Vec<Mount>) {
    let op = Op::Run {
        command: PlanCommand::Shell {
            script: script.to_string(),
        },
        mounts,
        network: None,
        security: None,
        heredocs: Vec::new(),
    };
    df.ins(&format!("RUN {flags} {script}"), op);
}

#[test]
fn mounts_are_visible_to_the_run_and_absent_from_the_image() {
    require_engine();
    let dir = TempDir::new("mounts");
    dir.write("data/x", "from the context\n");
    dir.write("token", "s3cret\n");
    let mut bind = mount("bind", "/data", &[]);
    bind.source = Some("data".into());
    let mut df = Df::new();
    df.from(BASE, "tools")
        .run("mkdir -p /opt/tool && echo from-a-stage > /opt/tool/msg");
    df.from(BASE, "m");
    let mut from_stage = mount("bind", "/tool", &[]);
    from_stage.from = Some(planner::plan::Source::Stage { stage: 0 });
    from_stage.source = Some("/opt/tool".into());
    run_with(
        &mut df,
        "--mount=type=bind,from=tools,source=/opt/tool,target=/tool",
        "cat /tool/msg > /from-stage",
        vec![from_stage],
    );
    run_with(
        &mut df,
        "--mount=type=bind,source=data,target=/data",
        "cat /data/x > /copied",
        vec![bind],
    );
    run_with(
        &mut df,
        "--mount=type=cache,target=/cache,id=stageplan-it-mounts",
        "echo run >> /cache/log && wc -l < /cache/log > /cachecount",
        vec![mount(
            "cache",
            "/cache",
            &[("id", &format!("stageplan-it-mounts-{}", std::process::id()))],
        )],
    );
    run_with(
        &mut df,
        "--mount=type=tmpfs,target=/scratch",
        "echo t > /scratch/t && cat /scratch/t > /tmpfs-ok",
        vec![mount("tmpfs", "/scratch", &[])],
    );
    run_with(
        &mut df,
        "--mount=type=secret,id=tok",
        "test \"$(cat /run/secrets/tok)\" = s3cret && echo ok > /secret-ok",
        vec![Mount {
            target: None,
            ..mount("secret", "", &[("id", "tok"), ("required", "true")])
        }],
    );
    let plan = write_plan(&dir.0, &df.plan("m"));
    let image = format!("stageplan-it/mounts:{}", std::process::id());
    let secret = format!("id=tok,src={}", dir.0.join("token").display());
    let args = [
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "-t",
        &image,
        "--secret",
        &secret,
        "--no-cache",
        "--progress",
        "plain",
    ];
    for round in 1..=2 {
        let out = run_runner(&args);
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let shown = docker(&[
        "run", "--rm", &image, "sh", "-c",
        "cat /copied /cachecount /tmpfs-ok /secret-ok /from-stage; ls -A /data /cache /scratch /run/secrets /tool 2>/dev/null | grep -v ':$' | grep . || echo no-mount-content",
    ]);
    remove_images(None, &[&image]);
    assert_eq!(
        shown,
        "from the context\n2\nt\nok\nfrom-a-stage\nno-mount-content\n"
    );
    // A required secret that is not given is an error naming it.
    let missing = run_runner(&[
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "--no-cache",
        "--progress",
        "plain",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--secret id=tok"));
}

/// Serves `body` to `n` requests on a loopback port; returns the URL base.
fn serve(body: &'static [u8], n: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn add_url_checks_the_checksum() {
    require_engine();
    let dir = TempDir::new("add-url");
    let base = serve(b"remote content\n", 2);
    let url = format!("{base}/files/remote.txt");
    // sha256 of "remote content\n".
    let wrong = "sha256:1b2e1f6e0f1e8d1d2b7e0b0c3f1b59ee0c6b7de6a6c95a1f2cfd1d6d9e1c0f2a";
    let actual = {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(b"remote content\n"))
        )
    };
    assert_ne!(wrong, actual, "the wrong checksum must really be wrong");
    let plan_for = |checksum: &str| {
        let mut df = Df::new();
        df.from(BASE, "u").ins(
            &format!("ADD --checksum={checksum} {url} /srv/"),
            Op::Add(CopySpec {
                sources: vec![url.clone()],
                dest: "/srv/".into(),
                checksum: Some(checksum.into()),
                ..copy_spec()
            }),
        );
        df.plan("u")
    };
    let image = format!("stageplan-it/add-url:{}", std::process::id());
    let plan = write_plan(&dir.0, &plan_for(&actual));
    let out = run_runner(&[
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "-t",
        &image,
        "--no-cache",
        "--progress",
        "plain",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "cat /srv/remote.txt; stat -c %a /srv/remote.txt",
    ]);
    remove_images(None, &[&image]);
    assert_eq!(shown, "remote content\n600\n");
    let plan = write_plan(&dir.0, &plan_for(wrong));
    let out = run_runner(&[
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
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
