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
