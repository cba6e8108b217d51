// Activation shared by the desktop and browser entries: registers the preview command, the
// diagnostics, the outline, Go to Definition and the per-stage code lenses.
//
// Input: the ExtensionContext and a loaded PlannerApi. Output: registrations pushed onto
// `context.subscriptions`.
// Invariant: glue only: every answer comes from analysis.ts over PlanState's plans, converted to
// vscode types here; nothing runs Docker or touches the network.
import * as vscode from "vscode";

import { buildCommand, definitionAt, graphDependsOnTarget, splitLines, stageLenses, stageSymbols, toEditorDiagnostics } from "./analysis";
import type { EditorDiagnostic, Range } from "./analysis";
import type { PlannerApi } from "./planner";
import { baseName, isDockerfile, PreviewController } from "./preview";
import { PlanState } from "./state";

/** The documents the language features apply to. */
export const DOCKERFILE_SELECTOR: vscode.DocumentSelector = [
  { language: "dockerfile" },
  { pattern: "**/Dockerfile" },
  { pattern: "**/*.Dockerfile" },
  { pattern: "**/Dockerfile.*" },
];

/** Command ids (also declared in package.json). */
export const COMMANDS = {
  openPreviewToSide: "stageplan.openPreviewToSide",
  copyPlanJson: "stageplan.copyPlanJson",
  buildStage: "stageplan.buildStage",
} as const;

/** How long typing may pause before diagnostics are recomputed. */
const DIAGNOSTICS_DELAY_MS = 150;

function toRange(range: Range): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

function toDiagnostic(diagnostic: EditorDiagnostic): vscode.Diagnostic {
  const severity =
    diagnostic.severity === "error"
      ? vscode.DiagnosticSeverity.Error
      : diagnostic.severity === "warning"
        ? vscode.DiagnosticSeverity.Warning
        : vscode.DiagnosticSeverity.Information;
  const converted = new vscode.Diagnostic(toRange(diagnostic.range), diagnostic.message, severity);
  converted.source = "stageplan";
  converted.code = diagnostic.url ? { value: diagnostic.code, target: vscode.Uri.parse(diagnostic.url) } : diagnostic.code;
  return converted;
}

/** Registers everything; returns the plan state (for tests and other extensions). */
export function activateWith(context: vscode.ExtensionContext, planner: PlannerApi): { state: PlanState } {
  const settings = () => vscode.workspace.getConfiguration("stageplan");
  const state = new PlanState(planner, () => settings().get<string>("platform", "") ?? "");
  const diagnostics = vscode.languages.createDiagnosticCollection("stageplan");
  const lensesChanged = new vscode.EventEmitter<void>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const refreshDiagnostics = (document: vscode.TextDocument) => {
    if (!isDockerfile(document)) return;
    const found = state.checkDiagnostics(document.uri.toString(), document.getText());
    diagnostics.set(document.uri, toEditorDiagnostics(found).map(toDiagnostic));
  };
  const preview = new PreviewController(context.extensionUri, state, (document) => {
    refreshDiagnostics(document);
    lensesChanged.fire();
  });

  /** The document for a command argument (a URI from a menu or lens) or the active editor. */
  const documentFor = async (uri: unknown): Promise<vscode.TextDocument | null> => {
    if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
    return vscode.window.activeTextEditor?.document ?? preview.shownDocument;
  };

  context.subscriptions.push(
    diagnostics,
    lensesChanged,
    preview,
    vscode.workspace.onDidOpenTextDocument(refreshDiagnostics),
    vscode.workspace.onDidChangeTextDocument((event) => {
      const key = event.document.uri.toString();
      clearTimeout(timers.get(key));
      timers.set(key, setTimeout(() => refreshDiagnostics(event.document), DIAGNOSTICS_DELAY_MS));
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      diagnostics.delete(document.uri);
      state.forget(document.uri.toString());
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration("stageplan")) return;
      vscode.workspace.textDocuments.forEach(refreshDiagnostics);
      lensesChanged.fire();
      preview.refresh();
    }),
    vscode.languages.registerDocumentSymbolProvider(DOCKERFILE_SELECTOR, {
      provideDocumentSymbols(document) {
        const plan = state.stagesPlan(document.uri.toString(), document.getText());
        if (!plan) return [];
        return stageSymbols(plan, splitLines(document.getText())).map(
          (symbol) => new vscode.DocumentSymbol(symbol.name, symbol.detail, vscode.SymbolKind.Class, toRange(symbol.range), toRange(symbol.selectionRange)),
        );
      },
    }),
    vscode.languages.registerDefinitionProvider(DOCKERFILE_SELECTOR, {
      provideDefinition(document, position) {
        const plan = state.stagesPlan(document.uri.toString(), document.getText());
        if (!plan) return null;
        const found = definitionAt(plan, splitLines(document.getText()), { line: position.line, character: position.character });
        if (!found) return null;
        const link: vscode.LocationLink = { originSelectionRange: toRange(found.origin), targetUri: document.uri, targetRange: toRange(found.target) };
        return [link];
      },
    }),
    vscode.languages.registerCodeLensProvider(DOCKERFILE_SELECTOR, {
      onDidChangeCodeLenses: lensesChanged.event,
      provideCodeLenses(document) {
        const uri = document.uri.toString();
        const text = document.getText();
        const plan = state.stagesPlan(uri, text);
        if (!plan) return [];
        const planTarget = graphDependsOnTarget(text)
          ? (name: string) => planner.plan(text, state.plannerOptions(uri, [name])).plan ?? null
          : null;
        return stageLenses(plan, planTarget).flatMap((lens) => [
          new vscode.CodeLens(toRange(lens.range), { title: lens.buildTitle, command: COMMANDS.buildStage, arguments: [document.uri, lens.stageName] }),
          new vscode.CodeLens(toRange(lens.range), { title: "Copy plan JSON", command: COMMANDS.copyPlanJson, arguments: [document.uri, lens.stageName] }),
        ]);
      },
    }),
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
      const key = document.uri.toString();
      const targets = typeof target === "string" ? [target] : undefined;
      const outcome = planner.plan(document.getText(), state.plannerOptions(key, targets));
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
      if (document.isDirty) await document.save();
      const folder = vscode.Uri.joinPath(document.uri, "..");
      const terminal = vscode.window.createTerminal({ name: `runner: ${target}`, cwd: folder });
      terminal.show();
      const runnerPath = settings().get<string>("runnerPath", "runner") || "runner";
      terminal.sendText(buildCommand(runnerPath, baseName(document), target, state.plannerOptions(document.uri.toString(), [target])));
    }),
  );
  vscode.workspace.textDocuments.forEach(refreshDiagnostics);
  return { state };
}
