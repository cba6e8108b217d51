// Which stages a search-box query names: the stage of that name first (names are
// case-insensitive, as for --target), then names that start with it, then names that contain it.
//
// Input: the plan's stages and the query. Output: stage indices, best first.
// Invariant: pure; reads the names the planner gave the stages (never re-derived from text);
// `stage N` and a bare index find unnamed stages. When nothing matches, the host asks the
// planner for its "did you mean" (StageGraphOptions.suggest), not this module.
import type { Stage } from "../types/planner-types";
import { stageLabel } from "./model";

/** Stage indices the query matches, best first; empty for a blank query. */
export function findStages(stages: Pick<Stage, "index" | "name">[], query: string): number[] {
  const wanted = query.trim().toLowerCase();
  if (wanted === "") return [];
  const byIndex = /^(?:stage\s*)?(\d+)$/.exec(wanted);
  const ranked: [number, number][] = [];
  for (const stage of stages) {
    const label = stageLabel(stage).toLowerCase();
    const rank =
      label === wanted || (byIndex !== null && Number(byIndex[1]) === stage.index) ? 0 : label.startsWith(wanted) ? 1 : label.includes(wanted) ? 2 : -1;
    if (rank >= 0) ranked.push([rank, stage.index]);
  }
  return ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, index]) => index);
}
