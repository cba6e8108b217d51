// Activation shared by the desktop and browser entries: wires the plan state, the Problems-panel
// diagnostics, the preview, the providers and the commands together.
//
// Input: the ExtensionContext and a loaded PlannerApi. Output: registrations pushed onto
// `context.subscriptions`.
// Invariant: glue only; nothing runs Docker or touches the network.
import * as vscode from "vscode";

import { toEditorDiagnostics } from "./analysis";
import { registerCommands } from "./commands";
import { DockerignoreFiles } from "./dockerignore";
import type { PlannerApi } from "./planner";
import type { FindProgram } from "./programs";
import { parsePreviewState } from "./messages";
import { isDockerfile, PREVIEW_VIEW_TYPE, PreviewController } from "./preview";
import { registerProviders, toDiagnostic } from "./providers";
import { LensRecords } from "./records";
import { PlanState } from "./state";

/** How long typing may pause before diagnostics are recomputed. */
const DIAGNOSTICS_DELAY_MS = 150;

/** Opens the document at `uri`, or null when it is gone. */
async function openDocument(uri: string): Promise<vscode.TextDocument | null> {
  try {
    return await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
  } catch {
    return null;
  }
}

/** What differs between the desktop (Node) and browser extension hosts, besides the planner. */
export interface HostServices {
  /** Resolves `stageplan.runnerPath`; null in VS Code for the Web, which has no terminals. */
  findProgram: FindProgram | null;
}

/** Registers everything; returns the plan state (for tests and other extensions). */
export function activateWith(context: vscode.ExtensionContext, planner: PlannerApi, host: HostServices): { state: PlanState } {
  const settings = () => vscode.workspace.getConfiguration("stageplan");
  // Diagnostics and the preview are refreshed when a Dockerfile's .dockerignore has been read.
  let dockerignoreRead = (_uri: string) => {};
  const dockerignore = new DockerignoreFiles((uri) => dockerignoreRead(uri));
  const state = new PlanState(
    planner,
    () => settings().get<string>("platform", "") ?? "",
    (uri) => dockerignore.textFor(uri),
  );
  const diagnostics = vscode.languages.createDiagnosticCollection("stageplan");
  const lensesChanged = new vscode.EventEmitter<void>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const refreshDiagnostics = (document: vscode.TextDocument) => {
    if (!isDockerfile(document) || document.isClosed) return;
    const found = state.checkDiagnostics(document.uri.toString(), document.getText());
    diagnostics.set(document.uri, toEditorDiagnostics(found).map(toDiagnostic));
  };
  const records = new LensRecords(context.globalStorageUri);
  const preview = new PreviewController(context.extensionUri, state, (document) => {
    refreshDiagnostics(document);
    lensesChanged.fire();
  }, records);
  dockerignoreRead = (uri) => {
    const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === uri);
    if (document) refreshDiagnostics(document);
    preview.refresh();
  };
  const ignoreChanged = (uri: vscode.Uri) => dockerignore.fileChanged(uri);
  const isIgnoreFile = (uri: vscode.Uri) => uri.path.endsWith(".dockerignore");
  // The stand-ins of older hosts and of the tests may lack these two; the reads still happen.
  if (typeof vscode.workspace.createFileSystemWatcher === "function") {
    const watcher = vscode.workspace.createFileSystemWatcher("**/{.dockerignore,*.dockerignore}");
    context.subscriptions.push(watcher, watcher.onDidCreate(ignoreChanged), watcher.onDidChange(ignoreChanged), watcher.onDidDelete(ignoreChanged));
  }
  if (typeof vscode.workspace.onDidSaveTextDocument === "function") {
    context.subscriptions.push(
      vscode.workspace.onDidSaveTextDocument((document) => {
        if (isIgnoreFile(document.uri)) ignoreChanged(document.uri);
      }),
    );
  }

  context.subscriptions.push(
    diagnostics,
    lensesChanged,
    records,
    preview,
    vscode.workspace.onDidOpenTextDocument(refreshDiagnostics),
    vscode.workspace.onDidChangeTextDocument((event) => {
      const key = event.document.uri.toString();
      clearTimeout(timers.get(key));
      timers.set(key, setTimeout(() => refreshDiagnostics(event.document), DIAGNOSTICS_DELAY_MS));
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      const key = document.uri.toString();
      clearTimeout(timers.get(key));
      timers.delete(key);
      diagnostics.delete(document.uri);
      state.forget(key);
      dockerignore.forget(key);
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration("stageplan")) return;
      vscode.workspace.textDocuments.forEach(refreshDiagnostics);
      lensesChanged.fire();
      preview.refresh();
    }),
    vscode.window.registerWebviewPanelSerializer(PREVIEW_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, saved: unknown) {
        // A preview open when the window closed comes back showing the same file and options.
        const restored = parsePreviewState(saved);
        const document = restored ? await openDocument(restored.uri) : null;
        if (!restored || !document) {
          panel.dispose();
          return;
        }
        state.setOptions(document.uri.toString(), restored.options);
        preview.restore(panel, document);
      },
    }),
    ...registerProviders(state, planner, lensesChanged.event),
    ...registerCommands({ state, planner, preview, settings, records, findProgram: host.findProgram }),
    { dispose: () => timers.forEach((timer) => clearTimeout(timer)) },
  );
  vscode.workspace.textDocuments.forEach(refreshDiagnostics);
  return { state };
}
