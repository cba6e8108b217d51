// The Stage Preview webview panel: follows the active Dockerfile, re-plans as the user types, and
// turns node clicks into "show that FROM line" in the editor.
//
// Input: editor events (active editor, text changes, selections) and the webview's messages.
// Output: PlanMessage/CursorMessage posts to the webview; selections and reveals in the editor.
// Invariant: one preview panel at a time (like the Markdown preview's "to the side"); it never
// plans itself: PlanState does, once per text and options change.
import * as vscode from "vscode";

import { outlineAsPlan, stageAtEditorLine } from "./analysis";
import { makeNonce, previewHtml } from "./html";
import { parseWebviewMessage } from "./messages";
import type { HostMessage, PlanMessage, WebviewMessage } from "./messages";
import type { Options } from "./planner";
import type { LensRecords } from "./records";
import type { Planned, PlanState } from "./state";

/** Whether a document is a Dockerfile: language `dockerfile`, or named `Dockerfile`, `*.Dockerfile`, `Dockerfile.*`. */
export function isDockerfile(document: vscode.TextDocument): boolean {
  return document.languageId === "dockerfile" || /(^|[\\/])(Dockerfile(\.[^\\/]+)?|[^\\/]+\.Dockerfile)$/.test(document.fileName);
}

/** The file's base name. */
export function baseName(document: vscode.TextDocument): string {
  return document.fileName.split(/[\\/]/).pop() || document.fileName;
}

/** The preview's webview type (also in package.json's `onWebviewPanel:` activation event). */
export const PREVIEW_VIEW_TYPE = "stageplan.preview";

/** How long typing may pause before the preview re-plans (the planner itself takes about a millisecond). */
const REPLAN_DELAY_MS = 60;

/** The preview panel and the document it shows. */
export class PreviewController implements vscode.Disposable {
  private panel: vscode.WebviewPanel | null = null;
  private document: vscode.TextDocument | null = null;
  private ready = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly state: PlanState,
    private readonly onOptionsChanged: (document: vscode.TextDocument) => void,
    private readonly records: LensRecords,
  ) {
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.panel && editor && isDockerfile(editor.document) && editor.document !== this.document) {
          this.document = editor.document;
          this.post();
          void this.postRecord();
        }
      }),
      records.onDidChange(() => void this.postRecord()),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document === this.document) this.schedule();
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (event.textEditor.document === this.document) this.postCursor(event.selections[0]?.active.line ?? 0);
      }),
    );
  }

  /** The document the preview shows, if it is open. */
  get shownDocument(): vscode.TextDocument | null {
    return this.panel ? this.document : null;
  }

  /** Opens (or reveals) the preview beside the editor, showing `document`. */
  show(document: vscode.TextDocument): void {
    if (this.panel) {
      this.document = document;
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      this.post();
      void this.postRecord();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PREVIEW_VIEW_TYPE,
      `Stages: ${baseName(document)}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      this.webviewOptions(),
    );
    this.adopt(panel, document);
  }

  /** Takes over a panel VS Code restored after a reload; false (and the panel closed) when a preview is already open. */
  restore(panel: vscode.WebviewPanel, document: vscode.TextDocument): boolean {
    if (this.panel) {
      panel.dispose();
      return false;
    }
    panel.webview.options = this.webviewOptions();
    this.adopt(panel, document);
    return true;
  }

  private webviewOptions(): vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "dist"), vscode.Uri.joinPath(this.extensionUri, "media")],
    };
  }

  /** Shows `document` in `panel`: the page, the message handler and the disposal. */
  private adopt(panel: vscode.WebviewPanel, document: vscode.TextDocument): void {
    this.panel = panel;
    this.document = document;
    this.ready = false;
    panel.title = `Stages: ${baseName(document)}`;
    panel.webview.html = previewHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.js")).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "media", "preview.css")).toString(),
    });
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const message = parseWebviewMessage(raw);
      if (message) void this.handle(message);
    });
    panel.onDidDispose(() => {
      if (this.panel !== panel) return;
      this.panel = null;
      this.ready = false;
    });
  }

  /** Re-sends the plan (after the options or settings changed). */
  refresh(): void {
    this.post();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.post(), REPLAN_DELAY_MS);
  }

  private send(message: HostMessage): void {
    if (this.panel && this.ready) void this.panel.webview.postMessage(message);
  }

  private post(): void {
    clearTimeout(this.timer);
    if (!this.panel || !this.document) return;
    const document = this.document;
    const uri = document.uri.toString();
    const planned = this.state.get(uri, document.getText());
    this.panel.title = `Stages: ${baseName(document)}`;
    const fallback = planned.outcome.plan ? null : fallbackOf(planned, this.state.plannerOptions(uri));
    const shown = planned.outcome.plan ?? fallback?.plan ?? null;
    const editor = vscode.window.visibleTextEditors.find((candidate) => candidate.document === document);
    const message: PlanMessage = {
      type: "plan",
      uri: document.uri.toString(),
      fileName: baseName(document),
      plan: planned.outcome.plan ?? null,
      fallback,
      diagnostics: planned.outcome.diagnostics,
      options: { targets: planned.options.targets, build_args: planned.options.build_args },
      currentStage: shown && editor ? stageAtEditorLine(shown, editor.selection.active.line) : null,
    };
    this.send(message);
  }

  /** Sends the latest build record of the shown Dockerfile's lens builds (or that it has none). */
  private async postRecord(): Promise<void> {
    const document = this.document;
    if (!this.panel || !this.ready || !document) return;
    const latest = await this.records.latest(document.uri.toString());
    if (document !== this.document) return;
    this.send({
      type: "record",
      uri: document.uri.toString(),
      record: latest && "record" in latest ? latest.record : null,
      problem: latest && "problem" in latest ? latest.problem : null,
    });
  }

  private postCursor(line: number): void {
    if (!this.document) return;
    const uri = this.document.uri.toString();
    const planned = this.state.get(uri, this.document.getText());
    const shown = planned.outcome.plan ?? fallbackOf(planned, this.state.plannerOptions(uri))?.plan ?? null;
    this.send({ type: "cursor", currentStage: shown ? stageAtEditorLine(shown, line) : null });
  }

  private async handle(message: WebviewMessage): Promise<void> {
    const document = this.document;
    switch (message.type) {
      case "ready":
        this.ready = true;
        this.post();
        await this.postRecord();
        return;
      case "reveal":
        if (document) await revealLine(document, message.line - 1, 0);
        return;
      case "goto":
        if (document) await revealLine(document, message.line - 1, Math.max(message.column - 1, 0));
        return;
      case "suggest":
        this.send({ type: "suggestion", id: message.id, suggestion: this.state.suggestStage(message.value, message.names) });
        return;
      case "export":
        await saveExport(document, message.name, message.base64);
        return;
      case "options":
        if (!document) return;
        this.state.setOptions(document.uri.toString(), { targets: message.targets, build_args: message.build_args });
        this.post();
        this.onOptionsChanged(document);
        return;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.panel?.dispose();
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

/** What the preview draws greyed when the options have no plan: the outline's stages, else the last good plan. */
export function fallbackOf(planned: Planned, options: Options): PlanMessage["fallback"] {
  if (planned.outline && planned.outline.stages.length > 0) return { source: "outline", plan: outlineAsPlan(planned.outline, options) };
  return planned.lastGoodPlan ? { source: "last-good", plan: planned.lastGoodPlan } : null;
}

/** Asks where to save an export of the graph (next to the Dockerfile by default) and writes it. */
export async function saveExport(document: vscode.TextDocument | null, name: string, base64: string): Promise<void> {
  const folder = document ? vscode.Uri.joinPath(document.uri, "..") : undefined;
  const extension = name.endsWith(".png") ? "png" : "svg";
  const target = await vscode.window.showSaveDialog({
    defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
    filters: { [extension.toUpperCase()]: [extension] },
  });
  if (!target) return;
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  await vscode.workspace.fs.writeFile(target, bytes);
  void vscode.window.showInformationMessage(`Saved the stage graph to ${target.fsPath || target.path}`);
}

/** Shows `document` in its editor (or the first column), puts the cursor at (line, character) and scrolls to it. */
export async function revealLine(document: vscode.TextDocument, line: number, character: number): Promise<void> {
  const visible = vscode.window.visibleTextEditors.find((candidate) => candidate.document === document);
  const editor = await vscode.window.showTextDocument(document, {
    viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One,
    preserveFocus: false,
  });
  const position = new vscode.Position(line, character);
  editor.selection = new vscode.Selection(position, position);
  editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}
