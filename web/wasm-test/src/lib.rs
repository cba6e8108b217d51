//! wasm-bindgen-test tests of the planner's WebAssembly exports (`planner::wasm`), compiled for
//! wasm32-unknown-unknown and run by `wasm-bindgen-test-runner` in Node (the default) and in
//! headless Chromium (`WASM_BINDGEN_USE_BROWSER=1`, `CHROMEDRIVER=/usr/bin/chromedriver`);
//! `web/scripts/test.mjs` runs both.
//!
//! Input: Dockerfile texts and option objects built as JavaScript values. Output: test results.
//! Invariant: the exports are called exactly as JavaScript calls them (JsValue in, JsValue out),
//! and their results must equal the library's own [`planner::plan`] on the same input, so the
//! glue can neither lose nor invent anything. The crate has no code of its own: natively it
//! compiles to nothing.

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use std::collections::BTreeMap;

    use js_sys::{Array, Object, Reflect, JSON};
    use planner::{Options, Outcome};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;

    const SEED: &str = "FROM golang:1.23 AS builder\nWORKDIR /src\nRUN go build -o /bin/hello .\n\n\
                        FROM scratch\nCOPY --from=builder /bin/hello /bin/hello\nCMD [\"/bin/hello\"]\n";

    /// The options object as JavaScript writes it: only the names the exports take (`Options`
    /// serialized would also carry `dockerfile`, a path only the CLI knows, which they refuse).
    fn options_value(targets: &[&str]) -> JsValue {
        let options = Object::new();
        let set = |object: &Object, name: &str, value: &JsValue| {
            Reflect::set(object, &JsValue::from_str(name), value).expect("set an option");
        };
        let targets: Array = targets
            .iter()
            .map(|target| JsValue::from_str(target))
            .collect();
        set(&options, "targets", &targets);
        let build_args = Object::new();
        set(&build_args, "GO", &JsValue::from_str("1"));
        set(&options, "build_args", &build_args);
        set(&options, "platform", &JsValue::from_str("linux/arm64"));
        set(
            &options,
            "build_platform",
            &JsValue::from_str("linux/arm/v7"),
        );
        options.into()
    }

    fn error_message(err: JsValue) -> String {
        Reflect::get(&err, &JsValue::from_str("message"))
            .ok()
            .and_then(|message| message.as_string())
            .unwrap_or_default()
    }

    #[wasm_bindgen_test]
    fn plan_equals_the_library_and_is_plain_json() {
        let value = planner::wasm::plan(SEED, options_value(&["builder"]))
            .map_err(JsValue::from)
            .unwrap();
        // Plain objects (json_compatible): JSON.stringify sees every field; a Map would print {}.
        let json = JSON::stringify(&value).unwrap().as_string().unwrap();
        let from_js: Outcome = serde_wasm_bindgen::from_value(value).unwrap();
        let native = planner::plan(
            SEED,
            &Options {
                targets: vec!["builder".into()],
                build_args: BTreeMap::from([("GO".into(), "1".into())]),
                platform: Some("linux/arm64".into()),
                build_platform: Some("linux/arm/v7".into()),
                dockerfile: None,
            },
        );
        assert_eq!(from_js, native);
        let plan = native.plan.expect("the seed plans");
        assert_eq!(plan.targets, vec![0]);
        assert!(json.contains("\"build_args\":{\"GO\":\"1\"}"), "{json}");
        assert!(json.contains("\"platform\":\"linux/arm64\""), "{json}");
        assert!(
            json.contains("\"BUILDPLATFORM\":\"linux/arm/v7\""),
            "{json}"
        );
    }

    #[wasm_bindgen_test]
    fn suggest_stage_equals_the_library() {
        let names = vec!["builder".to_string(), "base".to_string()];
        for value in ["bulder", "builder", "xyzzy", "BASE"] {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            assert_eq!(
                planner::wasm::suggest_stage(value, names.clone()),
                planner::suggest_stage_name(value, &refs),
                "{value}"
            );
        }
        assert_eq!(
            planner::wasm::suggest_stage("bulder", names).as_deref(),
            Some("builder")
        );
    }

    #[wasm_bindgen_test]
    fn plan_gives_the_objects_of_the_json_compatible_serializer() {
        use serde::Serialize;
        let text = "ARG V=1\nFROM alpine:${V} AS a\nRUN --mount=type=cache,target=/c true\n\
                    FROM a\nCOPY --from=a /x /y\nHEALTHCHECK NONE\n";
        let value = planner::wasm::plan(text, JsValue::UNDEFINED)
            .map_err(JsValue::from)
            .unwrap();
        let reference = planner::plan(text, &Options::default())
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .unwrap();
        assert_eq!(
            JSON::stringify(&value).unwrap().as_string(),
            JSON::stringify(&reference).unwrap().as_string()
        );
    }

    #[wasm_bindgen_test]
    fn plan_accepts_undefined_and_null_options() {
        let undefined: Outcome = serde_wasm_bindgen::from_value(
            planner::wasm::plan(SEED, JsValue::UNDEFINED)
                .map_err(JsValue::from)
                .unwrap(),
        )
        .unwrap();
        let null: Outcome = serde_wasm_bindgen::from_value(
            planner::wasm::plan(SEED, JsValue::NULL)
                .map_err(JsValue::from)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(undefined, planner::plan(SEED, &Options::default()));
        assert_eq!(undefined, null);
        assert_eq!(undefined.plan.unwrap().targets, vec![1]);
    }

    #[wasm_bindgen_test]
    fn errors_give_a_null_plan_and_diagnostics() {
        let value = planner::wasm::plan("FROM\n", JsValue::UNDEFINED)
            .map_err(JsValue::from)
            .unwrap();
        let plan = Reflect::get(&value, &JsValue::from_str("plan")).unwrap();
        assert!(plan.is_null());
        let diagnostics: Array = Reflect::get(&value, &JsValue::from_str("diagnostics"))
            .unwrap()
            .dyn_into()
            .unwrap();
        assert!(diagnostics.length() > 0);
    }

    #[wasm_bindgen_test]
    fn unknown_or_mistyped_options_are_js_errors() {
        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("target"),
            &JsValue::from_str("builder"),
        )
        .unwrap();
        let err = planner::wasm::plan(SEED, options.into())
            .map_err(JsValue::from)
            .unwrap_err();
        assert!(err.is_instance_of::<js_sys::Error>());
        assert!(error_message(err).contains("unknown option \"target\""));

        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("targets"),
            &JsValue::from_f64(3.0),
        )
        .unwrap();
        let err = planner::wasm::plan(SEED, options.into())
            .map_err(JsValue::from)
            .unwrap_err();
        assert!(error_message(err).starts_with("invalid options"));
    }

    #[wasm_bindgen_test]
    fn check_equals_the_library() {
        let text = "FROM alpine AS Builder\nRUN true\n";
        let value = planner::wasm::check(text).map_err(JsValue::from).unwrap();
        let from_js: Vec<planner::Diagnostic> = serde_wasm_bindgen::from_value(value).unwrap();
        assert_eq!(from_js, planner::check(text));
        // With a target, only the stages it needs are examined.
        let text = "FROM alpine AS Unused\nCMD run\nFROM alpine AS app\n";
        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("targets"),
            &Array::of1(&JsValue::from_str("app")),
        )
        .unwrap();
        let value = planner::wasm::check_with(text, options.into())
            .map_err(JsValue::from)
            .unwrap();
        let from_js: Vec<planner::Diagnostic> = serde_wasm_bindgen::from_value(value).unwrap();
        let codes: Vec<&str> = from_js.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, vec!["StageNameCasing"]);
    }

    #[wasm_bindgen_test]
    fn outline_equals_the_library_also_with_errors() {
        for text in [
            SEED,
            "FROM alpine AS a\nRUNN x\nFROM a AS b\nCOPY --from=nope /x /x\n",
        ] {
            let value = planner::wasm::outline(text, JsValue::UNDEFINED)
                .map_err(JsValue::from)
                .unwrap();
            let from_js: planner::Outline = serde_wasm_bindgen::from_value(value).unwrap();
            assert_eq!(from_js, planner::outline(text, &Options::default()));
            assert!(!from_js.stages.is_empty());
        }
    }

    #[wasm_bindgen_test]
    fn the_dockerignore_option_reaches_copy_ignored_file() {
        let text = "FROM scratch\nCOPY secret.txt /\n";
        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("dockerignore"),
            &JsValue::from_str("secret.txt\n"),
        )
        .unwrap();
        let value = planner::wasm::plan(text, options.clone().into())
            .map_err(JsValue::from)
            .unwrap();
        let from_js: Outcome = serde_wasm_bindgen::from_value(value).unwrap();
        let files = planner::ContextFiles {
            dockerignore: Some("secret.txt\n".to_string()),
        };
        let native = planner::plan_with_context(text, &Options::default(), &files);
        assert_eq!(from_js, native);
        assert_eq!(native.diagnostics[0].code, "CopyIgnoredFile");
        let checked = planner::wasm::check_with(text, options.into())
            .map_err(JsValue::from)
            .unwrap();
        let checked: Vec<planner::Diagnostic> = serde_wasm_bindgen::from_value(checked).unwrap();
        assert_eq!(checked, native.diagnostics);
    }

    #[wasm_bindgen_test]
    fn graph_renders_both_formats_and_refuses_others() {
        let dot = planner::wasm::graph(SEED, JsValue::UNDEFINED, "dot")
            .map_err(JsValue::from)
            .unwrap();
        let plan = planner::plan(SEED, &Options::default()).plan.unwrap();
        assert_eq!(
            dot,
            planner::graph::render(&plan, planner::graph::GraphFormat::Dot)
        );
        let mermaid = planner::wasm::graph(SEED, JsValue::UNDEFINED, "mermaid")
            .map_err(JsValue::from)
            .unwrap();
        assert_eq!(
            mermaid,
            planner::graph::render(&plan, planner::graph::GraphFormat::Mermaid)
        );
        let err = planner::wasm::graph(SEED, JsValue::UNDEFINED, "svg")
            .map_err(JsValue::from)
            .unwrap_err();
        assert!(error_message(err).contains("unknown graph format \"svg\""));
        let err = planner::wasm::graph("FROM\n", JsValue::UNDEFINED, "dot")
            .map_err(JsValue::from)
            .unwrap_err();
        assert!(error_message(err).starts_with("the Dockerfile has errors; line 1"));
    }

    #[wasm_bindgen_test]
    fn versions() {
        assert_eq!(planner::wasm::version(), env!("CARGO_PKG_VERSION"));
        assert_eq!(planner::wasm::plan_version(), planner::plan::PLAN_VERSION);
    }
}
