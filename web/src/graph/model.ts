// The stage graph of a plan as plain data: which boxes and arrows to draw, how each looks and in
// which column (layer) it stands.
//
// Input: a plan (plan JSON v1) and a GraphView (focus on the targets' stages, external images
// as boxes or as badges). Output: a GraphModel of stage nodes, external-image nodes, the
// "N skipped" fold marker and edges, each with what the drawing needs (needed/skipped, target,
// wave, layer, edge kind and lines).
// Invariant: pure and deterministic (no DOM, no globals): the same plan and view give the same
// model, in stage order. Layers come from the plan: a needed stage stands in its wave's column;
// a skipped stage one column right of its rightmost dependency (or, when other stages use it,
// one column left of its first user); an image one column left of its
// leftmost user. So every edge points from a lower layer to a higher one.
import type { Edge, Plan, Source, Stage } from "../types/planner-types";

/** What the drawing shows of a plan. */
export interface GraphView {
  /** Only the stages the targets need; the skipped ones fold into one "N skipped" marker. */
  focus: boolean;
  /** External images as boxes of their own; otherwise a badge on each stage that uses one. */
  images: boolean;
}

/** The view a graph starts with: every stage, images as badges. */
export const DEFAULT_VIEW: GraphView = { focus: false, images: false };

/** A box of the graph: a stage, an external image it uses, or the fold marker of skipped stages. */
export interface GraphNode {
  /** Stable id: `stage-<index>`, `image-<reference>` or `fold-skipped`. */
  id: string;
  kind: "stage" | "image" | "fold";
  /** The stage's index, for stage nodes. */
  stageIndex: number | null;
  /** The stage's name (null when unnamed), for stage nodes. */
  stageName: string | null;
  /** First line: the stage name (or `stage N`), the image reference, or `N skipped`. */
  label: string;
  /** Second line: what the stage starts from, `image`, or what a click on the marker does. */
  detail: string;
  /** Needed by the targets (stages), or used by a needed stage (images). */
  needed: boolean;
  /** One of the plan's targets. */
  target: boolean;
  /** The parallel wave the stage is built in (needed stages only). */
  wave: number | null;
  /** 1-based line of the stage's FROM (stage nodes). */
  line: number | null;
  /** The column the node stands in, from 0 at the left. */
  layer: number;
  /** External images the stage uses (drawn as a badge when images are not boxes of their own). */
  images: string[];
}

/** An arrow from a dependency to the stage that uses it. */
export interface GraphEdge {
  id: string;
  /** The dependency's node id (a stage or an image). */
  from: string;
  /** The dependent stage's node id. */
  to: string;
  /** `from` (FROM, solid), `copy` (COPY --from, dashed) or `mount` (RUN --mount from, dotted). */
  kind: Edge["kind"];
  /** The edge comes from an ONBUILD trigger of the parent stage. */
  onbuild: boolean;
  /** The dependent stage is needed. */
  needed: boolean;
  /** Lines of the instructions that create the edge (several COPY --from collapse into one). */
  lines: number[];
}

/** Everything to draw for one plan and view. */
export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** How many stages the fold marker stands for (0 when nothing is folded). */
  folded: number;
}

/** The fold marker's node id. */
export const FOLD_ID = "fold-skipped";

/** How a stage is called in the graph: its name, or `stage N` when it has none. */
export function stageLabel(stage: Pick<Stage, "index" | "name">): string {
  return stage.name ?? `stage ${stage.index}`;
}

/** The node id of what a source refers to; null for `scratch`, which is not drawn. */
export function sourceNodeId(source: Source): string | null {
  switch (source.kind) {
    case "stage":
      return `stage-${source.stage}`;
    case "image":
      return `image-${source.image}`;
    default:
      return null;
  }
}

/** What a stage starts from, for its second line. */
function baseDetail(stage: Stage, stages: Stage[]): string {
  const base = stage.base;
  if (base.kind === "stage") {
    const parent = stages[base.stage];
    return `from ${parent ? stageLabel(parent) : `stage ${base.stage}`}`;
  }
  if (base.kind === "image") return `from ${base.image}`;
  return "from scratch";
}

/** Each stage's column: its wave when needed, else one right of its rightmost dependency. */
export function stageLayers(plan: Pick<Plan, "stages" | "waves">): number[] {
  const layers: (number | null)[] = plan.stages.map(() => null);
  plan.waves.forEach((wave, waveIdx) => wave.forEach((stageIdx) => (layers[stageIdx] = waveIdx)));
  const visiting = new Set<number>();
  const layerOf = (stageIdx: number): number => {
    const known = layers[stageIdx];
    if (known !== null && known !== undefined) return known;
    // A planned file has no cycles; the guard keeps a damaged plan from recursing forever.
    if (visiting.has(stageIdx)) return 0;
    visiting.add(stageIdx);
    const deps = plan.stages[stageIdx]?.depends_on ?? [];
    const layer = deps.reduce((most, dep) => Math.max(most, layerOf(dep) + 1), 0);
    visiting.delete(stageIdx);
    layers[stageIdx] = layer;
    return layer;
  };
  const asap = plan.stages.map((stage) => layerOf(stage.index));
  // A skipped stage that others use moves right, next to its first user (shorter edges).
  const users = plan.stages.map((): number[] => []);
  for (const stage of plan.stages) for (const dep of stage.depends_on) users[dep]?.push(stage.index);
  const byLayer = plan.stages.map((stage) => stage.index).sort((a, b) => asap[b] - asap[a] || b - a);
  for (const stageIdx of byLayer) {
    if (plan.stages[stageIdx].needed || users[stageIdx].length === 0) continue;
    asap[stageIdx] = Math.max(asap[stageIdx], Math.min(...users[stageIdx].map((user) => asap[user])) - 1);
  }
  return asap;
}

/** The stages `stageIdx` depends on, directly or not, and the stages that depend on it. */
export function lineage(plan: Pick<Plan, "stages">, stageIdx: number): { ancestors: Set<number>; descendants: Set<number> } {
  const dependents = plan.stages.map((): number[] => []);
  for (const stage of plan.stages) for (const dep of stage.depends_on) dependents[dep]?.push(stage.index);
  const walk = (start: number, next: (idx: number) => number[]): Set<number> => {
    const seen = new Set<number>();
    const stack = [...next(start)];
    while (stack.length > 0) {
      const idx = stack.pop()!;
      if (seen.has(idx) || idx === start) continue;
      seen.add(idx);
      stack.push(...next(idx));
    }
    return seen;
  };
  return {
    ancestors: walk(stageIdx, (idx) => plan.stages[idx]?.depends_on ?? []),
    descendants: walk(stageIdx, (idx) => dependents[idx] ?? []),
  };
}

/** A node that is not a stage: an external image or the fold marker. */
function plainNode(id: string, kind: "image" | "fold", label: string, detail: string, needed: boolean, layer: number): GraphNode {
  return { id, kind, stageIndex: null, stageName: null, label, detail, needed, target: false, wave: null, line: null, layer, images: [] };
}

/** Builds the graph model of a plan for a view. */
export function buildModel(plan: Plan, view: GraphView = DEFAULT_VIEW): GraphModel {
  const targets = new Set(plan.targets);
  const waveOf = new Map<number, number>();
  plan.waves.forEach((wave, waveIdx) => wave.forEach((stageIdx) => waveOf.set(stageIdx, waveIdx)));
  const neededImages = new Set(plan.images);
  const layers = stageLayers(plan);
  const shown = plan.stages.filter((stage) => stage.needed || !view.focus);
  // With image boxes, every stage moves one column right to make room for the images.
  const shift = view.images ? 1 : 0;

  const stageNodes: GraphNode[] = [];
  const imageNodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  const drawn = new Set(shown.map((stage) => stage.index));

  for (const stage of shown) {
    const to = `stage-${stage.index}`;
    const images: string[] = [];
    for (const edge of stage.edges) {
      const from = sourceNodeId(edge.source);
      if (from === null) continue;
      if (edge.source.kind === "image") {
        if (!images.includes(edge.source.image)) images.push(edge.source.image);
        if (!view.images) continue;
        const known = imageNodes.get(edge.source.image);
        const layer = layers[stage.index] + shift - 1;
        if (known) known.layer = Math.min(known.layer, layer);
        else imageNodes.set(edge.source.image, plainNode(from, "image", edge.source.image, "image", neededImages.has(edge.source.image), layer));
      } else if (edge.source.kind === "stage" && !drawn.has(edge.source.stage)) {
        continue;
      }
      const id = `${from}->${to}:${edge.kind}${edge.onbuild ? ":onbuild" : ""}`;
      const known = edges.get(id);
      if (known) known.lines.push(edge.line);
      else edges.set(id, { id, from, to, kind: edge.kind, onbuild: edge.onbuild, needed: stage.needed, lines: [edge.line] });
    }
    stageNodes.push({
      id: to,
      kind: "stage",
      stageIndex: stage.index,
      stageName: stage.name ?? null,
      label: stageLabel(stage),
      detail: baseDetail(stage, plan.stages),
      needed: stage.needed,
      target: targets.has(stage.index),
      wave: waveOf.get(stage.index) ?? null,
      line: stage.location.line,
      layer: layers[stage.index] + shift,
      images,
    });
  }
  const folded = plan.stages.length - shown.length;
  const nodes = [...imageNodes.values(), ...stageNodes];
  if (folded > 0) nodes.push(plainNode(FOLD_ID, "fold", `${folded} skipped`, "click to show them", false, 0));
  return { nodes, edges: [...edges.values()], folded };
}

/** The stage whose lines contain 1-based `line` (the last stage starting at or before it). */
export function stageAtLine(plan: Pick<Plan, "stages">, line: number): number | null {
  let found: number | null = null;
  for (const stage of plan.stages) {
    if (stage.location.line <= line) found = stage.index;
    else break;
  }
  return found;
}
