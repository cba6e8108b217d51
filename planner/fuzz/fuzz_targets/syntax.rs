//! Fuzz target: the syntax layer must never panic, and every instruction's span and lines must
//! lie inside the input. Run with `cargo +nightly fuzz run syntax` in planner/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = planner::syntax::parse(text);
    let n_lines = text.lines().count().max(1) as u32 + 1;
    for instr in &parsed.instructions {
        assert!(instr.span.start <= instr.span.end && instr.span.end <= text.len());
        assert!(instr.start_line >= 1 && instr.start_line <= instr.end_line && instr.end_line <= n_lines);
    }
});
