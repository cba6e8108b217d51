//! The catalogue of diagnostic codes: for each code the planner reports, a one-line summary
//! and whether it is one of BuildKit's build checks (whose documentation page the diagnostic's
//! `url` names). CI reports (SARIF rule metadata, checkstyle sources) and editors read it.
//!
//! Input: a code. Output: its [`CodeInfo`].
//! Invariant: plain data; every code the planner emits is listed (a test runs the planner over
//! the fixture corpus and looks each code up).

/// What a diagnostic code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The code (`StageNameCasing`, `UnknownTarget`, ...).
    pub code: &'static str,
    /// One sentence saying what the code reports.
    pub summary: &'static str,
    /// True for checks (warnings, `# check=skip=` applies): BuildKit's build checks and
    /// stageplan's own; false for errors that stop the build.
    pub check: bool,
    /// True for BuildKit's build checks (the diagnostic's `url` names its documentation page and
    /// `# check=error=true` turns it into an error); false for stageplan's own checks and errors.
    pub buildkit: bool,
}

const fn check(code: &'static str, summary: &'static str) -> CodeInfo {
    CodeInfo {
        code,
        summary,
        check: true,
        buildkit: true,
    }
}

const fn own_check(code: &'static str, summary: &'static str) -> CodeInfo {
    CodeInfo {
        code,
        summary,
        check: true,
        buildkit: false,
    }
}

const fn error(code: &'static str, summary: &'static str) -> CodeInfo {
    CodeInfo {
        code,
        summary,
        check: false,
        buildkit: false,
    }
}

/// Every code: BuildKit's checks, stageplan's own checks, then errors, each group in
/// alphabetical order.
pub const CODES: &[CodeInfo] = &[
    check(
        "ConsistentInstructionCasing",
        "Instruction keywords should all use the same casing, upper or lower",
    ),
    check(
        "CopyIgnoredFile",
        "COPY or ADD names a source that the .dockerignore excludes from the build context",
    ),
    check(
        "DuplicateStageName",
        "Two stages have the same name; stage names should be unique",
    ),
    check(
        "ExposeInvalidFormat",
        "EXPOSE should not name an IP address or a host port",
    ),
    check(
        "ExposeProtoCasing",
        "The protocol in EXPOSE should be lowercase",
    ),
    check(
        "FromAsCasing",
        "The AS keyword should use the same casing as FROM",
    ),
    check(
        "FromPlatformFlagConstDisallowed",
        "FROM --platform should not be a constant value",
    ),
    check(
        "InvalidDefaultArgInFrom",
        "The default values of global ARGs give an empty or invalid base image name",
    ),
    check(
        "JSONArgsRecommended",
        "CMD and ENTRYPOINT should use the JSON form so that the process receives OS signals",
    ),
    check(
        "LegacyKeyValueFormat",
        "ENV and LABEL should use key=value, not the legacy whitespace-separated form",
    ),
    check(
        "MaintainerDeprecated",
        "MAINTAINER is deprecated; set the author with a LABEL",
    ),
    check(
        "MultipleInstructionsDisallowed",
        "Only the last CMD, ENTRYPOINT or HEALTHCHECK of a stage takes effect",
    ),
    check(
        "NoEmptyContinuation",
        "An empty line inside a continued instruction will become an error",
    ),
    check(
        "RedundantTargetPlatform",
        "FROM --platform=$TARGETPLATFORM is the default and can be left out",
    ),
    check(
        "ReservedStageName",
        "A stage is named after a reserved word (scratch, context)",
    ),
    check(
        "SecretsUsedInArgOrEnv",
        "An ARG or ENV name looks like a secret, which would stay in the image",
    ),
    check("StageNameCasing", "Stage names should be lowercase"),
    check(
        "UndefinedArgInFrom",
        "FROM uses an ARG that is not declared before the first FROM",
    ),
    check(
        "UndefinedVar",
        "A variable is used that is neither set nor declared in the stage",
    ),
    check(
        "WorkdirRelativePath",
        "A relative WORKDIR depends on the base image's working directory",
    ),
    own_check(
        "stageplan/target-based-on-builder",
        "A target stage is based on a stage that other stages copy build output from: its toolchain ships",
    ),
    own_check(
        "stageplan/target-copies-context",
        "A target stage copies the whole build context: the sources ship",
    ),
    error(
        "BlankBaseName",
        "The base name of FROM is empty after ARG expansion",
    ),
    error(
        "CircularDependency",
        "Stages depend on each other in a cycle",
    ),
    error("EmptyDockerfile", "The Dockerfile is empty"),
    error(
        "ExpansionError",
        "A variable expression (${...}) cannot be expanded",
    ),
    error(
        "ForwardReference",
        "COPY --from or a mount names a stage defined later in the file",
    ),
    error(
        "InvalidBaseName",
        "The base of FROM is not a valid image reference",
    ),
    error(
        "InvalidCheckDirective",
        "The # check= directive (or BUILDKIT_DOCKERFILE_CHECK) cannot be parsed",
    ),
    error(
        "InvalidFrom",
        "COPY --from names neither a stage nor a valid image reference",
    ),
    error(
        "InvalidChecksum",
        "ADD --checksum has an unknown algorithm, a malformed digest or a local source",
    ),
    error(
        "InvalidChmod",
        "COPY/ADD --chmod is neither an octal mode up to 07777 nor a symbolic mode",
    ),
    error(
        "InvalidDockerignore",
        "A .dockerignore pattern cannot be parsed",
    ),
    error("InvalidPlatform", "A platform is not os/arch[/variant]"),
    error("InvalidPort", "An EXPOSE port or range is not valid"),
    error(
        "InvalidSignal",
        "STOPSIGNAL is not a signal name or number",
    ),
    error(
        "InvalidSource",
        "A COPY source is a URL or a git repository, which only ADD can fetch",
    ),
    error(
        "InvalidSourceDateEpoch",
        "SOURCE_DATE_EPOCH is not an integer, context or a source-only stage",
    ),
    error(
        "InvalidStageIndex",
        "COPY --from=<index> is not the index of a stage",
    ),
    error("InvalidVolume", "A VOLUME path is empty"),
    error(
        "LintViolation",
        "# check=error=true turns the reported checks into a build error",
    ),
    error(
        "NoStages",
        "The Dockerfile has no FROM instruction, so no stage to build",
    ),
    error(
        "ParseError",
        "An instruction does not parse (syntax, arguments or flags)",
    ),
    error(
        "ReservedContext",
        "COPY --from=context names the build context, which is not a stage",
    ),
    error("UnknownTarget", "A --target names no stage of the file"),
    error("VariableInFrom", "COPY --from does not expand variables"),
];

/// The catalogue entry of `code`, if the planner knows it.
pub fn describe(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|info| info.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_summaries_are_sentences() {
        for (idx, info) in CODES.iter().enumerate() {
            assert!(
                CODES[idx + 1..].iter().all(|other| other.code != info.code),
                "{} twice",
                info.code
            );
            assert!(!info.summary.ends_with('.'), "{}", info.code);
        }
        assert!(describe("StageNameCasing").unwrap().buildkit);
        let own = describe("stageplan/target-copies-context").unwrap();
        assert!(own.check && !own.buildkit);
        assert!(!describe("UnknownTarget").unwrap().check);
        assert!(describe("NoSuchCode").is_none());
    }
}
