// Marks drawn on a stage graph for a build: each stage filled by how long it took (six heat
// steps), a badge with its cache hits and misses, its time and size in place of its detail line,
// a ring around the stages on the critical path and those path's edges drawn thick.
//
// Input: a drawn graph (the <svg> drawSvg made) and a GraphOverlay (per stage index: heat step,
// status, badge, detail, tooltip, critical; the critical edges as stage index pairs).
// Output: the same <svg>, marked; applying another overlay (or null) first removes the old marks.
// Invariant: classes and SVG elements only, never a style attribute (the editor's webview forbids
// them), so an exported SVG keeps the marks through the graph's own stylesheet; a stage the
// overlay does not name is left as drawn.

const SVG_NS = "http://www.w3.org/2000/svg";

/** How one stage looks in a build. */
export interface StageOverlay {
  /** How long the stage took, as a heat step from 0 (fastest) to 5 (slowest); null: not built. */
  heat: number | null;
  /** Every step cached, some ran, the stage failed, or it was not built in that build. */
  status: "cached" | "ran" | "failed" | "unbuilt";
  /** The badge over the box (`2 ran · 1 cached`). */
  badge: string;
  /** Replaces the box's second line (`9.8 s · 1.9 MB`); null keeps it. */
  detail: string | null;
  /** Added to the box's tooltip. */
  title: string;
  /** On the build's critical path. */
  critical: boolean;
}

/** A build drawn over the graph. */
export interface GraphOverlay {
  /** By stage index. */
  stages: Record<number, StageOverlay>;
  /** Edges on the critical path, by the stage indices they join. */
  criticalEdges: { from: number; to: number }[];
}

/** The overlay's stylesheet (part of the graph's, so exports keep it). */
export const OVERLAY_CSS = `
.sp-graph {
  --sp-heat-0: #eef6ee; --sp-heat-1: #fdf3d4; --sp-heat-2: #fde2a6; --sp-heat-3: #fcc57a; --sp-heat-4: #f79a5a; --sp-heat-5: #ee6a4c;
  --sp-critical: #7048e8; --sp-ov-cached: #2b8a3e; --sp-ov-ran: #c2410c; --sp-ov-failed: #c92a2a; --sp-ov-unbuilt: #868e96; --sp-ov-badge-fg: #ffffff;
}
@media (prefers-color-scheme: dark) {
  .sp-graph {
  --sp-heat-0: #1d3325; --sp-heat-1: #3a3420; --sp-heat-2: #4d3b1c; --sp-heat-3: #61401a; --sp-heat-4: #753a1c; --sp-heat-5: #8c2f22;
  --sp-critical: #b197fc; --sp-ov-cached: #37b24d; --sp-ov-ran: #f76707; --sp-ov-failed: #fa5252; --sp-ov-unbuilt: #5c636a; --sp-ov-badge-fg: #101113;
  }
}
/* An editor's theme (VS Code marks the webview's body) wins over the system's scheme. */
:is(.vscode-light, .vscode-high-contrast-light) .sp-graph {
  --sp-heat-0: #eef6ee; --sp-heat-1: #fdf3d4; --sp-heat-2: #fde2a6; --sp-heat-3: #fcc57a; --sp-heat-4: #f79a5a; --sp-heat-5: #ee6a4c;
  --sp-critical: #7048e8; --sp-ov-cached: #2b8a3e; --sp-ov-ran: #c2410c; --sp-ov-failed: #c92a2a; --sp-ov-unbuilt: #868e96; --sp-ov-badge-fg: #ffffff;
}
:is(.vscode-dark, .vscode-high-contrast:not(.vscode-high-contrast-light)) .sp-graph {
  --sp-heat-0: #1d3325; --sp-heat-1: #3a3420; --sp-heat-2: #4d3b1c; --sp-heat-3: #61401a; --sp-heat-4: #753a1c; --sp-heat-5: #8c2f22;
  --sp-critical: #b197fc; --sp-ov-cached: #37b24d; --sp-ov-ran: #f76707; --sp-ov-failed: #fa5252; --sp-ov-unbuilt: #5c636a; --sp-ov-badge-fg: #101113;
}
.sp-stage.sp-ov-h0 > rect { fill: var(--sp-heat-0); }
.sp-stage.sp-ov-h1 > rect { fill: var(--sp-heat-1); }
.sp-stage.sp-ov-h2 > rect { fill: var(--sp-heat-2); }
.sp-stage.sp-ov-h3 > rect { fill: var(--sp-heat-3); }
.sp-stage.sp-ov-h4 > rect { fill: var(--sp-heat-4); }
.sp-stage.sp-ov-h5 > rect { fill: var(--sp-heat-5); }
.sp-graph .sp-stage > rect.sp-ov-ring { fill: none; stroke: var(--sp-critical); stroke-width: 3; stroke-dasharray: none; filter: none; }
.sp-graph .sp-stage.sp-ov-built .sp-detail { fill: var(--sp-fg); }
.sp-edge-group.sp-critical .sp-edge { stroke: var(--sp-critical); stroke-width: 3.2; }
.sp-ov-badge rect { stroke: none; }
.sp-ov-badge text { font-size: 9.5px; font-weight: 700; fill: var(--sp-ov-badge-fg); }
.sp-ov-badge.sp-ov-cached rect { fill: var(--sp-ov-cached); }
.sp-ov-badge.sp-ov-ran rect { fill: var(--sp-ov-ran); }
.sp-ov-badge.sp-ov-failed rect { fill: var(--sp-ov-failed); }
.sp-ov-badge.sp-ov-unbuilt rect { fill: var(--sp-ov-unbuilt); }
`;

const HEAT_CLASSES = [0, 1, 2, 3, 4, 5].map((step) => `sp-ov-h${step}`);
const MARK_CLASSES = [...HEAT_CLASSES, "sp-critical", "sp-ov-built"];

/** The width of `text` at the badge's font size (monospace advance). */
function badgeWidth(text: string): number {
  return Math.ceil([...text].length * 9.5 * 0.61) + 10;
}

/** Marks `svg` with `overlay`, removing the marks of an earlier overlay first (null: only remove). */
export function applyOverlay(svg: SVGSVGElement, overlay: GraphOverlay | null): void {
  const doc = svg.ownerDocument;
  for (const old of svg.querySelectorAll(".sp-ov-mark")) old.remove();
  for (const node of svg.querySelectorAll<SVGGElement>(".sp-node.sp-stage")) {
    node.classList.remove(...MARK_CLASSES);
    const detail = node.querySelector<SVGTextElement>(".sp-detail");
    if (detail && node.dataset.plainDetail !== undefined) {
      detail.textContent = node.dataset.plainDetail;
      delete node.dataset.plainDetail;
    }
    const title = node.querySelector("title");
    if (title && node.dataset.plainTitle !== undefined) {
      title.textContent = node.dataset.plainTitle;
      delete node.dataset.plainTitle;
    }
  }
  for (const edge of svg.querySelectorAll(".sp-edge-group.sp-critical")) edge.classList.remove("sp-critical");
  svg.classList.toggle("sp-overlaid", overlay !== null);
  if (!overlay) return;
  for (const node of svg.querySelectorAll<SVGGElement>(".sp-node.sp-stage")) {
    const mark = overlay.stages[Number(node.dataset.stageIndex)];
    const rect = node.querySelector("rect");
    if (!mark || !rect) continue;
    const width = Number(rect.getAttribute("width"));
    const height = Number(rect.getAttribute("height"));
    if (mark.heat !== null) node.classList.add("sp-ov-built", HEAT_CLASSES[Math.max(0, Math.min(5, Math.round(mark.heat)))]);
    if (mark.critical) {
      node.classList.add("sp-critical");
      const ring = doc.createElementNS(SVG_NS, "rect");
      for (const [key, value] of Object.entries({ x: -4, y: -4, width: width + 8, height: height + 8, rx: 10 })) ring.setAttribute(key, String(value));
      ring.setAttribute("class", "sp-ov-mark sp-ov-ring");
      node.insertBefore(ring, rect);
    }
    const detail = node.querySelector<SVGTextElement>(".sp-detail");
    if (detail && mark.detail !== null) {
      node.dataset.plainDetail = detail.textContent ?? "";
      detail.textContent = mark.detail;
    }
    const title = node.querySelector("title");
    if (title) {
      node.dataset.plainTitle = title.textContent ?? "";
      title.textContent = `${title.textContent}\n${mark.title}`;
    }
    if (mark.badge) {
      const badge = doc.createElementNS(SVG_NS, "g");
      badge.setAttribute("class", `sp-ov-mark sp-ov-badge sp-ov-${mark.status}`);
      badge.setAttribute("transform", `translate(8,-7)`);
      const back = doc.createElementNS(SVG_NS, "rect");
      for (const [key, value] of Object.entries({ width: badgeWidth(mark.badge), height: 13, rx: 6.5 })) back.setAttribute(key, String(value));
      const text = doc.createElementNS(SVG_NS, "text");
      text.setAttribute("x", "5");
      text.setAttribute("y", "9.8");
      text.textContent = mark.badge;
      badge.append(back, text);
      node.append(badge);
    }
  }
  for (const { from, to } of overlay.criticalEdges) {
    for (const edge of svg.querySelectorAll<SVGGElement>(`.sp-edge-group[data-from="stage-${from}"][data-to="stage-${to}"]`)) {
      edge.classList.add("sp-critical");
    }
  }
}
