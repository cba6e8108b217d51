//! Typed instructions: one raw instruction from the syntax layer becomes a plan [`Op`], with
//! BuildKit's argument checks and flag rules (frontend/dockerfile/instructions/parse.go).
//!
//! Input: a [`RawInstruction`]. Output: an [`Instr`] (the op plus what the graph needs: the
//! raw `--from` of COPY and of each mount) or an error message in BuildKit's words.
//! Invariant: words stay unexpanded; `Source`s in the op are filled in later by the graph.

use std::collections::BTreeMap;

use crate::diagnostics::Span;
use crate::flags::{FlagKind, Flags};
use crate::plan::{ArgDecl, Command, CopySpec, HealthTest, Heredoc, KeyValue, Mount, Op};
use crate::suggest;
use crate::syntax::{chomp_heredoc, parse_heredoc_word, RawHeredoc, RawInstruction};

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
pub struct Instr {
    /// The keyword as written.
    pub keyword: String,
    /// 1-based first line.
    pub line: u32,
    /// 1-based last line.
    pub end_line: u32,
    /// Bytes of the whole instruction.
    pub span: Span,
    /// Bytes of the keyword.
    pub keyword_span: Span,
    /// The joined line as written.
    pub text: String,
    /// The operation (with `from` sources still unresolved).
    pub op: Op,
    /// COPY `--from=` as written.
    pub copy_from: Option<String>,
    /// Each mount's `from=` as written, aligned with the op's mounts.
    pub mount_froms: Vec<Option<String>>,
    /// Bytes of the `--from=` value in the text (see `syntax::words`), when known.
    pub copy_from_span: Option<Span>,
    /// Bytes of each mount's `from=` value, aligned with `mount_froms`, when known.
    pub mount_from_spans: Vec<Option<Span>>,
    /// For ONBUILD: the trigger, typed.
    pub trigger: Option<Box<Instr>>,
    /// Whether ENV/LABEL used the legacy `key value` form.
    pub legacy_key_value: bool,
    /// Comment lines directly above.
    pub comments: Vec<String>,
}

fn at_least_one(keyword: &str) -> String {
    format!("{keyword} requires at least one argument")
}

fn exactly_one(keyword: &str) -> String {
    format!("{keyword} requires exactly one argument")
}

fn no_flags(raw: &RawInstruction) -> Result<(), String> {
    Flags::parse(&raw.flags, &[]).map(|_| ())
}

fn heredoc_to_plan(raw: &RawHeredoc) -> Heredoc {
    Heredoc {
        name: raw.name.clone(),
        body: if raw.chomp {
            chomp_heredoc(&raw.content)
        } else {
            raw.content.clone()
        },
        expand: raw.expand,
        fd: (raw.fd != 0).then_some(raw.fd),
    }
}

fn command_form(raw: &RawInstruction) -> Command {
    if raw.json {
        Command::Exec {
            args: raw.args.clone(),
        }
    } else {
        Command::Shell {
            script: raw.args.join(" "),
        }
    }
}

/// Types one raw instruction (not `FROM`; see `stage.rs`).
pub fn type_instruction(raw: &RawInstruction) -> Result<Instr, String> {
    let mut instr = Instr {
        keyword: raw.keyword.clone(),
        line: raw.start_line,
        end_line: raw.end_line,
        span: raw.span,
        keyword_span: raw.keyword_span,
        text: raw.original.trim().to_string(),
        op: Op::Maintainer {
            name: String::new(),
        },
        copy_from: None,
        mount_froms: Vec::new(),
        copy_from_span: None,
        mount_from_spans: Vec::new(),
        trigger: None,
        legacy_key_value: false,
        comments: raw.comments.clone(),
    };
    let keyword = raw.keyword.to_ascii_uppercase();
    instr.op = match keyword.as_str() {
        "ENV" | "LABEL" => {
            no_flags(raw)?;
            if raw.args.is_empty() {
                return Err(at_least_one(&keyword));
            }
            let mut pairs = Vec::new();
            for triple in raw.args.chunks(3) {
                let [key, value, delim] = triple else {
                    return Err(format!("Bad input to {keyword}, too many arguments"));
                };
                if key.is_empty() {
                    return Err(format!("{keyword} names can not be blank"));
                }
                instr.legacy_key_value |= delim.is_empty();
                pairs.push(KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            if keyword == "ENV" {
                Op::Env { pairs }
            } else {
                Op::Label { pairs }
            }
        }
        "MAINTAINER" => {
            if raw.args.len() != 1 {
                return Err(exactly_one("MAINTAINER"));
            }
            no_flags(raw)?;
            Op::Maintainer {
                name: raw.args[0].clone(),
            }
        }
        "ADD" | "COPY" => type_copy(raw, &keyword, &mut instr)?,
        "ONBUILD" => type_onbuild(raw, &mut instr)?,
        "WORKDIR" => {
            if raw.args.len() != 1 {
                return Err(exactly_one("WORKDIR"));
            }
            no_flags(raw)?;
            Op::Workdir {
                path: raw.args[0].clone(),
            }
        }
        "RUN" => type_run(raw, &mut instr)?,
        "CMD" => {
            no_flags(raw)?;
            Op::Cmd {
                command: command_form(raw),
            }
        }
        "ENTRYPOINT" => {
            no_flags(raw)?;
            Op::Entrypoint {
                command: command_form(raw),
            }
        }
        "HEALTHCHECK" => type_healthcheck(raw)?,
        "EXPOSE" => {
            if raw.args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            no_flags(raw)?;
            let mut ports = raw.args.clone();
            ports.sort();
            Op::Expose { ports }
        }
        "USER" => {
            if raw.args.len() != 1 {
                return Err(exactly_one("USER"));
            }
            no_flags(raw)?;
            Op::User {
                user: raw.args[0].clone(),
            }
        }
        "VOLUME" => {
            if raw.args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            no_flags(raw)?;
            let mut paths = Vec::new();
            for arg in &raw.args {
                let trimmed = arg.trim();
                if trimmed.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                paths.push(trimmed.to_string());
            }
            Op::Volume { paths }
        }
        "STOPSIGNAL" => {
            if raw.args.len() != 1 {
                return Err(exactly_one("STOPSIGNAL"));
            }
            Op::Stopsignal {
                signal: raw.args[0].clone(),
            }
        }
        "ARG" => Op::Arg {
            args: type_arg(raw)?,
        },
        "SHELL" => {
            no_flags(raw)?;
            if raw.args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !raw.json {
                return Err("SHELL requires the arguments to be in JSON form".to_string());
            }
            Op::Shell {
                shell: raw.args.clone(),
            }
        }
        _ => {
            let message = format!("unknown instruction: {}", raw.keyword);
            return Err(suggest::wrap(message, &raw.keyword, &KEYWORDS, false));
        }
    };
    Ok(instr)
}

/// Types the arguments of an `ARG` (also used for global ARGs).
pub fn type_arg(raw: &RawInstruction) -> Result<Vec<ArgDecl>, String> {
    if raw.args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    no_flags(raw)?;
    let mut args = Vec::new();
    for arg in &raw.args {
        match arg.split_once('=') {
            Some((name, value)) => {
                if name.is_empty() {
                    return Err("ARG names can not be blank".to_string());
                }
                args.push(ArgDecl {
                    name: name.to_string(),
                    default: Some(value.to_string()),
                });
            }
            None => args.push(ArgDecl {
                name: arg.clone(),
                default: None,
            }),
        }
    }
    Ok(args)
}

fn type_copy(raw: &RawInstruction, keyword: &str, instr: &mut Instr) -> Result<Op, String> {
    if raw.args.len() < 2 {
        return Err(format!(
            "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let is_copy = keyword == "COPY";
    let declared: &[(&'static str, FlagKind)] = if is_copy {
        &[
            ("chown", FlagKind::String),
            ("from", FlagKind::String),
            ("chmod", FlagKind::String),
            ("link", FlagKind::Bool),
            ("exclude", FlagKind::Strings),
            ("parents", FlagKind::Bool),
        ]
    } else {
        &[
            ("chown", FlagKind::String),
            ("chmod", FlagKind::String),
            ("link", FlagKind::Bool),
            ("keep-git-dir", FlagKind::Bool),
            ("checksum", FlagKind::String),
            ("unpack", FlagKind::Bool),
            ("exclude", FlagKind::Strings),
        ]
    };
    let flags = Flags::parse(&raw.flags, declared)?;
    let (sources, dest) = raw.args.split_at(raw.args.len() - 1);
    let dest = dest[0].clone();
    if parse_heredoc_word(&dest).ok().flatten().is_some() {
        return Err(format!(
            "{keyword} cannot accept a heredoc as a destination"
        ));
    }
    let by_name: BTreeMap<&str, &RawHeredoc> =
        raw.heredocs.iter().map(|h| (h.name.as_str(), h)).collect();
    let mut paths = Vec::new();
    let mut heredocs = Vec::new();
    for source in sources {
        match parse_heredoc_word(source).ok().flatten() {
            Some(word) if !raw.json => {
                let content = by_name
                    .get(word.name.as_str())
                    .map(|h| h.content.clone())
                    .unwrap_or_default();
                heredocs.push(heredoc_to_plan(&RawHeredoc { content, ..word }));
            }
            _ => paths.push(source.clone()),
        }
    }
    instr.copy_from = flags.string("from").filter(|f| !f.is_empty());
    let spec = CopySpec {
        sources: paths,
        dest,
        from: None,
        chown: flags.string("chown").filter(|v| !v.is_empty()),
        chmod: flags.string("chmod").filter(|v| !v.is_empty()),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: flags.strings("exclude"),
        checksum: flags.string("checksum").filter(|v| !v.is_empty()),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.opt_bool("unpack"),
        heredocs,
    };
    Ok(if is_copy {
        Op::Copy(spec)
    } else {
        Op::Add(spec)
    })
}

fn type_onbuild(raw: &RawInstruction, instr: &mut Instr) -> Result<Op, String> {
    let Some(sub) = &raw.sub else {
        return Err(at_least_one("ONBUILD"));
    };
    no_flags(raw)?;
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
    let mut expression = strip_onbuild_keyword(&raw.original).to_string();
    for heredoc in &raw.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    let mut sub_raw = (**sub).clone();
    sub_raw.heredocs = raw.heredocs.clone();
    sub_raw.start_line = raw.start_line;
    sub_raw.end_line = raw.end_line;
    sub_raw.span = raw.span;
    sub_raw.keyword_span = raw.keyword_span;
    let trigger = type_instruction(&sub_raw)?;
    instr.trigger = Some(Box::new(trigger));
    Ok(Op::Onbuild {
        trigger: expression,
    })
}

fn strip_onbuild_keyword(original: &str) -> &str {
    let trimmed = original.trim_start();
    let rest = if trimmed.len() >= 7 && trimmed[..7].eq_ignore_ascii_case("onbuild") {
        &trimmed[7..]
    } else {
        trimmed
    };
    rest.trim_start()
}

fn type_run(raw: &RawInstruction, instr: &mut Instr) -> Result<Op, String> {
    let declared = [
        ("mount", FlagKind::Strings),
        ("network", FlagKind::String),
        ("security", FlagKind::String),
    ];
    let flags = Flags::parse(&raw.flags, &declared)?;
    let mut mounts = Vec::new();
    for value in flags.strings("mount") {
        let (mount, from) = parse_mount(&value)?;
        mounts.push(mount);
        instr.mount_froms.push(from);
    }
    if let Some(network) = flags.string("network") {
        if !matches!(network.as_str(), "default" | "none" | "host") {
            return Err(format!("unsupported network mode {network:?}"));
        }
    }
    if let Some(security) = flags.string("security") {
        if !matches!(security.as_str(), "sandbox" | "insecure") {
            return Err(format!("unsupported security mode {security:?}"));
        }
    }
    Ok(Op::Run {
        command: command_form(raw),
        mounts,
        network: flags.string("network"),
        security: flags.string("security"),
        heredocs: raw.heredocs.iter().map(heredoc_to_plan).collect(),
    })
}

/// Splits a CSV record (Go encoding/csv rules for one line: `"` quotes a field, `""` escapes).
fn csv_fields(value: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(
                            "failed to parse csv mounts: extraneous or missing \" in quoted-field"
                                .into(),
                        )
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(ch) => field.push(ch),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err(
                        "failed to parse csv mounts: extraneous or missing \" in quoted-field"
                            .into(),
                    )
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(ch) => field.push(ch),
                }
            }
            fields.push(field);
        }
    }
}

const MOUNT_TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

/// Parses one `--mount=` value as BuildKit does at parse time; the checks that need
/// expanded values are left to the runner. Returns the mount and its raw `from`.
pub fn parse_mount(value: &str) -> Result<(Mount, Option<String>), String> {
    let mut mount = Mount {
        mount_type: "bind".into(),
        from: None,
        source: None,
        target: None,
        options: BTreeMap::new(),
    };
    let mut from = None;
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((key, val)) => (key.to_ascii_lowercase(), val.to_string()),
            None => (field.to_ascii_lowercase(), "true".to_string()),
        };
        match key.as_str() {
            "type" => {
                // A type with a variable is kept as written: it is checked (and lower-cased)
                // once the runner has expanded it.
                if val.contains('$') {
                    mount.mount_type = val;
                    continue;
                }
                let lowered = val.to_ascii_lowercase();
                if !MOUNT_TYPES.contains(&lowered.as_str()) {
                    let message = format!("unsupported mount type {val:?}");
                    return Err(suggest::wrap(message, &val, &MOUNT_TYPES, true));
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
                from = Some(val);
            }
            "source" | "src" => mount.source = Some(val),
            "target" | "dst" | "destination" => mount.target = Some(val),
            "readonly" | "ro" | "readwrite" | "rw" | "required" | "size" | "id" | "sharing"
            | "mode" | "uid" | "gid" | "env" => {
                mount.options.insert(key, val);
            }
            other => {
                const KEYS: [&str; 19] = [
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
                let message = format!("unexpected key '{other}' in '{field}'");
                return Err(suggest::wrap(message, other, &KEYS, true));
            }
        }
    }
    if mount.mount_type == "secret" && from.is_some() {
        return Err("secret mount should not have a from".into());
    }
    Ok((mount, from))
}

fn type_healthcheck(raw: &RawInstruction) -> Result<Op, String> {
    let Some(kind) = raw.args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let kind = kind.to_ascii_uppercase();
    let rest = &raw.args[1..];
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
    let declared = [
        ("interval", FlagKind::String),
        ("timeout", FlagKind::String),
        ("start-period", FlagKind::String),
        ("start-interval", FlagKind::String),
        ("retries", FlagKind::String),
    ];
    let flags = Flags::parse(&raw.flags, &declared)?;
    if kind != "CMD" {
        return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = if raw.json {
        HealthTest::Exec {
            args: rest.to_vec(),
        }
    } else {
        HealthTest::Shell {
            script: rest.join(" "),
        }
    };
    if let Some(retries) = flags.string("retries").filter(|r| !r.is_empty()) {
        match retries.parse::<i64>() {
            Ok(n) if n < 0 => return Err(format!("--retries cannot be negative ({n})")),
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "strconv.ParseInt: parsing {retries:?}: invalid syntax"
                ))
            }
        }
    }
    let nonempty = |name: &str| flags.string(name).filter(|v| !v.is_empty());
    Ok(Op::Healthcheck {
        test,
        interval: nonempty("interval"),
        timeout: nonempty("timeout"),
        start_period: nonempty("start-period"),
        start_interval: nonempty("start-interval"),
        retries: nonempty("retries"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn typed(text: &str) -> Result<Instr, String> {
        let parsed = parse(&format!("FROM a\n{text}\n"));
        type_instruction(&parsed.instructions[1])
    }

    #[test]
    fn copy_flags_and_heredocs() {
        let instr = typed("COPY --link --from=Build --chmod=755 <<EOF a b /dst/\nhi\nEOF").unwrap();
        assert_eq!(instr.copy_from.as_deref(), Some("Build"));
        let Op::Copy(spec) = instr.op else {
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
    fn onbuild_trigger_is_typed() {
        let instr = typed("ONBUILD COPY --from=builder /a /b").unwrap();
        assert_eq!(instr.trigger.unwrap().copy_from.as_deref(), Some("builder"));
        let Op::Onbuild { trigger } = instr.op else {
            panic!("not onbuild")
        };
        assert_eq!(trigger, "COPY --from=builder /a /b");
    }
}
