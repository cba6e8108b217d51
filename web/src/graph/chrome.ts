// The controls around the drawing: a toolbar (find box, focus and image toggles, zoom, fit,
// exports), the canvas the drawing is panned in, the minimap and the edge tooltip.
//
// Input: the host element and its document. Output: the elements, created once, inside one
// `.sp-frame` that fills the host, with the controls' own stylesheet.
// Invariant: plain DOM, no behaviour (index.ts wires it); every control has a data-testid and an
// accessible name; colours are CSS custom properties with defaults, so a host (the VS Code
// preview) can map them to its theme.

/** The controls' stylesheet (the drawing has its own, GRAPH_CSS, inside the <svg>). */
export const FRAME_CSS = `
.sp-frame {
  --sp-control-bg: #ffffff; --sp-control-fg: #1d2433; --sp-control-border: #d0d5dd; --sp-control-active: #3867d6;
  --sp-panel-bg: rgba(255, 255, 255, 0.92); --sp-view-stroke: #e8590c;
  position: relative; display: flex; flex-direction: column; width: 100%; height: 100%; min-height: 0; overflow: hidden;
  font: 12px/1.3 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  .sp-frame {
    --sp-control-bg: #1b1e24; --sp-control-fg: #e3e7ef; --sp-control-border: #3a404c; --sp-control-active: #6d9bff;
    --sp-panel-bg: rgba(27, 30, 36, 0.92); --sp-view-stroke: #ff922b;
  }
}
.sp-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 6px; padding: 4px 6px; flex: none; }
.sp-toolbar button, .sp-toolbar input {
  font: inherit; color: var(--sp-control-fg); background: var(--sp-control-bg);
  border: 1px solid var(--sp-control-border); border-radius: 5px; padding: 2px 8px; height: 24px;
}
.sp-toolbar button { cursor: pointer; }
.sp-toolbar button:hover, .sp-toolbar button:focus-visible { border-color: var(--sp-control-active); }
.sp-toolbar button[aria-pressed="true"] { border-color: var(--sp-control-active); box-shadow: inset 0 0 0 1px var(--sp-control-active); }
.sp-toolbar input { width: 14em; }
/* The status never shrinks below its text (a clipped status would hide the suggestion's button): when
   it does not fit beside the find box it moves to a line of its own, and wraps only in a host
   narrower than the text. Empty, it takes the space left over. */
.sp-toolbar .sp-find-status { color: var(--sp-control-fg); opacity: 0.8; flex: 1 0 auto; max-width: 100%; }
.sp-toolbar .sp-find-status button { height: auto; padding: 0 4px; }
.sp-toolbar .sp-group { display: inline-flex; gap: 2px; }
.sp-canvas { position: relative; flex: 1; min-height: 0; overflow: hidden; cursor: grab; touch-action: none; outline: none; }
.sp-canvas:focus-visible { box-shadow: inset 0 0 0 2px var(--sp-control-active); }
.sp-canvas.sp-dragging { cursor: grabbing; }
.sp-canvas > svg { display: block; width: 100%; height: 100%; }
.sp-minimap {
  position: absolute; right: 8px; bottom: 8px; width: 180px; height: 120px; background: var(--sp-panel-bg);
  border: 1px solid var(--sp-control-border); border-radius: 4px; cursor: pointer;
}
.sp-minimap svg { display: block; width: 100%; height: 100%; }
.sp-minimap .sp-mini-node { fill: var(--sp-control-border); }
.sp-minimap .sp-mini-node.sp-needed { fill: var(--sp-control-active); opacity: 0.55; }
.sp-minimap .sp-mini-view { fill: none; stroke: var(--sp-view-stroke); stroke-width: 2; vector-effect: non-scaling-stroke; }
.sp-tooltip {
  position: absolute; pointer-events: none; padding: 2px 6px; border-radius: 4px; white-space: nowrap;
  background: var(--sp-panel-bg); color: var(--sp-control-fg); border: 1px solid var(--sp-control-border);
}
`;

/** The elements of the frame. */
export interface Chrome {
  frame: HTMLDivElement;
  find: HTMLInputElement;
  findStatus: HTMLSpanElement;
  focus: HTMLButtonElement;
  images: HTMLButtonElement;
  zoomOut: HTMLButtonElement;
  zoomIn: HTMLButtonElement;
  fit: HTMLButtonElement;
  exportSvg: HTMLButtonElement;
  exportPng: HTMLButtonElement;
  canvas: HTMLDivElement;
  minimap: HTMLDivElement;
  tooltip: HTMLDivElement;
}

function button(doc: Document, testId: string, text: string, title: string, toggle = false): HTMLButtonElement {
  const element = doc.createElement("button");
  element.type = "button";
  element.dataset.testid = testId;
  element.textContent = text;
  element.title = title;
  element.setAttribute("aria-label", title);
  if (toggle) element.setAttribute("aria-pressed", "false");
  return element;
}

/** Builds the frame inside `host`; `styleNonce` is set on its <style> for strict CSPs. */
export function buildChrome(host: HTMLElement, styleNonce?: string): Chrome {
  const doc = host.ownerDocument;
  const frame = doc.createElement("div");
  frame.className = "sp-frame";
  const style = doc.createElement("style");
  if (styleNonce) style.setAttribute("nonce", styleNonce);
  style.textContent = FRAME_CSS;

  const toolbar = doc.createElement("div");
  toolbar.className = "sp-toolbar";
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "stage graph controls");
  const find = doc.createElement("input");
  find.type = "search";
  find.placeholder = "Find a stage…";
  find.dataset.testid = "graph-find";
  find.setAttribute("aria-label", "find a stage by name");
  find.spellcheck = false;
  const findStatus = doc.createElement("span");
  findStatus.className = "sp-find-status";
  findStatus.dataset.testid = "graph-find-status";
  findStatus.setAttribute("aria-live", "polite");
  const focus = button(doc, "graph-focus", "Focus", "show only the stages the targets need", true);
  const images = button(doc, "graph-images", "Images", "show external images as boxes", true);
  const zoomOut = button(doc, "graph-zoom-out", "−", "zoom out (−)");
  const zoomIn = button(doc, "graph-zoom-in", "+", "zoom in (+)");
  const fit = button(doc, "graph-fit", "Fit", "show the whole graph (0)");
  const exportSvg = button(doc, "export-svg", "SVG", "export the graph as shown as SVG");
  const exportPng = button(doc, "export-png", "PNG", "export the graph as shown as PNG");
  const group = (...elements: HTMLElement[]) => {
    const span = doc.createElement("span");
    span.className = "sp-group";
    span.append(...elements);
    return span;
  };
  toolbar.append(find, findStatus, group(focus, images), group(zoomOut, zoomIn, fit), group(exportSvg, exportPng));

  const canvas = doc.createElement("div");
  canvas.className = "sp-canvas";
  canvas.tabIndex = 0;
  canvas.dataset.testid = "graph-canvas";
  canvas.setAttribute("aria-label", "stage graph: drag or use the arrow keys to pan, the wheel or + and − to zoom, 0 to fit");
  const minimap = doc.createElement("div");
  minimap.className = "sp-minimap";
  minimap.dataset.testid = "graph-minimap";
  minimap.hidden = true;
  minimap.setAttribute("aria-hidden", "true");
  const tooltip = doc.createElement("div");
  tooltip.className = "sp-tooltip";
  tooltip.dataset.testid = "graph-tooltip";
  tooltip.setAttribute("role", "tooltip");
  tooltip.hidden = true;
  canvas.append(minimap, tooltip);
  frame.append(style, toolbar, canvas);
  host.append(frame);
  return { frame, find, findStatus, focus, images, zoomOut, zoomIn, fit, exportSvg, exportPng, canvas, minimap, tooltip };
}
