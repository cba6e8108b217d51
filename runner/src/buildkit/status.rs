//! BuildKit's progress stream (`Control.Status`) rendered through the runner's progress modes.
//!
//! Input: `StatusResponse` messages (vertices started, cached, completed or failed; process
//! output) and the translation's map from op digest to instruction.
//! Output: the runner's progress events (step started/cached/done, output lines, notes for
//! BuildKit's internal steps), and what failed: the first failed vertex with its instruction.
//! Invariant: each vertex is reported once per state change however often BuildKit repeats it;
//! output lines are split on newlines per vertex and stream, a partial line kept until its end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex};

use super::llb::types::StepInfo;
use crate::progress::{Progress, Stream};
use crate::record::types::{StepRecord, StepStatus, StepTimes};

/// A vertex that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedVertex {
    /// The vertex digest.
    pub digest: String,
    /// BuildKit's display name.
    pub name: String,
    /// BuildKit's error.
    pub error: String,
    /// The instruction, when the vertex performs one.
    pub step: Option<StepInfo>,
}

#[derive(Debug, Default)]
struct VertexState {
    started: bool,
    completed: bool,
}

/// What the follower knows; shared with the build.
#[derive(Debug, Default)]
pub struct StatusState {
    steps: BTreeMap<String, StepInfo>,
    vertices: HashMap<String, VertexState>,
    partial: HashMap<(String, i64), String>,
    failures: Vec<FailedVertex>,
    stage_uncached: BTreeMap<String, bool>,
    steps_run: usize,
    steps_cached: usize,
    tails: HashMap<String, VecDeque<String>>,
    /// When the first op started: the zero of the step records' start and end times.
    origin: Option<Timestamp>,
}

/// Output lines kept per vertex for the message of a failed step.
const TAIL_LINES: usize = 10;

/// The shared status of a build.
pub type SharedStatus = Arc<Mutex<StatusState>>;

/// Locks the shared status (a panic elsewhere does not hide it).
pub fn lock(status: &SharedStatus) -> std::sync::MutexGuard<'_, StatusState> {
    status
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl StatusState {
    /// Sets the digest → instruction map once the plan is translated.
    pub fn set_steps(&mut self, steps: BTreeMap<String, StepInfo>) {
        self.steps = steps;
    }

    /// The failed vertices, in the order they failed.
    pub fn failures(&self) -> &[FailedVertex] {
        &self.failures
    }

    /// The last output lines of vertex `digest`.
    pub fn tail(&self, digest: &str) -> Vec<String> {
        self.tails
            .get(digest)
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The instruction of vertex `digest`.
    pub fn step(&self, digest: &str) -> Option<&StepInfo> {
        self.steps.get(digest)
    }

    /// Per stage (display name) that performed a step: whether every step was cached.
    pub fn stages(&self) -> Vec<(String, bool)> {
        self.stage_uncached
            .iter()
            .map(|(stage, uncached)| (stage.clone(), !uncached))
            .collect()
    }

    /// How many instruction steps ran, and how many came from the cache.
    pub fn step_counts(&self) -> (usize, usize) {
        (self.steps_run, self.steps_cached)
    }

    /// The record of a step BuildKit ran: its times from the vertex (BuildKit says nothing about
    /// why its cache missed, nor what the step added).
    fn step_record(&self, step: &StepInfo, vertex: &Vertex) -> StepRecord {
        let since_origin =
            |at: Option<&Timestamp>| elapsed(self.origin.as_ref(), at).as_millis() as u64;
        let total = elapsed(vertex.started.as_ref(), vertex.completed.as_ref()).as_millis() as u64;
        StepRecord {
            stage: step.stage_index,
            step: step.step,
            line: step.line,
            text: step.text.clone(),
            status: StepStatus::Ran,
            miss: None,
            miss_text: None,
            key: None,
            start_ms: since_origin(vertex.started.as_ref()),
            end_ms: since_origin(vertex.completed.as_ref()),
            times: StepTimes {
                total_ms: total,
                execute_ms: total,
                ..StepTimes::default()
            },
            size_added: None,
            waited_for: Vec::new(),
        }
    }

    /// Applies one status message, reporting to `progress`.
    pub fn apply(&mut self, response: &StatusResponse, progress: &Progress) {
        for vertex in &response.vertexes {
            let state = self.vertices.entry(vertex.digest.clone()).or_default();
            let step = self.steps.get(&vertex.digest).cloned();
            if vertex.started.is_some() && !state.started {
                state.started = true;
                if self.origin.is_none() {
                    self.origin = vertex.started;
                }
                match &step {
                    Some(step) if vertex.cached => {
                        progress.step_cached(&step.stage, step.step, step.line, &step.text)
                    }
                    Some(step) => {
                        progress.step_started(&step.stage, step.step, step.line, &step.text, None)
                    }
                    None if !vertex.cached => progress.note("buildkit", &vertex.name),
                    None => {}
                }
            }
            if vertex.completed.is_some() && !state.completed {
                state.completed = true;
                if !vertex.error.is_empty() {
                    self.failures.push(FailedVertex {
                        digest: vertex.digest.clone(),
                        name: vertex.name.clone(),
                        error: vertex.error.clone(),
                        step: step.clone(),
                    });
                } else if let Some(step) = &step {
                    if !vertex.cached {
                        let record = self.step_record(step, vertex);
                        progress.step_done(&step.stage, &record);
                    }
                }
                if let Some(step) = &step {
                    let uncached = self
                        .stage_uncached
                        .entry(step.stage.clone())
                        .or_insert(false);
                    *uncached |= !vertex.cached;
                    if vertex.cached {
                        self.steps_cached += 1;
                    } else {
                        self.steps_run += 1;
                    }
                }
            }
        }
        for log in &response.logs {
            let stream = if log.stream == 2 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let stage = self
                .steps
                .get(&log.vertex)
                .map_or_else(|| "buildkit".to_string(), |step| step.stage.clone());
            let key = (log.vertex.clone(), log.stream);
            let buffer = self.partial.entry(key).or_default();
            buffer.push_str(&String::from_utf8_lossy(&log.msg));
            while let Some(at) = buffer.find('\n') {
                let line: String = buffer.drain(..=at).collect();
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                progress.log(&stage, stream, &line);
                let tail = self.tails.entry(log.vertex.clone()).or_default();
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    }

    /// Flushes partial output lines (at the end of the build).
    pub fn flush(&mut self, progress: &Progress) {
        for ((vertex, stream), rest) in std::mem::take(&mut self.partial) {
            if rest.is_empty() {
                continue;
            }
            let stage = self
                .steps
                .get(&vertex)
                .map_or_else(|| "buildkit".to_string(), |step| step.stage.clone());
            let stream = if stream == 2 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            progress.log(&stage, stream, &rest);
        }
    }
}

fn elapsed(started: Option<&Timestamp>, completed: Option<&Timestamp>) -> Duration {
    match (started, completed) {
        (Some(start), Some(end)) => {
            let nanos = (end.seconds - start.seconds) as i128 * 1_000_000_000
                + i128::from(end.nanos - start.nanos);
            Duration::from_nanos(nanos.max(0) as u64)
        }
        _ => Duration::ZERO,
    }
}

/// The exit code in a BuildKit process error (`... exit code: 3`).
pub fn exit_code(message: &str) -> Option<i64> {
    let at = message.rfind("exit code: ")?;
    let digits: String = message[at + "exit code: ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use bollard_buildkit_proto::moby::buildkit::v1::{Vertex, VertexLog};

    use super::*;
    use crate::progress::ProgressMode;

    #[test]
    fn vertices_report_once_and_failures_name_the_instruction() {
        let progress = Progress::new(ProgressMode::Plain);
        let mut state = StatusState::default();
        let step = StepInfo {
            stage: "build".into(),
            stage_index: 0,
            step: 2,
            line: 3,
            text: "RUN false".into(),
        };
        state.set_steps(BTreeMap::from([("sha256:a".to_string(), step.clone())]));
        let ts = |seconds| Timestamp { seconds, nanos: 0 };
        let vertex = Vertex {
            digest: "sha256:a".into(),
            name: "[build 1/1] RUN false".into(),
            started: Some(ts(1)),
            ..Vertex::default()
        };
        let response = StatusResponse {
            vertexes: vec![vertex.clone()],
            logs: vec![VertexLog {
                vertex: "sha256:a".into(),
                stream: 2,
                msg: b"partial".to_vec(),
                ..VertexLog::default()
            }],
            ..StatusResponse::default()
        };
        state.apply(&response, &progress);
        state.apply(&response, &progress);
        assert_eq!(
            state.partial[&("sha256:a".to_string(), 2)],
            "partialpartial"
        );
        let failed = Vertex {
            completed: Some(ts(2)),
            error: "process \"/bin/sh -c false\" did not complete successfully: exit code: 1"
                .into(),
            ..vertex
        };
        state.apply(
            &StatusResponse {
                vertexes: vec![failed],
                ..StatusResponse::default()
            },
            &progress,
        );
        assert_eq!(state.failures().len(), 1);
        assert_eq!(state.failures()[0].step, Some(step));
        assert_eq!(exit_code(&state.failures()[0].error), Some(1));
        assert_eq!(state.stages(), vec![("build".to_string(), false)]);
        assert_eq!(state.step_counts(), (1, 0));
    }
}
