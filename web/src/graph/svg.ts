// Draws a laid-out stage graph as SVG, following dockerfilegraph's conventions: stages as boxes,
// external images as dashed boxes, FROM edges solid, COPY --from dashed, RUN --mount from
// dotted, ONBUILD edges marked; needed stages in colour, skipped ones greyed; targets outlined.
//
// Input: a GraphLayout and a document to create elements in. Output: a standalone <svg> element
// (its own <style>, so an exported file looks the same as on screen).
// Invariant: no globals and no event handling here; every stage node carries data-stage-index,
// data-stage-name and data-needed, and every id is prefixed so several graphs can share a page.
import type { EdgePath, GraphLayout, NodeBox } from "./layout";
import { METRICS } from "./layout";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The graph's stylesheet; colours are CSS custom properties a host page may override. */
export const GRAPH_CSS = `
.sp-graph {
  --sp-fg: #1d2433; --sp-muted: #6b7385; --sp-bg: transparent;
  --sp-needed-fill: #e7efff; --sp-needed-stroke: #3867d6;
  --sp-skipped-fill: #f2f3f5; --sp-skipped-stroke: #c2c6ce; --sp-skipped-fg: #9aa0ab;
  --sp-image-fill: #ffffff; --sp-image-stroke: #7a8294;
  --sp-target: #e8590c; --sp-current: #0ca678; --sp-edge: #5d6679; --sp-onbuild: #ae3ec9;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  .sp-graph {
    --sp-fg: #e3e7ef; --sp-muted: #9aa3b5;
    --sp-needed-fill: #1f3157; --sp-needed-stroke: #6d9bff;
    --sp-skipped-fill: #23262d; --sp-skipped-stroke: #454a55; --sp-skipped-fg: #757c89;
    --sp-image-fill: #1a1d23; --sp-image-stroke: #8a93a6;
    --sp-target: #ff922b; --sp-current: #38d9a9; --sp-edge: #9aa3b5; --sp-onbuild: #da77f2;
  }
}
.sp-node rect { stroke-width: 1.4; }
.sp-node text { fill: var(--sp-fg); }
.sp-node .sp-label { font-size: ${METRICS.labelSize}px; font-weight: 600; }
.sp-node .sp-detail { font-size: ${METRICS.detailSize}px; fill: var(--sp-muted); }
.sp-node .sp-wave { font-size: 10px; fill: var(--sp-muted); }
.sp-stage.sp-needed rect { fill: var(--sp-needed-fill); stroke: var(--sp-needed-stroke); }
.sp-stage.sp-skipped rect { fill: var(--sp-skipped-fill); stroke: var(--sp-skipped-stroke); }
.sp-stage.sp-skipped text { fill: var(--sp-skipped-fg); }
.sp-stage.sp-target rect { stroke: var(--sp-target); stroke-width: 3; }
.sp-stage.sp-current rect { filter: drop-shadow(0 0 3px var(--sp-current)) drop-shadow(0 0 1px var(--sp-current)); }
.sp-image rect { fill: var(--sp-image-fill); stroke: var(--sp-image-stroke); stroke-dasharray: 5 3; }
.sp-image.sp-skipped rect { stroke: var(--sp-skipped-stroke); }
.sp-image.sp-skipped text { fill: var(--sp-skipped-fg); }
.sp-stage { cursor: pointer; }
.sp-stage:focus { outline: none; }
.sp-stage:focus-visible rect { stroke-width: 3; }
.sp-edge { fill: none; stroke: var(--sp-edge); stroke-width: 1.5; }
.sp-edge.sp-copy { stroke-dasharray: 6 4; }
.sp-edge.sp-mount { stroke-dasharray: 1.5 3.5; stroke-linecap: round; stroke-width: 2; }
.sp-edge.sp-onbuild { stroke: var(--sp-onbuild); }
.sp-edge.sp-skipped { stroke: var(--sp-skipped-stroke); }
.sp-arrow { fill: var(--sp-edge); }
.sp-arrow-onbuild { fill: var(--sp-onbuild); }
.sp-arrow-skipped { fill: var(--sp-skipped-stroke); }
.sp-edge-label { font-size: 9px; fill: var(--sp-onbuild); font-weight: 600; }
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

/** An SVG path through dagre's points, smoothed with quadratic curves. */
export function pathData(points: { x: number; y: number }[]): string {
  if (points.length === 0) return "";
  const fmt = (n: number) => Math.round(n * 10) / 10;
  let d = `M${fmt(points[0].x)},${fmt(points[0].y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const mid = { x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2 };
    d += ` Q${fmt(points[i].x)},${fmt(points[i].y)} ${fmt(mid.x)},${fmt(mid.y)}`;
  }
  const last = points[points.length - 1];
  return d + ` L${fmt(last.x)},${fmt(last.y)}`;
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

function drawEdge(doc: Document, edge: EdgePath, prefix: string): SVGGElement {
  const group = element(doc, "g", { class: "sp-edge-group", "data-edge-kind": edge.kind, "data-from": edge.from, "data-to": edge.to });
  const classes = ["sp-edge", `sp-${edge.kind}`, edge.needed ? "sp-needed" : "sp-skipped"];
  if (edge.onbuild) classes.push("sp-onbuild");
  const marker = !edge.needed ? "-skipped" : edge.onbuild ? "-onbuild" : "";
  const path = element(doc, "path", { d: pathData(edge.points), class: classes.join(" "), "marker-end": `url(#${prefix}arrow${marker})` });
  const title = element(doc, "title");
  const what = edge.kind === "from" ? "FROM" : edge.kind === "copy" ? "COPY --from" : "RUN --mount from";
  title.textContent = `${edge.onbuild ? "ONBUILD " : ""}${what} (line ${edge.lines.join(", ")})`;
  path.append(title);
  group.append(path);
  if (edge.onbuild && edge.points.length > 0) {
    const mid = edge.points[Math.floor(edge.points.length / 2)];
    const label = element(doc, "text", { x: mid.x, y: mid.y - 4, "text-anchor": "middle", class: "sp-edge-label" });
    label.textContent = "ONBUILD";
    group.append(label);
  }
  return group;
}

function drawNode(doc: Document, node: NodeBox): SVGGElement {
  const classes = ["sp-node", node.kind === "stage" ? "sp-stage" : "sp-image", node.needed ? "sp-needed" : "sp-skipped"];
  if (node.target) classes.push("sp-target");
  const attrs: Record<string, string | number> = { class: classes.join(" "), transform: `translate(${node.x},${node.y})` };
  if (node.kind === "stage") {
    attrs["data-stage-index"] = node.stageIndex ?? "";
    attrs["data-stage-name"] = node.stageName ?? "";
    attrs["data-needed"] = String(node.needed);
    attrs["data-target"] = String(node.target);
    attrs.tabindex = 0;
    attrs.role = "button";
    attrs["aria-label"] = `${node.label}, ${node.needed ? "needed" : "skipped"}${node.target ? ", target" : ""}`;
  } else {
    attrs["data-image"] = node.label;
    attrs["data-needed"] = String(node.needed);
  }
  const group = element(doc, "g", attrs);
  const title = element(doc, "title");
  const state = node.kind === "stage" ? (node.needed ? `needed, wave ${node.wave}` : "skipped") : node.needed ? "pulled" : "not used";
  title.textContent = `${node.label}\n${node.detail}\n${state}${node.line ? `\nline ${node.line}` : ""}`;
  group.append(title);
  group.append(element(doc, "rect", { width: node.width, height: node.height, rx: node.kind === "stage" ? 7 : 3 }));
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
  return group;
}

/** Draws `layout` as a standalone SVG element; `prefix` keeps marker ids unique on the page. */
export function drawSvg(doc: Document, layout: GraphLayout, prefix: string, title: string): SVGSVGElement {
  const width = Math.max(layout.width, 1);
  const height = Math.max(layout.height, 1);
  const svg = element(doc, "svg", {
    xmlns: SVG_NS,
    class: "sp-graph",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": title,
  });
  const style = element(doc, "style");
  style.textContent = GRAPH_CSS;
  svg.append(style, drawMarkers(doc, prefix));
  const edges = element(doc, "g", { class: "sp-edges" });
  for (const edge of layout.edges) edges.append(drawEdge(doc, edge, prefix));
  const nodes = element(doc, "g", { class: "sp-nodes" });
  for (const node of layout.nodes) nodes.append(drawNode(doc, node));
  svg.append(edges, nodes);
  return svg;
}
