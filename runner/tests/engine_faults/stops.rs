//! Engine-fault cases at the end of a build: removals the engine refuses (once, or all of them:
//! reported, then swept by the next runner), and SIGTERM while the engine holds a request
//! (also one it never answers).
//!
//! Input: the standard project. Output: pass/fail per case.
//! Invariant: the next runner sweeps only what a finished runner left.

use std::time::Duration;

use crate::check::{error, fault_case, stop_while_held, stopped_while_held, Expect};
use crate::project::Project;
use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::faulted;
use crate::support::{self, forget_cache_tags, stage_images, TempDir};

#[test]
fn a_removal_refused_during_the_build() {
    // The first removal is the cache volume's fill holder, which the runner waits for. The
    // holder stays tracked and goes at the end of the build; the build itself is not harmed.
    fault_case(
        "remove-once",
        vec![Rule::at(
            "DELETE",
            "/containers/*",
            1,
            error("removal refused"),
        )],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn removals_refused_until_the_end_are_reported_and_swept_by_the_next_runner() {
    support::require_engine();
    let mut project = Project::new("remove-all");
    let proxy = FaultProxy::start(
        "remove-all",
        vec![
            Rule::at("DELETE", "/containers/*", 1, error("removal refused"))
                .and_every_later_match(),
            Rule::at("DELETE", "/volumes/*", 1, error("removal refused")).and_every_later_match(),
        ],
    );
    let (run, _) = project.build_through(&proxy);
    assert!(proxy.fired(0) > 0, "{}", proxy.log_text());
    // The image is built: the build succeeds, and says what it could not remove and who will.
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        output.contains("could not remove") && output.contains("injected: removal refused"),
        "the failed cleanup is reported: {output}"
    );
    assert!(
        output.contains("could not remove containers") && output.contains("docker rm -f "),
        "the note names the containers and the command: {output}"
    );
    // The next runner of this machine and PID namespace proves the first one gone and
    // removes what it left.
    sweep_with_a_next_runner("remove-all");
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
}

#[test]
fn a_signal_while_a_create_is_held_waits_for_it_and_removes_what_it_made() {
    // The RUN container with the secret is created 3 s late; SIGTERM comes meanwhile. The
    // runner waits for the creation, then removes the container.
    stopped_while_held(
        "held-create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::Delay(Duration::from_secs(3)),
        )],
        Duration::from_secs(30),
    );
}

#[test]
fn a_signal_while_a_commit_is_held_stops_at_once() {
    stopped_while_held(
        "held-commit",
        vec![Rule::at(
            "POST",
            "/commit",
            2,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(15),
    );
}

#[test]
fn a_signal_while_a_create_never_answers_stops_in_bounded_time() {
    // An engine that never answers a create: the runner gives the creation a while, then
    // stops without it (whatever it makes later is the next runner's to sweep).
    let run = stopped_while_held(
        "stalled-create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(30),
    );
    assert!(
        run.stdout.contains("the engine did not answer 1 request"),
        "the given-up creation is reported: {}",
        run.stdout
    );
}

#[test]
fn a_signal_while_the_engine_never_answers_the_first_request() {
    // The version negotiation is the first request: an engine that accepts the connection
    // and never answers must not keep the runner from stopping.
    stopped_while_held(
        "stalled-version",
        vec![Rule::at(
            "GET",
            "/version",
            1,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(15),
    );
}

/// Builds a tiny project on the real engine: a next runner, whose start-up sweep removes what
/// finished runners of this namespace left. (Any runner of the namespace sweeps, and the other
/// cases start runners all the time: which one removes the debris is not asserted, only that it
/// is gone; `tests/faults.rs` asserts the sweep's report.)
fn sweep_with_a_next_runner(name: &str) {
    let sweeper = TempDir::new(&format!("ef-sweeper-{name}"));
    sweeper.write("Dockerfile", "FROM stageplan-test/busybox:1\nENV SWEPT=1\n");
    let swept = faulted::run(
        &[
            "build".to_string(),
            sweeper.path_str(),
            "--progress".to_string(),
            "json".to_string(),
        ],
        &sweeper.0,
    );
    forget_cache_tags(None, &stage_images(swept.stdout.as_bytes()));
    assert_eq!(swept.code, Some(0), "{}", swept.stderr);
}

#[test]
fn a_signal_while_every_removal_is_held_stops_in_bounded_time() {
    // Every container removal waits forever: the fill holder's during the build, then those of
    // the end of the build. The runner gives them up, says what is left, and the next runner
    // sweeps it.
    let (run, _project) = stop_while_held(
        "held-removals",
        vec![Rule::at(
            "DELETE",
            "/containers/*",
            1,
            Fault::Delay(Duration::from_secs(600)),
        )
        .and_every_later_match()],
        Duration::from_secs(45),
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        output.contains("could not remove"),
        "what is left is reported: {output}"
    );
    sweep_with_a_next_runner("held-removals");
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
}

#[test]
fn a_signal_while_every_image_load_is_held_stops_in_bounded_time() {
    // The target's final image is loaded, and after the signal the stages' memories would be:
    // no load is answered.
    stopped_while_held(
        "held-loads",
        vec![Rule::at(
            "POST",
            "/images/load",
            1,
            Fault::Delay(Duration::from_secs(600)),
        )
        .and_every_later_match()],
        Duration::from_secs(45),
    );
}

#[test]
fn a_signal_while_the_record_is_written_keeps_the_built_and_tagged_image() {
    // The build is done and tagged; the record's tag of a stage memory is held, and SIGTERM
    // comes meanwhile: the build stands (exit 0, tagged), only its record is not written.
    signalled_after_the_point_of_no_return(
        "held-record",
        "/images/*/tag?repo=stageplan-record*",
        Duration::from_secs(600),
        "arrived after the image was built and tagged",
    );
}

/// Holds the tag request `pattern` of a build for `held`, sends SIGTERM meanwhile, and checks
/// that the build stands: exit 0, the target tagged, `said` in its output, nothing left.
fn signalled_after_the_point_of_no_return(name: &str, pattern: &str, held: Duration, said: &str) {
    support::require_engine();
    let mut project = Project::new(name);
    let proxy = FaultProxy::start(name, vec![Rule::at("POST", pattern, 1, Fault::Delay(held))]);
    let started = start_until_held(&project, &proxy, "the held tag");
    started.signal("TERM");
    let run = started
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{hung}\nrequests:\n{}", proxy.log_text()));
    project.images.extend(stage_images(run.stdout.as_bytes()));
    project.images.extend(proxy.images_made());
    let tagged = support::docker_at(None, &["image", "inspect", "-f", "{{.Id}}", &project.tag]);
    drop(proxy);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(said), "{}", run.stdout);
    assert!(tagged.status.success(), "the target is tagged");
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
}

#[test]
fn a_signal_between_the_two_commits_of_a_secret_run_caches_neither() {
    // The RUN with a secret commits twice: its own container (which still has the empty file
    // the engine made as the secret's mount point), then a holder in which that file is
    // removed. The second commit is held and SIGTERM comes meanwhile: the first image must not
    // be stored under the step's key, or the next build takes it (`CACHED`) with the mount
    // point in it.
    let (run, mut project) = stop_while_held(
        "held-stub-commit",
        vec![Rule::at(
            "POST",
            "/commit",
            5,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(15),
    );
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
    let again = project.build_direct();
    assert_eq!(
        crate::check::step_status(&again, "build", 4),
        "ran",
        "the secret RUN was cached from its first commit (with the mount point in its image)"
    );
}

/// What the target of [`crate::project::seeded_cache_dockerfile`] counted in its cache.
fn counted(project: &Project) -> String {
    let out = support::docker_at(None, &["run", "--rm", &project.tag, "cat", "/n"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_runner_killed_while_filling_a_cache_leaves_nothing_a_later_build_takes_as_filled() {
    // The fill of a `from=` cache is held and the runner SIGKILLed: the cache volume stays,
    // unfilled. The next build must fill it again (it knows the runner that made it is dead),
    // not take it as it is and cache a RUN that saw an empty cache.
    support::require_engine();
    let name = "killed-cache-fill";
    let mut project = Project::with_dockerfile(name, crate::project::seeded_cache_dockerfile);
    kill_during_the_fill(&mut project, name);
    project.build_direct();
    assert_eq!(counted(&project), "300", "the RUN saw a half-made cache");
}

/// The names of the volumes listed with `docker volume ls` and `filter`.
fn volumes_with(filter: &str) -> Vec<String> {
    let out = support::docker_at(None, &["volume", "ls", "-q", "--filter", filter]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether volume `name` exists.
fn volume_exists(name: &str) -> bool {
    support::docker_at(None, &["volume", "inspect", name])
        .status
        .success()
}

#[test]
fn the_next_runner_sweeps_the_cache_a_killed_runner_was_filling() {
    // The fill of a `from=` cache is held and the runner SIGKILLed: its cache volume stays,
    // unfilled and never marked ready. The next runner's start-up sweep, building an unrelated
    // project, removes it; cache volumes without a filler (an older runner's) and those a live
    // runner fills are kept.
    support::require_engine();
    let name = "swept-cache-fill";
    let mut project = Project::with_dockerfile(name, crate::project::seeded_cache_dockerfile);
    let live_filler = format!("{}cache", faulted::identity_prefix(std::process::id()));
    let kept_old = format!("stageplan-cache-{}-old", support::prefix());
    let kept_live = format!("stageplan-cache-{}-live", support::prefix());
    support::docker(&["volume", "create", &kept_old]);
    support::docker(&[
        "volume",
        "create",
        "--label",
        &format!("stageplan.cache.filler={live_filler}"),
        &kept_live,
    ]);
    let dead_filler = format!("{}cache", kill_during_the_fill(&mut project, name));
    let cache_id = format!("label=stageplan.cache.id={}", project.nonce);
    // One listing of the volume with its filler label: the runners of tests running beside
    // this one sweep dead runners' volumes too, and may do it before the sweep asked for below
    // (then nothing is left here, which is the promise as well).
    let out = support::docker_at(
        None,
        &[
            "volume",
            "ls",
            "--filter",
            &cache_id,
            "--format",
            "{{.Name}} {{.Label \"stageplan.cache.filler\"}}",
        ],
    );
    let listed: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(volume, filler)| (volume.to_string(), filler.to_string()))
        .collect();
    let left: Vec<String> = listed.iter().map(|(volume, _)| volume.clone()).collect();
    sweep_with_a_next_runner(name);
    let after = volumes_with(&cache_id);
    let markers_after: Vec<String> = left
        .iter()
        .map(|volume| format!("{volume}-ready"))
        .filter(|marker| volume_exists(marker))
        .collect();
    let (old_kept, live_kept) = (volume_exists(&kept_old), volume_exists(&kept_live));
    let _ = support::docker_at(None, &["volume", "rm", "-f", &kept_old, &kept_live]);
    assert!(
        left.len() <= 1,
        "the killed runner left one cache volume: {left:?}"
    );
    for (volume, filler) in &listed {
        assert_eq!(
            filler, &dead_filler,
            "{volume} names the killed runner as its filler"
        );
    }
    assert_eq!(
        after,
        Vec::<String>::new(),
        "the half-filled cache volume was swept"
    );
    assert_eq!(
        markers_after,
        Vec::<String>::new(),
        "no ready marker either"
    );
    assert!(
        old_kept,
        "a cache volume without a filler label (an older runner's) is kept"
    );
    assert!(live_kept, "a cache volume a live runner fills is kept");
}

#[test]
fn a_build_waits_for_another_build_filling_the_same_cache() {
    // Build A's fill of a `from=` cache takes 4 s (held); build B starts meanwhile on the real
    // engine. B must wait for A's fill, not mount the cache half made (and cache what its RUN
    // saw there, which A would then take too).
    support::require_engine();
    let name = "shared-cache-fill";
    let mut project = Project::with_dockerfile(name, crate::project::seeded_cache_dockerfile);
    let (proxy, first) = hold_the_fill(&project, name, 4);
    let record_b = project.scratch.0.join("b.record.json");
    let second = faulted::start(&project.args(None, &record_b), &[], &project.scratch.0);
    let (a, b) = finish_both(&mut project, proxy, first, second);
    assert_eq!(a.code, Some(0), "A: {}", a.stderr);
    assert_eq!(b.code, Some(0), "B: {}", b.stderr);
    assert!(
        b.stdout
            .contains("waiting for another build to fill the cache mount at /c"),
        "B did not wait: {}",
        b.stdout
    );
    assert_eq!(counted(&project), "300", "a RUN saw a half-made cache");
}

#[test]
fn a_signal_while_the_target_is_tagged_finishes_the_tags_and_the_build_stands() {
    // The `-t` tag request is held for 2 s and SIGTERM comes meanwhile: the tag moves when the
    // engine answers, so the build must not report itself interrupted (exit 130, no iidfile)
    // with the tag already moved; it finishes and says the signal came too late.
    signalled_after_the_point_of_no_return(
        "held-user-tag",
        "/images/*/tag?repo=*ef-held-user-tag*",
        Duration::from_secs(2),
        "arrived while the image was being tagged",
    );
}

/// Starts a build of `project` through `proxy` and waits (up to a minute) until the proxy's
/// rule 0 has fired: the request it holds is being held. `what` names that request.
fn start_until_held(project: &Project, proxy: &FaultProxy, what: &str) -> faulted::Started {
    let record = project.scratch.0.join("faulted.record.json");
    let started = faulted::start(
        &project.args(Some(&proxy.url()), &record),
        &[],
        &project.scratch.0,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while proxy.fired(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never came:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started
}

#[test]
fn a_build_waiting_for_a_cache_fill_fills_it_when_the_filler_is_killed() {
    // A's fill is held and B waits for it; then A is SIGKILLed, its fill holder still mounting
    // the half-made cache. B must remove the dead runner's holder and fill the cache itself,
    // not take the cache as it is (the engine refuses to remove a volume in use).
    support::require_engine();
    let name = "killed-filler-waiter";
    let mut project = Project::with_dockerfile(name, crate::project::seeded_cache_dockerfile);
    let (proxy, filler) = hold_the_fill(&project, name, 600);
    let record_b = project.scratch.0.join("b.record.json");
    let waiter = faulted::start(&project.args(None, &record_b), &[], &project.scratch.0);
    let b_out = waiter.out_path();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&b_out)
        .unwrap_or_default()
        .contains("waiting for another build to fill")
    {
        assert!(std::time::Instant::now() < deadline, "B never waited");
        std::thread::sleep(Duration::from_millis(50));
    }
    filler.signal("KILL");
    let (_, b) = finish_both(&mut project, proxy, filler, waiter);
    assert_eq!(b.code, Some(0), "B: {}", b.stderr);
    assert_eq!(counted(&project), "300", "B's RUN saw the half-made cache");
}

#[test]
fn a_no_cache_build_during_another_builds_fill_waits_for_it() {
    // A's fill of a cache seeded from an image is held for 6 s; a `--no-cache` build of the
    // same file (the same cache: its seed image does not change) starts meanwhile. It cannot
    // empty the cache (A's holder uses it), and must not vouch for it either: it waits for
    // A's fill.
    support::require_engine();
    let name = "no-cache-during-fill";
    let mut project = Project::with_dockerfile(name, crate::project::image_seeded_cache_dockerfile);
    let seed = crate::project::seed_image(&project.nonce);
    let seed_dir = TempDir::new("ef-seed");
    seed_dir.write(
        "Dockerfile",
        "FROM stageplan-test/busybox:1\nRUN mkdir /data && for i in $(seq 1 300); do echo x > /data/f$i; done\n",
    );
    let built = support::docker_at(None, &["build", "-q", "-t", &seed, &seed_dir.path_str()]);
    assert!(built.status.success(), "the seed image");
    let (proxy, first) = hold_the_fill(&project, name, 6);
    let record_c = project.scratch.0.join("c.record.json");
    let mut args = project.args(None, &record_c);
    args.push("--no-cache".to_string());
    let second = faulted::start(&args, &[], &project.scratch.0);
    let (a, c) = finish_both(&mut project, proxy, first, second);
    let _ = support::docker_at(None, &["rmi", &seed]);
    assert_eq!(a.code, Some(0), "A: {}", a.stderr);
    assert_eq!(c.code, Some(0), "C: {}", c.stderr);
    let image = c
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "build_done")
        .and_then(|event| event["image"].as_str().map(str::to_string))
        .expect("C's image");
    let out = support::docker_at(None, &["run", "--rm", &image, "cat", "/n"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "300",
        "the --no-cache build's RUN saw A's half-made cache"
    );
}

/// Starts a build of `project` with its cache fill held (see [`hold_the_fill`]), SIGKILLs the
/// runner during the fill and waits for it; returns the killed runner's object prefix.
fn kill_during_the_fill(project: &mut Project, name: &str) -> String {
    let (proxy, started) = hold_the_fill(project, name, 600);
    let prefix = started.prefix.clone();
    std::thread::sleep(Duration::from_millis(300));
    started.signal("KILL");
    let run = started
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{hung}\nrequests:\n{}", proxy.log_text()));
    project.images.extend(stage_images(run.stdout.as_bytes()));
    project.images.extend(proxy.images_made());
    prefix
}

/// Starts a build of `project` through a proxy that holds its first archive upload (a cache
/// mount's fill) for `secs` seconds, and waits until the fill is held.
fn hold_the_fill(project: &Project, name: &str, secs: u64) -> (FaultProxy, faulted::Started) {
    let proxy = FaultProxy::start(
        name,
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            1,
            Fault::Delay(Duration::from_secs(secs)),
        )],
    );
    let started = start_until_held(project, &proxy, "the fill");
    (proxy, started)
}

/// Waits for two builds of `project` (the first through `proxy`), records the images they
/// made for removal, and stops the proxy.
fn finish_both(
    project: &mut Project,
    proxy: FaultProxy,
    first: faulted::Started,
    second: faulted::Started,
) -> (faulted::Finished, faulted::Finished) {
    let a = first
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("A: {hung}\nrequests:\n{}", proxy.log_text()));
    let b = second
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("B: {hung}"));
    project.images.extend(stage_images(a.stdout.as_bytes()));
    project.images.extend(stage_images(b.stdout.as_bytes()));
    project.images.extend(proxy.images_made());
    (a, b)
}
