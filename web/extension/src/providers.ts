// The language features as VS Code providers: the outline of stages, Go to Definition to a stage,
// and the per-stage code lenses; plus the conversions of analysis.ts's plain ranges and diagnostics.
//
// Input: a PlanState (plans and outlines per document) and the PlannerApi. Output: provider
// registrations.
// Invariant: glue only: every answer comes from analysis.ts over the stage structure PlanState
// keeps for the current text (the planner's outline, so a file with errors keeps its features).
import * as vscode from "vscode";

import { definitionAt, graphDependsOnTarget, splitLines, stageLenses, stageSymbols } from "./analysis";
import type { EditorDiagnostic, Range } from "./analysis";
import type { PlannerApi } from "./planner";
import type { PlanState } from "./state";

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

/** A vscode.Range for an analysis range. */
export function toRange(range: Range): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** A vscode.Diagnostic (source `stageplan`, the rule code linking to its documentation). */
export function toDiagnostic(diagnostic: EditorDiagnostic): vscode.Diagnostic {
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

/** Registers the outline, definition and code-lens providers; `lensesChanged` asks VS Code to refresh the lenses. */
export function registerProviders(state: PlanState, planner: PlannerApi, lensesChanged: vscode.Event<void>): vscode.Disposable[] {
  return [
    vscode.languages.registerDocumentSymbolProvider(DOCKERFILE_SELECTOR, {
      provideDocumentSymbols(document) {
        const structure = state.structure(document.uri.toString(), document.getText());
        return stageSymbols(structure, splitLines(document.getText())).map(
          (symbol) => new vscode.DocumentSymbol(symbol.name, symbol.detail, vscode.SymbolKind.Class, toRange(symbol.range), toRange(symbol.selectionRange)),
        );
      },
    }),
    vscode.languages.registerDefinitionProvider(DOCKERFILE_SELECTOR, {
      provideDefinition(document, position) {
        const structure = state.structure(document.uri.toString(), document.getText());
        const found = definitionAt(structure, splitLines(document.getText()), { line: position.line, character: position.character });
        if (!found) return null;
        const link: vscode.LocationLink = { originSelectionRange: toRange(found.origin), targetUri: document.uri, targetRange: toRange(found.target) };
        return [link];
      },
    }),
    vscode.languages.registerCodeLensProvider(DOCKERFILE_SELECTOR, {
      onDidChangeCodeLenses: lensesChanged,
      provideCodeLenses(document) {
        const uri = document.uri.toString();
        const text = document.getText();
        const structure = state.structure(uri, text);
        // The outline of each target (not its plan), so a file with errors keeps its lenses.
        const planTarget = graphDependsOnTarget(text)
          ? (name: string) => {
              const outline = planner.outline(text, state.plannerOptions(uri, [name]));
              return outline.targets.length > 0 ? outline : null;
            }
          : null;
        return stageLenses(structure, planTarget).flatMap((lens) => [
          new vscode.CodeLens(toRange(lens.range), { title: lens.buildTitle, command: COMMANDS.buildStage, arguments: [document.uri, lens.stageName] }),
          new vscode.CodeLens(toRange(lens.range), { title: "Copy plan JSON", command: COMMANDS.copyPlanJson, arguments: [document.uri, lens.stageName] }),
        ]);
      },
    }),
  ];
}
