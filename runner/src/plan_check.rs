//! Reading and checking a plan before anything runs.
//!
//! Input: plan JSON text (from a file, standard input, or the planner library's plan).
//! Output: a [`Plan`] the scheduler can perform, or a [`PlanError`] saying what is wrong, where
//! (the JSON path or the stage and line) and what to do.
//! Invariant: `version` is checked first; no field of the input is dropped silently (an unknown
//! field at any level is an error); a checked plan names only existing stages, lists every stage
//! an instruction reads from in `depends_on`, marks everything a needed stage depends on as
//! needed, and has no dependency cycle — so no container is ever made for a plan that cannot
//! complete.

use planner::plan::{Op, Source};
use planner::Plan;

/// What is wrong with a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The text is not JSON.
    #[error("is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    /// `version` is missing.
    #[error(
        "has no \"version\" field; expected a plan JSON of version {expected} from `planner plan`"
    )]
    NoVersion {
        /// The version this runner reads.
        expected: u32,
    },
    /// `version` is not this runner's.
    #[error("has plan version {found}, but this runner reads version {expected}; re-create the plan with a matching planner")]
    Version {
        /// The version found, as written.
        found: String,
        /// The version this runner reads.
        expected: u32,
    },
    /// A field has the wrong shape.
    #[error("at {path}: the value does not fit the plan format")]
    Field {
        /// JSON path of the problem.
        path: String,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// A field the plan format does not have.
    #[error("at {path}: unknown field; the plan was made by another planner version or edited by hand (re-create it with `planner plan`)")]
    UnknownField {
        /// JSON path of the field.
        path: String,
    },
    /// Something in the plan's stage graph is inconsistent.
    #[error("{0}")]
    Graph(String),
    /// `SOURCE_DATE_EPOCH` is a time no image can carry.
    #[error("SOURCE_DATE_EPOCH is {0}, a time after the year 9999, which an image's creation time cannot hold (BuildKit fails to write it too); give the seconds since 1970 of a date up to 9999-12-31 (at most {LATEST_EPOCH})")]
    Epoch(i64),
    /// The stages depend on each other in a circle.
    #[error("dependency cycle: {0}; a stage cannot need itself (check COPY --from and RUN --mount from=)")]
    Cycle(String),
}

/// Parses and checks plan JSON text.
pub fn parse(text: &str) -> Result<Plan, PlanError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(PlanError::NotJson)?;
    let expected = planner::plan::PLAN_VERSION;
    match value.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(expected)) => {}
        Some(other) => {
            return Err(PlanError::Version {
                found: other.to_string(),
                expected,
            })
        }
        None => return Err(PlanError::NoVersion { expected }),
    }
    let plan: Plan = serde_path_to_error::deserialize(&value).map_err(|e| PlanError::Field {
        path: e.path().to_string(),
        source: e.into_inner(),
    })?;
    let back = serde_json::to_value(&plan).map_err(PlanError::NotJson)?;
    if let Some(path) = unknown_field(&value, &back, "") {
        return Err(PlanError::UnknownField { path });
    }
    check(&plan)?;
    Ok(plan)
}

/// Optional fields the planner leaves out when they are null.
const OMITTED_WHEN_NULL: [&str; 2] = ["onbuild_from", "dockerfile"];

/// The JSON path of the first field of `input` that the typed plan (`typed`, serialized back)
/// does not have.
fn unknown_field(
    input: &serde_json::Value,
    typed: &serde_json::Value,
    path: &str,
) -> Option<String> {
    match (input, typed) {
        (serde_json::Value::Object(fields), serde_json::Value::Object(known)) => {
            for (key, value) in fields {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(typed_value) => {
                        if let Some(found) = unknown_field(value, typed_value, &here) {
                            return Some(found);
                        }
                    }
                    None if value.is_null() && OMITTED_WHEN_NULL.contains(&key.as_str()) => {}
                    None => return Some(here),
                }
            }
            None
        }
        (serde_json::Value::Array(items), serde_json::Value::Array(known)) => items
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (item, typed_item))| {
                unknown_field(item, typed_item, &format!("{path}[{i}]"))
            }),
        _ => None,
    }
}

/// The latest `SOURCE_DATE_EPOCH` an image's time can hold: 9999-12-31T23:59:59Z (RFC 3339
/// times, and Go's JSON times in BuildKit's image config, have four-digit years).
pub const LATEST_EPOCH: i64 = 253_402_300_799;

/// Checks the stage graph of a plan, and the time its images are dated with.
pub fn check(plan: &Plan) -> Result<(), PlanError> {
    let n = plan.stages.len();
    let graph = |message: String| PlanError::Graph(message);
    if plan.targets.is_empty() {
        return Err(graph("the plan has no targets".to_string()));
    }
    if let Some(seconds) = plan.source_date_epoch.filter(|s| *s > LATEST_EPOCH) {
        return Err(PlanError::Epoch(seconds));
    }
    for (i, stage) in plan.stages.iter().enumerate() {
        if stage.index != i {
            return Err(graph(format!(
                "stages[{i}] has index {}; indices must equal positions",
                stage.index
            )));
        }
    }
    let name = |i: usize| plan.stages[i].display_name.clone();
    for &target in &plan.targets {
        if target >= n {
            return Err(graph(format!(
                "targets names stage {target}, but the plan has {n} stages"
            )));
        }
        if !plan.stages[target].needed {
            return Err(graph(format!(
                "target stage \"{}\" is not marked as needed",
                name(target)
            )));
        }
    }
    for stage in &plan.stages {
        for &dep in &stage.depends_on {
            if dep >= n || dep == stage.index {
                return Err(graph(format!(
                    "stage \"{}\" depends on stage {dep}, which is not another stage of the plan",
                    stage.display_name
                )));
            }
            if stage.needed && !plan.stages[dep].needed {
                return Err(graph(format!(
                    "stage \"{}\" needs stage \"{}\", which the plan does not mark as needed",
                    stage.display_name,
                    name(dep)
                )));
            }
        }
        let mut reads: Vec<(usize, u32)> = Vec::new();
        if let Source::Stage { stage: base } = stage.base {
            reads.push((base, stage.location.line));
        }
        for instruction in &stage.instructions {
            let sources: Vec<&Source> = match &instruction.op {
                Op::Copy(spec) | Op::Add(spec) => spec.from.iter().collect(),
                Op::Run { mounts, .. } => mounts.iter().filter_map(|m| m.from.as_ref()).collect(),
                _ => Vec::new(),
            };
            for source in sources {
                if let Source::Stage { stage: from } = source {
                    reads.push((*from, instruction.line));
                }
            }
        }
        for (from, line) in reads {
            if from >= n {
                return Err(graph(format!(
                    "stage \"{}\", line {line}: uses stage {from}, but the plan has {n} stages",
                    stage.display_name
                )));
            }
            if !stage.depends_on.contains(&from) {
                return Err(graph(format!(
                    "stage \"{}\", line {line}: uses stage \"{}\", which is missing from its depends_on",
                    stage.display_name,
                    name(from)
                )));
            }
        }
    }
    if let Some(cycle) = find_cycle(plan) {
        let names: Vec<String> = cycle.iter().map(|&i| format!("\"{}\"", name(i))).collect();
        return Err(PlanError::Cycle(names.join(" -> ")));
    }
    Ok(())
}

/// A cycle over `depends_on`, as the stage indices along it (the first repeated at the end).
fn find_cycle(plan: &Plan) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let n = plan.stages.len();
    let mut marks = vec![Mark::New; n];
    for root in 0..n {
        if marks[root] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (stage, next dependency to visit).
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some(&mut (stage, ref mut next)) = path.last_mut() {
            let deps = &plan.stages[stage].depends_on;
            if *next < deps.len() {
                let dep = deps[*next];
                *next += 1;
                match marks[dep] {
                    Mark::New => {
                        marks[dep] = Mark::OnPath;
                        path.push((dep, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|(s, _)| *s == dep).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[start..].iter().map(|(s, _)| *s).collect();
                        cycle.push(dep);
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[stage] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_json(text: &str) -> serde_json::Value {
        let plan = planner::plan(text, &planner::Options::default())
            .plan
            .expect("plan");
        serde_json::to_value(plan).expect("json")
    }

    const TWO: &str = "FROM busybox AS a\nRUN true\nFROM busybox AS b\nCOPY --from=a /x /x\n";

    #[test]
    fn a_planner_plan_passes() {
        let text = plan_json(TWO).to_string();
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn versions_and_paths_are_named() {
        let err = parse(r#"{"version": 2}"#).unwrap_err().to_string();
        assert!(
            err.contains("version 2") && err.contains("version 1"),
            "{err}"
        );
        let err = parse(r#"{"targets": []}"#).unwrap_err().to_string();
        assert!(err.contains("no \"version\""), "{err}");
        let err = parse(r#"{"version": 1, "targets": ["x"]}"#).unwrap_err();
        assert!(
            matches!(&err, PlanError::Field { path, .. } if path.starts_with("targets[0]")),
            "{err}"
        );
        assert!(matches!(parse("{"), Err(PlanError::NotJson(_))));
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        for pointer in [
            "",
            "/stages/1",
            "/stages/1/instructions/0",
            "/stages/1/edges/0",
            "/stages/1/location",
        ] {
            let mut value = plan_json(TWO);
            value
                .pointer_mut(pointer)
                .and_then(|v| v.as_object_mut())
                .expect("object")
                .insert("surprise".into(), serde_json::json!(1));
            // Structs that deny unknown fields themselves fail in serde; the flattened
            // instruction objects through the round-trip comparison. Both name the field.
            let err = parse(&value.to_string()).unwrap_err();
            let chain = format!(
                "{err}: {}",
                std::error::Error::source(&err)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
            assert!(
                chain.contains("surprise") && chain.contains("unknown field"),
                "{pointer}: {chain}"
            );
        }
        let mut value = plan_json(TWO);
        value["stages"][1]["instructions"][0]["onbuild_from"] = serde_json::Value::Null;
        assert!(
            parse(&value.to_string()).is_ok(),
            "an explicit null optional is fine"
        );
    }

    #[test]
    fn a_source_date_epoch_after_the_year_9999_is_refused() {
        let mut value = plan_json(TWO);
        value["source_date_epoch"] = serde_json::json!(LATEST_EPOCH);
        assert!(parse(&value.to_string()).is_ok());
        value["source_date_epoch"] = serde_json::json!(i64::MAX);
        let err = parse(&value.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("year 9999") && err.contains("253402300799"),
            "{err}"
        );
    }

    #[test]
    fn cycles_and_undeclared_sources_fail_before_anything_runs() {
        let mut value = plan_json(TWO);
        value["stages"][0]["depends_on"] = serde_json::json!([1]);
        value["stages"][0]["needed"] = serde_json::json!(true);
        let err = parse(&value.to_string()).unwrap_err();
        assert!(
            matches!(&err, PlanError::Cycle(c) if c.contains("\"a\"") && c.contains("\"b\"")),
            "{err}"
        );
        let mut value = plan_json(TWO);
        value["stages"][1]["depends_on"] = serde_json::json!([]);
        let err = parse(&value.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("line 4") && err.contains("depends_on"),
            "{err}"
        );
        let mut value = plan_json(TWO);
        value["stages"][0]["needed"] = serde_json::json!(false);
        let err = parse(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("not mark as needed"), "{err}");
    }
}
