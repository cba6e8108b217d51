//! The `/bin/sh` scripts a RUN's argv runs under: one that drops the engine's `HOSTNAME` (a
//! fresh container), and one for an exec in a long-lived container that also ends every process
//! the RUN left behind and tells whether the RUN changed what the container keeps outside the
//! image.
//!
//! Input: the RUN's argv and environment.
//! Output: the argv to give the engine; [`STATE_CHANGED_MARKER`], the line the exec script ends
//! its standard error with when the container is no longer what a fresh one would be.
//! Invariant: the step's process gets exactly its argv and the step's environment (the
//! scripts' own names are never exported, and the argv runs through `exec`, never as a shell
//! builtin or function); only for containers known to have `/bin/sh`.

/// The line an exec under [`in_exec`] ends its standard error with when the RUN changed what a
/// commit leaves out (the engine's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`, `/dev`
/// and `/dev/shm`, the mode and owner of `/`): a fresh container would not see those changes,
/// so a container that has them must not run another RUN.
pub(super) const STATE_CHANGED_MARKER: &str =
    "stageplan-keeper: the RUN changed what its image does not keep (c8f1e6a2)";

/// Where the exec script finds `ls` and `cat`, whatever the step's `PATH`.
const TOOLS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The argv that runs `argv` in a container without the `HOSTNAME` variable the engine puts
/// in every process's environment (BuildKit's RUN has none: a shell sets its own, unexported),
/// unless the step's own environment defines it. The wrapping shell also exports `PWD` and
/// `SHLVL` of its own: it unsets them and puts back the step's values, and `exec` replaces it,
/// so the step's process gets exactly `argv` and the step's environment.
pub(super) fn without_engine_hostname(argv: &[String], env: &[String]) -> Vec<String> {
    if env.iter().any(|pair| pair.starts_with("HOSTNAME=")) {
        return argv.to_vec();
    }
    let mut script = environment_prelude(env);
    script.push_str(" exec \"$@\"");
    with_script(script, argv)
}

/// The argv that runs `argv` as an exec in a long-lived container (a keeper, or a container
/// that holds secrets) as BuildKit runs a RUN in a container of its own: with the environment
/// of [`without_engine_hostname`]; every process left once the RUN's process has exited is
/// killed at once (BuildKit's end with the RUN's container), so none can write into the commit
/// or the next RUN; and when the RUN changed the engine's files, `/dev`, `/dev/shm` or the mode
/// or owner of `/` (none of which a commit keeps), or `ls` cannot tell, the script ends its
/// standard error with [`STATE_CHANGED_MARKER`]. Its exit code is the RUN's.
///
/// The kill is `kill -9 -1` as the step's user: every process that user may signal but the
/// container's first process and the script itself. Processes of another user survive it; the
/// caller counts the container's processes before it commits.
pub(super) fn in_exec(argv: &[String], env: &[String]) -> Vec<String> {
    let mut script = environment_prelude(env);
    // The state a fresh container starts with and a commit leaves out: mode, owner and group
    // of six paths (never their times: a new entry in `/` changes its time and is committed),
    // the entries of /dev and /dev/shm, and the engine's three files. "unknown" when `ls` does
    // not give six lines of nine words.
    script.push_str(&format!(
        r#"
__stageplan_state() {{
  set -- $(LC_ALL=C PATH={TOOLS_PATH} ls -lnd / /dev /dev/shm /etc/hostname /etc/hosts /etc/resolv.conf 2>/dev/null)
  [ $# -eq 54 ] || {{ echo unknown; return; }}
  while [ $# -gt 0 ]; do echo "$1 $3 $4"; shift 9; done
  echo /dev/* /dev/.[!.]* /dev/shm/* /dev/shm/.[!.]*
  PATH={TOOLS_PATH} cat /etc/hostname /etc/hosts /etc/resolv.conf 2>&1
  echo "$?"
}}
__stageplan_run() {{ shift; (exec "$@"); }}
set -- "$(__stageplan_state)" "$@"
__stageplan_run "$@"
set -- "$?" "$1"
kill -9 -1 2>/dev/null
[ "$2" != unknown ] && [ "$2" = "$(__stageplan_state)" ] || printf '%s\n' '{STATE_CHANGED_MARKER}' >&2
exit "$1""#
    ));
    with_script(script, argv)
}

/// `unset HOSTNAME PWD SHLVL;` (`HOSTNAME` only when the step's environment lacks it) and the
/// step's own `PWD` and `SHLVL` exported again.
fn environment_prelude(env: &[String]) -> String {
    let mut script = if env.iter().any(|pair| pair.starts_with("HOSTNAME=")) {
        "unset PWD SHLVL;".to_string()
    } else {
        "unset HOSTNAME PWD SHLVL;".to_string()
    };
    for name in ["PWD", "SHLVL"] {
        let prefix = format!("{name}=");
        if let Some(value) = env.iter().rev().find_map(|pair| pair.strip_prefix(&prefix)) {
            let quoted = value.replace('\'', "'\\''");
            script.push_str(&format!(" export {name}='{quoted}';"));
        }
    }
    script
}

/// `/bin/sh -c SCRIPT sh ARGV…`.
fn with_script(script: String, argv: &[String]) -> Vec<String> {
    let mut wrapped = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "sh".to_string(),
    ];
    wrapped.extend(argv.iter().cloned());
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_hostname_is_unset_unless_the_step_defines_it() {
        let argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), "env".into()];
        let wrapped = without_engine_hostname(&argv, &["PATH=/bin".to_string()]);
        assert_eq!(
            wrapped,
            [
                "/bin/sh",
                "-c",
                "unset HOSTNAME PWD SHLVL; exec \"$@\"",
                "sh",
                "/bin/sh",
                "-c",
                "env"
            ]
        );
        let env = ["SHLVL=3".to_string(), "PWD=/it's".to_string()];
        assert_eq!(
            without_engine_hostname(&argv, &env)[2],
            "unset HOSTNAME PWD SHLVL; export PWD='/it'\\''s'; export SHLVL='3'; exec \"$@\""
        );
        let own = without_engine_hostname(&argv, &["HOSTNAME=mine".to_string()]);
        assert_eq!(own, argv);
    }

    #[test]
    fn an_exec_keeps_the_steps_hostname_and_argv() {
        let argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), "env".into()];
        let wrapped = in_exec(&argv, &["PATH=/bin".to_string()]);
        assert!(wrapped[2].starts_with("unset HOSTNAME PWD SHLVL;\n"));
        assert!(wrapped[2].contains(STATE_CHANGED_MARKER));
        assert_eq!(wrapped[3..], ["sh", "/bin/sh", "-c", "env"]);
        let own = in_exec(&argv, &["HOSTNAME=mine".to_string()]);
        assert!(own[2].starts_with("unset PWD SHLVL;\n"));
    }
}
