//! The session's `moby.buildkit.secrets.v1.Secrets` service: secret files for
//! `RUN --mount=type=secret`, read when BuildKit asks for them.
//!
//! Input: `--secret id=ID,src=FILE` pairs; `GetSecret` requests from the daemon.
//! Output: the file's bytes, or `NOT_FOUND` for an unknown id (an optional secret mount is then
//! skipped by BuildKit; a required one fails the step with the id in the message).
//! Invariant: a file is read only when the daemon asks for its id, and never written anywhere.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::Secrets;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use tonic::{Request, Response, Status};

/// Secret ids and the files that hold them.
#[derive(Debug, Clone, Default)]
pub struct SecretsService {
    files: Arc<BTreeMap<String, PathBuf>>,
}

impl SecretsService {
    /// Serves `files` (id → file).
    pub fn new(files: BTreeMap<String, PathBuf>) -> SecretsService {
        SecretsService {
            files: Arc::new(files),
        }
    }
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        let Some(path) = self.files.get(&id) else {
            return Err(Status::not_found(format!(
                "secret {id} not found: pass it with --secret id={id},src=FILE"
            )));
        };
        match tokio::fs::read(path).await {
            Ok(data) => Ok(Response::new(GetSecretResponse { data })),
            Err(err) => Err(Status::not_found(format!(
                "secret {id}: cannot read {}: {err}",
                path.display()
            ))),
        }
    }
}
