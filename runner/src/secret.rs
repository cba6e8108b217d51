//! Where a `--secret` comes from: a file, or an environment variable of the runner (as
//! `docker build --secret id=ID,env=VAR` takes it); read only when a step needs it.
//!
//! Input: the parsed `--secret` spec. Output: the secret's bytes, or an error naming where it
//! was looked for.
//! Invariant: nothing here writes a secret anywhere; a variable is read from the runner's own
//! environment at the moment a step asks.

use std::path::PathBuf;

/// Where one secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file.
    File(PathBuf),
    /// An environment variable of the runner, by name.
    Env(String),
}

impl SecretSource {
    /// The secret's bytes.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            SecretSource::File(path) => std::fs::read(path),
            SecretSource::Env(name) => std::env::var_os(name)
                .map(std::os::unix::ffi::OsStringExt::into_vec)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("the environment variable {name} is not set"),
                    )
                }),
        }
    }

    /// Where it is, for messages (`the file F`, `the environment variable V`).
    pub fn describe(&self) -> String {
        match self {
            SecretSource::File(path) => format!("the file {}", path.display()),
            SecretSource::Env(name) => format!("the environment variable {name}"),
        }
    }
}
