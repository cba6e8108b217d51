//! Parser conformance: the planner's syntax layer against BuildKit's own parser.
//!
//! Input: every `tests/fixtures/dockerfiles/**/Dockerfile`; the reference dump of each, made by
//! `tests/conformance/dump.py` with the PyPI package `dockerfile` 3.4.0 (BuildKit v0.12.5's
//! parser) in the venv that `scripts/setup.sh` creates; our dump from
//! `planner::syntax::dump::dump_json`.
//! Output: one test that fails on any fixture whose dumps differ (with the fixture's name and a
//! line diff) and prints `conformance: N/M fixtures identical`.
//! Invariant: the only translation between the two shapes is [`to_reference_shape`]; the only
//! tolerated differences are the fixtures in [`ALLOWED_DEVIATIONS`], and each must still
//! differ (a stale entry fails the test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// Fixtures whose dumps are allowed to differ, with the reason. Only for intended deviations:
/// places where current BuildKit (the frontend docs/buildkit-semantics.md describes) behaves
/// differently from the v0.12.5 parser inside the reference package. Keep this list empty
/// otherwise.
const ALLOWED_DEVIATIONS: &[(&str, &str)] = &[
    (
        "nasty/heredoc-space-before-name",
        "`RUN cat << EOF` is a heredoc since buildkit 0b77373ab (2025, 'allow whitespace in \
         heredocs', test TestHeredocsFromLine `RUN <<- EOF`); v0.12.5 reads the body as instructions",
    ),
    (
        "syntax/directive-check-then-escape",
        "`# check=` is a parser directive since buildkit e3c0a07b0 (2024), so the `# escape=` \
         after it still counts; v0.12.5 stops directive parsing at the unknown `check` key",
    ),
    (
        "syntax/escape-backtick-flags",
        "extractBuilderFlags honours the escape token since buildkit 877d8a771 (wcow mounts); \
         v0.12.5 always treats `\\` as the escape in flags, so `target=C:\\cache` lost its backslash",
    ),
    (
        "syntax/json-trailing-text",
        "text after a JSON array makes it shell form since buildkit 80518e257 (json.Unmarshal \
         instead of json.NewDecoder); v0.12.5 ignored the trailing text",
    ),
];

/// The repository root (the parent of the `tests` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Every fixture Dockerfile under `tests/fixtures/dockerfiles`, sorted by path.
pub fn dockerfile_fixtures() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![repo_root().join("tests/fixtures/dockerfiles")];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|name| name == "Dockerfile") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A fixture's name: its directory relative to `tests/fixtures/dockerfiles` (`go/api-server`).
pub fn fixture_name(path: &Path) -> String {
    let base = repo_root().join("tests/fixtures/dockerfiles");
    path.parent()
        .and_then(|dir| dir.strip_prefix(&base).ok())
        .map(|rel| rel.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|| path.display().to_string())
}

/// The venv python that has the reference package: `$STAGEPLAN_CONFORMANCE_PYTHON`, else the
/// repository's `.venv-conformance`.
fn reference_python() -> PathBuf {
    let python = match std::env::var_os("STAGEPLAN_CONFORMANCE_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => repo_root().join(".venv-conformance/bin/python"),
    };
    assert!(
        python.exists(),
        "the reference parser's venv is missing ({} does not exist): run scripts/setup.sh \
         (it creates .venv-conformance with the PyPI package dockerfile==3.4.0), or point \
         STAGEPLAN_CONFORMANCE_PYTHON at a python that has it",
        python.display()
    );
    python
}

/// Runs dump.py once over `files`; returns the reference dump per path.
pub fn reference_dumps(files: &[PathBuf]) -> BTreeMap<PathBuf, Value> {
    let python = reference_python();
    let script = repo_root().join("tests/conformance/dump.py");
    let output = Command::new(&python)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {} {}: {err}",
                python.display(),
                script.display()
            )
        });
    assert!(
        output.status.success(),
        "{} failed ({}); run scripts/setup.sh to (re)create .venv-conformance:\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let all: BTreeMap<String, Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("dump.py printed invalid JSON: {err}"));
    all.into_iter()
        .map(|(path, dump)| (PathBuf::from(path), dump))
        .collect()
}

/// Maps `planner::syntax::dump::dump_json` output to the reference package's shape. Every
/// translation lives here:
/// - `{"error": {"message", "line"}}` becomes `{"error": message}` (the package reports no
///   line); a `dockerfile parse error on line N: ` prefix is dropped;
/// - `{"instructions": [...]}` becomes the bare list;
/// - `ENV`/`LABEL` values: current BuildKit appends a separator node (`"="`, or `""` for the
///   legacy `key value` form) after each key/value pair; v0.12.5 does not, so the separators
///   are dropped when every third word is one;
/// - heredocs keep only `name`, `fd` and `content` (the package exposes no `expand`/`chomp`);
/// - the package appends each heredoc's body and terminator to `original`
///   (`original + "\n" + content + name + "\n"` per heredoc), so that is done here too;
/// - for `ONBUILD` the package reads heredocs from the trigger node while BuildKit attaches
///   them to the `ONBUILD` node, so the package never shows them: they are dropped;
/// - `ONBUILD ONBUILD ...`: the inner `ONBUILD` node's only argument is a node holding the
///   trigger as a child, with an empty value, so the package shows `[""]`;
/// - the package passes strings through C strings, so each string ends at its first NUL.
pub fn to_reference_shape(ours: &Value) -> Value {
    if let Some(error) = ours.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return cut_at_nul(&json!({ "error": strip_error_prefix(message) }));
    }
    let instructions = ours.get("instructions").and_then(Value::as_array);
    let list = instructions
        .into_iter()
        .flatten()
        .map(instruction_to_reference)
        .collect();
    cut_at_nul(&Value::Array(list))
}

/// Every string in `value` cut at its first NUL character.
fn cut_at_nul(value: &Value) -> Value {
    match value {
        Value::String(text) => {
            Value::String(text.split('\0').next().unwrap_or_default().to_string())
        }
        Value::Array(items) => Value::Array(items.iter().map(cut_at_nul).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), cut_at_nul(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strip_error_prefix(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("dockerfile parse error on line ") {
        if let Some((_, tail)) = rest.split_once(": ") {
            return tail.to_string();
        }
    }
    message.to_string()
}

fn instruction_to_reference(ours: &Value) -> Value {
    let mut out = ours.clone();
    let is_onbuild = !ours["sub_cmd"].is_null();
    let keyword = if is_onbuild {
        &ours["sub_cmd"]
    } else {
        &ours["cmd"]
    };
    let keyword = keyword.as_str().unwrap_or_default().to_ascii_lowercase();
    if keyword == "env" || keyword == "label" {
        out["value"] = drop_key_value_separators(&ours["value"]);
    }
    let nonempty = ours["value"]
        .as_array()
        .is_some_and(|words| !words.is_empty());
    if is_onbuild && keyword == "onbuild" && nonempty {
        out["value"] = json!([""]);
    }
    let heredocs: Vec<Value> = if is_onbuild {
        Vec::new()
    } else {
        ours["heredocs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| json!({"name": h["name"], "fd": h["fd"], "content": h["content"]}))
            .collect()
    };
    if !heredocs.is_empty() {
        let mut original = ours["original"].as_str().unwrap_or_default().to_string();
        original.push('\n');
        for heredoc in &heredocs {
            original.push_str(heredoc["content"].as_str().unwrap_or_default());
            original.push_str(heredoc["name"].as_str().unwrap_or_default());
            original.push('\n');
        }
        out["original"] = Value::String(original);
    }
    out["heredocs"] = Value::Array(heredocs);
    out
}

/// `[k, v, sep, k, v, sep, ...]` with every `sep` `"="` or `""` becomes `[k, v, k, v, ...]`;
/// anything else is returned unchanged.
fn drop_key_value_separators(value: &Value) -> Value {
    let Some(words) = value.as_array() else {
        return value.clone();
    };
    let triples = !words.is_empty()
        && words.len() % 3 == 0
        && words
            .chunks(3)
            .all(|c| c[2] == json!("=") || c[2] == json!(""));
    if !triples {
        return value.clone();
    }
    Value::Array(
        words
            .chunks(3)
            .flat_map(|c| [c[0].clone(), c[1].clone()])
            .collect(),
    )
}

/// A line diff of two texts (longest common subsequence), `-` for the reference, `+` for
/// ours, with two lines of context around each change.
pub fn line_diff(reference: &str, ours: &str) -> String {
    let a: Vec<&str> = reference.lines().collect();
    let b: Vec<&str> = ours.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let near_change = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            out.push_str(&format!("    {op} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("    ...\n");
            skipped = true;
        }
    }
    out
}

/// `value` as indented JSON text (for diffs).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[test]
fn syntax_layer_matches_buildkit_parser() {
    let fixtures = dockerfile_fixtures();
    assert!(
        fixtures.len() >= 100,
        "expected the fixture corpus, found {} files",
        fixtures.len()
    );
    let references = reference_dumps(&fixtures);
    let mut identical = 0;
    let mut failures = Vec::new();
    let mut allowed = Vec::new();
    for path in &fixtures {
        let name = fixture_name(path);
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        let reference = references
            .get(path)
            .unwrap_or_else(|| panic!("dump.py printed nothing for {}", path.display()));
        let ours_raw: Value = serde_json::from_str(&planner::syntax::dump::dump_json(&text))
            .unwrap_or_else(|err| panic!("{name}: dump_json printed invalid JSON: {err}"));
        let ours = to_reference_shape(&ours_raw);
        let allowance = ALLOWED_DEVIATIONS
            .iter()
            .find(|(fixture, _)| *fixture == name);
        if ours == *reference {
            identical += 1;
            if let Some((_, reason)) = allowance {
                failures.push(format!(
                    "{name}: listed in ALLOWED_DEVIATIONS ({reason}) but now identical: remove the entry"
                ));
            }
            continue;
        }
        let diff = line_diff(&pretty(reference), &pretty(&ours));
        match allowance {
            Some((_, reason)) => allowed.push(format!("{name} (allowed: {reason})\n{diff}")),
            None => failures.push(format!(
                "{name}: differs from BuildKit's parser (- reference, + ours):\n{diff}"
            )),
        }
    }
    println!(
        "conformance: {identical}/{} fixtures identical",
        fixtures.len()
    );
    for deviation in &allowed {
        println!("allowed deviation: {deviation}");
    }
    assert!(
        failures.is_empty(),
        "conformance: {identical}/{} fixtures identical; {} mismatches:\n\n{}",
        fixtures.len(),
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mapping_drops_separators_only_from_triples() {
    let triples = json!(["A", "1", "=", "B", "two words", ""]);
    assert_eq!(
        drop_key_value_separators(&triples),
        json!(["A", "1", "B", "two words"])
    );
    let pairs = json!(["A", "1", "B", "2", "C", "3"]);
    assert_eq!(drop_key_value_separators(&pairs), pairs);
    assert_eq!(
        strip_error_prefix("dockerfile parse error on line 3: unterminated heredoc"),
        "unterminated heredoc"
    );
    assert_eq!(
        strip_error_prefix("file with no instructions"),
        "file with no instructions"
    );
}
