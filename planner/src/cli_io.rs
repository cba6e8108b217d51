//! The file reading of the `planner` binary (not of the library, which reads nothing): the
//! Dockerfile with a size cap, and the `.dockerignore` that BuildKit would apply to the build.
//!
//! Input: paths from the command line. Output: the texts, or an error that names the file and
//! what to do. Invariant: never reads more than [`MAX_INPUT`] bytes of any file or stream, so
//! `/dev/zero`, `/dev/urandom` or a huge file cost bounded time and memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// The most the CLI reads of a Dockerfile or `.dockerignore`: 16 MiB. BuildKit reads the
/// Dockerfile through its gateway in one gRPC message, whose limit is 16 MiB
/// (`DefaultMaxRecvMsgSize`), so a larger file cannot be built by BuildKit either.
pub const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Reads at most [`MAX_INPUT`] bytes of UTF-8 text from `reader`; `what` names it in errors.
fn read_capped(reader: impl Read, what: &str) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what}"))?;
    if bytes.len() as u64 > MAX_INPUT {
        bail!(
            "{what} is larger than 16 MiB, the most BuildKit reads (its gateway takes a Dockerfile in one 16 MiB message); make it smaller"
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{what} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads the Dockerfile at `path` (`-` for standard input): its display name and text.
pub fn read_dockerfile(path: &str) -> Result<(String, String)> {
    if path == "-" {
        let text = read_capped(std::io::stdin().lock(), "the Dockerfile on standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read Dockerfile {path:?}"))?;
    let text = read_capped(file, &format!("Dockerfile {path:?}"))?;
    Ok((path.to_string(), text))
}

/// The `.dockerignore` BuildKit applies to a build of `dockerfile` with the build context
/// `context`: `<Dockerfile>.dockerignore` beside the Dockerfile when it exists, else
/// `.dockerignore` at the root of the context. The Dockerfile is `-` for standard input (then
/// only the context's file counts). Returns the file read and its text, or `None` when there
/// is no such file.
pub fn read_dockerignore(dockerfile: &str, context: &Path) -> Result<Option<(PathBuf, String)>> {
    let mut candidates = Vec::with_capacity(2);
    if dockerfile != "-" {
        candidates.push(PathBuf::from(format!("{dockerfile}.dockerignore")));
    }
    candidates.push(context.join(".dockerignore"));
    for path in candidates {
        match std::fs::File::open(&path) {
            Ok(file) => {
                let text = read_capped(file, &format!("{path:?}"))?;
                return Ok(Some((path, text)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {path:?}")),
        }
    }
    Ok(None)
}

/// The build context directory when none is given: the Dockerfile's directory, or the current
/// directory for standard input.
pub fn default_context(dockerfile: &str) -> PathBuf {
    if dockerfile == "-" {
        return PathBuf::from(".");
    }
    match Path::new(dockerfile).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
