//! `--output DIR` against BuildKit's local exporter (`DOCKER_BUILDKIT=1 docker build --output
//! type=local,dest=DIR`) on the same engine, from Dockerfile text: the two directories must hold
//! the same tree (kinds, modes with setuid, contents, symlink targets, hard links, the
//! modification time a file was given), owned by the user who ran the build, for a scratch export
//! stage, a whole image and an image of no file; a second export into the same directory gives
//! the same tree; and an output that cannot be written fails the build after the image is made,
//! naming the directory. `--output type=tar,dest=FILE` against BuildKit's tar exporter: the same
//! entries with the same headers (names, types, modes, owners, no user names, link targets,
//! devices, contents, PAX records, a set modification time), and `-o -` writes the same bytes to
//! standard output and nothing else.
//!
//! Input: Dockerfiles written into temporary contexts. Output: assertions on the two trees.
//! Invariant: every image and directory carries `stageplan-rt-<pid>` and is removed on the way
//! out; no Dockerfile without a stage is sent to the engine's BuildKit.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::{
    assert_built, forget_cache_tags, require_engine, run_runner, stage_images, TempDir, BASE,
};

/// What the comparison keeps of one entry.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        content: String,
        links: u64,
    },
    Symlink {
        target: String,
    },
    Other {
        mode: u32,
    },
}

/// Every entry below `root`, by path relative to it; each must be owned by the current user.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let uid = std::fs::metadata("/proc/self")
        .expect("stat /proc/self")
        .uid();
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).expect("read dir") {
            let path = item.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            assert_eq!(
                meta.uid(),
                uid,
                "{} is not owned by the user",
                path.display()
            );
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = meta.mode() & 0o7777;
            let entry = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                Entry::Symlink {
                    target: target.to_string_lossy().into_owned(),
                }
            } else if meta.is_dir() {
                pending.push(path.clone());
                Entry::Dir { mode }
            } else if meta.is_file() {
                Entry::File {
                    mode,
                    content: String::from_utf8_lossy(&std::fs::read(&path).expect("read"))
                        .into_owned(),
                    links: meta.nlink(),
                }
            } else {
                Entry::Other { mode }
            };
            out.insert(rel, entry);
        }
    }
    out
}

/// The names whose entries differ between two trees (for a readable failure).
fn differences(a: &BTreeMap<String, Entry>, b: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| a.get(*name) != b.get(*name))
        .map(|name| format!("{name}: {:?} vs {:?}", a.get(name), b.get(name)))
        .collect()
}

/// Builds `dir` with BuildKit into `dest` (`--output type=local`).
fn buildkit_output(dir: &TempDir, dest: &Path) {
    let output = format!("type=local,dest={}", dest.display());
    support::buildkit_build(&dir.0, &["--output", &output]);
}

/// The Dockerfiles both exports are compared on, named `<prefix>-scratch`, `-rootfs` and
/// `-empty`: a scratch export stage (setuid, a hard link, a symlink, directories of other modes,
/// a set modification time, an owner a directory export does not keep); a whole image with a
/// RUN (deleted files, an absolute symlink, the empty /dev, /proc and /sys, the image's own
/// /etc; for the tar also a device node, which a directory export writes as an empty file,
/// runner/README.md's known differences); an image of no layer, which the engine cannot save.
fn export_cases(prefix: &str) -> [(String, String); 3] {
    let nonce = support::nonce();
    let device = if prefix == "tar" {
        " \\\n\x20 && mknod /app/null c 1 3"
    } else {
        ""
    };
    [
        (
            format!("{prefix}-scratch"),
            format!(
                "FROM {BASE} AS build\n\
                 RUN mkdir -p /out/sub /out/ro && echo {nonce} > /out/sub/a \\\n\
                 \x20 && ln -s a /out/sub/link && ln /out/sub/a /out/sub/hard \\\n\
                 \x20 && chown 1234:5678 /out/sub/a && chmod 4755 /out/sub/a \\\n\
                 \x20 && chmod 0750 /out/sub && chmod 0555 /out/ro \\\n\
                 \x20 && touch -d '2001-02-03 04:05:06' /out/sub/a\n\
                 FROM scratch\n\
                 COPY --from=build /out /\n"
            ),
        ),
        (
            format!("{prefix}-rootfs"),
            format!(
                "FROM {BASE}\n\
                 RUN rm -f /bin/ls && rm -rf /root && mkdir -p /app/d \\\n\
                 \x20 && echo {nonce} > /app/d/f && ln -s /app/d/f /app/abs{device}\n\
                 WORKDIR /app\n\
                 COPY Dockerfile /app/\n"
            ),
        ),
        (
            format!("{prefix}-empty"),
            format!("FROM scratch\nLABEL built.by={nonce}\n"),
        ),
    ]
}

#[test]
fn the_output_directory_holds_what_buildkit_local_exporter_writes() {
    require_engine();
    let cases = export_cases("output");
    for (name, dockerfile) in &cases {
        let name = name.as_str();
        let at_least = if name.ends_with("-empty") { 0 } else { 4 };
        let dir = TempDir::new(name);
        dir.write("Dockerfile", dockerfile);
        let outputs = TempDir::new(&format!("{name}-out"));
        let ours = outputs.0.join("runner");
        let theirs = outputs.0.join("buildkit");
        let context = dir.path_str();
        let out = run_runner(&[
            "build",
            &context,
            "--progress",
            "json",
            "--output",
            &format!("type=local,dest={}", ours.display()),
        ]);
        assert_built(&out, name);
        forget_cache_tags(None, &stage_images(&out.stdout));
        buildkit_output(&dir, &theirs);
        let (ours_tree, theirs_tree) = (tree(&ours), tree(&theirs));
        assert!(ours_tree.len() >= at_least, "{name}: {ours_tree:?}");
        let differ = differences(&ours_tree, &theirs_tree);
        assert!(
            differ.is_empty(),
            "{name}: runner vs BuildKit:\n{}",
            differ.join("\n")
        );
        // The destination itself is created as the docker CLI creates it.
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&ours), mode(&theirs), "{name}: the destination's mode");
        if name.ends_with("-scratch") {
            let mtime = |p: &Path| std::fs::metadata(p.join("sub/a")).unwrap().mtime();
            assert_eq!(mtime(&ours), mtime(&theirs), "the file's modification time");
        }
        // With --backend buildkit: BuildKit's tar exporter through the session, unpacked here.
        let through = outputs.0.join("backend-buildkit");
        let out = run_runner(&[
            "build",
            &context,
            "--backend",
            "buildkit",
            "-o",
            &through.to_string_lossy(),
        ]);
        assert_built(&out, name);
        let differ = differences(&tree(&through), &theirs_tree);
        assert!(
            differ.is_empty(),
            "{name}: --backend buildkit vs docker build:\n{}",
            differ.join("\n")
        );
        // Exporting again into the same directory replaces what is there (files, hard links,
        // symlinks), as BuildKit's export does.
        let again = run_runner(&["build", &context, "-o", &ours.to_string_lossy()]);
        assert_built(&again, name);
        let differ = differences(&tree(&ours), &theirs_tree);
        assert!(
            differ.is_empty(),
            "{name}: second export:\n{}",
            differ.join("\n")
        );
    }
}

#[test]
fn an_output_that_cannot_be_written_fails_naming_it_after_the_image_is_built() {
    require_engine();
    let dir = TempDir::new("output-blocked");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE} AS build\nRUN echo {} > /f\n", support::nonce()),
    );
    // The destination's parent is a regular file: nothing can be created there.
    dir.write("blocked", "not a directory\n");
    let dest = dir.0.join("blocked/out");
    let context = dir.path_str();
    let out = run_runner(&[
        "build",
        &context,
        "--progress",
        "json",
        "-o",
        &dest.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--output {}", dest.display()))
            && stderr.contains("the target image was built"),
        "{stderr}"
    );
    forget_cache_tags(None, &stage_images(&out.stdout));
    // With --backend buildkit the session cannot create the tar: the same exit and naming.
    let blocked_tar = dir.0.join("blocked/out.tar");
    let out = run_runner(&[
        "build",
        &context,
        "--backend",
        "buildkit",
        "-o",
        &format!("type=tar,dest={}", blocked_tar.display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--output {}", blocked_tar.display()))
            && stderr.contains("the target was built"),
        "{stderr}"
    );
    // There, the files replace the image: a tag is refused before anything is built.
    let out = run_runner(&[
        "build",
        &context,
        "--backend",
        "buildkit",
        "-o",
        "x",
        "-t",
        "x:1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing to tag"), "{stderr}");
    // Other exporters are refused before anything is built.
    let out = run_runner(&["build", &context, "--output", "type=oci,dest=x.tar"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("type=local and type=tar"), "{stderr}");
}

/// What the comparison keeps of one tar entry: the raw name (a directory's ends in `/`), type,
/// mode, owner, user and group names, link target, content digest, PAX records, and the
/// modification time when `mtime_of` names the entry (other times differ between two builds).
fn tar_entries(bytes: &[u8], mtime_of: &str) -> BTreeMap<String, String> {
    use sha2::Digest;
    use std::io::Read;
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("a tar entry");
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let header = entry.header().clone();
        let pax: Vec<String> = entry
            .pax_extensions()
            .unwrap()
            .map(|records| {
                records
                    .flatten()
                    .map(|r| format!("{}={:?}", r.key().unwrap_or("?"), r.value_bytes()))
                    .collect()
            })
            .unwrap_or_default();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let mtime = if name == mtime_of {
            header.mtime().unwrap().to_string()
        } else {
            String::new()
        };
        let described = format!(
            "{:?} {:o} {}:{} {:?}:{:?} -> {link:?} sha256:{} pax {pax:?} mtime {mtime}",
            header.entry_type(),
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap(),
            header.username().unwrap_or_default().unwrap_or_default(),
            header.groupname().unwrap_or_default().unwrap_or_default(),
            hex::encode(sha2::Sha256::digest(&content)),
        );
        assert!(
            out.insert(name.clone(), described).is_none(),
            "{name} is twice in the tar"
        );
    }
    out
}

#[test]
fn the_output_tar_holds_what_buildkit_tar_exporter_writes() {
    require_engine();
    let cases = export_cases("tar");
    for (name, dockerfile) in &cases {
        let name = name.as_str();
        let dir = TempDir::new(name);
        dir.write("Dockerfile", dockerfile);
        let outputs = TempDir::new(&format!("{name}-out"));
        let (ours, theirs) = (outputs.0.join("runner.tar"), outputs.0.join("buildkit.tar"));
        let context = dir.path_str();
        let out = run_runner(&[
            "build",
            &context,
            "--output",
            &format!("type=tar,dest={}", ours.display()),
        ]);
        assert_built(&out, name);
        support::buildkit_build(
            &dir.0,
            &["--output", &format!("type=tar,dest={}", theirs.display())],
        );
        let (ours_bytes, theirs_bytes) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
        );
        let (ours_tar, theirs_tar) = (
            tar_entries(&ours_bytes, "sub/a"),
            tar_entries(&theirs_bytes, "sub/a"),
        );
        let at_least = if name.ends_with("-empty") { 0 } else { 5 };
        assert!(ours_tar.len() >= at_least, "{name}: {ours_tar:?}");
        let differ: Vec<String> = ours_tar
            .keys()
            .chain(theirs_tar.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|k| ours_tar.get(*k) != theirs_tar.get(*k))
            .map(|k| format!("{k}: {:?} vs {:?}", ours_tar.get(k), theirs_tar.get(k)))
            .collect();
        assert!(
            differ.is_empty(),
            "{name}: runner vs BuildKit:\n{}",
            differ.join("\n")
        );
        // With --backend buildkit: BuildKit's own tar exporter, received through the session.
        let through = outputs.0.join("backend-buildkit.tar");
        let out = run_runner(&[
            "build",
            &context,
            "--backend",
            "buildkit",
            "--output",
            &format!("type=tar,dest={}", through.display()),
        ]);
        assert_built(&out, name);
        assert_eq!(
            tar_entries(&std::fs::read(&through).unwrap(), "sub/a"),
            theirs_tar,
            "{name}: --backend buildkit vs docker build"
        );
        // `-o -`: the same tar on standard output, and nothing else there.
        let piped = run_runner(&["build", &context, "-o", "-"]);
        assert_built(&piped, name);
        assert_eq!(
            piped.stdout, ours_bytes,
            "{name}: -o - differs from type=tar,dest=FILE"
        );
        forget_cache_tags(
            None,
            &support::stage_images(&run_runner(&["build", &context, "--progress", "json"]).stdout),
        );
    }
}

/// The names in `dir` other than the test runner's own output files.
fn written_beside(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("runner-"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_tar_export_through_buildkit_stopped_part_way_leaves_no_partial_tar() {
    require_engine();
    let dir = TempDir::new("bk-tar-stopped");
    // Big enough that the export is still streaming when the signal comes.
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\nRUN echo {} > /nonce && dd if=/dev/zero of=/big bs=1M count=200 2>/dev/null\n",
            support::nonce()
        ),
    );
    let outputs = TempDir::new("bk-tar-stopped-out");
    let dest = outputs.0.join("rootfs.tar");
    let args: Vec<String> = [
        "build".to_string(),
        dir.path_str(),
        "--backend".to_string(),
        "buildkit".to_string(),
        "--progress".to_string(),
        "plain".to_string(),
        "-o".to_string(),
        format!("type=tar,dest={}", dest.display()),
    ]
    .to_vec();
    // Started, and signalled once the tar is being received beside its file.
    let receiving = |signal: &str| {
        let started = support::faulted::start(&args, &[], &outputs.0);
        let waited = std::time::Instant::now();
        while written_beside(&outputs.0).is_empty() {
            assert!(waited.elapsed().as_secs() < 120, "the export never started");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        started.signal(signal);
        started.finish()
    };
    // Stopped by a signal: the task receiving the tar may outlive the build, but the partial
    // tar goes before the runner exits.
    let stopped = receiving("TERM");
    assert_eq!(stopped.code, Some(130), "{}", stopped.stderr);
    assert_eq!(
        written_beside(&outputs.0),
        Vec::<String>::new(),
        "a partial tar stayed after SIGTERM"
    );
    // Killed: the partial tar stays, named for the killed runner, and the next runner exporting
    // there removes it.
    let killed = receiving("KILL");
    let left = written_beside(&outputs.0);
    assert!(
        left.len() == 1 && left[0].starts_with(&killed.prefix),
        "the killed runner's partial tar is named for it: {left:?} ({})",
        killed.prefix
    );
    // The daemon is given a moment to discard the killed client's build, which nothing waited
    // for.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let next = support::faulted::run(&args, &outputs.0);
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    assert_eq!(
        written_beside(&outputs.0),
        vec!["rootfs.tar".to_string()],
        "the killed runner's partial tar is still beside the output"
    );
}

#[test]
fn a_tar_export_stopped_part_way_leaves_no_partial_tar() {
    require_engine();
    let dir = TempDir::new("tar-stopped");
    // Big enough that the export is still streaming when the signal comes.
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\nRUN echo {} > /nonce && dd if=/dev/zero of=/big bs=1M count=300 2>/dev/null\n",
            support::nonce()
        ),
    );
    let outputs = TempDir::new("tar-stopped-out");
    let dest = outputs.0.join("rootfs.tar");
    let args: Vec<String> = [
        "build".to_string(),
        dir.path_str(),
        "--progress".to_string(),
        "plain".to_string(),
        "-o".to_string(),
        format!("type=tar,dest={}", dest.display()),
    ]
    .to_vec();
    let started = support::faulted::start(&args, &[], &outputs.0);
    // Signalled once the tar is being written (under its temporary name beside the file).
    let prefix = started.prefix.clone();
    let writing = || {
        std::fs::read_dir(&outputs.0)
            .unwrap()
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
    };
    let waited = std::time::Instant::now();
    while !writing() {
        assert!(waited.elapsed().as_secs() < 90, "the export never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    started.signal("TERM");
    let finished = started.finish();
    assert_eq!(finished.code, Some(130), "{}", finished.stderr);
    let left: Vec<String> = std::fs::read_dir(&outputs.0)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("runner-"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "a partial tar or its temporary file stayed"
    );
    assert_eq!(
        support::faulted::debris(&finished.prefix),
        Vec::<String>::new()
    );
    // The 300 MB step was cached: a warm build's record names its images, whose cache tags go.
    let record = outputs.0.join("warm.record.json");
    let warm = run_runner(&[
        "build",
        &dir.path_str(),
        "--progress",
        "json",
        "--record",
        &record.to_string_lossy(),
    ]);
    assert_built(&warm, "the warm build after the stopped export");
    forget_cache_tags(None, &stage_images(&warm.stdout));
    support::record::forget_step_tags(&support::record::read_record(&record));
}
