// The stage graph as a live component: draws a plan into its frame and keeps the drawing, the
// view (pan, zoom, focus, images), the marks (cursor, selection with lineage, find) and the
// controls in step.
//
// Input: a host element, a plan, StageGraphOptions; user gestures on the controls and drawing.
// Output: the drawing; `stage-click` and `graph-view` CustomEvents on the host; exports.
// Invariant: no globals, no planner calls (the host passes `suggest`), no storage. A re-plan whose
// picture is unchanged keeps the drawing; one that changed is laid out near the last layout.
import type { Plan } from "../types/planner-types";
import { buildChrome } from "./chrome";
import type { Chrome } from "./chrome";
import { backgroundOf, pngBlob, svgDocument } from "./export";
import { findStages } from "./find";
import { EdgeFinder } from "./hover";
import { layoutGraph } from "./layout";
import type { GraphLayout } from "./layout";
import { buildModel, lineage, stageLabel } from "./model";
import type { GraphModel, GraphView } from "./model";
import { Minimap } from "./minimap";
import { applyOverlay } from "./overlay";
import type { GraphOverlay } from "./overlay";
import { drawSvg, patchLines } from "./svg";
import type { ExportFile, GraphViewState, StageClickDetail, StageGraph, StageGraphOptions } from "./types";
import { LABEL_SCALE, Viewport } from "./viewport";

let instanceCount = 0;

/** Offers a file as a download through a temporary link. */
function download(file: ExportFile): void {
  const url = URL.createObjectURL(file.data);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Everything of a model that the picture shows, except line numbers. */
function shapeKey(model: GraphModel): string {
  return JSON.stringify([model.nodes.map((node) => ({ ...node, line: null })), model.edges.map((edge) => ({ ...edge, lines: null }))]);
}

/** The median displacement of the boxes two layouts share. */
function commonShift(before: GraphLayout, after: GraphLayout): { x: number; y: number } {
  const old = new Map(before.nodes.map((node) => [node.id, node]));
  const dx: number[] = [];
  const dy: number[] = [];
  for (const node of after.nodes) {
    const was = old.get(node.id);
    if (was) {
      dx.push(node.x - was.x);
      dy.push(node.y - was.y);
    }
  }
  const median = (values: number[]) => (values.length === 0 ? 0 : values.sort((a, b) => a - b)[Math.floor(values.length / 2)]);
  return { x: median(dx), y: median(dy) };
}

export class StageGraphComponent implements StageGraph {
  private readonly prefix = `spg${++instanceCount}-`;
  private readonly doc: Document;
  private readonly chrome: Chrome;
  private readonly viewport: Viewport;
  private readonly minimap: Minimap;
  private readonly view: GraphView;
  private readonly resizeObserver: ResizeObserver | null;
  private readonly listeners: [EventTarget, string, EventListener][] = [];
  private current: number | null;
  private selected: number | null = null;
  private found: number | null = null;
  private lastLayout: GraphLayout | null = null;
  private edgeFinder: EdgeFinder | null = null;
  private hovered: SVGGElement | null = null;
  /** The shape of the drawn model (everything but line numbers), to skip redraws that change nothing. */
  private lastKey = "";
  private svg: SVGSVGElement | null = null;
  private findCursor = { query: "", next: 0 };
  private overlay: GraphOverlay | null;

  constructor(
    private readonly host: HTMLElement,
    private shown: Plan,
    private readonly options: StageGraphOptions,
  ) {
    this.doc = host.ownerDocument;
    this.chrome = buildChrome(host, options.styleNonce);
    this.view = { focus: options.view?.focus ?? false, images: options.view?.images ?? false };
    this.current = options.currentStage ?? null;
    this.overlay = options.overlay ?? null;
    this.viewport = new Viewport(this.chrome.canvas, null, () => {
      this.minimap.update();
      this.notify();
    });
    this.minimap = new Minimap(this.chrome.minimap, this.viewport);
    this.wireDrawing();
    this.wireControls();
    this.resizeObserver =
      typeof ResizeObserver === "undefined"
        ? null
        : new ResizeObserver(() => {
            this.viewport.measure();
            if (this.viewport.fitted) this.viewport.fit();
            else this.minimap.update();
          });
    this.resizeObserver?.observe(this.chrome.canvas);
    this.draw();
    if (options.view?.zoom) this.viewport.restore(options.view.zoom);
  }

  private listen(target: EventTarget, type: string, handler: EventListener): void {
    target.addEventListener(type, handler);
    this.listeners.push([target, type, handler]);
  }

  private notify(): void {
    this.host.dispatchEvent(new CustomEvent<GraphViewState>("graph-view", { detail: this.viewState(), bubbles: true }));
  }

  /** Draws the plan; `keep` lays it out near the last layout and keeps the picture still on screen. */
  private draw(keep = false): void {
    const model = buildModel(this.shown, this.view);
    const key = shapeKey(model);
    if (keep && this.svg && this.lastLayout && key === this.lastKey) {
      // Only line numbers changed (typing inside stages): the picture stays as it is.
      this.lastLayout.nodes.forEach((node, idx) => (node.line = model.nodes[idx].line));
      this.lastLayout.edges.forEach((edge, idx) => (edge.lines = model.edges[idx].lines));
      patchLines(this.svg, this.lastLayout);
      applyOverlay(this.svg, this.overlay);
      return;
    }
    this.lastKey = key;
    const previous = keep ? this.lastLayout : null;
    const layout = layoutGraph(model, previous);
    this.lastLayout = layout;
    this.edgeFinder = new EdgeFinder(layout.edges);
    this.hovered = null;
    if (previous && !this.viewport.fitted) {
      // The layout may have moved as a whole (a box added above); move the view with it.
      const shift = commonShift(previous, layout);
      this.viewport.offsetX -= shift.x * this.viewport.scale;
      this.viewport.offsetY -= shift.y * this.viewport.scale;
    }
    const fresh = drawSvg(this.doc, layout, this.prefix, this.options.title ?? "stage graph");
    // Hidden labels are never laid out: mark the drawing before it enters the page.
    fresh.classList.toggle("sp-far", this.viewport.scaleFor(layout.width, layout.height) < LABEL_SCALE);
    // Set before the drawing enters the document: CSP checks a <style> when it is connected.
    if (this.options.styleNonce) fresh.querySelector("style")?.setAttribute("nonce", this.options.styleNonce);
    if (this.svg) this.svg.replaceWith(fresh);
    else this.chrome.canvas.prepend(fresh);
    this.svg = fresh;
    this.chrome.focus.setAttribute("aria-pressed", String(this.view.focus));
    this.chrome.images.setAttribute("aria-pressed", String(this.view.images));
    this.minimap.setLayout(layout);
    this.viewport.setContent(fresh, layout.width, layout.height);
    this.mark();
    applyOverlay(fresh, this.overlay);
  }

  /** Puts the cursor, selection (with its lineage) and find marks on the drawing. */
  private mark(): void {
    const svg = this.svg;
    if (!svg) return;
    const selected = this.selected;
    const lit = selected === null ? null : lineage(this.shown, selected);
    svg.classList.toggle("sp-has-selection", selected !== null);
    const inLineage = (id: string | undefined) => {
      if (!lit || !id?.startsWith("stage-")) return false;
      const idx = Number(id.slice(6));
      return idx === selected || lit.ancestors.has(idx) || lit.descendants.has(idx);
    };
    const is = (value: number | null, idx: string | undefined) => value !== null && idx === String(value);
    for (const node of svg.querySelectorAll<SVGGElement>(".sp-node")) {
      const idx = node.dataset.stageIndex;
      node.classList.toggle("sp-current", is(this.current, idx));
      node.classList.toggle("sp-selected", is(selected, idx));
      node.classList.toggle("sp-found", is(this.found, idx));
      node.classList.toggle("sp-lineage", inLineage(node.dataset.nodeId));
    }
    for (const edge of svg.querySelectorAll<SVGGElement>(".sp-edge-group")) {
      edge.classList.toggle("sp-lineage", inLineage(edge.dataset.from) && inLineage(edge.dataset.to));
    }
  }

  /** Clicks, double clicks, Enter/Space and the edge hover on the drawing. */
  private wireDrawing(): void {
    const canvas = this.chrome.canvas;
    this.listen(canvas, "click", (event) => {
      const mouse = event as MouseEvent;
      if (this.viewport.justDragged) return;
      if (!this.activate(mouse.target, mouse.shiftKey, false) && this.selected !== null) this.select(null);
    });
    this.listen(canvas, "dblclick", (event) => void this.activate(event.target, (event as MouseEvent).shiftKey, true));
    this.listen(canvas, "keydown", (event) => {
      const key = event as KeyboardEvent;
      if ((key.key === "Enter" || key.key === " ") && this.activate(key.target, key.shiftKey, false)) key.preventDefault();
    });
    this.listen(canvas, "pointermove", (event) => this.hover(event as PointerEvent));
    this.listen(canvas, "pointerleave", () => this.setHovered(null));
  }

  /** A click (or Enter) on a stage selects it and tells the host; on the fold marker unfolds. */
  private activate(target: EventTarget | null, shiftKey: boolean, double: boolean): boolean {
    const element = target instanceof Element ? target : null;
    const stage = element?.closest<SVGGElement>("[data-stage-index]");
    if (stage && this.chrome.canvas.contains(stage)) {
      const stageIndex = Number(stage.dataset.stageIndex);
      if (!double) this.select(stageIndex);
      const detail: StageClickDetail = { stageIndex, stageName: stage.dataset.stageName ? stage.dataset.stageName : null, shiftKey, double };
      this.host.dispatchEvent(new CustomEvent<StageClickDetail>("stage-click", { detail, bubbles: true }));
      return true;
    }
    if (element?.closest("[data-fold]")) {
      this.setViewState({ focus: false });
      return true;
    }
    return false;
  }

  /** Over an edge (not a box): the edge is marked and the tooltip names its kind and lines. */
  private hover(event: PointerEvent): void {
    const overBox = event.target instanceof Element && event.target.closest(".sp-node, .sp-minimap, .sp-tooltip");
    const box = this.chrome.canvas.getBoundingClientRect();
    const point = this.viewport.toDrawing(event.clientX - box.left, event.clientY - box.top);
    const finder = this.edgeFinder;
    const edgeIdx = overBox || this.viewport.justDragged || !finder ? -1 : finder.nearest(point.x, point.y, 5 / this.viewport.scale);
    const group = edgeIdx < 0 ? null : (this.svg?.querySelectorAll<SVGGElement>(".sp-edge-group")[edgeIdx] ?? null);
    this.setHovered(group);
    if (!group) return;
    const tooltip = this.chrome.tooltip;
    tooltip.textContent = group.dataset.description ?? "";
    tooltip.style.left = `${Math.round(event.clientX - box.left + 12)}px`;
    tooltip.style.top = `${Math.round(event.clientY - box.top + 14)}px`;
    tooltip.hidden = false;
  }

  private setHovered(group: SVGGElement | null): void {
    if (group !== this.hovered) {
      this.hovered?.classList.remove("sp-hover");
      group?.classList.add("sp-hover");
      this.hovered = group;
    }
    if (!group) this.chrome.tooltip.hidden = true;
  }

  /** The toolbar: find box, toggles, zoom, fit, exports. */
  private wireControls(): void {
    const { chrome, viewport } = this;
    this.listen(chrome.find, "keydown", (event) => {
      const key = (event as KeyboardEvent).key;
      if (key === "Enter") {
        event.preventDefault();
        void this.find(chrome.find.value);
      } else if (key === "Escape") {
        chrome.find.value = "";
        void this.find("");
      }
    });
    this.listen(chrome.find, "search", () => {
      if (chrome.find.value === "") void this.find("");
    });
    this.listen(chrome.focus, "click", () => this.setViewState({ focus: !this.view.focus }));
    this.listen(chrome.images, "click", () => this.setViewState({ images: !this.view.images }));
    this.listen(chrome.zoomIn, "click", () => viewport.step(1));
    this.listen(chrome.zoomOut, "click", () => viewport.step(-1));
    this.listen(chrome.fit, "click", () => viewport.fit());
    const baseName = this.options.fileBaseName ?? "stages";
    const deliver = (file: ExportFile) => (this.options.onExport ?? download)(file);
    this.listen(chrome.exportSvg, "click", () =>
      deliver({ name: `${baseName}.svg`, mime: "image/svg+xml", data: new Blob([this.toSvgText()], { type: "image/svg+xml" }) }),
    );
    this.listen(chrome.exportPng, "click", () => {
      this.toPngBlob().then(
        (data) => deliver({ name: `${baseName}.png`, mime: "image/png", data }),
        (err: unknown) => chrome.findStatus.replaceChildren(`PNG export failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    });
  }

  /** Shows the find result: a message, and a button for the planner's suggestion if there is one. */
  private say(message: string, suggestion?: string): string {
    const status = this.chrome.findStatus;
    status.replaceChildren(message);
    if (suggestion) {
      const link = this.doc.createElement("button");
      link.type = "button";
      link.dataset.testid = "graph-find-suggestion";
      link.textContent = suggestion;
      link.addEventListener("click", () => {
        this.chrome.find.value = suggestion;
        void this.find(suggestion);
      });
      status.append(link, "?");
    }
    return status.textContent ?? "";
  }

  /** Centres and marks a stage, unfolding it first when Focus hides it. */
  private reveal(stageIndex: number): void {
    if (this.view.focus && !this.shown.stages[stageIndex]?.needed) this.setViewState({ focus: false });
    this.found = stageIndex;
    this.mark();
    const box = this.lastLayout?.nodes.find((node) => node.stageIndex === stageIndex);
    if (box) this.viewport.centreOn(box.x + box.width / 2, box.y + box.height / 2, Math.max(this.viewport.scale, 1));
  }

  async find(query: string): Promise<string> {
    const wanted = query.trim();
    if (wanted === "") {
      this.found = null;
      this.mark();
      return this.say("");
    }
    const matches = findStages(this.shown.stages, query);
    if (matches.length > 0) {
      if (this.findCursor.query !== query) this.findCursor = { query, next: 0 };
      const nth = this.findCursor.next++ % matches.length;
      this.reveal(matches[nth]);
      const label = stageLabel(this.shown.stages[matches[nth]]);
      return this.say(matches.length === 1 ? `found ${label}` : `${label}: ${nth + 1} of ${matches.length} (Enter for the next)`);
    }
    this.found = null;
    this.mark();
    const names = this.shown.stages.flatMap((stage) => (stage.name ? [stage.name] : []));
    const suggestion = (await this.options.suggest?.(wanted.toLowerCase(), names)) ?? null;
    return suggestion ? this.say(`no stage "${wanted}"; did you mean `, suggestion) : this.say(`no stage "${wanted}"`);
  }

  update(next: Plan): void {
    // A mark stays on its stage while the file is edited, not on another file's stage of that index.
    const same = (idx: number | null) =>
      idx !== null && next.stages[idx] !== undefined && stageLabel(next.stages[idx]) === stageLabel(this.shown.stages[idx] ?? next.stages[idx]);
    if (!same(this.selected)) this.selected = null;
    if (!same(this.found)) this.found = null;
    this.shown = next;
    this.draw(true);
  }

  setCurrentStage(stageIndex: number | null): void {
    this.current = stageIndex;
    this.mark();
  }

  select(stageIndex: number | null): void {
    this.selected = stageIndex;
    this.mark();
  }

  toSvgText(): string {
    return this.svg && this.lastLayout ? svgDocument(this.svg, this.lastLayout) : "";
  }

  toPngBlob(): Promise<Blob> {
    const layout = this.lastLayout;
    if (!this.svg || !layout) return Promise.reject(new Error("nothing is drawn"));
    return pngBlob(this.toSvgText(), layout.width, layout.height, backgroundOf(this.chrome.canvas));
  }

  viewState(): GraphViewState {
    return { ...this.view, zoom: this.viewport.state() };
  }

  setViewState(next: Partial<GraphViewState>): void {
    const view = this.view;
    const redraw = (next.focus !== undefined && next.focus !== view.focus) || (next.images !== undefined && next.images !== view.images);
    if (next.focus !== undefined) view.focus = next.focus;
    if (next.images !== undefined) view.images = next.images;
    if (redraw) this.draw();
    if (next.zoom !== undefined) this.viewport.restore(next.zoom);
    else if (redraw) this.notify();
  }

  fit(): void {
    this.viewport.fit();
  }

  layout(): GraphLayout | null {
    return this.lastLayout;
  }

  setOverlay(overlay: GraphOverlay | null): void {
    this.overlay = overlay;
    if (this.svg) applyOverlay(this.svg, overlay);
  }

  destroy(): void {
    for (const [target, type, handler] of this.listeners) target.removeEventListener(type, handler);
    this.viewport.destroy();
    this.resizeObserver?.disconnect();
    this.chrome.frame.remove();
    this.svg = null;
  }
}
