//! A normalized JSON dump of the syntax layer's output, in the shape of the PyPI `dockerfile`
//! package (which wraps BuildKit's parser), for the conformance test.
//!
//! Input: Dockerfile text. Output: `{"instructions": [...]}` or `{"error": {...}}` as JSON text.
//! Invariant: a pure function of the text; stable key order.

use serde_json::{json, Value};

use super::{parse, RawInstruction};

fn instruction_json(node: &RawInstruction) -> Value {
    let (sub_cmd, value_node) = match &node.sub {
        Some(sub) => (Value::String(sub.keyword.to_string()), sub.as_ref()),
        None => (Value::Null, node),
    };
    let heredocs: Vec<Value> = node
        .heredocs
        .iter()
        .map(|h| json!({"name": h.name, "content": h.content, "expand": h.expand, "chomp": h.chomp, "fd": h.fd}))
        .collect();
    json!({
        "cmd": node.keyword,
        "sub_cmd": sub_cmd,
        "json": value_node.json,
        "original": node.original,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "flags": node.flags,
        "value": value_node.args,
        "heredocs": heredocs,
    })
}

/// Dumps `text` as the conformance JSON: the instructions, or the error with its line.
pub fn dump_json(text: &str) -> String {
    let parsed = parse(text);
    let value = match &parsed.error {
        Some(error) => json!({"error": {"message": error.message, "line": error.line}}),
        None => {
            json!({"instructions": parsed.instructions.iter().map(instruction_json).collect::<Vec<_>>()})
        }
    };
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
