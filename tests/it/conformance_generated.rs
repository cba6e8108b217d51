//! Differential parser test on generated input: many small Dockerfile-like files, made from a
//! fixed-seed generator, parsed by BuildKit's parser (the reference package) and by ours.
//!
//! Input: a deterministic generator (xorshift, fixed seeds) of keywords in mixed case, flags,
//! quotes, escapes, variables, JSON arrays, comments, blank and continuation lines, heredoc
//! markers with bodies and terminators, directives, CRLF and BOM.
//! Output: one test that fails on the first generated files whose dumps differ (each shown
//! with its text and a diff) and prints `conformance (generated): N/M identical`.
//! Invariant: the generator avoids the four constructs where current BuildKit differs from the
//! reference's v0.12.5 on purpose (see `ALLOWED_DEVIATIONS` in conformance.rs): text after a
//! JSON array, `# check=` before `# escape=`, `\` in flags under the backtick escape, and
//! `<< EOF` with a space.

use std::path::PathBuf;

use serde_json::Value;

use crate::conformance::{line_diff, pretty, reference_dumps, to_reference_shape};

const FILES: usize = 1500;
const SEED: u64 = 0x5eed_2026_1128;

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "COPY",
    "ADD",
    "ENV",
    "LABEL",
    "ARG",
    "CMD",
    "ENTRYPOINT",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "HEALTHCHECK",
    "ONBUILD",
    "STOPSIGNAL",
    "MAINTAINER",
    "BOGUS",
];

const WORDS: &[&str] = &[
    "a",
    "b=c",
    "\"q w\"",
    "'s x'",
    "$V",
    "${V:-d}",
    "a\\ b",
    "\\",
    "\\\\",
    "#",
    "#x",
    "<<EOF",
    "<<-EOF",
    "<<'EOF'",
    "3<<EOF",
    "<<\"E F\"",
    "[",
    "]",
    "\"",
    "'",
    "=",
    "x=\"y\"",
    "--",
    "--flag",
    "--from=x",
    "--mount=type=cache,target=/c",
    "`",
    "é",
    "a\\",
    "AS",
    "as",
    "name",
    "k=",
    "=v",
    "<<A",
    "<<B",
];

const JSON_TAILS: &[&str] = &["[\"j\"]", "[\"a\", \"b\"]", "[]", "[\"x\\\"y\"]", "[1]"];

const DIRECTIVES: &[&str] = &[
    "# escape=`",
    "# syntax=docker/dockerfile:1",
    "#escape=\\",
    "# foo=bar",
    "#  Syntax = x",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn keyword(rng: &mut Rng) -> String {
    let word = rng.pick(KEYWORDS);
    match rng.below(10) {
        0 => word.to_ascii_lowercase(),
        1 => format!("{}{}", &word[..1], word[1..].to_ascii_lowercase()),
        _ => word.to_string(),
    }
}

/// One instruction line (without line end); `backtick` is true under `# escape=``.
fn instruction(rng: &mut Rng, backtick: bool) -> String {
    let mut line = keyword(rng);
    if line.eq_ignore_ascii_case("onbuild") {
        line.push(' ');
        line.push_str(&keyword(rng));
    }
    for _ in 0..rng.below(6) {
        let word = rng.pick(WORDS);
        if backtick && word.contains('\\') {
            continue;
        }
        line.push_str(rng.pick(&[" ", " ", "  ", "\t"]));
        line.push_str(word);
    }
    if rng.chance(15) {
        line.push(' ');
        line.push_str(rng.pick(JSON_TAILS));
    } else if rng.chance(25) {
        let ends: &[&str] = if backtick {
            &[" `", "`", " ` "]
        } else {
            &[" \\", "\\", " \\ ", " `"]
        };
        line.push_str(rng.pick(ends));
    }
    line
}

/// Heredoc bodies and terminators for the markers on `line` (sometimes left unterminated).
fn heredoc_lines(rng: &mut Rng, line: &str, out: &mut Vec<String>) {
    for word in line.split_whitespace() {
        let name = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(name) = name.strip_prefix("<<") else {
            continue;
        };
        let name = name
            .trim_start_matches('-')
            .trim_matches(|c| c == '\'' || c == '"');
        if name.is_empty() || !rng.chance(85) {
            continue;
        }
        out.push(
            rng.pick(&["body", "\tbody", "", "EOFX", "# not a comment", "line \\"])
                .to_string(),
        );
        out.push(
            rng.pick(&[name, name, "\t", " "])
                .replace('\t', &format!("\t{name}"))
                .replace(' ', &format!("{name} ")),
        );
    }
}

fn document(rng: &mut Rng) -> String {
    let mut lines = Vec::new();
    if rng.chance(25) {
        lines.push(rng.pick(DIRECTIVES).to_string());
        if rng.chance(30) {
            lines.push(rng.pick(DIRECTIVES).to_string());
        }
    }
    let backtick = lines.first().is_some_and(|l| l.contains("escape=`"));
    lines.push("FROM busybox".to_string());
    for _ in 0..1 + rng.below(8) {
        if rng.chance(12) {
            lines.push(
                rng.pick(&["", "   ", "# comment", "  # indented", "\t"])
                    .to_string(),
            );
            continue;
        }
        let line = instruction(rng, backtick);
        lines.push(line.clone());
        if line.contains("<<") {
            heredoc_lines(rng, &line, &mut lines);
        }
    }
    let eol = if rng.chance(10) { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if rng.chance(90) {
        text.push_str(eol);
    }
    if rng.chance(5) {
        text.insert(0, '\u{feff}');
    }
    text
}

#[test]
fn generated_inputs_match_buildkit_parser() {
    let dir = std::env::temp_dir().join(format!("stageplan-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    let mut rng = Rng(SEED);
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for index in 0..FILES {
        let text = document(&mut rng);
        let path = dir.join(format!("gen{index:05}.Dockerfile"));
        std::fs::write(&path, &text)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        files.push((path, text));
    }
    let paths: Vec<PathBuf> = files.iter().map(|(path, _)| path.clone()).collect();
    let references = reference_dumps(&paths);
    let _ = std::fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    for (path, text) in &files {
        let ours: Value =
            serde_json::from_str(&planner::syntax::dump::dump_json(text)).unwrap_or(Value::Null);
        let ours = to_reference_shape(&ours);
        let reference = references.get(path).cloned().unwrap_or(Value::Null);
        if ours != reference {
            failures.push(format!(
                "input {text:?}\n{}",
                line_diff(&pretty(&reference), &pretty(&ours))
            ));
        }
    }
    println!(
        "conformance (generated): {}/{FILES} identical",
        FILES - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {FILES} generated inputs differ from BuildKit's parser (- reference, + ours); first ones:\n\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}
