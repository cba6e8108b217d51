// The playground: wires the editor, the planner (WebAssembly), the stage graph and the panels.
//
// Input: user actions (typing, choosing targets, clicking nodes, build args, platform), the URL
// hash and localStorage. Output: a re-plan ~100 ms after each change, drawn as graph, lint
// markers, diagnostics list, plan JSON and command line; the state saved and shareable.
// Invariant: every plan comes from the planner itself (no JavaScript re-implementation); when
// the file has errors, the last good graph stays visible, dimmed, so nothing jumps while typing.
import "./style.css";

import type { EditorView } from "@codemirror/view";

import { byId, copyText, download } from "./dom";
import { createEditor, goToLine, setText, showDiagnostics } from "./editor";
import { EXAMPLES } from "./examples";
import { renderStageGraph, stageAtLine } from "./graph/index";
import type { GraphViewState, StageClickDetail, StageGraph } from "./graph/index";
import { commandLines, parseBuildArgs, toOptions } from "./options";
import { renderDiagnostics, renderPlanJson, renderTargets } from "./panels";
import { RecordOverlayControl } from "./record-overlay";
import { loadPlanner, PlanService } from "./planner";
import type { Planner } from "./planner";
import { decodeHash, encodeHash, loadState, saveState } from "./share";
import type { PlaygroundState } from "./share";
import type { Outcome, Plan } from "./types/planner-types";

const REPLAN_DELAY_MS = 100;

const ui = {
  editor: byId("editor", HTMLDivElement),
  examples: byId("examples", HTMLSelectElement),
  targets: byId("targets", HTMLSelectElement),
  buildArgs: byId("build-args", HTMLTextAreaElement),
  buildArgsError: byId("build-args-error", HTMLElement),
  platform: byId("platform", HTMLInputElement),
  dockerignore: byId("dockerignore", HTMLTextAreaElement),
  graph: byId("graph", HTMLDivElement),
  diagnostics: byId("diagnostics", HTMLUListElement),
  diagCount: byId("diag-count", HTMLSpanElement),
  planJson: byId("plan-json", HTMLPreElement),
  commandLine: byId("command-line", HTMLElement),
  status: byId("status", HTMLSpanElement),
  share: byId("share", HTMLButtonElement),
  copyPlan: byId("copy-plan", HTMLButtonElement),
  downloadPlan: byId("download-plan", HTMLButtonElement),
  openRecord: byId("open-record", HTMLButtonElement),
  recordFile: byId("record-file", HTMLInputElement),
  recordBar: byId("record-bar", HTMLDivElement),
  recordSummary: byId("record-summary", HTMLSpanElement),
  clearRecord: byId("clear-record", HTMLButtonElement),
};

/** What the last re-plan produced. */
interface Current {
  outcome: Outcome | null;
  /** The plan drawn: the real one, or the plan without targets when only the targets are wrong. */
  shown: Plan | null;
  planText: string;
  millis: number;
}

class Playground {
  private targets: string[] = [];
  private graph: StageGraph | null = null;
  private timer: number | undefined;
  private cursorLine = 1;
  /** The planning worker, and the number of the latest request to it. */
  private readonly service = new PlanService();
  private requests = 0;
  /** Settles when the first plan is drawn. */
  readonly firstPlan: Promise<void>;
  /** The graph view to restore (from a share link or the last session) until the graph exists. */
  private view: GraphViewState | undefined;
  readonly current: Current = { outcome: null, shown: null, planText: "", millis: 0 };
  readonly editor: EditorView;
  /** The build record drawn over the graph. */
  private readonly records: RecordOverlayControl;

  constructor(
    readonly planner: Planner,
    initial: PlaygroundState,
  ) {
    this.editor = createEditor(ui.editor, initial.dockerfile, {
      onText: () => this.schedule(),
      onCursorLine: (line) => {
        this.cursorLine = line;
        this.markCursorStage();
      },
    });
    this.records = new RecordOverlayControl(
      {
        open: ui.openRecord,
        input: ui.recordFile,
        dropZone: ui.graph.closest<HTMLElement>(".graph-box") ?? ui.graph,
        bar: ui.recordBar,
        summary: ui.recordSummary,
        clear: ui.clearRecord,
      },
      (overlay) => this.graph?.setOverlay(overlay),
      (message) => this.say(message),
    );
    this.apply(initial, false);
    this.wire();
    this.firstPlan = this.replan();
  }

  /** The stage graph (null until the first plan), for scripting and measuring from the console. */
  graphHandle(): StageGraph | null {
    return this.graph;
  }

  /** The state as the form shows it. */
  state(): PlaygroundState {
    const state: PlaygroundState = {
      dockerfile: this.editor.state.doc.toString(),
      targets: [...this.targets],
      buildArgs: ui.buildArgs.value,
      platform: ui.platform.value,
      dockerignore: ui.dockerignore.value,
    };
    const view = this.graph?.viewState() ?? this.view;
    if (view) state.view = view;
    return state;
  }

  /** Loads a state into the form (and the editor when `withText`). */
  apply(state: PlaygroundState, withText = true): void {
    if (withText) setText(this.editor, state.dockerfile);
    this.targets = [...state.targets];
    ui.buildArgs.value = state.buildArgs;
    ui.platform.value = state.platform;
    ui.dockerignore.value = state.dockerignore;
    this.view = state.view;
    if (state.view) this.graph?.setViewState(state.view);
  }

  private wire(): void {
    ui.targets.addEventListener("change", () => {
      this.targets = [...ui.targets.selectedOptions].map((option) => option.value);
      this.replan();
    });
    ui.buildArgs.addEventListener("input", () => this.schedule());
    ui.platform.addEventListener("input", () => this.schedule());
    ui.dockerignore.addEventListener("input", () => this.schedule());
    ui.graph.addEventListener("stage-click", (event) => this.onStageClick((event as CustomEvent<StageClickDetail>).detail));
    ui.examples.addEventListener("change", () => {
      const example = EXAMPLES.find((item) => item.id === ui.examples.value);
      ui.examples.value = "";
      if (!example) return;
      this.apply({ dockerfile: example.dockerfile, targets: example.targets, buildArgs: "", platform: "", dockerignore: "" });
      this.replan();
    });
    ui.share.addEventListener("click", () => void this.share());
    ui.copyPlan.addEventListener("click", async () => {
      this.say((await copyText(this.current.planText)) ? "plan JSON copied" : "the browser refused the clipboard; use Download");
    });
    ui.downloadPlan.addEventListener("click", () => download("plan.json", this.current.planText + "\n", "application/json"));
    for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) {
      tab.addEventListener("click", () => selectTab(tab.dataset.tab ?? "diagnostics"));
    }
    window.addEventListener("hashchange", async () => {
      const state = await decodeHash(location.hash);
      if (state) {
        this.apply(state);
        this.replan();
      }
    });
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.replan(), REPLAN_DELAY_MS);
  }

  /** Plans the current text with the current options (in the worker) and redraws everything;
   * an answer that a newer request has overtaken is dropped. */
  replan(): Promise<void> {
    window.clearTimeout(this.timer);
    const text = this.editor.state.doc.toString();
    const buildArgs = parseBuildArgs(ui.buildArgs.value);
    ui.buildArgsError.textContent = buildArgs.errors.join("; ");
    const options = toOptions(this.targets, buildArgs.values, ui.platform.value, ui.dockerignore.value);
    const request = ++this.requests;
    return this.service.plan(text, options).then((response) => {
      if (request !== this.requests) return;
      if (!response.outcome) {
        this.say(`the planner failed: ${response.error ?? "no answer"}`);
        return;
      }
      const outcome = response.outcome;
      this.current.millis = response.millis;
      this.current.outcome = outcome;
      const shown = outcome.plan ?? response.fallback;
      if (shown) this.current.shown = shown;
      this.draw(outcome, shown, buildArgs.errors, response.planText);
      ui.commandLine.textContent = commandLines(options);
      saveState(safeStorage(), this.state());
    });
  }

  private draw(outcome: Outcome, shown: Plan | null, extraErrors: string[], planText: string | null): void {
    const errors = outcome.diagnostics.filter((diagnostic) => diagnostic.severity === "error").length;
    showDiagnostics(this.editor, outcome.diagnostics);
    renderDiagnostics(ui.diagnostics, outcome.diagnostics, extraErrors, (line, column) => goToLine(this.editor, line, column));
    ui.diagCount.textContent = String(outcome.diagnostics.length + extraErrors.length);
    ui.diagCount.dataset.errors = String(errors + extraErrors.length);
    renderTargets(ui.targets, this.current.shown, this.targets);
    this.current.planText = renderPlanJson(ui.planJson, planText, errors);
    ui.graph.classList.toggle("stale", !outcome.plan);
    ui.graph.dataset.state = outcome.plan ? "planned" : shown ? "targets-invalid" : "errors";
    if (this.current.shown) {
      if (this.graph) {
        this.graph.update(this.current.shown);
      } else {
        this.graph = renderStageGraph(ui.graph, this.current.shown, {
          title: "stages of the Dockerfile",
          view: this.view,
          suggest: (value, names) => this.planner.suggestStage(value, names),
        });
      }
    }
    this.records.planChanged(this.current.shown);
    this.markCursorStage();
    const plan = outcome.plan;
    if (plan) {
      const needed = plan.stages.filter((stage) => stage.needed).length;
      this.say(`${plan.stages.length} stages, ${needed} needed, ${plan.waves.length} waves · planned in ${this.current.millis.toFixed(1)} ms`);
    } else {
      this.say(`${errors} error${errors === 1 ? "" : "s"} · no plan`);
    }
  }

  private markCursorStage(): void {
    if (!this.graph || !this.current.shown) return;
    this.graph.setCurrentStage(stageAtLine(this.current.shown, this.cursorLine));
  }

  /** A click selects the stage and shows its source; a double click builds it; shift-click adds it. */
  private onStageClick(detail: StageClickDetail): void {
    const stage = this.current.shown?.stages[detail.stageIndex];
    if (!detail.double && !detail.shiftKey) {
      if (stage) goToLine(this.editor, stage.location.line);
      return;
    }
    if (detail.stageName) {
      if (detail.shiftKey) {
        const lower = this.targets.map((name) => name.toLowerCase());
        this.targets = lower.includes(detail.stageName)
          ? this.targets.filter((name) => name.toLowerCase() !== detail.stageName)
          : [...this.targets, detail.stageName];
      } else {
        this.targets = [detail.stageName];
      }
      this.replan();
    } else {
      this.say(`stage ${detail.stageIndex} has no name, so it cannot be a target; add "AS name" to its FROM`);
    }
    if (stage) goToLine(this.editor, stage.location.line);
  }

  private async share(): Promise<void> {
    const hash = await encodeHash(this.state());
    history.replaceState(null, "", hash);
    const copied = await copyText(location.href);
    this.say(copied ? "share link copied" : "share link is in the address bar");
  }

  private say(message: string): void {
    ui.status.textContent = message;
  }
}

function selectTab(name: string): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  ui.diagnostics.hidden = name !== "diagnostics";
  ui.planJson.hidden = name !== "plan";
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function fillExamples(): void {
  const placeholder = new Option("Load an example…", "");
  ui.examples.replaceChildren(placeholder, ...EXAMPLES.map((example) => new Option(example.title, example.id)));
}

async function main(): Promise<void> {
  fillExamples();
  ui.status.textContent = "loading the planner…";
  const planner = await loadPlanner();
  const fromHash = await decodeHash(location.hash);
  const seed = EXAMPLES[0];
  const initial = fromHash ??
    loadState(safeStorage()) ?? { dockerfile: seed.dockerfile, targets: seed.targets, buildArgs: "", platform: "", dockerignore: "" };
  const playground = new Playground(planner, initial);
  await playground.firstPlan;
  if (location.hash && !fromHash) ui.status.textContent = "the share link is damaged; showing the last session instead";
  document.body.dataset.ready = "true";
  // A console handle for measuring and scripting: `stageplan.plan(text, options)`.
  Object.assign(window, { stageplan: { planner, playground } });
}

main().catch((err: unknown) => {
  ui.status.textContent = `the planner failed to load: ${err instanceof Error ? err.message : String(err)}`;
  document.body.dataset.ready = "error";
});
