//! The session's `moby.buildkit.secrets.v1.Secrets` service: secret files for
//! `RUN --mount=type=secret`, read when BuildKit asks for them.
//!
//! Input: the `--secret` sources (a file or an environment variable) by id; `GetSecret`
//! requests from the daemon.
//! Output: the file's bytes, or `NOT_FOUND` for an unknown id (an optional secret mount is then
//! skipped by BuildKit; a required one fails the step with the id in the message).
//! Invariant: a secret is read only when the daemon asks for its id, and never written anywhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::Secrets;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use tonic::{Request, Response, Status};

use crate::secret::SecretSource;

/// Secret ids and where they are.
#[derive(Debug, Clone, Default)]
pub struct SecretsService {
    sources: Arc<BTreeMap<String, SecretSource>>,
}

impl SecretsService {
    /// Serves `sources` (id → where the secret is).
    pub fn new(sources: BTreeMap<String, SecretSource>) -> SecretsService {
        SecretsService {
            sources: Arc::new(sources),
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
        let Some(source) = self.sources.get(&id) else {
            return Err(Status::not_found(format!(
                "secret {id} not found: pass it with --secret id={id},src=FILE (or env=VAR)"
            )));
        };
        match source.read() {
            Ok(data) => Ok(Response::new(GetSecretResponse { data })),
            Err(err) => Err(Status::not_found(format!(
                "secret {id}: cannot read {}: {err}",
                source.describe()
            ))),
        }
    }
}
