//! Build progress for people and programs.
//!
//! Input: events from the scheduler and the steps (stage started, step started, output lines,
//! step cached/done, stage done, build done).
//! Output: `tty` = one live indicatif line per running stage; `plain` = one prefixed line per
//! event on stderr; `json` = one JSON object per line on stdout (for the web and editor).
//! Invariant: every event goes through [`Progress`]; nothing else in the runner prints while a
//! build runs.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

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

    /// A step began executing (it was not cached).
    pub fn step_started(&self, stage: &str, step: usize, line: u32, text: &str) {
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "step_started", "stage": stage, "step": step, "line": line, "text": text}),
            ),
            ProgressMode::Tty => self.with_bar(stage, |bar| bar.set_message(one_line(text))),
            _ => plain(stage, &format!("#{step} {}", one_line(text))),
        }
    }

    /// A line of a running step's output.
    pub fn log(&self, stage: &str, stream: Stream, line: &str) {
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
    pub fn step_meta(&self, stage: &str, step: usize) {
        match self.inner.mode {
            ProgressMode::Json => {
                emit(json!({"event": "step_done", "stage": stage, "step": step, "elapsed_ms": 0}))
            }
            ProgressMode::Tty => self.with_bar(stage, |bar| bar.inc(1)),
            _ => {}
        }
    }

    /// A step finished.
    pub fn step_done(&self, stage: &str, step: usize, elapsed: Duration) {
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "step_done", "stage": stage, "step": step, "elapsed_ms": elapsed.as_millis() as u64}),
            ),
            ProgressMode::Tty => self.with_bar(stage, |bar| bar.inc(1)),
            _ => plain(
                stage,
                &format!("#{step} done in {:.2}s", elapsed.as_secs_f64()),
            ),
        }
    }

    /// A stage finished with image `image`.
    pub fn stage_done(&self, stage: &str, image: &str, cached: bool) {
        match self.inner.mode {
            ProgressMode::Json => emit(
                json!({"event": "stage_done", "stage": stage, "image": image, "cached": cached}),
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
            None => eprintln!("{text}"),
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

fn emit(value: serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

fn plain(stage: &str, text: &str) {
    eprintln!("[{stage}] {text}");
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
