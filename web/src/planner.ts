// Loads the planner's WebAssembly (web target) and exposes it with the schema-generated types.
//
// Input: nothing (the .wasm is fetched next to the bundle). Output: a Planner with plan, check,
// graph, suggestStage and version.
// Invariant: the only module of the playground, with its worker (plan-worker.ts), that imports the
// wasm-bindgen package. Re-plans while typing go to the worker (`PlanService`), so planning never
// holds up a keystroke; the page's own instance answers the console and the find box.
import init, { check, graph, plan, planVersion, suggestStage, version } from "../pkg/web/planner.js";

import type { Diagnostic, Options, Outcome, Plan } from "./types/planner-types";

/** A request to the planning worker. */
export interface PlanRequest {
  id: number;
  text: string;
  options: Options;
}

/** The worker's answer to one request. */
export interface PlanResponse {
  id: number;
  /** Null only when the planner threw (bad options), with `error` set. */
  outcome: Outcome | null;
  /** The file's default plan when `outcome` has none and targets were given (only they may be wrong). */
  fallback: Plan | null;
  /** `outcome.plan` as pretty JSON text (made in the worker too). */
  planText: string | null;
  /** How long the planner took in the worker. */
  millis: number;
  error: string | null;
}

/** Plans in a Web Worker; answers come back in request order, each with its id. */
export class PlanService {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, (response: PlanResponse) => void>();

  constructor() {
    this.worker = new Worker(new URL("./plan-worker.ts", import.meta.url), { type: "module" });
    this.worker.addEventListener("message", (event: MessageEvent<PlanResponse>) => {
      const resolve = this.pending.get(event.data.id);
      this.pending.delete(event.data.id);
      resolve?.(event.data);
    });
  }

  /** Plans `text` with `options` in the worker. */
  plan(text: string, options: Options): Promise<PlanResponse> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      const request: PlanRequest = { id, text, options };
      this.worker.postMessage(request);
    });
  }
}

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
