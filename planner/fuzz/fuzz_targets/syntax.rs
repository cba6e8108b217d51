//! Fuzz target `syntax`: the syntax layer never panics, every instruction's span and lines lie
//! inside the input, and the conformance dump of the same text is valid JSON.
//!
//! Input: arbitrary bytes (non-UTF-8 inputs are skipped: the CLI refuses them before parsing).
//! Output: nothing; a panic or a failed assertion is a finding.
//! Invariant: run with `RUSTC_BOOTSTRAP=1 cargo fuzz run syntax` in planner/ (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = planner::syntax::parse(text);
    let n_lines = text.split('\n').count() as u32;
    for instr in &parsed.instructions {
        assert!(instr.span.start <= instr.span.end && instr.span.end <= text.len());
        assert!(instr.keyword_span.end <= text.len());
        assert!(text.is_char_boundary(instr.span.start) && text.is_char_boundary(instr.span.end));
        assert!(instr.start_line >= 1 && instr.start_line <= instr.end_line);
        assert!(instr.end_line <= n_lines, "{} > {n_lines}", instr.end_line);
    }
    if let Some(error) = &parsed.error {
        assert!(error.span.end <= text.len() && error.line <= n_lines.max(1));
    }
    let dump = planner::syntax::dump::dump_json(text);
    assert!(serde_json::from_str::<serde_json::Value>(&dump).is_ok());
});
