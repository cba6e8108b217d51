//! What BuildKit checks while it dispatches the stages it builds (dockerfile2llb `dispatch` and
//! `dispatch*`): each stage's build environment is followed from its base (the base image's
//! `PATH`, then `ENV`, `ARG` values and build arguments, inherited along `FROM <stage>`), every
//! word the builder expands is expanded with it, and the checks and errors that need the
//! expanded values are reported: `UndefinedVar`, `SecretsUsedInArgOrEnv`, `ExposeProtoCasing`,
//! `ExposeInvalidFormat`, `CopyIgnoredFile`, `JSONArgsRecommended`, `LegacyKeyValueFormat`,
//! `WorkdirRelativePath`, `MultipleInstructionsDisallowed`, expansion errors (`${X:?message}` in
//! a stage ARG too), invalid `--chmod`/`--checksum` values, URL and git sources for COPY, and
//! EXPOSE ports BuildKit refuses. A stage built `FROM` a stage runs that stage's ONBUILD
//! triggers first, reported at its own `FROM` as BuildKit does.
//!
//! Input: the typed [`Dockerfile`], its [`Graph`], the resolved global ARGs, the build arguments,
//! the `.dockerignore` matcher and which stages are examined. Output: diagnostics in the sink.
//! Invariant: the planner cannot read a base image's configuration, so an image's environment
//! is taken to be `PATH` alone (as BuildKit's tests assume for `alpine`); everything else is
//! exactly what the file declares. The walk follows the `FROM` tree once with an undo log, so it
//! is linear in the instructions however long a chain of stages is.

mod copy;
mod env;
mod expose;
mod source;
pub use source::http_file_name;

use std::borrow::Cow;

use std::collections::BTreeMap;

use crate::args::MetaArgs;
use crate::checks::{Rule, Sink};
use crate::diagnostics::Span;
use crate::expand::Lexer;
use crate::fixes;
use crate::graph::Graph;
use crate::instructions::Instr;
use crate::patterns::PatternMatcher;
use crate::plan::{Command, Op, Source};
use crate::stage::Dockerfile;
use crate::suggest;

pub use env::StageEnv;
pub use source::{classify as classify_source, SourceKind};

/// BuildKit's `system.DefaultPathEnv` for non-Windows platforms.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build arguments that are never put in the environment (dockerfile2llb `nonEnvArgs`).
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// Everything the dispatcher reads besides the file.
pub struct Context<'c> {
    /// The predefined and global ARGs (what `ARG NAME` without a default inherits).
    pub global: &'c MetaArgs,
    /// The `--build-arg` values.
    pub build_args: &'c BTreeMap<String, String>,
    /// The file's shell lexer (its escape character).
    pub lexer: &'c Lexer,
    /// The `.dockerignore` patterns, when there are any.
    pub ignore: Option<&'c PatternMatcher>,
    /// The target platform's OS (a stage's own `--platform` wins).
    pub target_os: &'c str,
}

/// Where a dispatched instruction's findings are reported, and with which `# check=` comments.
#[derive(Clone, Copy)]
struct Place<'p> {
    span: Span,
    comments: &'p [&'p str],
}

/// What a stage passes on to the stages built `FROM` it, besides the environment.
#[derive(Debug, Clone, Copy, Default)]
struct Inherited {
    /// An absolute WORKDIR was set in this file.
    workdir_set: bool,
    /// A `SHELL` is in the image config (shell-form CMD/ENTRYPOINT are then intended).
    shell_set: bool,
}

/// The per-stage state of one dispatch.
struct StageState<'o> {
    inherited: Inherited,
    /// The stage's platform OS (its `--platform`, else the target platform's).
    os: &'o str,
    /// The last CMD, ENTRYPOINT and HEALTHCHECK, for `MultipleInstructionsDisallowed`.
    last_seen: [Option<Span>; 3],
}

/// Dispatches the examined stages: each tree of `FROM <stage>` is walked from its root, a child
/// starting from its parent's final environment.
pub fn run(file: &Dockerfile, graph: &Graph, examined: &[bool], ctx: &Context, sink: &mut Sink) {
    let n_stages = file.stages.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n_stages];
    let mut roots = Vec::new();
    for (idx, node) in graph.nodes.iter().enumerate() {
        match node.base {
            Source::Stage { stage } if stage < idx => children[stage].push(idx),
            _ => roots.push(idx),
        }
    }
    let mut dispatcher = Dispatcher {
        ctx,
        env: StageEnv::default(),
        sink,
    };
    let mut passed_on = vec![Inherited::default(); n_stages];
    enum Step {
        Enter(usize),
        Leave(usize),
    }
    let mut steps: Vec<Step> = roots.into_iter().rev().map(Step::Enter).collect();
    while let Some(step) = steps.pop() {
        let stage_idx = match step {
            Step::Leave(mark) => {
                dispatcher.env.rollback(mark);
                continue;
            }
            Step::Enter(stage_idx) => stage_idx,
        };
        if !examined[stage_idx] {
            continue;
        }
        let mark = dispatcher.env.mark();
        let node = &graph.nodes[stage_idx];
        let os = node
            .platform
            .as_deref()
            .and_then(|p| p.split('/').next())
            .unwrap_or(ctx.target_os);
        let inherited = match node.base {
            Source::Stage { stage } if stage < stage_idx => passed_on[stage],
            _ => {
                if os != "windows" {
                    dispatcher.env.set("PATH", DEFAULT_PATH.to_string());
                }
                Inherited::default()
            }
        };
        let mut state = StageState {
            inherited,
            os,
            last_seen: [None; 3],
        };
        let stage = &file.stages[stage_idx];
        if let Some(parent) = node.triggers_from {
            let place = Place {
                span: stage.span,
                comments: &[],
            };
            for trigger in file.stages[parent]
                .instructions
                .iter()
                .filter_map(|instr| instr.trigger.as_deref())
            {
                dispatcher.instruction(trigger, place, &mut state);
            }
        }
        for instr in &stage.instructions {
            let place = Place {
                span: instr.span,
                comments: &instr.comments,
            };
            dispatcher.instruction(instr, place, &mut state);
        }
        passed_on[stage_idx] = state.inherited;
        steps.push(Step::Leave(mark));
        steps.extend(children[stage_idx].iter().rev().map(|c| Step::Enter(*c)));
    }
}

struct Dispatcher<'d, 's> {
    ctx: &'d Context<'d>,
    env: StageEnv,
    sink: &'d mut Sink<'s>,
}

/// An expansion failed: the error is reported, the instruction stops there.
struct Failed;

impl Dispatcher<'_, '_> {
    /// Expands one word with the stage environment (BuildKit's `Expand` callback), reporting
    /// `UndefinedVar` for names that are neither set nor declared.
    fn expand<'w>(&mut self, word: &'w str, place: Place) -> Result<Cow<'w, str>, Failed> {
        self.expand_with(*self.ctx.lexer, word, place)
    }

    fn expand_with<'w>(
        &mut self,
        lexer: Lexer,
        word: &'w str,
        place: Place,
    ) -> Result<Cow<'w, str>, Failed> {
        match lexer.process_word(word, &self.env) {
            Ok(expanded) => {
                self.report_unmatched(expanded.unmatched.iter().map(String::as_str), place);
                Ok(expanded.word)
            }
            Err(error) => {
                self.sink.error("ExpansionError", error.message, place.span);
                Err(Failed)
            }
        }
    }

    /// BuildKit `reportUnmatchedVariables`.
    fn report_unmatched<'n>(&mut self, names: impl Iterator<Item = &'n str>, place: Place) {
        let mut options: Option<Vec<String>> = None;
        for name in names {
            if self.env.is_declared(name) || NON_ENV_ARGS.contains(&name) {
                continue;
            }
            let keys = options
                .get_or_insert_with(|| self.env.keys().into_iter().map(str::to_string).collect());
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut message = format!("Usage of undefined variable '${name}'");
            if let Some(found) = suggest::search(name, &keys, true) {
                message.push_str(&format!(" (did you mean ${found}?)"));
            }
            self.sink
                .lint(place.comments, Rule::UndefinedVar, message, place.span);
        }
    }

    /// BuildKit `validateNoSecretKey`.
    fn check_secret(&mut self, instruction: &str, key: &str, place: Place) {
        if looks_secret(key) {
            let message = format!(
                "Do not use ARG or ENV instructions for sensitive data ({instruction} {})",
                crate::values::go_quote(key)
            );
            self.sink.lint(
                place.comments,
                Rule::SecretsUsedInArgOrEnv,
                message,
                place.span,
            );
        }
    }

    fn instruction(&mut self, instr: &Instr, place: Place, state: &mut StageState<'_>) {
        // A failed expansion stops the instruction, as the first error stops BuildKit.
        let _ = self.dispatch(instr, place, state);
    }

    fn dispatch(
        &mut self,
        instr: &Instr,
        place: Place,
        state: &mut StageState<'_>,
    ) -> Result<(), Failed> {
        let name = || instr.keyword.to_ascii_uppercase();
        let slot = match &instr.plan.op {
            Op::Cmd { .. } => Some(0),
            Op::Entrypoint { .. } => Some(1),
            Op::Healthcheck { .. } => Some(2),
            _ => None,
        };
        if let Some(slot) = slot {
            if let Some(previous) = state.last_seen[slot] {
                let message = format!(
                    "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                    name()
                );
                self.sink.lint(
                    place.comments,
                    Rule::MultipleInstructionsDisallowed,
                    message,
                    previous,
                );
            }
            state.last_seen[slot] = Some(place.span);
        }
        match &instr.plan.op {
            Op::Cmd { command } | Op::Entrypoint { command } => {
                if matches!(command, Command::Shell { .. }) && !state.inherited.shell_set {
                    let message = format!(
                        "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
                        name()
                    );
                    // A fix only where the instruction is written (not for an ONBUILD trigger
                    // reported at the FROM that runs it).
                    let fix = (place.span == instr.span)
                        .then(|| fixes::json_args(instr.span, &instr.keyword, &instr.plan.op))
                        .flatten();
                    self.sink.lint_with(
                        place.comments,
                        Rule::JsonArgsRecommended,
                        message,
                        place.span,
                        fix,
                    );
                }
            }
            Op::Shell { .. } => state.inherited.shell_set = true,
            Op::Env { pairs } | Op::Label { pairs } => {
                let mut expanded = Vec::with_capacity(pairs.len());
                for pair in pairs {
                    let key = self.expand(&pair.key, place)?;
                    let value = self.expand(&pair.value, place)?;
                    expanded.push((key, value));
                }
                let is_env = matches!(instr.plan.op, Op::Env { .. });
                for (key, value) in expanded {
                    if instr.legacy_key_value {
                        let name = name();
                        let message = format!(
                            "\"{name} key=value\" should be used instead of legacy \"{name} key value\" format"
                        );
                        let fix = (place.span == instr.span)
                            .then(|| fixes::key_value(instr.span, &instr.keyword, &instr.plan.op))
                            .flatten();
                        self.sink.lint_with(
                            place.comments,
                            Rule::LegacyKeyValueFormat,
                            message,
                            place.span,
                            fix,
                        );
                    }
                    if is_env {
                        self.check_secret("ENV", &key, place);
                        self.env.set(&key, value.into_owned());
                    }
                }
            }
            Op::Workdir { path } => {
                let path = self.expand(path, place)?;
                if !state.inherited.workdir_set && !is_absolute(&path, state.os) {
                    let message = format!(
                        "Relative workdir {} can have unexpected results if the base image changes",
                        crate::values::go_quote(&path)
                    );
                    self.sink.lint(
                        place.comments,
                        Rule::WorkdirRelativePath,
                        message,
                        place.span,
                    );
                }
                state.inherited.workdir_set = true;
            }
            Op::User { user } => {
                self.expand(user, place)?;
            }
            Op::Stopsignal { signal } => {
                let expanded = self.expand(signal, place)?;
                // A word with a variable may take its value from the base image's ENV, known
                // only when the build runs; the runner checks it then.
                if !signal.contains('$') {
                    if let Err(message) = crate::values::check_signal(&expanded) {
                        self.sink.error("InvalidSignal", message, place.span);
                        return Err(Failed);
                    }
                }
            }
            Op::Volume { paths } => {
                let mut expanded = Vec::with_capacity(paths.len());
                for path in paths {
                    expanded.push(self.expand(path, place)?);
                }
                if expanded.iter().any(|path| path.is_empty()) {
                    self.sink.error(
                        "InvalidVolume",
                        "VOLUME specified can not be an empty string",
                        place.span,
                    );
                }
            }
            Op::Run { .. } => self.run_mounts(instr, place)?,
            Op::Arg { args } => {
                for arg in args {
                    self.check_secret("ARG", &arg.name, place);
                    let value = match (self.ctx.build_args.get(&arg.name), &arg.default) {
                        (Some(given), _) => Some(given.clone()),
                        (None, Some(default)) => Some(self.expand(default, place)?.into_owned()),
                        (None, None) => self.ctx.global.env.get(&arg.name).cloned(),
                    };
                    if let Some(value) = value {
                        if !NON_ENV_ARGS.contains(&arg.name.as_str()) {
                            self.env.set(&arg.name, value);
                        }
                    }
                    self.env.declare(&arg.name);
                }
            }
            Op::Expose { .. } => self.expose(instr, place)?,
            Op::Copy(spec) | Op::Add(spec) => {
                let is_add = matches!(instr.plan.op, Op::Add(_));
                self.copy(spec, is_add, instr.copy_from.is_some(), place)?;
            }
            Op::Healthcheck { .. } | Op::Onbuild { .. } | Op::Maintainer { .. } => {}
        }
        Ok(())
    }

    /// RUN: every `key=value` of a `--mount` has its value expanded (BuildKit `setMountState`).
    fn run_mounts(&mut self, instr: &Instr, place: Place) -> Result<(), Failed> {
        for raw in &instr.raw_mounts {
            for field in crate::instructions::csv_fields(raw).unwrap_or_default() {
                if let Some((_, value)) = field.split_once('=') {
                    self.expand(value, place)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether a name looks like it holds a secret (BuildKit `getSecretsRegex`): an `_`-separated
/// part of it is one of the secret words and none is an allowed word, case-insensitively.
fn looks_secret(key: &str) -> bool {
    const DENY: [&str; 10] = [
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOW: [&str; 3] = ["public", "file", "version"];
    let has = |words: &[&str]| {
        key.split('_')
            .any(|part| words.iter().any(|word| go_fold_eq(part, word)))
    };
    has(&DENY) && !has(&ALLOW)
}

/// Go's case-insensitive comparison of `text` with an ASCII lower-case `word` (simple case
/// folding: `K` also matches the Kelvin sign, `s` the long s).
fn go_fold_eq(text: &str, word: &str) -> bool {
    let mut chars = text.chars();
    for want in word.chars() {
        let Some(ch) = chars.next() else {
            return false;
        };
        let same = ch.to_ascii_lowercase() == want
            || (want == 'k' && ch == '\u{212a}')
            || (want == 's' && ch == '\u{17f}');
        if !same {
            return false;
        }
    }
    chars.next().is_none()
}

/// BuildKit `system.IsAbs` for a WORKDIR.
fn is_absolute(path: &str, os: &str) -> bool {
    if os == "windows" {
        let bytes = path.as_bytes();
        return path.starts_with(['/', '\\'])
            || (bytes.len() >= 3
                && bytes[0].is_ascii_alphabetic()
                && bytes[1] == b':'
                && matches!(bytes[2], b'/' | b'\\'));
    }
    path.starts_with('/')
}

#[cfg(test)]
mod tests;
