// A build record drawn on a stage graph: per stage its heat (time), cache hits and misses, time
// and size, and the critical path; plus the views the report and the panels list (the slowest
// steps, the critical path's steps).
//
// Input: a BuildRecord and the plan the graph shows (the record's own, or the plan of the
// Dockerfile in the editor). Output: a GraphOverlay for the graph module, and how many of the
// record's stages were found in the plan.
// Invariant: pure; stages are matched by their display name (the plan computes it, nothing here
// derives names), so a record still lands on the right boxes after lines are added above them;
// nothing is shown for a stage the plan does not have.
import type { GraphOverlay, StageOverlay } from "../graph/overlay";
import type { Plan } from "../types/planner-types";
import type { BuildRecord, StageRecord, StepRecord } from "../types/record-types";
import { formatBytes, formatDelta, formatMs } from "./format";

/** A record's overlay on a plan's graph. */
export interface RecordOverlay {
  overlay: GraphOverlay;
  /** Record stages found in the plan. */
  matched: number;
  /** Record stages in all. */
  total: number;
}

/** A step with its stage, for lists. */
export interface StepRow {
  stage: StageRecord;
  step: StepRecord;
  critical: boolean;
}

/** How long a stage took (start to end, or to its last step when it did not finish). */
export function stageDuration(stage: StageRecord): number {
  const end = stage.end_ms ?? stage.steps.reduce((latest, step) => Math.max(latest, step.end_ms), stage.start_ms);
  return Math.max(0, end - stage.start_ms);
}

/** A stage's own work: its steps' time without waiting for other stages. */
export function stageWork(stage: StageRecord): number {
  return stage.steps.reduce((sum, step) => sum + ownTime(step), 0);
}

/** The keys `stage:step` of the steps on the critical path. */
export function criticalKeys(record: BuildRecord): Set<string> {
  return new Set(record.critical_path.map((step) => `${step.stage}:${step.step}`));
}

function stageStatus(stage: StageRecord): StageOverlay["status"] {
  if (stage.steps.some((step) => step.status === "failed") || stage.end_ms === null) return "failed";
  if (stage.steps.some((step) => step.status === "ran")) return "ran";
  return "cached";
}

function badge(stage: StageRecord): string {
  const ran = stage.steps.filter((step) => step.status === "ran").length;
  const cached = stage.steps.filter((step) => step.status === "cached").length;
  const failed = stage.steps.find((step) => step.status === "failed");
  if (failed) return `failed at #${failed.step}`;
  if (ran === 0) return cached > 0 ? "all cached" : "config only";
  return cached > 0 ? `${ran} ran · ${cached} cached` : `${ran} ran`;
}

/** One line per step for a tooltip: `#3 ran 2.5 s +2.1 MB (app.go changed)`. */
export function stepLine(step: StepRecord): string {
  const size = step.size_added !== undefined && step.size_added !== null ? ` ${formatDelta(step.size_added)}` : "";
  const why = step.miss_text ? ` (${step.miss_text})` : "";
  const text = step.text.length > 48 ? `${step.text.slice(0, 47)}…` : step.text;
  return `#${step.step} ${step.status} ${formatMs(step.times.total_ms)}${size}${why}: ${text}`;
}

/** The overlay of `record` on the graph of `plan` (default: the record's own plan). */
export function recordOverlay(record: BuildRecord, plan: Plan = record.plan): RecordOverlay {
  const byName = new Map(plan.stages.map((stage) => [stage.display_name, stage.index]));
  const critical = criticalKeys(record);
  // Stages are coloured by their own work (waiting for other stages left out); stages under two
  // seconds stay cool even when they are the slowest (a warm build).
  const longest = Math.max(2000, ...record.stages.map(stageWork));
  const stages: Record<number, StageOverlay> = {};
  const indexOf = new Map<number, number>();
  let matched = 0;
  for (const stage of record.stages) {
    const index = byName.get(stage.name);
    if (index === undefined) continue;
    matched++;
    indexOf.set(stage.index, index);
    const duration = stageDuration(stage);
    const work = stageWork(stage);
    const wait = stage.steps.reduce((sum, step) => sum + step.times.wait_ms, 0);
    const size = stage.size !== null && stage.size !== undefined ? formatBytes(stage.size) : "no image";
    const lines = [
      `worked ${formatMs(work)}, from start to end ${formatMs(duration)}${wait > 0 ? ` (waited ${formatMs(wait)} for other stages)` : ""}`,
      stage.size !== null && stage.size !== undefined ? `image ${size}, ${stage.layers ?? 0} layers` : "no image",
      ...stage.steps.filter((step) => step.status !== "config").map(stepLine),
    ];
    stages[index] = {
      heat: Math.round((5 * work) / longest),
      status: stageStatus(stage),
      badge: badge(stage),
      detail: `${formatMs(work)} · ${size}`,
      title: lines.join("\n"),
      critical: stage.steps.some((step) => critical.has(`${stage.index}:${step.step}`)),
    };
  }
  // Needed stages of the record's plan that never started: the build stopped before them.
  for (const stage of record.plan.stages) {
    if (!stage.needed || record.stages.some((built) => built.index === stage.index)) continue;
    const index = byName.get(stage.display_name);
    if (index === undefined) continue;
    stages[index] = { heat: null, status: "unbuilt", badge: "not built", detail: null, title: "not built: the build stopped before this stage", critical: false };
  }
  const criticalEdges: { from: number; to: number }[] = [];
  for (let i = 1; i < record.critical_path.length; i++) {
    const from = indexOf.get(record.critical_path[i - 1].stage);
    const to = indexOf.get(record.critical_path[i].stage);
    if (from !== undefined && to !== undefined && from !== to) criticalEdges.push({ from, to });
  }
  return { overlay: { stages, criticalEdges }, matched, total: record.stages.length };
}

/** A step's own time: its wall time without waiting for other stages or a `--jobs` slot. */
export function ownTime(step: StepRecord): number {
  return Math.max(0, step.times.total_ms - step.times.wait_ms);
}

/** The steps that took longest themselves (waiting left out), slowest first (config steps left out). */
export function slowestSteps(record: BuildRecord, count: number): StepRow[] {
  const critical = criticalKeys(record);
  const rows: StepRow[] = [];
  for (const stage of record.stages) {
    for (const step of stage.steps) {
      if (step.status === "config") continue;
      rows.push({ stage, step, critical: critical.has(`${stage.index}:${step.step}`) });
    }
  }
  rows.sort((a, b) => ownTime(b.step) - ownTime(a.step) || a.stage.index - b.stage.index || a.step.step - b.step.step);
  return rows.slice(0, count);
}

/** The critical path's steps in order (config steps left out). */
export function criticalSteps(record: BuildRecord): StepRow[] {
  const rows: StepRow[] = [];
  for (const at of record.critical_path) {
    const stage = record.stages.find((item) => item.index === at.stage);
    const step = stage?.steps.find((item) => item.step === at.step);
    if (stage && step && step.status !== "config") rows.push({ stage, step, critical: true });
  }
  return rows;
}
