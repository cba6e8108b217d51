//! Tests of the dispatch-time checks through `planner::plan`, with expectations written from
//! BuildKit's frontend tests (dockerfile_check_test.go, dockerfile_add_test.go, ...).

use crate::{ContextFiles, Options, Outcome};

fn plan_with(text: &str, options: &Options) -> Outcome {
    crate::plan(text, options)
}

/// `code:line message` of every diagnostic.
fn findings(text: &str, options: &Options) -> Vec<String> {
    plan_with(text, options)
        .diagnostics
        .iter()
        .map(|d| format!("{}:{} {}", d.code, d.line, d.message))
        .collect()
}

fn plain(text: &str) -> Vec<String> {
    findings(text, &Options::default())
}

#[test]
fn undefined_var_like_buildkit() {
    // testUnmatchedVars.
    assert!(plain("FROM scratch\nARG foo\nCOPY Dockerfile${foo} .\n").is_empty());
    assert!(
        plain("FROM alpine AS base\nARG foo=Dockerfile\n\nFROM base\nCOPY $foo .\n").is_empty()
    );
    assert!(plain("FROM alpine\nRUN echo $PATH\n").is_empty());
    assert_eq!(
        plain("FROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n"),
        vec!["UndefinedVar:2 Usage of undefined variable '$foo'"]
    );
    assert_eq!(
        plain("FROM alpine\nARG DIR_BINARIES=binaries/\nARG DIR_ASSETS=assets/\nARG DIR_CONFIG=config/\nCOPY $DIR_ASSET .\n"),
        vec!["UndefinedVar:5 Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)"]
    );
    assert_eq!(
        plain("FROM alpine\nENV PATH=$PAHT:/tmp/bin\n"),
        vec!["UndefinedVar:2 Usage of undefined variable '$PAHT' (did you mean $PATH?)"]
    );
    // Windows stages have no default PATH, so no suggestion.
    assert_eq!(
        plain("FROM --platform=windows/amd64 nanoserver AS w\nENV PATH=$PAHT\n")
            .into_iter()
            .filter(|f| f.starts_with("UndefinedVar"))
            .collect::<Vec<_>>(),
        vec!["UndefinedVar:2 Usage of undefined variable '$PAHT'"]
    );
    // RUN, CMD and the like are expanded by the shell, not the builder.
    assert!(plain("FROM alpine\nRUN echo $NOPE\nCMD [\"echo\", \"$NOPE\"]\n").is_empty());
    // A stage does not see its sibling's ARG, but a child sees its parent's (every stage is
    // examined by `check`).
    let checked: Vec<String> = crate::check(
        "FROM alpine AS a\nARG X=1\nFROM alpine AS b\nWORKDIR /$X\nFROM a\nWORKDIR /$X\n",
    )
    .iter()
    .map(|d| format!("{}:{} {}", d.code, d.line, d.message))
    .collect();
    assert_eq!(
        checked,
        vec!["UndefinedVar:4 Usage of undefined variable '$X'"]
    );
}

#[test]
fn a_stage_arg_with_a_required_value_fails() {
    let outcome = plan_with("FROM alpine\nARG A=${B:?required}\n", &Options::default());
    assert!(outcome.plan.is_none());
    assert_eq!(outcome.diagnostics[0].code, "ExpansionError");
    assert_eq!(
        outcome.diagnostics[0].message,
        "failed to process \"${B:?required}\": B: required"
    );
    // Words split on spaces first, as in BuildKit: the message cannot hold one, and the error
    // names the half word.
    assert_eq!(
        error_of("FROM alpine\nARG A=${B:?is required}\n"),
        "failed to process \"${B:?is\": syntax error: missing '}'"
    );
    // EXPOSE splits its words before expanding them, as this engine's BuildKit reports
    // (`failed to process "${PORTS:-80": syntax error: missing '}'`).
    assert_eq!(
        error_of("FROM alpine\nEXPOSE ${PORTS:-80 81}\n"),
        "failed to process \"${PORTS:-80\": syntax error: missing '}'"
    );
    // A build argument for the ARG itself is not expanded at all.
    let options = Options {
        build_args: [("A".to_string(), "x".to_string())].into(),
        ..Options::default()
    };
    assert!(plan_with("FROM alpine\nARG A=${B:?required}\n", &options)
        .plan
        .is_some());
}

#[test]
fn secrets_in_arg_or_env_like_buildkit() {
    // testSecretsUsedInArgOrEnv.
    let text = "FROM scratch\nARG SECRET_PASSPHRASE\nENV SUPER_Secret=foo\nENV password=bar secret=baz\nARG super_duper_secret_token=foo auth=bar\nENV apikey=bar sunflower=foo\nENV git_key=\nENV PUBLIC_KEY=\nARG public_token\nARG SECRET_PASSPHRASE_FILE\nENV password_file=bar secret_File=baz\nARG AUTH_MODULE_VERSION\n# check=skip=SecretsUsedInArgOrEnv // allow secret in environment\nENV password=bar\n# check=skip=all // is local to only this instruction\nARG alternate_password\n";
    let found: Vec<String> = plain(text)
        .into_iter()
        .filter(|f| f.starts_with("SecretsUsedInArgOrEnv"))
        .collect();
    let message = |line: u32, what: &str| {
        format!("SecretsUsedInArgOrEnv:{line} Do not use ARG or ENV instructions for sensitive data ({what})")
    };
    assert_eq!(
        found,
        vec![
            message(2, "ARG \"SECRET_PASSPHRASE\""),
            message(3, "ENV \"SUPER_Secret\""),
            message(4, "ENV \"password\""),
            message(4, "ENV \"secret\""),
            message(5, "ARG \"auth\""),
            message(5, "ARG \"super_duper_secret_token\""),
            message(6, "ENV \"apikey\""),
            message(7, "ENV \"git_key\""),
        ]
    );
}

#[test]
fn expose_rules_like_buildkit() {
    // testExposeProtoCasing, testExposeInvalidFormat.
    assert_eq!(
        plain("FROM scratch\nEXPOSE 80/TcP 8080/TCP 8080/udp\n"),
        vec![
            "ExposeProtoCasing:2 Defined protocol '80/TcP' in EXPOSE instruction should be lowercase",
            "ExposeProtoCasing:2 Defined protocol '8080/TCP' in EXPOSE instruction should be lowercase",
        ]
    );
    let found = plain("FROM scratch\nEXPOSE 127.0.0.1:80:80 [::1]:8080:8080 5000:5000 8000\n");
    assert_eq!(found.len(), 3);
    assert!(found.contains(&"ExposeInvalidFormat:2 EXPOSE instruction should not define an IP address or host-port mapping, found '[::1]:8080:8080'".to_string()));
    let outcome = plan_with("FROM scratch\nEXPOSE 80/xyz\n", &Options::default());
    assert!(outcome.plan.is_none());
    assert_eq!(
        outcome.diagnostics[0].message,
        "invalid port: \"80/xyz\": invalid proto: xyz"
    );
    // Expanded from the environment first.
    assert!(plain("FROM scratch\nENV P=8080/tcp\nEXPOSE $P\n").is_empty());
}

fn with_ignore(text: &str, ignore: &str) -> Vec<String> {
    let files = ContextFiles {
        dockerignore: Some(ignore.to_string()),
    };
    crate::plan_with_context(text, &Options::default(), &files)
        .diagnostics
        .iter()
        // stageplan's own checks (a target that copies the context) are not BuildKit's rule.
        .filter(|d| !d.code.starts_with("stageplan/"))
        .map(|d| format!("{}:{} {}", d.code, d.line, d.message))
        .collect()
}

#[test]
fn copy_ignored_file_like_buildkit() {
    // testCopyIgnoredFiles.
    assert_eq!(
        with_ignore("\nFROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n", "\nDockerfile\n"),
        vec![
            "CopyIgnoredFile:3 Attempting to Copy file \"Dockerfile\" that is excluded by .dockerignore",
            "CopyIgnoredFile:4 Attempting to Add file \"Dockerfile\" that is excluded by .dockerignore",
        ]
    );
    assert!(with_ignore(
        "# check=skip=CopyIgnoredFile\n\nFROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n",
        "\nDockerfile\n"
    )
    .is_empty());
    assert!(with_ignore(
        "\nFROM scratch AS base\nCOPY Dockerfile /foobar\nADD Dockerfile /windy\n\nFROM base\nCOPY --from=base /foobar /Dockerfile\n",
        "\nfoobar\n"
    )
    .is_empty());
    assert!(with_ignore(
        "\nFROM scratch\nCOPY ./Dockerfile .\n",
        "\n**\n!Dockerfile\n"
    )
    .is_empty());
    // testCopyIgnoredFileContextRoot.
    assert!(with_ignore("\nFROM scratch\nCOPY . .\n", "\n.*\n").is_empty());
    assert_eq!(
        with_ignore("\nFROM scratch\nCOPY . .\n", "\n*\n"),
        vec!["CopyIgnoredFile:3 Attempting to Copy file \".\" that is excluded by .dockerignore"]
    );
    // A directory excluded by .dockerignore covers the files below it.
    assert_eq!(
        with_ignore("FROM scratch\nCOPY build/out/app /app\n", "build\n"),
        vec!["CopyIgnoredFile:2 Attempting to Copy file \"build/out/app\" that is excluded by .dockerignore"]
    );
    // No .dockerignore, no check.
    assert!(plain("FROM scratch\nCOPY Dockerfile .\n").is_empty());
}

#[test]
fn a_bad_dockerignore_is_an_error() {
    let files = ContextFiles {
        dockerignore: Some("a[\n".to_string()),
    };
    let outcome = crate::plan_with_context("FROM scratch\nCOPY a .\n", &Options::default(), &files);
    assert!(outcome.plan.is_none());
    assert_eq!(outcome.diagnostics[0].code, "InvalidDockerignore");
}

fn error_of(text: &str) -> String {
    let outcome = plan_with(text, &Options::default());
    assert!(outcome.plan.is_none(), "expected an error for {text:?}");
    outcome
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .map(|d| d.message.clone())
        .unwrap_or_default()
}

#[test]
fn copy_option_errors_like_buildkit() {
    // testAddInvalidChmod, testCopyInvalidChmod.
    assert_eq!(
        error_of("FROM scratch\nADD --chmod=64a foo /\n"),
        "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"
    );
    assert_eq!(
        error_of("FROM scratch\nCOPY --chmod=10000 foo /\n"),
        "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777"
    );
    assert_eq!(
        error_of("FROM scratch\nCOPY --chmod=u+q foo /\n"),
        "invalid syntax"
    );
    assert!(
        plain("FROM scratch\nCOPY --chmod=u+x,go-w foo /\nCOPY --chmod=0755 foo /\n").is_empty()
    );
    // testAddChecksum.
    let hex = "a".repeat(64);
    assert_eq!(
        error_of("FROM scratch\nADD --checksum=md5:7e55db001d319a94b0b713529a756623 https://example.com/foo /tmp/foo\n"),
        "unsupported digest algorithm"
    );
    assert_eq!(
        error_of(&format!(
            "FROM scratch\nADD --checksum=unknown:{hex} https://example.com/foo /tmp/foo\n"
        )),
        "unsupported digest algorithm"
    );
    assert_eq!(
        error_of(&format!(
            "FROM scratch\nADD --checksum={hex} https://example.com/foo /tmp/foo\n"
        )),
        "invalid checksum digest format"
    );
    assert_eq!(
        error_of(&format!(
            "FROM scratch\nADD --checksum=sha256:{hex} foo /tmp/foo\n"
        )),
        "checksum requires HTTP(S) or Git sources"
    );
    assert!(plain(&format!(
        "FROM scratch\nENV DIGEST=sha256:{hex}\nENV LINK=https://example.com/foo\nADD --checksum=${{DIGEST}} ${{LINK}} /tmp/foo\n"
    ))
    .is_empty());
    // convert_test.go: a URL is not a COPY source.
    assert_eq!(
        error_of("FROM scratch\nCOPY http://github.com/evil.tar.gz /evil\n"),
        "source can't be a URL for COPY"
    );
    assert_eq!(
        error_of("FROM scratch\nCOPY https://github.com/moby/buildkit.git /src\n"),
        "source can't be a git ref for COPY"
    );
}

#[test]
fn onbuild_triggers_are_dispatched_in_the_child_at_its_from() {
    let found = plain("FROM alpine AS base\nONBUILD CMD echo hi\nFROM base\nRUN true\n");
    assert_eq!(
        found,
        vec!["JSONArgsRecommended:3 JSON arguments recommended for CMD to prevent unintended behavior related to OS signals"]
    );
}

#[test]
fn workdir_is_checked_after_expansion() {
    assert!(plain("FROM alpine\nENV APP=/app\nWORKDIR $APP\n").is_empty());
    assert_eq!(
        plain("FROM alpine\nWORKDIR app\n"),
        vec!["WorkdirRelativePath:2 Relative workdir \"app\" can have unexpected results if the base image changes"]
    );
}

#[test]
fn a_long_chain_shares_one_environment() {
    // 3,000 stages, each FROM the last and declaring one more ARG: linear, and every stage
    // sees all the ARGs of its ancestors.
    let mut text = String::from("FROM alpine AS s0\nARG A0=0\n");
    for idx in 1..3_000 {
        text.push_str(&format!(
            "FROM s{} AS s{idx}\nARG A{idx}=$A{}\n",
            idx - 1,
            idx - 1
        ));
    }
    assert!(plain(&text).is_empty());
}

#[test]
fn a_stopsignal_that_is_no_signal_fails_as_in_buildkit() {
    assert_eq!(
        error_of("FROM alpine\nSTOPSIGNAL NOTASIGNAL\n"),
        "Invalid signal: NOTASIGNAL"
    );
    assert_eq!(error_of("FROM alpine\nSTOPSIGNAL 0\n"), "Invalid signal: 0");
    assert_eq!(
        error_of("FROM alpine\nARG S=SIGNOPE\nSTOPSIGNAL SIGTERM\nSTOPSIGNAL [\"SIGTERM\"]\n"),
        // Quotes are removed by the expansion first, as BuildKit's `ProcessWord` does.
        "Invalid signal: [SIGTERM]"
    );
    // A signal from a variable is checked when the build runs (the base image's ENV may set it).
    for good in [
        "STOPSIGNAL SIGRTMIN+3",
        "STOPSIGNAL 9",
        "ARG S=NOPE\nSTOPSIGNAL $S",
    ] {
        let outcome = plan_with(&format!("FROM alpine\n{good}\n"), &Options::default());
        assert!(outcome.plan.is_some(), "{good}: {:?}", outcome.diagnostics);
    }
}
