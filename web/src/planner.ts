// Loads the planner's WebAssembly (web target) and exposes it with the schema-generated types.
//
// Input: nothing (the .wasm is fetched next to the bundle). Output: a Planner with plan, check,
// graph, suggestStage and version.
// Invariant: the only module of the playground that imports the wasm-bindgen package.
import init, { check, graph, plan, planVersion, suggestStage, version } from "../pkg/web/planner.js";

import type { Diagnostic, Options, Outcome } from "./types/planner-types";

export interface Planner {
  plan(dockerfile: string, options?: Options): Outcome;
  check(dockerfile: string): Diagnostic[];
  graph(dockerfile: string, options: Options, format: "dot" | "mermaid"): string;
  /** The planner's "did you mean" for a stage name, from the plan's stage names. */
  suggestStage(value: string, names: string[]): string | undefined;
  version: string;
  planVersion: number;
}

/** Fetches and instantiates the WebAssembly module once. */
export async function loadPlanner(): Promise<Planner> {
  await init();
  return {
    plan: (dockerfile, options) => plan(dockerfile, options),
    check: (dockerfile) => check(dockerfile),
    graph: (dockerfile, options, format) => graph(dockerfile, options, format),
    suggestStage: (value, names) => suggestStage(value, names),
    version: version(),
    planVersion: planVersion(),
  };
}
