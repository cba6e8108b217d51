// The stage graph component's public types: what its events carry, its options and its handle.
//
// Input: none (types only). Output: the types index.ts exports and component.ts implements.
// Invariant: no code, so every module of the graph can use them without an import circle.
import type { Plan } from "../types/planner-types";
import type { GraphLayout } from "./layout";
import type { GraphView } from "./model";
import type { GraphOverlay } from "./overlay";
import type { ZoomState } from "./viewport";

/** What a `stage-click` event carries. */
export interface StageClickDetail {
  stageIndex: number;
  /** The stage name, or null for an unnamed stage (which cannot be a `--target`). */
  stageName: string | null;
  /** Shift was held. */
  shiftKey: boolean;
  /** A double click. */
  double: boolean;
}

/** The view as a share link restores it. */
export interface GraphViewState extends GraphView {
  /** The zoom and centre; null shows the whole graph. */
  zoom: ZoomState | null;
}

/** A file an export made. */
export interface ExportFile {
  name: string;
  mime: string;
  data: Blob;
}

/** The planner's "did you mean" for a stage name (may answer asynchronously). */
export type SuggestStage = (value: string, names: string[]) => string | null | undefined | Promise<string | null | undefined>;

export interface StageGraphOptions {
  /** Accessible name of the drawing. */
  title?: string;
  /** Stage to mark as the one under the editor's cursor. */
  currentStage?: number | null;
  /** A CSP nonce for the component's <style> elements, for hosts whose style-src has no 'unsafe-inline'. */
  styleNonce?: string;
  /** The view to start with (focus, images, zoom). */
  view?: Partial<GraphViewState>;
  /** The planner's suggestion for a name the find box does not know. */
  suggest?: SuggestStage;
  /** Receives exported files; by default they are offered as downloads. */
  onExport?: (file: ExportFile) => void;
  /** Base name of exported files (default `stages`). */
  fileBaseName?: string;
  /** A build drawn over the graph (times, cache hits and misses, the critical path). */
  overlay?: GraphOverlay | null;
}

/** A graph drawn into a host element. */
export interface StageGraph {
  /** Redraws for a new plan; keeps the view, the selection and the current-stage mark. */
  update(plan: Plan): void;
  /** Marks the stage under the cursor (null clears the mark). */
  setCurrentStage(stageIndex: number | null): void;
  /** Selects a stage: its ancestors and descendants stay lit, the rest dims (null clears). */
  select(stageIndex: number | null): void;
  /** Finds a stage by name, centres and marks it; resolves to the message shown. */
  find(query: string): Promise<string>;
  /** The drawing as shown, as a standalone SVG document. */
  toSvgText(): string;
  /** The drawing as shown, as a PNG picture. */
  toPngBlob(): Promise<Blob>;
  /** The current view (for share links). */
  viewState(): GraphViewState;
  /** Changes the view (focus, images, zoom). */
  setViewState(view: Partial<GraphViewState>): void;
  /** Shows the whole graph. */
  fit(): void;
  /** The last layout (sizes and positions), for tests and hosts. */
  layout(): GraphLayout | null;
  /** Draws a build over the graph (null removes it); kept across redraws. */
  setOverlay(overlay: GraphOverlay | null): void;
  /** Removes the drawing and the listeners. */
  destroy(): void;
}
