//! Newer Dockerfile syntax on the engine's older BuildKit (v0.8 has no heredocs, `--link`,
//! `--parents` or `--exclude` in its own frontend): the backend performs them with the ops
//! this BuildKit has, and the files come out as BuildKit's documentation defines them.
//!
//! Input: a Dockerfile with RUN and COPY heredocs (expanded, quoted, `<<-`, a `#!` script),
//! `COPY --link`, `--parents` with a pivot, `--exclude` with an exception, an octal `--chmod`,
//! `RUN --network=none`, through the planner and the backend.
//! Output: the files, modes and contents in the image.
//! Invariant: the same expectations hold for the engine backend (the differential suite
//! compares the two backends on these cases).

#![cfg(feature = "buildkit")]

mod buildkit_support;

use buildkit_support::{build_ours, Case};

#[test]
fn newer_syntax_is_performed_with_older_ops() {
    let case = Case::new("modern")
        .file("src/lib/a.rs", "a\n")
        .file("src/lib/b.rs", "b\n")
        .mode("src/lib", 0o700)
        .file("conf/keep.tmp", "keep\n")
        .file("conf/drop.tmp", "drop\n")
        .file("conf/app.conf", "c\n")
        .dockerfile(
            "FROM stageplan-test/busybox:1\nENV NAME=world\n\
RUN <<EOF\necho \"plain heredoc $NAME\" > /plain\nEOF\n\
RUN <<EOF\n#!/bin/sh\necho \"script heredoc\" > /script\nEOF\n\
RUN cat <<A > /multi && cat <<-\"B\" >> /multi\na $NAME\nA\n\tb $NAME\n\tB\n\
COPY <<greeting.txt <<\"raw.txt\" /etc/\nhello $NAME\ngreeting.txt\nkeep $NAME\nraw.txt\n\
COPY --link conf/app.conf /linked/\n\
COPY --parents src/./lib/a.rs /parents/\n\
COPY --exclude=*.tmp --exclude=!keep.tmp conf /excluded/\n\
COPY --chmod=0751 conf/app.conf /chmodded\n\
RUN --network=none sh -c 'ip link 2>/dev/null | grep -c \"^[0-9]\" > /interfaces || echo 1 > /interfaces'\n",
        );
    build_ours(&case).unwrap_or_else(|e| panic!("the backend failed: {e}"));
    assert_eq!(case.read_from_image("/plain"), "plain heredoc world\n");
    assert_eq!(case.read_from_image("/script"), "script heredoc\n");
    assert_eq!(case.read_from_image("/multi"), "a world\nb $NAME\n");
    assert_eq!(case.read_from_image("/etc/greeting.txt"), "hello world\n");
    assert_eq!(case.read_from_image("/etc/raw.txt"), "keep $NAME\n");
    assert_eq!(case.read_from_image("/linked/app.conf"), "c\n");
    assert_eq!(
        case.read_from_image("/interfaces").trim(),
        "1",
        "only loopback"
    );
    let listing = case.run_in_image(
        "stat -c '%n %a %u:%g' /chmodded /etc/greeting.txt /parents/lib /parents/lib/a.rs; ls /excluded /parents/lib",
    );
    assert_eq!(
        listing,
        "/chmodded 751 0:0\n/etc/greeting.txt 644 0:0\n/parents/lib 700 0:0\n/parents/lib/a.rs 644 0:0\n\
/excluded:\napp.conf\nkeep.tmp\n\n/parents/lib:\na.rs\n"
    );
}
