//! A cache-miss reason as one short phrase, as `--progress plain` and `tty` show it after a step
//! (`#3 RUN go build -o app .  (cache miss: app.go changed)`) and the record keeps as `miss_text`.
//!
//! Input: a [`MissReason`]. Output: the phrase.
//! Invariant: a pure function; a reason that came through an earlier step reads as its cause.

use super::types::{FileChange, MissReason};

/// The reason as one short phrase for progress output (`app.go changed`).
pub fn phrase(reason: &MissReason) -> String {
    match reason {
        MissReason::FirstBuild => "first build".to_string(),
        MissReason::NoCache => "--no-cache".to_string(),
        MissReason::ContextFile { path, change, more } => {
            let what = match change {
                FileChange::Added => "added",
                FileChange::Removed => "removed",
                FileChange::Changed => "changed",
            };
            match more {
                0 => format!("{path} {what}"),
                1 => format!("{path} {what}, and 1 more file"),
                n => format!("{path} {what}, and {n} more files"),
            }
        }
        MissReason::BuildArg { name } => format!("build arg {name} changed"),
        MissReason::Env { name } => format!("ENV {name} changed"),
        MissReason::BaseImage {
            image,
            previous_image: Some(previous),
        } => format!("base image {previous} -> {image}"),
        MissReason::BaseImage { image, .. } => format!("base image {image} changed"),
        MissReason::SourceImage { image } => format!("image {image} changed"),
        MissReason::Stage {
            name,
            cause: Some(cause),
            ..
        } => format!("stage {name} changed: {}", phrase(cause)),
        MissReason::Stage { name, .. } => format!("stage {name} changed"),
        MissReason::EarlierStep { cause, .. } => phrase(cause),
        MissReason::Instruction { field } => match field.as_str() {
            "text" => "instruction changed".to_string(),
            "from" => "FROM changed".to_string(),
            "workdir" | "dir" => "WORKDIR changed".to_string(),
            "user" => "USER changed".to_string(),
            "argv" => "SHELL changed".to_string(),
            "heredoc" => "heredoc changed".to_string(),
            other => format!("{other} changed"),
        },
        MissReason::Download { name } => format!("download {name} changed"),
        MissReason::Mount => "a --mount source changed".to_string(),
        MissReason::CacheEvicted => "cache entry removed".to_string(),
        MissReason::CommittedWithRun { step, .. } => format!("committed with #{step}"),
        MissReason::CacheFormat => "runner cache format changed".to_string(),
    }
}
