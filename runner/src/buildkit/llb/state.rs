//! The state of a stage while its instructions are translated (BuildKit's `dispatchState` and
//! the `llb.State` it carries).
//!
//! Input: a base (another stage's final state, an image, or nothing) and then each instruction.
//! Output: the current root filesystem (an LLB output, or none for the empty filesystem), the
//! environment, working directory, user and platform RUN steps see, the image config, and the
//! declared build arguments.
//! Invariant: the environment keeps LLB's order (setting a key moves it to the end, as
//! `EnvList.AddOrReplace` does); the working directory is always absolute.

use bollard_buildkit_proto::pb;

use super::graph::Output;
use super::image::Image;
use crate::context::clean as go_clean;

/// The translation state of one stage.
#[derive(Debug, Clone)]
pub struct StageState {
    /// The stage's index in the plan.
    pub stage_index: usize,
    /// The stage's label for progress and messages (the plan's `display_name`).
    pub display: String,
    /// The root filesystem; `None` is the empty filesystem.
    pub root: Option<Output>,
    /// The environment RUN steps get, in LLB order.
    pub env: Vec<(String, String)>,
    /// The working directory RUN steps start in.
    pub dir: String,
    /// The user RUN steps run as ("" = the image default, root).
    pub user: String,
    /// The platform of the stage's ops.
    pub platform: pb::Platform,
    /// The image config built so far.
    pub image: Image,
    /// The `ARG`s declared in the stage and their values (for RUN's history entries).
    pub build_args: Vec<(String, Option<String>)>,
    /// Whether a `CMD` was given in this stage (an `ENTRYPOINT` then keeps it).
    pub cmd_set: bool,
    /// The number of steps shown in progress names (`[name 2/5]`).
    pub step_total: usize,
    /// The number of steps named so far.
    pub step_index: usize,
    /// The name prefix of the stage's steps (`""` when the file has one stage).
    pub step_prefix: String,
}

impl StageState {
    /// Sets `key` in the environment; an existing entry is removed first, so the key moves to
    /// the end.
    pub fn env_add(&mut self, key: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// The value of `key` in the environment.
    pub fn env_get(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value.as_str())
    }

    /// The environment as `KEY=VALUE` strings, for an exec's meta.
    pub fn env_array(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Changes the working directory; a relative `value` is joined to the current one.
    pub fn set_dir(&mut self, value: &str) {
        self.dir = if value.starts_with('/') {
            value.to_string()
        } else {
            join(&[if self.dir.is_empty() { "/" } else { &self.dir }, value])
        };
    }

    /// `path` against the working directory, unless it is absolute (the frontend's
    /// `pathRelativeToWorkingDir`).
    pub fn relative_to_dir(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            join(&[&self.dir, path])
        }
    }

    /// The next step's display name: `[name i/n] text`, as the frontend's `prefixCommand`.
    pub fn step_name(&mut self, text: &str) -> String {
        if self.step_total == 0 {
            return text.to_string();
        }
        self.step_index += 1;
        let width = self.step_total.to_string().len();
        let mut out = String::from("[");
        if !self.step_prefix.is_empty() {
            out.push_str(&self.step_prefix);
            out.push(' ');
        }
        out.push_str(&format!(
            "{:>width$}/{}] {text}",
            self.step_index, self.step_total
        ));
        out
    }
}

/// Go's `path.Join`: the non-empty elements joined with `/` and cleaned.
pub fn join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    go_clean(&joined)
}

/// llb's `normalizePath`: `path` cleaned and made absolute against `parent`; with `keep_slash`
/// a trailing `/` (or `/.`) of the original survives, since it means "into this directory".
pub fn normalize_path(parent: &str, path: &str, keep_slash: bool) -> String {
    let mut out = go_clean(path);
    if !out.starts_with('/') {
        out = join(&["/", parent, &out]);
    }
    if keep_slash {
        if path.ends_with('/') && !out.ends_with('/') {
            out.push('/');
        } else if path.ends_with("/.") {
            if out != "/" {
                out.push('/');
            }
            out.push('.');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_go() {
        assert_eq!(join(&["/", "a/../b", "c/"]), "/b/c");
        assert_eq!(join(&["", "x"]), "x");
        assert_eq!(normalize_path("/work", "out/", true), "/work/out/");
        assert_eq!(normalize_path("/work", "/abs/.", true), "/abs/.");
        assert_eq!(normalize_path("/", "//", true), "/");
        assert_eq!(normalize_path("/w", "f", false), "/w/f");
    }
}
