//! Tests of the context module against real directories.
//!
//! Input: scratch directories built per test. Output: assertions on resolved sets, digests and
//! tar streams. Invariant: no test touches the real cache directory or anything outside its own
//! scratch directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use super::testdir::TestDir;
use super::{
    BuildContext, Chmod, ContextError, CopySources, DestState, Destination, EntryKind, SourceSet,
    TarOptions,
};

fn open(dir: &TestDir) -> BuildContext {
    BuildContext::open_with_cache(dir.path(), None, None).expect("open context")
}

fn copy(sources: &[&str]) -> CopySources {
    CopySources {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        ..CopySources::default()
    }
}

fn names(set: &SourceSet) -> Vec<String> {
    set.entries.iter().map(|e| e.name.clone()).collect()
}

/// One tar entry as read back: (type, mode, uid, gid, link target, content).
type TarRow = (String, u32, u64, u64, String, String);

fn tar_rows(
    ctx: &BuildContext,
    set: &SourceSet,
    dest: &Destination,
    options: &TarOptions,
) -> BTreeMap<String, TarRow> {
    let mut bytes = Vec::new();
    ctx.write_tar(set, dest, options, &mut bytes)
        .expect("write tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut rows = BTreeMap::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let header = entry.header().clone();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry
            .link_name()
            .expect("link name")
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut content = String::new();
        std::io::Read::read_to_string(&mut entry, &mut content).expect("content");
        let kind = format!("{:?}", header.entry_type());
        rows.insert(
            name,
            (
                kind,
                header.mode().expect("mode"),
                header.uid().expect("uid"),
                header.gid().expect("gid"),
                link,
                content,
            ),
        );
    }
    rows
}

fn dest(path: &str, state: DestState) -> Destination {
    Destination {
        path: path.to_string(),
        state,
    }
}

#[test]
fn dockerignore_excludes_files_and_exceptions_bring_them_back() {
    let dir = TestDir::new();
    dir.file(
        ".dockerignore",
        "# comment\n*.log\nbuild\n!build/keep.txt\nDockerfile\n",
    )
    .file("Dockerfile", "FROM scratch\n")
    .file("app.log", "x")
    .file("main.go", "package main\n")
    .file("build/out.o", "obj")
    .file("build/keep.txt", "keep")
    .file(
        "sub/deep.log",
        "nested logs are kept: *.log is anchored at the root",
    );
    let ctx = open(&dir);
    assert!(ctx.ignore_file().is_some());
    let set = ctx.resolve(&copy(&["."])).expect("resolve");
    assert_eq!(
        names(&set),
        vec![
            ".dockerignore",
            "build",
            "build/keep.txt",
            "main.go",
            "sub",
            "sub/deep.log"
        ]
    );
    let err = ctx.resolve(&copy(&["app.log"])).unwrap_err();
    assert!(matches!(err, ContextError::Ignored { .. }), "{err}");
    assert!(err.to_string().contains("app.log"));
    let err = ctx.resolve(&copy(&["Dockerfile"])).unwrap_err();
    assert!(matches!(err, ContextError::Ignored { .. }), "{err}");
    assert!(ctx.is_ignored("build/out.o"));
    assert!(!ctx.is_ignored("build/keep.txt"));
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let dir = TestDir::new();
    dir.file(".dockerignore", "a.txt\n")
        .file("prod.Dockerfile.dockerignore", "b.txt\n")
        .file("prod.Dockerfile", "FROM scratch\n")
        .file("a.txt", "a")
        .file("b.txt", "b");
    let dockerfile = dir.path().join("prod.Dockerfile");
    let ctx = BuildContext::open_with_cache(dir.path(), Some(&dockerfile), None).expect("open");
    assert!(ctx.is_ignored("b.txt"));
    assert!(!ctx.is_ignored("a.txt"));
}

#[test]
fn bad_ignore_pattern_names_file_and_line() {
    let dir = TestDir::new();
    dir.file(".dockerignore", "ok\n\nbad[\n");
    let err = BuildContext::open_with_cache(dir.path(), None, None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(".dockerignore") && text.contains("line 3"),
        "{text}"
    );
}

#[test]
fn wildcards_follow_go_filepath_match() {
    let dir = TestDir::new();
    dir.file("a.txt", "a")
        .file("b.txt", "b")
        .file("c.md", "c")
        .file("docs/d.txt", "d")
        .file("src/one/x.go", "1")
        .file("src/two/x.go", "2")
        .file("src/two/y.go", "y")
        .file("pkg.json", "{}");
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["*.txt"])).expect("resolve");
    assert_eq!(
        names(&set),
        vec!["a.txt", "b.txt"],
        "'*' does not descend into docs/"
    );
    assert!(set.entries.iter().all(|e| e.root_file));
    assert_eq!(set.n_roots(), 2);
    let set = ctx.resolve(&copy(&["src/*/x.go"])).expect("resolve");
    let rels: Vec<&str> = set.entries.iter().map(|e| e.rel.as_str()).collect();
    assert_eq!(rels, vec!["src/one/x.go", "src/two/x.go"]);
    // A matched directory is copied whole (its contents), not searched further.
    let set = ctx.resolve(&copy(&["sr?"])).expect("resolve");
    assert_eq!(
        names(&set),
        vec!["one", "one/x.go", "two", "two/x.go", "two/y.go"]
    );
    // A wildcard that matches nothing adds nothing (BuildKit's AllowEmptyWildcard).
    let set = ctx
        .resolve(&copy(&["pkg*.json", "yarn.lock*"]))
        .expect("resolve");
    assert_eq!(names(&set), vec!["pkg.json"]);
    let err = ctx.resolve(&copy(&["nodir/*.go"])).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
    let err = ctx.resolve(&copy(&["missing.txt"])).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

#[test]
fn symlinks_are_followed_only_inside_the_context() {
    let dir = TestDir::new();
    dir.file("real/data.txt", "data")
        .symlink("link-to-file", "real/data.txt")
        .symlink("link-to-dir", "real")
        .symlink(
            "via/abs",
            &dir.path().join("real/data.txt").to_string_lossy(),
        )
        .symlink("escape-abs", "/etc/passwd")
        .symlink("escape-rel", "../../etc/passwd")
        .symlink("loop-a", "loop-b")
        .symlink("loop-b", "loop-a")
        .symlink("keep/outside", "/etc/passwd");
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["link-to-file"])).expect("resolve");
    assert_eq!(
        names(&set),
        vec!["link-to-file"],
        "named after the link, content of the target"
    );
    assert_eq!(set.entries[0].kind, EntryKind::File);
    assert_eq!(set.entries[0].rel, "real/data.txt");
    let set = ctx.resolve(&copy(&["link-to-dir"])).expect("resolve");
    assert_eq!(names(&set), vec!["data.txt"]);
    let set = ctx
        .resolve(&copy(&["via/abs"]))
        .expect("absolute link inside the context");
    assert_eq!(set.entries[0].rel, "real/data.txt");
    for source in ["escape-abs", "escape-rel"] {
        let err = ctx.resolve(&copy(&[source])).unwrap_err();
        assert!(
            matches!(err, ContextError::SymlinkOutside { .. }),
            "{source}: {err}"
        );
        assert!(err.to_string().contains(source), "{err}");
    }
    let err = ctx.resolve(&copy(&["loop-a"])).unwrap_err();
    assert!(matches!(err, ContextError::SymlinkLoop { .. }), "{err}");
    let err = ctx.resolve(&copy(&["../x"])).unwrap_err();
    assert!(matches!(err, ContextError::OutsideContext { .. }), "{err}");
    // Inside a copied directory a symlink stays a symlink, whatever it points to.
    let set = ctx.resolve(&copy(&["keep"])).expect("resolve");
    assert_eq!(set.entries[0].kind, EntryKind::Symlink);
    assert_eq!(set.entries[0].link_target.as_deref(), Some("/etc/passwd"));
}

#[test]
fn exclude_patterns_are_relative_to_each_source() {
    let dir = TestDir::new();
    dir.file("app/main.go", "m")
        .file("app/debug.log", "l")
        .file("app/vendor/lib.go", "v")
        .file("app/vendor/keep.log", "k");
    let ctx = open(&dir);
    let request = CopySources {
        sources: vec!["app/".to_string()],
        excludes: vec![
            "*.log".to_string(),
            "vendor".to_string(),
            "!vendor/keep.log".to_string(),
        ],
        parents: false,
    };
    let set = ctx.resolve(&request).expect("resolve");
    assert_eq!(names(&set), vec!["main.go", "vendor", "vendor/keep.log"]);
    let bad = CopySources {
        excludes: vec!["[oops".to_string()],
        ..request
    };
    let err = ctx.resolve(&bad).unwrap_err();
    assert!(err.to_string().contains("[oops"), "{err}");
}

#[test]
fn parents_keep_the_source_path() {
    let dir = TestDir::new();
    dir.file("a/b/c.txt", "c")
        .file("a/b/d.txt", "d")
        .file("x/y/z.go", "z")
        .file("x/w.go", "w");
    let ctx = open(&dir);
    let parents = |sources: &[&str]| CopySources {
        parents: true,
        ..copy(sources)
    };
    let set = ctx.resolve(&parents(&["a/b/c.txt"])).expect("resolve");
    assert_eq!(names(&set), vec!["a", "a/b", "a/b/c.txt"]);
    let set = ctx.resolve(&parents(&["a/./b/c.txt"])).expect("resolve");
    assert_eq!(names(&set), vec!["b", "b/c.txt"]);
    let set = ctx.resolve(&parents(&["x/**/*.go"])).expect("resolve");
    assert_eq!(names(&set), vec!["x", "x/w.go", "x/y", "x/y/z.go"]);
    let set = ctx
        .resolve(&parents(&["a/b"]))
        .expect("a directory brings its subtree");
    assert_eq!(names(&set), vec!["a", "a/b", "a/b/c.txt", "a/b/d.txt"]);
    let err = ctx.resolve(&parents(&["a/nope.txt"])).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
}

#[test]
fn whiteout_names_are_refused() {
    let dir = TestDir::new();
    dir.file("d/.wh.secret", "x");
    let err = open(&dir).resolve(&copy(&["d"])).unwrap_err();
    assert!(matches!(err, ContextError::WhiteoutName { .. }), "{err}");
}

#[test]
fn set_digest_follows_content_not_mtime() {
    let dir = TestDir::new();
    dir.file("src/a.txt", "one").file("src/b.txt", "two");
    let ctx = open(&dir);
    let first = ctx.digest(&ctx.resolve(&copy(&["src"])).unwrap()).unwrap();
    assert!(first.starts_with("sha256:") && first.len() == 71, "{first}");
    let file = File::options()
        .write(true)
        .open(dir.path().join("src/a.txt"))
        .unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let ctx = open(&dir);
    let touched = ctx.digest(&ctx.resolve(&copy(&["src"])).unwrap()).unwrap();
    assert_eq!(first, touched, "an mtime change alone keeps the digest");
    dir.file("src/a.txt", "ONE");
    let ctx = open(&dir);
    let changed = ctx.digest(&ctx.resolve(&copy(&["src"])).unwrap()).unwrap();
    assert_ne!(first, changed);
    std::fs::set_permissions(
        dir.path().join("src/b.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let ctx = open(&dir);
    let chmodded = ctx.digest(&ctx.resolve(&copy(&["src"])).unwrap()).unwrap();
    assert_ne!(changed, chmodded, "modes are part of the digest");
}

/// Rewrites a file in place with same-length content and restores its mtime, so only a digest
/// cache that trusts (path, size, mtime, inode) would miss the change.
fn sneaky_rewrite(path: &std::path::Path, contents: &str, mtime: SystemTime) {
    let mut file = File::options().write(true).open(path).unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file.set_modified(mtime).unwrap();
}

#[test]
fn digest_cache_remembers_files_between_builds() {
    let dir = TestDir::new();
    let cache_dir = TestDir::new();
    let cache_file = cache_dir.path().join("nested/digests.json");
    dir.file("ctx/f.txt", "aaaa");
    let old = SystemTime::now() - Duration::from_secs(600);
    File::options()
        .write(true)
        .open(dir.path().join("ctx/f.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let root = dir.path().join("ctx");
    let build = |cache: Option<std::path::PathBuf>| {
        let ctx = BuildContext::open_with_cache(&root, None, cache).unwrap();
        let digest = ctx
            .digest(&ctx.resolve(&copy(&["f.txt"])).unwrap())
            .unwrap();
        ctx.save_digests().unwrap();
        digest
    };
    let first = build(Some(cache_file.clone()));
    assert!(
        cache_file.exists(),
        "the cache file and its directory are created"
    );
    sneaky_rewrite(&root.join("f.txt"), "bbbb", old);
    assert_eq!(
        build(Some(cache_file.clone())),
        first,
        "the remembered digest is used, the file not read"
    );
    assert_ne!(
        build(None),
        first,
        "without the cache the new content is seen"
    );
    // A real edit changes the mtime, so the cache entry no longer fits.
    dir.file("ctx/f.txt", "cccc");
    assert_ne!(build(Some(cache_file.clone())), first);
    // A garbage cache file is ignored, not an error.
    std::fs::write(&cache_file, "not json").unwrap();
    assert_ne!(build(Some(cache_file)), first);
}

#[test]
fn fresh_files_are_not_remembered() {
    let dir = TestDir::new();
    let cache_dir = TestDir::new();
    let cache_file = cache_dir.path().join("d.json");
    dir.file("f.txt", "aaaa");
    let mtime = SystemTime::now();
    File::options()
        .write(true)
        .open(dir.path().join("f.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let build = || {
        let ctx =
            BuildContext::open_with_cache(dir.path(), None, Some(cache_file.clone())).unwrap();
        let digest = ctx
            .digest(&ctx.resolve(&copy(&["f.txt"])).unwrap())
            .unwrap();
        ctx.save_digests().unwrap();
        digest
    };
    let first = build();
    sneaky_rewrite(&dir.path().join("f.txt"), "bbbb", mtime);
    assert_ne!(
        build(),
        first,
        "a digest taken within the racy window must not be trusted later"
    );
}

#[test]
fn tar_of_a_directory_into_a_new_destination() {
    let dir = TestDir::new();
    dir.file("app/bin/run.sh", "#!/bin/sh\n")
        .file("app/readme", "hi")
        .symlink("app/current", "bin/run.sh");
    std::fs::set_permissions(
        dir.path().join("app/bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("app/readme"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["app"])).unwrap();
    let rows = tar_rows(
        &ctx,
        &set,
        &dest("/srv/app", DestState::Missing),
        &TarOptions::default(),
    );
    let keys: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "srv/app/",
            "srv/app/bin/",
            "srv/app/bin/run.sh",
            "srv/app/current",
            "srv/app/readme"
        ]
    );
    assert_eq!(rows["srv/app/"].1, 0o755, "a created destination is 0755");
    assert_eq!(rows["srv/app/bin/run.sh"].1, 0o755);
    assert_eq!(rows["srv/app/readme"].1, 0o640);
    assert_eq!(rows["srv/app/readme"].5, "hi");
    assert_eq!((rows["srv/app/readme"].2, rows["srv/app/readme"].3), (0, 0));
    assert_eq!(rows["srv/app/current"].0, "Symlink");
    assert_eq!(rows["srv/app/current"].4, "bin/run.sh");
    // An existing destination directory is not rewritten.
    let rows = tar_rows(
        &ctx,
        &set,
        &dest("/srv/app/", DestState::Directory),
        &TarOptions::default(),
    );
    assert!(!rows.contains_key("srv/app/"));
}

#[test]
fn tar_names_a_single_file_by_its_destination() {
    let dir = TestDir::new();
    dir.file("main.go", "package main")
        .file("other.go", "package other");
    let ctx = open(&dir);
    let one = ctx.resolve(&copy(&["main.go"])).unwrap();
    let plain = TarOptions::default();
    let rows = tar_rows(
        &ctx,
        &one,
        &dest("/app/prog.go", DestState::Missing),
        &plain,
    );
    assert_eq!(rows.keys().collect::<Vec<_>>(), vec!["app/prog.go"]);
    let rows = tar_rows(&ctx, &one, &dest("/app/", DestState::Missing), &plain);
    assert_eq!(rows.keys().collect::<Vec<_>>(), vec!["app/", "app/main.go"]);
    let rows = tar_rows(&ctx, &one, &dest("/app", DestState::Directory), &plain);
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        vec!["app/main.go"],
        "an existing directory takes the file inside"
    );
    let two = ctx.resolve(&copy(&["main.go", "other.go"])).unwrap();
    let err = ctx
        .write_tar(&two, &dest("/app", DestState::Missing), &plain, Vec::new())
        .unwrap_err();
    assert!(
        matches!(err, ContextError::DestNotDirectory { .. }),
        "{err}"
    );
    // BuildKit: `COPY nomatch* /x/` succeeds and does not even create /x.
    let nothing = ctx.resolve(&copy(&["nomatch*"])).unwrap();
    let rows = tar_rows(&ctx, &nothing, &dest("/x/", DestState::Missing), &plain);
    assert!(rows.is_empty(), "{rows:?}");
    let tree = ctx.resolve(&copy(&["."])).unwrap();
    let err = ctx
        .write_tar(
            &tree,
            &dest("/etc/passwd", DestState::NotDirectory),
            &plain,
            Vec::new(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("/etc/passwd"), "{err}");
}

#[test]
fn tar_applies_chown_and_chmod() {
    let dir = TestDir::new();
    dir.file("d/f", "f").dir("d/sub");
    std::fs::set_permissions(
        dir.path().join("d/f"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("d/sub"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["d"])).unwrap();
    let options = TarOptions {
        owner: Some((1000, 1001)),
        chmod: Some(Chmod::parse("go+rX").unwrap()),
    };
    let rows = tar_rows(&ctx, &set, &dest("/x/", DestState::Missing), &options);
    assert_eq!(rows["x/f"].1, 0o644);
    assert_eq!(rows["x/sub/"].1, 0o755);
    assert_eq!((rows["x/f"].2, rows["x/f"].3), (1000, 1001));
    assert_eq!((rows["x/"].2, rows["x/"].3), (1000, 1001));
    let octal = TarOptions {
        owner: None,
        chmod: Some(Chmod::parse("0750").unwrap()),
    };
    let rows = tar_rows(&ctx, &set, &dest("/x/", DestState::Missing), &octal);
    assert!(rows.values().all(|row| row.1 == 0o750));
}

#[test]
fn tar_keeps_hard_links_and_long_names() {
    let dir = TestDir::new();
    let long = format!("d/{}/{}.txt", "n".repeat(120), "f".repeat(120));
    dir.file(&long, "long").file("d/a", "shared");
    std::fs::hard_link(dir.path().join("d/a"), dir.path().join("d/b")).unwrap();
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["d"])).unwrap();
    let rows = tar_rows(
        &ctx,
        &set,
        &dest("/", DestState::Directory),
        &TarOptions::default(),
    );
    assert_eq!(rows["a"].5, "shared");
    assert_eq!(rows["b"].0, "Link");
    assert_eq!(rows["b"].4, "a");
    let long_name = long.trim_start_matches("d/");
    assert_eq!(rows[long_name].5, "long");
}

/// A context whose `.dockerignore` exercises `**`, `!` exceptions, root anchoring, `./` and `/`
/// cleaning and escapes. The expected list is what dockerd 20.10.24 put into the image for
/// `COPY . /ctx/`, with BuildKit and with the classic builder alike (recorded with `find /ctx`).
#[test]
fn dockerignore_matches_what_the_engines_send() {
    let dir = TestDir::new();
    for file in [
        "a/1.txt",
        "a/b/2.txt",
        "a/b/c/3.md",
        "docs/README.md",
        "docs/guide.txt",
        "build/out.o",
        "build/keep/k.txt",
        "node_modules/x/i.js",
        "sub/deep/node_modules/m.js",
        "src/x/main.go",
        "src/x/main_test.go",
        "top.md",
        "README.md",
        "Dockerfile",
        ".hidden",
        "sp ace.txt",
        "br[a]ck.txt",
        "x.log",
        "sub/y.log",
    ] {
        dir.file(file, file);
    }
    dir.file(
        ".dockerignore",
        "# comment\n**/node_modules\nbuild\n!build/keep\n*.md\n!README.md\ndocs/*.txt\n\
         a/**/*.md\n/x.log\n./sub/*.log\n**/*_test.go\nDockerfile\n.dockerignore\nbr\\[a\\]ck.txt\n",
    );
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["."])).expect("resolve");
    let mut got = names(&set);
    got.sort();
    let want = [
        ".hidden",
        "README.md",
        "a",
        "a/1.txt",
        "a/b",
        "a/b/2.txt",
        "a/b/c",
        "build",
        "build/keep",
        "build/keep/k.txt",
        "docs",
        "docs/README.md",
        "sp ace.txt",
        "src",
        "src/x",
        "src/x/main.go",
        "sub",
        "sub/deep",
    ];
    assert_eq!(got, want);
}

#[test]
fn tar_keeps_sub_second_mtimes() {
    let dir = TestDir::new();
    dir.file("f", "x");
    let mtime = std::time::UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    File::options()
        .write(true)
        .open(dir.path().join("f"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let ctx = open(&dir);
    let set = ctx.resolve(&copy(&["f"])).unwrap();
    let mut bytes = Vec::new();
    ctx.write_tar(
        &set,
        &dest("/f", DestState::Missing),
        &TarOptions::default(),
        &mut bytes,
    )
    .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.path().unwrap().to_string_lossy(), "f");
    assert_eq!(entry.header().mtime().unwrap(), 1_600_000_000);
    let pax: Vec<(String, String)> = entry
        .pax_extensions()
        .unwrap()
        .expect("a PAX header")
        .map(|ext| {
            let ext = ext.unwrap();
            (
                ext.key().unwrap().to_string(),
                ext.value().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pax,
        vec![("mtime".to_string(), "1600000000.123456789".to_string())]
    );
}

#[test]
fn pax_record_length_counts_itself() {
    assert_eq!(super::archive::pax_record("mtime", "1.5"), "13 mtime=1.5\n");
    let long = super::archive::pax_record("mtime", "1600000000.123456789");
    assert_eq!(long.len().to_string(), long.split(' ').next().unwrap());
}
