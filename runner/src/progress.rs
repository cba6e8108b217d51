//! Build progress for people and programs.
//!
//! Input: events from the scheduler and the steps (stage started, step started, output lines,
//! step cached/done, stage done, build done).
//! Output: `tty` = one live indicatif line per running stage; `plain` = one prefixed line per
//! event on stderr; `json` = one JSON object per line on stdout (for the web and editor);
//! `quiet` = nothing (errors and the image id are printed by the command line).
//! Invariant: every event goes through [`Progress`]; nothing else in the runner prints while a
//! build runs.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::record::phrase::phrase;
use crate::record::types::{MissReason, StepRecord, StepStatus};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// `tty` when stderr is a terminal, else `plain`.
    Auto,
    /// Live lines, one per running stage.
    Tty,
    /// Prefixed text lines.
    Plain,
    /// One JSON event per line on stdout.
    Json,
    /// Nothing (errors and the image id are still printed), as `docker build -q`.
    Quiet,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The progress sink shared by every stage task. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    mode: ProgressMode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, (ProgressBar, Instant)>>,
    started: Instant,
}

impl Progress {
    /// Creates the sink for `mode`, resolving `auto` by whether stderr is a terminal.
    pub fn new(mode: ProgressMode) -> Progress {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        };
        let multi = (mode == ProgressMode::Tty)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            inner: Arc::new(Inner {
                mode,
                multi,
                bars: Mutex::new(HashMap::new()),
                started: Instant::now(),
            }),
        }
    }

    /// The resolved mode (never `Auto`).
    pub fn mode(&self) -> ProgressMode {
        self.inner.mode
    }

    /// A stage began; `steps` is its instruction count.
    pub fn stage_started(&self, stage: &str, steps: usize) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        match self.inner.mode {
            ProgressMode::Json => {
                emit(json!({"event": "stage_started", "stage": stage, "steps": steps}))
            }
            ProgressMode::Tty => {
                if let Some(multi) = &self.inner.multi {
                    let bar = multi.add(ProgressBar::new(steps as u64));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{prefix}] {pos}/{len} {elapsed:>4} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(stage.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.lock_bars()
                        .insert(stage.to_string(), (bar, Instant::now()));
                }
            }
            _ => plain(stage, &format!("started ({steps} steps)")),
        }
    }

    /// A step began executing (it was not cached); `miss` says why.
    pub fn step_started(
        &self,
        stage: &str,
        step: usize,
        line: u32,
        text: &str,
        miss: Option<&MissReason>,
    ) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        let reason = miss.map(phrase);
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "step_started", "stage": stage, "step": step, "line": line, "text": text, "miss": miss, "miss_text": reason}),
            ),
            ProgressMode::Tty => self.with_bar(stage, |bar| {
                bar.set_message(format!("{}{}", one_line(text), because(&reason)))
            }),
            _ => plain(
                stage,
                &format!("#{step} {}{}", one_line(text), because(&reason)),
            ),
        }
    }

    /// A line of a running step's output.
    pub fn log(&self, stage: &str, stream: Stream, line: &str) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        let stream_name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        match self.inner.mode {
            ProgressMode::Json => {
                emit(json!({"event": "log", "stage": stage, "stream": stream_name, "line": line}))
            }
            ProgressMode::Tty => self.with_bar(stage, |bar| {
                bar.set_message(format!("| {}", one_line(line)))
            }),
            _ => plain(stage, &format!("| {line}")),
        }
    }

    /// A step was found in the cache and skipped.
    pub fn step_cached(&self, stage: &str, step: usize, line: u32, text: &str) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "step_cached", "stage": stage, "step": step, "line": line, "text": text}),
            ),
            ProgressMode::Tty => self.with_bar(stage, |bar| {
                bar.inc(1);
                bar.set_message(format!("CACHED {}", one_line(text)));
            }),
            _ => plain(stage, &format!("#{step} CACHED {}", one_line(text))),
        }
    }

    /// A metadata step was folded into the config (no container, nothing to wait for).
    pub fn step_meta(&self, stage: &str, _step: usize) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        if self.inner.mode == ProgressMode::Tty {
            self.with_bar(stage, |bar| bar.inc(1));
        }
    }

    /// A step finished (cached, ran, folded into the config, or failed); the JSON event carries
    /// its build-record entry as `record`.
    pub fn step_done(&self, stage: &str, record: &StepRecord) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        let ran = record.status == StepStatus::Ran;
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "step_done", "stage": stage, "step": record.step, "elapsed_ms": record.times.total_ms, "record": record}),
            ),
            ProgressMode::Tty if ran => self.with_bar(stage, |bar| bar.inc(1)),
            ProgressMode::Tty => {}
            _ if ran => {
                let added = match record.size_added {
                    Some(bytes) if bytes > 0 => format!(", +{}", human_bytes(bytes as u64)),
                    _ => String::new(),
                };
                plain(
                    stage,
                    &format!(
                        "#{} done in {:.2}s{added}",
                        record.step,
                        record.times.total_ms as f64 / 1000.0
                    ),
                )
            }
            _ => {}
        }
    }

    /// A stage finished with image `image`; `record` names the engine image that keeps the
    /// stage's memory for the next build (`stageplan-record:<identity>`).
    pub fn stage_done(&self, stage: &str, image: &str, cached: bool, record: &str) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "stage_done", "stage": stage, "image": image, "cached": cached, "record": record}),
            ),
            ProgressMode::Tty => {
                if let Some((bar, started)) = self.lock_bars().remove(stage) {
                    bar.finish_and_clear();
                    self.println(&format!(
                        "[{stage}] done in {:.1}s{}",
                        started.elapsed().as_secs_f64(),
                        if cached { " (cached)" } else { "" }
                    ));
                }
            }
            // A backend without stage images (BuildKit) reports none.
            _ if image.is_empty() => plain(stage, "done"),
            _ => plain(stage, &format!("done -> {}", short_id(image))),
        }
    }

    /// The build finished (successfully or not); `summary` is printed as is.
    pub fn build_done(&self, ok: bool, image: Option<&str>, summary: &[String]) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        for (_, (bar, _)) in self.lock_bars().drain() {
            bar.finish_and_clear();
        }
        let elapsed_ms = self.inner.started.elapsed().as_millis() as u64;
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "build_done", "ok": ok, "image": image, "elapsed_ms": elapsed_ms, "summary": summary}),
            ),
            _ => {
                for line in summary {
                    self.println(line);
                }
            }
        }
    }

    /// Prints a free-form note (pull progress, warnings) above the live lines.
    pub fn note(&self, stage: &str, text: &str) {
        if self.inner.mode == ProgressMode::Quiet {
            return;
        }
        match self.inner.mode {
            ProgressMode::Json => emit(json!({"event": "note", "stage": stage, "text": text})),
            _ => self.println(&format!("[{stage}] {text}")),
        }
    }

    fn println(&self, text: &str) {
        match &self.inner.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => stderr_line(text),
        }
    }

    fn with_bar(&self, stage: &str, f: impl FnOnce(&ProgressBar)) {
        if let Some((bar, _)) = self.lock_bars().get(stage) {
            f(bar);
        }
    }

    fn lock_bars(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ProgressBar, Instant)>> {
        self.inner
            .bars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes one line to standard error. A reader that went away (`runner build . 2>&1 | head`)
/// loses the rest of the output, but never stops the build half-way (`eprintln!` would panic
/// and leave the build's containers behind).
pub fn stderr_line(text: impl std::fmt::Display) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Writes one line to standard output, as [`stderr_line`] does to standard error.
pub fn stdout_line(text: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

fn emit(value: serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

fn plain(stage: &str, text: &str) {
    stderr_line(format_args!("[{stage}] {text}"));
}

/// `  (cache miss: REASON)` after a step, or nothing.
fn because(reason: &Option<String>) -> String {
    match reason {
        Some(reason) => format!("  (cache miss: {reason})"),
        None => String::new(),
    }
}

/// Bytes as `312 MB`, `7.9 MB`, `815 kB` (decimal units, as docker prints).
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", units[unit])
    } else {
        format!("{value:.0} {}", units[unit])
    }
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(99).collect::<String>())
    } else {
        line.to_string()
    }
}

/// The first 12 hex digits of an image id.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
