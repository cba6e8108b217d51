//! The entry of the translation: plan in, one LLB definition per target out.
//!
//! Input: [`TranslateInput`].
//! Output: [`Translation`]; or, before the solve starts, the entitlements it needs.
//! Invariant: no I/O, clock or environment — the same input gives byte-identical definitions;
//! targets are the plan's, never re-derived.

use std::collections::{BTreeMap, BTreeSet};

use planner::plan::Plan;

use super::dispatch::translate_stages;
use super::translator::Translator;
use super::types::{TargetBuild, TranslateError, TranslateInput, Translation};

/// Translates the plan's needed stages into LLB, one definition per target.
pub fn translate(input: &TranslateInput<'_>) -> Result<Translation, TranslateError> {
    let mut translator = Translator::new(input);
    translate_stages(&mut translator)?;
    let encoded = translator.graph.encode();
    let mut targets = Vec::new();
    for &stage in &input.plan.targets {
        let state = translator
            .finished
            .get(&stage)
            .ok_or_else(|| TranslateError {
                stage: format!("stage-{stage}"),
                line: 0,
                message: "the target is not among the plan's waves; re-create the plan".to_string(),
            })?;
        // `--label` values go on the last target's config only, over its own labels (the
        // frontend sets them on the target after every instruction).
        let mut image = state.image.clone();
        if Some(&stage) == input.plan.targets.last() {
            image.config.labels.extend(input.labels.clone());
        }
        if let Some(seconds) = input.plan.source_date_epoch {
            image.date_new_entries(seconds);
        }
        let image_config = image.to_json();
        targets.push(TargetBuild {
            stage,
            definition: encoded.definition(state.root),
            image_config,
        });
    }
    let mut steps = BTreeMap::new();
    for (node, info) in translator.steps {
        steps
            .entry(encoded.digest(node).to_string())
            .or_insert(info);
    }
    Ok(Translation {
        targets,
        steps,
        entitlements: translator.entitlements,
        n_ops: translator.graph.len(),
    })
}

/// The entitlements a solve of the plan's needed stages must ask for: `network.host` for
/// `RUN --network=host`, `security.insecure` for `RUN --security=insecure`. Known before the
/// translation, because the solve request that carries them starts first.
pub fn required_entitlements(plan: &Plan, network: Option<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if network == Some("host") {
        out.insert("network.host".to_string());
    }
    for stage in plan.stages.iter().filter(|stage| stage.needed) {
        for instruction in &stage.instructions {
            if let planner::plan::Op::Run {
                network, security, ..
            } = &instruction.op
            {
                if network.as_deref() == Some("host") {
                    out.insert("network.host".to_string());
                }
                if security.as_deref() == Some("insecure") {
                    out.insert("security.insecure".to_string());
                }
            }
        }
    }
    out
}
