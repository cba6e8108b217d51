//! Inputs of the commands: a Dockerfile from a path or stdin (at most 16 MiB), the
//! `.dockerignore` BuildKit would apply to its build, the planning options from
//! `--target`/`--build-arg`/`--platform`/`--context`, and the shared output helpers. The only
//! file reading of the planner (the library reads nothing).
//!
//! Input: paths, option arguments, the environment (for `--build-arg KEY`). Output: texts,
//! [`Options`] and [`ContextFiles`]. Invariant: an unreadable or non-UTF-8 file is an error
//! naming the file and what to do; never more than [`MAX_INPUT`] bytes of any file or stream are
//! read, so `/dev/zero`, `/dev/urandom` or a huge file cost bounded time and memory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use planner::{ContextFiles, Diagnostic, Options, Severity};

/// `--target`, `--build-arg` and `--platform`, shared by `plan`, `graph` and `check`.
#[derive(clap::Args, Clone, Default)]
pub struct PlanOptions {
    /// Target stage to build (repeat for several); default: the last stage.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Build argument KEY=VALUE (KEY alone takes the value from the environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Target platform os/arch[/variant] (default: the build platform).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// The platform the build runs on, os/arch[/variant] (BUILDPLATFORM; default linux/amd64):
    /// give the engine's, e.g. linux/arm64 on an Apple-silicon machine.
    #[arg(long = "build-platform", value_name = "OS/ARCH")]
    pub build_platform: Option<String>,
    /// The build context directory, for its .dockerignore (default: the Dockerfile's directory).
    /// <Dockerfile>.dockerignore beside the Dockerfile wins, as in BuildKit.
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
}

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

/// The build-context files of a build of `dockerfile`: the `.dockerignore` BuildKit would apply,
/// with the context `--context` names (default: the Dockerfile's directory).
pub fn context_files(dockerfile: &str, args: &PlanOptions) -> Result<ContextFiles> {
    let context = args
        .context
        .clone()
        .unwrap_or_else(|| default_context(dockerfile));
    let found = read_dockerignore(dockerfile, &context)?;
    Ok(ContextFiles {
        dockerignore: found.map(|(_, text)| text),
    })
}

/// The planner options of the arguments; `--build-arg KEY` takes KEY from the environment
/// (and is left out when it is not set), as `docker build` does.
pub fn options(args: &PlanOptions) -> Result<Options> {
    let mut build_args = BTreeMap::new();
    for pair in &args.build_args {
        match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                build_args.insert(key.to_string(), value.to_string());
            }
            Some(_) => bail!("invalid --build-arg {pair:?}: expected KEY=VALUE"),
            None => {
                if let Ok(value) = std::env::var(pair) {
                    build_args.insert(pair.clone(), value);
                }
            }
        }
    }
    Ok(Options {
        targets: args.targets.clone(),
        build_args,
        platform: args.platform.clone(),
        build_platform: args.build_platform.clone(),
        dockerfile: None,
    })
}

/// The severity's name in the text format.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// `file:line:col: severity[Code]: message` (`file: ...` for line 0).
pub fn format_diagnostic(file: &str, d: &Diagnostic) -> String {
    let severity = severity_name(d.severity);
    if d.line == 0 {
        format!("{file}: {severity}[{}]: {}", d.code, d.message)
    } else {
        format!(
            "{file}:{}:{}: {severity}[{}]: {}",
            d.line, d.column, d.code, d.message
        )
    }
}

/// Prints diagnostics to stderr in the text format.
pub fn print_diagnostics(file: &str, diagnostics: &[Diagnostic]) {
    let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
    for d in diagnostics {
        let _ = writeln!(stderr, "{}", format_diagnostic(file, d));
    }
    let _ = stderr.flush();
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}
