//! The `planner` binary: exit codes, plan JSON on stdout, diagnostics on stderr in
//! `file:line:col: severity[Code]: message` form, check and graph output.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn planner(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("planner runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("planner-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("Dockerfile");
    std::fs::write(&path, text).unwrap();
    path
}

const FILE: &str = "ARG GO_VERSION=1.21\nFROM golang:${GO_VERSION} AS Builder\nRUN go build\nFROM alpine AS prod\nCOPY --from=builder /app /app\n";

#[test]
fn plan_prints_json_and_warnings() {
    let path = write_temp("plan", FILE);
    let out = planner(
        &[
            "plan",
            path.to_str().unwrap(),
            "--target",
            "prod",
            "--build-arg",
            "GO_VERSION=1.22",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["images"], serde_json::json!(["alpine", "golang:1.22"]));
    assert_eq!(plan["waves"], serde_json::json!([[0], [1]]));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .contains(":2:30: warning[StageNameCasing]: Stage name 'Builder' should be lowercase"),
        "{stderr}"
    );
}

#[test]
fn errors_go_to_stderr_with_exit_1() {
    let out = planner(&["plan", "-", "--target", "prd"], Some(FILE));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("<stdin>: error[UnknownTarget]: target stage \"prd\" could not be found (did you mean prod?)"), "{stderr}");
    let out = planner(&["plan", "-"], Some("FROM a\nCOPY --from=9 /a /a\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("<stdin>:2:1: error[InvalidStageIndex]: invalid stage index 9"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(planner(&["plan"], None).status.code(), Some(2));
    assert_eq!(planner(&["bogus"], None).status.code(), Some(2));
    let out = planner(&["plan", "/nonexistent/Dockerfile"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("cannot read Dockerfile \"/nonexistent/Dockerfile\""));
}

#[test]
fn check_reports_every_stage() {
    let out = planner(
        &["check", "-", "--format", "json"],
        Some("FROM a AS Unused\nCMD run\nFROM b\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let diagnostics: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = diagnostics
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["StageNameCasing", "JSONArgsRecommended"]);
    assert_eq!(
        planner(&["check", "-"], Some("FROM a\nCMD [\"x\"]\n"))
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn graph_formats() {
    let out = planner(
        &["graph", "-", "--target", "builder", "--format", "dot"],
        Some(FILE),
    );
    assert_eq!(out.status.code(), Some(0));
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph stages {"));
    assert!(
        dot.contains("stage_1 [label=\"prod\", style=\"rounded\", color=\"grey60\""),
        "{dot}"
    );
    assert!(
        dot.contains("stage_0 -> stage_1 [style=dashed, arrowhead=empty"),
        "{dot}"
    );
    let out = planner(&["graph", "-", "--format", "mermaid"], Some(FILE));
    let mermaid = String::from_utf8(out.stdout).unwrap();
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(mermaid.contains("stage_0 -.-> stage_1"));
}

#[test]
fn input_is_capped_at_16_mib() {
    // /dev/zero never ends: the cap stops the read and says why.
    let out = planner(&["plan", "/dev/zero"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is larger than 16 MiB"), "{stderr}");
    // Just over the cap through standard input.
    let big = "#".repeat(16 * 1024 * 1024 + 1);
    let out = planner(&["plan", "-"], Some(&big));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("on standard input is larger than 16 MiB"));
    // Bytes that are not UTF-8 are refused with the offset.
    let dir = std::env::temp_dir().join(format!("planner-cli-{}-bin", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("Dockerfile");
    std::fs::write(&path, b"FROM a\n\xff\xfe").unwrap();
    let out = planner(&["plan", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("is not UTF-8 text (invalid byte at offset 7)"));
}

#[test]
fn plan_reads_the_dockerignore_buildkit_would_use() {
    let path = write_temp("ignore", "FROM scratch\nCOPY secret.txt notes.md /\n");
    let dir = path.parent().unwrap().to_path_buf();
    let copy_warnings = |out: &Output| -> Vec<String> {
        String::from_utf8(out.stderr.clone())
            .unwrap()
            .lines()
            .filter(|line| line.contains("warning[CopyIgnoredFile]"))
            .map(|line| {
                line.split("warning[CopyIgnoredFile]: ")
                    .nth(1)
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    // No .dockerignore: nothing to report.
    let out = planner(&["plan", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(copy_warnings(&out).is_empty());
    // The context's .dockerignore (the Dockerfile's directory by default).
    std::fs::write(dir.join(".dockerignore"), "secret.txt\n").unwrap();
    let out = planner(&["plan", path.to_str().unwrap()], None);
    assert_eq!(
        copy_warnings(&out),
        vec!["Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore"]
    );
    // <Dockerfile>.dockerignore wins over the context's file.
    std::fs::write(dir.join("Dockerfile.dockerignore"), "*.md\n").unwrap();
    let out = planner(&["graph", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        copy_warnings(&out),
        vec!["Attempting to Copy file \"notes.md\" that is excluded by .dockerignore"]
    );
    // `planner check` reads it too, in every report format (here SARIF and GitHub's).
    let out = planner(
        &["check", path.to_str().unwrap(), "--format", "sarif"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "CopyIgnoredFile"
            && r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("\"notes.md\"")),
        "{sarif}"
    );
    let out = planner(
        &["check", path.to_str().unwrap(), "--format", "github"],
        None,
    );
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("CopyIgnoredFile"));
    // Standard input takes the context's .dockerignore from --context.
    let out = planner(
        &["plan", "-", "--context", dir.to_str().unwrap()],
        Some("FROM scratch\nCOPY secret.txt /\n"),
    );
    assert_eq!(
        copy_warnings(&out),
        vec!["Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore"]
    );
    // A pattern BuildKit refuses fails the plan and names the file.
    std::fs::write(dir.join("Dockerfile.dockerignore"), "a[\n").unwrap();
    let out = planner(&["plan", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("error[InvalidDockerignore]: .dockerignore: syntax error in pattern"));
}

/// Every seventh fixture of tests/fixtures/dockerfiles: `planner plan FILE` prints exactly the
/// library's plan of that file (the path recorded as given).
#[test]
fn cli_prints_the_library_plan() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dockerfiles");
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    let mut dirs = vec![fixtures];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut compared = 0;
    for path in paths.into_iter().step_by(7) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let arg = path.to_string_lossy().into_owned();
        let options = planner::Options {
            dockerfile: Some(arg.clone()),
            ..planner::Options::default()
        };
        let Some(plan) = planner::plan(&text, &options).plan else {
            continue;
        };
        let out = planner(&["plan", &arg], None);
        assert!(
            out.status.success(),
            "{arg}: planner exited {:?}",
            out.status
        );
        let cli: planner::Plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
        assert_eq!(cli, plan, "{arg}: CLI and library differ");
        assert_eq!(cli.dockerfile.as_deref(), Some(arg.as_str()));
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} fixtures compared");
}
