// The preview's script, running in the webview: draws the shared stage graph for each plan the
// extension sends, and reports clicks, target and build-arg changes back.
//
// Input: HostMessage events on `window` (from `webview.postMessage`). Output: WebviewMessage posts
// through `acquireVsCodeApi()`; DOM updates of the toolbar, diagnostics and graph.
// Invariant: no planner here (the extension host plans and answers "did you mean"); the graph, target list, diagnostics list
// and build-args parser are the playground's own modules, imported, not copied.
import { renderStageGraph } from "../../../src/graph/index";
import { formatMs } from "../../../src/insight/format";
import { criticalSteps, recordOverlay } from "../../../src/insight/overlay";
import type { BuildRecord } from "../../../src/types/record-types";
import type { ExportFile, StageClickDetail, StageGraph } from "../../../src/graph/index";
import { parseBuildArgs } from "../../../src/options";
import { renderDiagnostics, renderTargets } from "../../../src/panels";
import type { HostMessage, PlanMessage, PreviewState, RecordMessage, WebviewMessage } from "../messages";
import type { Plan } from "../planner";

/** The part of the VS Code webview API this script uses. */
interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** The page's elements, found once. */
interface Ui {
  fileName: HTMLElement;
  targets: HTMLSelectElement;
  buildArgs: HTMLTextAreaElement;
  summary: HTMLElement;
  record: HTMLElement;
  diagnostics: HTMLElement;
  graph: HTMLElement;
}

function findUi(): Ui {
  const get = <T extends HTMLElement>(testId: string) => {
    const found = document.querySelector<T>(`[data-testid="${testId}"]`);
    if (!found) throw new Error(`the preview page has no [data-testid="${testId}"]`);
    return found;
  };
  return {
    fileName: get("file-name"),
    targets: get<HTMLSelectElement>("target-select"),
    buildArgs: get<HTMLTextAreaElement>("build-args"),
    summary: get("summary"),
    record: get("record-summary"),
    diagnostics: get("diagnostics"),
    graph: get("graph"),
  };
}

/** One line on what the plan builds: targets, needed and skipped stages, waves. */
function summarize(plan: Plan): string {
  const needed = plan.stages.filter((stage) => stage.needed).length;
  const skipped = plan.stages.length - needed;
  const targets = plan.targets.map((index) => plan.stages[index]?.name ?? `stage ${index}`).join(", ");
  return `target ${targets}: ${needed} of ${plan.stages.length} stages in ${plan.waves.length} waves` + (skipped ? `, ${skipped} skipped` : "");
}

/** One line on a build record: when it was built, what ran, the critical path, how its stages matched. */
function describeRecord(record: BuildRecord, matched: number, total: number): string {
  const steps = record.stages.flatMap((stage) => stage.steps).filter((step) => step.status !== "config");
  const ran = steps.filter((step) => step.status === "ran").length;
  const path = criticalSteps(record)
    .filter((row) => row.step.status === "ran")
    .map((row) => `${row.stage.name} #${row.step.step}`);
  const parts = [
    `last build ${record.ok ? "built" : "failed"} in ${formatMs(record.total_ms)}`,
    `${ran} of ${steps.length} steps ran`,
    path.length ? `critical path ${path.join(" → ")}` : "nothing on the critical path ran",
  ];
  if (matched < total) parts.push(`${matched} of ${total} stages of the record are in this file`);
  if (record.leaks.length) parts.push(`${record.leaks.length} leak warning${record.leaks.length === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

/** The summary's note on what is drawn while there is no plan. */
const FALLBACK_NOTE = {
  outline: " (showing the stages that could be read)",
  "last-good": " (showing the last plan that worked)",
  none: "",
} as const;

class Preview {
  private graph: StageGraph | null = null;
  private shown: Plan | null = null;
  /** The latest build record of the file's lens builds. */
  private record: BuildRecord | null = null;
  private buildArgsTimer: number | undefined;
  /** Suggestions asked of the extension host (which has the planner), by request id. */
  private readonly suggestions = new Map<number, (suggestion: string | null) => void>();
  private nextSuggestion = 0;

  constructor(
    private readonly ui: Ui,
    private readonly vscode: VsCodeApi,
    /** The page's nonce (the CSP allows the graph's <style> only with it). */
    private readonly nonce: string,
  ) {
    ui.graph.addEventListener("stage-click", (event) => {
      const detail = (event as CustomEvent<StageClickDetail>).detail;
      const stage = this.shown?.stages[detail.stageIndex];
      if (!stage) return;
      if (detail.double && detail.stageName) {
        // A double click builds the stage: it becomes the only target.
        for (const option of this.ui.targets.options) option.selected = option.value === detail.stageName;
        this.sendOptions();
      } else if (!detail.double) {
        vscode.postMessage({ type: "reveal", stageIndex: stage.index, line: stage.location.line });
      }
    });
    ui.targets.addEventListener("change", () => this.sendOptions());
    ui.buildArgs.addEventListener("input", () => {
      window.clearTimeout(this.buildArgsTimer);
      this.buildArgsTimer = window.setTimeout(() => this.sendOptions(), 250);
    });
  }

  private sendOptions(): void {
    const targets = [...this.ui.targets.selectedOptions].map((option) => option.value);
    const parsed = parseBuildArgs(this.ui.buildArgs.value);
    this.ui.buildArgs.classList.toggle("invalid", parsed.errors.length > 0);
    this.ui.buildArgs.title = parsed.errors.join("\n");
    this.vscode.postMessage({ type: "options", targets, build_args: parsed.values });
  }

  /** Draws a plan message: the plan, or greyed when there are errors, the stages that could be read (or the last good plan). */
  showPlan(message: PlanMessage): void {
    this.ui.fileName.textContent = message.fileName;
    const plan = message.plan ?? message.fallback?.plan ?? null;
    renderTargets(this.ui.targets, plan, message.options.targets);
    if (document.activeElement !== this.ui.buildArgs) {
      const text = Object.entries(message.options.build_args).map(([key, value]) => `${key}=${value}`).join("\n");
      if (parseBuildArgs(this.ui.buildArgs.value).errors.length === 0 && this.ui.buildArgs.value.trim() !== text) this.ui.buildArgs.value = text;
    }
    const errors = message.diagnostics.filter((diagnostic) => diagnostic.severity === "error").length;
    this.ui.summary.textContent = message.plan
      ? summarize(message.plan)
      : `no plan: ${errors} error${errors === 1 ? "" : "s"}${FALLBACK_NOTE[message.fallback?.source ?? "none"]}`;
    document.body.classList.toggle("stale", message.plan === null);
    renderDiagnostics(this.ui.diagnostics, message.diagnostics, [], (line, column) =>
      this.vscode.postMessage({ type: "goto", line, column }),
    );
    this.shown = plan;
    if (plan) {
      if (this.graph) this.graph.update(plan);
      else
        this.graph = renderStageGraph(this.ui.graph, plan, {
          title: `stages of ${message.fileName}`,
          styleNonce: this.nonce,
          suggest: (value, names) => this.suggest(value, names),
          onExport: (file) => void this.export(file),
        });
      this.graph.setCurrentStage(message.currentStage);
      this.drawRecord();
    } else {
      this.graph?.destroy();
      this.graph = null;
    }
    const saved: PreviewState = { uri: message.uri, fileName: message.fileName, options: message.options };
    this.vscode.setState(saved);
    document.body.dataset.ready = "true";
  }

  /** The planner's "did you mean", asked of the extension host. */
  private suggest(value: string, names: string[]): Promise<string | null> {
    const id = ++this.nextSuggestion;
    return new Promise((resolve) => {
      this.suggestions.set(id, resolve);
      this.vscode.postMessage({ type: "suggest", id, value, names });
    });
  }

  /** The host's answer to a suggestion request. */
  answerSuggestion(id: number, suggestion: string | null): void {
    this.suggestions.get(id)?.(suggestion);
    this.suggestions.delete(id);
  }

  /** A webview cannot download: the host saves the file where the user chooses. */
  private async export(file: ExportFile): Promise<void> {
    const bytes = new Uint8Array(await file.data.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    this.vscode.postMessage({ type: "export", name: file.name, mime: file.mime, base64: btoa(binary) });
  }

  /** The host's latest build record of the file (null: none). */
  showRecord(message: RecordMessage): void {
    this.record = message.record;
    this.ui.record.hidden = message.record === null && message.problem === null;
    if (message.problem) this.ui.record.textContent = `the last build record cannot be read: ${message.problem}`;
    this.drawRecord();
  }

  /** Draws the record on the graph of the plan shown (matched by stage names). */
  private drawRecord(): void {
    if (!this.graph || !this.shown || !this.record) {
      this.graph?.setOverlay(null);
      return;
    }
    const { overlay, matched, total } = recordOverlay(this.record, this.shown);
    this.graph.setOverlay(overlay);
    this.ui.record.textContent = describeRecord(this.record, matched, total);
    this.ui.record.hidden = false;
  }

  setCursor(stageIndex: number | null): void {
    this.graph?.setCurrentStage(stageIndex);
  }
}

function main(): void {
  const vscode = acquireVsCodeApi();
  // The script's own nonce: the IDL property keeps it after the browser hides the attribute.
  const nonce = document.currentScript instanceof HTMLScriptElement ? document.currentScript.nonce ?? "" : "";
  const preview = new Preview(findUi(), vscode, nonce);
  window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
    const message = event.data;
    if (message?.type === "plan") preview.showPlan(message);
    else if (message?.type === "cursor") preview.setCursor(message.currentStage);
    else if (message?.type === "suggestion") preview.answerSuggestion(message.id, message.suggestion);
    else if (message?.type === "record") preview.showRecord(message);
  });
  vscode.postMessage({ type: "ready" });
}

main();
