//! What a build reads before it touches the engine: the plan (a plan file or `-`, or for
//! `runner build` a Dockerfile planned with the planner library), the context directory, the
//! Dockerfile whose `.dockerignore` applies, the build arguments and the secret files.
//!
//! Input: the parsed arguments ([`BuildArgs`], [`CommonArgs`]).
//! Output: [`Inputs`] (a checked plan and where its files are); build arguments and secrets as
//! maps.
//! Invariant: a plan's `version` is checked before anything else is read from it, and the whole
//! plan is checked before it is returned; bad input is a usage, plan or Dockerfile error naming
//! the file, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use planner::Plan;

use super::agents::SshSource;
use super::args::{BuildArgs, CommonArgs};
use super::stdin_input::{self, FromStdin, StdinContext, STDIN_NAME};
use crate::error::{Result, RunnerError};
use crate::plan_check;
use crate::secret::SecretSource;

/// The checked plan and where its files are.
pub(super) struct Inputs {
    /// The checked plan.
    pub(super) plan: Plan,
    /// The build context directory.
    pub(super) context_dir: PathBuf,
    /// The Dockerfile the plan came from, when it is known and found.
    pub(super) dockerfile: Option<PathBuf>,
    /// The options shared by both forms.
    pub(super) common: CommonArgs,
    /// The context read from standard input (`runner build -`), removed when this is dropped.
    pub(super) stdin_context: Option<StdinContext>,
    /// `runner build --platform`, when given.
    pub(super) platform: Option<String>,
}

/// Plans or reads the plan.
pub(super) fn read_inputs(
    build_args: Option<BuildArgs>,
    plan_file: Option<PathBuf>,
    common: CommonArgs,
    build_platform: Option<String>,
) -> Result<Inputs> {
    let mut stdin_context = None;
    let platform = build_args.as_ref().and_then(|args| args.platform.clone());
    let (plan, context_dir, dockerfile, common) = match build_args {
        Some(args) => {
            let build_args = parse_build_args(&args.common.build_args)?;
            let (dir, source) = dockerfile_source(&args, &mut stdin_context)?;
            let (plan, dockerfile) = match source {
                DockerfileSource::File { path, shown } => {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| RunnerError::io(format!("reading {shown}"), e))?;
                    let text = stdin_input::dockerfile_text(bytes, &shown)?;
                    let recorded = Some(path.display().to_string());
                    let plan =
                        plan_text(&text, &shown, recorded, &args, &build_args, &build_platform)?;
                    (plan, Some(path))
                }
                DockerfileSource::Text(text) => {
                    let plan =
                        plan_text(&text, STDIN_NAME, None, &args, &build_args, &build_platform)?;
                    (plan, None)
                }
            };
            (plan, dir, dockerfile, args.common)
        }
        None => {
            let path = plan_file.ok_or_else(|| {
                RunnerError::Usage(
                    "give a plan file (runner PLAN.json) or use `runner build DIR`; see --help"
                        .to_string(),
                )
            })?;
            let plan = load_plan(&path)?;
            let context = common.context.clone().unwrap_or_else(|| PathBuf::from("."));
            let dockerfile = match &common.dockerfile {
                Some(file) => Some(file.clone()),
                None => plan_dockerfile_path(&plan, &context),
            };
            (plan, context, dockerfile, common)
        }
    };
    Ok(Inputs {
        plan,
        context_dir,
        dockerfile,
        common,
        stdin_context,
        platform,
    })
}

/// Where `runner build` finds its Dockerfile.
enum DockerfileSource {
    /// A file, and how messages name it.
    File { path: PathBuf, shown: String },
    /// Text read from standard input (`-f -`, or `runner build -` given a Dockerfile).
    Text(String),
}

/// The context directory and the Dockerfile of `runner build`: `DIR` and `-f FILE` (default
/// `DIR/Dockerfile`); `-f -` reads the Dockerfile from standard input; a `DIR` of `-` reads a
/// context archive (its Dockerfile inside) or a Dockerfile with an empty context from standard
/// input, into `stdin_context`.
fn dockerfile_source(
    args: &BuildArgs,
    stdin_context: &mut Option<StdinContext>,
) -> Result<(PathBuf, DockerfileSource)> {
    let file_from_stdin = args.file.as_deref() == Some(Path::new("-"));
    if args.dir != Path::new("-") {
        let source = if file_from_stdin {
            let bytes = stdin_input::read_all("the Dockerfile")?;
            DockerfileSource::Text(stdin_input::dockerfile_text(bytes, STDIN_NAME)?)
        } else {
            let path = match &args.file {
                Some(file) => file.clone(),
                None => default_dockerfile(&args.dir)?,
            };
            let shown = path.display().to_string();
            DockerfileSource::File { path, shown }
        };
        return Ok((args.dir.clone(), source));
    }
    if file_from_stdin {
        return Err(RunnerError::Usage(
            "the context and the Dockerfile cannot both come from standard input: give the context directory (runner build -f - DIR), or pipe a context archive that holds the Dockerfile (runner build -)".to_string(),
        ));
    }
    let bytes = stdin_input::read_all("the build context")?;
    let (context, source) = match stdin_input::context(bytes)? {
        FromStdin::Archive(context) => {
            let path = match &args.file {
                Some(file) => Some(context.dir().join(file)).filter(|path| path.is_file()),
                None => default_dockerfile(context.dir()).ok(),
            };
            let Some(path) = path else {
                let name = args.file.as_deref().unwrap_or(Path::new("Dockerfile"));
                return Err(RunnerError::Usage(format!(
                    "the context archive on standard input has no {}: add it, or name the Dockerfile inside it with -f PATH",
                    name.display()
                )));
            };
            let relative = path.strip_prefix(context.dir()).unwrap_or(&path);
            let shown = format!("{STDIN_NAME}/{}", relative.display());
            (context, DockerfileSource::File { path, shown })
        }
        FromStdin::Dockerfile(context, text) => {
            if let Some(file) = &args.file {
                return Err(RunnerError::Usage(format!(
                    "-f {} names a Dockerfile inside a context archive, but standard input held a Dockerfile: drop -f",
                    file.display()
                )));
            }
            (context, DockerfileSource::Text(text))
        }
    };
    let dir = context.dir().to_path_buf();
    *stdin_context = Some(context);
    Ok((dir, source))
}

/// The Dockerfile of `runner build DIR` without `-f`: `DIR/Dockerfile`, else `DIR/dockerfile`
/// (as docker looks for it).
fn default_dockerfile(dir: &Path) -> Result<PathBuf> {
    let upper = dir.join("Dockerfile");
    if upper.exists() {
        return Ok(upper);
    }
    let lower = dir.join("dockerfile");
    if lower.exists() {
        return Ok(lower);
    }
    Err(RunnerError::Usage(format!(
        "no Dockerfile in {}: add one, or name it with -f FILE",
        dir.display()
    )))
}

/// The Dockerfile a plan names, found relative to the working directory or the context; warns
/// when the plan names one that cannot be found (its `.dockerignore` is then not applied).
fn plan_dockerfile_path(plan: &Plan, context: &Path) -> Option<PathBuf> {
    let recorded = plan.dockerfile.as_ref()?;
    let path = PathBuf::from(recorded);
    let candidates = if path.is_absolute() {
        vec![path.clone()]
    } else {
        vec![path.clone(), context.join(&path)]
    };
    match candidates.into_iter().find(|p| p.is_file()) {
        Some(found) => Some(found),
        None => {
            crate::progress::stderr_line(format_args!(
                "warning: the plan was made from {recorded}, which is not found here; its .dockerignore is not applied (pass --dockerfile FILE)"
            ));
            None
        }
    }
}

/// Reads and checks a plan file (`-` for standard input).
pub fn load_plan(path: &Path) -> Result<Plan> {
    let (text, origin) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| RunnerError::io("reading the plan from standard input", e))?;
        (text, "<stdin>".to_string())
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunnerError::io(format!("reading plan {}", path.display()), e))?;
        (text, path.display().to_string())
    };
    plan_check::parse(&text).map_err(|source| RunnerError::Plan { origin, source })
}

/// Plans a Dockerfile's text with the planner library for `args`' targets and platform, on
/// `build_platform` (the engine's); `shown` names it in errors, `recorded` is the path the plan
/// records (for `<Dockerfile>.dockerignore`).
fn plan_text(
    text: &str,
    shown: &str,
    recorded: Option<String>,
    args: &BuildArgs,
    build_args: &BTreeMap<String, String>,
    build_platform: &Option<String>,
) -> Result<Plan> {
    let options = planner::Options {
        targets: args.targets.clone(),
        build_args: build_args.clone(),
        platform: args.platform.clone(),
        build_platform: build_platform.clone(),
        dockerfile: recorded,
    };
    let outcome = planner::plan(text, &options);
    let file = shown.to_string();
    let plan = outcome.plan.ok_or_else(|| RunnerError::Dockerfile {
        errors: outcome
            .diagnostics
            .iter()
            .filter(|d| d.severity == planner::Severity::Error)
            .map(|d| format!("{file}:{}:{}: {}", d.line, d.column, d.message))
            .collect::<Vec<_>>()
            .join("\n"),
        file: file.clone(),
    })?;
    plan_check::check(&plan).map_err(|source| RunnerError::Plan {
        origin: file,
        source,
    })?;
    Ok(plan)
}

/// The `--build-arg` values by name (`KEY` alone takes the environment's value, if any).
pub(super) fn parse_build_args(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for arg in args {
        match arg.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                map.insert(k.to_string(), v.to_string());
            }
            None if !arg.is_empty() => {
                if let Ok(value) = std::env::var(arg) {
                    map.insert(arg.clone(), value);
                }
            }
            _ => {
                return Err(RunnerError::Usage(format!(
                    "--build-arg {arg:?}: use KEY=VALUE"
                )))
            }
        }
    }
    Ok(map)
}

/// The `--label KEY=VALUE` values (`KEY` alone is an empty value, as `docker build --label`
/// takes it); a blank key is refused.
pub(super) fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for label in labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        if key.is_empty() {
            return Err(RunnerError::Usage(format!(
                "--label {label:?}: use KEY=VALUE"
            )));
        }
        map.insert(key.to_string(), value.to_string());
    }
    Ok(map)
}

/// The `--secret` specs by id, as `docker build --secret` reads them: `id=ID,src=FILE`,
/// `id=ID,env=VAR`, `type=env,id=ID` (the variable named ID), or `id=ID` alone (the variable ID
/// when it is set, else the file ID). A file must exist and a variable must be set.
pub(super) fn parse_secrets(specs: &[String]) -> Result<BTreeMap<String, SecretSource>> {
    let mut map = BTreeMap::new();
    for spec in specs {
        let (mut id, mut src, mut env, mut kind) = (None, None, None, None);
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", v @ ("file" | "env"))) => kind = Some(v),
                _ => {
                    return Err(RunnerError::Usage(format!(
                        "--secret {spec:?}: use id=ID,src=FILE or id=ID,env=VAR"
                    )))
                }
            }
        }
        let id = id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| RunnerError::Usage(format!("--secret {spec:?} has no id=")))?;
        let source = match (kind, src, env) {
            (_, Some(_), Some(_)) => {
                return Err(RunnerError::Usage(format!(
                    "--secret {spec:?}: give src=FILE or env=VAR, not both"
                )))
            }
            (Some("env"), src, None) => SecretSource::Env(src.unwrap_or_else(|| id.clone())),
            (_, None, Some(var)) => SecretSource::Env(var),
            (_, Some(file), None) => SecretSource::File(PathBuf::from(file)),
            (_, None, None) if std::env::var_os(&id).is_some() && kind != Some("file") => {
                SecretSource::Env(id.clone())
            }
            (_, None, None) => SecretSource::File(PathBuf::from(&id)),
        };
        match &source {
            SecretSource::File(path) if !path.is_file() => {
                return Err(RunnerError::Usage(format!(
                    "--secret {id}: {} is not a readable file",
                    path.display()
                )))
            }
            SecretSource::Env(name) if std::env::var_os(name).is_none() => {
                return Err(RunnerError::Usage(format!(
                    "--secret {id}: the environment variable {name} is not set"
                )))
            }
            _ => {}
        }
        map.insert(id, source);
    }
    Ok(map)
}

/// The `--add-host HOST:IP` (or `HOST=IP`) values as the engine takes them (`host:ip`); the ip
/// may be IPv6 or `host-gateway`.
pub(super) fn parse_add_hosts(specs: &[String]) -> Result<Vec<String>> {
    specs
        .iter()
        .map(|spec| {
            let (host, ip) = spec
                .split_once('=')
                .or_else(|| spec.split_once(':'))
                .unwrap_or((spec.as_str(), ""));
            let valid_ip = ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok();
            if host.is_empty() || !valid_ip {
                return Err(RunnerError::Usage(format!(
                    "--add-host {spec:?}: use HOST:IP (an IPv4 or IPv6 address, or host-gateway)"
                )));
            }
            Ok(format!("{host}:{ip}"))
        })
        .collect()
}

/// The `--ssh ID[=SOCKET|KEYFILE[,KEYFILE…]]` specs by id: `ID` alone is the agent at
/// `auth_sock` (the caller's `$SSH_AUTH_SOCK`), as in `docker build --ssh default`; one socket, or
/// key files (loaded into an agent of the build's own, see `agents.rs`).
pub(super) fn parse_ssh(
    specs: &[String],
    auth_sock: Option<std::ffi::OsString>,
) -> Result<BTreeMap<String, SshSource>> {
    use std::os::unix::fs::FileTypeExt;
    let mut map = BTreeMap::new();
    for spec in specs {
        let (id, paths) = match spec.split_once('=') {
            Some((id, paths)) => (id, paths.split(',').map(PathBuf::from).collect::<Vec<_>>()),
            None => match auth_sock.as_ref().filter(|sock| !sock.is_empty()) {
                Some(sock) => (spec.as_str(), vec![PathBuf::from(sock)]),
                None => {
                    return Err(RunnerError::Usage(format!(
                        "--ssh {spec}: SSH_AUTH_SOCK is not set; start an agent (eval \"$(ssh-agent)\" && ssh-add) or give its socket or a key file: --ssh {spec}=PATH"
                    )))
                }
            },
        };
        if id.is_empty() {
            return Err(RunnerError::Usage(format!(
                "--ssh {spec:?}: use ID, ID=SOCKET or ID=KEYFILE[,KEYFILE…]"
            )));
        }
        let mut sockets = Vec::new();
        let mut keys = Vec::new();
        for path in paths {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.file_type().is_socket() => sockets.push(path),
                Ok(meta) if meta.is_file() => keys.push(path),
                Ok(_) => {
                    return Err(RunnerError::Usage(format!(
                        "--ssh {id}: {} is neither an agent socket nor a key file",
                        path.display()
                    )))
                }
                Err(e) => {
                    return Err(RunnerError::Usage(format!(
                        "--ssh {id}: cannot use {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        let source = match (sockets.len(), keys.is_empty()) {
            (1, true) => SshSource::Socket(sockets.remove(0)),
            (0, false) => SshSource::Keys(keys),
            _ => {
                return Err(RunnerError::Usage(format!(
                    "--ssh {spec:?}: give one agent socket, or key files, not both"
                )))
            }
        };
        map.insert(id.to_string(), source);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_as_docker_takes_them() {
        let labels = parse_labels(&["a=1".into(), "b=x=y".into(), "flag".into()]).unwrap();
        assert_eq!(labels["a"], "1");
        assert_eq!(labels["b"], "x=y");
        assert_eq!(labels["flag"], "");
        let refused = parse_labels(&["=v".into()]).unwrap_err().to_string();
        assert!(refused.contains("KEY=VALUE"), "{refused}");
    }

    #[test]
    fn build_args_and_secrets() {
        let args = parse_build_args(&["A=1".into(), "B=x=y".into()]).unwrap();
        assert_eq!(args["B"], "x=y");
        assert!(parse_build_args(&["=1".into()]).is_err());
        assert!(parse_secrets(&["id=x".into()]).is_err());
        assert!(parse_secrets(&["id=x,src=/nonexistent/file".into()]).is_err());
    }

    #[test]
    fn secrets_from_files_and_variables_as_docker_takes_them() {
        let dir = crate::context::testdir::TestDir::new();
        dir.file("token", "s3cret");
        let file = dir.path().join("token");
        // PATH is set in every test process; a name no one sets is not.
        let parsed = parse_secrets(&[
            format!("id=a,src={}", file.display()),
            "id=b,env=PATH".into(),
            "type=env,id=PATH".into(),
        ])
        .unwrap();
        assert_eq!(parsed["a"], SecretSource::File(file.clone()));
        assert_eq!(parsed["b"], SecretSource::Env("PATH".into()));
        assert_eq!(parsed["PATH"], SecretSource::Env("PATH".into()));
        // An id alone is the variable of that name when it is set, else the file.
        let alone = parse_secrets(&["id=PATH".into()]).unwrap();
        assert_eq!(alone["PATH"], SecretSource::Env("PATH".into()));
        let refused = |spec: &str, says: &str| {
            let message = parse_secrets(&[spec.into()]).unwrap_err().to_string();
            assert!(message.contains(says), "{spec}: {message}");
        };
        refused("id=x,env=STAGEPLAN_NOBODY_SETS_THIS", "is not set");
        refused(&format!("id=x,src={},env=PATH", file.display()), "not both");
        refused("id=STAGEPLAN_NOBODY_SETS_THIS", "is not a readable file");
        refused("src=/etc/hostname", "has no id=");
    }

    #[test]
    fn added_hosts_as_docker_takes_them() {
        let hosts = parse_add_hosts(&[
            "db:10.0.0.5".into(),
            "v6:fe80::1".into(),
            "cache=10.0.0.6".into(),
            "gw:host-gateway".into(),
        ])
        .unwrap();
        assert_eq!(
            hosts,
            [
                "db:10.0.0.5",
                "v6:fe80::1",
                "cache:10.0.0.6",
                "gw:host-gateway"
            ]
        );
        for bad in ["db", ":10.0.0.5", "db:not-an-ip"] {
            let message = parse_add_hosts(&[bad.into()]).unwrap_err().to_string();
            assert!(message.contains("use HOST:IP"), "{bad}: {message}");
        }
    }

    #[test]
    fn ssh_agents_are_sockets_or_key_files() {
        let dir = crate::context::testdir::TestDir::new();
        dir.file("id_ed25519", "a key").file("id_rsa", "another");
        let socket = dir.path().join("agent.sock");
        let _agent = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let (ed, rsa) = (dir.path().join("id_ed25519"), dir.path().join("id_rsa"));
        let env = Some(socket.clone().into_os_string());
        let given = parse_ssh(
            &[
                "default".into(),
                format!("git={}", socket.display()),
                format!("deploy={},{}", ed.display(), rsa.display()),
            ],
            env,
        )
        .unwrap();
        assert_eq!(given["default"], SshSource::Socket(socket.clone()));
        assert_eq!(given["git"], SshSource::Socket(socket.clone()));
        assert_eq!(given["deploy"], SshSource::Keys(vec![ed.clone(), rsa]));
        let usage = |specs: &[String], env: Option<std::ffi::OsString>| {
            parse_ssh(specs, env).unwrap_err().to_string()
        };
        assert!(usage(&["default".into()], None).contains("SSH_AUTH_SOCK is not set"));
        assert!(usage(
            &[format!("default={},{}", socket.display(), ed.display())],
            None
        )
        .contains("not both"));
        assert!(usage(&["default=/nonexistent/agent.sock".into()], None).contains("cannot use"));
        assert!(usage(&[format!("default={}", dir.path().display())], None)
            .contains("neither an agent socket nor a key file"));
    }
}
