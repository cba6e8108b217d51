//! One built image of a differential case read once (every file with its content, and the
//! config), and how it misses the case's own expectations.
//!
//! Input: an image tag in the local engine; a case's [`Expectations`].
//! Output: a [`Snapshot`]; the problems, one line each, the expectations' source first.
//! Invariant: an expectation is checked exactly as written (a file's kind, mode, owner, link,
//! content or absence; a config field's JSON value); nothing is loosened.

use std::collections::BTreeMap;

use crate::case::{Expectations, ExpectedFile};
use crate::support;
use crate::support::image_config;
use crate::support::snapshot::filesystem_with_contents;

/// One built image, read once: files with contents, and the config.
pub struct Snapshot {
    /// Every file of the image by path (without the leading `/`).
    pub files: BTreeMap<String, support::FileEntry>,
    contents: BTreeMap<String, Vec<u8>>,
    /// The image's config as the engine shows it.
    pub config: serde_json::Value,
}

impl Snapshot {
    /// Reads the files, their contents and the config of `image`.
    pub fn of(image: &str) -> Snapshot {
        let mut contents = BTreeMap::new();
        let files = filesystem_with_contents(None, image, Some(&mut contents));
        Snapshot {
            files,
            contents,
            config: image_config(None, image),
        }
    }
}

/// How `snapshot` misses the expectations, one line each (the expectations' source first);
/// the config fields in `skip` are not checked.
pub fn expectation_problems(
    expect: &Expectations,
    snapshot: &Snapshot,
    skip: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, want) in &expect.files {
        let key = path.trim_start_matches('/');
        let have = snapshot.files.get(key);
        problems.extend(file_problems(path, want, have, snapshot.contents.get(key)));
    }
    for (field, want) in expect.config.iter().filter(|(f, _)| !skip.contains(f)) {
        let have = snapshot.config["Config"].get(field);
        if have != Some(want) {
            problems.push(format!(
                "Config.{field} is {}, expected {want}",
                have.map_or("missing".to_string(), |v| v.to_string())
            ));
        }
    }
    if !problems.is_empty() {
        problems.insert(0, format!("expectations from {}:", expect.source));
    }
    problems
}

fn file_problems(
    path: &str,
    want: &ExpectedFile,
    have: Option<&support::FileEntry>,
    content: Option<&Vec<u8>>,
) -> Vec<String> {
    let Some(have) = have else {
        return if want.absent {
            Vec::new()
        } else {
            vec![format!("  {path} is missing")]
        };
    };
    if want.absent {
        return vec![format!("  {path} exists ({have}) but must not")];
    }
    let mut problems = Vec::new();
    if let Some(kind) = want.kind {
        if kind != have.kind {
            problems.push(format!(
                "  {path} is of kind {}, expected {kind}",
                have.kind
            ));
        }
    }
    if let Some(mode) = &want.mode {
        if u32::from_str_radix(mode, 8).ok() != Some(have.mode) {
            problems.push(format!(
                "  {path} has mode {:04o}, expected {mode}",
                have.mode
            ));
        }
    }
    if let Some(owner) = &want.owner {
        let actual = format!("{}:{}", have.uid, have.gid);
        if &actual != owner {
            problems.push(format!("  {path} is owned by {actual}, expected {owner}"));
        }
    }
    if let Some(link) = &want.link {
        if link != &have.link {
            problems.push(format!(
                "  {path} links to {:?}, expected {link:?}",
                have.link
            ));
        }
    }
    if let Some(expected) = &want.content {
        let actual = content.map(|c| String::from_utf8_lossy(c).into_owned());
        if actual.as_deref() != Some(expected.as_str()) {
            problems.push(format!(
                "  {path} contains {actual:?}, expected {expected:?}"
            ));
        }
    }
    problems
}
