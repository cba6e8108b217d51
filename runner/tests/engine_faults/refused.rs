//! Engine-fault cases: an error answer at each kind of request (the engine never sees the
//! request, or performs it and the runner hears an error).
//!
//! Input: the standard project or the keeper's stage alone. Output: pass/fail per request kind.
//! Invariant: each case injects one fault; rule 0 must fire.

use crate::check::{error, fault_case, keeper_case, Expect};
use crate::support::fault_proxy::{Fault, Rule};

#[test]
fn a_refused_keeper_start() {
    // A keeper that does not start is taken for an image without `/bin/sh`: the stage's RUNs
    // go to fresh containers, and the build succeeds.
    keeper_case(
        "start",
        vec![Rule::at(
            "POST",
            "/containers/*/start",
            1,
            error("start refused"),
        )],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn a_refused_target_tag() {
    fault_case(
        "target-tag",
        vec![Rule::at(
            "POST",
            "/images/*/tag?repo=stageplan-rt*",
            1,
            error("tag refused"),
        )],
        Expect {
            code: 2,
            words: &["tag"],
        },
    );
}

#[test]
fn a_refused_container_create() {
    keeper_case(
        "create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            1,
            error("create refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "create container"],
        },
    );
}

#[test]
fn a_refused_start_of_a_run_with_a_secret() {
    fault_case(
        "start-secret",
        vec![Rule::at(
            "POST",
            "/containers/*/start",
            2,
            error("start refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "start container"],
        },
    );
}

#[test]
fn a_refused_exec_create() {
    keeper_case(
        "exec-create",
        vec![Rule::at(
            "POST",
            "/containers/*/exec",
            2,
            error("exec refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 3", "create exec"],
        },
    );
}

#[test]
fn a_refused_exec_start() {
    keeper_case(
        "exec-start",
        vec![Rule::at(
            "POST",
            "/exec/*/start",
            1,
            error("exec start refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "start exec"],
        },
    );
}

#[test]
fn a_refused_exec_inspect() {
    keeper_case(
        "exec-inspect",
        vec![Rule::at("GET", "/exec/*/json", 2, error("inspect refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "inspect exec"],
        },
    );
}

#[test]
fn a_refused_commit() {
    keeper_case(
        "commit",
        vec![Rule::at("POST", "/commit", 2, error("commit refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "commit"],
        },
    );
}

#[test]
fn a_refused_cache_tag() {
    keeper_case(
        "tag",
        vec![Rule::at("POST", "/images/*/tag", 2, error("tag refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "stageplan-cache"],
        },
    );
}

#[test]
fn a_refused_stat_in_a_container() {
    fault_case(
        "stat",
        vec![Rule::at(
            "HEAD",
            "/containers/*/archive",
            1,
            error("stat refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 4", "stat /big.bin", "500"],
        },
    );
}

#[test]
fn a_refused_upload() {
    fault_case(
        "put",
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            1,
            error("upload refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 4", "upload an archive"],
        },
    );
}

#[test]
fn a_refused_cache_volume() {
    fault_case(
        "volume",
        vec![Rule::at(
            "POST",
            "/volumes/create",
            1,
            error("volume refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create volume"],
        },
    );
}

#[test]
fn a_refused_wait() {
    fault_case(
        "wait",
        vec![Rule::at(
            "POST",
            "/containers/*/wait",
            1,
            error("wait refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "wait for container"],
        },
    );
}

#[test]
fn a_refused_image_inspect() {
    keeper_case(
        "inspect",
        vec![Rule::at(
            "GET",
            "/images/sha256:*/json",
            2,
            error("inspect refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "inspect image"],
        },
    );
}

#[test]
fn a_refused_image_load() {
    fault_case(
        "load",
        vec![Rule::at("POST", "/images/load", 1, error("load refused"))],
        Expect {
            code: 2,
            words: &["stage final", "load"],
        },
    );
}

#[test]
fn a_create_that_worked_but_was_answered_with_an_error() {
    // The RUN container with the secret mount exists on the engine; the runner never learns
    // its id.
    fault_case(
        "create-lost",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::ErrorAfter("injected: answer lost".into()),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create container"],
        },
    );
}

#[test]
fn a_refused_download() {
    fault_case(
        "get",
        vec![Rule::at(
            "GET",
            "/containers/*/archive",
            1,
            error("download refused"),
        )],
        Expect {
            code: 2,
            words: &["stage final, line 7", "download /count"],
        },
    );
}

#[test]
fn a_cache_volume_whose_first_fill_fails() {
    // The RUN checks the cache directory's owner and mode: a volume left without them fails
    // the build that follows.
    fault_case(
        "volume-fill",
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            2,
            error("upload refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "upload an archive"],
        },
    );
}

#[test]
fn a_refused_image_save_costs_only_the_leak_report() {
    // On this local overlay2 engine the leak report walks the layer directories, which it
    // finds through the engine's information; with that refused it reads the target's layers
    // with an image save, and without those the build still succeeds, and says why the report
    // is missing.
    let run = fault_case(
        "save",
        vec![
            Rule::at("GET", "/info", 1, error("info refused")),
            Rule::at("GET", "/images/*/get", 1, error("save refused")),
        ],
        Expect {
            code: 0,
            words: &[],
        },
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        output.contains("injected: save refused"),
        "the missing leak report is explained: {output}"
    );
}

#[test]
fn a_refused_engine_information_reads_the_layers_with_an_image_save() {
    // Without the engine's storage facts the layer directories are not used: the leak report
    // streams the image instead and is whole (no note).
    let run = fault_case(
        "info",
        vec![Rule::at("GET", "/info", 1, error("info refused"))],
        Expect {
            code: 0,
            words: &[],
        },
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !output.contains("leak report skipped") && output.contains("biggest directories"),
        "the leak report is whole: {output}"
    );
}

#[test]
fn a_refused_record_load_costs_only_the_stage_memory() {
    // The second image load keeps the stages' memories (`stageplan-record:`); the image and
    // its cache entries are there already.
    fault_case(
        "record-load",
        vec![Rule::at("POST", "/images/load", 2, error("load refused"))],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn a_cache_volume_created_but_reported_as_failed() {
    // The engine made the cache volume, the runner heard an error: the volume is removed with
    // the build, and the next build makes it again with its owner and mode.
    fault_case(
        "volume-lost",
        vec![Rule::at(
            "POST",
            "/volumes/create",
            1,
            Fault::ErrorAfter("injected: answer lost".into()),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create volume"],
        },
    );
}
