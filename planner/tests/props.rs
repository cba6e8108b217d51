//! Property test: the planner never panics on Dockerfile-like input, and a plan, when there is
//! one, is internally consistent (waves cover exactly the needed stages, dependencies come first).

use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "FROM",
        "from",
        "RUN",
        "COPY",
        "ADD",
        "ARG",
        "ENV",
        "ONBUILD",
        "WORKDIR",
        "CMD",
        "LABEL",
        "SHELL",
        "USER",
        "EXPOSE",
        "HEALTHCHECK",
        "#",
        "",
    ]);
    let word = prop::sample::select(vec![
        "a",
        "AS",
        "as",
        "b",
        "--from=a",
        "--from=0",
        "--from=1",
        "--mount=from=b,target=/x",
        "--link",
        "${X:-y}",
        "$X",
        "scratch",
        "<<EOF",
        "<<-'E'",
        "EOF",
        "\\",
        "`",
        "[\"x\"]",
        "[1]",
        "\"q",
        "'",
        "=",
        "k=v",
        "--platform=$BUILDPLATFORM",
        "é",
        "\t",
    ]);
    (keyword, prop::collection::vec(word, 0..6))
        .prop_map(|(k, words)| format!("{k} {}", words.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn planner_never_panics(lines in prop::collection::vec(line(), 0..14), crlf in any::<bool>(), target in prop::option::of("[a-c]")) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let options = planner::Options { targets: target.into_iter().collect(), ..Default::default() };
        let outcome = planner::plan(&text, &options);
        let _ = planner::check(&text);
        if let Some(plan) = outcome.plan {
            let mut in_waves: Vec<usize> = plan.waves.iter().flatten().copied().collect();
            in_waves.sort_unstable();
            let needed: Vec<usize> = plan.stages.iter().filter(|s| s.needed).map(|s| s.index).collect();
            prop_assert_eq!(in_waves, needed);
            for (wave_idx, wave) in plan.waves.iter().enumerate() {
                for stage in wave {
                    for dep in &plan.stages[*stage].depends_on {
                        let dep_wave = plan.waves.iter().position(|w| w.contains(dep));
                        prop_assert!(dep_wave.is_some_and(|w| w < wave_idx));
                    }
                }
            }
        }
    }

    #[test]
    fn syntax_layer_never_panics(text in "\\PC{0,200}") {
        let _ = planner::syntax::parse(&text);
        let _ = planner::plan(&text, &planner::Options::default());
    }
}

proptest! {
    // Each case asks for the completion slot at every offset (a parse each): fewer cases.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// What editors call on every keystroke: the outline (always consistent with the stages it
    /// holds), every reference range inside the text and on a word boundary, and the
    /// completion slot at every byte offset.
    #[test]
    fn editor_calls_never_panic(lines in prop::collection::vec(line(), 0..10), crlf in any::<bool>()) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let outline = planner::outline(&text, &planner::Options::default());
        let n_stages = outline.stages.len();
        prop_assert_eq!(outline.stage_needs.len(), n_stages);
        for stage in &outline.stages {
            for dep in &stage.depends_on {
                prop_assert!(*dep < n_stages);
            }
            let ranges = stage.edges.iter().filter_map(|edge| edge.range).chain(stage.name_range);
            for range in ranges {
                let line = text.lines().nth(range.line as usize - 1);
                prop_assert!(line.is_some_and(|line| line.chars().count() + 1 >= range.end_column as usize));
            }
        }
        if outline.complete {
            prop_assert!(planner::plan(&text, &planner::Options::default()).plan.is_some());
        }
        for offset in 0..=text.len() {
            if text.is_char_boundary(offset) {
                if let Some(slot) = planner::stage_reference_slot(&text, offset) {
                    prop_assert!(slot.start <= offset && text.is_char_boundary(slot.start));
                }
            }
        }
    }
}
