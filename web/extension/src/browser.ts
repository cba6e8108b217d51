// The browser entry (`browser`, for vscode.dev): the planner runs in the web extension host from
// the web WASM package, its .wasm read through `vscode.workspace.fs` from the extension's dist/web/.
//
// Input: the ExtensionContext. Output: the registrations of activate.ts.
// Invariant: no Node APIs here (the web extension host is a worker).
import * as vscode from "vscode";

import { check, checkWith, initSync, outline, plan, suggestStage, version } from "../../pkg/web/planner.js";
import { activateWith } from "./activate";

/** Called by VS Code for the Web when a Dockerfile opens or a command runs. */
export async function activate(context: vscode.ExtensionContext): Promise<ReturnType<typeof activateWith>> {
  const wasm = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(context.extensionUri, "dist", "web", "planner_bg.wasm"));
  initSync({ module: wasm });
  return activateWith(context, { plan, outline, check, checkWith, suggestStage, version }, { findProgram: null });
}

/** Nothing to release beyond `context.subscriptions`. */
export function deactivate(): void {}
