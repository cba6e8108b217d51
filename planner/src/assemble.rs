//! The planning pipeline in BuildKit's phase order (dockerfile2llb `toDispatchState`) and the
//! assembly of plan JSON: parse, check config, stages, names and casing, platform and
//! predefined ARGs, global ARGs, graph, targets, reachability, forward references, the checks
//! of built stages, then the [`Plan`].
//!
//! Input: text, [`Options`], and whether to examine all stages. Output: an [`Outcome`].
//! Invariant: a plan exists exactly when no error was reported.

use std::collections::{BTreeMap, BTreeSet};

use crate::args::{build_meta_args, predefined_args, validate_reference, Platform};
use crate::checks::{CheckConfig, Rule, Sink};
use crate::diagnostics::{option_diagnostic, sort, LineIndex, Severity, Span};
use crate::dispatch;
use crate::epoch;
use crate::expand::Lexer;
use crate::graph::{self, Graph};
use crate::options::{ContextFiles, Options};
use crate::patterns::{read_ignore_file, PatternMatcher};
use crate::plan::Outcome;
use crate::plan::{Edge, GlobalArg, Instruction, Location, Plan, Source, Stage, PLAN_VERSION};
use crate::stage::{self, Dockerfile};
use crate::syntax;
use crate::target;

/// The platform used for `BUILDPLATFORM` and as the default target platform.
pub(crate) const DEFAULT_PLATFORM: &str = "linux/amd64";

fn finish(mut sink: Sink, plan: Option<Plan>) -> Outcome {
    let summaries = sink.summaries();
    sink.list.extend(summaries);
    sort(&mut sink.list);
    let plan = if sink.has_errors() { None } else { plan };
    let plan = plan.map(|mut plan| {
        plan.diagnostics = sink.list.clone();
        plan
    });
    Outcome {
        plan,
        diagnostics: sink.list,
    }
}

/// The outcome of a platform option that is not `os/arch[/variant]`.
fn invalid_platform(mut sink: Sink, option: &str, reason: &str) -> Outcome {
    let message = format!("invalid {option}: {reason}; use os/arch[/variant], e.g. linux/arm64");
    sink.list.push(option_diagnostic(
        Severity::Error,
        "InvalidPlatform",
        message,
    ));
    finish(sink, None)
}

fn check_config(directives: &[syntax::Directive], options: &Options, sink: &mut Sink) {
    let from_arg = options.build_args.get("BUILDKIT_DOCKERFILE_CHECK");
    let directive = directives.iter().find(|d| d.name == "check");
    let (value, span) = match (from_arg, directive) {
        (Some(value), _) => (value.clone(), Span::default()),
        (None, Some(d)) => (d.value.clone(), Span::new(0, 0)),
        (None, None) => return,
    };
    match CheckConfig::parse(&value) {
        Ok(config) => sink.config = config,
        Err(message) => sink.error(
            "InvalidCheckDirective",
            format!("{message}; use check=skip=Rule1,Rule2;error=true"),
            span,
        ),
    }
}

/// Runs the pipeline. `check` examines what `docker build --check` does: every stage when no
/// target is given, otherwise the stages the targets need (as a build does).
pub fn run(text: &str, options: &Options, files: &ContextFiles, check: bool) -> Outcome {
    let all_stages = check && options.targets.iter().all(String::is_empty);
    let mut sink = Sink::new(text);
    if text.is_empty() {
        sink.error(
            "EmptyDockerfile",
            "the Dockerfile cannot be empty",
            Span::default(),
        );
        return finish(sink, None);
    }
    // Each instruction is typed as it is parsed, so the raw syntax tree is never held whole.
    let mut stream = syntax::Instructions::new(text);
    let first = stream.next();
    check_config(stream.directives(), options, &mut sink);
    let typed_from = sink.list.len();
    let mut syntax_error = None;
    let escape = stream.escape();
    let instructions = first
        .into_iter()
        .chain(stream.by_ref())
        .map_while(|item| match item {
            Ok(raw) => Some(raw),
            Err(error) => {
                syntax_error = Some(error);
                None
            }
        });
    let mut file = stage::build(instructions, text, escape, &mut sink);
    if syntax_error.is_some() {
        // BuildKit stops at the syntax error: only it and the parser's warnings remain.
        sink.truncate(typed_from);
    }
    for span in stream.empty_continuations() {
        sink.lint(
            &[],
            Rule::NoEmptyContinuation,
            "Empty continuation line",
            *span,
        );
    }
    if let Some(error) = syntax_error {
        sink.error("ParseError", error.message, error.span);
        return finish(sink, None);
    }
    let directives = stream.directives().to_vec();
    if file.stages.is_empty() {
        if !sink.has_errors() {
            sink.error(
                "NoStages",
                "dockerfile contains no stages to build",
                Span::new(0, text.len().min(1)),
            );
        }
        return finish(sink, None);
    }
    stage::validate_stage_names(&file, text, &mut sink);
    stage::validate_command_casing(&file, &mut sink);

    let build_text = options
        .build_platform
        .as_deref()
        .unwrap_or(DEFAULT_PLATFORM);
    let target_text = options.platform.as_deref().unwrap_or(build_text);
    let (build_platform, target_platform) =
        match (Platform::parse(build_text), Platform::parse(target_text)) {
            (Ok(build), Ok(target)) => (build, target),
            (Err(reason), _) => return invalid_platform(sink, "--build-platform", &reason),
            (_, Err(reason)) => return invalid_platform(sink, "--platform", &reason),
        };
    let predefined = predefined_args(
        &build_platform,
        &target_platform,
        &target_stage_name(&file, options),
        &options.build_args,
    );
    let lexer = Lexer::new(escape);

    let given = build_meta_args(
        &predefined,
        &file.meta_args,
        Some(&options.build_args),
        &lexer,
    );
    // The global ARGs with their defaults only: the same values when no build arg names one.
    if file
        .meta_args
        .iter()
        .any(|arg| options.build_args.contains_key(&arg.name))
    {
        if let Ok(defaults) = build_meta_args(&predefined, &file.meta_args, None, &lexer) {
            check_default_args(&file, &defaults.env, &lexer, &mut sink);
        }
    } else if let Ok(defaults) = &given {
        check_default_args(&file, &defaults.env, &lexer, &mut sink);
    }
    let meta = match given {
        Ok(meta) => meta,
        Err((idx, e)) => {
            sink.error("ExpansionError", e.message, file.meta_args[idx].span);
            return finish(sink, None);
        }
    };
    let source_date_epoch = epoch::check(&file, &meta, &options.build_args, &lexer, &mut sink);
    let graph = graph::build(&mut file, &meta, &lexer, text, &mut sink);
    let targets = target::resolve_targets(&file, &options.targets, &mut sink);
    let needed = target::needed_stages(&graph, &targets);
    let examined: Vec<bool> = if all_stages {
        vec![true; needed.len()]
    } else {
        needed.clone()
    };
    target::check_forward_references(&file, &graph, &examined, &mut sink);
    let ignore = ignore_matcher(files, &mut sink);
    let context = dispatch::Context {
        global: &meta,
        build_args: &options.build_args,
        lexer: &lexer,
        ignore: ignore.as_ref(),
        target_os: &target_platform.os,
    };
    dispatch::run(&file, &graph, &examined, &context, &mut sink);
    lint_error(&mut sink);
    if sink.has_errors() {
        return finish(sink, None);
    }

    let images = images(&graph, &needed);
    let waves = target::waves(&graph, &needed);
    let global_args = std::mem::take(&mut file.meta_args)
        .into_iter()
        .zip(meta.values)
        .map(|(arg, value)| GlobalArg {
            name: arg.name,
            value,
            line: arg.line,
        })
        .collect();
    let plan = Plan {
        version: PLAN_VERSION,
        targets,
        stages: plan_stages(file, graph, &needed, sink.line_index()),
        images,
        waves,
        build_args: options.build_args.clone(),
        platform: target_platform.format(),
        global_args,
        predefined_args: predefined,
        escape,
        directives: directives.into_iter().map(|d| (d.name, d.value)).collect(),
        diagnostics: Vec::new(),
        dockerfile: options.dockerfile.clone(),
        source_date_epoch,
    };
    crate::leak_checks::check(text, &plan, &mut sink);
    finish(sink, Some(plan))
}

/// The value of the predefined `TARGETSTAGE`: the first target as given (lower-cased), else
/// the last stage's name, else `default`.
pub(crate) fn target_stage_name(file: &Dockerfile, options: &Options) -> String {
    let first_target = options
        .targets
        .iter()
        .find(|t| !t.is_empty())
        .map(|t| t.to_lowercase());
    first_target
        .or_else(|| file.stages.last().and_then(|s| s.name.clone()))
        .unwrap_or_else(|| "default".to_string())
}

/// `InvalidDefaultArgInFrom`: with default values only (`defaults`: the global scope with every
/// ARG at its default), every base name must be a valid image reference.
fn check_default_args(
    file: &Dockerfile,
    defaults: &BTreeMap<String, String>,
    lexer: &Lexer,
    sink: &mut Sink,
) {
    // Stages often share a base word (`${BASE}`, `alpine:${ALPINE_VERSION}`): each distinct
    // word is expanded and checked once.
    let (mut valid_words, mut invalid_words) = (BTreeSet::new(), BTreeSet::new());
    for stage in &file.stages {
        let word = stage.base_text.as_str();
        let valid = if valid_words.contains(word) {
            true
        } else if invalid_words.contains(word) {
            false
        } else {
            let Ok(expanded) = lexer.process_word(word, defaults) else {
                return;
            };
            let valid = validate_reference(&expanded.word).is_ok();
            if valid {
                &mut valid_words
            } else {
                &mut invalid_words
            }
            .insert(word);
            valid
        };
        if !valid {
            let message = format!(
                "Default value for ARG {} results in empty or invalid base image name",
                stage.base_text
            );
            sink.lint(
                &stage.comments,
                Rule::InvalidDefaultArgInFrom,
                message,
                stage.span,
            );
        }
    }
}

/// The `.dockerignore` matcher, when the option gives patterns (BuildKit reads the file with
/// `ignorefile.ReadAll` and fails the build when `patternmatcher.New` refuses it).
fn ignore_matcher(files: &ContextFiles, sink: &mut Sink) -> Option<PatternMatcher> {
    let patterns = read_ignore_file(files.dockerignore.as_deref()?);
    if patterns.is_empty() {
        return None;
    }
    match PatternMatcher::new(&patterns) {
        Ok(matcher) => Some(matcher),
        Err(error) => {
            let message = format!(".dockerignore: {error}");
            sink.list.push(option_diagnostic(
                Severity::Error,
                "InvalidDockerignore",
                message,
            ));
            None
        }
    }
}

/// `# check=error=true`: any reported check fails the build (BuildKit `lint.Error()`).
fn lint_error(sink: &mut Sink) {
    if !sink.config.error {
        return;
    }
    let mut rules: Vec<String> = sink
        .list
        .iter()
        .filter(|d| d.severity == Severity::Warning && d.url.is_some())
        .map(|d| d.code.clone())
        .collect();
    rules.sort_unstable();
    rules.dedup();
    if !rules.is_empty() {
        let message = format!("lint violation found for rules: {}", rules.join(", "));
        sink.list
            .push(option_diagnostic(Severity::Error, "LintViolation", message));
    }
}

fn location(index: &LineIndex, span: Span) -> Location {
    let start = index.position(span.start);
    let end = index.position(span.end);
    Location {
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

/// The plan's stages; consumes the file and the graph so instructions and edges move rather
/// than copy. A stage built `FROM` a stage with ONBUILD triggers gets copies of them first.
pub(crate) fn plan_stages(
    file: Dockerfile,
    graph: Graph,
    needed: &[bool],
    index: &LineIndex,
) -> Vec<Stage> {
    let trigger_prefixes: Vec<Vec<Instruction>> = graph
        .nodes
        .iter()
        .map(|node| match node.triggers_from {
            None => Vec::new(),
            Some(parent) => file.stages[parent]
                .instructions
                .iter()
                .filter_map(|instr| instr.trigger.as_ref())
                .map(|trigger| Instruction {
                    onbuild_from: Some(parent),
                    ..trigger.plan.clone()
                })
                .collect(),
        })
        .collect();
    file.stages
        .into_iter()
        .zip(graph.nodes)
        .zip(trigger_prefixes)
        .enumerate()
        .map(|(idx, ((decl, node), mut instructions))| {
            instructions.reserve(decl.instructions.len());
            instructions.extend(decl.instructions.into_iter().map(|instr| instr.plan));
            Stage {
                index: idx,
                display_name: match &decl.name {
                    Some(name) => name.clone(),
                    None => format!("stage-{idx}"),
                },
                name: decl.name,
                needed: needed[idx],
                base: node.base,
                base_text: decl.base_text,
                platform: node.platform,
                depends_on: node.depends_on,
                edges: node
                    .edges
                    .into_iter()
                    .map(|e| Edge {
                        kind: e.kind,
                        source: e.source,
                        onbuild: e.onbuild,
                        line: e.line,
                        written: (!e.implicit).then_some(e.written),
                        range: e.word.map(|span| index.range(span)),
                    })
                    .collect(),
                location: location(index, decl.span),
                name_range: decl.name_span.map(|span| index.range(span)),
                base_range: decl.base_span.map(|span| index.range(span)),
                instructions,
            }
        })
        .collect()
}

fn images(graph: &Graph, needed: &[bool]) -> Vec<String> {
    let mut images: Vec<String> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(idx, _)| needed[*idx])
        .flat_map(|(_, node)| node.edges.iter())
        .filter_map(|edge| match &edge.source {
            Source::Image { image } => Some(image.clone()),
            _ => None,
        })
        .collect();
    images.sort_unstable();
    images.dedup();
    images
}
