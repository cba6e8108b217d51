//! Image references in the form BuildKit's sources name them (docker/distribution's
//! `ParseNormalizedNamed` + `TagNameOnly`).
//!
//! Input: a reference as written in the plan (`busybox`, `golang:1.22`, `ghcr.io/o/i@sha256:..`).
//! Output: the fully qualified name (`docker.io/library/busybox:latest`), and the same name
//! pinned to a digest.
//! Invariant: a reference that already has a tag or digest keeps it; the planner has validated
//! the reference's syntax, so this only fills in the defaults.

/// The fully qualified reference: registry domain, `library/` for official images, `:latest`
/// when neither a tag nor a digest is given.
pub fn normalize(reference: &str) -> String {
    let (name_part, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it belongs to a port).
    let last_slash = name_part.rfind('/').map_or(0, |at| at + 1);
    let (name, tag) = match name_part[last_slash..].rfind(':') {
        Some(at) => (
            &name_part[..last_slash + at],
            Some(&name_part[last_slash + at + 1..]),
        ),
        None => (name_part, None),
    };
    let (domain, path) = split_domain(name);
    let mut out = format!("{domain}/{path}");
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    match digest {
        Some(digest) => {
            out.push('@');
            out.push_str(digest);
        }
        None if tag.is_none() => out.push_str(":latest"),
        None => {}
    }
    out
}

/// `normalize(reference)` pinned to `digest` (a tag is kept alongside, as BuildKit writes it).
pub fn with_digest(reference: &str, digest: &str) -> String {
    let normalized = normalize(reference);
    let without_digest = normalized.split('@').next().unwrap_or(&normalized);
    format!("{without_digest}@{digest}")
}

/// docker/distribution's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let rest = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    (domain, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(normalize("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalize("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            normalize("stageplan-test/busybox:1"),
            "docker.io/stageplan-test/busybox:1"
        );
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize("ghcr.io/o/i:2"), "ghcr.io/o/i:2");
        assert_eq!(
            normalize("index.docker.io/alpine"),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            normalize("alpine@sha256:abcd"),
            "docker.io/library/alpine@sha256:abcd"
        );
        assert_eq!(
            with_digest("stageplan-test/busybox:1", "sha256:ff"),
            "docker.io/stageplan-test/busybox:1@sha256:ff"
        );
    }
}
