//! BuildKit's build checks (frontend/dockerfile/linter): the rules the planner reports, the
//! `# check=skip=...;error=...` configuration (file directive, per-instruction comment, or the
//! `BUILDKIT_DOCKERFILE_CHECK` build argument), and the sink that collects diagnostics.
//!
//! Input: diagnostics raised by the other modules with byte spans. Output: `Diagnostic`s
//! with positions, minus the skipped rules. Invariant: the rule names and URLs are BuildKit's.

use std::collections::BTreeSet;

use crate::diagnostics::{Diagnostic, Fix, LineIndex, Severity, Span, TextEdit};

/// A build check the planner implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// `AS` name not lower-case.
    StageNameCasing,
    /// Casing of `AS` differs from `FROM`.
    FromAsCasing,
    /// Blank line inside a continued instruction.
    NoEmptyContinuation,
    /// Keyword casing differs from the file's majority.
    ConsistentInstructionCasing,
    /// Two stages with the same name.
    DuplicateStageName,
    /// A stage named `scratch` or `context`.
    ReservedStageName,
    /// Shell-form `CMD`/`ENTRYPOINT`.
    JsonArgsRecommended,
    /// `MAINTAINER` used.
    MaintainerDeprecated,
    /// `FROM` uses an ARG that is not declared globally.
    UndefinedArgInFrom,
    /// Relative `WORKDIR` with no absolute one before it.
    WorkdirRelativePath,
    /// More than one `CMD`/`ENTRYPOINT`/`HEALTHCHECK` in a stage.
    MultipleInstructionsDisallowed,
    /// `ENV k v` / `LABEL k v` without `=`.
    LegacyKeyValueFormat,
    /// `FROM --platform=$TARGETPLATFORM`.
    RedundantTargetPlatform,
    /// Default ARG values give an empty or invalid base image name.
    InvalidDefaultArgInFrom,
    /// Constant `--platform` on `FROM`.
    FromPlatformFlagConstDisallowed,
}

impl Rule {
    /// BuildKit's rule name, used as the diagnostic code.
    pub fn name(self) -> &'static str {
        match self {
            Rule::StageNameCasing => "StageNameCasing",
            Rule::FromAsCasing => "FromAsCasing",
            Rule::NoEmptyContinuation => "NoEmptyContinuation",
            Rule::ConsistentInstructionCasing => "ConsistentInstructionCasing",
            Rule::DuplicateStageName => "DuplicateStageName",
            Rule::ReservedStageName => "ReservedStageName",
            Rule::JsonArgsRecommended => "JSONArgsRecommended",
            Rule::MaintainerDeprecated => "MaintainerDeprecated",
            Rule::UndefinedArgInFrom => "UndefinedArgInFrom",
            Rule::WorkdirRelativePath => "WorkdirRelativePath",
            Rule::MultipleInstructionsDisallowed => "MultipleInstructionsDisallowed",
            Rule::LegacyKeyValueFormat => "LegacyKeyValueFormat",
            Rule::RedundantTargetPlatform => "RedundantTargetPlatform",
            Rule::InvalidDefaultArgInFrom => "InvalidDefaultArgInFrom",
            Rule::FromPlatformFlagConstDisallowed => "FromPlatformFlagConstDisallowed",
        }
    }

    /// The rule's documentation page.
    pub fn url(self) -> String {
        let slug = match self {
            Rule::JsonArgsRecommended => "json-args-recommended".to_string(),
            other => {
                let mut slug = String::new();
                for (idx, ch) in other.name().chars().enumerate() {
                    if ch.is_ascii_uppercase() && idx > 0 {
                        slug.push('-');
                    }
                    slug.push(ch.to_ascii_lowercase());
                }
                slug
            }
        };
        format!("https://docs.docker.com/go/dockerfile/rule/{slug}/")
    }
}

/// The check configuration (`# check=skip=A,B;error=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// `skip=all`.
    pub skip_all: bool,
    /// Skipped rule names.
    pub skip: BTreeSet<String>,
    /// `error=true`: a build with warnings fails.
    pub error: bool,
}

impl CheckConfig {
    /// Parses BuildKit's check option string; `Err` names the bad part.
    pub fn parse(value: &str) -> Result<CheckConfig, String> {
        let mut config = CheckConfig::default();
        let value = value.trim();
        if value.is_empty() {
            return Ok(config);
        }
        for part in value.splitn(3, ';') {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid check option {part:?}"))?;
            match key.trim().to_ascii_lowercase().as_str() {
                "skip" => {
                    for rule in val.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                        if rule.eq_ignore_ascii_case("all") {
                            config.skip_all = true;
                        } else {
                            config.skip.insert(rule.to_string());
                        }
                    }
                }
                "error" => {
                    config.error = match val.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" | "t" => true,
                        "false" | "0" | "f" => false,
                        other => return Err(format!("failed to parse check option error={other}")),
                    }
                }
                "experimental" => {}
                other => return Err(format!("invalid check option {other:?}")),
            }
        }
        Ok(config)
    }

    /// This configuration merged with another (skips add up).
    pub fn merged(&self, other: &CheckConfig) -> CheckConfig {
        let mut out = self.clone();
        out.skip_all |= other.skip_all;
        out.skip.extend(other.skip.iter().cloned());
        out.error |= other.error;
        out
    }

    /// Whether `rule` is reported.
    pub fn enabled(&self, rule: Rule) -> bool {
        !self.skip_all && !self.skip.contains(rule.name())
    }

    /// The configuration for an instruction with `comments` directly above it (a
    /// `# check=skip=...` comment there adds to the file's configuration).
    pub fn for_comments(&self, comments: &[String]) -> CheckConfig {
        for comment in comments {
            let Some((key, value)) = comment.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("check") {
                continue;
            }
            let value = value.trim().split(' ').next().unwrap_or("");
            return match CheckConfig::parse(value) {
                Ok(extra) => self.merged(&extra),
                Err(_) => self.clone(),
            };
        }
        self.clone()
    }
}

/// A fix before positions are known: its title and (byte span, new text) edits.
pub type Edits = (String, Vec<(Span, String)>);

/// Collects diagnostics with positions.
pub struct Sink<'a> {
    index: LineIndex<'a>,
    /// The collected diagnostics.
    pub list: Vec<Diagnostic>,
    /// The file-wide check configuration.
    pub config: CheckConfig,
}

impl<'a> Sink<'a> {
    /// A sink for diagnostics about `text`.
    pub fn new(text: &'a str) -> Sink<'a> {
        Sink {
            index: LineIndex::new(text),
            list: Vec::new(),
            config: CheckConfig::default(),
        }
    }

    /// Records an error.
    pub fn error(&mut self, code: &str, message: impl Into<String>, span: Span) {
        let diagnostic = self
            .index
            .diagnostic(Severity::Error, code, message.into(), span);
        self.list.push(diagnostic);
    }

    /// Records a check warning unless `config` skips the rule.
    pub fn lint(
        &mut self,
        config: &CheckConfig,
        rule: Rule,
        message: impl Into<String>,
        span: Span,
    ) {
        if !config.enabled(rule) {
            return;
        }
        let mut diagnostic =
            self.index
                .diagnostic(Severity::Warning, rule.name(), message.into(), span);
        diagnostic.url = Some(rule.url());
        self.list.push(diagnostic);
    }

    /// Records a check warning (unless `config` skips the rule) with its fix, if there is one
    /// (see [`crate::fixes`]).
    pub fn lint_with(
        &mut self,
        config: &CheckConfig,
        rule: Rule,
        message: impl Into<String>,
        span: Span,
        fix: Option<Edits>,
    ) {
        if !config.enabled(rule) {
            return;
        }
        self.lint(config, rule, message, span);
        let Some((title, edits)) = fix else {
            return;
        };
        let edits = edits
            .into_iter()
            .map(|(span, new_text)| TextEdit {
                range: self.index.range(span),
                new_text,
            })
            .collect();
        if let Some(diagnostic) = self.list.last_mut() {
            diagnostic.fix = Some(Fix { title, edits });
        }
    }

    /// Records a planner warning that is not a BuildKit check.
    pub fn warning(&mut self, code: &str, message: impl Into<String>, span: Span) {
        let diagnostic = self
            .index
            .diagnostic(Severity::Warning, code, message.into(), span);
        self.list.push(diagnostic);
    }

    /// Whether an error has been recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_options() {
        let config = CheckConfig::parse("skip=StageNameCasing,FromAsCasing;error=true").unwrap();
        assert!(!config.enabled(Rule::StageNameCasing) && config.enabled(Rule::DuplicateStageName));
        assert!(config.error);
        assert!(!CheckConfig::parse("skip=all")
            .unwrap()
            .enabled(Rule::MaintainerDeprecated));
        assert!(CheckConfig::parse("nope=1").is_err());
        assert_eq!(
            Rule::JsonArgsRecommended.url(),
            "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
        );
        assert_eq!(
            Rule::FromAsCasing.url(),
            "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"
        );
    }

    #[test]
    fn comment_above_instruction_skips() {
        let config = CheckConfig::default()
            .for_comments(&["check=skip=JSONArgsRecommended // shell on purpose".into()]);
        assert!(!config.enabled(Rule::JsonArgsRecommended));
    }
}
