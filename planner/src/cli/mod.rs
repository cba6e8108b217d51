//! The modules of the `planner` binary (not of the library): reading inputs, the `check`
//! command with its report formats, and the language server.
//!
//! Input: command-line arguments, files, stdin. Output: stdout/stderr text and exit codes.
//! Invariant: every rule comes from the planner library; these modules only read files,
//! format what the library computed and speak protocols.

pub mod check;
pub mod files;
pub mod input;
pub mod lsp;
pub mod report;
