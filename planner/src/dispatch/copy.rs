//! COPY and ADD as BuildKit dispatches them (dockerfile2llb `dispatchCopy`,
//! `validateCopySourcePath`): the expanded `--chmod` and `--checksum` values are checked, each
//! source is told apart as a git repository, an HTTP(S) URL or a build-context path (COPY takes
//! only the last), and a context path that `.dockerignore` excludes gets `CopyIgnoredFile`.
//!
//! Input: the typed COPY/ADD and the stage environment. Output: diagnostics.
//! Invariant: the words are expanded in BuildKit's order (chown, chmod, checksum, sources,
//! destination, then heredoc bodies) before any check, as `Expand` runs before `dispatchCopy`.

use super::{Dispatcher, Failed, Place};
use crate::checks::Rule;
use crate::expand::Lexer;
use crate::patterns::{clean, PatternMatcher};
use crate::plan::CopySpec;
use crate::values::{check_chmod, check_digest, go_quote};

/// What a COPY/ADD source is (dfgitutil `ParseGitRef`, `isHTTPSource`).
#[derive(Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A path in the build context (or another stage with `--from`).
    Local,
    /// An `http://` or `https://` URL that is not a git repository.
    Http,
    /// A git repository URL (`https://host/repo.git`, `git@host:repo`, `ssh://`, `git://`).
    Git,
}

/// The URL's path: after `scheme://authority`, up to a `?` or `#`.
fn url_path(rest_after_scheme: &str) -> &str {
    let end = rest_after_scheme
        .find(['?', '#'])
        .unwrap_or(rest_after_scheme.len());
    let without_query = &rest_after_scheme[..end];
    match without_query.find('/') {
        Some(slash) => &without_query[slash..],
        None => "",
    }
}

/// `user@host:path` as BuildKit's scp-style regexp reads it.
fn is_scp_style(src: &str) -> bool {
    let Some((user, rest)) = src.split_once('@') else {
        return false;
    };
    let Some((host, path)) = rest.split_once(':') else {
        return false;
    };
    let user_ok = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    user_ok && host_ok && !path.contains('\n')
}

/// Tells a COPY/ADD source apart as BuildKit does: a git repository (`https://host/repo.git`,
/// `git@host:repo`, `ssh://`, `git://`), else an `http(s)://` URL, else a context path.
pub fn classify(src: &str) -> SourceKind {
    let git = if src.starts_with("./") || src.starts_with("../") || src.starts_with("github.com/") {
        // `github.com/...` is a deprecated form BuildKit cannot tell from a local path.
        false
    } else {
        let scheme_len = src.bytes().take_while(u8::is_ascii_alphanumeric).count();
        match src[scheme_len..].strip_prefix("://") {
            Some(after) if scheme_len > 0 => {
                match src[..scheme_len].to_ascii_lowercase().as_str() {
                    "http" | "https" => url_path(after).ends_with(".git"),
                    "ssh" | "git" => true,
                    _ => false,
                }
            }
            _ => is_scp_style(src),
        }
    };
    if git {
        SourceKind::Git
    } else if src.starts_with("http://") || src.starts_with("https://") {
        SourceKind::Http
    } else {
        SourceKind::Local
    }
}

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
            String::new()
        };
        let mut sources = Vec::with_capacity(spec.sources.len());
        for source in &spec.sources {
            sources.push(self.expand(source, place)?);
        }
        self.expand(&spec.dest, place)?;
        let mut raw = Lexer::new('\\');
        raw.skip_quotes = true;
        for heredoc in spec.heredocs.iter().filter(|h| h.expand) {
            self.expand_with(raw, &heredoc.body, place)?;
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
