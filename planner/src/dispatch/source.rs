//! What a COPY/ADD source is, as BuildKit tells them apart (dfgitutil `ParseGitRef`,
//! `isHTTPSource`): a git repository, an HTTP(S) URL, or a path in the build context.
//!
//! Input: one source word, expanded. Output: its [`SourceKind`], and for a URL the name ADD gives
//! the downloaded file ([`http_file_name`]).
//! Invariant: a leaf (pure string tests); the dispatch of COPY/ADD and the `SOURCE_DATE_EPOCH`
//! check both use it.

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

/// The file name ADD gives a download, as BuildKit's `dispatchCopy` does: Go's `path.Base` of
/// the URL's decoded path, or `__unnamed__` when that is `.` or `/` (no path, only slashes) or
/// the path does not decode.
pub fn http_file_name(url: &str) -> String {
    const UNNAMED: &str = "__unnamed__";
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let Some(decoded) = percent_decode(url_path(after_scheme)) else {
        return UNNAMED.to_string();
    };
    let trimmed = decoded.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base.to_string(),
        _ => UNNAMED.to_string(),
    }
}

/// `%XX` escapes decoded (Go's `url.PathUnescape`); `None` for a bad escape or bytes that are
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes.get(at + 1..at + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::http_file_name;

    #[test]
    fn a_download_is_named_as_buildkit_names_it() {
        for (url, name) in [
            ("http://host/", "__unnamed__"),
            ("http://host", "__unnamed__"),
            ("https://host/.", "__unnamed__"),
            ("http://host//", "__unnamed__"),
            ("http://host/foo", "foo"),
            ("http://host/dir/", "dir"),
            ("http://host:8080/a/b.tar.gz?x=1/y#frag", "b.tar.gz"),
            ("http://host/a%20b.txt", "a b.txt"),
            ("http://host/bad%zz", "__unnamed__"),
        ] {
            assert_eq!(http_file_name(url), name, "{url}");
        }
    }
}
