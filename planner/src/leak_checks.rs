//! stageplan's own checks on what a target image ships, the static half of the runner's leak
//! report: a target stage that copies the whole build context (the sources ship), and a target
//! stage based on a stage that other stages copy build output from (the toolchain ships). The
//! runner's report goes further with what only a build knows (files by content, an image that a
//! builder stage also starts from, a target that compiles in its own image).
//!
//! Input: the Dockerfile text (for line spans) and the assembled plan. Output: warnings with
//! the codes [`TARGET_COPIES_CONTEXT`] and [`TARGET_BASED_ON_BUILDER`] in the sink, unless the
//! file's `# check=skip=` (or `BUILDKIT_DOCKERFILE_CHECK`) names them or `all`.
//! Invariant: reads only the plan (stages, bases, edges, instructions), never the syntax; the
//! warnings never block a plan and `check=error=true` does not turn them into errors (they are
//! not BuildKit's rules).

use crate::checks::Sink;
use crate::diagnostics::Span;
use crate::plan::{EdgeKind, Op, Plan, Source};

/// A target stage (or a stage it is built on) copies the whole build context.
pub const TARGET_COPIES_CONTEXT: &str = "stageplan/target-copies-context";

/// A target stage is based (directly or through other stages) on a stage that other stages copy
/// build output from.
pub const TARGET_BASED_ON_BUILDER: &str = "stageplan/target-based-on-builder";

/// Source words that name the whole context.
const WHOLE_CONTEXT: [&str; 7] = [".", "./", "/", "*", "./*", "/*", "/."];

/// Adds the warnings about the plan's targets.
pub fn check(text: &str, plan: &Plan, sink: &mut Sink) {
    let enabled = |code: &str| !sink.config.skip_all && !sink.config.skip.contains(code);
    let (copies, builder) = (
        enabled(TARGET_COPIES_CONTEXT),
        enabled(TARGET_BASED_ON_BUILDER),
    );
    for (at, &target) in plan.targets.iter().enumerate() {
        if plan.targets[..at].contains(&target) {
            continue;
        }
        let chain = base_chain(plan, target);
        if copies {
            if let Some((line, message)) = copies_context(plan, target, &chain) {
                sink.warning(TARGET_COPIES_CONTEXT, message, line_span(text, line));
            }
        }
        if builder {
            if let Some(message) = based_on_builder(plan, target, &chain) {
                let line = plan.stages[target].location.line;
                sink.warning(TARGET_BASED_ON_BUILDER, message, line_span(text, line));
            }
        }
    }
}

/// The stages a stage is built on, nearest first.
fn base_chain(plan: &Plan, stage: usize) -> Vec<usize> {
    let mut chain = Vec::new();
    let mut at = stage;
    while let Some(Source::Stage { stage: parent }) = plan.stages.get(at).map(|s| &s.base) {
        if *parent == stage || chain.contains(parent) {
            break;
        }
        chain.push(*parent);
        at = *parent;
    }
    chain
}

/// The first COPY/ADD of the whole context in the target or a stage it is built on.
fn copies_context(plan: &Plan, target: usize, chain: &[usize]) -> Option<(u32, String)> {
    let name = &plan.stages[target].display_name;
    // The base stages run first: look at the farthest one first.
    for &stage in chain.iter().rev().chain([&target]) {
        for instruction in &plan.stages[stage].instructions {
            let (Op::Copy(spec) | Op::Add(spec)) = &instruction.op else {
                continue;
            };
            if spec.from.is_some()
                || !spec
                    .sources
                    .iter()
                    .any(|s| WHOLE_CONTEXT.contains(&s.as_str()))
            {
                continue;
            }
            let via = if stage == target {
                String::new()
            } else {
                format!(" through stage \"{}\"", plan.stages[stage].display_name)
            };
            return Some((
                instruction.line,
                format!(
                    "target stage \"{name}\" copies the whole build context{via} (line {}): the sources ship in the image; copy them into a build stage and COPY --from it only what \"{name}\" needs",
                    instruction.line
                ),
            ));
        }
    }
    None
}

/// The first needed stage (other than `except`) that copies from or mounts `stage`.
fn reader_of(plan: &Plan, stage: usize, except: &[usize]) -> Option<usize> {
    plan.stages
        .iter()
        .filter(|s| s.needed && s.index != stage && !except.contains(&s.index))
        .find(|s| {
            s.edges.iter().any(|e| {
                matches!(e.kind, EdgeKind::Copy | EdgeKind::Mount)
                    && e.source == Source::Stage { stage }
            })
        })
        .map(|s| s.index)
}

fn based_on_builder(plan: &Plan, target: usize, chain: &[usize]) -> Option<String> {
    let name = &plan.stages[target].display_name;
    let mut in_chain: Vec<usize> = chain.to_vec();
    in_chain.push(target);
    for &base in chain {
        if let Some(reader) = reader_of(plan, base, &in_chain) {
            let base_name = &plan.stages[base].display_name;
            return Some(format!(
                "target stage \"{name}\" is based on stage \"{base_name}\", which stage \"{}\" copies build output from: the toolchain of \"{base_name}\" ships in the image; start \"{name}\" from a runtime image and COPY --from=\"{base_name}\" only what it needs",
                plan.stages[reader].display_name
            ));
        }
    }
    None
}

/// The byte span of 1-based line `line` (without its line break).
fn line_span(text: &str, line: u32) -> Span {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(newline) => start += newline + 1,
            None => break,
        }
    }
    let end = text[start..]
        .find('\n')
        .map_or(text.len(), |newline| start + newline);
    Span::new(start, end.max(start))
}

#[cfg(test)]
mod tests {
    use crate::{plan, Options};

    fn codes(text: &str, targets: &[&str]) -> Vec<(String, u32, String)> {
        let options = Options {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            ..Options::default()
        };
        plan(text, &options)
            .diagnostics
            .into_iter()
            .filter(|d| d.code.starts_with("stageplan/"))
            .map(|d| (d.code, d.line, d.message))
            .collect()
    }

    #[test]
    fn a_target_that_copies_the_whole_context_is_flagged_at_the_copy() {
        let found = codes("FROM golang\nWORKDIR /src\nCOPY . .\nRUN go build\n", &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "stageplan/target-copies-context");
        assert_eq!(found[0].1, 3);
        assert!(found[0]
            .2
            .starts_with("target stage \"stage-0\" copies the whole build context (line 3)"));
        // Through a base stage, and not for a stage that is only a builder.
        let text = "FROM golang AS src\nCOPY ./ /src\nFROM src AS app\nRUN true\nFROM scratch AS out\nCOPY --from=src /src/app /\n";
        let found = codes(text, &["app"]);
        assert!(
            found
                .iter()
                .any(|f| f.2.contains("through stage \"src\"") && f.1 == 2),
            "{found:?}"
        );
        assert!(codes(text, &["out"])
            .iter()
            .all(|f| f.0 != "stageplan/target-copies-context"));
        assert!(codes("FROM scratch\nCOPY app.go go.mod /src/\n", &[]).is_empty());
    }

    #[test]
    fn a_target_based_on_a_builder_is_flagged_at_its_from() {
        let text = "FROM golang AS build\nRUN go build -o /app\nFROM busybox AS test\nCOPY --from=build /app /\nFROM build AS final\nCOPY --from=test /app /x\n";
        let found = codes(text, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].0.as_str(), found[0].1),
            ("stageplan/target-based-on-builder", 5)
        );
        // An image shared with a builder stage is the runner's warning (it knows what was built),
        // not this one.
        let image = "FROM golang:1.22 AS build\nRUN go build -o /app\nFROM golang:1.22\nCOPY --from=build /app /app\n";
        assert!(codes(image, &[]).is_empty());
        let clean = "FROM golang:1.22 AS build\nRUN go build -o /app\nFROM alpine\nCOPY --from=build /app /app\n";
        assert!(codes(clean, &[]).is_empty());
    }

    #[test]
    fn check_skip_silences_each_code() {
        let text = "# check=skip=stageplan/target-copies-context\nFROM golang\nCOPY . .\n";
        assert!(codes(text, &[]).is_empty());
        let text = "# check=skip=all\nFROM golang\nCOPY . .\n";
        assert!(codes(text, &[]).is_empty());
        let text = "# check=skip=StageNameCasing\nFROM golang\nCOPY . .\n";
        assert_eq!(codes(text, &[]).len(), 1);
    }
}
