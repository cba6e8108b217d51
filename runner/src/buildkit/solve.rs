//! One build on BuildKit: session, solve, gateway, progress, result.
//!
//! Input: a transport, the plan, [`BuildOptions`], the progress sink and a cancellation future
//! (Ctrl-C, SIGTERM).
//! Output: [`BuildOutcome`] (the image id the exporter reports), or the error that names the
//! failed stage, line and instruction.
//! Invariant: the order BuildKit's own client follows — the session is served before the solve
//! starts; `Control.Solve` runs without a definition, so this client acts as the frontend
//! through `LlbBridge` (resolve the base images, translate, solve, `Return` with the image
//! config); every started build ends with one `Return`; a cancellation drops the solve request,
//! which makes BuildKit cancel the build and stop its processes, and returns once the daemon has
//! discarded the build (or after `CANCEL_GRACE`), so that the next build does not join it.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{SolveRequest, StatusRequest};
use planner::plan::{Plan, Source};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use super::error::{BuildkitError, Result};
use super::gateway::Gateway;
use super::llb::convert_source::CONTEXT_NAME;
use super::llb::ops::parse_platform;
use super::llb::reference;
use super::llb::translate::{required_entitlements, translate};
use super::llb::types::{display_name, Compat, ContextInput, ResolvedImage, TranslateInput};
use super::session::{self, SessionServices, SyncedDir};
use super::status::{self, SharedStatus, StatusState};
use super::transport::contract::Transport;
use crate::progress::Progress;

/// What to build besides the plan.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The build context directory.
    pub context_dir: PathBuf,
    /// The Dockerfile, for `<Dockerfile>.dockerignore`.
    pub dockerfile: Option<PathBuf>,
    /// Names for the (last) target image.
    pub tags: Vec<String>,
    /// Secret files by id (`--secret id=ID,src=FILE`).
    pub secrets: BTreeMap<String, crate::secret::SecretSource>,
    /// `--build-arg` values given when the build runs; they override the plan's.
    pub build_args: BTreeMap<String, String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--label` values for the last target's image.
    pub labels: BTreeMap<String, String>,
    /// `--output`: the target's files exported by BuildKit's tar exporter (instead of an
    /// image) and written there by the session.
    pub output: Option<crate::export::Output>,
    /// `--network`: the network of RUNs without one of their own.
    pub network: Option<String>,
    /// `--add-host` entries (`host:ip`).
    pub add_hosts: Vec<String>,
}

/// The result of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// The image id reported by the exporter (`sha256:...`); empty when it reports none.
    pub image: String,
    /// Lines for the end of the build.
    pub summary: Vec<String>,
}

/// Builds `plan` (checked first) on the BuildKit behind `transport`; `cancel` completing with a
/// signal's name stops the build.
pub async fn build(
    transport: &dyn Transport,
    plan: &Plan,
    options: &BuildOptions,
    progress: &Progress,
    cancel: impl Future<Output = &'static str>,
) -> Result<BuildOutcome> {
    crate::plan_check::check(plan)?;
    let root = options
        .context_dir
        .canonicalize()
        .map_err(|source| BuildkitError::Io {
            what: "opening the build context",
            path: options.context_dir.clone(),
            source,
        })?;
    let (excludes, _ignore_file) =
        crate::context::ignore_patterns(&root, options.dockerfile.as_deref())?;
    let channel = transport.channel().await?;
    let written: session::filesend::Written = Arc::default();
    let services = SessionServices {
        dirs: BTreeMap::from([(
            CONTEXT_NAME.to_string(),
            SyncedDir {
                root: root.clone(),
                excludes: Vec::new(),
                reset_owners: true,
            },
        )]),
        secrets: options.secrets.clone(),
        output: options
            .output
            .clone()
            .map(|output| (output, written.clone())),
    };
    let session = session::start(transport, &channel, services, &shared_key(&root)).await?;
    let session_id = session.id().to_string();
    let build_ref = session::random_id();
    let status: SharedStatus = Arc::new(Mutex::new(StatusState::default()));

    // Shared: awaited when the build ends, and after a cancellation (the daemon ends the
    // status stream once it has discarded the build).
    let status_task = futures_util::FutureExt::shared(futures_util::FutureExt::map(
        tokio::spawn(follow_status(
            channel.clone(),
            build_ref.clone(),
            status.clone(),
            progress.clone(),
        )),
        |_| (),
    ));
    let status_ended = status_task.clone();
    let (exporter, exporter_attrs) = match &options.output {
        // As `docker build --output`: the files instead of an image, through the session.
        Some(_) => ("tar".to_string(), Default::default()),
        None => transport.exporter(&options.tags),
    };
    let solve_request = SolveRequest {
        r#ref: build_ref.clone(),
        session: session_id.clone(),
        exporter_deprecated: exporter,
        exporter_attrs_deprecated: exporter_attrs,
        entitlements: required_entitlements(plan, options.network.as_deref())
            .into_iter()
            .collect(),
        ..SolveRequest::default()
    };
    let mut control = control_client(channel.clone());
    let solve_task = tokio::spawn(async move { control.solve(solve_request).await });
    let solve_abort = solve_task.abort_handle();
    let gateway = Gateway::new(channel.clone(), &build_ref)?;
    let frontend = FrontendRun {
        gateway: &gateway,
        plan,
        session_id: &session_id,
        excludes,
        build_args: build_args(plan, options),
        no_cache: options.no_cache,
        labels: &options.labels,
        network: options.network.as_deref(),
        add_hosts: &options.add_hosts,
        status: &status,
        progress,
    };
    let mut outcome = Box::pin(async {
        let gateway_result = frontend.run().await;
        let returned = match &gateway_result {
            Ok((ref_id, config)) => gateway.return_result(ref_id, config.clone()).await,
            Err(err) => gateway.return_error(&err.to_string()).await,
        };
        let solved = solve_task.await;
        // The status stream ends with the build; its last messages name what failed.
        status_task.await;
        status::lock(&status).flush(progress);
        let finished = finish(gateway_result, returned, solved, &status, progress);
        let exported = written.take_written();
        with_export(finished, options.output.as_ref(), exported)
    });
    let signal = tokio::select! {
        result = &mut outcome => {
            // What the export left unfinished (a failed build) goes before the runner exits.
            written.stop();
            drop(session);
            return result;
        }
        signal = cancel => signal,
    };
    // A partial tar goes at once, and none is renamed into place after the signal (the task
    // receiving it may go on until the daemon stops sending, and outlive the session).
    written.stop();
    // Dropping the frontend's pending calls and the solve request cancels the build on the
    // daemon. The daemon is given a moment to discard it (its status stream ends then): a build
    // of the same steps started right after would otherwise join the cancelled build's steps,
    // still being torn down, and fail with "context canceled" (the Docker CLI waits for the
    // cancelled solve to return as well).
    drop(outcome);
    solve_abort.abort();
    let _ = tokio::time::timeout(CANCEL_GRACE, status_ended).await;
    drop(session);
    Err(BuildkitError::Interrupted { signal })
}

/// How long a cancelled build waits for the daemon to discard it.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What the frontend side of a build needs.
struct FrontendRun<'a> {
    gateway: &'a Gateway,
    plan: &'a Plan,
    session_id: &'a str,
    excludes: Vec<String>,
    build_args: BTreeMap<String, String>,
    no_cache: bool,
    labels: &'a BTreeMap<String, String>,
    network: Option<&'a str>,
    add_hosts: &'a [String],
    status: &'a SharedStatus,
    progress: &'a Progress,
}

impl FrontendRun<'_> {
    /// Resolves the base images, translates, solves every target; returns the last target's
    /// result ref and image config.
    async fn run(&self) -> Result<(String, Vec<u8>)> {
        let caps = self.gateway.llb_caps().await?;
        let base_images = self.resolve_base_images().await?;
        let input = TranslateInput {
            plan: self.plan,
            base_images: &base_images,
            context: ContextInput {
                session_id: self.session_id.to_string(),
                excludes: self.excludes.clone(),
            },
            build_args: &self.build_args,
            caps: &caps,
            compat: Compat::for_caps(&caps),
            no_cache: self.no_cache,
            labels: self.labels,
            network: self.network,
            add_hosts: self.add_hosts,
        };
        let translation = translate(&input)?;
        status::lock(self.status).set_steps(translation.steps.clone());
        for index in self.plan.waves.iter().flatten() {
            let stage = &self.plan.stages[*index];
            self.progress
                .stage_started(&display_name(stage), stage.instructions.len());
        }
        let Some((last, others)) = translation.targets.split_last() else {
            return Err(BuildkitError::Solve {
                message: "the plan has no target".to_string(),
            });
        };
        for target in others {
            if !target.definition.def.is_empty() {
                self.gateway.solve(target.definition.clone(), true).await?;
            }
        }
        let ref_id = if last.definition.def.is_empty() {
            String::new()
        } else {
            self.gateway.solve(last.definition.clone(), false).await?
        };
        Ok((ref_id, last.image_config.clone()))
    }

    /// The config of every FROM image of the needed stages, pinned to the digest the daemon
    /// resolved.
    async fn resolve_base_images(&self) -> Result<BTreeMap<String, ResolvedImage>> {
        let mut wanted: BTreeMap<String, Option<bollard_buildkit_proto::pb::Platform>> =
            BTreeMap::new();
        for stage in self.plan.stages.iter().filter(|stage| stage.needed) {
            if let Source::Image { image } = &stage.base {
                let platform = stage.platform.as_deref().unwrap_or(&self.plan.platform);
                wanted.insert(image.clone(), parse_platform(platform));
            }
        }
        let lookups = wanted.into_iter().map(|(image, platform)| async move {
            let normalized = reference::normalize(&image);
            let (digest, config) = self
                .gateway
                .resolve_image_config(&normalized, platform)
                .await?;
            let pinned = if digest.is_empty() || image.contains('@') {
                normalized
            } else {
                reference::with_digest(&image, &digest)
            };
            Ok::<_, BuildkitError>((
                image,
                ResolvedImage {
                    reference: pinned,
                    config,
                },
            ))
        });
        futures_util::future::try_join_all(lookups)
            .await
            .map(|pairs| pairs.into_iter().collect())
    }
}

/// The plan's build arguments with the ones given to this build on top.
fn build_args(plan: &Plan, options: &BuildOptions) -> BTreeMap<String, String> {
    let mut args = plan.build_args.clone();
    args.extend(options.build_args.clone());
    args
}

/// The build's result from the gateway's, the return's and the solve's outcomes.
fn finish(
    gateway_result: Result<(String, Vec<u8>)>,
    returned: Result<()>,
    solved: std::result::Result<
        std::result::Result<
            tonic::Response<bollard_buildkit_proto::moby::buildkit::v1::SolveResponse>,
            tonic::Status,
        >,
        tokio::task::JoinError,
    >,
    status: &SharedStatus,
    progress: &Progress,
) -> Result<BuildOutcome> {
    let state = status::lock(status);
    if let Some(failed) = state.failures().iter().find(|f| f.step.is_some()) {
        if let Some(step) = &failed.step {
            let tail = state.tail(&failed.digest);
            let mut message = failed.error.clone();
            if !tail.is_empty() {
                message.push_str(&format!("; last output:\n  {}", tail.join("\n  ")));
            }
            return Err(BuildkitError::StepFailed {
                stage: step.stage.clone(),
                line: step.line,
                text: step.text.clone(),
                exit_code: status::exit_code(&failed.error),
                message,
            });
        }
    }
    // A solve the daemon refused before it began (an entitlement its configuration does not
    // grant, …) never made the job the gateway's calls name, so they only say "no such job":
    // the refusal is the cause.
    if let (Err(gateway_error), Ok(Err(refusal))) = (&gateway_result, &solved) {
        if gateway_error.to_string().contains("no such job") {
            return Err(BuildkitError::call("Control.Solve", refusal.clone()));
        }
    }
    gateway_result?;
    returned?;
    let response = solved
        .map_err(|e| BuildkitError::Solve {
            message: format!("the solve task failed: {e}"),
        })?
        .map_err(|status| BuildkitError::call("Control.Solve", status))?
        .into_inner();
    let image = response
        .exporter_response
        .get("containerimage.digest")
        .cloned()
        .unwrap_or_default();
    for (stage, cached) in state.stages() {
        // BuildKit keeps a stage as a cache record, not an image: there is no id to report.
        progress.stage_done(&stage, "", cached, "");
    }
    let (run, cached) = state.step_counts();
    let summary = vec![format!(
        "built {}: {run} steps run, {cached} cached",
        if image.is_empty() {
            "(the exporter reported no image id)"
        } else {
            crate::progress::short_id(&image)
        },
    )];
    Ok(BuildOutcome { image, summary })
}

/// The build's result with its `--output`: the export's failure (before the solve's, which it
/// caused), or a line saying what was written.
fn with_export(
    finished: Result<BuildOutcome>,
    output: Option<&crate::export::Output>,
    exported: Option<std::result::Result<u64, std::io::Error>>,
) -> Result<BuildOutcome> {
    let Some(output) = output else {
        return finished;
    };
    let failed = |source| BuildkitError::Export {
        dest: output.dest(),
        source,
    };
    match exported {
        Some(Err(source)) => Err(failed(source)),
        None => finished.and_then(|_| {
            Err(failed(std::io::Error::other(
                "buildkit finished without sending the files",
            )))
        }),
        Some(Ok(count)) => finished.map(|mut outcome| {
            outcome.summary.push(match output {
                crate::export::Output::Local(dir) => {
                    format!(
                        "wrote the target's files to {} ({count} entries)",
                        dir.display()
                    )
                }
                crate::export::Output::Tar(None) => {
                    format!("wrote the target's files as a tar to standard output ({count} bytes)")
                }
                crate::export::Output::Tar(Some(file)) => {
                    format!(
                        "wrote the target's files as a tar to {} ({count} bytes)",
                        file.display()
                    )
                }
            });
            outcome
        }),
    }
}

/// Renders the build's progress until the stream ends.
async fn follow_status(
    channel: Channel,
    build_ref: String,
    status: SharedStatus,
    progress: Progress,
) {
    let mut control = control_client(channel);
    let Ok(response) = control.status(StatusRequest { r#ref: build_ref }).await else {
        return;
    };
    let mut stream = response.into_inner();
    while let Ok(Some(message)) = stream.message().await {
        status::lock(&status).apply(&message, &progress);
    }
}

fn control_client(channel: Channel) -> ControlClient<Channel> {
    ControlClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// The session's shared key: stable for one context directory, so BuildKit reuses the
/// previous transfer of it (the Docker CLI hashes its node id with the directory).
fn shared_key(root: &Path) -> String {
    let digest = Sha256::digest(format!("stageplan:{}", root.display()).as_bytes());
    hex::encode(digest)
}
