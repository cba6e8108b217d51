//! RUN, its mounts, heredocs, network and security, and the stage set-up RUN depends on.

use bollard_buildkit_proto::pb;

use super::{build, try_build, Setup, CAPS_NEW, CAPS_V08, IMAGE_DIGEST};

#[test]
fn run_gets_the_stage_environment_directory_and_user() {
    let built = build(
        "FROM busybox\nARG VERSION=1\nENV APP=demo\nWORKDIR app\nUSER 1000\nRUN echo $APP\n",
        &Setup {
            build_args: &[("VERSION", "2")],
            ..Setup::default()
        },
    );
    let execs = built.execs();
    assert_eq!(execs.len(), 1);
    let (op, exec) = &execs[0];
    let meta = exec.meta.as_ref().unwrap();
    assert_eq!(meta.args, vec!["/bin/sh", "-c", "echo $APP"]);
    assert_eq!(
        meta.env,
        vec![
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "BASE=1",
            "VERSION=2",
            "APP=demo"
        ]
    );
    assert_eq!(meta.cwd, "/home/app", "relative WORKDIR joins the image's");
    assert_eq!(meta.user, "1000");
    assert_eq!(
        op.name, "[3/3] RUN echo demo",
        "variables are filled in the name"
    );
    // The root mount reads the WORKDIR's file op, which reads the pinned base image.
    assert_eq!(exec.mounts[0].dest, "/");
    assert_eq!(exec.mounts[0].output, 0);
    let workdir = built.input(op, exec.mounts[0].input);
    let base = built.input(&workdir, 0);
    match base.op.op {
        Some(pb::op::Op::Source(source)) => assert_eq!(
            source.identifier,
            format!("docker-image://docker.io/library/busybox:latest@{IMAGE_DIGEST}")
        ),
        other => panic!("expected the image source, got {other:?}"),
    }
    let history = built.config()["history"].clone();
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        last["created_by"],
        "RUN |1 VERSION=2 /bin/sh -c echo $APP # buildkit"
    );
}

#[test]
fn no_cache_marks_steps_and_proxy_args_reach_only_the_process() {
    let built = build(
        "FROM busybox\nRUN true\n",
        &Setup {
            build_args: &[("HTTP_PROXY", "http://proxy:3128")],
            no_cache: true,
            ..Setup::default()
        },
    );
    let (op, exec) = &built.execs()[0];
    let proxy = exec.meta.as_ref().unwrap().proxy_env.clone().unwrap();
    assert_eq!(proxy.http_proxy, "http://proxy:3128");
    assert!(!exec
        .meta
        .as_ref()
        .unwrap()
        .env
        .iter()
        .any(|e| e.contains("proxy")));
    let definition = &built.translation.targets[0].definition;
    assert!(definition.metadata[&op.digest].ignore_cache);
    assert!(!built.config()["config"]["Env"]
        .to_string()
        .contains("proxy"));
}

#[test]
fn mounts_follow_buildkit_defaults() {
    let built = build(
        "FROM busybox AS tools\nRUN mkdir /bin2\nFROM busybox\n\
         RUN --mount=type=cache,target=/root/.cache \
             --mount=type=bind,from=tools,source=/bin2,target=/opt/tools \
             --mount=type=secret,id=token \
             --mount=type=tmpfs,target=/tmp/scratch \
             --mount=type=bind,source=src,target=src,rw \
             make\n",
        &Setup::default(),
    );
    let (op, exec) = built.execs().into_iter().last().unwrap();
    let summary: Vec<(String, i32, bool, i64)> = exec
        .mounts
        .iter()
        .map(|m| (m.dest.clone(), m.mount_type, m.readonly, m.output))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("/".to_string(), 0, false, 0),
            ("/home/src".to_string(), 0, false, -1),
            ("/opt/tools".to_string(), 0, true, -1),
            (
                "/root/.cache".to_string(),
                pb::MountType::Cache as i32,
                false,
                -1
            ),
            (
                "/tmp/scratch".to_string(),
                pb::MountType::Tmpfs as i32,
                false,
                -1
            ),
            (
                "/run/secrets/token".to_string(),
                pb::MountType::Secret as i32,
                false,
                0
            ),
        ]
    );
    assert_eq!(exec.mounts[1].selector, "/src");
    assert_eq!(exec.mounts[2].selector, "/bin2");
    let cache = exec.mounts[3].cache_opt.clone().unwrap();
    assert_eq!(cache.id, "//root/.cache", "the frontend's namespace prefix");
    assert_eq!(cache.sharing, pb::CacheSharingOpt::Shared as i32);
    let secret = exec.mounts[5].secret_opt.clone().unwrap();
    assert_eq!(
        (secret.id.as_str(), secret.mode, secret.optional),
        ("token", 0o400, true)
    );
    // The context bind mount makes `src` one of the context's follow paths.
    let context = built.input(&op, exec.mounts[1].input);
    match context.op.op {
        Some(pb::op::Op::Source(source)) => {
            assert_eq!(source.identifier, "local://context");
            assert_eq!(source.attrs["local.followpaths"], "[\"src\"]");
            assert_eq!(source.attrs["local.session"], "session-1");
        }
        other => panic!("expected the context, got {other:?}"),
    }
}

#[test]
fn cache_mount_owner_and_mode_prepare_a_directory() {
    let built = build(
        "FROM busybox\nRUN --mount=type=cache,target=/c,uid=1000,gid=1000,mode=0700,sharing=locked true\n",
        &Setup::default(),
    );
    let (op, exec) = built.execs().into_iter().last().unwrap();
    let cache = &exec.mounts[1];
    assert_eq!(cache.selector, "/cache");
    assert_eq!(
        cache.cache_opt.as_ref().unwrap().sharing,
        pb::CacheSharingOpt::Locked as i32
    );
    let prepared = built.input(&op, cache.input);
    let Some(pb::op::Op::File(file)) = prepared.op.op else {
        panic!("expected a file op")
    };
    let Some(pb::file_action::Action::Mkdir(mkdir)) = &file.actions[0].action else {
        panic!("expected mkdir")
    };
    assert_eq!((mkdir.path.as_str(), mkdir.mode), ("/cache", 0o700));
    assert_eq!(
        mkdir.owner.as_ref().unwrap().user.as_ref().unwrap().user,
        Some(pb::user_opt::User::ById(1000))
    );
}

#[test]
fn heredocs_run_as_buildkit_runs_them() {
    let built = build(
        "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho script\nEOF\nRUN <<EOF\necho plain\nEOF\nRUN cat <<A > /a\nbody\nA\n",
        &Setup::default(),
    );
    let execs = built.execs();
    let (op, script) = &execs[0];
    let meta = script.meta.as_ref().unwrap();
    assert_eq!(meta.args, vec!["/bin/sh", "-c", "/dev/pipes/EOF"]);
    let pipes = script
        .mounts
        .iter()
        .find(|m| m.dest == "/dev/pipes/")
        .unwrap();
    assert!(pipes.readonly);
    let file = built.input(op, pipes.input);
    let Some(pb::op::Op::File(file)) = file.op.op else {
        panic!("expected the script file")
    };
    let Some(pb::file_action::Action::Mkfile(mkfile)) = &file.actions[0].action else {
        panic!("expected mkfile")
    };
    assert_eq!((mkfile.path.as_str(), mkfile.mode), ("/EOF", 0o755));
    assert_eq!(mkfile.data, b"#!/bin/sh\necho script\n");
    assert_eq!(execs[1].1.meta.as_ref().unwrap().args[2], "echo plain\n");
    assert_eq!(
        execs[2].1.meta.as_ref().unwrap().args[2],
        "cat <<A > /a\nbody\nA"
    );
}

#[test]
fn network_and_security_need_entitlements() {
    let built = build(
        "FROM busybox\nRUN --network=none true\nRUN --network=host --security=insecure true\n",
        &Setup::default(),
    );
    let execs = built.execs();
    assert_eq!(execs[0].1.network, pb::NetMode::None as i32);
    assert_eq!(execs[1].1.network, pb::NetMode::Host as i32);
    assert_eq!(execs[1].1.security, pb::SecurityMode::Insecure as i32);
    let entitlements: Vec<&str> = built
        .translation
        .entitlements
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(entitlements, vec!["network.host", "security.insecure"]);
}

#[test]
fn features_the_daemon_lacks_are_refused_with_the_line() {
    let err = try_build(
        "FROM busybox\nRUN --mount=type=tmpfs,target=/t,size=64m true\n",
        &Setup::default(),
    )
    .err()
    .expect("tmpfs size needs a newer daemon");
    assert_eq!(err.line, 2);
    assert!(err.message.contains("exec.mount.tmpfs.size"), "{err}");
    let built = build(
        "FROM busybox\nRUN --mount=type=tmpfs,target=/t,size=64m true\n",
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let mount = &built.execs()[0].1.mounts[1];
    assert_eq!(mount.tmpfs_opt.unwrap().size, 64 << 20);
}

#[test]
fn ssh_mounts_as_the_frontend_makes_them() {
    let built = build(
        "FROM busybox\nWORKDIR /w\nRUN --mount=type=ssh --mount=type=ssh,id=git,target=/w/agent,uid=7,required ssh-add -l\n",
        &Setup::default(),
    );
    let (_, exec) = built.execs().pop().unwrap();
    let ssh: Vec<_> = exec
        .mounts
        .iter()
        .filter(|m| m.mount_type == pb::MountType::Ssh as i32)
        .map(|m| (m.dest.as_str(), m.ssh_opt.clone().unwrap()))
        .collect();
    let opt = |id: &str, uid, optional| pb::SshOpt {
        id: id.to_string(),
        uid,
        gid: 0,
        mode: 0o600,
        optional,
    };
    assert_eq!(
        ssh,
        vec![
            ("/run/buildkit/ssh_agent.0", opt("", 0, true)),
            ("/w/agent", opt("git", 7, false)),
        ]
    );
    let env = &exec.meta.as_ref().unwrap().env;
    assert!(
        env.contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()),
        "{env:?}"
    );
    // An ENV of the stage wins over the mount's socket.
    let built = build(
        "FROM busybox\nENV SSH_AUTH_SOCK=/mine\nRUN --mount=type=ssh true\n",
        &Setup::default(),
    );
    let env = built.execs().pop().unwrap().1.meta.unwrap().env;
    assert_eq!(
        env.iter()
            .filter(|kv| kv.starts_with("SSH_AUTH_SOCK="))
            .collect::<Vec<_>>(),
        ["SSH_AUTH_SOCK=/mine"]
    );
    let err = try_build(
        "FROM busybox\nRUN --mount=type=ssh,source=/x true\n",
        &Setup::default(),
    )
    .err()
    .expect("source is refused");
    assert!(
        err.to_string().starts_with("stage stage-0, line 2: "),
        "{err}"
    );
    assert!(err.message.contains("ssh does not support source"), "{err}");
}

#[test]
fn scratch_and_stage_bases() {
    let built = build(
        "FROM scratch AS empty\nENV A=1\nFROM empty\nRUN true\n",
        &Setup::default(),
    );
    let (_, exec) = &built.execs()[0];
    assert_eq!(exec.mounts[0].input, -1, "an empty root");
    assert_eq!(
        exec.meta.as_ref().unwrap().env,
        vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "A=1"
        ]
    );
    let config = built.config();
    assert_eq!(config["config"]["WorkingDir"], "/");
    assert_eq!(config["config"]["Env"][1], "A=1");
}

#[test]
fn onbuild_triggers_of_an_image_base_run_first() {
    let parent = r#"{"architecture":"amd64","os":"linux",
        "config":{"Env":["PATH=/bin"],"OnBuild":["RUN echo triggered"]},
        "rootfs":{"type":"layers","diff_ids":["sha256:1"]}}"#;
    let built = build(
        "FROM parent\nRUN echo own\n",
        &Setup {
            images: &[("parent", parent)],
            ..Setup::default()
        },
    );
    let args: Vec<String> = built
        .execs()
        .iter()
        .map(|(_, exec)| exec.meta.as_ref().unwrap().args[2].clone())
        .collect();
    assert_eq!(args, vec!["echo triggered", "echo own"]);
    assert_eq!(built.config()["config"]["OnBuild"], serde_json::Value::Null);
}

#[test]
fn secret_environment_variables_on_old_and_new_daemons() {
    let dockerfile = "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOKEN echo \"$TOKEN\"\nRUN --mount=type=secret,id=tok,env=TOKEN,required [\"printenv\", \"TOKEN\"]\n";
    let new = build(
        dockerfile,
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let (_, exec) = &new.execs()[0];
    assert_eq!(exec.secretenv.len(), 1);
    assert_eq!(exec.secretenv[0].name, "TOKEN");
    assert_eq!(exec.mounts.len(), 1, "no file mount without a target");

    let old = build(dockerfile, &Setup::default());
    let execs = old.execs();
    let (_, shell_form) = &execs[0];
    assert!(shell_form.secretenv.is_empty());
    let meta = shell_form.meta.as_ref().unwrap();
    assert_eq!(meta.args[..2], ["/bin/sh", "-c"]);
    assert!(
        meta.args[2].starts_with("if [ -f /dev/.stageplan-secret-env/0 ]; then TOKEN=")
            && meta.args[2].ends_with("; echo \"$TOKEN\""),
        "{}",
        meta.args[2]
    );
    let mount = shell_form.mounts.last().unwrap();
    assert_eq!(mount.dest, "/dev/.stageplan-secret-env/0");
    let secret = mount.secret_opt.clone().unwrap();
    assert_eq!(
        (secret.id.as_str(), secret.mode, secret.optional),
        ("tok", 0o444, true)
    );
    let (_, exec_form) = &execs[1];
    let args = &exec_form.meta.as_ref().unwrap().args;
    assert_eq!(args[3..], ["sh", "printenv", "TOKEN"]);
    assert!(args[2].ends_with("exec \"$@\""), "{}", args[2]);
    assert!(
        !exec_form
            .mounts
            .last()
            .unwrap()
            .secret_opt
            .clone()
            .unwrap()
            .optional
    );
    let history = old.config()["history"].clone();
    let entries = history.as_array().unwrap();
    assert_eq!(
        entries[entries.len() - 2]["created_by"],
        "RUN /bin/sh -c echo \"$TOKEN\" # buildkit",
        "the history shows the instruction's command"
    );
}

#[test]
fn the_sandbox_hostname_build_argument_names_every_run() {
    let built = build(
        "FROM busybox\nRUN hostname\n",
        &Setup {
            build_args: &[("BUILDKIT_SANDBOX_HOSTNAME", "box")],
            ..Setup::default()
        },
    );
    assert_eq!(built.execs()[0].1.meta.as_ref().unwrap().hostname, "box");
    let default = build("FROM busybox\nRUN hostname\n", &Setup::default());
    assert_eq!(default.execs()[0].1.meta.as_ref().unwrap().hostname, "");
}
