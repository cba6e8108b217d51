// The desktop entry (`main`): the planner runs in the extension host from the nodejs WASM package.
//
// Input: the ExtensionContext. Output: the registrations of activate.ts, with the Node lookup of
// the runner program (programs.ts).
// Invariant: the .wasm is read from the extension's own dist/ (copied there by the build); nothing
// is downloaded.
import type * as vscode from "vscode";

import { check, checkWith, outline, plan, suggestStage, version } from "../../pkg/node/planner.js";
import { activateWith } from "./activate";
import { findProgram } from "./programs";

/** Called by VS Code when a Dockerfile opens or a command runs. */
export function activate(context: vscode.ExtensionContext): ReturnType<typeof activateWith> {
  return activateWith(context, { plan, outline, check, checkWith, suggestStage, version }, { findProgram });
}

/** Nothing to release beyond `context.subscriptions`. */
export function deactivate(): void {}
