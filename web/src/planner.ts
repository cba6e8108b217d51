// Loads the planner's WebAssembly (web target) and exposes it with the schema-generated types.
//
// Input: nothing (the .wasm is fetched next to the bundle). Output: a Planner with plan, check,
// graph and version.
// Invariant: the only module of the playground that imports the wasm-bindgen package.
import init, { check, graph, plan, planVersion, version } from "../pkg/web/planner.js";

import type { Diagnostic, Options, Outcome } from "./types/planner-types";

export interface Planner {
  plan(dockerfile: string, options?: Options): Outcome;
  check(dockerfile: string, options?: Options): Diagnostic[];
  graph(dockerfile: string, options: Options, format: "dot" | "mermaid"): string;
  version: string;
  planVersion: number;
}

/** Fetches and instantiates the WebAssembly module once. */
export async function loadPlanner(): Promise<Planner> {
  await init();
  return {
    plan: (dockerfile, options) => plan(dockerfile, options),
    check: (dockerfile, options) => check(dockerfile, options),
    graph: (dockerfile, options, format) => graph(dockerfile, options, format),
    version: version(),
    planVersion: planVersion(),
  };
}
