// The extension's commands: open the preview, copy a target's plan JSON, build a stage with
// `runner` in a terminal.
//
// Input: command arguments (a document URI and a stage name from a lens or menu, or nothing: the
// active editor). Output: the preview shown, the clipboard written, a terminal started (whose
// `runner build` writes its build record where the preview finds it), or an error message saying
// how to set `stageplan.runnerPath` when the runner program is missing.
// Invariant: the build command is typed into a terminal the user sees; nothing runs hidden.
import * as vscode from "vscode";

import { buildCommand } from "./analysis";
import type { PlannerApi } from "./planner";
import type { FindProgram } from "./programs";
import { baseName, isDockerfile } from "./preview";
import type { PreviewController } from "./preview";
import { COMMANDS } from "./providers";
import type { LensRecords } from "./records";
import type { PlanState } from "./state";

/** What the commands work with. */
export interface CommandContext {
  state: PlanState;
  planner: PlannerApi;
  preview: PreviewController;
  /** The `stageplan` settings. */
  settings: () => vscode.WorkspaceConfiguration;
  /** Where lens builds write their build records. */
  records: LensRecords;
  /** Resolves `stageplan.runnerPath`; null where no terminal can run it (VS Code for the Web). */
  findProgram: FindProgram | null;
}

/** The label of the error message's button that opens the setting. */
export const OPEN_RUNNER_SETTING = "Open Setting";

/** Registers the three commands. */
export function registerCommands({ state, planner, preview, settings, records, findProgram }: CommandContext): vscode.Disposable[] {
  /** The document for a command argument (a URI from a menu or lens) or the active editor. */
  const documentFor = async (uri: unknown): Promise<vscode.TextDocument | null> => {
    if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
    return vscode.window.activeTextEditor?.document ?? preview.shownDocument;
  };
  return [
    vscode.commands.registerCommand(COMMANDS.openPreviewToSide, async (uri?: unknown) => {
      const document = await documentFor(uri);
      if (!document || !isDockerfile(document)) {
        void vscode.window.showInformationMessage("Open a Dockerfile (Dockerfile, *.Dockerfile, Dockerfile.*) to preview its stages.");
        return;
      }
      preview.show(document);
    }),
    vscode.commands.registerCommand(COMMANDS.copyPlanJson, async (uri?: unknown, target?: unknown) => {
      const document = await documentFor(uri);
      if (!document) return;
      const targets = typeof target === "string" ? [target] : undefined;
      const outcome = planner.plan(document.getText(), state.plannerOptions(document.uri.toString(), targets));
      if (!outcome.plan) {
        const first = outcome.diagnostics.find((diagnostic) => diagnostic.severity === "error");
        void vscode.window.showErrorMessage(`No plan for ${baseName(document)}: ${first ? `line ${first.line}: ${first.message}` : "the planner found errors"}`);
        return;
      }
      await vscode.env.clipboard.writeText(JSON.stringify(outcome.plan, null, 2) + "\n");
      const needed = outcome.plan.stages.filter((stage) => stage.needed).length;
      void vscode.window.showInformationMessage(`Copied the plan JSON of ${baseName(document)} (${needed} of ${outcome.plan.stages.length} stages).`);
    }),
    vscode.commands.registerCommand(COMMANDS.buildStage, async (uri?: unknown, target?: unknown) => {
      const document = await documentFor(uri);
      if (!document || typeof target !== "string") return;
      if (document.isUntitled || document.uri.scheme !== "file") {
        void vscode.window.showErrorMessage("Save the Dockerfile to a folder on disk first: `runner build` reads it and its build context from there.");
        return;
      }
      if (!findProgram) {
        void vscode.window.showErrorMessage("Building a stage needs a terminal next to Docker: open the folder in VS Code desktop, a remote window or code-server.");
        return;
      }
      const folderUri = vscode.Uri.joinPath(document.uri, "..");
      const runner = await findProgram(settings().get<string>("runnerPath", "runner") ?? "runner", {
        workspaceFolder: vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath ?? null,
        documentFolder: folderUri.fsPath,
      });
      if ("problem" in runner) {
        const choice = await vscode.window.showErrorMessage(`Cannot build stage "${target}": ${runner.problem}`, OPEN_RUNNER_SETTING);
        if (choice === OPEN_RUNNER_SETTING) await vscode.commands.executeCommand("workbench.action.openSettings", "stageplan.runnerPath");
        return;
      }
      if (document.isDirty) await document.save();
      const terminal = vscode.window.createTerminal({ name: `runner: ${target}`, cwd: folderUri });
      terminal.show();
      // The runner writes the build's record where the preview looks for this file's latest one.
      const recordUri = records.recordUri(document.uri.toString());
      await records.prepare();
      terminal.sendText(buildCommand(runner.found, baseName(document), target, state.plannerOptions(document.uri.toString(), [target]), recordUri?.fsPath));
    }),
  ];
}
