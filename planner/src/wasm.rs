//! The WebAssembly interface of the planner (feature `wasm`), used by the playground and the
//! editor extension through the packages that `web/scripts/build.mjs` makes with wasm-bindgen.
//!
//! Input: the Dockerfile text and options as JavaScript values (`{ targets?, build_args?,
//! platform?, build_platform?, dockerfile?, dockerignore? }`, the same names as plan JSON; `dockerignore` is the
//! text of the build context's `.dockerignore`). Output: plain JSON-compatible JavaScript
//! objects (`{ plan, diagnostics }`, an outline, a diagnostics array, graph text, the version, a
//! stage-name suggestion).
//! Invariant: glue only. Every export deserializes its input, calls the library and serializes
//! the result as plain JSON objects (see [`to_js`]), so the objects a browser gets are exactly
//! the plan JSON that the `planner` binary prints; bad options become a JavaScript `Error`,
//! never a panic.

use js_sys::{Array, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::graph::GraphFormat;

/// The module's allocator: talc is smaller than Rust's default dlmalloc (2.6 KB less gzip) and
/// faster on the planner's many small allocations (docs/web.md).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
use crate::options::{ContextFiles, Options};

/// Plans a build: `plan(dockerfile, options)` returns `{ plan, diagnostics }`, where `plan` is
/// null when the file has errors. `options` may be `undefined` or `null` (the default target,
/// no build arguments, `linux/amd64`).
#[wasm_bindgen(unchecked_return_type = "Outcome")]
pub fn plan(
    dockerfile: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | null | undefined")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (options, files) = options_from_js(options)?;
    to_js(&crate::plan_with_context(dockerfile, &options, &files))
}

/// The stage structure for editors, also when the file has errors: `outline(dockerfile,
/// options)` returns `{ complete, targets, stages, waves, stage_needs, diagnostics }`; with no
/// errors the stages, targets and waves are the plan's. `options` as for `plan`.
#[wasm_bindgen(unchecked_return_type = "Outline")]
pub fn outline(
    dockerfile: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | null | undefined")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (options, files) = options_from_js(options)?;
    to_js(&crate::outline_with_context(dockerfile, &options, &files))
}

/// Checks every stage of the file with no target: `check(dockerfile)` returns the diagnostics.
#[wasm_bindgen(unchecked_return_type = "Diagnostic[]")]
pub fn check(dockerfile: &str) -> Result<JsValue, JsError> {
    to_js(&crate::check(dockerfile))
}
/// Checks the file as `docker build --check` does with options: `checkWith(dockerfile,
/// options)` returns the diagnostics; with targets only the stages they need are examined.
/// `options` as for `plan`.
#[wasm_bindgen(js_name = checkWith, unchecked_return_type = "Diagnostic[]")]
pub fn check_with(
    dockerfile: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | null | undefined")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (options, files) = options_from_js(options)?;
    to_js(&crate::check_with_context(dockerfile, &options, &files))
}

/// Draws the planned stage graph as Graphviz DOT (`format` = `"dot"`) or Mermaid
/// (`"mermaid"`) text. Fails with the first error diagnostic when the file cannot be planned.
#[wasm_bindgen]
pub fn graph(
    dockerfile: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | null | undefined")] options: JsValue,
    #[wasm_bindgen(unchecked_param_type = "\"dot\" | \"mermaid\"")] format: &str,
) -> Result<String, JsError> {
    let format = match format {
        "dot" => GraphFormat::Dot,
        "mermaid" => GraphFormat::Mermaid,
        other => {
            return Err(js_error(format!(
                "unknown graph format \"{other}\"; use \"dot\" or \"mermaid\""
            )))
        }
    };
    let (options, files) = options_from_js(options)?;
    let outcome = crate::plan_with_context(dockerfile, &options, &files);
    match outcome.plan {
        Some(plan) => Ok(crate::graph::render(&plan, format)),
        None => Err(planning_failed(&outcome.diagnostics)),
    }
}

/// The stage name the planner would suggest for `value` ("did you mean"), from `names` (the
/// plan's stage names); `undefined` when `value` is one of them or none is close. The same rule
/// as the planner's unknown-target error ([`crate::suggest_stage_name`]).
#[wasm_bindgen(js_name = suggestStage)]
pub fn suggest_stage(value: &str, names: Vec<String>) -> Option<String> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::suggest_stage_name(value, &names)
}

/// The planner's version (the crate version, e.g. `0.1.0`).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The plan JSON format version this planner writes (`1`).
#[wasm_bindgen(js_name = planVersion)]
pub fn plan_version() -> u32 {
    crate::plan::PLAN_VERSION
}

/// The option names `plan`, `check` and `graph` accept (the fields of [`Options`] and of
/// [`ContextFiles`]).
const OPTION_NAMES: [&str; 5] = [
    "targets",
    "build_args",
    "platform",
    "build_platform",
    "dockerignore",
];

/// The shape the error messages name.
const OPTIONS_SHAPE: &str = "{ targets?: string[], build_args?: { [name]: string }, platform?: string, build_platform?: string, dockerignore?: string }";

/// Reads options from JavaScript; `undefined` and `null` mean the defaults (for the whole object
/// and for each option). The object is read field by field through `js-sys` (`Object.keys`,
/// `Reflect.get`): a serde `Deserialize` would link Rust's float formatting for its error texts,
/// a tenth of the module. Unknown names are refused, so a misspelled `target` is not silently
/// ignored. The accepted shape is `planner/schema/options.schema.json`.
fn options_from_js(options: JsValue) -> Result<(Options, ContextFiles), JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok((Options::default(), ContextFiles::default()));
    }
    let (mut plan_options, mut files) = (Options::default(), ContextFiles::default());
    for (name, value) in
        object_fields(&options).ok_or_else(|| invalid_options("not a plain object"))?
    {
        if !OPTION_NAMES.contains(&name.as_str()) {
            return Err(js_error(format!(
                "invalid options: unknown option \"{name}\"; use targets, build_args, platform, build_platform or dockerignore"
            )));
        }
        if value.is_undefined() || value.is_null() {
            continue;
        }
        match name.as_str() {
            "targets" => {
                if !Array::is_array(&value) {
                    return Err(invalid_options("targets must be an array of strings"));
                }
                plan_options.targets = Array::from(&value)
                    .iter()
                    .map(|item| string_value(&item, "targets"))
                    .collect::<Result<_, _>>()?;
            }
            "build_args" => {
                let args = object_fields(&value).ok_or_else(|| {
                    invalid_options("build_args must be an object of string values")
                })?;
                for (arg, value) in args {
                    let value = string_value(&value, "build_args")?;
                    plan_options.build_args.insert(arg, value);
                }
            }
            "platform" => plan_options.platform = Some(string_value(&value, "platform")?),
            "build_platform" => {
                plan_options.build_platform = Some(string_value(&value, "build_platform")?)
            }
            _ => files.dockerignore = Some(string_value(&value, "dockerignore")?),
        }
    }
    Ok((plan_options, files))
}

/// The own enumerable fields of a plain JavaScript object, in order; `None` for anything else
/// (strings, numbers, arrays, or a getter that throws).
fn object_fields(value: &JsValue) -> Option<Vec<(String, JsValue)>> {
    if !value.is_object() || Array::is_array(value) {
        return None;
    }
    Object::keys(value.unchecked_ref::<Object>())
        .iter()
        .map(|key| Some((key.as_string()?, Reflect::get(value, &key).ok()?)))
        .collect()
}

/// A string inside the options, or the error naming the option it belongs to.
fn string_value(value: &JsValue, option: &str) -> Result<String, JsError> {
    value
        .as_string()
        .ok_or_else(|| invalid_options(&format!("{option} takes strings")))
}

/// The error for options of the wrong shape.
fn invalid_options(reason: &str) -> JsError {
    js_error(format!(
        "invalid options: {reason}; expected {OPTIONS_SHAPE}"
    ))
}

/// Serializes a result as plain JSON-compatible JavaScript values (objects, not `Map`s): the
/// JSON text made by serde_json, parsed by the engine's `JSON.parse`. That gives exactly the
/// objects of serde-wasm-bindgen's `Serializer::json_compatible()` (the tests compare them), but
/// crosses into JavaScript once instead of once per field: for a 1,000-line, 50-stage plan it was
/// 1.4-1.7x faster in Chromium (A/B, alternating) and the module 1.4 KiB smaller gzip.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value)
        .map_err(|_| js_error("cannot convert the result to JSON".to_string()))?;
    json_parse(&text).map_err(|_| js_error("JSON.parse refused the planner's output".to_string()))
}

#[wasm_bindgen]
extern "C" {
    /// The engine's `JSON.parse`.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;
}

/// The error for a file that has no plan: the first error diagnostic with its line.
fn planning_failed(diagnostics: &[crate::diagnostics::Diagnostic]) -> JsError {
    match diagnostics.iter().find(|diagnostic| diagnostic.is_error()) {
        Some(first) => js_error(format!(
            "the Dockerfile has errors; line {}: {} ({})",
            first.line, first.message, first.code
        )),
        None => js_error("the Dockerfile could not be planned".to_string()),
    }
}

/// The one way errors leave this module: a JavaScript `Error` with `message`.
fn js_error(message: String) -> JsError {
    JsError::new(&message)
}
