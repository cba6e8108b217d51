// Places the graph model's boxes in columns (one per layer, left to right) and routes its edges
// between the columns: a layered (Sugiyama-style) layout made for stage graphs.
//
// Input: a GraphModel (nodes with their layer). Output: a GraphLayout: every node's box and
// every edge's route (start, a point pair per column it passes, end), in SVG user units, plus the
// overall size.
// Invariant: pure (no DOM: text widths are estimated from the monospace font's advance) and
// deterministic; every edge runs from a lower column to a higher one, a long edge passes the
// columns in between through a lane of its own (no box is crossed), and column widths are
// rounded up to a step so that a changed label rarely moves other columns.
import type { GraphEdge, GraphModel, GraphNode } from "./model";
import { FOLD_ID } from "./model";
import { orderColumns } from "./order";
import type { LayerEdge } from "./order";
import { placeColumns, placeNearPrevious } from "./place";
import type { PlaceVertex } from "./place";

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
  /** Room at the right of the label for the wave tag (`w3`). */
  waveWidth: 30,
  /** Height of the image badge under a stage box's bottom edge. */
  badgeSize: 10,
};

/** Space around the drawing. */
const MARGIN = 12;
/** Vertical room between two boxes, a box and a lane, two lanes. */
const GAP_BOXES = 16;
const GAP_BOX_LANE = 10;
const GAP_LANES = 7;
/** Column widths are rounded up to this step. */
const WIDTH_STEP = 24;

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
  /** The route: leaves the source's right side, crosses each column between in its lane, enters the target's left side. */
  points: { x: number; y: number }[];
}

export interface GraphLayout {
  nodes: NodeBox[];
  edges: EdgePath[];
  width: number;
  height: number;
  /** Centre y of every node (by id) and lane (`<edge id>@<column>`), for the next layout to keep. */
  centres: Record<string, number>;
}

/** `text` cut to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  return [...text].length <= max ? text : [...text].slice(0, max - 1).join("") + "…";
}

function textWidth(text: string, size: number): number {
  return [...text].length * size * METRICS.charAdvance;
}

/** The box size and drawn texts of a node. */
function measure(node: GraphNode): { width: number; labelText: string; detailText: string } {
  const labelText = shorten(node.label, METRICS.maxLabelChars);
  const detailText = shorten(node.detail, METRICS.maxDetailChars);
  const label = textWidth(labelText, METRICS.labelSize) + (node.wave !== null ? METRICS.waveWidth : 0);
  const width = Math.ceil(Math.max(label, textWidth(detailText, METRICS.detailSize), 64) + 2 * METRICS.paddingX);
  return { width, labelText, detailText };
}

/** A vertex of the layout: a node's box, or a lane point of a long edge in one column. */
interface Vertex extends PlaceVertex {
  /** The node id, or `<edge id>@<column>` for a lane point. */
  key: string;
  layer: number;
  /** Index into model.nodes, or -1 for a lane point. */
  node: number;
}

/** How much of a new model must have been in the previous layout for it to be kept. */
const KEEP_SHARE = 0.5;

/**
 * Lays out a model; an empty model gives an empty layout. With `previous` (the layout of the
 * same graph before a small change), the order and places of the boxes that were there stay, so
 * a re-plan after an edit does not reshuffle the picture; a model that shares less than half of
 * its boxes with `previous` is laid out afresh.
 */
export function layoutGraph(model: GraphModel, previous: GraphLayout | null = null): GraphLayout {
  if (model.nodes.length === 0) return { nodes: [], edges: [], width: 0, height: 0, centres: {} };
  const { vertices, chains } = buildVertices(model);
  const { columns, layerEdges } = buildColumns(vertices);
  const kept = previous && model.nodes.filter((node) => node.id in previous.centres).length >= KEEP_SHARE * model.nodes.length ? previous.centres : null;
  const before = vertices.map((vertex) => (kept && vertex.key in kept ? kept[vertex.key] : null));
  if (kept) orderAsBefore(columns, vertices, before);
  else orderColumns(columns, layerEdges, vertices.length);
  // The fold marker joins nothing: keep it at the bottom of its column.
  const fold = model.nodes.findIndex((node) => node.id === FOLD_ID);
  if (fold >= 0) {
    const column = columns[vertices[fold].layer];
    column.splice(column.indexOf(fold), 1);
    column.push(fold);
  }
  const gapOf = (above: number, below: number) => {
    const lanes = Number(vertices[above].node < 0) + Number(vertices[below].node < 0);
    return lanes === 2 ? GAP_LANES : lanes === 1 ? GAP_BOX_LANE : GAP_BOXES;
  };
  const centreY = kept ? placeNearPrevious(columns, vertices, gapOf, before) : placeColumns(columns, vertices, gapOf);
  const measured = model.nodes.map(measure);
  const geometry = columnGeometry(columns, vertices, measured, layerEdges);
  const nodes: NodeBox[] = model.nodes.map((node, idx) => ({
    ...node,
    ...measured[idx],
    x: geometry.x[node.layer],
    y: centreY[idx] - METRICS.height / 2,
    height: METRICS.height,
  }));
  const edges = routeEdges(model, nodes, vertices, chains, centreY, geometry);
  const centres: Record<string, number> = {};
  vertices.forEach((vertex, idx) => (centres[vertex.key] = centreY[idx]));
  return fitBounds(nodes, edges, centres);
}

/** One vertex per node, and each edge as a chain of vertices, one per column it touches (lanes
 * in the columns between its ends). */
function buildVertices(model: GraphModel): { vertices: Vertex[]; chains: number[][] } {
  const vertices: Vertex[] = model.nodes.map((node, idx) => ({ key: node.id, layer: node.layer, node: idx, height: METRICS.height, weight: 1, left: [], right: [] }));
  const indexOf = new Map(model.nodes.map((node, idx) => [node.id, idx]));
  const chains = model.edges.map((edge) => {
    const from = indexOf.get(edge.from)!;
    const to = indexOf.get(edge.to)!;
    const chain = [from];
    for (let layer = vertices[from].layer + 1; layer < vertices[to].layer; layer++) {
      vertices.push({ key: `${edge.id}@${layer}`, layer, node: -1, height: 0, weight: 4, left: [], right: [] });
      chain.push(vertices.length - 1);
    }
    chain.push(to);
    for (let i = 1; i < chain.length; i++) {
      vertices[chain[i - 1]].right.push(chain[i]);
      vertices[chain[i]].left.push(chain[i - 1]);
    }
    return chain;
  });
  return { vertices, chains };
}

/** The vertices of each column (in input order) and the edges between neighbouring columns. */
function buildColumns(vertices: Vertex[]): { columns: number[][]; layerEdges: LayerEdge[][] } {
  const layerCount = vertices.reduce((most, vertex) => Math.max(most, vertex.layer + 1), 0);
  const columns: number[][] = Array.from({ length: layerCount }, () => []);
  vertices.forEach((vertex, idx) => columns[vertex.layer].push(idx));
  const layerEdges: LayerEdge[][] = Array.from({ length: Math.max(layerCount - 1, 0) }, () => []);
  vertices.forEach((vertex, idx) => {
    for (const to of vertex.right) if (vertices[to].layer === vertex.layer + 1) layerEdges[vertex.layer].push({ from: idx, to });
  });
  return { columns, layerEdges };
}

/** Where each column starts and how wide it is. */
interface ColumnGeometry {
  x: number[];
  width: number[];
}

function columnGeometry(columns: number[][], vertices: Vertex[], measured: { width: number }[], layerEdges: LayerEdge[][]): ColumnGeometry {
  const width = columns.map((column) => {
    const widest = column.reduce((most, vertex) => (vertices[vertex].node < 0 ? most : Math.max(most, measured[vertices[vertex].node].width)), 0);
    return Math.ceil(Math.max(widest, WIDTH_STEP) / WIDTH_STEP) * WIDTH_STEP;
  });
  const x: number[] = [];
  let left = MARGIN;
  columns.forEach((_column, c) => {
    x.push(left);
    const passing = layerEdges[c]?.length ?? 0;
    // Busier channels get more room for their curves, in steps so that one more edge rarely moves the columns.
    left += width[c] + Math.min(144, 64 + 16 * Math.floor(passing / 12));
  });
  return { x, width };
}

/** Each edge's route: out of the source's right side to its column's edge, level through each
 * lane, into the target's left side. */
function routeEdges(model: GraphModel, nodes: NodeBox[], vertices: Vertex[], chains: number[][], centreY: number[], columns: ColumnGeometry): EdgePath[] {
  const ports = portOffsets(chains, centreY);
  return model.edges.map((edge, edgeIdx) => {
    const chain = chains[edgeIdx];
    const source = nodes[chain[0]];
    const target = nodes[chain[chain.length - 1]];
    const startY = centreY[chain[0]] + ports.out[edgeIdx];
    const endY = centreY[chain[chain.length - 1]] + ports.in[edgeIdx];
    const points = [
      { x: source.x + source.width, y: startY },
      { x: columns.x[source.layer] + columns.width[source.layer], y: startY },
    ];
    for (const lane of chain.slice(1, -1)) {
      const layer = vertices[lane].layer;
      points.push({ x: columns.x[layer], y: centreY[lane] }, { x: columns.x[layer] + columns.width[layer], y: centreY[lane] });
    }
    points.push({ x: target.x, y: endY });
    return { ...edge, points: points.filter((point, i) => i === 0 || point.x !== points[i - 1].x || point.y !== points[i - 1].y) };
  });
}

/** Orders each column as the previous layout had it; a new vertex goes where its neighbours were. */
function orderAsBefore(columns: number[][], vertices: Vertex[], before: (number | null)[]): void {
  const key = (vertex: number): number => {
    const known = before[vertex];
    if (known !== null) return known;
    const near = [...vertices[vertex].left, ...vertices[vertex].right].flatMap((other) => (before[other] === null ? [] : [before[other]!]));
    return near.length === 0 ? Infinity : near.reduce((sum, value) => sum + value, 0) / near.length;
  };
  for (const column of columns) {
    const keys = new Map(column.map((vertex) => [vertex, key(vertex)]));
    column.sort((a, b) => keys.get(a)! - keys.get(b)! || a - b);
  }
}

/** Where each edge leaves its source and enters its target, relative to the box centre: edges
 * fan out over the box's height in the order of the vertices they lead to, so they do not cross
 * at the box. */
function portOffsets(chains: number[][], centreY: number[]): { out: number[]; in: number[] } {
  const out = new Array<number>(chains.length).fill(0);
  const into = new Array<number>(chains.length).fill(0);
  const spread = (edgeIdxs: number[], towards: (edgeIdx: number) => number, into: number[]) => {
    if (edgeIdxs.length < 2) return;
    edgeIdxs.sort((a, b) => centreY[towards(a)] - centreY[towards(b)] || a - b);
    const step = Math.min(6, (METRICS.height - 16) / (edgeIdxs.length - 1));
    edgeIdxs.forEach((edgeIdx, i) => (into[edgeIdx] = (i - (edgeIdxs.length - 1) / 2) * step));
  };
  const leaving = new Map<number, number[]>();
  const entering = new Map<number, number[]>();
  chains.forEach((chain, edgeIdx) => {
    const from = chain[0];
    const to = chain[chain.length - 1];
    leaving.set(from, [...(leaving.get(from) ?? []), edgeIdx]);
    entering.set(to, [...(entering.get(to) ?? []), edgeIdx]);
  });
  for (const list of leaving.values()) spread(list, (edgeIdx) => chains[edgeIdx][1], out);
  for (const list of entering.values()) spread(list, (edgeIdx) => chains[edgeIdx][chains[edgeIdx].length - 2], into);
  return { out, in: into };
}

/** Moves everything so the drawing starts at the margin, and measures it. */
function fitBounds(nodes: NodeBox[], edges: EdgePath[], centres: Record<string, number>): GraphLayout {
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
    grow(node.x + node.width, node.y + node.height + (node.images.length > 0 ? METRICS.badgeSize / 2 : 0));
  }
  for (const edge of edges) for (const point of edge.points) grow(point.x, point.y);
  const dx = MARGIN - minX;
  const dy = MARGIN - minY;
  const round = (n: number) => Math.round(n * 10) / 10;
  for (const node of nodes) {
    node.x = round(node.x + dx);
    node.y = round(node.y + dy);
  }
  for (const edge of edges) {
    for (const point of edge.points) {
      point.x = round(point.x + dx);
      point.y = round(point.y + dy);
    }
  }
  for (const key of Object.keys(centres)) centres[key] = round(centres[key] + dy);
  return { nodes, edges, width: Math.ceil(maxX - minX + 2 * MARGIN), height: Math.ceil(maxY - minY + 2 * MARGIN), centres };
}
