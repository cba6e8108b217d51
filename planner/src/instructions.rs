//! Typed instructions: one raw instruction from the syntax layer becomes a plan [`Op`], with
//! BuildKit's argument checks and flag rules (frontend/dockerfile/instructions/parse.go).
//!
//! Input: a [`RawInstruction`], consumed. Output: an [`Instr`]: the plan [`Instruction`] it
//! becomes plus what the later phases need (the raw `--from` of COPY and of each mount, the
//! keyword, spans, comments), or an error message in BuildKit's words.
//! Invariant: words stay unexpanded; `Source`s in the op are filled in later by the graph; the
//! words of the raw instruction are moved into the op, never copied twice.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::diagnostics::Span;
use crate::flags::{FlagKind, Flags};
use crate::plan::{
    ArgDecl, Command, CopySpec, HealthTest, Heredoc, Instruction, KeyValue, Mount, Op,
};
use crate::suggest;
use crate::syntax::{self, chomp_heredoc, parse_heredoc_word, RawHeredoc, RawInstruction};
use crate::values;

/// Every instruction keyword BuildKit knows, upper-case.
pub const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A typed instruction of a stage.
#[derive(Debug, Clone)]
pub struct Instr<'a> {
    /// The keyword as written.
    pub keyword: Cow<'a, str>,
    /// The command of the keyword.
    pub command: syntax::Command,
    /// Bytes of the whole instruction.
    pub span: Span,
    /// Bytes of the keyword.
    pub keyword_span: Span,
    /// The plan instruction (lines, text, op with `from` sources still unresolved).
    pub plan: Instruction,
    /// COPY `--from=` as written.
    pub copy_from: Option<String>,
    /// Each mount's `from=` as written, aligned with the op's mounts.
    pub mount_froms: Vec<Option<String>>,
    /// Bytes of the `--from=` value in the text (see `syntax::words`), when known.
    pub copy_from_span: Option<Span>,
    /// Bytes of each mount's `from=` value, aligned with `mount_froms`, when known.
    pub mount_from_spans: Vec<Option<Span>>,
    /// Each `--mount=` value as written (its values are expanded when the stage is built).
    pub raw_mounts: Vec<Cow<'a, str>>,
    /// For ONBUILD: the trigger, typed.
    pub trigger: Option<Box<Instr<'a>>>,
    /// Whether ENV/LABEL used the legacy `key value` form.
    pub legacy_key_value: bool,
    /// Comment lines directly above.
    pub comments: Vec<&'a str>,
}

fn at_least_one(keyword: &str) -> String {
    format!("{keyword} requires at least one argument")
}

fn exactly_one(keyword: &str) -> String {
    format!("{keyword} requires exactly one argument")
}

fn no_flags(flags: Vec<Cow<'_, str>>) -> Result<(), String> {
    if flags.is_empty() {
        return Ok(());
    }
    Flags::parse(flags, &[]).map(|_| ())
}

fn heredoc_to_plan(raw: RawHeredoc<'_>) -> Heredoc {
    Heredoc {
        body: if raw.chomp {
            chomp_heredoc(&raw.content)
        } else {
            raw.content.into_owned()
        },
        name: raw.name,
        expand: raw.expand,
        fd: (raw.fd != 0).then_some(raw.fd),
    }
}

fn strings(words: Vec<Cow<'_, str>>) -> Vec<String> {
    words.into_iter().map(Cow::into_owned).collect()
}

fn join(words: &[Cow<'_, str>]) -> String {
    match words {
        [one] => one.to_string(),
        _ => words.join(" "),
    }
}

fn command_form(json: bool, args: Vec<Cow<'_, str>>) -> Command {
    if json {
        Command::Exec {
            args: strings(args),
        }
    } else {
        Command::Shell {
            script: join(&args),
        }
    }
}

/// The single argument of `WORKDIR`, `USER`, `MAINTAINER`, `STOPSIGNAL`.
fn single(args: Vec<Cow<'_, str>>, keyword: &str) -> Result<String, String> {
    let mut args = args.into_iter();
    match (args.next(), args.next()) {
        (Some(one), None) => Ok(one.into_owned()),
        _ => Err(exactly_one(keyword)),
    }
}

/// Types one raw instruction (not `FROM`; see `stage.rs`).
pub fn type_instruction(raw: RawInstruction<'_>) -> Result<Instr<'_>, String> {
    let RawInstruction {
        keyword,
        command,
        flags,
        args,
        json,
        original,
        start_line,
        end_line,
        heredocs,
        sub,
        comments,
        span,
        keyword_span,
        ..
    } = raw;
    let mut instr = Instr {
        keyword,
        command,
        span,
        keyword_span,
        plan: Instruction {
            line: start_line,
            end_line,
            text: original.trim().to_string(),
            onbuild_from: None,
            op: Op::Maintainer {
                name: String::new(),
            },
        },
        copy_from: None,
        mount_froms: Vec::new(),
        copy_from_span: None,
        mount_from_spans: Vec::new(),
        raw_mounts: Vec::new(),
        trigger: None,
        legacy_key_value: false,
        comments,
    };
    use syntax::Command as C;
    instr.plan.op = match command {
        C::Env | C::Label => {
            let name = if command == C::Env { "ENV" } else { "LABEL" };
            no_flags(flags)?;
            if args.is_empty() {
                return Err(at_least_one(name));
            }
            let mut pairs = Vec::with_capacity(args.len() / 3);
            let mut words = args.into_iter();
            while let Some(key) = words.next() {
                let (Some(value), Some(delim)) = (words.next(), words.next()) else {
                    return Err(format!("Bad input to {name}, too many arguments"));
                };
                if key.is_empty() {
                    return Err(format!("{name} names can not be blank"));
                }
                instr.legacy_key_value |= delim.is_empty();
                pairs.push(KeyValue {
                    key: key.into_owned(),
                    value: value.into_owned(),
                });
            }
            if command == C::Env {
                Op::Env { pairs }
            } else {
                Op::Label { pairs }
            }
        }
        C::Maintainer => {
            let name = single(args, "MAINTAINER")?;
            no_flags(flags)?;
            Op::Maintainer { name }
        }
        C::Add | C::Copy => type_copy(flags, args, json, heredocs, command, &mut instr)?,
        C::Onbuild => type_onbuild(flags, sub, heredocs, &original, &mut instr)?,
        C::Workdir => {
            let path = single(args, "WORKDIR")?;
            no_flags(flags)?;
            Op::Workdir { path }
        }
        C::Run => type_run(flags, args, json, heredocs, &mut instr)?,
        C::Cmd => {
            no_flags(flags)?;
            Op::Cmd {
                command: command_form(json, args),
            }
        }
        C::Entrypoint => {
            no_flags(flags)?;
            Op::Entrypoint {
                command: command_form(json, args),
            }
        }
        C::Healthcheck => type_healthcheck(flags, args, json)?,
        C::Expose => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            no_flags(flags)?;
            let mut ports = strings(args);
            ports.sort_unstable();
            Op::Expose { ports }
        }
        C::User => {
            let user = single(args, "USER")?;
            no_flags(flags)?;
            Op::User { user }
        }
        C::Volume => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            no_flags(flags)?;
            let mut paths = Vec::with_capacity(args.len());
            for arg in args {
                let trimmed = arg.trim();
                if trimmed.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                paths.push(trimmed.to_string());
            }
            Op::Volume { paths }
        }
        C::Stopsignal => Op::Stopsignal {
            signal: single(args, "STOPSIGNAL")?,
        },
        C::Arg => Op::Arg {
            args: type_arg(flags, args)?,
        },
        C::Shell => {
            no_flags(flags)?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !json {
                return Err("SHELL requires the arguments to be in JSON form".to_string());
            }
            Op::Shell {
                shell: strings(args),
            }
        }
        C::From | C::Unknown => {
            let message = format!("unknown instruction: {}", instr.keyword);
            return Err(suggest::wrap(message, &instr.keyword, &KEYWORDS, false));
        }
    };
    Ok(instr)
}

/// Types the arguments of an `ARG` (also used for global ARGs).
pub fn type_arg(flags: Vec<Cow<'_, str>>, args: Vec<Cow<'_, str>>) -> Result<Vec<ArgDecl>, String> {
    if args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    no_flags(flags)?;
    let mut decls = Vec::with_capacity(args.len());
    for arg in args {
        match arg.split_once('=') {
            Some((name, value)) => {
                if name.is_empty() {
                    return Err("ARG names can not be blank".to_string());
                }
                decls.push(ArgDecl {
                    name: name.to_string(),
                    default: Some(value.to_string()),
                });
            }
            None => decls.push(ArgDecl {
                name: arg.into_owned(),
                default: None,
            }),
        }
    }
    Ok(decls)
}

/// The flags of COPY, in alphabetical order (the order of "did you mean").
pub const COPY_FLAGS: &[(&str, FlagKind)] = &[
    ("chmod", FlagKind::String),
    ("chown", FlagKind::String),
    ("exclude", FlagKind::Strings),
    ("from", FlagKind::String),
    ("link", FlagKind::Bool),
    ("parents", FlagKind::Bool),
];

/// The flags of ADD, in alphabetical order.
pub const ADD_FLAGS: &[(&str, FlagKind)] = &[
    ("checksum", FlagKind::String),
    ("chmod", FlagKind::String),
    ("chown", FlagKind::String),
    ("exclude", FlagKind::Strings),
    ("keep-git-dir", FlagKind::Bool),
    ("link", FlagKind::Bool),
    ("unpack", FlagKind::Bool),
];

fn nonempty(value: Option<Cow<'_, str>>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(Cow::into_owned)
}

fn type_copy(
    flags: Vec<Cow<'_, str>>,
    mut args: Vec<Cow<'_, str>>,
    json: bool,
    heredocs: Vec<RawHeredoc<'_>>,
    command: syntax::Command,
    instr: &mut Instr<'_>,
) -> Result<Op, String> {
    let is_copy = command == syntax::Command::Copy;
    let keyword = if is_copy { "COPY" } else { "ADD" };
    if args.len() < 2 {
        return Err(format!(
            "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let mut flags = Flags::parse(flags, if is_copy { COPY_FLAGS } else { ADD_FLAGS })?;
    let dest = args.pop().unwrap_or_default();
    if parse_heredoc_word(&dest).ok().flatten().is_some() {
        return Err(format!(
            "{keyword} cannot accept a heredoc as a destination"
        ));
    }
    let mut paths = Vec::with_capacity(args.len());
    let mut plan_heredocs = Vec::new();
    for source in args {
        match parse_heredoc_word(&source).ok().flatten() {
            Some(word) if !json => {
                let content = heredocs
                    .iter()
                    .rev()
                    .find(|h| h.name == word.name)
                    .map(|h| h.content.clone())
                    .unwrap_or_default();
                plan_heredocs.push(heredoc_to_plan(RawHeredoc { content, ..word }));
            }
            _ => paths.push(source.into_owned()),
        }
    }
    instr.copy_from = nonempty(flags.take_string("from"));
    let spec = CopySpec {
        sources: paths,
        dest: dest.into_owned(),
        from: None,
        chown: nonempty(flags.take_string("chown")),
        chmod: nonempty(flags.take_string("chmod")),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: strings(flags.take_strings("exclude")),
        checksum: nonempty(flags.take_string("checksum")),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.opt_bool("unpack"),
        heredocs: plan_heredocs,
    };
    Ok(if is_copy {
        Op::Copy(spec)
    } else {
        Op::Add(spec)
    })
}

fn type_onbuild<'a>(
    flags: Vec<Cow<'a, str>>,
    sub: Option<Box<RawInstruction<'a>>>,
    heredocs: Vec<RawHeredoc<'a>>,
    original: &str,
    instr: &mut Instr<'a>,
) -> Result<Op, String> {
    let Some(sub) = sub else {
        return Err(at_least_one("ONBUILD"));
    };
    no_flags(flags)?;
    let trigger_keyword = sub.keyword.trim().to_ascii_uppercase();
    match trigger_keyword.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string()),
        "MAINTAINER" | "FROM" => {
            return Err(format!(
                "{trigger_keyword} isn't allowed as an ONBUILD trigger"
            ))
        }
        _ => {}
    }
    // The trigger as BuildKit stores it: the line without `ONBUILD`, heredocs appended.
    let mut expression = strip_onbuild_keyword(original).to_string();
    for heredoc in &heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    let mut sub_raw = *sub;
    sub_raw.heredocs = heredocs;
    sub_raw.start_line = instr.plan.line;
    sub_raw.end_line = instr.plan.end_line;
    sub_raw.span = instr.span;
    sub_raw.keyword_span = instr.keyword_span;
    let trigger = type_instruction(sub_raw)?;
    instr.trigger = Some(Box::new(trigger));
    Ok(Op::Onbuild {
        trigger: expression,
    })
}

fn strip_onbuild_keyword(original: &str) -> &str {
    let trimmed = original.trim_start();
    let rest = match trimmed.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("onbuild") => &trimmed[7..],
        _ => trimmed,
    };
    rest.trim_start()
}

/// The flags of RUN, in alphabetical order.
pub const RUN_FLAGS: &[(&str, FlagKind)] = &[
    ("mount", FlagKind::Strings),
    ("network", FlagKind::String),
    ("security", FlagKind::String),
];

fn type_run<'a>(
    flags: Vec<Cow<'a, str>>,
    args: Vec<Cow<'_, str>>,
    json: bool,
    heredocs: Vec<RawHeredoc<'_>>,
    instr: &mut Instr<'a>,
) -> Result<Op, String> {
    let mut flags = Flags::parse(flags, RUN_FLAGS)?;
    let mount_values = flags.take_strings("mount");
    let mut mounts = Vec::with_capacity(mount_values.len());
    for value in mount_values {
        let (mount, from) = parse_mount(&value)?;
        mounts.push(mount);
        instr.mount_froms.push(from);
        instr.raw_mounts.push(value);
    }
    let network = flags.take_string("network").map(Cow::into_owned);
    if let Some(network) = &network {
        if !matches!(network.as_str(), "default" | "none" | "host") {
            return Err(format!("unsupported network mode {network:?}"));
        }
    }
    let security = flags.take_string("security").map(Cow::into_owned);
    if let Some(security) = &security {
        if !matches!(security.as_str(), "sandbox" | "insecure") {
            return Err(format!("unsupported security mode {security:?}"));
        }
    }
    Ok(Op::Run {
        command: command_form(json, args),
        mounts,
        network,
        security,
        heredocs: heredocs.into_iter().map(heredoc_to_plan).collect(),
    })
}

/// The error text of a malformed quoted CSV field.
const CSV_QUOTE_ERROR: &str =
    "failed to parse csv mounts: extraneous or missing \" in quoted-field";

/// Splits a CSV record (Go encoding/csv rules for one line: `"` quotes a field, `""` escapes).
/// Unquoted fields are slices of `value`.
pub fn csv_fields(value: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::with_capacity(4);
    let mut rest = value;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut chars = quoted.char_indices().peekable();
            let after = loop {
                match chars.next() {
                    None => return Err(CSV_QUOTE_ERROR.into()),
                    Some((_, '"')) if chars.peek().map(|(_, c)| *c) == Some('"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some((idx, '"')) => break &quoted[idx + 1..],
                    Some((_, ch)) => field.push(ch),
                }
            };
            fields.push(Cow::Owned(field));
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(fields),
                None => return Err(CSV_QUOTE_ERROR.into()),
            }
        } else {
            match rest.split_once(',') {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

const MOUNT_TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

/// The keys a mount accepts, for the "did you mean" of an unknown one.
const MOUNT_KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// `text` lower-cased, borrowed when it already is.
fn ascii_lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Parses one `--mount=` value as BuildKit does at parse time; the checks that need
/// expanded values are left to the runner. Returns the mount and its raw `from`.
pub fn parse_mount(value: &str) -> Result<(Mount, Option<String>), String> {
    // The type is set once: as given, else `bind` at the end.
    let mut mount = Mount {
        mount_type: String::new(),
        from: None,
        source: None,
        target: None,
        options: BTreeMap::new(),
    };
    let mut from = None;
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((key, val)) => (ascii_lower(key), val),
            None => (ascii_lower(&field), "true"),
        };
        match key.as_ref() {
            "type" => {
                // A type with a variable is kept as written: it is checked (and lower-cased)
                // once the runner has expanded it.
                if val.contains('$') {
                    mount.mount_type = val.to_string();
                    continue;
                }
                let lowered = val.to_ascii_lowercase();
                if !MOUNT_TYPES.contains(&lowered.as_str()) {
                    let message = format!("unsupported mount type {val:?}");
                    return Err(suggest::wrap(message, val, &MOUNT_TYPES, true));
                }
                mount.mount_type = lowered;
            }
            "from" => {
                if let Some(idx) = val.find('$') {
                    if idx != val.len() - 1 {
                        return Err(
                            "'from' doesn't support variable expansion, define alias stage instead"
                                .into(),
                        );
                    }
                }
                from = Some(val.to_string());
            }
            "source" | "src" => mount.source = Some(val.to_string()),
            "target" | "dst" | "destination" => mount.target = Some(val.to_string()),
            "readonly" | "ro" | "readwrite" | "rw" | "required" | "size" | "id" | "sharing"
            | "mode" | "uid" | "gid" | "env" => {
                mount.options.insert(key.into_owned(), val.to_string());
            }
            other => {
                let message = format!("unexpected key '{other}' in '{field}'");
                return Err(suggest::wrap(message, other, &MOUNT_KEYS, true));
            }
        }
    }
    if mount.mount_type.is_empty() {
        mount.mount_type.push_str("bind");
    }
    if mount.mount_type == "secret" && from.is_some() {
        return Err("secret mount should not have a from".into());
    }
    Ok((mount, from))
}

/// BuildKit `parseOptInterval`: a Go duration that is zero or at least 1 ms.
fn check_interval(name: &str, value: Option<&str>) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    let nanos = values::parse_duration(value)?;
    if nanos != 0 && nanos < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            values::go_quote(name)
        ));
    }
    Ok(())
}

/// The flags of HEALTHCHECK, in alphabetical order.
pub const HEALTHCHECK_FLAGS: &[(&str, FlagKind)] = &[
    ("interval", FlagKind::String),
    ("retries", FlagKind::String),
    ("start-interval", FlagKind::String),
    ("start-period", FlagKind::String),
    ("timeout", FlagKind::String),
];

fn type_healthcheck(
    flags: Vec<Cow<'_, str>>,
    args: Vec<Cow<'_, str>>,
    json: bool,
) -> Result<Op, String> {
    let mut args = args.into_iter();
    let Some(kind) = args.next() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let kind = kind.to_ascii_uppercase();
    let rest: Vec<Cow<'_, str>> = args.collect();
    if kind == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Op::Healthcheck {
            test: HealthTest::None,
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        });
    }
    let mut flags = Flags::parse(flags, HEALTHCHECK_FLAGS)?;
    if kind != "CMD" {
        return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = if json {
        HealthTest::Exec {
            args: strings(rest),
        }
    } else {
        HealthTest::Shell {
            script: join(&rest),
        }
    };
    let interval = nonempty(flags.take_string("interval"));
    let timeout = nonempty(flags.take_string("timeout"));
    let start_period = nonempty(flags.take_string("start-period"));
    let start_interval = nonempty(flags.take_string("start-interval"));
    for (name, value) in [
        ("interval", &interval),
        ("timeout", &timeout),
        ("start-period", &start_period),
        ("start-interval", &start_interval),
    ] {
        check_interval(name, value.as_deref())?;
    }
    let retries = nonempty(flags.take_string("retries"));
    if let Some(retries) = &retries {
        let count = values::parse_int(retries, 32).map_err(|e| e.0)?;
        if count < 0 {
            return Err(format!("--retries cannot be negative ({count})"));
        }
    }
    Ok(Op::Healthcheck {
        test,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn typed(text: &str) -> Result<Instr<'static>, String> {
        let text: &'static str = Box::leak(format!("FROM a\n{text}\n").into_boxed_str());
        let parsed = parse(text);
        type_instruction(parsed.instructions.into_iter().nth(1).unwrap())
    }

    #[test]
    fn copy_flags_and_heredocs() {
        let instr = typed("COPY --link --from=Build --chmod=755 <<EOF a b /dst/\nhi\nEOF").unwrap();
        assert_eq!(instr.copy_from.as_deref(), Some("Build"));
        let Op::Copy(spec) = instr.plan.op else {
            panic!("not a copy")
        };
        assert!(spec.link);
        assert_eq!(spec.sources, vec!["a", "b"]);
        assert_eq!(spec.heredocs[0].body, "hi\n");
        assert_eq!(spec.dest, "/dst/");
    }

    #[test]
    fn run_mounts() {
        let instr = typed(
            "RUN --mount=type=cache,target=/root/.cache --mount=from=build,src=/o,target=/i make",
        )
        .unwrap();
        assert_eq!(instr.mount_froms, vec![None, Some("build".to_string())]);
        assert_eq!(
            typed("RUN --mount=type=bind,from=$X make").unwrap_err(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert_eq!(
            typed("RUN --mount=type=secret,id=a,from=b x").unwrap_err(),
            "secret mount should not have a from"
        );
        assert_eq!(
            typed("RUN --mount=type=cahce x").unwrap_err(),
            "unsupported mount type \"cahce\" (did you mean cache?)"
        );
    }

    #[test]
    fn argument_errors() {
        assert_eq!(typed("COPY a").unwrap_err(), "COPY requires at least two arguments, but only one was provided. Destination could not be determined");
        assert_eq!(
            typed("WORKDIR").unwrap_err(),
            "WORKDIR requires exactly one argument"
        );
        assert_eq!(
            typed("RUM x").unwrap_err(),
            "unknown instruction: RUM (did you mean RUN?)"
        );
        assert_eq!(
            typed("ONBUILD ONBUILD RUN x").unwrap_err(),
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        assert_eq!(
            typed("ONBUILD FROM x").unwrap_err(),
            "FROM isn't allowed as an ONBUILD trigger"
        );
        assert_eq!(
            typed("SHELL /bin/sh -c").unwrap_err(),
            "SHELL requires the arguments to be in JSON form"
        );
        assert_eq!(
            typed("COPY <<EOF <<EOF\nx\nEOF\ny\nEOF").unwrap_err(),
            "COPY cannot accept a heredoc as a destination"
        );
    }

    #[test]
    fn flag_lists_are_in_alphabetical_order() {
        for list in [COPY_FLAGS, ADD_FLAGS, RUN_FLAGS, HEALTHCHECK_FLAGS] {
            let names: Vec<&str> = list.iter().map(|(name, _)| *name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
        }
    }

    #[test]
    fn healthcheck_values_like_buildkit() {
        assert_eq!(
            typed("HEALTHCHECK --interval=0.5ms CMD true").unwrap_err(),
            "Interval \"interval\" cannot be less than 1ms"
        );
        assert_eq!(
            typed("HEALTHCHECK --start-period=-1s CMD true").unwrap_err(),
            "Interval \"start-period\" cannot be less than 1ms"
        );
        assert_eq!(
            typed("HEALTHCHECK --timeout=5 CMD true").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            typed("HEALTHCHECK --retries=-1 CMD true").unwrap_err(),
            "--retries cannot be negative (-1)"
        );
        assert_eq!(
            typed("HEALTHCHECK --retries=9999999999 CMD true").unwrap_err(),
            "strconv.ParseInt: parsing \"9999999999\": value out of range"
        );
        assert!(
            typed("HEALTHCHECK --interval=0s --timeout=1ms --start-interval=2h45m CMD true")
                .is_ok()
        );
    }

    #[test]
    fn onbuild_trigger_is_typed() {
        let instr = typed("ONBUILD COPY --from=builder /a /b").unwrap();
        assert_eq!(instr.trigger.unwrap().copy_from.as_deref(), Some("builder"));
        let Op::Onbuild { trigger } = instr.plan.op else {
            panic!("not onbuild")
        };
        assert_eq!(trigger, "COPY --from=builder /a /b");
    }
}
