//! Tests of digests, the digest cache and the tar stream against real directories.
//!
//! Input: scratch directories built per test. Output: assertions on digests, on what the cache
//! remembers, and on tar entries read back. Invariant: no test touches the real cache directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use super::testdir::TestDir;
use super::tests::{copy, open};
use super::{BuildContext, Chmod, ContextError, DestState, Destination, SourceSet, TarOptions};

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
    // Digests of files changed within the racy window are never remembered.
    std::thread::sleep(Duration::from_nanos(
        super::digest::RACY_WINDOW_NS as u64 + 20_000_000,
    ));
    let root = dir.path().join("ctx");
    let build = |cache: Option<std::path::PathBuf>| {
        let ctx = BuildContext::open_with_cache(&root, None, cache).unwrap();
        let digest = ctx
            .digest(&ctx.resolve(&copy(&["f.txt"])).unwrap())
            .unwrap();
        ctx.save_digests("test-").unwrap();
        digest
    };
    let first = build(Some(cache_file.clone()));
    assert!(
        cache_file.exists(),
        "the cache file and its directory are created"
    );
    // Forge the remembered digest: an unchanged file is not read again, so the forgery shows.
    let mut cache: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache_file).unwrap()).unwrap();
    cache["entries"]["f.txt"]["sha256"] = serde_json::json!("0".repeat(64));
    std::fs::write(&cache_file, cache.to_string()).unwrap();
    assert_ne!(
        build(Some(cache_file.clone())),
        first,
        "the remembered digest is used, the file not read"
    );
    std::fs::remove_file(&cache_file).unwrap();
    assert_eq!(build(Some(cache_file.clone())), first);
    // An in-place edit that keeps size and mtime still changes the ctime: it is noticed.
    sneaky_rewrite(&root.join("f.txt"), "bbbb", old);
    let rewritten = build(Some(cache_file.clone()));
    assert_ne!(rewritten, first, "the rewrite is noticed");
    assert_eq!(
        rewritten,
        build(None),
        "and the new content is what is digested"
    );
    // A garbage cache file is ignored, not an error.
    std::fs::write(&cache_file, "not json").unwrap();
    assert_eq!(build(Some(cache_file)), rewritten);
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
        ctx.save_digests("test-").unwrap();
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

#[test]
fn a_file_changed_after_it_was_listed_is_neither_digested_nor_copied() {
    // The same size, new content: replaced by a rename (a new inode) or rewritten in place.
    for replace in [true, false] {
        let dir = TestDir::new();
        dir.file("data", "AAAA");
        let ctx = open(&dir);
        let set = ctx.resolve(&copy(&["data"])).unwrap();
        let path = dir.path().join("data");
        if replace {
            std::fs::write(dir.path().join("data.new"), "BBBB").unwrap();
            std::fs::rename(dir.path().join("data.new"), &path).unwrap();
        } else {
            std::thread::sleep(Duration::from_millis(10));
            std::fs::write(&path, "BBBB").unwrap();
        }
        let digest = ctx.digest(&set);
        assert!(
            matches!(digest, Err(ContextError::ChangedDuringBuild { .. })),
            "digest of a changed file: {digest:?}"
        );
        let written = ctx.write_tar(
            &set,
            &dest("/d/", DestState::Missing),
            &TarOptions::default(),
            Vec::new(),
        );
        assert!(
            matches!(written, Err(ContextError::ChangedDuringBuild { .. })),
            "copy of a changed file: {:?}",
            written.map(|_| ())
        );
    }
}
