//! Inputs of the commands: a Dockerfile from a path or stdin, the planning options from
//! `--target`/`--build-arg`/`--platform`, and the shared output helpers.
//!
//! Input: paths, option arguments, the environment (for `--build-arg KEY`). Output: text and
//! [`Options`]. Invariant: an unreadable or non-UTF-8 file is an error naming the file.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use anyhow::{bail, Context, Result};

use planner::{Diagnostic, Options, Severity};

/// `--target`, `--build-arg` and `--platform`, shared by `plan`, `graph` and `check`.
#[derive(clap::Args, Clone, Default)]
pub struct PlanOptions {
    /// Target stage to build (repeat for several); default: the last stage.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Build argument KEY=VALUE (KEY alone takes the value from the environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Target platform os/arch[/variant] (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
}

/// Reads a Dockerfile: `-` is standard input (named `<stdin>`). Returns its display name and text.
pub fn read_dockerfile(path: &str) -> Result<(String, String)> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the Dockerfile from standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read Dockerfile {path:?}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "Dockerfile {path:?} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok((path.to_string(), text))
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
    let mut stderr = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(stderr, "{}", format_diagnostic(file, d));
    }
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
