//! The image config and history the exporter receives.

use serde_json::json;

use super::{build, try_build, Setup, CAPS_NEW, CAPS_V08};

#[test]
fn metadata_instructions_fold_into_the_config() {
    let built = build(
        "FROM busybox\nENV A=1 B=\"two words\"\nENV BASE=2\nLABEL a.b=\"x y\" c=$A\n\
         EXPOSE 80 $A/udp 127.0.0.1:8080:90/TCP\nVOLUME /data $B\nUSER app\nSTOPSIGNAL SIGKILL\n\
         HEALTHCHECK --interval=30s --retries=3 CMD curl -f localhost\nSHELL [\"/bin/bash\", \"-c\"]\n\
         ENTRYPOINT [\"/entry\"]\nCMD serve\nONBUILD RUN echo child\nMAINTAINER me\n",
        &Setup::default(),
    );
    let config = built.config();
    let c = &config["config"];
    assert_eq!(
        c["Env"],
        json!([
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "BASE=2",
            "A=1",
            "B=two words"
        ])
    );
    assert_eq!(c["Labels"], json!({"a.b": "x y", "c": "1"}));
    assert_eq!(
        c["ExposedPorts"],
        json!({"1/udp": {}, "80/tcp": {}, "90/tcp": {}})
    );
    assert_eq!(c["Volumes"], json!({"/data": {}, "two words": {}}));
    assert_eq!(c["User"], "app");
    assert_eq!(c["StopSignal"], "SIGKILL");
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30_000_000_000i64, "Retries": 3})
    );
    assert_eq!(c["Shell"], json!(["/bin/bash", "-c"]));
    assert_eq!(c["Entrypoint"], json!(["/entry"]));
    assert_eq!(
        c["Cmd"],
        json!(["/bin/bash", "-c", "serve"]),
        "CMD after ENTRYPOINT is kept"
    );
    assert_eq!(c["ArgsEscaped"], true, "the v0.8 frontend sets it on CMD");
    assert_eq!(c["OnBuild"], json!(["RUN echo child"]));
    assert_eq!(c["WorkingDir"], "/home");
    assert_eq!(config["author"], "me");
    assert!(config.get("created").is_none());
    let history: Vec<&str> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(history[0], "import", "the base's history comes first");
    assert!(history.contains(&"ENV A=1 B=two words"), "{history:?}");
    assert!(
        history.contains(&"EXPOSE map[1/udp:{} 80/tcp:{} 90/tcp:{}]"),
        "{history:?}"
    );
    assert!(
        history.contains(&"CMD [\"/bin/bash\" \"-c\" \"serve\"]"),
        "{history:?}"
    );
    assert!(config["history"][1]["empty_layer"].as_bool().unwrap());
}

#[test]
fn entrypoint_resets_an_inherited_cmd_and_new_daemons_drop_args_escaped() {
    let built = build("FROM busybox\nENTRYPOINT [\"/entry\"]\n", &Setup::default());
    assert!(built.config()["config"].get("Cmd").is_none());
    let built = build(
        "FROM busybox\nCMD [\"x\"]\n",
        &Setup {
            caps: &[CAPS_V08, CAPS_NEW],
            ..Setup::default()
        },
    );
    assert!(built.config()["config"].get("ArgsEscaped").is_none());
}

#[test]
fn arg_values_come_from_build_args_defaults_and_global_args() {
    let built = build(
        "ARG GLOBAL=g\nFROM busybox\nARG GLOBAL\nARG LOCAL=l\nARG OVERRIDDEN=o\nARG UNSET\nRUN env\n",
        &Setup {
            build_args: &[("OVERRIDDEN", "cli")],
            ..Setup::default()
        },
    );
    let env = built.execs()[0].1.meta.clone().unwrap().env;
    assert!(env.contains(&"GLOBAL=g".to_string()), "{env:?}");
    assert!(env.contains(&"LOCAL=l".to_string()), "{env:?}");
    assert!(env.contains(&"OVERRIDDEN=cli".to_string()), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("UNSET")), "{env:?}");
    let config = built.config();
    assert!(
        !config["config"]["Env"].to_string().contains("LOCAL"),
        "ARGs never reach the image config"
    );
    let last = config["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["created_by"],
        "RUN |4 GLOBAL=g LOCAL=l OVERRIDDEN=cli UNSET= /bin/sh -c env # buildkit"
    );
}

#[test]
fn every_target_gets_a_definition_and_config() {
    let built = build(
        "FROM busybox AS one\nLABEL t=1\nFROM busybox AS two\nLABEL t=2\n",
        &Setup {
            targets: &["one", "two"],
            ..Setup::default()
        },
    );
    let labels: Vec<serde_json::Value> = built
        .translation
        .targets
        .iter()
        .map(|target| {
            let config: serde_json::Value = serde_json::from_slice(&target.image_config).unwrap();
            config["config"]["Labels"]["t"].clone()
        })
        .collect();
    assert_eq!(labels, vec![json!("1"), json!("2")]);
}

#[test]
fn bad_values_name_the_line() {
    // A bad protocol never reaches the translation: the planner refuses it with its line.
    let outcome = planner::plan(
        "FROM busybox\nEXPOSE 80/icmp\n",
        &planner::Options::default(),
    );
    assert!(outcome.plan.is_none());
    assert!(outcome
        .diagnostics
        .iter()
        .any(|d| d.line == 2 && d.message.contains("invalid proto")));
    // So is a literal signal; one from a variable is checked by the translation.
    let outcome = planner::plan(
        "FROM busybox\nSTOPSIGNAL SIGNOPE\n",
        &planner::Options::default(),
    );
    assert!(outcome.plan.is_none());
    let err = try_build(
        "FROM busybox\nARG S=SIGNOPE\nSTOPSIGNAL $S\n",
        &Setup::default(),
    )
    .err()
    .expect("bad signal");
    assert_eq!(err.line, 3);
    assert!(
        err.message.contains("Invalid signal: SIGNOPE"),
        "{}",
        err.message
    );
}
