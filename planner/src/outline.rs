//! The outline: the stage structure of a Dockerfile as far as it can be read, for editors
//! (outline, definitions, references, lenses and the graph) while the file has errors.
//!
//! Input: the Dockerfile text, [`Options`] and the [`ContextFiles`] the checks read. Output: an [`Outline`]: the stages (the plan's
//! [`Stage`] type), the targets that resolved, the needed stages' waves, and the diagnostics of
//! planning with these options.
//! Invariant: without errors the outline is exactly the plan's stages, targets and waves; with
//! errors it is read leniently by the same pipeline phases (an instruction that does not parse
//! is left out, an unusable option falls back to its default) and never invents a stage. It
//! is never a plan: `plan` still returns none when there are errors.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::args::{build_meta_args, predefined_args, MetaArgs, Platform};
use crate::assemble::{self, plan_stages, target_stage_name, DEFAULT_PLATFORM};
use crate::checks::Sink;
use crate::diagnostics::{Diagnostic, LineIndex};
use crate::expand::Lexer;
use crate::graph;
use crate::options::{ContextFiles, Options};
use crate::plan::Stage;
use crate::stage;
use crate::syntax;
use crate::target;

/// The stage structure of a Dockerfile, also when it has errors.
///
/// Editors draw this where they would draw a plan: with no errors it equals the plan's
/// `stages`, `targets` and `waves`; with errors it holds what could still be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outline {
    /// True when the file planned without errors (the outline is then the plan's structure).
    /// False means parts may be missing: an instruction that does not parse (and, for a
    /// `FROM`, its whole stage) is left out, a syntax error that ends the file (an unterminated
    /// heredoc) leaves out the rest, and references that do not resolve have no edge.
    pub complete: bool,
    /// Indices (into `stages`) of the requested targets that were found, in the order asked;
    /// with no `--target`, the last stage.
    pub targets: Vec<usize>,
    /// Every stage that could be read, in file order, with `needed` set for the targets.
    pub stages: Vec<Stage>,
    /// The needed stages in parallel waves (as in the plan); a stage on a dependency cycle
    /// is in no wave.
    pub waves: Vec<Vec<usize>>,
    /// For each stage, the stages a build with it as the only target needs (itself
    /// included), sorted: the closure over every edge kind, as for `needed`.
    pub stage_needs: Vec<Vec<usize>>,
    /// The diagnostics of planning the file with these options (what `plan` reports).
    pub diagnostics: Vec<Diagnostic>,
}

/// The outline of `text` for `options` (the diagnostics with `files`).
pub fn outline(text: &str, options: &Options, files: &ContextFiles) -> Outline {
    let outcome = assemble::run(text, options, files, false);
    if let Some(plan) = outcome.plan {
        return Outline {
            complete: true,
            targets: plan.targets,
            stage_needs: stage_needs(&plan.stages),
            stages: plan.stages,
            waves: plan.waves,
            diagnostics: outcome.diagnostics,
        };
    }
    let (targets, stages, waves) = read_leniently(text, options);
    Outline {
        complete: false,
        targets,
        stage_needs: stage_needs(&stages),
        stages,
        waves,
        diagnostics: outcome.diagnostics,
    }
}

/// For each stage, the closure of `depends_on` from it (itself included), sorted.
fn stage_needs(stages: &[Stage]) -> Vec<Vec<usize>> {
    (0..stages.len())
        .map(|target| {
            let mut needed = vec![false; stages.len()];
            let mut stack = vec![target];
            while let Some(idx) = stack.pop() {
                if idx < needed.len() && !needed[idx] {
                    needed[idx] = true;
                    stack.extend(&stages[idx].depends_on);
                }
            }
            (0..stages.len()).filter(|idx| needed[*idx]).collect()
        })
        .collect()
}

/// The planning phases of `assemble::run` without stopping at errors: whatever parsed is
/// grouped into stages, the graph is resolved, and targets, needed stages and waves follow.
/// Its diagnostics are dropped (the caller has the real ones).
fn read_leniently(text: &str, options: &Options) -> (Vec<usize>, Vec<Stage>, Vec<Vec<usize>>) {
    let mut sink = Sink::new(text);
    let parsed = syntax::parse(text);
    let mut file = stage::build(parsed.instructions, text, parsed.escape, &mut sink);
    if file.stages.is_empty() {
        return (Vec::new(), Vec::new(), Vec::new());
    }
    let default_platform = Platform::parse(DEFAULT_PLATFORM).unwrap_or(Platform {
        os: "linux".to_string(),
        arch: "amd64".to_string(),
        variant: String::new(),
    });
    let build_platform = options
        .build_platform
        .as_deref()
        .and_then(|platform| Platform::parse(platform).ok())
        .unwrap_or(default_platform);
    let target_platform = options
        .platform
        .as_deref()
        .and_then(|platform| Platform::parse(platform).ok())
        .unwrap_or_else(|| build_platform.clone());
    let predefined = predefined_args(
        &build_platform,
        &target_platform,
        &target_stage_name(&file, options),
        &options.build_args,
    );
    let lexer = Lexer::new(parsed.escape);
    let meta = build_meta_args(
        &predefined,
        &file.meta_args,
        Some(&options.build_args),
        &lexer,
    )
    .or_else(|_| build_meta_args(&predefined, &file.meta_args, None, &lexer))
    .unwrap_or_else(|_| MetaArgs {
        env: predefined.clone(),
        ..MetaArgs::default()
    });
    let graph = graph::build(&mut file, &meta, &lexer, text, &mut sink);
    let targets = target::resolve_targets(&file, &options.targets, &mut sink);
    let needed = target::needed_stages(&graph, &targets);
    let waves = target::waves(&graph, &needed);
    let stages = plan_stages(file, graph, &needed, &LineIndex::new(text));
    (targets, stages, waves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(outline: &Outline) -> Vec<String> {
        outline
            .stages
            .iter()
            .map(|stage| match &stage.name {
                Some(name) => format!("{}{}", name, if stage.needed { "" } else { "~" }),
                None => format!("#{}", stage.index),
            })
            .collect()
    }

    const FILE: &str = "FROM golang AS build\nRUN go build\nFROM build AS test\nRUN go test\nFROM alpine AS prod\nCOPY --from=build /app /app\n";

    #[test]
    fn without_errors_the_outline_is_the_plan() {
        let options = Options {
            targets: vec!["prod".to_string()],
            ..Options::default()
        };
        let plan = crate::plan(FILE, &options).plan.expect("plans");
        let outline = outline(FILE, &options, &ContextFiles::default());
        assert!(outline.complete);
        assert_eq!(outline.stages, plan.stages);
        assert_eq!(outline.targets, plan.targets);
        assert_eq!(outline.waves, plan.waves);
        assert_eq!(outline.diagnostics, plan.diagnostics);
        assert_eq!(outline.stage_needs, vec![vec![0], vec![0, 1], vec![0, 2]]);
    }

    #[test]
    fn an_error_keeps_the_stages_that_parsed() {
        // An unknown instruction, a COPY from a stage that does not exist, and an ENV with no
        // value (a syntax error BuildKit stops at): the stages are all still there.
        let text = "FROM golang AS build\nRUNN go build\nFROM build AS test\nENV ONLYKEY\nRUN go test\nFROM alpine AS prod\nCOPY --from=build /app /app\nCOPY --from=nope /x /x\n";
        let outcome = crate::plan(text, &Options::default());
        assert!(outcome.plan.is_none());
        let outline = outline(text, &Options::default(), &ContextFiles::default());
        assert!(!outline.complete);
        assert_eq!(names(&outline), vec!["build", "test~", "prod"]);
        assert_eq!(outline.targets, vec![2]);
        assert_eq!(outline.waves, vec![vec![0], vec![2]]);
        assert_eq!(outline.stages[1].depends_on, vec![0]);
        assert_eq!(outline.stages[1].instructions.len(), 1, "RUN go test");
        assert_eq!(outline.diagnostics, outcome.diagnostics);
    }

    #[test]
    fn a_broken_from_is_no_stage_and_keeps_no_instructions() {
        let text =
            "FROM a AS one\nRUN x\nFROM b AS 1two\nRUN y\nFROM c AS three\nCOPY --from=one /a /a\n";
        let outline = outline(text, &Options::default(), &ContextFiles::default());
        assert_eq!(names(&outline), vec!["one", "three"]);
        assert_eq!(outline.stages[0].instructions.len(), 1);
        assert_eq!(outline.stages[1].depends_on, vec![0]);
    }

    #[test]
    fn unusable_options_fall_back_and_unknown_targets_need_nothing() {
        let options = Options {
            targets: vec!["tset".to_string()],
            platform: Some("not a platform".to_string()),
            ..Options::default()
        };
        let outline = outline(FILE, &options, &ContextFiles::default());
        assert!(!outline.complete);
        assert_eq!(names(&outline), vec!["build~", "test~", "prod~"]);
        assert!(outline.targets.is_empty() && outline.waves.is_empty());
        let codes: Vec<&str> = outline
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert_eq!(codes, vec!["InvalidPlatform"]);
        let options = Options {
            targets: vec!["tset".to_string(), "build".to_string()],
            ..Options::default()
        };
        let outline = super::outline(FILE, &options, &ContextFiles::default());
        assert_eq!(names(&outline), vec!["build", "test~", "prod~"]);
        assert_eq!(outline.targets, vec![0]);
        assert!(outline
            .diagnostics
            .iter()
            .any(|d| d.code == "UnknownTarget" && d.message.contains("did you mean test")));
    }

    #[test]
    fn nothing_to_read_gives_an_empty_outline() {
        for text in ["", "# only a comment\n", "RUN x\n", "FROM\n"] {
            let outline = outline(text, &Options::default(), &ContextFiles::default());
            assert!(!outline.complete && outline.stages.is_empty(), "{text:?}");
            assert!(outline.diagnostics.iter().any(Diagnostic::is_error));
        }
    }
}
