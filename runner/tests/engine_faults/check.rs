//! The checks every engine-fault case makes: the exit code, one error paragraph naming the stage,
//! line and request (with the engine's message where it could send one), no debris of that
//! runner, no secret on the host, and a second build on the real engine that takes every step
//! committed before the fault from the cache; and for a held request, SIGTERM in bounded time.
//!
//! Input: a [`Project`], the proxy's rules, what to expect. Output: the faulted run.
//! Invariant: the real engine is checked directly, never through the proxy; a rule that never
//! fired fails the case.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::project::{keeper_dockerfile, Project};
use crate::support;
use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::faulted::{self, Finished};
use crate::support::stage_images;

/// What a faulted build must end with.
pub struct Expect {
    /// The exit code.
    pub code: i32,
    /// Texts the error paragraph must hold (the stage and line, the request).
    pub words: &'static [&'static str],
}

/// Builds a fresh project through a proxy with `rules` (rule 0 must fire), then checks the
/// promises: the exit code, one error paragraph holding `expect.words` and the injected
/// message, no debris of that runner, no secret on the host, and a second build on the real
/// engine that takes every step the faulted build committed from the cache.
pub fn fault_case(name: &str, rules: Vec<Rule>, expect: Expect) -> Finished {
    fault_case_in(Project::new(name), name, rules, expect)
}

/// [`fault_case`] on the keeper's stage alone ([`keeper_dockerfile`]).
pub fn keeper_case(name: &str, rules: Vec<Rule>, expect: Expect) -> Finished {
    fault_case_in(
        Project::with_dockerfile(name, keeper_dockerfile),
        name,
        rules,
        expect,
    )
}

/// [`fault_case`] with a project of the caller's.
pub fn fault_case_in(
    mut project: Project,
    name: &str,
    rules: Vec<Rule>,
    expect: Expect,
) -> Finished {
    support::require_engine();
    let rules_fault = rules[0].fault.clone();
    let rules_method = rules[0].method.clone();
    let proxy = FaultProxy::start(name, rules);
    let (run, record) = project.build_through(&proxy);
    let log = proxy.log_text();
    assert!(
        proxy.fired(0) > 0,
        "{name}: the fault never fired; requests:\n{log}\nstderr:\n{}",
        run.stderr
    );
    assert_eq!(
        run.code,
        Some(expect.code),
        "{name}: exit code; stderr:\n{}\nrequests:\n{log}",
        run.stderr
    );
    // The engine's message reaches the user where the engine could send one (a HEAD answer
    // has no body, a cut connection no answer).
    let injected = match (&rules_fault, rules_method.as_deref()) {
        (Fault::Error(message) | Fault::ErrorAfter(message), method) if method != Some("HEAD") => {
            Some(message.clone())
        }
        _ => None,
    };
    if expect.code != 0 {
        let error = error_paragraph(&run.stderr);
        eprintln!("{name}: {error}");
        for word in expect.words.iter().copied().chain(injected.as_deref()) {
            assert!(
                error.contains(word),
                "{name}: the error does not name {word:?}:\n{error}"
            );
        }
    }
    assert_eq!(
        faulted::debris(&run.prefix),
        Vec::<String>::new(),
        "{name}: debris on the real engine or host; stderr:\n{}",
        run.stderr
    );
    assert_eq!(
        faulted::files_holding(&project.secret_text, &project.scratch.0),
        Vec::<String>::new(),
        "{name}: the secret is in a host file"
    );
    let record = record.unwrap_or_else(|| panic!("{name}: no record written:\n{}", run.stderr));
    let committed = committed_steps(&record);
    let direct = std::time::Instant::now();
    let again = project.build_direct();
    eprintln!(
        "{name}: the faulted build took {:.1} s, the build after it {:.1} s",
        run.took.as_secs_f64(),
        direct.elapsed().as_secs_f64()
    );
    for (stage, step, text) in committed {
        let status = step_status(&again, &stage, step);
        assert_eq!(
            status, "cached",
            "{name}: {stage} #{step} `{text}` was committed before the fault but ran again"
        );
    }
    drop(proxy);
    run
}

/// The error the runner printed: from `error:` to the end of stderr, which must be one
/// paragraph (no blank line).
pub fn error_paragraph(stderr: &str) -> String {
    let start = stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("no error printed:\n{stderr}"));
    let error = stderr[start..].trim_end().to_string();
    assert!(
        !error.contains("\n\n") && !error.contains("panicked"),
        "the error is not one paragraph:\n{error}"
    );
    error
}

/// The steps a record shows as run and committed: (stage, step, text).
pub fn committed_steps(record: &Value) -> Vec<(String, u64, String)> {
    let mut committed = Vec::new();
    for stage in record["stages"].as_array().expect("stages") {
        for step in stage["steps"].as_array().expect("steps") {
            if step["status"] == "ran" && !step["size_added"].is_null() {
                committed.push((
                    stage["name"].as_str().unwrap_or_default().to_string(),
                    step["step"].as_u64().unwrap_or_default(),
                    step["text"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    committed
}

/// The cache keys of every step a record names.
pub fn step_keys(record: &Value) -> Vec<String> {
    record["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|stage| stage["steps"].as_array().into_iter().flatten())
        .filter_map(|step| step["key"].as_str().map(str::to_string))
        .collect()
}

pub fn step_status(record: &Value, stage: &str, step: u64) -> String {
    support::record::find_step(record, stage, step)
        .and_then(|t| t["status"].as_str())
        .unwrap_or("missing")
        .to_string()
}

pub fn error(message: &str) -> Fault {
    Fault::Error(format!("injected: {message}"))
}

/// Builds a fresh project through a proxy with `rules`, sends SIGTERM once rule 0 has fired
/// (the request is being held), and checks the build stops with 130 within `within`, leaving
/// nothing behind.
pub fn stopped_while_held(name: &str, rules: Vec<Rule>, within: Duration) -> Finished {
    let (run, project) = stop_while_held(name, rules, within);
    assert_eq!(
        faulted::debris(&run.prefix),
        Vec::<String>::new(),
        "{name}: {}",
        run.stderr
    );
    assert_eq!(
        faulted::files_holding(&project.secret_text, &project.scratch.0),
        Vec::<String>::new(),
        "{name}: the secret is in a host file"
    );
    run
}

/// [`stopped_while_held`] without the checks for debris: returns the run and the project (with
/// the proxy gone, so no held request reaches the engine any more).
pub fn stop_while_held(name: &str, rules: Vec<Rule>, within: Duration) -> (Finished, Project) {
    support::require_engine();
    let mut project = Project::new(name);
    let proxy = FaultProxy::start(name, rules);
    let record = project.scratch.0.join("faulted.record.json");
    let started = faulted::start(
        &project.args(Some(&proxy.url()), &record),
        &[],
        &project.scratch.0,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.fired(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "{name}: the held request never came:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    started.signal("TERM");
    let signalled = Instant::now();
    let run = started
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{name}: {hung}\nrequests:\n{}", proxy.log_text()));
    let stopping = signalled.elapsed();
    project.images.extend(stage_images(run.stdout.as_bytes()));
    project.images.extend(proxy.images_made());
    if let Ok(text) = std::fs::read_to_string(&record) {
        let record: Value = serde_json::from_str(&text).expect("the record is JSON");
        project.keys.extend(step_keys(&record));
    }
    assert_eq!(
        run.code,
        Some(130),
        "{name}: {}\nrequests:\n{}",
        run.stderr,
        proxy.log_text()
    );
    assert!(
        run.stderr.contains("SIGTERM"),
        "{name}: the error names the signal: {}",
        run.stderr
    );
    assert!(
        stopping < within,
        "{name}: stopping took {stopping:?} (more than {within:?})"
    );
    // The held request dies with the proxy.
    drop(proxy);
    (run, project)
}
