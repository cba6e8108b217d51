//! The leak report: what ships in a target image that a multi-stage build exists to keep out.
//! Files that came from the build context (the sources ship), a base that the same Dockerfile
//! also builds in (the toolchain ships), and the directories the image adds over its base.
//!
//! Input: the plan (stage edges, targets), per stage the facts the build recorded
//! ([`StageFacts`]), the context files the build copied (by sha256), and the files the target's
//! own layers add ([`Listing`]). Output: [`Leak`] warnings and the biggest added directories.
//! Invariant: pure functions; a context file is recognised by its content (sha256), wherever the
//! image keeps it and however it got there; the stage relations come from the plan's edges.

use std::collections::{BTreeMap, BTreeSet};

use planner::plan::{EdgeKind, Source};
use planner::Plan;

use super::layers::Listing;
use super::recorder::{ContextFile, StageFacts};
use super::types::{DirSize, Leak, LeakKind};

/// How many paths a context-file warning lists.
const MAX_PATHS: usize = 20;

/// How many directories the report lists.
pub const TOP_DIRS: usize = 10;

/// A directory whose bytes are mostly (this share or more) in one subdirectory is left out of
/// the biggest directories in favour of that subdirectory.
const ONE_CHILD_SHARE: f64 = 0.9;

/// The stages a stage is built on, nearest first (the stage itself excluded).
fn base_chain(plan: &Plan, stage: usize) -> Vec<usize> {
    let mut chain = Vec::new();
    let mut at = stage;
    while let Some(Source::Stage { stage: parent }) = plan.stages.get(at).map(|s| &s.base) {
        if chain.contains(parent) || *parent == stage {
            break;
        }
        chain.push(*parent);
        at = *parent;
    }
    chain
}

/// The needed stages that copy files from (or mount) `stage`.
fn readers_of(plan: &Plan, stage: usize) -> Vec<usize> {
    plan.stages
        .iter()
        .filter(|s| s.needed && s.index != stage)
        .filter(|s| {
            s.edges.iter().any(|e| {
                matches!(e.kind, EdgeKind::Copy | EdgeKind::Mount)
                    && e.source == Source::Stage { stage }
            })
        })
        .map(|s| s.index)
        .collect()
}

/// A target based on a stage or image that the Dockerfile also builds in: a base stage that
/// other stages copy build output from, an image that a builder stage starts from, or the
/// target compiling in its own image (a RUN that added files after a context copy).
pub fn builder_base(
    plan: &Plan,
    facts: &BTreeMap<usize, StageFacts>,
    target: usize,
) -> Option<Leak> {
    let stage = plan.stages.get(target)?;
    let name = &stage.display_name;
    let chain = base_chain(plan, target);
    for base in &chain {
        let readers: Vec<usize> = readers_of(plan, *base)
            .into_iter()
            .filter(|r| *r != target && !chain.contains(r))
            .collect();
        if let Some(reader) = readers.first() {
            let base_name = &plan.stages[*base].display_name;
            let reader_name = &plan.stages[*reader].display_name;
            return Some(leak(
                target,
                stage.location.line,
                format!(
                    "target stage \"{name}\" is based on stage \"{base_name}\", which stage \"{reader_name}\" copies build output from: the toolchain of \"{base_name}\" ships in the image; start \"{name}\" from a runtime image and COPY --from=\"{base_name}\" only what it needs"
                ),
            ));
        }
    }
    let own = facts.get(&target)?;
    if let Some(root) = &own.root_image {
        let in_chain: BTreeSet<usize> = chain.iter().copied().chain([target]).collect();
        for builder in plan
            .stages
            .iter()
            .filter(|s| s.needed && !in_chain.contains(&s.index))
        {
            let same_root = facts
                .get(&builder.index)
                .is_some_and(|f| f.root_image.as_ref() == Some(root));
            let copied = !readers_of(plan, builder.index).is_empty();
            if same_root && copied {
                let image = own.root_reference.clone().unwrap_or_else(|| root.clone());
                return Some(leak(
                    target,
                    stage.location.line,
                    format!(
                        "target stage \"{name}\" is based on {image}, which stage \"{}\" builds in: its toolchain ships in the image; start \"{name}\" from a runtime image and COPY --from=\"{}\" only what it needs",
                        builder.display_name, builder.display_name
                    ),
                ));
            }
        }
    }
    let (Some(compile), Some(copy)) = (own.compile_line, own.context_copy_line) else {
        return None;
    };
    let image = own
        .root_reference
        .clone()
        .unwrap_or_else(|| "its base".to_string());
    Some(leak(
        target,
        compile,
        format!(
            "target stage \"{name}\" builds in its own image (the RUN on line {compile} works on sources copied on line {copy}): the toolchain of {image} ships in the image; build in a separate stage and COPY --from it only the output"
        ),
    ))
}

fn leak(stage: usize, line: u32, message: String) -> Leak {
    Leak {
        kind: LeakKind::BuilderBase,
        stage,
        message,
        line,
        paths: Vec::new(),
        count: 0,
        bytes: 0,
    }
}

/// Files of the target's added layers whose content is a context file the build copied.
pub fn context_files(
    listing: &Listing,
    copied: &BTreeMap<String, ContextFile>,
    target: usize,
    target_name: &str,
    line: u32,
) -> Option<Leak> {
    let shipped: Vec<(&String, u64, &ContextFile)> = listing
        .files
        .iter()
        .filter(|(_, file)| file.size > 0)
        .filter_map(|(path, file)| {
            let sha = file.sha256.as_ref()?;
            copied.get(sha).map(|context| (path, file.size, context))
        })
        .collect();
    if shipped.is_empty() {
        return None;
    }
    let count = shipped.len();
    let bytes = shipped.iter().map(|(_, size, _)| size).sum();
    let paths: Vec<String> = shipped
        .iter()
        .take(MAX_PATHS)
        .map(|(path, _, _)| path.to_string())
        .collect();
    let names: Vec<String> = shipped
        .iter()
        .take(3)
        .map(|(path, _, context)| {
            if path.trim_start_matches('/').ends_with(context.rel.as_str()) {
                path.to_string()
            } else {
                format!("{path} = {}", context.rel)
            }
        })
        .collect();
    let more = if count > names.len() {
        format!(" and {} more", count - names.len())
    } else {
        String::new()
    };
    let files = if count == 1 { "file" } else { "files" };
    let ship = if count == 1 { "ships" } else { "ship" };
    Some(Leak {
        kind: LeakKind::ContextFiles,
        stage: target,
        message: format!(
            "{count} {files} from the build context {ship} in target stage \"{target_name}\" ({}{more}): copy sources into a build stage and COPY --from it only what the image needs",
            names.join(", ")
        ),
        line,
        paths,
        count,
        bytes,
    })
}

/// Bytes the added layers hold.
pub fn added_bytes(listing: &Listing) -> u64 {
    listing.files.values().map(|f| f.size).sum()
}

/// The biggest directories the added layers fill, biggest first. A directory whose bytes are
/// nearly all in one subdirectory gives way to it, a subdirectory holding less than half of its
/// nearest listed ancestor's bytes is left to that ancestor, and `/` is never listed.
pub fn biggest_dirs(listing: &Listing, top: usize) -> Vec<DirSize> {
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut children: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (path, file) in &listing.files {
        let mut dir = parent(path);
        let mut child: Option<String> = None;
        while let Some(current) = dir {
            let total = totals.entry(current.to_string()).or_default();
            total.0 += file.size;
            total.1 += 1;
            if let Some(child) = &child {
                *children
                    .entry(current.to_string())
                    .or_default()
                    .entry(child.clone())
                    .or_default() += file.size;
            }
            child = Some(current.to_string());
            dir = parent(current);
        }
    }
    let candidates: BTreeMap<&String, (u64, u64)> = totals
        .iter()
        .filter(|(path, _)| path.as_str() != "/")
        .filter(|(path, (bytes, _))| {
            let biggest_child = children
                .get(path.as_str())
                .and_then(|c| c.values().max().copied())
                .unwrap_or(0);
            *bytes == 0 || (biggest_child as f64) < ONE_CHILD_SHARE * (*bytes as f64)
        })
        .map(|(path, total)| (path, *total))
        .collect();
    let mut dirs: Vec<DirSize> = candidates
        .iter()
        .filter(|(path, (bytes, _))| {
            let mut up = parent(path);
            while let Some(ancestor) = up {
                if let Some((ancestor_bytes, _)) = candidates.get(&ancestor.to_string()) {
                    return 2 * bytes >= *ancestor_bytes;
                }
                up = parent(ancestor);
            }
            true
        })
        .map(|(path, (bytes, files))| DirSize {
            path: path.to_string(),
            bytes: *bytes,
            files: *files,
        })
        .collect();
    dirs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    dirs.truncate(top);
    dirs
}

fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(slash) => Some(&path[..slash]),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::layers::AddedFile;

    fn plan(text: &str) -> Plan {
        planner::plan(text, &planner::Options::default())
            .plan
            .expect("plan")
    }

    /// (stage, root image, first context copy line, first compiling RUN line)
    type Fact<'a> = (usize, Option<&'a str>, Option<u32>, Option<u32>);

    fn facts(entries: &[Fact]) -> BTreeMap<usize, StageFacts> {
        entries
            .iter()
            .map(|(index, root, copy, compile)| {
                (
                    *index,
                    StageFacts {
                        root_image: root.map(str::to_string),
                        root_reference: root.map(|r| format!("ref-{r}")),
                        context_copy_line: *copy,
                        compile_line: *compile,
                        image: None,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_target_on_a_stage_others_copy_from_ships_its_toolchain() {
        let plan = plan(
            "FROM golang AS build\nRUN go build\nFROM busybox AS pack\nCOPY --from=build /app /\nFROM build AS final\nCOPY --from=pack /app /x\n",
        );
        let leak = builder_base(&plan, &facts(&[]), 2).expect("leak");
        assert_eq!(leak.line, 5);
        assert!(
            leak.message.starts_with(
                "target stage \"final\" is based on stage \"build\", which stage \"pack\" copies"
            ),
            "{}",
            leak.message
        );
    }

    #[test]
    fn a_target_on_the_builders_image_ships_its_toolchain() {
        let plan =
            plan("FROM golang AS build\nRUN go build\nFROM golang\nCOPY --from=build /app /app\n");
        let found = builder_base(
            &plan,
            &facts(&[(0, Some("g"), None, None), (1, Some("g"), None, None)]),
            1,
        )
        .expect("leak");
        assert!(
            found
                .message
                .contains("based on ref-g, which stage \"build\" builds in"),
            "{}",
            found.message
        );
        let other = facts(&[(0, Some("g"), None, None), (1, Some("r"), None, None)]);
        assert_eq!(builder_base(&plan, &other, 1), None);
    }

    #[test]
    fn a_target_that_compiles_its_sources_ships_its_toolchain() {
        let plan = plan("FROM golang\nCOPY app.go .\nRUN go build\n");
        let found =
            builder_base(&plan, &facts(&[(0, Some("g"), Some(2), Some(3))]), 0).expect("leak");
        assert_eq!(found.line, 3);
        assert!(found.message.contains(
            "builds in its own image (the RUN on line 3 works on sources copied on line 2)"
        ));
        assert_eq!(
            builder_base(&plan, &facts(&[(0, Some("g"), Some(2), None)]), 0),
            None
        );
    }

    fn listing(files: &[(&str, u64, Option<&str>)]) -> Listing {
        Listing {
            files: files
                .iter()
                .map(|(path, size, sha)| {
                    (
                        path.to_string(),
                        AddedFile {
                            size: *size,
                            sha256: sha.map(str::to_string),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn context_files_are_found_by_content() {
        let files = listing(&[
            ("/src/app.go", 10, Some("aa")),
            ("/src/app", 99, None),
            ("/etc/x", 10, Some("bb")),
        ]);
        let copied: BTreeMap<String, ContextFile> = [(
            "aa".to_string(),
            ContextFile {
                rel: "app.go".into(),
                size: 10,
            },
        )]
        .into();
        let leak = context_files(&files, &copied, 0, "app", 4).expect("leak");
        assert_eq!(leak.paths, vec!["/src/app.go"]);
        assert_eq!((leak.count, leak.bytes), (1, 10));
        assert!(
            leak.message.starts_with(
                "1 file from the build context ships in target stage \"app\" (/src/app.go)"
            ),
            "{}",
            leak.message
        );
        assert_eq!(context_files(&files, &BTreeMap::new(), 0, "app", 4), None);
    }

    #[test]
    fn the_biggest_directories_skip_single_child_parents() {
        let files = listing(&[
            ("/go/src/app/app", 1000, None),
            ("/go/src/app/main.go", 10, None),
            ("/root/.cache/build/00/a", 400, None),
            ("/root/.cache/build/01/b", 200, None),
            ("/tmp/x", 5, None),
        ]);
        let dirs: Vec<(String, u64)> = biggest_dirs(&files, 10)
            .into_iter()
            .map(|d| (d.path, d.bytes))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("/go/src/app".to_string(), 1010),
                ("/root/.cache/build".to_string(), 600),
                ("/root/.cache/build/00".to_string(), 400),
                ("/tmp".to_string(), 5),
            ]
        );
        assert_eq!(added_bytes(&files), 1615);
    }
}
