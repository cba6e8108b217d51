//! `runner build -` and `runner build -f - DIR`: the build context or the Dockerfile read from
//! standard input, as `docker build` reads them.
//!
//! Input: standard input: for `-f -` the Dockerfile's text; for a context of `-` either a tar
//! archive of the context (plain, gzip, bzip2 or xz, recognised by its content), or the text of
//! a Dockerfile (the build then has an empty context).
//! Output: the Dockerfile's text, and for a context of `-` a temporary context directory.
//! Invariant: the temporary directory is removed when its [`StdinContext`] is dropped (the build
//! ends, fails or is stopped by a signal; a signal while the archive is being unpacked stops the
//! unpacking at its next read, see [`stop`]), and is named like the runner's other temporary
//! objects, so the next runner sweeps it after a SIGKILL; archive entries cannot be written outside it (the tar
//! crate's `unpack` refuses such paths); standard input is read once.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::containers::identity::RunnerIdentity;
use crate::error::{Result, RunnerError};
use crate::steps::add_source::{archive_kind, Compression};

/// The name under which errors and warnings show a Dockerfile read from standard input.
pub(super) const STDIN_NAME: &str = "<stdin>";

/// Whether a signal stopped the runner while it read its inputs (on a blocking thread, which
/// the runner does not wait for without end), and whether a context directory was made.
static READING: std::sync::Mutex<Reading> = std::sync::Mutex::new(Reading {
    stopped: false,
    made: false,
});

struct Reading {
    /// No context directory is made any more, and an archive being unpacked fails at its next
    /// read, so that its directory is removed at once.
    stopped: bool,
    /// A context directory was made: the reading must be waited for, for it to be removed.
    made: bool,
}

fn reading() -> std::sync::MutexGuard<'static, Reading> {
    READING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops reading a context from standard input (see [`READING`]); returns whether a context
/// directory was made, which goes when the reading ends.
pub(super) fn stop() -> bool {
    let mut reading = reading();
    reading.stopped = true;
    reading.made
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the runner was stopped by a signal")
}

/// A reader that fails once the runner is stopped.
struct Stoppable<R>(R);

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if reading().stopped {
            return Err(stopped());
        }
        self.0.read(buf)
    }
}

/// A context directory made from standard input, removed when dropped.
pub(super) struct StdinContext {
    dir: PathBuf,
    shown: &'static str,
}

impl StdinContext {
    /// The directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// How messages name the context.
    pub(super) fn shown(&self) -> &'static str {
        self.shown
    }
}

impl Drop for StdinContext {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads all of standard input.
pub(super) fn read_all(what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| RunnerError::io(format!("reading {what} from standard input"), e))?;
    Ok(bytes)
}

/// A Dockerfile's text; bytes that are not UTF-8 are refused naming the file, the line and the
/// column of the first one (BuildKit's parser passes such bytes through; the planner reads text).
pub(super) fn dockerfile_text(bytes: Vec<u8>, shown: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        let byte = e.as_bytes()[valid.len()];
        RunnerError::Dockerfile {
            file: shown.to_string(),
            errors: format!(
                "{shown}:{line}:{column}: byte 0x{byte:02x} is not UTF-8 text; save the Dockerfile as UTF-8 (non-ASCII text such as é must be UTF-8 encoded)"
            ),
        }
    })
}

/// What `runner build -` read: a context archive unpacked into a temporary directory, or a
/// Dockerfile with an empty temporary context.
pub(super) enum FromStdin {
    /// The context came as an archive; its Dockerfile is inside.
    Archive(StdinContext),
    /// The Dockerfile came as text; the context is empty.
    Dockerfile(StdinContext, String),
}

/// Reads `runner build -`'s standard input: an archive is unpacked as the context, anything
/// else is the Dockerfile of a build with an empty context (as `docker build -` does).
pub(super) fn context(bytes: Vec<u8>) -> Result<FromStdin> {
    match archive_kind(&bytes) {
        Some(compression) => {
            let context = make_dir("the context archive from standard input")?;
            unpack(&bytes, compression, context.dir())?;
            Ok(FromStdin::Archive(context))
        }
        None => {
            let context =
                make_dir("(none: the Dockerfile came on standard input, with no context)")?;
            Ok(FromStdin::Dockerfile(
                context,
                dockerfile_text(bytes, STDIN_NAME)?,
            ))
        }
    }
}

/// A fresh, private directory in the temporary directory, named `shown` in messages.
fn make_dir(shown: &'static str) -> Result<StdinContext> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Named like the runner's other temporary objects, so that the next runner removes it
    // when this one was killed (SIGKILL) before removing it itself.
    let name = match RunnerIdentity::current() {
        Some(identity) => format!("{}stdin{nanos}", identity.prefix()),
        None => format!("stageplan-stdin-context-{}-{nanos}", std::process::id()),
    };
    let dir = std::env::temp_dir().join(name);
    let mut reading = reading();
    if reading.stopped {
        return Err(RunnerError::io(
            format!("making {}", dir.display()),
            stopped(),
        ));
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| RunnerError::io(format!("making {}", dir.display()), e))?;
    reading.made = true;
    Ok(StdinContext { dir, shown })
}

/// Unpacks a context archive, keeping modes and times.
fn unpack(bytes: &[u8], compression: Compression, dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        RunnerError::Usage(format!(
            "the build context on standard input is not a readable archive ({e}); pipe a tar (plain, gzip, bzip2 or xz) or a Dockerfile"
        ))
    };
    let reader: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(bytes),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(bytes)),
        Compression::Xz => {
            let mut output = Vec::new();
            lzma_rs::xz_decompress(&mut std::io::BufReader::new(bytes), &mut output)
                .map_err(|e| fail(std::io::Error::other(e.to_string())))?;
            Box::new(std::io::Cursor::new(output))
        }
    };
    let mut archive = tar::Archive::new(Stoppable(reader));
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.unpack(dir).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(1_000_000);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn an_archive_becomes_the_context_and_is_removed_with_it() {
        use std::os::unix::fs::PermissionsExt;
        let tar = archive(&[
            ("Dockerfile", b"FROM scratch\n", 0o644),
            ("bin/tool", b"#!/bin/sh\n", 0o755),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        for bytes in [tar.clone(), gz.finish().unwrap()] {
            let FromStdin::Archive(context) = context(bytes).unwrap() else {
                panic!("not read as an archive");
            };
            let dir = context.dir().to_path_buf();
            assert_eq!(
                std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
                "FROM scratch\n"
            );
            let tool = std::fs::metadata(dir.join("bin/tool")).unwrap();
            assert_eq!(tool.permissions().mode() & 0o7777, 0o755);
            drop(context);
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
    }

    #[test]
    fn text_is_a_dockerfile_with_an_empty_context() {
        let FromStdin::Dockerfile(context, text) =
            context(b"FROM busybox\nRUN true\n".to_vec()).unwrap()
        else {
            panic!("not read as a Dockerfile");
        };
        assert_eq!(text, "FROM busybox\nRUN true\n");
        assert_eq!(std::fs::read_dir(context.dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_dockerfile_that_is_not_utf8_names_the_line_and_column_of_its_first_bad_byte() {
        let error = dockerfile_text(
            b"FROM busybox\nRUN echo \xc3\xa9\xff\n".to_vec(),
            STDIN_NAME,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("<stdin>:2:11: byte 0xff is not UTF-8 text"),
            "{error}"
        );
        assert!(context(b"FROM busybox\nRUN \xfe\n".to_vec()).is_err());
    }

    #[test]
    fn a_broken_archive_is_an_error_that_says_what_to_pipe() {
        let mut tar = archive(&[("Dockerfile", b"FROM scratch\n", 0o644)]);
        tar.truncate(600);
        let Err(error) = context(tar) else {
            panic!("a truncated archive was accepted");
        };
        assert!(error.to_string().contains("pipe a tar"), "{error}");
    }
}
