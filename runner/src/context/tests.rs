//! Tests of source resolution against real directories.
//!
//! Input: scratch directories built per test. Output: assertions on resolved sets (ignore rules,
//! wildcards, symlinks, `--exclude`, `--parents`). Invariant: no test touches the real cache directory or anything outside its own
//! scratch directory.

use super::testdir::TestDir;
use super::{BuildContext, ContextError, CopySources, EntryKind, SourceSet};

pub(super) fn open(dir: &TestDir) -> BuildContext {
    BuildContext::open_with_cache(dir.path(), None, None).expect("open context")
}

pub(super) fn copy(sources: &[&str]) -> CopySources {
    CopySources {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        ..CopySources::default()
    }
}

fn names(set: &SourceSet) -> Vec<String> {
    set.entries.iter().map(|e| e.name.clone()).collect()
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
fn paths_and_symlinks_resolve_from_the_context_root() {
    let dir = TestDir::new();
    dir.file("real/data.txt", "data")
        .file("etc/passwd", "context's own")
        .symlink("link-to-file", "real/data.txt")
        .symlink("link-to-dir", "real")
        .symlink(
            "via/host-abs",
            &dir.path().join("real/data.txt").to_string_lossy(),
        )
        .symlink("root-abs", "/etc/passwd")
        .symlink("nested/climb", "../../../../etc/passwd")
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
    // As in BuildKit, the context is the root: an absolute target, a target climbing past the
    // top and a source climbing with `..` all land on the context's own files.
    for source in [
        "root-abs",
        "nested/climb",
        "../etc/passwd",
        "/../../etc/passwd",
    ] {
        let set = ctx.resolve(&copy(&[source])).expect(source);
        assert_eq!(set.entries[0].rel, "etc/passwd", "{source}");
    }
    // A host path stored in a link means nothing inside the context.
    let err = ctx.resolve(&copy(&["via/host-abs"])).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
    let err = ctx.resolve(&copy(&["loop-a"])).unwrap_err();
    assert!(matches!(err, ContextError::SymlinkLoop { .. }), "{err}");
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
