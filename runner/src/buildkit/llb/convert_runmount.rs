//! `RUN --mount=...`: bind, cache, tmpfs, secret and ssh mounts as LLB exec mounts.
//!
//! Input: the plan's mounts of one RUN (type, `from`, source, target, options as written) and the
//! stage state.
//! Output: [`RunMount`]s (and secret environment variables) for the exec op, in the plan's
//! order; a file op that prepares a cache mount's owner and mode when asked.
//! Invariant: BuildKit's defaults (`convert_runmount.go`, `convert_secrets.go`, `convert_ssh.go`): bind mounts are
//! read-only unless `rw`, a cache id defaults to the target, a secret id to the target's base
//! name and its target to `/run/secrets/<id>`; mount words are expanded with the stage's
//! environment; nothing a mount shows reaches the image.

use bollard_buildkit_proto::pb;
use planner::plan::Mount;

use super::convert_source::{context_output, source_root};
use super::graph::Output;
use super::ops::op_metadata;
use super::state::{join, StageState};
use super::translator::Translator;
use super::words::expand_word;
use crate::context::clean as go_clean;

/// What kind of exec mount.
#[derive(Debug, Clone, PartialEq)]
pub enum MountKind {
    /// A filesystem bound at the target.
    Bind,
    /// A persistent cache directory.
    Cache {
        /// The cache id (namespaced as the frontend does).
        id: String,
        /// `pb::CacheSharingOpt`.
        sharing: i32,
    },
    /// An empty in-memory filesystem.
    Tmpfs {
        /// Size limit in bytes (0 = none).
        size: i64,
    },
    /// A secret file.
    Secret(pb::SecretOpt),
    /// An SSH agent socket (served by the client's session, if it forwards that id).
    Ssh(pb::SshOpt),
}

/// One exec mount before it is placed in the op.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMount {
    /// The absolute target path.
    pub target: String,
    /// The filesystem mounted (none for scratch, tmpfs and secrets).
    pub source: Option<Output>,
    /// The path inside the source (`""` for its root).
    pub selector: String,
    /// Read-only.
    pub readonly: bool,
    /// Writable but with no output kept (a read-write bind mount).
    pub no_output: bool,
    /// The kind.
    pub kind: MountKind,
}

impl RunMount {
    /// A mount of nothing from the graph (a secret or an ssh socket) at `target`.
    fn served(target: String, kind: MountKind) -> RunMount {
        RunMount {
            target,
            source: None,
            selector: String::new(),
            readonly: false,
            no_output: false,
            kind,
        }
    }
}

/// The mounts of one RUN, with the secret environment variables and the caps they need.
#[derive(Debug, Default)]
pub struct RunMounts {
    /// The mounts, in the plan's order.
    pub mounts: Vec<RunMount>,
    /// Secrets exposed as environment variables (`env=`).
    pub secret_env: Vec<pb::SecretEnv>,
    /// LLB caps the mounts need.
    pub caps: Vec<&'static str>,
    /// The target of the first ssh mount: the process's `SSH_AUTH_SOCK` unless its environment
    /// sets one.
    pub ssh_auth_sock: Option<String>,
}

/// Translates the mounts of one RUN.
pub fn run_mounts(
    t: &mut Translator<'_>,
    state: &StageState,
    mounts: &[Mount],
) -> Result<RunMounts, String> {
    let escape = t.plan().escape;
    let mut out = RunMounts::default();
    for mount in mounts {
        let expand = |word: &str| expand_word(word, &state.env, escape);
        let kind = expand(&mount.mount_type)?;
        let mut options = std::collections::BTreeMap::new();
        for (key, value) in &mount.options {
            options.insert(key.clone(), expand(value)?);
        }
        let source_path = match &mount.source {
            Some(source) => expand(source)?,
            None => String::new(),
        };
        let target_written = match &mount.target {
            Some(target) => expand(target)?,
            None => String::new(),
        };
        let flag = |name: &str| -> Result<Option<bool>, String> { mount_flag(&options, name) };
        let number = |name: &str, radix: u32| -> Result<Option<u32>, String> {
            match options.get(name) {
                None => Ok(None),
                Some(text) => u32::from_str_radix(text, radix)
                    .map(Some)
                    .map_err(|_| format!("invalid --mount {name}={text:?}")),
            }
        };
        if kind == "secret" {
            add_secret(
                &mut out,
                &options,
                &source_path,
                &target_written,
                number("uid", 10)?,
                number("gid", 10)?,
                number("mode", 8)?,
                t,
            )?;
            continue;
        }
        if kind == "ssh" {
            add_ssh(
                &mut out,
                &options,
                &source_path,
                &target_written,
                (number("uid", 10)?, number("gid", 10)?, number("mode", 8)?),
            )?;
            continue;
        }
        // No target= (or a relative one): at the working directory, as BuildKit mounts it.
        let target = if go_clean(&target_written).starts_with('/') {
            target_written.clone()
        } else {
            join(&["/", &state.dir, &target_written])
        };
        if go_clean(&target) == "/" {
            return Err(format!("invalid mount target {target:?}"));
        }
        let mut source = match (&mount.from, kind.as_str()) {
            (Some(from), _) => source_root(t, from)?,
            (None, "cache") | (None, "tmpfs") => None,
            (None, "bind") => {
                t.context_paths.insert(join(&["/", &source_path]));
                Some(context_output(t))
            }
            (None, other) => {
                return Err(format!(
                    "unsupported mount type {other:?}: use bind, cache, tmpfs or secret"
                ))
            }
        };
        let readonly_default = kind == "bind";
        // As `ro`/`readonly` say, else as `rw`/`readwrite` say, else the type's default.
        let readonly = match (
            flag("ro")?,
            flag("readonly")?,
            flag("rw")?,
            flag("readwrite")?,
        ) {
            (None, None, None, None) => readonly_default,
            (None, None, rw, readwrite) => !(rw.unwrap_or(false) || readwrite.unwrap_or(false)),
            (ro, readonly, _, _) => ro.unwrap_or(false) || readonly.unwrap_or(false),
        };
        let mut selector = String::new();
        let source_root = join(&["/", &source_path]);
        let (uid, gid, mode) = (number("uid", 10)?, number("gid", 10)?, number("mode", 8)?);
        let mount_kind = match kind.as_str() {
            "bind" => {
                out.caps.push("exec.mount.bind");
                MountKind::Bind
            }
            "cache" => {
                let id = options
                    .get("id")
                    .cloned()
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| go_clean(&target_written));
                let sharing = match options.get("sharing").map(String::as_str) {
                    None | Some("shared") => pb::CacheSharingOpt::Shared,
                    Some("private") => pb::CacheSharingOpt::Private,
                    Some("locked") => pb::CacheSharingOpt::Locked,
                    Some(other) => {
                        return Err(format!(
                            "invalid cache sharing {other:?}: use shared, private or locked"
                        ))
                    }
                };
                out.caps.push("exec.mount.cache");
                out.caps.push("exec.mount.cache.sharing");
                MountKind::Cache {
                    id: format!("/{id}"),
                    sharing: sharing as i32,
                }
            }
            "tmpfs" => {
                source = None;
                let size = match options.get("size") {
                    None => 0,
                    Some(text) => {
                        if !t.has_cap("exec.mount.tmpfs.size") {
                            return Err("--mount type=tmpfs,size= needs a BuildKit with exec.mount.tmpfs.size (v0.10 or later): drop size=, or use --backend engine".to_string());
                        }
                        out.caps.push("exec.mount.tmpfs.size");
                        parse_size(text).ok_or_else(|| {
                            format!("invalid tmpfs size {text:?}: use bytes or a unit (64m, 1g)")
                        })?
                    }
                };
                out.caps.push("exec.mount.tmpfs");
                MountKind::Tmpfs { size }
            }
            other => {
                return Err(format!(
                    "unsupported mount type {other:?}: use bind, cache, tmpfs or secret"
                ))
            }
        };
        if source_root != "/" {
            selector = source_root;
        } else if matches!(mount_kind, MountKind::Cache { .. })
            && (uid.is_some() || gid.is_some() || mode.is_some())
        {
            source = Some(cache_permissions(t, state, source, uid, gid, mode));
            selector = "/cache".to_string();
        }
        if !selector.is_empty() {
            out.caps.push("exec.mount.selector");
        }
        let no_output =
            kind == "bind" && !readonly && t.has_cap("exec.mount.bind.readwrite-nooutput");
        out.mounts.push(RunMount {
            target,
            source,
            selector,
            readonly,
            no_output,
            kind: mount_kind,
        });
    }
    Ok(out)
}

/// A boolean mount option as BuildKit's parseMount reads it (Go's `strconv.ParseBool`; a bare
/// key is `true` in the plan); `None` when absent.
fn mount_flag(
    options: &std::collections::BTreeMap<String, String>,
    name: &str,
) -> Result<Option<bool>, String> {
    match options.get(name).map(String::as_str) {
        None => Ok(None),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(Some(false)),
        Some(other) => Err(format!("invalid value for {name}: {other}")),
    }
}

/// A secret mount (and/or environment variable), BuildKit's `dispatchSecret`.
#[allow(clippy::too_many_arguments)]
fn add_secret(
    out: &mut RunMounts,
    options: &std::collections::BTreeMap<String, String>,
    source: &str,
    target: &str,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
    t: &Translator<'_>,
) -> Result<(), String> {
    let mut id = options.get("id").cloned().unwrap_or_default();
    if !source.is_empty() {
        id = source.to_string();
    }
    let env = options.get("env").cloned().filter(|e| !e.is_empty());
    if id.is_empty() {
        if target.is_empty() && env.is_none() {
            return Err("one of source, target required".to_string());
        }
        if !target.is_empty() {
            id = target.rsplit('/').next().unwrap_or(target).to_string();
        } else if let Some(env) = &env {
            id = env.clone();
        }
    }
    let required = mount_flag(options, "required")?.unwrap_or(false);
    let optional = !required;
    if let Some(name) = &env {
        out.secret_env.push(pb::SecretEnv {
            id: id.clone(),
            name: name.clone(),
            optional,
        });
        if t.has_cap("exec.secretenv") {
            out.caps.push("exec.secretenv");
        }
        if target.is_empty() {
            return Ok(());
        }
    }
    let target = if target.is_empty() {
        format!("/run/secrets/{}", id.rsplit('/').next().unwrap_or(&id))
    } else {
        target.to_string()
    };
    let (uid, gid, mode) = if uid.is_some() || gid.is_some() || mode.is_some() {
        (uid.unwrap_or(0), gid.unwrap_or(0), mode.unwrap_or(0o400))
    } else {
        (0, 0, 0o400)
    };
    out.mounts.push(RunMount::served(
        target,
        MountKind::Secret(pb::SecretOpt {
            id,
            uid,
            gid,
            mode,
            optional,
        }),
    ));
    out.caps.push("exec.mount.secret");
    Ok(())
}

/// An ssh mount, BuildKit's `dispatchSSH` and the exec op's defaults: id as written (empty for
/// the session's `default`), target
/// `/run/buildkit/ssh_agent.<n>` (n counting the RUN's ssh mounts), 0:0 and mode 0600, optional
/// unless `required`. The session forwards no agent, so BuildKit leaves an optional mount out and
/// fails a required one, as with `docker build` without `--ssh`.
fn add_ssh(
    out: &mut RunMounts,
    options: &std::collections::BTreeMap<String, String>,
    source: &str,
    target: &str,
    (uid, gid, mode): (Option<u32>, Option<u32>, Option<u32>),
) -> Result<(), String> {
    if !source.is_empty() {
        return Err("ssh does not support source".to_string());
    }
    let count = out
        .mounts
        .iter()
        .filter(|m| matches!(m.kind, MountKind::Ssh(_)))
        .count();
    // As written, like a secret's target (the frontend does not join it with the WORKDIR).
    let target = if target.is_empty() {
        format!("/run/buildkit/ssh_agent.{count}")
    } else {
        target.to_string()
    };
    out.ssh_auth_sock.get_or_insert_with(|| target.clone());
    // As written: the frontend leaves the id empty when none is given, and the session takes
    // an empty id as `default`.
    let id = options.get("id").cloned().unwrap_or_default();
    let required = mount_flag(options, "required")?.unwrap_or(false);
    out.mounts.push(RunMount::served(
        target,
        MountKind::Ssh(pb::SshOpt {
            id,
            uid: uid.unwrap_or(0),
            gid: gid.unwrap_or(0),
            mode: mode.unwrap_or(0o600),
            optional: !required,
        }),
    ));
    out.caps.push("exec.mount.ssh");
    Ok(())
}

/// The frontend's `setCacheUIDGIDFileOp`: a `/cache` directory with the owner and mode asked for.
fn cache_permissions(
    t: &mut Translator<'_>,
    state: &StageState,
    source: Option<Output>,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
) -> Output {
    let owner = pb::ChownOpt {
        user: Some(pb::UserOpt {
            user: Some(pb::user_opt::User::ById(uid.unwrap_or(0))),
        }),
        group: Some(pb::UserOpt {
            user: Some(pb::user_opt::User::ById(gid.unwrap_or(0))),
        }),
    };
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: vec![pb::FileAction {
                input: if source.is_some() { 0 } else { -1 },
                secondary_input: -1,
                output: 0,
                action: Some(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                    path: "/cache".to_string(),
                    mode: (mode.unwrap_or(0o755) & 0o777) as i32,
                    make_parents: false,
                    owner: Some(owner),
                    timestamp: -1,
                })),
            }],
        })),
        platform: t.platform(state),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let metadata = op_metadata(
        "[internal] settings cache mount permissions",
        None,
        &["file.base"],
        false,
    );
    let node = t.graph.add(op, source.into_iter().collect(), metadata);
    Output { node, index: 0 }
}

/// docker/go-units' `RAMInBytes`: a number with an optional binary unit (k, m, g, t, p; `b`
/// and `i` allowed), case-insensitive.
fn parse_size(text: &str) -> Option<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let number: f64 = lower[..digits_end].parse().ok()?;
    let unit = lower[digits_end..]
        .trim_end_matches('b')
        .trim_end_matches('i');
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    Some((number * scale) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("lots"), None);
    }
}
