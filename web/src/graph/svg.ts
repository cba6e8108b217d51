// Draws a laid-out stage graph as SVG, following dockerfilegraph's conventions: stages as boxes,
// external images as dashed boxes (or a badge on the stage), FROM edges solid, COPY --from
// dashed, RUN --mount from dotted, ONBUILD edges marked; needed stages in colour, skipped ones
// greyed; targets outlined; the fold marker of skipped stages as a dashed pill.
//
// Input: a GraphLayout and a document to create elements in. Output: a standalone <svg> element
// (its own <style>, so an exported file looks the same as on screen) whose drawing sits in one
// <g class="sp-scene"> that the viewport moves and scales.
// Invariant: no globals and no event handling here; every stage node carries data-stage-index,
// data-stage-name and data-needed, every edge group data-edge-kind and a description of its kind
// and lines (the hover finds edges by geometry, hover.ts), and every id is prefixed so several graphs can share a page.
import type { EdgePath, GraphLayout, NodeBox } from "./layout";
import { METRICS } from "./layout";
import { OVERLAY_CSS } from "./overlay";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The graph's stylesheet; colours are CSS custom properties a host page may override. */
export const GRAPH_CSS = `
.sp-graph {
  --sp-fg: #1d2433; --sp-muted: #6b7385; --sp-bg: transparent;
  --sp-needed-fill: #e7efff; --sp-needed-stroke: #3867d6;
  --sp-skipped-fill: #f2f3f5; --sp-skipped-stroke: #c2c6ce; --sp-skipped-fg: #9aa0ab;
  --sp-image-fill: #ffffff; --sp-image-stroke: #7a8294;
  --sp-target: #e8590c; --sp-current: #0ca678; --sp-edge: #5d6679; --sp-onbuild: #ae3ec9;
  --sp-found: #f59f00; --sp-lineage: #3867d6;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  .sp-graph {
    --sp-fg: #e3e7ef; --sp-muted: #9aa3b5;
    --sp-needed-fill: #1f3157; --sp-needed-stroke: #6d9bff;
    --sp-skipped-fill: #23262d; --sp-skipped-stroke: #454a55; --sp-skipped-fg: #757c89;
    --sp-image-fill: #1a1d23; --sp-image-stroke: #8a93a6;
    --sp-target: #ff922b; --sp-current: #38d9a9; --sp-edge: #9aa3b5; --sp-onbuild: #da77f2;
    --sp-found: #ffd43b; --sp-lineage: #6d9bff;
  }
}
.sp-node > rect { stroke-width: 1.4; }
.sp-node text { fill: var(--sp-fg); }
.sp-node .sp-label { font-size: ${METRICS.labelSize}px; font-weight: 600; }
.sp-node .sp-detail { font-size: ${METRICS.detailSize}px; fill: var(--sp-muted); }
.sp-node .sp-wave { font-size: 10px; fill: var(--sp-muted); }
.sp-stage.sp-needed > rect { fill: var(--sp-needed-fill); stroke: var(--sp-needed-stroke); }
.sp-stage.sp-skipped > rect { fill: var(--sp-skipped-fill); stroke: var(--sp-skipped-stroke); }
.sp-stage.sp-skipped text { fill: var(--sp-skipped-fg); }
.sp-stage.sp-target > rect { stroke: var(--sp-target); stroke-width: 3; }
.sp-stage.sp-current > rect { filter: drop-shadow(0 0 3px var(--sp-current)) drop-shadow(0 0 1px var(--sp-current)); }
.sp-stage.sp-found > rect { stroke: var(--sp-found); stroke-width: 4; }
.sp-stage .sp-badge rect { fill: var(--sp-image-fill); stroke: var(--sp-image-stroke); stroke-width: 1; stroke-dasharray: 3 2; }
.sp-stage .sp-badge text { font-size: 9px; fill: var(--sp-muted); }
.sp-image > rect { fill: var(--sp-image-fill); stroke: var(--sp-image-stroke); stroke-dasharray: 5 3; }
.sp-image.sp-skipped > rect { stroke: var(--sp-skipped-stroke); }
.sp-image.sp-skipped text { fill: var(--sp-skipped-fg); }
.sp-fold > rect { fill: var(--sp-skipped-fill); stroke: var(--sp-skipped-stroke); stroke-dasharray: 4 3; }
.sp-fold text { fill: var(--sp-skipped-fg); }
.sp-stage, .sp-fold { cursor: pointer; }
.sp-stage:focus, .sp-fold:focus { outline: none; }
.sp-stage:focus-visible > rect, .sp-fold:focus-visible > rect { stroke-width: 3; }
.sp-edge { fill: none; stroke: var(--sp-edge); stroke-width: 1.5; }
.sp-edge.sp-copy { stroke-dasharray: 6 4; }
.sp-edge.sp-mount { stroke-dasharray: 1.5 3.5; stroke-linecap: round; stroke-width: 2; }
.sp-edge.sp-onbuild { stroke: var(--sp-onbuild); }
.sp-edge.sp-skipped { stroke: var(--sp-skipped-stroke); }
.sp-edge-group.sp-hover .sp-edge { stroke-width: 3.5; }
.sp-arrow { fill: var(--sp-edge); }
.sp-arrow-onbuild { fill: var(--sp-onbuild); }
.sp-arrow-skipped { fill: var(--sp-skipped-stroke); }
.sp-edge-label { font-size: 9px; fill: var(--sp-onbuild); font-weight: 600; }
.sp-has-selection .sp-node:not(.sp-lineage), .sp-has-selection .sp-edge-group:not(.sp-lineage) { opacity: 0.18; }
.sp-has-selection .sp-edge-group.sp-lineage .sp-edge { stroke: var(--sp-lineage); stroke-width: 2.2; }
.sp-stage.sp-selected > rect { stroke: var(--sp-lineage); stroke-width: 3.5; }
.sp-far .sp-node text, .sp-far .sp-edge-label { display: none; }
`;

function element<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Record<string, string | number> = {},
): SVGElementTagNameMap[K] {
  const node = doc.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** An SVG path through a route: straight where it runs level (inside a column), an S-curve with
 * level ends between columns. */
export function pathData(points: { x: number; y: number }[]): string {
  if (points.length === 0) return "";
  const fmt = (n: number) => Math.round(n * 10) / 10;
  let d = `M${fmt(points[0].x)},${fmt(points[0].y)}`;
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1];
    const to = points[i];
    if (from.y === to.y) {
      d += ` L${fmt(to.x)},${fmt(to.y)}`;
    } else {
      const half = (to.x - from.x) / 2;
      d += ` C${fmt(from.x + half)},${fmt(from.y)} ${fmt(to.x - half)},${fmt(to.y)} ${fmt(to.x)},${fmt(to.y)}`;
    }
  }
  return d;
}

function drawMarkers(doc: Document, prefix: string): SVGDefsElement {
  const defs = element(doc, "defs");
  for (const [suffix, cls] of [["", "sp-arrow"], ["-onbuild", "sp-arrow-onbuild"], ["-skipped", "sp-arrow-skipped"]]) {
    const marker = element(doc, "marker", {
      id: `${prefix}arrow${suffix}`,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(element(doc, "path", { d: "M0,0 L10,5 L0,10 z", class: cls }));
    defs.append(marker);
  }
  return defs;
}

/** What an edge is, in words: its kind and the lines that make it. */
export function edgeDescription(edge: Pick<EdgePath, "kind" | "onbuild" | "lines">): string {
  const what = edge.kind === "from" ? "FROM" : edge.kind === "copy" ? "COPY --from" : "RUN --mount from";
  return `${edge.onbuild ? "ONBUILD " : ""}${what} · line${edge.lines.length > 1 ? "s" : ""} ${edge.lines.join(", ")}`;
}

function drawEdge(doc: Document, edge: EdgePath, prefix: string): SVGGElement {
  const description = edgeDescription(edge);
  const group = element(doc, "g", {
    class: "sp-edge-group",
    "data-edge-kind": edge.kind,
    "data-from": edge.from,
    "data-to": edge.to,
    "data-description": description,
  });
  const classes = ["sp-edge", `sp-${edge.kind}`, edge.needed ? "sp-needed" : "sp-skipped"];
  if (edge.onbuild) classes.push("sp-onbuild");
  const marker = !edge.needed ? "-skipped" : edge.onbuild ? "-onbuild" : "";
  const d = pathData(edge.points);
  const path = element(doc, "path", { d, class: classes.join(" "), "marker-end": `url(#${prefix}arrow${marker})` });
  group.append(path);
  if (edge.onbuild && edge.points.length > 1) {
    const [a, b] = [edge.points[edge.points.length - 2], edge.points[edge.points.length - 1]];
    const label = element(doc, "text", { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, "text-anchor": "middle", class: "sp-edge-label" });
    label.textContent = "ONBUILD";
    group.append(label);
  }
  return group;
}

function nodeAttributes(node: NodeBox): Record<string, string | number> {
  const kindClass = node.kind === "stage" ? "sp-stage" : node.kind === "image" ? "sp-image" : "sp-fold";
  const classes = ["sp-node", kindClass, node.needed ? "sp-needed" : "sp-skipped"];
  if (node.target) classes.push("sp-target");
  const attrs: Record<string, string | number> = { class: classes.join(" "), transform: `translate(${node.x},${node.y})`, "data-node-id": node.id };
  if (node.kind === "stage") {
    attrs["data-stage-index"] = node.stageIndex ?? "";
    attrs["data-stage-name"] = node.stageName ?? "";
    attrs["data-needed"] = String(node.needed);
    attrs["data-target"] = String(node.target);
    attrs.tabindex = 0;
    attrs.role = "button";
    attrs["aria-label"] = `${node.label}, ${node.needed ? "needed" : "skipped"}${node.target ? ", target" : ""}`;
  } else if (node.kind === "image") {
    attrs["data-image"] = node.label;
    attrs["data-needed"] = String(node.needed);
  } else {
    attrs["data-fold"] = node.label;
    attrs.tabindex = 0;
    attrs.role = "button";
    attrs["aria-label"] = `${node.label} stages hidden; show them`;
  }
  return attrs;
}

/** A node's tooltip: name, what it starts from, its state, line and images. */
export function nodeTitle(node: Pick<NodeBox, "kind" | "label" | "detail" | "needed" | "wave" | "line" | "images">): string {
  const state = node.kind === "stage" ? (node.needed ? `needed, wave ${node.wave}` : "skipped") : node.kind === "image" ? (node.needed ? "pulled" : "not used") : "";
  const images = node.kind === "stage" && node.images.length > 0 ? `\nimages: ${node.images.join(", ")}` : "";
  return `${node.label}\n${node.detail}${state ? `\n${state}` : ""}${node.line ? `\nline ${node.line}` : ""}${images}`;
}

/** Updates the line numbers a drawing shows (tooltips, edge descriptions) for a model that differs
 * from the drawn one only in lines, as after typing a line above a stage: no redraw needed. */
export function patchLines(svg: SVGSVGElement, layout: GraphLayout): void {
  const nodes = svg.querySelectorAll<SVGGElement>(".sp-node");
  layout.nodes.forEach((node, idx) => {
    const title = nodes[idx]?.querySelector("title");
    if (title) title.textContent = nodeTitle(node);
  });
  const edges = svg.querySelectorAll<SVGGElement>(".sp-edge-group");
  layout.edges.forEach((edge, idx) => edges[idx]?.setAttribute("data-description", edgeDescription(edge)));
}

function drawNode(doc: Document, node: NodeBox): SVGGElement {
  const group = element(doc, "g", nodeAttributes(node));
  const title = element(doc, "title");
  title.textContent = nodeTitle(node);
  group.append(title);
  group.append(element(doc, "rect", { width: node.width, height: node.height, rx: node.kind === "image" ? 3 : node.kind === "fold" ? node.height / 2 : 7 }));
  const label = element(doc, "text", { x: METRICS.paddingX, y: 19, class: "sp-label" });
  label.textContent = node.labelText;
  const detail = element(doc, "text", { x: METRICS.paddingX, y: 36, class: "sp-detail" });
  detail.textContent = node.detailText;
  group.append(label, detail);
  if (node.kind === "stage" && node.wave !== null) {
    const wave = element(doc, "text", { x: node.width - 8, y: 15, "text-anchor": "end", class: "sp-wave" });
    wave.textContent = `w${node.wave}`;
    group.append(wave);
  }
  if (node.kind === "stage" && node.images.length > 0) group.append(drawBadge(doc, node));
  return group;
}

/** The badge of the external images a stage uses, on its bottom edge. */
function drawBadge(doc: Document, node: NodeBox): SVGGElement {
  const text = node.images.length === 1 ? "1 image" : `${node.images.length} images`;
  const width = Math.ceil(text.length * 9 * METRICS.charAdvance) + 10;
  const badge = element(doc, "g", {
    class: "sp-badge",
    "data-images": node.images.join(" "),
    transform: `translate(${node.width - width - 8},${node.height - METRICS.badgeSize / 2})`,
  });
  badge.append(element(doc, "rect", { width, height: METRICS.badgeSize + 2, rx: 3 }));
  const label = element(doc, "text", { x: 5, y: 9.5 });
  label.textContent = text;
  badge.append(label);
  return badge;
}

/** Draws `layout` as a standalone SVG element; `prefix` keeps marker ids unique on the page. */
export function drawSvg(doc: Document, layout: GraphLayout, prefix: string, title: string): SVGSVGElement {
  const svg = element(doc, "svg", { xmlns: SVG_NS, class: "sp-graph", role: "img", "aria-label": title });
  const style = element(doc, "style");
  style.textContent = GRAPH_CSS + OVERLAY_CSS;
  svg.append(style, drawMarkers(doc, prefix));
  const scene = element(doc, "g", { class: "sp-scene" });
  const edges = element(doc, "g", { class: "sp-edges" });
  for (const edge of layout.edges) edges.append(drawEdge(doc, edge, prefix));
  const nodes = element(doc, "g", { class: "sp-nodes" });
  for (const node of layout.nodes) nodes.append(drawNode(doc, node));
  scene.append(edges, nodes);
  svg.append(scene);
  return svg;
}
