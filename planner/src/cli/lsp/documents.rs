//! The documents the editor has open, what the planner computed for each, and the settings
//! (targets, build args, platform) every computation uses.
//!
//! Input: document texts from `didOpen`/`didChange`, settings from `initializationOptions` and
//! `didChangeConfiguration`, and for a `file:` document the `.dockerignore` BuildKit would apply
//! to it (read when it is opened and when the settings change). Output: one [`Analysis`] per
//! open document.
//! Invariant: the planner runs once per text and settings (on open, change or new settings),
//! never per request; requests read the stored analysis.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use planner::{ContextFiles, Diagnostic, Options, Outline};

use crate::cli::input::{default_context, read_dockerignore};

/// The planning options the server uses: `initializationOptions` or the `stageplan` section of
/// the workspace settings, with the names of plan JSON (`targets`, `build_args`, `platform`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Target stages (none: the last stage).
    pub targets: Vec<String>,
    /// Build arguments.
    pub build_args: BTreeMap<String, String>,
    /// Target platform, `os/arch[/variant]`.
    pub platform: Option<String>,
}

impl Settings {
    /// Settings from a JSON value: the object itself or its `stageplan` member; `None` when
    /// the value does not describe settings (an unknown shape is reported, not guessed).
    pub fn from_value(value: &Value) -> Result<Option<Settings>, String> {
        let section = match value.get("stageplan") {
            Some(section) => section,
            None if value.is_object() => value,
            None => return Ok(None),
        };
        serde_json::from_value(section.clone())
            .map(Some)
            .map_err(|e| format!("invalid stageplan settings: {e}; expected {{ targets?: string[], build_args?: {{ [name]: string }}, platform?: string }}"))
    }

    /// The planner options.
    pub fn options(&self) -> Options {
        Options {
            targets: self.targets.clone(),
            build_args: self.build_args.clone(),
            platform: self.platform.clone().filter(|p| !p.is_empty()),
            build_platform: None,
            dockerfile: None,
        }
    }
}

/// Byte offsets of line starts, for converting between LSP positions (0-based line, UTF-16
/// column) and byte offsets of the text.
#[derive(Debug, Clone)]
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    /// Indexes `text`.
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(idx, _)| idx + 1));
        Lines { starts }
    }

    /// The text of 0-based line `line` without its line end ("" past the end).
    pub fn line<'a>(&self, text: &'a str, line: u32) -> &'a str {
        let Some(start) = self.starts.get(line as usize).copied() else {
            return "";
        };
        let end = self
            .starts
            .get(line as usize + 1)
            .copied()
            .unwrap_or(text.len());
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// The byte offset of 0-based `line` and UTF-16 column `character` (clamped to the line).
    pub fn offset(&self, text: &str, line: u32, character: u32) -> usize {
        let Some(start) = self.starts.get(line as usize).copied() else {
            return text.len();
        };
        let mut units = 0;
        for (idx, ch) in self.line(text, line).char_indices() {
            if units >= character {
                return start + idx;
            }
            units += ch.len_utf16() as u32;
        }
        start + self.line(text, line).len()
    }

    /// The 0-based line and UTF-16 column of byte `offset`.
    pub fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(idx) => idx,
            Err(idx) => idx - 1,
        };
        let start = self.starts[line];
        let prefix = text.get(start..offset.min(text.len())).unwrap_or("");
        (line as u32, prefix.encode_utf16().count() as u32)
    }

    /// The UTF-16 column of 1-based scalar `column` on 1-based `line` (plan `Location`s count
    /// Unicode scalars).
    pub fn utf16_column(&self, text: &str, line: u32, column: u32) -> u32 {
        self.line(text, line.saturating_sub(1))
            .chars()
            .take(column.saturating_sub(1) as usize)
            .map(|ch| ch.len_utf16() as u32)
            .sum()
    }
}

/// What the planner computed for one version of a document.
pub struct Analysis {
    /// `planner::check_with` with the settings: what the editor shows as diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// `planner::outline` with the settings: stages, references, targets and waves.
    pub outline: Outline,
    /// Line starts of the text.
    pub lines: Lines,
}

/// The `.dockerignore` BuildKit would apply to the Dockerfile at `uri` (`<Dockerfile>.dockerignore`,
/// else `.dockerignore` in its folder, the build context an editor assumes); none for a URI
/// that is not a `file:` path or when the file is missing or unreadable.
pub fn context_files(uri: &str) -> ContextFiles {
    let Some(encoded) = uri.strip_prefix("file://") else {
        return ContextFiles::default();
    };
    let Ok(path) = percent_encoding::percent_decode_str(encoded).decode_utf8() else {
        return ContextFiles::default();
    };
    let found = read_dockerignore(&path, &default_context(&path));
    ContextFiles {
        dockerignore: found.ok().flatten().map(|(_, text)| text),
    }
}

/// One open document.
pub struct Document {
    /// The version the editor gave.
    pub version: i32,
    /// The full text.
    pub text: String,
    /// The build-context files the checks read.
    pub files: ContextFiles,
    /// The planner's results for `text`.
    pub analysis: Analysis,
}

impl Document {
    /// A document with its analysis.
    pub fn new(version: i32, text: String, settings: &Settings, files: ContextFiles) -> Document {
        let analysis = analyse(&text, settings, &files);
        Document {
            version,
            text,
            files,
            analysis,
        }
    }

    /// Recomputes the analysis (new settings, or the `.dockerignore` read again).
    pub fn reanalyse(&mut self, settings: &Settings, files: ContextFiles) {
        self.files = files;
        self.analysis = analyse(&self.text, settings, &self.files);
    }
}

fn analyse(text: &str, settings: &Settings, files: &ContextFiles) -> Analysis {
    let options = settings.options();
    Analysis {
        diagnostics: planner::check_with_context(text, &options, files),
        outline: planner::outline_with_context(text, &options, files),
        lines: Lines::new(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_in_utf16() {
        let text = "FROM a\nRUN é😀x\n";
        let lines = Lines::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(text, x), (1, 7));
        assert_eq!(lines.offset(text, 1, 7), x);
        assert_eq!(lines.offset(text, 1, 99), text.len() - 1);
        assert_eq!(lines.utf16_column(text, 2, 7), 7);
        assert_eq!(lines.line(text, 5), "");
    }

    #[test]
    fn settings_shapes() {
        let value =
            serde_json::json!({"stageplan": {"targets": ["prod"], "platform": "linux/arm64"}});
        let settings = Settings::from_value(&value).unwrap().unwrap();
        assert_eq!(settings.targets, vec!["prod"]);
        assert!(Settings::from_value(&serde_json::json!({"targets": "prod"})).is_err());
        assert_eq!(Settings::from_value(&Value::Null).unwrap(), None);
    }
}
