//! Which files `planner check` reads: each path given, and under each directory (recursively)
//! every file called `Dockerfile`, `*.Dockerfile` or `Dockerfile.*`.
//!
//! Input: paths from the command line. Output: file paths in a stable order (as given; inside
//! a directory, sorted by name). Invariant: hidden directories (`.git`, ...) and
//! `node_modules` are not searched; a directory with no Dockerfile is an error naming it.

use std::path::Path;

use anyhow::{bail, Context, Result};
use walkdir::WalkDir;

/// Whether a file name is a Dockerfile's: `Dockerfile`, `*.Dockerfile` or `Dockerfile.*`.
pub fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || (name.ends_with(".Dockerfile") && name.len() > ".Dockerfile".len())
        || (name.starts_with("Dockerfile.") && name.len() > "Dockerfile.".len())
}

fn skipped_directory(name: &str) -> bool {
    (name.starts_with('.') && name != "." && name != "..") || name == "node_modules"
}

/// The files to check for `paths` (`-` stays `-`, standard input).
pub fn dockerfiles(paths: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for path in paths {
        if path == "-" || !Path::new(path).is_dir() {
            out.push(path.clone());
            continue;
        }
        let before = out.len();
        let walker = WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !entry.file_type().is_dir()
                    || !skipped_directory(&entry.file_name().to_string_lossy())
            });
        for entry in walker {
            let entry = entry.with_context(|| format!("cannot search directory {path:?}"))?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file() && is_dockerfile_name(&name) {
                out.push(entry.path().to_string_lossy().into_owned());
            }
        }
        if out.len() == before {
            bail!("no Dockerfile (Dockerfile, *.Dockerfile, Dockerfile.*) found under {path:?}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for name in ["Dockerfile", "api.Dockerfile", "Dockerfile.dev"] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            "dockerfile",
            ".Dockerfile",
            "Dockerfile.",
            "Dockerfiles",
            "x.yml",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }
}
