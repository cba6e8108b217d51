//! BuildKit's gateway API (`LlbBridge`) for one build: the calls a frontend makes.
//!
//! Input: a channel and the build's ref (sent as `buildkit-controlapi-buildid` metadata on every
//! call, which ties the calls to the `Control.Solve` that waits for them).
//! Output: the daemon's LLB capabilities, base image configs, solved results, and the final
//! `Return` that hands the result and the image config to the exporter.
//! Invariant: every build that got this far ends with exactly one `Return` (a result or an
//! error), or the waiting `Control.Solve` would never finish.

use std::collections::{BTreeSet, HashMap};

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    result, PingRequest, Ref, ResolveImageConfigRequest, Result as GatewayResult, ReturnRequest,
    SolveRequest,
};
use bollard_buildkit_proto::pb;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;

use super::error::{BuildkitError, Result};

/// The metadata key that names the build a gateway call belongs to.
const BUILD_ID_KEY: &str = "buildkit-controlapi-buildid";

/// The result metadata key of the image config (the moby and image exporters read it).
pub const IMAGE_CONFIG_KEY: &str = "containerimage.config";

/// Adds the build id to every call.
#[derive(Clone)]
pub struct BuildIdInterceptor {
    build_ref: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for BuildIdInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert(BUILD_ID_KEY, self.build_ref.clone());
        Ok(request)
    }
}

/// The gateway of one build.
#[derive(Clone)]
pub struct Gateway {
    client: LlbBridgeClient<InterceptedService<Channel, BuildIdInterceptor>>,
}

impl Gateway {
    /// The gateway of build `build_ref` over `channel`.
    pub fn new(channel: Channel, build_ref: &str) -> Result<Gateway> {
        let build_ref = MetadataValue::try_from(build_ref).map_err(|_| BuildkitError::Solve {
            message: format!("invalid build ref {build_ref:?}"),
        })?;
        let client = LlbBridgeClient::with_interceptor(channel, BuildIdInterceptor { build_ref })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        Ok(Gateway { client })
    }

    /// The daemon's enabled LLB capabilities.
    pub async fn llb_caps(&self) -> Result<BTreeSet<String>> {
        let pong = self
            .client
            .clone()
            .ping(PingRequest {})
            .await
            .map_err(|status| BuildkitError::call("LlbBridge.Ping", status))?
            .into_inner();
        Ok(pong
            .llb_caps
            .into_iter()
            .filter(|cap| cap.enabled)
            .map(|cap| cap.id)
            .collect())
    }

    /// The digest and config JSON of image `reference` for `platform`, as the daemon resolves
    /// it (an image in the engine's own store counts).
    pub async fn resolve_image_config(
        &self,
        reference: &str,
        platform: Option<pb::Platform>,
    ) -> Result<(String, Vec<u8>)> {
        let response = self
            .client
            .clone()
            .resolve_image_config(ResolveImageConfigRequest {
                r#ref: reference.to_string(),
                platform,
                resolve_mode: "default".to_string(),
                log_name: format!("[internal] load metadata for {reference}"),
                ..ResolveImageConfigRequest::default()
            })
            .await
            .map_err(|status| BuildkitError::call("LlbBridge.ResolveImageConfig", status))?
            .into_inner();
        Ok((response.digest, response.config))
    }

    /// Solves `definition`; returns the result's ref id ("" for an empty filesystem).
    pub async fn solve(&self, definition: pb::Definition, evaluate: bool) -> Result<String> {
        let response = self
            .client
            .clone()
            .solve(SolveRequest {
                definition: Some(definition),
                allow_result_return: true,
                allow_result_array_ref: true,
                evaluate,
                ..SolveRequest::default()
            })
            .await
            .map_err(|status| BuildkitError::call("LlbBridge.Solve", status))?
            .into_inner();
        Ok(match response.result.and_then(|r| r.result) {
            Some(result::Result::Ref(reference)) => reference.id,
            Some(result::Result::RefDeprecated(id)) => id,
            _ => response.r#ref,
        })
    }

    /// Ends the build with `ref_id` as its result and `image_config` for the exporter.
    pub async fn return_result(&self, ref_id: &str, image_config: Vec<u8>) -> Result<()> {
        let result = GatewayResult {
            metadata: HashMap::from([(IMAGE_CONFIG_KEY.to_string(), image_config)]),
            result: Some(result::Result::Ref(Ref {
                id: ref_id.to_string(),
                def: None,
            })),
            ..GatewayResult::default()
        };
        self.client
            .clone()
            .r#return(ReturnRequest {
                result: Some(result),
                error: None,
            })
            .await
            .map_err(|status| BuildkitError::call("LlbBridge.Return", status))?;
        Ok(())
    }

    /// Ends the build with an error (so the waiting solve returns it).
    pub async fn return_error(&self, message: &str) -> Result<()> {
        self.client
            .clone()
            .r#return(ReturnRequest {
                result: None,
                error: Some(RpcStatus {
                    code: tonic::Code::Unknown as i32,
                    message: message.to_string(),
                    details: Vec::new(),
                }),
            })
            .await
            .map_err(|status| BuildkitError::call("LlbBridge.Return", status))?;
        Ok(())
    }
}
