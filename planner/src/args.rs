//! Build arguments: the predefined platform ARGs (dockerfile2llb/platform.go `defaultArgs`),
//! global ARGs resolved top to bottom with `--build-arg` overrides (`buildMetaArgs`), platform
//! strings, and image references (the checks `FROM` needs).
//!
//! Input: global ARG declarations, build args, platform options. Output: the variables that
//! `FROM` lines are expanded with, and each global ARG's value.
//! Invariant: deterministic (`BTreeMap`); a build arg replaces a default without evaluating it.

use std::collections::{BTreeMap, BTreeSet};

use crate::expand::{ExpandError, Lexer};
use crate::stage::MetaArg;

/// A parsed platform `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture (`amd64`).
    pub arch: String,
    /// Variant (`v7`), possibly empty.
    pub variant: String,
}

impl Platform {
    /// Parses and normalizes a platform the way containerd's `platforms.Parse` does for the
    /// common cases (`aarch64` → `arm64`, `x86_64` → `amd64`, `armhf` → `arm/v7`).
    pub fn parse(text: &str) -> Result<Platform, String> {
        let lowered = text.to_ascii_lowercase();
        let parts: Vec<&str> = lowered.split('/').collect();
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if parts.len() > 3 || !parts.iter().all(|p| valid_part(p)) {
            return Err(format!("{text:?}: invalid platform format"));
        }
        let known_os = [
            "linux",
            "windows",
            "darwin",
            "freebsd",
            "netbsd",
            "openbsd",
            "solaris",
            "illumos",
            "aix",
            "android",
            "ios",
            "plan9",
            "js",
            "wasip1",
            "dragonfly",
        ];
        let (os, arch, variant) = match parts.as_slice() {
            [one] if known_os.contains(one) => {
                (one.to_string(), "amd64".to_string(), String::new())
            }
            [one] => ("linux".to_string(), one.to_string(), String::new()),
            [os, arch] => (os.to_string(), arch.to_string(), String::new()),
            [os, arch, variant] => (os.to_string(), arch.to_string(), variant.to_string()),
            _ => return Err(format!("{text:?}: invalid platform format")),
        };
        if !known_os.contains(&os.as_str()) {
            return Err(format!(
                "{text:?}: unknown operating system or architecture: invalid argument"
            ));
        }
        let (arch, variant) = match (arch.as_str(), variant.as_str()) {
            ("x86_64" | "x86-64" | "amd64", v) => (
                "amd64".to_string(),
                if v == "v1" {
                    String::new()
                } else {
                    v.to_string()
                },
            ),
            ("aarch64" | "arm64", v) => (
                "arm64".to_string(),
                if v == "v8" {
                    String::new()
                } else {
                    v.to_string()
                },
            ),
            ("armhf", _) => ("arm".to_string(), "v7".to_string()),
            ("armel", _) => ("arm".to_string(), "v6".to_string()),
            ("arm", "") => ("arm".to_string(), "v7".to_string()),
            ("i386", v) => ("386".to_string(), v.to_string()),
            (a, v) => (a.to_string(), v.to_string()),
        };
        Ok(Platform { os, arch, variant })
    }

    /// `os/arch[/variant]`.
    pub fn format(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.arch)
        } else {
            format!("{}/{}/{}", self.os, self.arch, self.variant)
        }
    }
}

/// The predefined ARGs for a build and target platform and a target stage name.
pub fn predefined_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let pairs = [
        ("BUILDPLATFORM", build.format()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.arch.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.format()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.arch.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", target_stage.to_string()),
    ];
    pairs
        .into_iter()
        .map(|(key, value)| {
            (
                key.to_string(),
                overrides.get(key).cloned().unwrap_or(value),
            )
        })
        .collect()
}

/// Global ARGs resolved with BuildKit's `buildMetaArgs`.
#[derive(Debug, Clone, Default)]
pub struct MetaArgs {
    /// The variables `FROM` lines see: predefined ARGs plus defined global ARGs.
    pub env: BTreeMap<String, String>,
    /// Each global ARG's value in declaration order (`None` when undefined).
    pub values: Vec<Option<String>>,
    /// Every declared global ARG name (defined or not).
    pub declared: BTreeSet<String>,
}

/// Resolves the global ARGs top to bottom. `Err` carries the failing ARG's index.
pub fn build_meta_args(
    predefined: &BTreeMap<String, String>,
    meta_args: &[MetaArg],
    build_args: Option<&BTreeMap<String, String>>,
    lexer: &Lexer,
) -> Result<MetaArgs, (usize, ExpandError)> {
    let mut out = MetaArgs {
        env: predefined.clone(),
        ..MetaArgs::default()
    };
    for (idx, arg) in meta_args.iter().enumerate() {
        out.declared.insert(arg.name.clone());
        let value = match build_args.and_then(|b| b.get(&arg.name)) {
            Some(given) => Some(given.clone()),
            None => match &arg.default {
                Some(default) => Some(
                    lexer
                        .process_word(default, &out.env)
                        .map_err(|e| (idx, e))?
                        .word
                        .into_owned(),
                ),
                None => None,
            },
        };
        if let Some(value) = &value {
            out.env.insert(arg.name.clone(), value.clone());
        }
        out.values.push(value);
    }
    Ok(out)
}

fn is_path_component(part: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let bytes = part.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_lowercase() && !bytes[0].is_ascii_digit() {
        return false;
    }
    let mut idx = 0;
    while idx < bytes.len() {
        let b = bytes[idx];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            idx += 1;
            continue;
        }
        let sep_start = idx;
        while idx < bytes.len() && matches!(bytes[idx], b'.' | b'_' | b'-') {
            idx += 1;
        }
        let sep = &part[sep_start..idx];
        let ok_sep = sep == "."
            || sep == "_"
            || sep == "__"
            || (!sep.is_empty() && sep.bytes().all(|c| c == b'-'));
        if !ok_sep || idx >= bytes.len() {
            return false;
        }
    }
    true
}

fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return host.ends_with(']');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks an image reference like `reference.ParseNormalizedNamed`; `Err` is the reason.
pub fn validate_reference(reference: &str) -> Result<(), String> {
    const INVALID: &str = "invalid reference format";
    if reference.is_empty() {
        return Err(INVALID.to_string());
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return Err(INVALID.to_string());
        };
        if algorithm.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(INVALID.to_string());
        }
    }
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
        ),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok
            || tag.len() > 128
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(INVALID.to_string());
        }
    }
    if name.len() > 255 {
        return Err("invalid reference format: repository name (library/...) must not be more than 255 characters".into());
    }
    if name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(format!(
            "invalid repository name ({name}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    // The first component is a domain when more follow and it looks like one.
    let path = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || changes_when_lowercased(first) =>
        {
            if !is_domain(first) {
                return Err(INVALID.to_string());
            }
            rest
        }
        _ => name,
    };
    if path
        .split('/')
        .any(|p| changes_when_lowercased(p) && is_path_component(&p.to_lowercase()))
    {
        return Err("invalid reference format: repository name must be lowercase".to_string());
    }
    if !path.split('/').all(is_path_component) {
        return Err(INVALID.to_string());
    }
    Ok(())
}

/// Whether lower-casing `text` changes it (no copy is made for ASCII text).
fn changes_when_lowercased(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        text != text.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for ok in [
            "alpine",
            "golang:1.22-alpine",
            "ghcr.io/org/app:v1",
            "localhost:5000/a/b",
            "mcr.microsoft.com/dotnet/sdk:8.0",
            "a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "builder",
        ] {
            assert!(validate_reference(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            validate_reference("alpine:").unwrap_err(),
            "invalid reference format"
        );
        assert_eq!(
            validate_reference("Builder").unwrap_err(),
            "invalid reference format: repository name must be lowercase"
        );
        assert!(validate_reference("a b").is_err());
        assert!(validate_reference("").is_err());
        // A first component with upper case is a domain when more follow (domains may have
        // upper case); upper case after it is the lowercase error; a domain must be valid.
        assert!(validate_reference("Registry/app:1").is_ok());
        assert_eq!(
            validate_reference("registry.example/Org/app").unwrap_err(),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            validate_reference("bad_domain.example/app").unwrap_err(),
            "invalid reference format"
        );
        assert_eq!(
            validate_reference("Ünï/app").unwrap_err(),
            "invalid reference format"
        );
    }

    #[test]
    fn platforms() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().format(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().format(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("windows/amd64").unwrap().format(),
            "windows/amd64"
        );
        assert!(Platform::parse("linux/amd64/v2/x").is_err());
        assert!(Platform::parse("").is_err());
    }

    #[test]
    fn meta_args_resolve_in_order() {
        let meta = |name: &str, default: Option<&str>| MetaArg {
            name: name.into(),
            default: default.map(String::from),
            line: 1,
            span: Default::default(),
        };
        let args = [
            meta("GO", Some("1.22")),
            meta("IMAGE", Some("golang:${GO}")),
            meta("UNSET", None),
        ];
        let lexer = Lexer::new('\\');
        let resolved = build_meta_args(&BTreeMap::new(), &args, None, &lexer).unwrap();
        assert_eq!(resolved.env["IMAGE"], "golang:1.22");
        assert_eq!(resolved.values[2], None);
        let build_args: BTreeMap<String, String> = [("GO".to_string(), "1.23".to_string())].into();
        let resolved = build_meta_args(&BTreeMap::new(), &args, Some(&build_args), &lexer).unwrap();
        assert_eq!(resolved.env["IMAGE"], "golang:1.23");
    }
}
