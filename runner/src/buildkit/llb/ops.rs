//! Fields every op of the translation carries: its metadata and its platform.
//!
//! Input: a progress name, the instruction text, capabilities; or a platform text.
//! Output: [`pb::OpMetadata`] and [`pb::Platform`] values.
//! Invariant: pure; the same arguments give the same message.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;

/// Op metadata: the progress name, the instruction (`com.docker.dockerfile.v1.command`), the
/// caps the op needs and whether the cache is ignored.
pub fn op_metadata(
    name: &str,
    command: Option<&str>,
    caps: &[&str],
    ignore_cache: bool,
) -> pb::OpMetadata {
    let mut description = BTreeMap::from([("llb.customname".to_string(), name.to_string())]);
    if let Some(command) = command {
        description.insert(
            "com.docker.dockerfile.v1.command".to_string(),
            command.to_string(),
        );
    }
    pb::OpMetadata {
        ignore_cache,
        description,
        caps: caps.iter().map(|cap| (cap.to_string(), true)).collect(),
        ..pb::OpMetadata::default()
    }
}

/// `os/arch[/variant]` as an LLB platform.
pub fn parse_platform(text: &str) -> Option<pb::Platform> {
    let mut parts = text.split('/');
    let os = parts.next().filter(|s| !s.is_empty())?;
    let architecture = parts.next().filter(|s| !s.is_empty())?;
    let variant = parts.next().unwrap_or("");
    if parts.next().is_some() {
        return None;
    }
    Some(pb::Platform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant: variant.to_string(),
        ..pb::Platform::default()
    })
}
