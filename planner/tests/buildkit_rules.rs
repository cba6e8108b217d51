//! BuildKit behaviours through the public API, each case written from BuildKit's own frontend
//! tests (frontend/dockerfile/dockerfile_check_test.go and friends): where a warning is
//! reported, the "did you mean" of platform errors, and the five rules of issue 10 with their
//! exact names, messages and documentation URLs.

use planner::checks::Rule;
use planner::{ContextFiles, Options};

fn diagnostics(text: &str) -> Vec<(String, u32, String)> {
    planner::plan(text, &Options::default())
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.line, d.message))
        .collect()
}

#[test]
fn no_empty_continuation_points_at_the_last_line() {
    // testNoEmptyContinuation: the warning is on line 6, the line of `.`.
    let text = "\nFROM scratch\n# warning: empty continuation line\nCOPY Dockerfile \\\n\n.\nCOPY Dockerfile \\\n.\n";
    let found = diagnostics(text);
    assert_eq!(
        found,
        vec![(
            "NoEmptyContinuation".to_string(),
            6,
            "Empty continuation line".to_string()
        )]
    );
}

#[test]
fn platform_errors_suggest_the_global_arg() {
    // testUndeclaredArg.
    let found = diagnostics("\nFROM --platform=$BULIDPLATFORM scratch\nCOPY Dockerfile .\n");
    assert!(found.contains(&(
        "InvalidPlatform".to_string(),
        2,
        "empty platform value from expression $BULIDPLATFORM (did you mean BUILDPLATFORM?)"
            .to_string()
    )));
    assert!(found.contains(&(
        "UndefinedArgInFrom".to_string(),
        2,
        "FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)".to_string()
    )));
    let found = diagnostics(
        "\nARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\nCOPY Dockerfile .\n",
    );
    let error = found
        .iter()
        .find(|(code, _, _)| code == "InvalidPlatform")
        .expect("a platform error");
    assert_eq!(error.1, 4);
    assert!(error
        .2
        .starts_with("failed to parse platform linux/${MYARCH}: "));
    assert!(error.2.ends_with(" (did you mean MY_ARCH?)"), "{}", error.2);
}

#[test]
fn the_new_rules_carry_buildkits_names_and_urls() {
    for (rule, name, url) in [
        (
            Rule::UndefinedVar,
            "UndefinedVar",
            "https://docs.docker.com/go/dockerfile/rule/undefined-var/",
        ),
        (
            Rule::SecretsUsedInArgOrEnv,
            "SecretsUsedInArgOrEnv",
            "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/",
        ),
        (
            Rule::ExposeProtoCasing,
            "ExposeProtoCasing",
            "https://docs.docker.com/go/dockerfile/rule/expose-proto-casing/",
        ),
        (
            Rule::ExposeInvalidFormat,
            "ExposeInvalidFormat",
            "https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/",
        ),
        (
            Rule::CopyIgnoredFile,
            "CopyIgnoredFile",
            "https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/",
        ),
    ] {
        assert_eq!(rule.name(), name);
        assert_eq!(rule.url(), url);
        assert_eq!(Rule::from_name(name), Some(rule));
    }
    // Each one reaches a diagnostic with its URL, and `# check=skip=` silences it.
    let text = "FROM alpine\nARG API_TOKEN\nEXPOSE 80/TCP 1.2.3.4:81:81\nCOPY $NOPE secret.txt /\n";
    let files = ContextFiles {
        dockerignore: Some("secret.txt\n".to_string()),
    };
    let outcome = planner::plan_with_context(text, &Options::default(), &files);
    let mut codes: Vec<&str> = outcome
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        vec![
            "CopyIgnoredFile",
            "ExposeInvalidFormat",
            "ExposeProtoCasing",
            "SecretsUsedInArgOrEnv",
            "UndefinedVar"
        ]
    );
    for diagnostic in &outcome.diagnostics {
        let rule = Rule::from_name(&diagnostic.code).expect("a BuildKit rule");
        assert_eq!(diagnostic.url.as_deref(), Some(rule.url()));
    }
    let skipped = format!(
        "# check=skip=UndefinedVar,SecretsUsedInArgOrEnv,ExposeProtoCasing,ExposeInvalidFormat,CopyIgnoredFile\n{text}"
    );
    let outcome = planner::plan_with_context(&skipped, &Options::default(), &files);
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
}

#[test]
fn check_examines_every_stage_with_the_context_files() {
    let text = "FROM alpine AS unused\nCOPY secret.txt /\nFROM alpine\nRUN true\n";
    let files = ContextFiles {
        dockerignore: Some("secret.txt\n".to_string()),
    };
    assert!(
        planner::plan_with_context(text, &Options::default(), &files)
            .diagnostics
            .is_empty()
    );
    let found = planner::check_with_context(text, &Options::default(), &files);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "CopyIgnoredFile");
    assert_eq!(found[0].line, 2);
}

#[test]
fn the_readme_lists_every_rule_with_its_url() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    for rule in Rule::ALL {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| {} |", rule.name())))
            .unwrap_or_else(|| panic!("README.md has no row for {}", rule.name()));
        assert!(row.ends_with(&format!("| {} |", rule.url())), "{row}");
    }
}
