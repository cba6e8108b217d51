//! `runner --backend buildkit`: the command line's request performed on BuildKit.
//!
//! Input: a checked plan, the context directory and Dockerfile, the build options, the engine
//! address or `--buildkit-addr`/`--buildkit-tls`, the progress mode and the installed signal
//! handlers.
//! Output: the image id (the command line prints it as the engine backend's), progress, and the
//! [`BuildkitError`] of a failed build.
//! Invariant: the transport is chosen here and nowhere else: the engine's own BuildKit unless a
//! standalone daemon is named.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use planner::Plan;

use super::error::Result;
use super::solve::{build, BuildOptions};
use super::transport::contract::Transport;
use super::transport::daemon::{DaemonAddress, DaemonTls, DaemonTransport};
use super::transport::engine::EngineTransport;
use super::transport::hijack::EngineAddress;
use crate::progress::{Progress, ProgressMode};
use crate::signals::Signals;

/// What the command line asks of the BuildKit backend.
#[derive(Debug, Clone)]
pub struct Request {
    /// The checked plan.
    pub plan: Plan,
    /// The build context directory.
    pub context_dir: PathBuf,
    /// The Dockerfile (for `<Dockerfile>.dockerignore`).
    pub dockerfile: Option<PathBuf>,
    /// Image names.
    pub tags: Vec<String>,
    /// `--build-arg` values (over the plan's).
    pub build_args: BTreeMap<String, String>,
    /// `--label` values for the last target's image.
    pub labels: BTreeMap<String, String>,
    /// `--secret` files by id.
    pub secrets: BTreeMap<String, crate::secret::SecretSource>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--output`: the target's files instead of an image.
    pub output: Option<crate::export::Output>,
    /// `--network`: the network of RUNs without one of their own.
    pub network: Option<String>,
    /// `--add-host` entries (`host:ip`).
    pub add_hosts: Vec<String>,
    /// `--engine`: the engine whose BuildKit builds (default `DOCKER_HOST`, else the socket).
    pub engine: Option<String>,
    /// `--buildkit-addr`: a standalone daemon instead.
    pub buildkit_addr: Option<String>,
    /// `--buildkit-tls`: its TLS files.
    pub buildkit_tls: Option<String>,
    /// The progress mode.
    pub progress: ProgressMode,
}

/// The transport the request names.
pub fn transport(request: &Request) -> Result<Box<dyn Transport>> {
    match &request.buildkit_addr {
        Some(address) => {
            let address = DaemonAddress::parse(address)?;
            let tls = request
                .buildkit_tls
                .as_deref()
                .map(DaemonTls::parse)
                .transpose()?;
            Ok(Box::new(DaemonTransport::new(address, tls)))
        }
        None => {
            if request.buildkit_tls.is_some() {
                return Err(super::error::BuildkitError::BadAddress {
                    address: "--buildkit-tls".to_string(),
                    problem: "applies to --buildkit-addr tcp://...; the engine's BuildKit uses the engine's TLS settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)".to_string(),
                });
            }
            let address = EngineAddress::from_env(request.engine.as_deref())?;
            Ok(Box::new(EngineTransport::new(address)))
        }
    }
}

/// Performs the request; returns the process exit code (0) or the error.
pub async fn run(request: Request, signals: &mut Signals) -> Result<String> {
    let started = Instant::now();
    let transport = transport(&request)?;
    let progress = Progress::new(request.progress);
    let options = BuildOptions {
        context_dir: request.context_dir.clone(),
        dockerfile: request.dockerfile.clone(),
        tags: request.tags.clone(),
        secrets: request.secrets.clone(),
        build_args: request.build_args.clone(),
        no_cache: request.no_cache,
        labels: request.labels.clone(),
        output: request.output.clone(),
        network: request.network.clone(),
        add_hosts: request.add_hosts.clone(),
    };
    let result = build(
        transport.as_ref(),
        &request.plan,
        &options,
        &progress,
        signals.recv(),
    )
    .await;
    match result {
        Ok(outcome) => {
            let mut summary = outcome.summary.clone();
            summary.push(format!(
                "{} in {:.1}s{}",
                transport.describe(),
                started.elapsed().as_secs_f64(),
                if request.tags.is_empty() {
                    String::new()
                } else {
                    format!(", tagged {}", request.tags.join(", "))
                }
            ));
            progress.build_done(true, Some(&outcome.image), &summary);
            Ok(outcome.image)
        }
        Err(error) => {
            progress.build_done(false, None, &[]);
            Err(error)
        }
    }
}
