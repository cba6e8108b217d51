// The planner off the typing path: a Web Worker that plans each text the playground sends.
//
// Input: PlanRequest messages (id, Dockerfile text, options). Output: one PlanResponse per
// request: the outcome, the file's default plan when only the targets are wrong, the plan JSON
// text as the Plan JSON tab shows it, and the planning time; or the error message.
// Invariant: the same WebAssembly planner as the page's (web/pkg/web); nothing else runs here, so
// the page's main thread only draws.
import init, { plan } from "../pkg/web/planner.js";

import type { PlanRequest, PlanResponse } from "./planner";

const ready = init();

self.addEventListener("message", async (event: MessageEvent<PlanRequest>) => {
  const { id, text, options } = event.data;
  let response: PlanResponse;
  try {
    await ready;
    const started = performance.now();
    const outcome = plan(text, options);
    const millis = performance.now() - started;
    // Only the targets may be wrong: the file's default plan keeps the stages visible.
    const fallback = !outcome.plan && options.targets && options.targets.length > 0 ? (plan(text, { ...options, targets: [] }).plan ?? null) : null;
    const planText = outcome.plan ? JSON.stringify(outcome.plan, null, 2) : null;
    response = { id, outcome, fallback, planText, millis, error: null };
  } catch (err) {
    response = { id, outcome: null, fallback: null, planText: null, millis: 0, error: err instanceof Error ? err.message : String(err) };
  }
  (self as unknown as Worker).postMessage(response);
});
