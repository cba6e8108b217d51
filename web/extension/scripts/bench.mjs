// Measures the extension host's work per keystroke on a large Dockerfile with the real nodejs WASM
// planner: re-planning for the preview (PlanState.get), checking for the Problems panel, and the
// outline, references and code lenses computed from the plan.
//
// Input: web/pkg/node; a generated Dockerfile of 50 named stages × 20 lines (1,000+ lines).
// Output: median and p95 milliseconds per operation on stdout (JSON).
// Invariant: a benchmark, not a test: it prints numbers and asserts nothing.
import { performance } from "node:perf_hooks";

import { loadPlanner, loadSource } from "../test/helpers.mjs";

function bigDockerfile(nStages = 50, linesPerStage = 20) {
  const lines = ["# syntax=docker/dockerfile:1", "ARG BASE=alpine:3.20"];
  for (let stageIdx = 0; stageIdx < nStages; stageIdx++) {
    lines.push(stageIdx === 0 ? "FROM ${BASE} AS s0" : `FROM ${stageIdx % 5 === 0 ? "${BASE}" : `s${stageIdx - 1}`} AS s${stageIdx}`);
    for (let lineIdx = 1; lineIdx < linesPerStage; lineIdx++) {
      if (lineIdx === 1 && stageIdx > 2) lines.push(`COPY --from=s${stageIdx - 3} /out /in/${stageIdx}`);
      else if (lineIdx === 2 && stageIdx > 1) lines.push(`RUN --mount=type=bind,from=s${stageIdx - 2},target=/m make -C /m step${lineIdx}`);
      else lines.push(`RUN echo stage ${stageIdx} line ${lineIdx} > /out/${lineIdx}`);
    }
  }
  return lines.join("\n") + "\n";
}

function measure(label, runs, fn) {
  const times = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    fn(run);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { label, runs, median_ms: +times[Math.floor(runs / 2)].toFixed(3), p95_ms: +times[Math.floor(runs * 0.95)].toFixed(3) };
}

const planner = loadPlanner();
const analysis = await loadSource("analysis.ts");
const { PlanState } = await loadSource("state.ts");
const text = bigDockerfile();
const nLines = text.split("\n").length - 1;
const state = new PlanState(planner, () => "");
const results = [
  // Each run edits the text (a new comment at the end), as a keystroke would.
  measure("keystroke: re-plan (PlanState.get)", 60, (run) => state.get("file:///D", `${text}# ${run}\n`)),
  // A file with an error: the plan fails and the planner's outline is read for the language features.
  measure("keystroke with an error: re-plan + outline", 60, (run) => state.get("file:///E", `${text}RUNN ${run}\n`)),
  measure("check (Problems panel)", 30, (run) => state.checkDiagnostics("file:///D", `${text}# check ${run}\n`)),
  measure("code lenses (50 named stages)", 60, () => analysis.stageLenses(state.get("file:///D", text).structure)),
  measure("outline + references", 60, () => {
    const plan = state.get("file:///D", text).structure;
    const lines = analysis.splitLines(text);
    analysis.stageSymbols(plan, lines);
    analysis.stageReferences(plan, lines);
  }),
];
console.log(JSON.stringify({ dockerfile_lines: nLines, stages: 50, node: process.version, results }, null, 2));
