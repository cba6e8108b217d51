// The planner as the extension sees it: the WASM exports it calls, with the plan types
// generated from planner/schema.
//
// Input: nothing (an interface). Output: the PlannerApi type both entry points provide (the nodejs
// WASM package on the desktop, the web WASM package in vscode.dev).
// Invariant: only types here, so the language logic never depends on how the WASM was loaded.
import type { Diagnostic, Options, Outcome, Outline } from "../../src/types/planner-types";

export type { Diagnostic, Options, Outcome, Outline, Plan, Stage } from "../../src/types/planner-types";

/** The planner functions the extension uses (the WASM package's exports). */
export interface PlannerApi {
  /** Plans `dockerfile` for `options`; `plan` is null when there are errors. */
  plan(dockerfile: string, options: Options | null | undefined): Outcome;
  /** The stage structure that could be read, also when there are errors (`complete` is then false). */
  outline(dockerfile: string, options: Options | null | undefined): Outline;
  /** Checks every stage with no target (the Problems panel's diagnostics). */
  check(dockerfile: string): Diagnostic[];
  /** Checks as `docker build --check` does with options (build args, platform, the
   * `.dockerignore` text; with no targets every stage is examined). */
  checkWith(dockerfile: string, options: Options | null | undefined): Diagnostic[];
  /** The planner's "did you mean" for a stage name (the preview's find box). */
  suggestStage(value: string, names: string[]): string | undefined;
  /** The planner's crate version. */
  version(): string;
}
