// The stage graph of a plan as plain data: which boxes and arrows to draw and how each looks.
//
// Input: a plan (plan JSON v1). Output: a GraphModel of stage nodes, external-image nodes and
// edges, each with the attributes the drawing needs (needed/skipped, target, wave, edge kind).
// Invariant: pure and deterministic (no DOM, no globals): the same plan gives the same model, in
// stage order, so the layout is stable while the user types.
import type { Edge, Plan, Source, Stage } from "../types/planner-types";

/** A box of the graph: a stage of the Dockerfile or an external image it uses. */
export interface GraphNode {
  /** Stable id: `stage-<index>` or `image-<reference>`. */
  id: string;
  kind: "stage" | "image";
  /** The stage's index, for stage nodes. */
  stageIndex: number | null;
  /** The stage's name (null when unnamed), for stage nodes. */
  stageName: string | null;
  /** First line: the stage name (or `stage N`), or the image reference. */
  label: string;
  /** Second line: what the stage starts from, or `image`. */
  detail: string;
  /** Needed by the targets (stages), or used by a needed stage (images). */
  needed: boolean;
  /** One of the plan's targets. */
  target: boolean;
  /** The parallel wave the stage is built in (needed stages only). */
  wave: number | null;
  /** 1-based line of the stage's FROM (stage nodes). */
  line: number | null;
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

/** Everything to draw for one plan. */
export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

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

/** Builds the graph model of a plan. */
export function buildModel(plan: Plan): GraphModel {
  const targets = new Set(plan.targets);
  const waveOf = new Map<number, number>();
  plan.waves.forEach((wave, waveIdx) => wave.forEach((stageIdx) => waveOf.set(stageIdx, waveIdx)));
  const neededImages = new Set(plan.images);

  const nodes: GraphNode[] = [];
  const imageNodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();

  for (const stage of plan.stages) {
    nodes.push({
      id: `stage-${stage.index}`,
      kind: "stage",
      stageIndex: stage.index,
      stageName: stage.name ?? null,
      label: stageLabel(stage),
      detail: baseDetail(stage, plan.stages),
      needed: stage.needed,
      target: targets.has(stage.index),
      wave: waveOf.get(stage.index) ?? null,
      line: stage.location.line,
    });
    for (const edge of stage.edges) {
      const from = sourceNodeId(edge.source);
      if (from === null) continue;
      if (edge.source.kind === "image" && !imageNodes.has(edge.source.image)) {
        imageNodes.set(edge.source.image, {
          id: from,
          kind: "image",
          stageIndex: null,
          stageName: null,
          label: edge.source.image,
          detail: "image",
          needed: neededImages.has(edge.source.image),
          target: false,
          wave: null,
          line: null,
        });
      }
      const to = `stage-${stage.index}`;
      const id = `${from}->${to}:${edge.kind}${edge.onbuild ? ":onbuild" : ""}`;
      const known = edges.get(id);
      if (known) {
        known.lines.push(edge.line);
      } else {
        edges.set(id, { id, from, to, kind: edge.kind, onbuild: edge.onbuild, needed: stage.needed, lines: [edge.line] });
      }
    }
  }
  // External images first, so the layout puts them at the left of the waves that use them.
  return { nodes: [...imageNodes.values(), ...nodes], edges: [...edges.values()] };
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
