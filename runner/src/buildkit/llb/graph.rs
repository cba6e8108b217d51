//! The LLB graph being built: operations as nodes, encoded into digested bytes at the end.
//!
//! Input: `pb::Op` values (without their input digests) with the node outputs they read, in the
//! order the translation creates them (inputs first), and per-node metadata (names, caps, cache
//! switches). A node may be changed until encoding, which the build context's source needs:
//! its follow paths are known only after every stage is translated (BuildKit's frontend defers
//! it the same way).
//! Output: [`EncodedGraph`]: the digest of each node (`sha256:` of its protobuf bytes, which is
//! how LLB ops refer to each other) and a `pb::Definition` per output — every op reachable from
//! it, inputs before users, then the terminal op naming the output, as `llb.State.Marshal` does.
//! Invariant: deterministic — the same nodes give the same bytes and digests (prost encodes
//! fields in number order and the generated maps are `BTreeMap`s); equal ops share a digest and
//! appear once in a definition.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest, Sha256};

/// A node of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

/// One output of a node (0 for sources and file ops; one per writable mount for execs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Output {
    /// The node.
    pub node: NodeId,
    /// The output index.
    pub index: i64,
}

#[derive(Debug, Clone)]
struct Node {
    op: pb::Op,
    inputs: Vec<Output>,
    metadata: pb::OpMetadata,
}

/// The ops of a translation, as nodes.
#[derive(Debug, Clone, Default)]
pub struct LlbGraph {
    nodes: Vec<Node>,
}

/// The `sha256:<hex>` digest of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl LlbGraph {
    /// Adds `op`, which reads `inputs` (its `pb::Op::inputs` are filled in from them when the
    /// graph is encoded), and returns its node.
    pub fn add(&mut self, op: pb::Op, inputs: Vec<Output>, metadata: pb::OpMetadata) -> NodeId {
        self.nodes.push(Node {
            op,
            inputs,
            metadata,
        });
        NodeId(self.nodes.len() - 1)
    }

    /// The op of `node`, to change it before encoding.
    pub fn op_mut(&mut self, node: NodeId) -> &mut pb::Op {
        &mut self.nodes[node.0].op
    }

    /// The metadata of `node`.
    pub fn metadata(&self, node: NodeId) -> &pb::OpMetadata {
        &self.nodes[node.0].metadata
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Replaces the metadata of `node`.
    pub fn set_metadata(&mut self, node: NodeId, metadata: pb::OpMetadata) {
        self.nodes[node.0].metadata = metadata;
    }

    /// Encodes every node, inputs first.
    pub fn encode(&self) -> EncodedGraph {
        let mut digests: Vec<String> = Vec::with_capacity(self.nodes.len());
        let mut ops: BTreeMap<String, EncodedOp> = BTreeMap::new();
        for node in &self.nodes {
            let mut op = node.op.clone();
            op.inputs = node
                .inputs
                .iter()
                .map(|input| pb::Input {
                    digest: digests[input.node.0].clone(),
                    index: input.index,
                })
                .collect();
            let bytes = op.encode_to_vec();
            let digest = digest_of(&bytes);
            let input_digests = op.inputs.iter().map(|i| i.digest.clone()).collect();
            match ops.get_mut(&digest) {
                Some(existing) => merge_metadata(&mut existing.metadata, node.metadata.clone()),
                None => {
                    ops.insert(
                        digest.clone(),
                        EncodedOp {
                            bytes,
                            inputs: input_digests,
                            metadata: node.metadata.clone(),
                        },
                    );
                }
            }
            digests.push(digest);
        }
        EncodedGraph { digests, ops }
    }
}

#[derive(Debug, Clone)]
struct EncodedOp {
    bytes: Vec<u8>,
    inputs: Vec<String>,
    metadata: pb::OpMetadata,
}

/// The graph with every op encoded.
#[derive(Debug, Clone)]
pub struct EncodedGraph {
    digests: Vec<String>,
    ops: BTreeMap<String, EncodedOp>,
}

impl EncodedGraph {
    /// The digest of `node`.
    pub fn digest(&self, node: NodeId) -> &str {
        &self.digests[node.0]
    }

    /// The decoded op with `digest`.
    pub fn op(&self, digest: &str) -> Option<pb::Op> {
        self.ops
            .get(digest)
            .and_then(|op| pb::Op::decode(op.bytes.as_slice()).ok())
    }

    /// The metadata of the op with `digest`.
    pub fn metadata(&self, digest: &str) -> Option<&pb::OpMetadata> {
        self.ops.get(digest).map(|op| &op.metadata)
    }

    /// The definition that solves to `output`; an empty definition for the empty filesystem.
    pub fn definition(&self, output: Option<Output>) -> pb::Definition {
        let Some(output) = output else {
            return pb::Definition::default();
        };
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        self.visit(&self.digests[output.node.0], &mut seen, &mut order);
        let mut definition = pb::Definition::default();
        let mut any_description = false;
        let mut any_ignore_cache = false;
        for digest in &order {
            let op = &self.ops[digest.as_str()];
            definition.def.push(op.bytes.clone());
            any_description |= !op.metadata.description.is_empty();
            any_ignore_cache |= op.metadata.ignore_cache;
            definition
                .metadata
                .insert(digest.clone(), op.metadata.clone());
        }
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: self.digests[output.node.0].clone(),
                index: output.index,
            }],
            ..pb::Op::default()
        };
        let bytes = terminal.encode_to_vec();
        let mut caps = BTreeMap::from([
            ("constraints".to_string(), true),
            ("platform".to_string(), true),
        ]);
        if any_ignore_cache {
            caps.insert("meta.ignorecache".to_string(), true);
        }
        if any_description {
            caps.insert("meta.description".to_string(), true);
        }
        definition.metadata.insert(
            digest_of(&bytes),
            pb::OpMetadata {
                caps,
                ..pb::OpMetadata::default()
            },
        );
        definition.def.push(bytes);
        definition
    }

    /// Depth-first, inputs before the op, each op once.
    fn visit(&self, digest: &str, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(digest.to_string()) {
            return;
        }
        if let Some(op) = self.ops.get(digest) {
            for input in &op.inputs {
                self.visit(input, seen, order);
            }
            order.push(digest.to_string());
        }
    }
}

/// BuildKit's `mergeMetadata`: ignore-cache is or-ed, descriptions and caps merged.
fn merge_metadata(into: &mut pb::OpMetadata, from: pb::OpMetadata) {
    into.ignore_cache |= from.ignore_cache;
    into.description.extend(from.description);
    into.caps.extend(from.caps);
    if from.export_cache.is_some() {
        into.export_cache = from.export_cache;
    }
    if from.progress_group.is_some() {
        into.progress_group = from.progress_group;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(identifier: &str) -> pb::Op {
        pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: identifier.to_string(),
                attrs: BTreeMap::new(),
            })),
            ..pb::Op::default()
        }
    }

    fn exec() -> pb::Op {
        pb::Op {
            op: Some(pb::op::Op::Exec(pb::ExecOp::default())),
            ..pb::Op::default()
        }
    }

    #[test]
    fn definitions_list_inputs_first_and_end_with_the_output() {
        let mut graph = LlbGraph::default();
        let image = graph.add(
            source("docker-image://docker.io/library/busybox:1"),
            vec![],
            pb::OpMetadata::default(),
        );
        let context = graph.add(source("local://context"), vec![], pb::OpMetadata::default());
        let input = Output {
            node: image,
            index: 0,
        };
        let first = graph.add(exec(), vec![input], pb::OpMetadata::default());
        let second = graph.add(exec(), vec![input], pb::OpMetadata::default());
        // A node can still change before encoding.
        if let Some(pb::op::Op::Source(op)) = &mut graph.op_mut(context).op {
            op.attrs
                .insert("local.followpaths".into(), "[\"a\"]".into());
        }
        let encoded = graph.encode();
        assert_eq!(
            encoded.digest(first),
            encoded.digest(second),
            "equal ops share a digest"
        );

        let definition = encoded.definition(Some(Output {
            node: second,
            index: 0,
        }));
        assert_eq!(
            definition.def.len(),
            3,
            "the unused context source is left out"
        );
        let decoded: Vec<pb::Op> = definition
            .def
            .iter()
            .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
            .collect();
        assert!(matches!(decoded[0].op, Some(pb::op::Op::Source(_))));
        assert_eq!(decoded[1].inputs[0].digest, encoded.digest(image));
        assert_eq!(decoded[2].inputs[0].digest, encoded.digest(first));
        assert_eq!(digest_of(&definition.def[0]), encoded.digest(image));
        assert!(!definition.metadata.contains_key(encoded.digest(context)));
        let terminal = digest_of(&definition.def[2]);
        assert!(definition.metadata[&terminal].caps["constraints"]);
        match encoded.op(encoded.digest(context)).and_then(|op| op.op) {
            Some(pb::op::Op::Source(op)) => assert_eq!(op.attrs["local.followpaths"], "[\"a\"]"),
            other => panic!("not a source: {other:?}"),
        }
        assert!(encoded.definition(None).def.is_empty());
    }
}
