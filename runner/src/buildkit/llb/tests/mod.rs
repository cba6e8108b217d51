//! Tests of the translation from Dockerfile text: the planner makes the plan, the translation
//! makes LLB, and the tests read the decoded ops and the image config. No daemon is involved:
//! base images are given as configs, the daemon's capabilities as lists.
//!
//! Input: Dockerfile text, build arguments, capability sets.
//! Output: assertions on ops (args, env, mounts, copy flags, sources) and configs.
//! Invariant: every test goes through `planner::plan` and [`translate`](super::translate::translate), the same joint the
//! backend uses.

mod config;
mod copy;
mod run;

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use prost::Message;

use super::graph::digest_of;
use super::translate::translate;
use super::types::{
    Compat, ContextInput, ResolvedImage, TranslateError, TranslateInput, Translation,
};

/// The LLB capabilities of BuildKit v0.8 (Docker 20.10's engine), as its `LlbBridge.Ping`
/// reports them.
pub const CAPS_V08: &[&str] = &[
    "source.image",
    "source.image.resolvemode",
    "source.local",
    "source.local.unique",
    "source.local.sessionid",
    "source.local.includepatterns",
    "source.local.followpaths",
    "source.local.excludepatterns",
    "source.local.sharedkeyhint",
    "source.git",
    "source.git.keepgitdir",
    "source.git.fullurl",
    "source.git.httpauth",
    "source.git.knownsshhosts",
    "source.git.mountsshsock",
    "source.http",
    "source.http.checksum",
    "source.http.perm",
    "soruce.http.uidgid",
    "source.buildop.llbfilename",
    "exec.meta.base",
    "exec.meta.proxyenv",
    "exec.meta.network",
    "exec.meta.setsdefaultpath",
    "exec.meta.security",
    "exec.meta.security.devices.v1",
    "exec.mount.bind",
    "exec.mount.bind.readwrite-nooutput",
    "exec.mount.cache",
    "exec.mount.cache.sharing",
    "exec.mount.selector",
    "exec.mount.tmpfs",
    "exec.mount.secret",
    "exec.mount.ssh",
    "exec.cgroup",
    "file.base",
    "file.rm.wildcard",
    "constraints",
    "platform",
    "meta.ignorecache",
    "meta.description",
    "meta.exportcache",
];

/// Capabilities a current BuildKit adds to [`CAPS_V08`] and that the translation uses.
pub const CAPS_NEW: &[&str] = &[
    "mergeop",
    "diffop",
    "file.copy.includeexcludepatterns",
    "file.copy.requiredpaths",
    "file.copy.modestring",
    "exec.mount.tmpfs.size",
    "exec.secretenv",
];

/// The base image every test uses: one layer, an Env and a working directory.
pub const BUSYBOX: &str = r#"{"architecture":"amd64","os":"linux",
    "config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","BASE=1"],"Cmd":["sh"],"WorkingDir":"/home"},
    "rootfs":{"type":"layers","diff_ids":["sha256:1111"]},
    "history":[{"created":"2024-01-01T00:00:00Z","created_by":"import"}]}"#;

/// The digest the fake daemon resolves every image to.
pub const IMAGE_DIGEST: &str = "sha256:2222";

/// A translated Dockerfile and what the tests read from it.
pub struct Built {
    pub translation: Translation,
}

/// Options of a test build.
pub struct Setup<'a> {
    pub build_args: &'a [(&'a str, &'a str)],
    pub targets: &'a [&'a str],
    pub caps: &'a [&'a [&'a str]],
    pub images: &'a [(&'a str, &'a str)],
    pub excludes: &'a [&'a str],
    pub no_cache: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            build_args: &[],
            targets: &[],
            caps: &[CAPS_V08],
            images: &[],
            excludes: &[],
            no_cache: false,
        }
    }
}

/// Plans `dockerfile` and translates it with `setup`.
pub fn try_build(dockerfile: &str, setup: &Setup<'_>) -> Result<Built, TranslateError> {
    let options = planner::Options {
        targets: setup.targets.iter().map(|t| t.to_string()).collect(),
        build_args: setup
            .build_args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..planner::Options::default()
    };
    let outcome = planner::plan(dockerfile, &options);
    let plan = outcome.plan.unwrap_or_else(|| {
        panic!(
            "the planner rejected the test file: {:?}",
            outcome.diagnostics
        )
    });
    let mut base_images = BTreeMap::new();
    for stage in plan.stages.iter().filter(|s| s.needed) {
        if let planner::plan::Source::Image { image } = &stage.base {
            let config = setup
                .images
                .iter()
                .find(|(name, _)| name == image)
                .map_or(BUSYBOX, |(_, config)| config);
            base_images.insert(
                image.clone(),
                ResolvedImage {
                    reference: super::reference::with_digest(image, IMAGE_DIGEST),
                    config: config.as_bytes().to_vec(),
                },
            );
        }
    }
    let caps: BTreeSet<String> = setup
        .caps
        .iter()
        .flat_map(|list| list.iter())
        .map(|c| c.to_string())
        .collect();
    let build_args = plan.build_args.clone();
    let input = TranslateInput {
        network: None,
        add_hosts: &[],
        plan: &plan,
        build_args: &build_args,
        base_images: &base_images,
        context: ContextInput {
            session_id: "session-1".to_string(),
            excludes: setup.excludes.iter().map(|e| e.to_string()).collect(),
        },
        caps: &caps,
        compat: Compat::for_caps(&caps),
        no_cache: setup.no_cache,
        labels: &BTreeMap::new(),
    };
    translate(&input).map(|translation| Built { translation })
}

/// Plans and translates, failing the test on a translation error.
pub fn build(dockerfile: &str, setup: &Setup<'_>) -> Built {
    try_build(dockerfile, setup).unwrap_or_else(|e| panic!("translation failed: {e}"))
}

/// One decoded op of a definition.
#[derive(Debug, Clone)]
pub struct DecodedOp {
    pub digest: String,
    pub op: pb::Op,
    pub name: String,
}

impl Built {
    /// The ops of the last target's definition, in definition order (the terminal op left out).
    pub fn ops(&self) -> Vec<DecodedOp> {
        let definition = &self
            .translation
            .targets
            .last()
            .expect("a target")
            .definition;
        let n = definition.def.len().saturating_sub(1);
        definition.def[..n]
            .iter()
            .map(|bytes| {
                let digest = digest_of(bytes);
                let name = definition.metadata[&digest]
                    .description
                    .get("llb.customname")
                    .cloned()
                    .unwrap_or_default();
                DecodedOp {
                    op: pb::Op::decode(bytes.as_slice()).expect("op"),
                    digest,
                    name,
                }
            })
            .collect()
    }

    /// The exec ops, in order.
    pub fn execs(&self) -> Vec<(DecodedOp, pb::ExecOp)> {
        self.ops()
            .into_iter()
            .filter_map(|op| match &op.op.op {
                Some(pb::op::Op::Exec(exec)) => Some((op.clone(), exec.clone())),
                _ => None,
            })
            .collect()
    }

    /// The file ops, in order.
    pub fn files(&self) -> Vec<(DecodedOp, pb::FileOp)> {
        self.ops()
            .into_iter()
            .filter_map(|op| match &op.op.op {
                Some(pb::op::Op::File(file)) => Some((op.clone(), file.clone())),
                _ => None,
            })
            .collect()
    }

    /// The source ops, in order.
    pub fn sources(&self) -> Vec<(DecodedOp, pb::SourceOp)> {
        self.ops()
            .into_iter()
            .filter_map(|op| match &op.op.op {
                Some(pb::op::Op::Source(source)) => Some((op.clone(), source.clone())),
                _ => None,
            })
            .collect()
    }

    /// The op that `op`'s input `index` reads.
    pub fn input(&self, op: &DecodedOp, index: i64) -> DecodedOp {
        let digest = &op.op.inputs[index as usize].digest;
        self.ops()
            .into_iter()
            .find(|candidate| &candidate.digest == digest)
            .expect("input in the definition")
    }

    /// The last target's image config.
    pub fn config(&self) -> serde_json::Value {
        let bytes = &self
            .translation
            .targets
            .last()
            .expect("a target")
            .image_config;
        serde_json::from_slice(bytes).expect("config json")
    }
}

/// The copy actions of a file op.
pub fn copies(file: &pb::FileOp) -> Vec<pb::FileActionCopy> {
    file.actions
        .iter()
        .filter_map(|action| match &action.action {
            Some(pb::file_action::Action::Copy(copy)) => Some(copy.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn translations_are_deterministic() {
    let dockerfile = "FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nCOPY --from=a /a /b\nCOPY x y /d/\nRUN --mount=type=cache,target=/c true\n";
    let first = build(dockerfile, &Setup::default());
    let second = build(dockerfile, &Setup::default());
    assert_eq!(
        first.translation.targets[0].definition,
        second.translation.targets[0].definition
    );
    assert_eq!(first.translation.steps, second.translation.steps);
}

#[test]
fn steps_map_ops_to_their_instruction() {
    let built = build(
        "FROM busybox AS build\nRUN echo one\nWORKDIR /w\nCOPY a .\n",
        &Setup::default(),
    );
    let mut lines: Vec<(String, u32)> = built
        .translation
        .steps
        .values()
        .map(|s| (s.text.clone(), s.line))
        .collect();
    lines.sort_by_key(|(_, line)| *line);
    assert_eq!(
        lines,
        vec![
            ("RUN echo one".to_string(), 2),
            ("WORKDIR /w".to_string(), 3),
            ("COPY a .".to_string(), 4)
        ]
    );
    assert!(built.translation.steps.values().all(|s| s.stage == "build"));
}
