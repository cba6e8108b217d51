//! Why a step's cache key differs from the last build of the same stage and step: the first
//! named input of the key that differs, told in the user's terms (a context file by path, a
//! build argument by name, the base image, the instruction, an earlier step, a stage it reads),
//! (the short phrase progress output shows is in [`super::phrase`]).
//!
//! Input: the remembered step ([`StepMemory`]), the step's key fields and instruction text now,
//! and what changed before it ([`Links`]). Output: a [`MissReason`], or none when every input is
//! the same.
//! Invariant: a pure function; fields are compared in key order (the parent key first, then the
//! instruction, then its resolved inputs), so the reason is the first difference; a reason that
//! comes through an earlier step or a stage names its root cause, never a chain of wrappers.

use std::collections::BTreeMap;

use super::memory::{KeyField, KeyPart, RootMemory, StepMemory};
use super::types::{FileChange, MissReason};

/// What changed before a step, for reasons that come through it.
pub struct Links<'a> {
    /// The step before it in the stage (number and line); `None` for the first step.
    pub before_step: Option<(usize, u32)>,
    /// What changed at the step before (for the first step: the stage's starting point).
    pub before: Option<&'a MissReason>,
    /// The display name and change of a stage the step reads, by index.
    pub stage: &'a dyn Fn(usize) -> Option<(String, Option<MissReason>)>,
}

/// The first input of the step's key that differs from `previous`, or `None`.
pub fn compare(
    previous: &StepMemory,
    fields: &[KeyField],
    text: &str,
    links: &Links,
) -> Option<MissReason> {
    let mut fields_now = fields.iter();
    let mut fields_then = previous.fields.iter();
    // The parent key and the step kind come first.
    for _ in 0..2 {
        let (now, then) = (fields_now.next(), fields_then.next());
        match (now, then) {
            (Some(now), Some(then)) if now == then => {}
            (Some(now), _) if now.name == "parent" => return Some(through_parent(links)),
            _ => return Some(instruction("text")),
        }
    }
    if previous.text != text {
        return Some(instruction("text"));
    }
    let then_by_name: Vec<&KeyField> = fields_then.collect();
    for (position, now) in fields_now.enumerate() {
        let Some(then) = then_by_name.get(position) else {
            return Some(instruction(&now.name));
        };
        if then.name != now.name {
            return Some(instruction(&now.name));
        }
        if then.digest != now.digest || then.parts != now.parts {
            return Some(classify(now, then, links));
        }
    }
    if then_by_name.len() > fields.len().saturating_sub(2) {
        return Some(instruction("text"));
    }
    None
}

/// Why the stage's starting point differs from the last build's, or `None`.
pub fn compare_root(
    previous: &RootMemory,
    now: &RootMemory,
    base_stage: Option<(usize, String, Option<MissReason>)>,
) -> Option<MissReason> {
    if previous.cache_format != now.cache_format {
        return Some(MissReason::CacheFormat);
    }
    if previous.kind == now.kind && previous.value == now.value {
        return None;
    }
    Some(match (now.kind.as_str(), base_stage) {
        ("stage", Some((stage, name, cause))) => MissReason::Stage {
            stage,
            name,
            cause: cause.map(|c| Box::new(root_cause(c))),
        },
        ("image", _) => MissReason::BaseImage {
            image: now.image.clone().unwrap_or_default(),
            previous_image: previous
                .image
                .clone()
                .filter(|then| Some(then) != now.image.as_ref()),
        },
        _ => instruction("from"),
    })
}

/// A reason without the wrapper of the earlier step it came through.
pub fn root_cause(reason: MissReason) -> MissReason {
    match reason {
        MissReason::EarlierStep { cause, .. } => *cause,
        other => other,
    }
}

fn instruction(field: &str) -> MissReason {
    MissReason::Instruction {
        field: field.to_string(),
    }
}

/// The parent key differs: the stage's starting point (first step) or an earlier step.
fn through_parent(links: &Links) -> MissReason {
    let Some((step, line)) = links.before_step else {
        return links.before.cloned().unwrap_or_else(|| instruction("from"));
    };
    match links.before {
        Some(reason @ MissReason::EarlierStep { .. }) => reason.clone(),
        Some(reason) => MissReason::EarlierStep {
            step,
            line,
            cause: Box::new(reason.clone()),
        },
        None => MissReason::EarlierStep {
            step,
            line,
            cause: Box::new(instruction("text")),
        },
    }
}

/// Names the difference in one field.
fn classify(now: &KeyField, then: &KeyField, links: &Links) -> MissReason {
    match now.name.as_str() {
        "env" => match first_part_difference(&now.parts, &then.parts) {
            Some(label) => variable(label),
            None => instruction("env"),
        },
        "hostname" => MissReason::BuildArg {
            name: "BUILDKIT_SANDBOX_HOSTNAME".to_string(),
        },
        "origin" => origin(now, then, links),
        "download" | "sha256" => MissReason::Download {
            name: now
                .parts
                .first()
                .map(|p| p.label.clone())
                .unwrap_or_default(),
        },
        "mounts" => mount(now, then, links),
        "heredoc" | "body" => instruction("heredoc"),
        other => instruction(other),
    }
}

fn variable(label: &str) -> MissReason {
    match label.split_once(':') {
        Some(("arg", name)) => MissReason::BuildArg {
            name: name.to_string(),
        },
        Some((_, name)) => MissReason::Env {
            name: name.to_string(),
        },
        None => MissReason::Env {
            name: label.to_string(),
        },
    }
}

/// What a COPY/ADD copies: context files, a stage or an image.
fn origin(now: &KeyField, then: &KeyField, links: &Links) -> MissReason {
    let kind_of = |field: &KeyField| {
        field
            .parts
            .first()
            .and_then(|p| p.label.split_once(':'))
            .map(|(kind, rest)| (kind.to_string(), rest.to_string()))
    };
    match (kind_of(now), kind_of(then)) {
        (Some((kind, stage)), _) if kind == "stage" => {
            let index = stage.parse().unwrap_or(usize::MAX);
            stage_reason(index, links)
        }
        (Some((kind, image)), _) if kind == "image" => MissReason::SourceImage { image },
        (Some((kind, _)), _) | (None, Some((kind, _))) if kind == "file" => {
            files(&now.parts, &then.parts)
        }
        _ => instruction("origin"),
    }
}

fn stage_reason(index: usize, links: &Links) -> MissReason {
    match (links.stage)(index) {
        Some((name, cause)) => MissReason::Stage {
            stage: index,
            name,
            cause: cause.map(|c| Box::new(root_cause(c))),
        },
        None => instruction("origin"),
    }
}

/// A RUN's mounts: a stage it mounts changed, or a mount's source or options.
fn mount(now: &KeyField, then: &KeyField, links: &Links) -> MissReason {
    for part in &now.parts {
        if let Some(index) = part.label.strip_prefix("stage:") {
            let index: usize = index.parse().unwrap_or(usize::MAX);
            let before = then.parts.iter().find(|p| p.label == part.label);
            if before.map(|p| &p.digest) != Some(&part.digest) {
                return stage_reason(index, links);
            }
        }
    }
    MissReason::Mount
}

/// The first context file (in copy order) that differs, and how many more do.
fn files(now: &[KeyPart], then: &[KeyPart]) -> MissReason {
    let strip = |label: &str| label.strip_prefix("file:").unwrap_or(label).to_string();
    let before: BTreeMap<&str, &str> = then
        .iter()
        .map(|p| (p.label.as_str(), p.digest.as_str()))
        .collect();
    let after: BTreeMap<&str, &str> = now
        .iter()
        .map(|p| (p.label.as_str(), p.digest.as_str()))
        .collect();
    let mut differences: Vec<(String, FileChange)> = Vec::new();
    for part in now {
        match before.get(part.label.as_str()) {
            None => differences.push((strip(&part.label), FileChange::Added)),
            Some(digest) if *digest != part.digest => {
                differences.push((strip(&part.label), FileChange::Changed))
            }
            Some(_) => {}
        }
    }
    for part in then {
        if !after.contains_key(part.label.as_str()) {
            differences.push((strip(&part.label), FileChange::Removed));
        }
    }
    match differences.first() {
        Some((path, change)) => MissReason::ContextFile {
            path: path.clone(),
            change: *change,
            more: differences.len() - 1,
        },
        None => instruction("origin"),
    }
}

/// The first part (in `now`'s order, then `then`'s) whose digest differs or that only one
/// side has.
fn first_part_difference<'a>(now: &'a [KeyPart], then: &'a [KeyPart]) -> Option<&'a str> {
    let before: BTreeMap<&str, &str> = then
        .iter()
        .map(|p| (p.label.as_str(), p.digest.as_str()))
        .collect();
    for part in now {
        if before.get(part.label.as_str()) != Some(&part.digest.as_str()) {
            return Some(part.label.as_str());
        }
    }
    let after: BTreeMap<&str, &str> = now
        .iter()
        .map(|p| (p.label.as_str(), p.digest.as_str()))
        .collect();
    then.iter()
        .find(|p| !after.contains_key(p.label.as_str()))
        .map(|p| p.label.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::phrase::phrase;

    fn field(name: &str, digest: &str, parts: &[(&str, &str)]) -> KeyField {
        KeyField {
            name: name.to_string(),
            digest: digest.to_string(),
            parts: parts
                .iter()
                .map(|(label, digest)| KeyPart {
                    label: label.to_string(),
                    digest: digest.to_string(),
                })
                .collect(),
        }
    }

    fn memory(text: &str, fields: Vec<KeyField>) -> StepMemory {
        StepMemory {
            step: 2,
            text: text.to_string(),
            key: String::new(),
            fields,
            size_added: None,
        }
    }

    fn no_stage(_: usize) -> Option<(String, Option<MissReason>)> {
        None
    }

    fn links(before: Option<&MissReason>) -> Links<'_> {
        Links {
            before_step: Some((1, 3)),
            before,
            stage: &no_stage,
        }
    }

    fn run_fields(parent: &str, env: &[(&str, &str)]) -> Vec<KeyField> {
        vec![
            field("parent", parent, &[]),
            field("step", "run", &[]),
            field("argv", "a", &[]),
            field("env", "e", env),
            field("workdir", "w", &[]),
        ]
    }

    #[test]
    fn the_same_inputs_give_no_reason() {
        let fields = run_fields("p", &[("env:PATH", "1")]);
        let then = memory("RUN make", fields.clone());
        assert_eq!(compare(&then, &fields, "RUN make", &links(None)), None);
    }

    #[test]
    fn a_build_arg_and_an_env_variable_are_named() {
        let then = memory(
            "RUN make",
            run_fields("p", &[("env:PATH", "1"), ("arg:VERSION", "1")]),
        );
        let now = run_fields("p", &[("env:PATH", "1"), ("arg:VERSION", "2")]);
        let reason = compare(&then, &now, "RUN make", &links(None)).unwrap();
        assert_eq!(
            reason,
            MissReason::BuildArg {
                name: "VERSION".into()
            }
        );
        assert_eq!(phrase(&reason), "build arg VERSION changed");
        let now = run_fields("p", &[("env:PATH", "2"), ("arg:VERSION", "1")]);
        assert_eq!(
            phrase(&compare(&then, &now, "RUN make", &links(None)).unwrap()),
            "ENV PATH changed"
        );
    }

    #[test]
    fn the_instruction_text_comes_before_its_inputs() {
        let then = memory("RUN make", run_fields("p", &[]));
        let mut now = run_fields("p", &[]);
        now[2].digest = "b".into();
        assert_eq!(
            compare(&then, &now, "RUN make all", &links(None)),
            Some(instruction("text"))
        );
        assert_eq!(
            phrase(&compare(&then, &now, "RUN make", &links(None)).unwrap()),
            "SHELL changed"
        );
    }

    #[test]
    fn an_earlier_change_is_named_through_its_first_step() {
        let then = memory("RUN make", run_fields("p", &[]));
        let now = run_fields("q", &[]);
        let file = MissReason::ContextFile {
            path: "app.go".into(),
            change: FileChange::Changed,
            more: 0,
        };
        let reason = compare(&then, &now, "RUN make", &links(Some(&file))).unwrap();
        assert_eq!(
            reason,
            MissReason::EarlierStep {
                step: 1,
                line: 3,
                cause: Box::new(file.clone())
            }
        );
        assert_eq!(phrase(&reason), "app.go changed");
        // A later step keeps naming the first changed step.
        let later = compare(&then, &now, "RUN make", &links(Some(&reason))).unwrap();
        assert_eq!(later, reason);
    }

    #[test]
    fn context_files_are_named_by_path_in_copy_order() {
        let copy = |files: &[(&str, &str)]| {
            vec![
                field("parent", "p", &[]),
                field("step", "copy", &[]),
                field("dest", "d", &[]),
                field("origin", "o", files),
            ]
        };
        let then = memory(
            "COPY . .",
            copy(&[("file:a.go", "1"), ("file:b.go", "1"), ("file:c.go", "1")]),
        );
        let now = copy(&[("file:a.go", "1"), ("file:b.go", "2"), ("file:d.go", "1")]);
        let reason = compare(&then, &now, "COPY . .", &links(None)).unwrap();
        assert_eq!(
            reason,
            MissReason::ContextFile {
                path: "b.go".into(),
                change: FileChange::Changed,
                more: 2
            }
        );
        assert_eq!(phrase(&reason), "b.go changed, and 2 more files");
        let now = copy(&[("file:a.go", "1"), ("file:b.go", "1")]);
        assert_eq!(
            phrase(&compare(&then, &now, "COPY . .", &links(None)).unwrap()),
            "c.go removed"
        );
    }

    #[test]
    fn a_stage_read_by_copy_from_names_its_root_cause() {
        let copy = |stage_digest: &str| {
            vec![
                field("parent", "p", &[]),
                field("step", "copy", &[]),
                field("origin", stage_digest, &[("stage:0", stage_digest)]),
            ]
        };
        let then = memory("COPY --from=build /app /", copy("1"));
        let file = MissReason::ContextFile {
            path: "main.go".into(),
            change: FileChange::Changed,
            more: 0,
        };
        let changed = MissReason::EarlierStep {
            step: 2,
            line: 4,
            cause: Box::new(file.clone()),
        };
        let lookup =
            move |index: usize| (index == 0).then(|| ("build".to_string(), Some(changed.clone())));
        let links = Links {
            before_step: Some((1, 3)),
            before: None,
            stage: &lookup,
        };
        let reason = compare(&then, &copy("2"), "COPY --from=build /app /", &links).unwrap();
        assert_eq!(phrase(&reason), "stage build changed: main.go changed");
    }

    #[test]
    fn the_root_names_the_base_image_or_stage() {
        let root = |kind: &str, value: &str, image: Option<&str>| RootMemory {
            cache_format: 3,
            kind: kind.into(),
            value: value.into(),
            image: image.map(str::to_string),
        };
        let then = root("image", "sha256:1", Some("base:1"));
        assert_eq!(compare_root(&then, &then, None), None);
        let reason = compare_root(&then, &root("image", "sha256:2", Some("base:2")), None).unwrap();
        assert_eq!(phrase(&reason), "base image base:1 -> base:2");
        let reason = compare_root(&then, &root("image", "sha256:2", Some("base:1")), None).unwrap();
        assert_eq!(phrase(&reason), "base image base:1 changed");
        let mut newer = then.clone();
        newer.cache_format = 4;
        assert_eq!(
            compare_root(&then, &newer, None),
            Some(MissReason::CacheFormat)
        );
    }
}
