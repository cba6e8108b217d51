//! COPY and ADD: sources, destinations, flags, heredocs, --link, --parents, --exclude.

use bollard_buildkit_proto::pb;

use super::{build, copies, try_build, Setup, CAPS_NEW, CAPS_V08};

#[test]
fn copy_actions_carry_the_frontends_flags() {
    let built = build(
        "FROM busybox\nWORKDIR /app\nCOPY --chown=app:1000 --chmod=640 a.txt b/ ./conf/\nADD pkg.tar.gz /opt\n",
        &Setup {
            excludes: &["*.log"],
            ..Setup::default()
        },
    );
    let files = built.files();
    let (op, file) = &files[1];
    let actions = copies(file);
    assert_eq!(actions.len(), 2);
    let first = &actions[0];
    assert_eq!(
        (first.src.as_str(), first.dest.as_str()),
        ("/a.txt", "/app/conf/")
    );
    assert_eq!(first.mode, 0o640);
    assert!(first.follow_symlink && first.dir_copy_contents && first.create_dest_path);
    assert!(first.allow_wildcard && first.allow_empty_wildcard);
    assert!(!first.attempt_unpack_docker_compatibility);
    assert_eq!(first.timestamp, -1);
    let owner = first.owner.clone().unwrap();
    assert_eq!(
        owner.user.unwrap().user,
        Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
            name: "app".into(),
            input: 0
        }))
    );
    assert_eq!(
        owner.group.unwrap().user,
        Some(pb::user_opt::User::ById(1000))
    );
    // The second action continues from the first one's result.
    assert_eq!(
        file.actions
            .iter()
            .map(|a| (a.input, a.secondary_input, a.output))
            .collect::<Vec<_>>(),
        vec![(0, 1, -1), (2, 1, 0)]
    );
    assert_eq!(
        op.name,
        "[3/4] COPY --chown=app:1000 --chmod=640 a.txt b/ ./conf/"
    );
    let add = copies(&files[2].1);
    assert_eq!(
        (add[0].src.as_str(), add[0].dest.as_str()),
        ("/pkg.tar.gz", "/opt")
    );
    assert!(add[0].attempt_unpack_docker_compatibility);
    assert_eq!(add[0].mode, -1);
    let context = built.input(op, 1);
    let Some(pb::op::Op::Source(source)) = context.op.op else {
        panic!("expected the context source")
    };
    assert_eq!(source.attrs["local.excludepatterns"], "[\"*.log\"]");
    assert_eq!(
        source.attrs["local.followpaths"],
        "[\"a.txt\",\"b\",\"pkg.tar.gz\"]"
    );
    let history: Vec<String> = built.config()["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        history.contains(&"COPY a.txt b/ ./conf/ # buildkit".to_string()),
        "{history:?}"
    );
    assert!(history.contains(&"WORKDIR /app".to_string()), "{history:?}");
}

#[test]
fn copy_from_a_stage_reads_its_last_op() {
    let built = build(
        "FROM busybox AS build\nRUN make\nFROM busybox\nCOPY --from=build /out/app /usr/bin/\nCOPY --from=0 /etc/passwd /etc/\n",
        &Setup::default(),
    );
    let files = built.files();
    let (op, file) = files.last().unwrap();
    let source = built.input(op, file.actions[0].secondary_input);
    assert!(matches!(source.op.op, Some(pb::op::Op::Exec(_))));
    assert!(
        built
            .sources()
            .iter()
            .all(|(_, s)| s.identifier != "local://context"),
        "a build that copies nothing from the context does not transfer it"
    );
}

#[test]
fn heredoc_sources_are_files_made_for_the_copy() {
    let built = build(
        "FROM busybox\nENV NAME=world\nCOPY <<greeting.txt <<\"raw.txt\" /etc/\nhello $NAME\ngreeting.txt\nkeep $NAME\nraw.txt\n",
        &Setup::default(),
    );
    let files = built.files();
    let copy_op = files.last().unwrap();
    let actions = copies(&copy_op.1);
    assert_eq!(
        actions
            .iter()
            .map(|a| (a.src.clone(), a.dest.clone(), a.follow_symlink))
            .collect::<Vec<_>>(),
        vec![
            ("/greeting.txt".to_string(), "/etc/".to_string(), false),
            ("/raw.txt".to_string(), "/etc/".to_string(), false)
        ]
    );
    let data: Vec<Vec<u8>> = (0..2)
        .map(|at| {
            let made = built.input(&copy_op.0, copy_op.1.actions[at].secondary_input);
            let Some(pb::op::Op::File(file)) = made.op.op else {
                panic!("expected mkfile")
            };
            match &file.actions[0].action {
                Some(pb::file_action::Action::Mkfile(mkfile)) => mkfile.data.clone(),
                other => panic!("expected mkfile, got {other:?}"),
            }
        })
        .collect();
    assert_eq!(data[0], b"hello world\n");
    assert_eq!(data[1], b"keep $NAME\n");
}

#[test]
fn link_merges_when_the_daemon_can() {
    let dockerfile = "FROM busybox\nCOPY --link a /a\n";
    let old = build(dockerfile, &Setup::default());
    assert!(old
        .ops()
        .iter()
        .all(|op| !matches!(op.op.op, Some(pb::op::Op::Merge(_)))));
    let new = build(
        dockerfile,
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let ops = new.ops();
    let merge = ops
        .iter()
        .find(|op| matches!(op.op.op, Some(pb::op::Op::Merge(_))))
        .expect("a merge op");
    let copied = new.input(merge, 1);
    let Some(pb::op::Op::File(file)) = copied.op.op else {
        panic!("expected the copy")
    };
    assert_eq!(
        file.actions[0].input, -1,
        "the copy lands on an empty filesystem"
    );
}

#[test]
fn parents_and_exclude_use_file_op_patterns_on_new_daemons() {
    let built = build(
        "FROM busybox\nCOPY --parents --exclude=*.tmp src/./lib/a.rs /dst/\n",
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let copy = copies(&built.files()[0].1).remove(0);
    assert_eq!(copy.src, "/src");
    assert_eq!(copy.include_patterns, vec!["lib/a.rs"]);
    assert_eq!(copy.required_paths, vec!["/src/lib/a.rs"]);
    assert_eq!(copy.exclude_patterns, vec!["*.tmp"]);
}

#[test]
fn parents_and_exclude_filter_the_transfer_on_old_daemons() {
    let built = build(
        "FROM busybox\nCOPY --parents src/./lib/a.rs /dst/\nCOPY --exclude=*.tmp --exclude=!keep.tmp conf /etc/app/\n",
        &Setup {
            excludes: &["secret"],
            ..Setup::default()
        },
    );
    let files = built.files();
    let parents = &files[0];
    let copy = copies(&parents.1).remove(0);
    assert_eq!(copy.src, "/src");
    assert!(copy.include_patterns.is_empty());
    let Some(pb::op::Op::Source(source)) = built.input(&parents.0, 1).op.op else {
        panic!("expected a context source")
    };
    assert_eq!(source.attrs["local.includepattern"], "[\"src/lib/a.rs\"]");
    let excluded = &files[1];
    let Some(pb::op::Op::Source(source)) = built.input(&excluded.0, 1).op.op else {
        panic!("expected a context source")
    };
    assert_eq!(
        source.attrs["local.excludepatterns"],
        "[\"secret\",\"conf/*.tmp\",\"!conf/keep.tmp\"]"
    );
    let err = try_build(
        "FROM busybox AS a\nRUN true\nFROM busybox\nCOPY --from=a --exclude=x / /\n",
        &Setup::default(),
    )
    .err()
    .expect("refused");
    assert_eq!(err.line, 4);
    assert!(
        err.message.contains("file.copy.includeexcludepatterns"),
        "{err}"
    );
}

#[test]
fn symbolic_chmod_needs_the_daemons_support() {
    let err = try_build("FROM busybox\nCOPY --chmod=u+x a /a\n", &Setup::default())
        .err()
        .expect("refused on v0.8");
    assert!(err.message.contains("file.copy.modestring"), "{err}");
    let built = build(
        "FROM busybox\nCOPY --chmod=u+x a /a\n",
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let copy = copies(&built.files()[0].1).remove(0);
    assert_eq!((copy.mode, copy.mode_str.as_str()), (-1, "u+x"));
    // A bad octal mode never reaches the translation: the planner refuses it with its line.
    let outcome = planner::plan(
        "FROM busybox\nCOPY --chmod=99999 a /a\n",
        &planner::Options::default(),
    );
    assert!(outcome.plan.is_none());
    assert!(outcome
        .diagnostics
        .iter()
        .any(|d| d.line == 2 && d.message.contains("octal")));
}

#[test]
fn add_url_is_an_http_source() {
    let built = build(
        "FROM busybox\nADD --checksum=sha256:abababababababababababababababababababababababababababababababab https://example.com/dl/tool.tgz /opt/\n",
        &Setup::default(),
    );
    let (_, http) = built
        .sources()
        .into_iter()
        .find(|(_, s)| s.identifier.starts_with("https://"))
        .expect("an http source");
    assert_eq!(http.attrs["http.filename"], "tool.tgz");
    assert_eq!(
        http.attrs["http.checksum"],
        "sha256:abababababababababababababababababababababababababababababababab"
    );
    // A checksum from an ENV is expanded first (testAddChecksum's DigestFromEnv) and checked.
    let digest = format!("sha256:{}", "cd".repeat(32));
    let from_env = build(
        &format!("FROM busybox\nENV DIGEST={digest} LINK=https://example.com/foo\nADD --checksum=${{DIGEST}} ${{LINK}} /tmp/foo\n"),
        &Setup::default(),
    );
    let (_, http) = from_env
        .sources()
        .into_iter()
        .find(|(_, s)| s.identifier == "https://example.com/foo")
        .expect("the expanded URL");
    assert_eq!(http.attrs["http.checksum"], digest);
    // A digest the planner cannot see (the base image's ENV) is checked when translated.
    let parent = r#"{"architecture":"amd64","os":"linux",
        "config":{"Env":["PATH=/bin","DIGEST=sha256:nothex"]},
        "rootfs":{"type":"layers","diff_ids":["sha256:1"]}}"#;
    let err = try_build(
        "FROM parent\nADD --checksum=${DIGEST} https://example.com/foo /x\n",
        &Setup {
            images: &[("parent", parent)],
            ..Setup::default()
        },
    )
    .err()
    .expect("a bad digest");
    assert_eq!(
        (err.line, err.message.as_str()),
        (2, "invalid checksum digest length")
    );
    let copy = copies(&built.files()[0].1).remove(0);
    assert_eq!(copy.src, "/tool.tgz");
    assert!(
        !copy.attempt_unpack_docker_compatibility,
        "URLs are not unpacked"
    );
    // COPY of a URL never reaches the translation: the planner refuses it with its line.
    let outcome = planner::plan(
        "FROM busybox\nCOPY https://example.com/x /x\n",
        &planner::Options::default(),
    );
    assert!(outcome.plan.is_none());
    assert!(outcome
        .diagnostics
        .iter()
        .any(|d| d.line == 2 && d.message.contains("URL")));
}

#[test]
fn add_chown_of_an_archive_owns_its_members_on_old_daemons() {
    let dockerfile = "FROM busybox\nADD --chown=100:200 t.tar /out/\n";
    let old = build(dockerfile, &Setup::default());
    let files = old.files();
    let (op, file) = files.last().unwrap();
    let owned = copies(file).remove(0);
    assert_eq!((owned.src.as_str(), owned.dest.as_str()), ("/out", "/out/"));
    assert!(owned.dir_copy_contents && !owned.attempt_unpack_docker_compatibility);
    assert!(owned.owner.is_some());
    let staged = old.input(op, file.actions[0].secondary_input);
    let Some(pb::op::Op::File(staging)) = staged.op.op else {
        panic!("expected the unpacking file op")
    };
    assert_eq!(
        staging.actions[0].input, -1,
        "unpacked onto an empty filesystem"
    );
    let unpack = copies(&staging).remove(0);
    assert_eq!(
        (unpack.src.as_str(), unpack.dest.as_str()),
        ("/t.tar", "/out/")
    );
    assert!(unpack.attempt_unpack_docker_compatibility && unpack.owner.is_none());

    let new = build(
        dockerfile,
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    let direct = copies(&new.files().last().unwrap().1).remove(0);
    assert!(direct.attempt_unpack_docker_compatibility && direct.owner.is_some());
}
