//! BuildKit's build checks (frontend/dockerfile/linter): the rules the planner reports, the
//! `# check=skip=...;error=...` configuration (file directive, per-instruction comment, or the
//! `BUILDKIT_DOCKERFILE_CHECK` build argument), and the sink that collects diagnostics.
//!
//! Input: diagnostics raised by the other modules with byte spans. Output: `Diagnostic`s
//! with positions, minus the skipped rules. Invariant: the rule names and URLs are BuildKit's.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::diagnostics::{option_diagnostic, Diagnostic, Fix, LineIndex, Severity, Span, TextEdit};

/// A build check the planner implements (BuildKit's frontend/dockerfile/linter/ruleset.go).
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
    /// A variable expanded by the builder that is not defined.
    UndefinedVar,
    /// More than one `CMD`/`ENTRYPOINT`/`HEALTHCHECK` in a stage.
    MultipleInstructionsDisallowed,
    /// `ENV k v` / `LABEL k v` without `=`.
    LegacyKeyValueFormat,
    /// `FROM --platform=$TARGETPLATFORM`.
    RedundantTargetPlatform,
    /// An `ARG` or `ENV` name that looks like a secret.
    SecretsUsedInArgOrEnv,
    /// Default ARG values give an empty or invalid base image name.
    InvalidDefaultArgInFrom,
    /// Constant `--platform` on `FROM`.
    FromPlatformFlagConstDisallowed,
    /// A `COPY`/`ADD` source that `.dockerignore` excludes.
    CopyIgnoredFile,
    /// An upper-case protocol in `EXPOSE`.
    ExposeProtoCasing,
    /// An IP address or host-port mapping in `EXPOSE`.
    ExposeInvalidFormat,
}

impl Rule {
    /// Every rule, in ruleset order.
    pub const ALL: [Rule; 20] = [
        Rule::StageNameCasing,
        Rule::FromAsCasing,
        Rule::NoEmptyContinuation,
        Rule::ConsistentInstructionCasing,
        Rule::DuplicateStageName,
        Rule::ReservedStageName,
        Rule::JsonArgsRecommended,
        Rule::MaintainerDeprecated,
        Rule::UndefinedArgInFrom,
        Rule::WorkdirRelativePath,
        Rule::UndefinedVar,
        Rule::MultipleInstructionsDisallowed,
        Rule::LegacyKeyValueFormat,
        Rule::RedundantTargetPlatform,
        Rule::SecretsUsedInArgOrEnv,
        Rule::InvalidDefaultArgInFrom,
        Rule::FromPlatformFlagConstDisallowed,
        Rule::CopyIgnoredFile,
        Rule::ExposeProtoCasing,
        Rule::ExposeInvalidFormat,
    ];

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
            Rule::UndefinedVar => "UndefinedVar",
            Rule::MultipleInstructionsDisallowed => "MultipleInstructionsDisallowed",
            Rule::LegacyKeyValueFormat => "LegacyKeyValueFormat",
            Rule::RedundantTargetPlatform => "RedundantTargetPlatform",
            Rule::SecretsUsedInArgOrEnv => "SecretsUsedInArgOrEnv",
            Rule::InvalidDefaultArgInFrom => "InvalidDefaultArgInFrom",
            Rule::FromPlatformFlagConstDisallowed => "FromPlatformFlagConstDisallowed",
            Rule::CopyIgnoredFile => "CopyIgnoredFile",
            Rule::ExposeProtoCasing => "ExposeProtoCasing",
            Rule::ExposeInvalidFormat => "ExposeInvalidFormat",
        }
    }

    /// The rule's documentation page, as BuildKit links it.
    pub fn url(self) -> &'static str {
        match self {
            Rule::StageNameCasing => {
                "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
            }
            Rule::FromAsCasing => "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
            Rule::NoEmptyContinuation => {
                "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"
            }
            Rule::ConsistentInstructionCasing => {
                "https://docs.docker.com/go/dockerfile/rule/consistent-instruction-casing/"
            }
            Rule::DuplicateStageName => {
                "https://docs.docker.com/go/dockerfile/rule/duplicate-stage-name/"
            }
            Rule::ReservedStageName => {
                "https://docs.docker.com/go/dockerfile/rule/reserved-stage-name/"
            }
            Rule::JsonArgsRecommended => {
                "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
            }
            Rule::MaintainerDeprecated => {
                "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"
            }
            Rule::UndefinedArgInFrom => {
                "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/"
            }
            Rule::WorkdirRelativePath => {
                "https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/"
            }
            Rule::UndefinedVar => "https://docs.docker.com/go/dockerfile/rule/undefined-var/",
            Rule::MultipleInstructionsDisallowed => {
                "https://docs.docker.com/go/dockerfile/rule/multiple-instructions-disallowed/"
            }
            Rule::LegacyKeyValueFormat => {
                "https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/"
            }
            Rule::RedundantTargetPlatform => {
                "https://docs.docker.com/go/dockerfile/rule/redundant-target-platform/"
            }
            Rule::SecretsUsedInArgOrEnv => {
                "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/"
            }
            Rule::InvalidDefaultArgInFrom => {
                "https://docs.docker.com/go/dockerfile/rule/invalid-default-arg-in-from/"
            }
            Rule::FromPlatformFlagConstDisallowed => {
                "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/"
            }
            Rule::CopyIgnoredFile => {
                "https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/"
            }
            Rule::ExposeProtoCasing => {
                "https://docs.docker.com/go/dockerfile/rule/expose-proto-casing/"
            }
            Rule::ExposeInvalidFormat => {
                "https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/"
            }
        }
    }

    /// BuildKit's one-line description of the rule.
    pub fn description(self) -> &'static str {
        match self {
            Rule::StageNameCasing => "Stage names should be lowercase",
            Rule::FromAsCasing => "The 'as' keyword should match the case of the 'from' keyword",
            Rule::NoEmptyContinuation => "Empty continuation lines will become errors in a future release",
            Rule::ConsistentInstructionCasing => "All commands within the Dockerfile should use the same casing (either upper or lower)",
            Rule::DuplicateStageName => "Stage names should be unique",
            Rule::ReservedStageName => "Reserved words should not be used as stage names",
            Rule::JsonArgsRecommended => "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
            Rule::MaintainerDeprecated => "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
            Rule::UndefinedArgInFrom => "FROM command must use declared ARGs",
            Rule::WorkdirRelativePath => "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
            Rule::UndefinedVar => "Variables should be defined before their use",
            Rule::MultipleInstructionsDisallowed => "Multiple instructions of the same type should not be used in the same stage",
            Rule::LegacyKeyValueFormat => "Legacy key/value format with whitespace separator should not be used",
            Rule::RedundantTargetPlatform => "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
            Rule::SecretsUsedInArgOrEnv => "Sensitive data should not be used in the ARG or ENV commands",
            Rule::InvalidDefaultArgInFrom => "Default value for global ARG results in an empty or invalid base image name",
            Rule::FromPlatformFlagConstDisallowed => "FROM --platform flag should not use a constant value",
            Rule::CopyIgnoredFile => "Attempting to Copy file that is excluded by .dockerignore",
            Rule::ExposeProtoCasing => "Protocol in EXPOSE instruction should be lowercase",
            Rule::ExposeInvalidFormat => "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
        }
    }

    /// The rule called `name` (BuildKit's spelling), if the planner implements it.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
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
    /// `# check=skip=...` comment there adds to the file's configuration). Borrows `self`
    /// when no comment changes it.
    pub fn for_comments<S: AsRef<str>>(&self, comments: &[S]) -> Cow<'_, CheckConfig> {
        for comment in comments {
            let Some((key, value)) = comment.as_ref().split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("check") {
                continue;
            }
            let value = value.trim().split(' ').next().unwrap_or("");
            return match CheckConfig::parse(value) {
                Ok(extra) => Cow::Owned(self.merged(&extra)),
                Err(_) => Cow::Borrowed(self),
            };
        }
        Cow::Borrowed(self)
    }
}

/// At most this many diagnostics of one code are kept; the others are counted and reported in
/// one summary diagnostic, so a hostile file cannot make the output (or the memory it needs)
/// grow without bound.
pub const MAX_PER_CODE: usize = 1_000;

/// A fix before positions are known: its title and (byte span, new text) edits.
pub type Edits = (String, Vec<(Span, String)>);

/// Collects diagnostics with positions.
pub struct Sink<'a> {
    index: LineIndex<'a>,
    /// The collected diagnostics.
    pub list: Vec<Diagnostic>,
    /// The file-wide check configuration.
    pub config: CheckConfig,
    /// Per code: the code, its severity, how many are kept and how many were dropped (a list:
    /// a file has a few dozen codes at most).
    counts: Vec<(String, Severity, usize, usize)>,
}

impl<'a> Sink<'a> {
    /// A sink for diagnostics about `text`.
    pub fn new(text: &'a str) -> Sink<'a> {
        Sink {
            index: LineIndex::new(text),
            list: Vec::new(),
            config: CheckConfig::default(),
            counts: Vec::new(),
        }
    }

    /// Whether one more diagnostic of `code` is kept; counts it either way.
    fn admit(&mut self, severity: Severity, code: &str) -> bool {
        let pos = match self.counts.iter().position(|entry| entry.0 == code) {
            Some(pos) => pos,
            None => {
                self.counts.push((code.to_string(), severity, 0, 0));
                self.counts.len() - 1
            }
        };
        let entry = &mut self.counts[pos];
        if entry.2 < MAX_PER_CODE {
            entry.2 += 1;
            true
        } else {
            entry.3 += 1;
            false
        }
    }

    fn record(&mut self, severity: Severity, code: &str, message: String, span: Span) -> bool {
        if !self.admit(severity, code) {
            return false;
        }
        let diagnostic = self.index.diagnostic(severity, code, message, span);
        self.list.push(diagnostic);
        true
    }

    /// Records an error.
    pub fn error(&mut self, code: &str, message: impl Into<String>, span: Span) {
        self.record(Severity::Error, code, message.into(), span);
    }

    /// Records a check warning unless the file's configuration, merged with a `# check=`
    /// comment among `comments` (the lines directly above the instruction), skips the rule.
    pub fn lint(&mut self, comments: &[&str], rule: Rule, message: impl Into<String>, span: Span) {
        if !self.config.for_comments(comments).enabled(rule) {
            return;
        }
        if self.record(Severity::Warning, rule.name(), message.into(), span) {
            if let Some(last) = self.list.last_mut() {
                last.url = Some(rule.url().to_string());
            }
        }
    }

    /// Records a check warning (unless the configuration skips the rule) with its fix, if there
    /// is one (see [`crate::fixes`]).
    pub fn lint_with(
        &mut self,
        comments: &[&str],
        rule: Rule,
        message: impl Into<String>,
        span: Span,
        fix: Option<Edits>,
    ) {
        if !self.config.for_comments(comments).enabled(rule) {
            return;
        }
        if !self.record(Severity::Warning, rule.name(), message.into(), span) {
            return;
        }
        let edits = fix.map(|(title, edits)| Fix {
            title,
            edits: edits
                .into_iter()
                .map(|(span, new_text)| TextEdit {
                    range: self.index.range(span),
                    new_text,
                })
                .collect(),
        });
        if let Some(last) = self.list.last_mut() {
            last.url = Some(rule.url().to_string());
            last.fix = edits;
        }
    }

    /// Records a planner warning that is not a BuildKit check.
    pub fn warning(&mut self, code: &str, message: impl Into<String>, span: Span) {
        self.record(Severity::Warning, code, message.into(), span);
    }

    /// Drops the diagnostics recorded after the first `len` (and their counts).
    pub fn truncate(&mut self, len: usize) {
        self.list.truncate(len);
        self.counts.clear();
        let kept: Vec<(String, Severity)> = self
            .list
            .iter()
            .map(|d| (d.code.clone(), d.severity))
            .collect();
        for (code, severity) in kept {
            self.admit(severity, &code);
        }
    }

    /// One diagnostic per code that had more than [`MAX_PER_CODE`]: how many were left out (for
    /// a check, with the rule's URL, so it counts as that check).
    pub fn summaries(&self) -> Vec<Diagnostic> {
        self.counts
            .iter()
            .filter(|(_, _, _, dropped)| *dropped > 0)
            .map(|(code, severity, _, dropped)| {
                let message = format!(
                    "{dropped} more {code} diagnostics are not shown (at most {MAX_PER_CODE} of each are listed)"
                );
                let mut summary = option_diagnostic(*severity, code, message);
                // A check's summary links its rule like the diagnostics it stands for.
                summary.url = Rule::ALL
                    .iter()
                    .find(|rule| rule.name() == code)
                    .map(|rule| rule.url().to_string());
                summary
            })
            .collect()
    }

    /// The line index of the text the diagnostics are about.
    pub fn line_index(&self) -> &LineIndex<'a> {
        &self.index
    }

    /// Whether an error has been recorded.
    pub fn has_errors(&self) -> bool {
        self.counts
            .iter()
            .any(|(_, severity, _, _)| *severity == Severity::Error)
            || self.list.iter().any(Diagnostic::is_error)
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
    fn diagnostics_of_one_code_are_capped_with_a_summary() {
        let text = format!("FROM a\n{}", "BOGUS x\n".repeat(MAX_PER_CODE + 250));
        let outcome = crate::plan(&text, &crate::Options::default());
        let parse_errors: Vec<_> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.code == "ParseError")
            .collect();
        assert_eq!(parse_errors.len(), MAX_PER_CODE + 1);
        // The summary has no place in the file, so it sorts first.
        assert_eq!(parse_errors[0].line, 0);
        assert_eq!(
            parse_errors[0].message,
            "250 more ParseError diagnostics are not shown (at most 1000 of each are listed)"
        );
        assert!(outcome.plan.is_none());
    }

    #[test]
    fn comment_above_instruction_skips() {
        let file_config = CheckConfig::default();
        let config =
            file_config.for_comments(&["check=skip=JSONArgsRecommended // shell on purpose"]);
        assert!(!config.enabled(Rule::JsonArgsRecommended));
    }
}
