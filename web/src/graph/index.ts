// The stage graph component, shared by the playground and the editor extension's preview.
//
// Input: a host element, a plan (plan JSON v1) and options. Output: the graph drawn into the host
// with its controls (find, focus, images, zoom, fit, exports, minimap); `stage-click`
// CustomEvents (detail: StageClickDetail) when a stage is clicked, double-clicked or activated
// with Enter/Space, and `graph-view` CustomEvents (detail: GraphViewState) when the view changes.
// Invariant: the module's public face only: the component lives in component.ts, the pure parts
// (model, layout, find, crossings) are exported for tests, scripts and hosts.
import type { Plan } from "../types/planner-types";
import { StageGraphComponent } from "./component";
import type { GraphView } from "./model";
import type { StageGraph, StageGraphOptions } from "./types";

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
export type { ExportFile, GraphViewState, StageClickDetail, StageGraph, StageGraphOptions, SuggestStage } from "./types";

/** The views the layout-quality script measures. */
export const MEASURED_VIEWS: [string, GraphView][] = [
  ["every stage, image boxes", { focus: false, images: true }],
  ["every stage, image badges", { focus: false, images: false }],
  ["focus, image badges", { focus: true, images: false }],
];

/** Draws the stage graph of `plan` into `host` and returns a handle to update it. */
export function renderStageGraph(host: HTMLElement, plan: Plan, options: StageGraphOptions = {}): StageGraph {
  return new StageGraphComponent(host, plan, options);
}
