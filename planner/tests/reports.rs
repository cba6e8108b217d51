//! `planner check` as CI runs it: several files and directories, `--failure-threshold`, the
//! `# check=error=true` directive, planning options, and every report format: SARIF validated
//! against the official SARIF 2.1.0 schema (planner/tests/data), checkstyle parsed as XML,
//! GitLab Code Quality and GitHub workflow commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn planner(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("planner runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A scratch project: Dockerfiles at the top, nested, with the three name patterns, one in a
/// hidden directory (not searched) and one file that is not a Dockerfile.
fn project(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planner-reports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        (
            "Dockerfile",
            "FROM alpine AS Build\nCMD echo hi\nFROM build\n",
        ),
        (
            "services/api.Dockerfile",
            "FROM alpine\nMAINTAINER me\nCOPY --from=Nope /a /a\n",
        ),
        (
            "services/Dockerfile.dev",
            "# check=error=true\nFROM alpine\nENV A 1\n",
        ),
        ("services/clean/Dockerfile", "FROM alpine\nCMD [\"true\"]\n"),
        (".git/Dockerfile", "FROM\n"),
        ("services/README.md", "not a Dockerfile\n"),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft4::new(&schema).expect("the SARIF schema compiles")
}

#[test]
fn sarif_is_valid_and_names_rules_locations_and_fingerprints() {
    let dir = project("sarif");
    let out = planner(&["check", ".", "--format", "sarif"], &dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
    // The schema is strict enough to catch a broken log (so the check above can fail).
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));

    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    let found: Vec<(String, String, u64)> = results
        .iter()
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            (
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["ruleId"].as_str().unwrap().to_string(),
                location["region"]["startLine"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want = [
        ("Dockerfile", "StageNameCasing", 1),
        ("Dockerfile", "JSONArgsRecommended", 2),
        ("services/Dockerfile.dev", "LintViolation", 0),
        ("services/Dockerfile.dev", "LegacyKeyValueFormat", 3),
        ("services/api.Dockerfile", "MaintainerDeprecated", 2),
        ("services/api.Dockerfile", "InvalidFrom", 3),
    ];
    let want: Vec<(String, String, u64)> = want
        .iter()
        .map(|(uri, rule, line)| (uri.to_string(), rule.to_string(), *line))
        .collect();
    // Sorted by file as walked (names sorted), then by position.
    let mut sorted_want = want.clone();
    sorted_want.sort_by(|a, b| a.0.cmp(&b.0));
    let mut sorted_found = found.clone();
    sorted_found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(sorted_found, sorted_want);

    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in results {
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
    }
    let casing = rules.iter().find(|r| r["id"] == "StageNameCasing").unwrap();
    assert_eq!(
        casing["helpUri"],
        "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    );
    assert_eq!(
        casing["shortDescription"]["text"],
        "Stage names should be lowercase"
    );
    let invalid_from = rules.iter().find(|r| r["id"] == "InvalidFrom").unwrap();
    assert_eq!(invalid_from["defaultConfiguration"]["level"], "error");

    let hashes: Vec<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["stageplanFindingHash/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    let mut unique = hashes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), hashes.len(), "fingerprints are unique");
    // Stable across runs, and across moving a finding's line down the file.
    std::fs::write(
        dir.join("Dockerfile"),
        "\n\nFROM alpine AS Build\nCMD echo hi\nFROM build\n",
    )
    .unwrap();
    let again: Value = serde_json::from_str(&stdout(&planner(
        &["check", ".", "--format", "sarif"],
        &dir,
    )))
    .unwrap();
    let again_hashes: Vec<&str> = again["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["stageplanFindingHash/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(again_hashes, hashes);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sarif_columns_are_utf16_code_units() {
    let dir = project("utf16");
    std::fs::write(dir.join("x.Dockerfile"), "FROM alpine\nCMD echo 😀 ok\n").unwrap();
    let out = planner(&["check", "x.Dockerfile", "--format", "sarif"], &dir);
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(sarif_validator().is_valid(&log));
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "JSONArgsRecommended");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(2), Some(1))
    );
    // "CMD echo 😀 ok" is 13 scalars but 14 UTF-16 code units.
    assert_eq!(region["endColumn"].as_u64(), Some(15));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failure_threshold_and_error_directive() {
    let dir = project("threshold");
    let code = |args: &[&str]| planner(args, &dir).status.code();
    // Warnings only.
    assert_eq!(code(&["check", "Dockerfile"]), Some(1));
    assert_eq!(
        code(&["check", "Dockerfile", "--failure-threshold", "warning"]),
        Some(1)
    );
    assert_eq!(
        code(&["check", "Dockerfile", "--failure-threshold", "error"]),
        Some(0)
    );
    assert_eq!(
        code(&["check", "Dockerfile", "--failure-threshold", "none"]),
        Some(0)
    );
    // `# check=error=true`: the warning becomes BuildKit's lint violation error.
    let out = planner(
        &[
            "check",
            "services/Dockerfile.dev",
            "--failure-threshold",
            "error",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("services/Dockerfile.dev: error[LintViolation]: lint violation found for rules: LegacyKeyValueFormat"),
        "{}",
        stdout(&out)
    );
    assert_eq!(code(&["check", "services/clean"]), Some(0));
    // Bad threshold, no Dockerfile in a directory, a missing file: usage errors.
    assert_eq!(
        code(&["check", ".", "--failure-threshold", "fatal"]),
        Some(2)
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let out = planner(&["check", "empty"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no Dockerfile (Dockerfile, *.Dockerfile, Dockerfile.*) found under \"empty\""));
    assert_eq!(code(&["check", "missing/Dockerfile"]), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn planning_options_choose_the_stages_checked() {
    let dir = project("options");
    std::fs::write(
        dir.join("Dockerfile"),
        "ARG BASE=alpine\nFROM ${BASE} AS unused\nCMD run\nFROM --platform=$BUILDPLATFORM alpine AS app\nCMD [\"app\"]\n",
    )
    .unwrap();
    // No target: every stage is examined (BuildKit's check without --target).
    let out = planner(&["check", "Dockerfile"], &dir);
    assert!(
        stdout(&out).contains("JSONArgsRecommended"),
        "{}",
        stdout(&out)
    );
    // With a target only the stages it needs.
    let out = planner(
        &[
            "check",
            "Dockerfile",
            "--target",
            "app",
            "--build-arg",
            "BASE=debian",
            "--platform",
            "linux/arm64",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = planner(&["check", "Dockerfile", "--target", "nope"], &dir);
    assert!(stdout(&out).contains("error[UnknownTarget]: target stage \"nope\" could not be found"));
    let out = planner(&["check", "Dockerfile", "--platform", "linux/"], &dir);
    assert!(stdout(&out).contains("error[InvalidPlatform]"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkstyle_gitlab_github_and_json() {
    let dir = project("formats");
    let paths = ["check", "Dockerfile", "services/api.Dockerfile"];

    let out = planner(&[&paths[..], &["--format", "checkstyle"]].concat(), &dir);
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "checkstyle");
    let files: Vec<&str> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(files, vec!["Dockerfile", "services/api.Dockerfile"]);
    let errors: Vec<(String, String, String)> = root
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .map(|n| {
            (
                n.attribute("line").unwrap().to_string(),
                n.attribute("severity").unwrap().to_string(),
                n.attribute("source").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors[0],
        (
            "1".to_string(),
            "warning".to_string(),
            "stageplan.StageNameCasing".to_string()
        )
    );
    assert!(errors.contains(&(
        "3".to_string(),
        "error".to_string(),
        "stageplan.InvalidFrom".to_string()
    )));

    let out = planner(&[&paths[..], &["--format", "gitlab"]].concat(), &dir);
    let issues: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), 4);
    for issue in issues {
        for key in ["description", "check_name", "fingerprint", "severity"] {
            assert!(issue[key].is_string(), "{key} in {issue}");
        }
        assert!(
            issue["location"]["path"].is_string() && issue["location"]["lines"]["begin"].is_u64()
        );
        assert!(["info", "minor", "major", "critical", "blocker"]
            .contains(&issue["severity"].as_str().unwrap()));
    }
    assert_eq!(issues[0]["check_name"], "StageNameCasing");
    assert_eq!(issues[0]["severity"], "major");
    let invalid = issues
        .iter()
        .find(|i| i["check_name"] == "InvalidFrom")
        .unwrap();
    assert_eq!(
        (
            invalid["severity"].as_str(),
            invalid["location"]["path"].as_str()
        ),
        (Some("blocker"), Some("services/api.Dockerfile"))
    );

    let out = planner(&[&paths[..], &["--format", "github"]].concat(), &dir);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines[0], "::warning file=Dockerfile,line=1,col=16,endLine=1,endColumn=21,title=stageplan StageNameCasing::Stage name 'Build' should be lowercase");
    assert!(lines.iter().any(
        |l| l.starts_with("::error file=services/api.Dockerfile,line=3,")
            && l.contains("title=stageplan InvalidFrom::invalid --from=\"Nope\"")
    ));

    let out = planner(&[&paths[..], &["--format", "json"]].concat(), &dir);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json[0]["file"], "Dockerfile");
    assert_eq!(json[0]["code"], "StageNameCasing");
    assert_eq!(
        json[0]["url"],
        "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
