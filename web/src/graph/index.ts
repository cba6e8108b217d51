// The stage graph component, shared by the playground and the editor extension's preview.
//
// Input: a host element, a plan (plan JSON v1) and options. Output: the graph drawn into the host
// with its controls (find, focus, images, zoom, fit, exports, minimap); `stage-click`
// CustomEvents (detail: StageClickDetail) when a stage is clicked, double-clicked or activated
// with Enter/Space, and `graph-view` CustomEvents (detail: GraphViewState) when the view changes.
// Invariant: no globals, no planner calls (the host passes the planner's suggestion function),
// no storage: the host decides what a click means and what to keep.
import type { Plan } from "../types/planner-types";
import { buildChrome } from "./chrome";
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
import { LABEL_SCALE, Viewport } from "./viewport";
import type { ZoomState } from "./viewport";

export { buildModel, DEFAULT_VIEW, lineage, stageAtLine, stageLabel, stageLayers } from "./model";
export type { GraphEdge, GraphModel, GraphNode, GraphView } from "./model";
export { layoutGraph, METRICS } from "./layout";
export type { GraphLayout } from "./layout";
export { GRAPH_CSS } from "./svg";
export { countCrossings } from "./crossings";
export { findStages } from "./find";
export type { ZoomState } from "./viewport";
export { applyOverlay, OVERLAY_CSS } from "./overlay";
export type { GraphOverlay, StageOverlay } from "./overlay";

/** The views the layout-quality script measures. */
export const MEASURED_VIEWS: [string, GraphView][] = [
  ["every stage, image boxes", { focus: false, images: true }],
  ["every stage, image badges", { focus: false, images: false }],
  ["focus, image badges", { focus: true, images: false }],
];

/** What a `stage-click` event carries. */
export interface StageClickDetail {
  stageIndex: number;
  /** The stage name, or null for an unnamed stage (which cannot be a `--target`). */
  stageName: string | null;
  /** Shift was held. */
  shiftKey: boolean;
  /** A double click. */
  double: boolean;
}

/** The view as a share link restores it. */
export interface GraphViewState extends GraphView {
  /** The zoom and centre; null shows the whole graph. */
  zoom: ZoomState | null;
}

/** A file an export made. */
export interface ExportFile {
  name: string;
  mime: string;
  data: Blob;
}

/** The planner's "did you mean" for a stage name (may answer asynchronously). */
export type SuggestStage = (value: string, names: string[]) => string | null | undefined | Promise<string | null | undefined>;

export interface StageGraphOptions {
  /** Accessible name of the drawing. */
  title?: string;
  /** Stage to mark as the one under the editor's cursor. */
  currentStage?: number | null;
  /** A CSP nonce for the component's <style> elements, for hosts whose style-src has no 'unsafe-inline'. */
  styleNonce?: string;
  /** The view to start with (focus, images, zoom). */
  view?: Partial<GraphViewState>;
  /** The planner's suggestion for a name the find box does not know. */
  suggest?: SuggestStage;
  /** Receives exported files; by default they are offered as downloads. */
  onExport?: (file: ExportFile) => void;
  /** Base name of exported files (default `stages`). */
  fileBaseName?: string;
  /** A build drawn over the graph (times, cache hits and misses, the critical path). */
  overlay?: GraphOverlay | null;
}

/** A graph drawn into a host element. */
export interface StageGraph {
  /** Redraws for a new plan; keeps the view, the selection and the current-stage mark. */
  update(plan: Plan): void;
  /** Marks the stage under the cursor (null clears the mark). */
  setCurrentStage(stageIndex: number | null): void;
  /** Selects a stage: its ancestors and descendants stay lit, the rest dims (null clears). */
  select(stageIndex: number | null): void;
  /** Finds a stage by name, centres and marks it; resolves to the message shown. */
  find(query: string): Promise<string>;
  /** The drawing as shown, as a standalone SVG document. */
  toSvgText(): string;
  /** The drawing as shown, as a PNG picture. */
  toPngBlob(): Promise<Blob>;
  /** The current view (for share links). */
  viewState(): GraphViewState;
  /** Changes the view (focus, images, zoom). */
  setViewState(view: Partial<GraphViewState>): void;
  /** Shows the whole graph. */
  fit(): void;
  /** The last layout (sizes and positions), for tests and hosts. */
  layout(): GraphLayout | null;
  /** Draws a build over the graph (null removes it); kept across redraws. */
  setOverlay(overlay: GraphOverlay | null): void;
  /** Removes the drawing and the listeners. */
  destroy(): void;
}

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

/** Draws the stage graph of `plan` into `host` and returns a handle to update it. */
export function renderStageGraph(host: HTMLElement, plan: Plan, options: StageGraphOptions = {}): StageGraph {
  const prefix = `spg${++instanceCount}-`;
  const doc = host.ownerDocument;
  const chrome = buildChrome(host, options.styleNonce);
  const view: GraphView = { focus: options.view?.focus ?? false, images: options.view?.images ?? false };
  let current: number | null = options.currentStage ?? null;
  let selected: number | null = null;
  let found: number | null = null;
  let shown = plan;
  let lastLayout: GraphLayout | null = null;
  let edgeFinder: EdgeFinder | null = null;
  /** The shape of the drawn model (everything but line numbers), to skip redraws that change nothing. */
  let lastKey = "";
  let svg: SVGSVGElement | null = null;
  let findCursor = { query: "", next: 0 };
  let overlay: GraphOverlay | null = options.overlay ?? null;

  const notify = () => host.dispatchEvent(new CustomEvent<GraphViewState>("graph-view", { detail: state(), bubbles: true }));
  const viewport = new Viewport(chrome.canvas, null, () => {
    minimap.update();
    notify();
  });
  const minimap = new Minimap(chrome.minimap, viewport);
  const state = (): GraphViewState => ({ ...view, zoom: viewport.state() });

  const mark = () => {
    if (!svg) return;
    const lit = selected === null ? null : lineage(shown, selected);
    svg.classList.toggle("sp-has-selection", selected !== null);
    const inLineage = (id: string | null) => {
      if (!lit || id === null || !id.startsWith("stage-")) return false;
      const idx = Number(id.slice(6));
      return idx === selected || lit.ancestors.has(idx) || lit.descendants.has(idx);
    };
    for (const node of svg.querySelectorAll<SVGGElement>(".sp-node")) {
      const idx = node.dataset.stageIndex;
      node.classList.toggle("sp-current", current !== null && idx === String(current));
      node.classList.toggle("sp-selected", selected !== null && idx === String(selected));
      node.classList.toggle("sp-found", found !== null && idx === String(found));
      node.classList.toggle("sp-lineage", inLineage(node.dataset.nodeId ?? null));
    }
    for (const edge of svg.querySelectorAll<SVGGElement>(".sp-edge-group")) {
      edge.classList.toggle("sp-lineage", inLineage(edge.dataset.from ?? null) && inLineage(edge.dataset.to ?? null));
    }
  };
  /** Draws the plan; `keep` lays it out near the last layout and keeps the picture still on screen. */
  const draw = (keep = false) => {
    const model = buildModel(shown, view);
    const key = shapeKey(model);
    if (keep && svg && lastLayout && key === lastKey) {
      // Only line numbers changed (typing inside stages): the picture stays as it is.
      lastLayout.nodes.forEach((node, idx) => (node.line = model.nodes[idx].line));
      lastLayout.edges.forEach((edge, idx) => (edge.lines = model.edges[idx].lines));
      patchLines(svg, lastLayout);
      applyOverlay(svg, overlay);
      return;
    }
    lastKey = key;
    const previous = keep ? lastLayout : null;
    lastLayout = layoutGraph(model, previous);
    edgeFinder = new EdgeFinder(lastLayout.edges);
    hovered = null;
    if (previous && !viewport.fitted) {
      // The layout may have moved as a whole (a box added above); move the view with it.
      const shift = commonShift(previous, lastLayout);
      viewport.offsetX -= shift.x * viewport.scale;
      viewport.offsetY -= shift.y * viewport.scale;
    }
    const fresh = drawSvg(doc, lastLayout, prefix, options.title ?? "stage graph");
    // Hidden labels are never laid out: mark the drawing before it enters the page.
    fresh.classList.toggle("sp-far", viewport.scaleFor(lastLayout.width, lastLayout.height) < LABEL_SCALE);
    // Set before the drawing enters the document: CSP checks a <style> when it is connected.
    if (options.styleNonce) fresh.querySelector("style")?.setAttribute("nonce", options.styleNonce);
    if (svg) svg.replaceWith(fresh);
    else chrome.canvas.prepend(fresh);
    svg = fresh;
    chrome.focus.setAttribute("aria-pressed", String(view.focus));
    chrome.images.setAttribute("aria-pressed", String(view.images));
    minimap.setLayout(lastLayout);
    viewport.setContent(fresh, lastLayout.width, lastLayout.height);
    mark();
    applyOverlay(fresh, overlay);
  };
  const setView = (next: Partial<GraphViewState>) => {
    const redraw = (next.focus !== undefined && next.focus !== view.focus) || (next.images !== undefined && next.images !== view.images);
    if (next.focus !== undefined) view.focus = next.focus;
    if (next.images !== undefined) view.images = next.images;
    if (redraw) draw();
    if (next.zoom !== undefined) viewport.restore(next.zoom);
    else if (redraw) notify();
  };

  const emitStage = (node: SVGGElement, shiftKey: boolean, double: boolean) => {
    const stageIndex = Number(node.dataset.stageIndex);
    if (!double) {
      selected = stageIndex;
      mark();
    }
    const detail: StageClickDetail = { stageIndex, stageName: node.dataset.stageName ? node.dataset.stageName : null, shiftKey, double };
    host.dispatchEvent(new CustomEvent<StageClickDetail>("stage-click", { detail, bubbles: true }));
  };
  const activate = (target: EventTarget | null, shiftKey: boolean, double: boolean): boolean => {
    const element = target instanceof Element ? target : null;
    const stage = element?.closest<SVGGElement>("[data-stage-index]");
    if (stage && chrome.canvas.contains(stage)) {
      emitStage(stage, shiftKey, double);
      return true;
    }
    if (element?.closest("[data-fold]")) {
      setView({ focus: false });
      return true;
    }
    return false;
  };
  const onClick = (event: MouseEvent) => {
    if (viewport.justDragged) return;
    if (!activate(event.target, event.shiftKey, false) && selected !== null) {
      selected = null;
      mark();
    }
  };
  const onDoubleClick = (event: MouseEvent) => void activate(event.target, event.shiftKey, true);
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    if (activate(event.target, event.shiftKey, false)) event.preventDefault();
  };
  /** Over an edge (not a box): the edge is marked and the tooltip names its kind and lines. */
  let hovered: SVGGElement | null = null;
  const onEdgeOver = (event: PointerEvent) => {
    const overBox = event.target instanceof Element && event.target.closest(".sp-node, .sp-minimap, .sp-tooltip");
    const box = chrome.canvas.getBoundingClientRect();
    const point = viewport.toDrawing(event.clientX - box.left, event.clientY - box.top);
    const edgeIdx = overBox || viewport.justDragged || !edgeFinder ? -1 : edgeFinder.nearest(point.x, point.y, 5 / viewport.scale);
    const group = edgeIdx < 0 ? null : (svg?.querySelectorAll<SVGGElement>(".sp-edge-group")[edgeIdx] ?? null);
    if (group !== hovered) {
      hovered?.classList.remove("sp-hover");
      group?.classList.add("sp-hover");
      hovered = group;
    }
    if (!group) {
      chrome.tooltip.hidden = true;
      return;
    }
    chrome.tooltip.textContent = group.dataset.description ?? "";
    chrome.tooltip.style.left = `${Math.round(event.clientX - box.left + 12)}px`;
    chrome.tooltip.style.top = `${Math.round(event.clientY - box.top + 14)}px`;
    chrome.tooltip.hidden = false;
  };
  chrome.canvas.addEventListener("click", onClick);
  chrome.canvas.addEventListener("dblclick", onDoubleClick);
  chrome.canvas.addEventListener("keydown", onKey);
  chrome.canvas.addEventListener("pointermove", onEdgeOver);
  chrome.canvas.addEventListener("pointerleave", () => {
    chrome.tooltip.hidden = true;
    hovered?.classList.remove("sp-hover");
    hovered = null;
  });

  const reveal = (stageIndex: number) => {
    if (view.focus && !shown.stages[stageIndex]?.needed) setView({ focus: false });
    found = stageIndex;
    mark();
    const box = lastLayout?.nodes.find((node) => node.stageIndex === stageIndex);
    if (box) viewport.centreOn(box.x + box.width / 2, box.y + box.height / 2, Math.max(viewport.scale, 1));
  };
  const find = async (query: string): Promise<string> => {
    const matches = findStages(shown.stages, query);
    const say = (message: string, suggestion?: string) => {
      chrome.findStatus.replaceChildren(message);
      if (suggestion) {
        const link = doc.createElement("button");
        link.type = "button";
        link.dataset.testid = "graph-find-suggestion";
        link.textContent = suggestion;
        link.addEventListener("click", () => {
          chrome.find.value = suggestion;
          void find(suggestion);
        });
        chrome.findStatus.append(link, "?");
      }
      return chrome.findStatus.textContent ?? "";
    };
    if (query.trim() === "") {
      found = null;
      mark();
      return say("");
    }
    if (matches.length > 0) {
      findCursor = findCursor.query === query ? { query, next: findCursor.next } : { query, next: 0 };
      const stageIndex = matches[findCursor.next % matches.length];
      findCursor.next++;
      reveal(stageIndex);
      const label = stageLabel(shown.stages[stageIndex]);
      return say(matches.length === 1 ? `found ${label}` : `${label}: ${((findCursor.next - 1) % matches.length) + 1} of ${matches.length} (Enter for the next)`);
    }
    found = null;
    mark();
    const names = shown.stages.flatMap((stage) => (stage.name ? [stage.name] : []));
    const suggestion = (await options.suggest?.(query.trim().toLowerCase(), names)) ?? null;
    return suggestion ? say(`no stage "${query.trim()}"; did you mean `, suggestion) : say(`no stage "${query.trim()}"`);
  };
  chrome.find.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      void find(chrome.find.value);
    } else if (event.key === "Escape") {
      chrome.find.value = "";
      void find("");
    }
  });
  chrome.find.addEventListener("search", () => {
    if (chrome.find.value === "") void find("");
  });

  const baseName = options.fileBaseName ?? "stages";
  const deliver = (file: ExportFile) => (options.onExport ?? download)(file);
  const toSvgText = () => (svg && lastLayout ? svgDocument(svg, lastLayout) : "");
  const toPngBlob = () => {
    if (!svg || !lastLayout) return Promise.reject(new Error("nothing is drawn"));
    return pngBlob(toSvgText(), lastLayout.width, lastLayout.height, backgroundOf(chrome.canvas));
  };
  chrome.exportSvg.addEventListener("click", () => deliver({ name: `${baseName}.svg`, mime: "image/svg+xml", data: new Blob([toSvgText()], { type: "image/svg+xml" }) }));
  chrome.exportPng.addEventListener("click", () => {
    toPngBlob().then(
      (data) => deliver({ name: `${baseName}.png`, mime: "image/png", data }),
      (err: unknown) => chrome.findStatus.replaceChildren(`PNG export failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  chrome.focus.addEventListener("click", () => setView({ focus: !view.focus }));
  chrome.images.addEventListener("click", () => setView({ images: !view.images }));
  chrome.zoomIn.addEventListener("click", () => viewport.step(1));
  chrome.zoomOut.addEventListener("click", () => viewport.step(-1));
  chrome.fit.addEventListener("click", () => viewport.fit());

  const resizeObserver = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
    viewport.measure();
    if (viewport.fitted) viewport.fit();
    else minimap.update();
  });
  resizeObserver?.observe(chrome.canvas);
  draw();
  if (options.view?.zoom) viewport.restore(options.view.zoom);

  return {
    update(next) {
      // A mark stays on its stage while the file is edited, not on another file's stage of that index.
      const same = (idx: number | null) => idx !== null && next.stages[idx] !== undefined && stageLabel(next.stages[idx]) === stageLabel(shown.stages[idx] ?? next.stages[idx]);
      if (!same(selected)) selected = null;
      if (!same(found)) found = null;
      shown = next;
      draw(true);
    },
    setCurrentStage(stageIndex) {
      current = stageIndex;
      mark();
    },
    select(stageIndex) {
      selected = stageIndex;
      mark();
    },
    find,
    toSvgText,
    toPngBlob,
    viewState: state,
    setViewState: setView,
    fit: () => viewport.fit(),
    layout: () => lastLayout,
    setOverlay(next) {
      overlay = next;
      if (svg) applyOverlay(svg, overlay);
    },
    destroy() {
      chrome.canvas.removeEventListener("click", onClick);
      chrome.canvas.removeEventListener("dblclick", onDoubleClick);
      chrome.canvas.removeEventListener("keydown", onKey);
      chrome.canvas.removeEventListener("pointermove", onEdgeOver);
      viewport.destroy();
      resizeObserver?.disconnect();
      chrome.frame.remove();
      svg = null;
    },
  };
}
