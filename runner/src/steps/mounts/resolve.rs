//! `RUN --mount` options resolved: each mount's words expanded with the stage's variables, its
//! options checked, its source found, and its part of the step's key computed.
//!
//! Input: the RUN's `--mount` specs from the plan, the stage state, the `--secret` files and
//! the `--ssh` agents.
//! Output: [`Mounts`]: the key parts and one resolved mount per spec (a secret or an ssh agent
//! that is neither given nor required is left out).
//! Invariant: the key covers what BuildKit's covers: bind sources by content, cache mounts by
//! id, owner and mode, never a secret's or a cache's content; no volume, tmpfs or host file is
//! made here (that is `prepare`'s job).

use std::collections::BTreeMap;

use planner::patterns::clean;
use planner::plan::Mount;
use sha2::{Digest, Sha256};

use super::bind_source::{bind_content, image_content, source_image, BindContent};
use crate::containers::cache_volumes::CACHE_VOLUME_PREFIX;
use crate::error::{Result, StepError};
use crate::exec::container_fs;
use crate::exec::ctx::{CacheClaim, Ctx};
use crate::exec::stage_state::StageState;
use crate::fs::tar as tarx;

/// The label on a cache volume that holds the cache's `id` (its target when no id is given):
/// `docker volume ls --filter label=stageplan.cache.id=ID` finds a cache's volumes.
pub const CACHE_ID_LABEL: &str = "stageplan.cache.id";

/// The label on a cache volume made with `from=`: the image id of the base it started from
/// (`scratch` for none).
pub const CACHE_BASE_LABEL: &str = "stageplan.cache.base";

/// The mounts of one RUN, resolved.
pub struct Mounts {
    /// What of the mounts the step's cache key covers (BuildKit's: no secret or cache
    /// contents, bind sources by content).
    pub key_parts: Vec<String>,
    /// `SSH_AUTH_SOCK` for the process: the target of the RUN's first ssh mount (also when no
    /// agent was forwarded for it), as BuildKit sets it unless the environment has one.
    pub ssh_auth_sock: Option<String>,
    pub(super) mounts: Vec<Resolved>,
}

impl Mounts {
    /// The cache volumes the RUN mounts with `sharing=locked`, sorted and each once: the locks
    /// it takes, in the order every RUN takes them.
    pub fn locked_caches(&self) -> Vec<String> {
        let mut volumes: Vec<String> = self
            .mounts
            .iter()
            .filter_map(|mount| match mount {
                Resolved::Cache {
                    volume,
                    locked: true,
                    ..
                } => Some(volume.clone()),
                _ => None,
            })
            .collect();
        volumes.sort();
        volumes.dedup();
        volumes
    }
}

impl Mounts {
    /// Claims the RUN's cache volumes for as long as the returned claims live: a `private`
    /// cache's mount is pointed at a volume of the cache that no other RUN of the build uses now,
    /// as BuildKit gives a private cache's concurrent users caches of their own (kept for
    /// later builds, as its are).
    pub fn claim_caches(&mut self, ctx: &Ctx) -> Vec<CacheClaim> {
        let mut claims = Vec::new();
        for mount in &mut self.mounts {
            if let Resolved::Cache {
                volume, private, ..
            } = mount
            {
                let claim = ctx.claim_cache_volume(volume, *private);
                volume.clone_from(&claim.volume);
                claims.push(claim);
            }
        }
        claims
    }
}

/// One mount of a RUN, resolved (what `prepare` turns into a container mount).
pub(super) enum Resolved {
    Bind {
        target: String,
        read_only: bool,
        is_file: bool,
        content: BindContent,
    },
    Cache {
        target: String,
        volume: String,
        read_only: bool,
        /// `sharing=locked`: the RUNs of the build that mount this volume run one at a time.
        locked: bool,
        /// `sharing=private`: the RUN takes a volume of the cache no other RUN of the build
        /// uses at the time (`volume` itself, or `volume-2`, `volume-3`…).
        private: bool,
        owner: (u64, u64),
        mode: u32,
        /// With `from=`: what a new cache starts with (the source directory, root included);
        /// `None`: an empty directory with `owner` and `mode`.
        seed: Option<BindContent>,
        /// The volume's labels: the cache's id, and with `from=` the base image.
        labels: Vec<(&'static str, String)>,
    },
    Tmpfs {
        target: String,
        size: i64,
    },
    Secret(Secret),
    Ssh(SshAgent),
}

/// One `--mount=type=ssh` of a RUN whose agent was forwarded (`--ssh`).
pub(super) struct SshAgent {
    /// The agent's id (`default` unless `id=`).
    pub(super) id: String,
    /// The agent's socket on the runner's host.
    pub(super) socket: std::path::PathBuf,
    /// Where the socket appears in the RUN.
    pub(super) target: String,
    /// The socket's mode (0600 unless `mode=`).
    pub(super) mode: u32,
    /// The socket's owner (0:0 unless `uid=`/`gid=`).
    pub(super) owner: (u64, u64),
}

/// One secret of a RUN.
pub struct Secret {
    /// The secret's id.
    pub id: String,
    /// Its content (never written to the engine's disk).
    pub content: Vec<u8>,
    /// The file it is mounted as, or `None` when it is only an environment variable.
    pub target: Option<String>,
    /// The environment variable it is exposed as (`env=`).
    pub env: Option<String>,
    /// File mode.
    pub mode: u32,
    /// File owner.
    pub owner: (u64, u64),
}

/// Resolves a RUN's mounts (expanding their options) and computes their key parts.
pub async fn resolve(
    ctx: &Ctx,
    state: &StageState,
    specs: &[Mount],
) -> Result<std::result::Result<Mounts, StepError>> {
    let vars = state.lookup_vars();
    let mut mounts = Mounts {
        key_parts: Vec::new(),
        ssh_auth_sock: None,
        mounts: Vec::new(),
    };
    let mut ssh_count = 0;
    for spec in specs {
        let mut options: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &spec.options {
            match ctx.expand(value, &vars) {
                Ok(value) => {
                    options.insert(name.clone(), value);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        let mount_type = match ctx.expand(&spec.mount_type, &vars) {
            Ok(t) => t.to_ascii_lowercase(),
            Err(e) => return Ok(Err(e)),
        };
        let target_written = match spec
            .target
            .as_deref()
            .map(|t| ctx.expand(t, &vars))
            .transpose()
        {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let target = target_written
            .as_deref()
            .map(|t| container_fs::absolute(&state.config.working_dir, t));
        // A bind, cache or tmpfs mount without target= (or a relative one) is at the working
        // directory, and never at `/` (BuildKit's dispatchRunMounts).
        let dir_target = || -> std::result::Result<String, StepError> {
            let target = container_fs::absolute(
                &state.config.working_dir,
                target_written.as_deref().unwrap_or(""),
            );
            if target == "/" {
                return Err(StepError::Invalid(format!(
                    "invalid mount target \"/\": a {mount_type} mount needs target= naming a directory other than / (or a WORKDIR to mount at)"
                )));
            }
            Ok(target)
        };
        let source = match spec
            .source
            .as_deref()
            .map(|s| ctx.expand(s, &vars))
            .transpose()
        {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        // A boolean option as BuildKit's parseMount reads it (`strconv.ParseBool`): `1`, `t`,
        // `true`… or `0`, `f`, `false`…; a bare key is `true` in the plan.
        let flag = |name: &str| -> std::result::Result<bool, StepError> {
            options.get(name).map_or(Ok(false), |text| {
                parse_bool(text)
                    .ok_or_else(|| StepError::Invalid(format!("invalid value for {name}: {text}")))
            })
        };
        // Read-only as `ro`/`readonly` say, else as `rw`/`readwrite` say, else `default`.
        let read_only_or = |default: bool| -> std::result::Result<bool, StepError> {
            if options.contains_key("ro") || options.contains_key("readonly") {
                return Ok(flag("ro")? || flag("readonly")?);
            }
            if options.contains_key("rw") || options.contains_key("readwrite") {
                return Ok(!(flag("rw")? || flag("readwrite")?));
            }
            Ok(default)
        };
        let number =
            |name: &str, default: u64, radix: u32| -> std::result::Result<u64, StepError> {
                match options.get(name) {
                    None => Ok(default),
                    Some(text) => u64::from_str_radix(text, radix).map_err(|_| {
                        StepError::Invalid(format!(
                            "--mount={mount_type}: {name}={text} is not a number"
                        ))
                    }),
                }
            };
        // A cache's, a secret's or a socket's `mode` (octal, `default` when absent) and
        // `uid`/`gid`.
        let mode_and_owner = |default: u64| -> std::result::Result<(u32, (u64, u64)), StepError> {
            Ok((
                number("mode", default, 8)? as u32,
                (number("uid", 0, 10)?, number("gid", 0, 10)?),
            ))
        };
        let resolved = match mount_type.as_str() {
            "bind" => {
                let target = match dir_target() {
                    Ok(target) => target,
                    Err(e) => return Ok(Err(e)),
                };
                let read_only = match read_only_or(true) {
                    Ok(read_only) => read_only,
                    Err(e) => return Ok(Err(e)),
                };
                let source = source.unwrap_or_else(|| "/".to_string());
                let (content, is_file, digest) =
                    match bind_content(ctx, state, spec.from.as_ref(), &source).await? {
                        Ok(found) => found,
                        Err(e) => return Ok(Err(e)),
                    };
                mounts
                    .key_parts
                    .push(format!("bind\0{target}\0{read_only}\0{source}\0{digest}"));
                Resolved::Bind {
                    target,
                    read_only,
                    is_file,
                    content,
                }
            }
            "cache" => {
                let target = match dir_target() {
                    Ok(target) => target,
                    Err(e) => return Ok(Err(e)),
                };
                // Without id= the cache is named by its target as written (`.` for none), not
                // joined with the working directory, as BuildKit names it.
                let id = options
                    .get("id")
                    .filter(|id| !id.is_empty())
                    .cloned()
                    .unwrap_or_else(|| clean(target_written.as_deref().unwrap_or("")));
                let (mode, (uid, gid)) = match mode_and_owner(0o755) {
                    Ok(found) => found,
                    Err(e) => return Ok(Err(e)),
                };
                let read_only = match read_only_or(false) {
                    Ok(read_only) => read_only,
                    Err(e) => return Ok(Err(e)),
                };
                // BuildKit's `sharing`: `locked` steps take the cache one at a time, a
                // `private` one gets a cache no other step of the build uses at the time.
                let (locked, private) = match options.get("sharing").map(|s| s.to_ascii_lowercase())
                {
                    None => (false, false),
                    Some(sharing) if sharing == "shared" => (false, false),
                    Some(sharing) if sharing == "private" => (false, true),
                    Some(sharing) if sharing == "locked" => (true, false),
                    Some(_) => {
                        return Ok(Err(StepError::Invalid(format!(
                            "unsupported sharing value {:?}: use shared, private or locked",
                            options["sharing"]
                        ))))
                    }
                };
                let mut identity = format!("{id}\0{uid}\0{gid}\0{mode:o}");
                let mut key_part =
                    format!("cache\0{target}\0{id}\0{uid}\0{gid}\0{mode:o}\0{read_only}");
                let owner_given = ["uid", "gid", "mode"]
                    .iter()
                    .any(|name| options.contains_key(*name));
                let mut labels = vec![(CACHE_ID_LABEL, id.clone())];
                let seed = match &spec.from {
                    None => None,
                    Some(from) => {
                        match cache_seed(ctx, state, from, source.as_deref(), owner_given).await? {
                            Ok((seed, image, digest)) => {
                                // BuildKit keeps one cache per id and base snapshot: a new
                                // image of the `from` starts a new cache.
                                identity.push_str(&format!("\0from\0{image}\0{digest}"));
                                key_part.push_str(&format!("\0from\0{digest}"));
                                labels.push((CACHE_BASE_LABEL, image));
                                seed
                            }
                            Err(e) => return Ok(Err(e)),
                        }
                    }
                };
                let digest = hex::encode(Sha256::digest(identity.as_bytes()));
                mounts.key_parts.push(key_part);
                Resolved::Cache {
                    target,
                    volume: format!("{CACHE_VOLUME_PREFIX}{}", &digest[..16]),
                    read_only,
                    locked,
                    private,
                    owner: (uid, gid),
                    mode,
                    seed,
                    labels,
                }
            }
            "tmpfs" => {
                let target = match dir_target() {
                    Ok(target) => target,
                    Err(e) => return Ok(Err(e)),
                };
                let size = match options.get("size").map(|s| parse_size(s)).transpose() {
                    Ok(size) => size.unwrap_or(0),
                    Err(e) => return Ok(Err(e)),
                };
                mounts.key_parts.push(format!("tmpfs\0{target}\0{size}"));
                Resolved::Tmpfs { target, size }
            }
            "secret" => {
                let env = options.get("env").cloned();
                // BuildKit's dispatchSecret: `source=` names the secret over `id=`; with
                // neither (or both empty), the target's base name does.
                let id = source
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| options.get("id").filter(|id| !id.is_empty()).cloned())
                    .or_else(|| {
                        target
                            .as_deref()
                            .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                    });
                let Some(id) = id else {
                    return Ok(Err(StepError::Invalid(
                        "a secret mount needs id=, source= or target=".to_string(),
                    )));
                };
                let target = match (&target, &env) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!(
                        "/run/secrets/{}",
                        id.rsplit('/').next().unwrap_or(&id)
                    )),
                };
                let (mode, (uid, gid)) = match mode_and_owner(0o400) {
                    Ok(found) => found,
                    Err(e) => return Ok(Err(e)),
                };
                let required = match flag("required") {
                    Ok(required) => required,
                    Err(e) => return Ok(Err(e)),
                };
                mounts.key_parts.push(format!(
                    "secret\0{id}\0{}\0{}\0{mode:o}\0{uid}\0{gid}",
                    target.as_deref().unwrap_or(""),
                    env.as_deref().unwrap_or("")
                ));
                let Some(source) = ctx.options.secrets.get(&id) else {
                    if required {
                        return Ok(Err(StepError::Invalid(format!(
                            "secret {id}: not found; the mount is required: pass --secret id={id},src=FILE (or env=VAR)"
                        ))));
                    }
                    continue;
                };
                let content = match source.read() {
                    Ok(content) => content,
                    Err(e) => {
                        return Ok(Err(StepError::Invalid(format!(
                            "secret \"{id}\": cannot read {}: {e}",
                            source.describe()
                        ))))
                    }
                };
                Resolved::Secret(Secret {
                    id,
                    content,
                    target,
                    env,
                    mode,
                    owner: (uid, gid),
                })
            }
            "ssh" => {
                if source.is_some() {
                    return Ok(Err(StepError::Invalid(
                        "ssh does not support source".to_string(),
                    )));
                }
                let id = options
                    .get("id")
                    .filter(|id| !id.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "default".to_string());
                // BuildKit numbers the default targets by the mount's place among the RUN's
                // ssh mounts.
                let target =
                    target.unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_count}"));
                ssh_count += 1;
                mounts.ssh_auth_sock.get_or_insert_with(|| target.clone());
                let (mode, (uid, gid)) = match mode_and_owner(0o600) {
                    Ok(found) => found,
                    Err(e) => return Ok(Err(e)),
                };
                let required = match flag("required") {
                    Ok(required) => required,
                    Err(e) => return Ok(Err(e)),
                };
                mounts.key_parts.push(format!(
                    "ssh\0{id}\0{target}\0{mode:o}\0{uid}\0{gid}\0{required}"
                ));
                let Some(socket) = ctx.options.ssh.get(&id) else {
                    if required {
                        return Ok(Err(StepError::Invalid(format!(
                            "no SSH key \"{id}\" forwarded from the client; pass --ssh {id} (the agent at $SSH_AUTH_SOCK) or --ssh {id}=SOCKET"
                        ))));
                    }
                    // As in BuildKit: an optional mount with no agent is left out.
                    continue;
                };
                Resolved::Ssh(SshAgent {
                    id,
                    socket: socket.clone(),
                    target,
                    mode,
                    owner: (uid, gid),
                })
            }
            other => {
                return Ok(Err(StepError::Invalid(format!(
                    "unknown --mount type {other:?} (use bind, cache, tmpfs, secret or ssh)"
                ))))
            }
        };
        mounts.mounts.push(resolved);
    }
    Ok(Ok(mounts))
}

/// What a cache mount with `from=` starts with, as BuildKit makes it: the `source` directory of
/// the stage or image (its root when no source is given), or, when the mount sets `uid`, `gid`
/// or `mode` with no source, an empty directory made in that root with them. Also the image
/// (`scratch` for none) and the digest of what the RUN sees, for the cache's identity and the
/// step's key.
async fn cache_seed(
    ctx: &Ctx,
    state: &StageState,
    from: &planner::plan::Source,
    source: Option<&str>,
    owner_given: bool,
) -> Result<std::result::Result<(Option<BindContent>, String, String), StepError>> {
    let source = format!("/{}", tarx::join_dest(source.unwrap_or("/"), ""));
    let image = match source_image(ctx, state, from).await? {
        Ok(image) => image,
        Err(e) => return Ok(Err(e)),
    };
    let name = image.clone().unwrap_or_else(|| "scratch".to_string());
    if source == "/" && owner_given {
        // BuildKit makes the directory on top of the `from` state: the step reruns when that
        // image changes.
        let digest = format!("owned:{name}");
        return Ok(Ok((None, name, digest)));
    }
    let content = image_content(ctx, state, Some(from), image.as_deref(), &source).await?;
    let (content, is_file, digest) = match content {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    if is_file {
        return Ok(Err(StepError::Invalid(format!(
            "cache mount source {source:?} is a file; a cache mount's from= source must be a directory"
        ))));
    }
    Ok(Ok((Some(content), name, digest)))
}

/// A boolean as Go's `strconv.ParseBool` reads it, which BuildKit's parseMount uses; `None`
/// for anything else.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A tmpfs `size=`: bytes, or with a k/m/g suffix (binary units, as BuildKit reads it).
fn parse_size(text: &str) -> std::result::Result<i64, StepError> {
    let lower = text.to_ascii_lowercase();
    let (digits, scale) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (lower.trim_end_matches('b'), 1),
    };
    digits
        .parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0)
        .map(|n| (n * scale as f64) as i64)
        .ok_or_else(|| StepError::Invalid(format!("--mount=type=tmpfs: size={text} is not a size")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_sizes_read_like_buildkit() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("2kb").unwrap(), 2048);
        assert!(parse_size("big").is_err());
    }

    #[test]
    fn booleans_read_like_go_parse_bool() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "yes", "tRue", "maybe"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }
}
