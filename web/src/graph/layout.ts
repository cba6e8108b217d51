// Places the graph model's boxes and routes its arrows with dagre, left to right.
//
// Input: a GraphModel. Output: a GraphLayout: every node's box and every edge's polyline, in SVG
// user units, plus the overall size.
// Invariant: pure (no DOM: text widths are estimated from the monospace font's advance, so the
// layout does not depend on measuring); dependencies are always left of their dependents, so
// the parallel waves read as columns from left to right.
import { Graph, layout } from "@dagrejs/dagre";

import type { GraphEdge, GraphModel, GraphNode } from "./model";

/** Font metrics the drawing uses; the layout sizes boxes from them. */
export const METRICS = {
  labelSize: 13,
  detailSize: 11,
  /** Advance of one monospace character as a fraction of the font size. */
  charAdvance: 0.61,
  paddingX: 14,
  height: 46,
  maxDetailChars: 34,
  maxLabelChars: 30,
};

/** Space around the drawing. */
const MARGIN = 12;

export interface NodeBox extends GraphNode {
  /** Top-left corner and size. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** The texts as drawn (shortened with an ellipsis when too long). */
  labelText: string;
  detailText: string;
}

export interface EdgePath extends GraphEdge {
  points: { x: number; y: number }[];
}

export interface GraphLayout {
  nodes: NodeBox[];
  edges: EdgePath[];
  width: number;
  height: number;
}

/** `text` cut to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  return [...text].length <= max ? text : [...text].slice(0, max - 1).join("") + "…";
}

function textWidth(text: string, size: number): number {
  return [...text].length * size * METRICS.charAdvance;
}

/** Lays out a model; an empty model gives an empty layout. */
export function layoutGraph(model: GraphModel): GraphLayout {
  const graph = new Graph({ multigraph: true });
  graph.setGraph({ rankdir: "LR", nodesep: 16, ranksep: 56, edgesep: 12, marginx: 0, marginy: 0 });
  graph.setDefaultEdgeLabel(() => ({}));
  const texts = new Map<string, { labelText: string; detailText: string }>();
  for (const node of model.nodes) {
    const labelText = shorten(node.label, METRICS.maxLabelChars);
    const detailText = shorten(node.detail, METRICS.maxDetailChars);
    texts.set(node.id, { labelText, detailText });
    const width = Math.ceil(
      Math.max(textWidth(labelText, METRICS.labelSize) + (node.wave !== null ? 44 : 0), textWidth(detailText, METRICS.detailSize), 64) +
        2 * METRICS.paddingX,
    );
    graph.setNode(node.id, { width, height: METRICS.height });
  }
  for (const edge of model.edges) {
    graph.setEdge(edge.from, edge.to, { weight: edge.kind === "from" ? 2 : 1 }, edge.id);
  }
  layout(graph);

  const nodes: NodeBox[] = model.nodes.map((node) => {
    const placed = graph.node(node.id) as { x: number; y: number; width: number; height: number };
    return {
      ...node,
      ...texts.get(node.id)!,
      x: placed.x - placed.width / 2,
      y: placed.y - placed.height / 2,
      width: placed.width,
      height: placed.height,
    };
  });
  const edges: EdgePath[] = model.edges.map((edge) => {
    const placed = graph.edge({ v: edge.from, w: edge.to, name: edge.id }) as { points?: { x: number; y: number }[] };
    return { ...edge, points: (placed.points ?? []).map((point) => ({ x: point.x, y: point.y })) };
  });
  return fitBounds(nodes, edges);
}

/** Moves everything so the boxes and the edge curves (which dagre may route outside its own
 * size) start at the margin, and measures the drawing. */
function fitBounds(nodes: NodeBox[], edges: EdgePath[]): GraphLayout {
  if (nodes.length === 0) return { nodes, edges, width: 0, height: 0 };
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const grow = (x: number, y: number) => {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  };
  for (const node of nodes) {
    grow(node.x, node.y);
    grow(node.x + node.width, node.y + node.height);
  }
  for (const edge of edges) for (const point of edge.points) grow(point.x, point.y);
  const dx = MARGIN - minX;
  const dy = MARGIN - minY;
  for (const node of nodes) {
    node.x += dx;
    node.y += dy;
  }
  for (const edge of edges) {
    for (const point of edge.points) {
      point.x += dx;
      point.y += dy;
    }
  }
  return { nodes, edges, width: Math.ceil(maxX - minX + 2 * MARGIN), height: Math.ceil(maxY - minY + 2 * MARGIN) };
}
