//! The BuildKit backend on the real engine, from Dockerfile text: the planner plans, the backend
//! builds on the engine's BuildKit, and the result is held against `docker build` of the same
//! files on the same engine (its BuildKit and Dockerfile frontend).
//!
//! Input: small build contexts written per test (symlinks, hard links, modes, a FIFO, ignore
//! rules, a large file), Dockerfiles, build arguments and secrets.
//! Output: failures naming the image fields or files that differ.
//! Invariant: the strict check is the image id — `docker build` runs after the backend's build
//! and reuses the backend's cached steps only when every step has the same cache key, so equal
//! ids mean the same ops, the same inputs and a byte-identical config. Everything created is
//! named `stageplan-llb-test/...` and removed; nothing is pulled.

#![cfg(feature = "buildkit")]

mod buildkit_support;

use buildkit_support::{build_ours, compare_with_docker, images_of, Case};

#[test]
fn a_multi_stage_build_equals_docker_build() {
    let case = Case::new("multi-stage")
        .file("src/a.txt", "a\n")
        .file("src/sub/b.txt", "b\n")
        .dockerfile(
            r#"ARG BASE=stageplan-test/busybox:1
FROM ${BASE} AS builder
ARG VERSION=1.0
ENV APP=demo
RUN mkdir -p /out && echo "$APP $VERSION" > /out/version.txt
RUN --mount=type=cache,target=/root/.cache echo cached > /root/.cache/x && cp /root/.cache/x /out/
COPY --chown=1000:1000 src/ /src/
RUN echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1000:" >> /etc/group
WORKDIR /home/app/work
USER app
RUN touch /tmp/mine

FROM stageplan-test/busybox:1 AS final
LABEL org.example.name="demo app" version=$VERSION
EXPOSE 80 81/udp
COPY --from=builder /out/ /app/
COPY --from=builder /etc/passwd /etc/group /etc/
COPY --from=builder --chown=app /home/app /home/app
RUN --mount=type=bind,from=builder,source=/out,target=/mnt cat /mnt/version.txt > /copied.txt
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch
HEALTHCHECK --interval=30s --retries=3 CMD ["true"]
STOPSIGNAL SIGTERM
VOLUME /data
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hello
"#,
        )
        .build_arg("VERSION", "2.0");
    compare_with_docker(&case);
}

#[test]
fn the_context_transfer_equals_the_docker_clis() {
    let case = Case::new("context")
        .file("keep/x", "1\n")
        .file("keep/skip/inner", "excluded by a pattern below\n")
        .file("keep/skip/wanted", "re-included by an exception\n")
        .file("secret.txt", "never sent\n")
        .file("debug.log", "ignored\n")
        .file("unicode-名前.txt", "utf-8 name\n")
        .large_file("big.bin", 3 * 1024 * 1024 + 17)
        .mode("keep/x", 0o751)
        .mode("keep", 0o750)
        .symlink("link-to-x", "keep/x")
        .symlink("dangling", "nowhere")
        .hard_link("hard-x", "keep/x")
        .fifo("pipe")
        .xattr("keep/x", "user.stageplan", b"xattr value")
        .empty_dir("empty/nested")
        .file(
            ".dockerignore",
            "secret.txt\n*.log\nkeep/skip\n!keep/skip/wanted\n",
        )
        .dockerfile(
            "FROM scratch AS files\nCOPY . /ctx/\nFROM stageplan-test/busybox:1\nCOPY --from=files /ctx /ctx\nRUN ls -laR /ctx > /listing && sha256sum /ctx/big.bin > /big.sum\n",
        );
    compare_with_docker(&case);
    let listing = case.read_from_image("/listing");
    assert!(
        !listing.contains("secret.txt") && !listing.contains("debug.log"),
        "{listing}"
    );
    assert!(
        listing.contains("wanted") && !listing.contains("inner"),
        "{listing}"
    );
    assert!(listing.contains("link-to-x -> keep/x"), "{listing}");
}

#[test]
fn add_archives_onbuild_and_secrets_equal_docker_build() {
    let parent = Case::new("onbuild-parent")
        .dockerfile("FROM stageplan-test/busybox:1\nONBUILD RUN echo triggered > /triggered\nONBUILD COPY marker /marker\n");
    let parent_image = build_ours(&parent).expect("parent builds");
    assert!(!parent_image.is_empty());
    let case = Case::new("onbuild-child")
        .file("marker", "from the child's context\n")
        .tar("archive.tar", &[("t/inner.txt", "in the archive\n")])
        .secret("token", "s3cr3t\n")
        .dockerfile(&format!(
            "FROM {}\nADD archive.tar /unpacked/\nRUN --mount=type=secret,id=token wc -c < /run/secrets/token > /secret-size\nRUN --mount=type=secret,id=absent,required=false test ! -e /run/secrets/absent\n",
            images_of(&parent).0
        ));
    compare_with_docker(&case);
    assert_eq!(case.read_from_image("/triggered"), "triggered\n");
    assert_eq!(case.read_from_image("/secret-size").trim(), "7");
    assert_eq!(
        case.read_from_image("/unpacked/t/inner.txt"),
        "in the archive\n"
    );
}

#[test]
fn optional_ssh_mounts_without_an_agent_equal_docker_build() {
    // Neither build forwards an agent: BuildKit leaves the optional mounts out but still points
    // SSH_AUTH_SOCK at the first one; equal image ids mean the same exec ops.
    let case = Case::new("ssh-optional").dockerfile(
        "FROM stageplan-test/busybox:1\nRUN --mount=type=ssh sh -c 'echo $SSH_AUTH_SOCK; test -e $SSH_AUTH_SOCK || echo none' > /first\nRUN --mount=type=secret,id=s --mount=type=ssh,id=deploy,target=/agent,uid=7,mode=0640 --mount=type=ssh sh -c 'echo $SSH_AUTH_SOCK' > /second\n",
    );
    compare_with_docker(&case);
    assert_eq!(
        case.read_from_image("/first"),
        "/run/buildkit/ssh_agent.0\nnone\n"
    );
    assert_eq!(case.read_from_image("/second"), "/agent\n");
}

#[test]
fn a_target_stage_and_build_args_equal_docker_build() {
    let case = Case::new("target")
        .dockerfile(
            "FROM stageplan-test/busybox:1 AS base\nARG MODE=debug\nRUN echo $MODE > /mode\nFROM base AS release\nRUN echo never > /never\nFROM stageplan-test/busybox:1 AS other\nCOPY --from=base /mode /mode\nCMD [\"cat\", \"/mode\"]\n",
        )
        .build_arg("MODE", "release")
        .target("other");
    compare_with_docker(&case);
    assert_eq!(case.read_from_image("/mode"), "release\n");
}
