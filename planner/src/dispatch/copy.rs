//! COPY and ADD as BuildKit dispatches them (dockerfile2llb `dispatchCopy`,
//! `validateCopySourcePath`): the expanded `--chmod` and `--checksum` values are checked, each
//! source is told apart as a git repository, an HTTP(S) URL or a build-context path (COPY takes
//! only the last), and a context path that `.dockerignore` excludes gets `CopyIgnoredFile`.
//!
//! Input: the typed COPY/ADD and the stage environment. Output: diagnostics.
//! Invariant: the words are expanded in BuildKit's order (chown, chmod, checksum, sources,
//! destination, then heredoc bodies) before any check, as `Expand` runs before `dispatchCopy`.

use std::borrow::Cow;

use super::source::{classify, SourceKind};
use super::{Dispatcher, Failed, Place};
use crate::checks::Rule;
use crate::expand::Lexer;
use crate::patterns::{clean, PatternMatcher};
use crate::plan::CopySpec;
use crate::values::{check_chmod, check_digest, go_quote};

/// Whether a pattern ignores every entry of the context root (`*`, `**`, `**/*`), the only
/// case in which BuildKit warns about copying `.` or `/`.
fn root_ignored(matcher: &PatternMatcher) -> bool {
    matcher
        .patterns()
        .any(|(pattern, exclusion)| !exclusion && matches!(pattern, "*" | "**" | "**/*"))
}

impl Dispatcher<'_, '_> {
    /// Dispatches a COPY (or, with `is_add`, an ADD); `has_from` for `COPY --from`.
    pub(super) fn copy(
        &mut self,
        spec: &CopySpec,
        is_add: bool,
        has_from: bool,
        place: Place,
    ) -> Result<(), Failed> {
        let chown = spec.chown.as_deref().unwrap_or("");
        self.expand(chown, place)?;
        let chmod = self.expand(spec.chmod.as_deref().unwrap_or(""), place)?;
        let checksum = if is_add {
            self.expand(spec.checksum.as_deref().unwrap_or(""), place)?
        } else {
            Cow::Borrowed("")
        };
        let mut sources = Vec::with_capacity(spec.sources.len());
        for source in &spec.sources {
            sources.push(self.expand(source, place)?);
        }
        self.expand(&spec.dest, place)?;
        for heredoc in spec.heredocs.iter().filter(|h| h.expand) {
            self.expand_with(Lexer::heredoc(), &heredoc.body, place)?;
        }

        if !chmod.is_empty() {
            if let Err(message) = check_chmod(&chmod) {
                self.sink.error("InvalidChmod", message, place.span);
                return Err(Failed);
            }
        }
        let kinds: Vec<SourceKind> = sources.iter().map(|s| classify(s)).collect();
        if !checksum.is_empty() {
            let message = if sources.len() != 1 {
                Some("checksum can't be specified for multiple sources")
            } else if kinds[0] == SourceKind::Local {
                Some("checksum requires HTTP(S) or Git sources")
            } else {
                None
            };
            if let Some(message) = message {
                self.sink.error("InvalidChecksum", message, place.span);
                return Err(Failed);
            }
        }
        let keyword = if is_add { "Add" } else { "Copy" };
        for (source, kind) in sources.iter().zip(kinds) {
            match kind {
                SourceKind::Git if !is_add => {
                    self.sink.error(
                        "InvalidSource",
                        "source can't be a git ref for COPY",
                        place.span,
                    );
                    return Err(Failed);
                }
                SourceKind::Http if !is_add => {
                    self.sink.error(
                        "InvalidSource",
                        "source can't be a URL for COPY",
                        place.span,
                    );
                    return Err(Failed);
                }
                SourceKind::Http if !checksum.is_empty() => {
                    if let Err(message) = check_digest(&checksum) {
                        self.sink.error("InvalidChecksum", message, place.span);
                        return Err(Failed);
                    }
                }
                SourceKind::Local if is_add || !has_from => {
                    self.check_ignored(source, keyword, place);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `CopyIgnoredFile` for one build-context source (not checked when `.dockerignore` has `!`
    /// exceptions, which BuildKit cannot judge statically).
    fn check_ignored(&mut self, source: &str, keyword: &str, place: Place) {
        let Some(matcher) = self.ctx.ignore else {
            return;
        };
        if matcher.has_exclusions() {
            return;
        }
        let source = clean(source);
        if (source == "." || source == "/") && !root_ignored(matcher) {
            return;
        }
        // A pattern Go's regexp refuses makes BuildKit skip the check, as here.
        if matcher.try_is_match(&source) == Ok(true) {
            let message = format!(
                "Attempting to {keyword} file {} that is excluded by .dockerignore",
                go_quote(&source)
            );
            self.sink
                .lint(place.comments, Rule::CopyIgnoredFile, message, place.span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_apart_like_buildkit() {
        assert_eq!(
            classify("https://github.com/moby/buildkit.git"),
            SourceKind::Git
        );
        assert_eq!(
            classify("https://example.com/a.git#main:sub"),
            SourceKind::Git
        );
        assert_eq!(
            classify("git@github.com:moby/buildkit.git"),
            SourceKind::Git
        );
        assert_eq!(classify("ssh://host/repo"), SourceKind::Git);
        assert_eq!(
            classify("https://example.com/file.tar.gz"),
            SourceKind::Http
        );
        assert_eq!(classify("http://example.com/x?y=.git"), SourceKind::Http);
        assert_eq!(classify("github.com/moby/buildkit"), SourceKind::Local);
        assert_eq!(classify("./src"), SourceKind::Local);
        assert_eq!(classify("ftp://host/x"), SourceKind::Local);
        assert_eq!(classify("HTTP://host/x"), SourceKind::Local);
    }
}
