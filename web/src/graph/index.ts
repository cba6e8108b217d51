// The stage graph component, shared by the playground and the editor extension's preview.
//
// Input: a host element, a plan (plan JSON v1) and options. Output: the SVG drawn into the
// element; `stage-click` CustomEvents (detail: StageClickDetail) dispatched on the element when a
// stage node is clicked or activated with Enter/Space.
// Invariant: no globals, no planner calls, no storage: the host decides what a click means.
import type { Plan } from "../types/planner-types";
import { layoutGraph } from "./layout";
import type { GraphLayout } from "./layout";
import { buildModel } from "./model";
import { drawSvg } from "./svg";

export { buildModel, stageAtLine, stageLabel } from "./model";
export type { GraphEdge, GraphModel, GraphNode } from "./model";
export { layoutGraph } from "./layout";
export { GRAPH_CSS } from "./svg";

/** What a `stage-click` event carries. */
export interface StageClickDetail {
  stageIndex: number;
  /** The stage name, or null for an unnamed stage (which cannot be a `--target`). */
  stageName: string | null;
  /** Shift was held: add to the targets instead of replacing them. */
  shiftKey: boolean;
}

export interface StageGraphOptions {
  /** Accessible name of the drawing. */
  title?: string;
  /** Stage to mark as the one under the editor's cursor. */
  currentStage?: number | null;
  /** Shrink a large drawing to fit the host (down to `minScale`), then scroll. Default true. */
  fit?: boolean;
  /** The smallest scale `fit` uses (default 0.6), so labels stay readable. */
  minScale?: number;
  /** A CSP nonce for the drawing's own <style>, for hosts whose style-src has no 'unsafe-inline'. */
  styleNonce?: string;
}

/** A graph drawn into a host element. */
export interface StageGraph {
  /** Redraws for a new plan (keeps the current-stage mark). */
  update(plan: Plan): void;
  /** Marks the stage under the cursor (null clears the mark). */
  setCurrentStage(stageIndex: number | null): void;
  /** The drawing as a standalone SVG document (for export). */
  toSvgText(): string;
  /** The last layout (sizes and positions), for tests and hosts. */
  layout(): GraphLayout | null;
  /** Removes the drawing and the listeners. */
  destroy(): void;
}

let instanceCount = 0;

/** Draws the stage graph of `plan` into `host` and returns a handle to update it. */
export function renderStageGraph(host: HTMLElement, plan: Plan, options: StageGraphOptions = {}): StageGraph {
  const prefix = `spg${++instanceCount}-`;
  const doc = host.ownerDocument;
  let current: number | null = options.currentStage ?? null;
  let lastLayout: GraphLayout | null = null;
  let svg: SVGSVGElement | null = null;

  const markCurrent = () => {
    if (!svg) return;
    for (const node of svg.querySelectorAll<SVGGElement>("[data-stage-index]")) {
      node.classList.toggle("sp-current", current !== null && node.dataset.stageIndex === String(current));
    }
  };
  const fit = () => {
    if (!svg || !lastLayout || options.fit === false) return;
    const style = doc.defaultView?.getComputedStyle(host);
    const padX = style ? parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) : 0;
    const padY = style ? parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) : 0;
    const room = { width: host.clientWidth - padX, height: host.clientHeight - padY };
    const { width, height } = lastLayout;
    if (room.width <= 0 || room.height <= 0 || width === 0) return;
    const scale = Math.max(Math.min(1, room.width / width, room.height / height), options.minScale ?? 0.6);
    svg.setAttribute("width", String(Math.round(width * scale)));
    svg.setAttribute("height", String(Math.round(height * scale)));
  };
  const draw = (next: Plan) => {
    lastLayout = layoutGraph(buildModel(next));
    const fresh = drawSvg(doc, lastLayout, prefix, options.title ?? "stage graph");
    // Set before the drawing enters the document: CSP checks a <style> when it is connected.
    if (options.styleNonce) fresh.querySelector("style")?.setAttribute("nonce", options.styleNonce);
    if (svg) svg.replaceWith(fresh);
    else host.append(fresh);
    svg = fresh;
    fit();
    markCurrent();
  };
  const resizeObserver = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => fit());
  resizeObserver?.observe(host);
  const activate = (target: EventTarget | null, shiftKey: boolean) => {
    const node = target instanceof Element ? target.closest<SVGGElement>("[data-stage-index]") : null;
    if (!node || !host.contains(node)) return;
    const detail: StageClickDetail = {
      stageIndex: Number(node.dataset.stageIndex),
      stageName: node.dataset.stageName ? node.dataset.stageName : null,
      shiftKey,
    };
    host.dispatchEvent(new CustomEvent<StageClickDetail>("stage-click", { detail, bubbles: true }));
  };
  const onClick = (event: MouseEvent) => activate(event.target, event.shiftKey);
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    activate(event.target, event.shiftKey);
  };
  host.addEventListener("click", onClick);
  host.addEventListener("keydown", onKey);
  draw(plan);

  return {
    update: draw,
    setCurrentStage(stageIndex) {
      current = stageIndex;
      markCurrent();
    },
    toSvgText() {
      if (!svg) return "";
      const copy = svg.cloneNode(true) as SVGSVGElement;
      if (lastLayout) {
        copy.setAttribute("width", String(lastLayout.width));
        copy.setAttribute("height", String(lastLayout.height));
      }
      copy.querySelectorAll(".sp-current").forEach((node) => node.classList.remove("sp-current"));
      return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
    },
    layout: () => lastLayout,
    destroy() {
      host.removeEventListener("click", onClick);
      host.removeEventListener("keydown", onKey);
      resizeObserver?.disconnect();
      svg?.remove();
      svg = null;
    },
  };
}
