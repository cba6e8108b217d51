// The messages between the extension host and the preview's webview.
//
// Input/output: plain JSON objects sent with `webview.postMessage` and `vscode.postMessage`.
// Invariant: the only contract between the two sides; both import these types, and every message
// has a `type` tag.
import type { BuildRecord } from "../../src/types/record-types";
import type { Diagnostic, Plan } from "./planner";

/** Host → webview: the plan of the Dockerfile the preview follows. */
export interface PlanMessage {
  type: "plan";
  /** The document's URI (kept in the webview's state, so a reload restores the preview). */
  uri: string;
  /** The file's base name, for the header. */
  fileName: string;
  /** The plan for the chosen options, or null when the file (or the options) have errors. */
  plan: Plan | null;
  /**
   * What is drawn, greyed, while `plan` is null: the stages that could be read from the current
   * text (`outline`, the planner's outline in a plan's shape), or when none could, the last plan
   * that had no errors (`last-good`); null when there is neither.
   */
  fallback: { source: "outline" | "last-good"; plan: Plan } | null;
  /** The diagnostics of this planning. */
  diagnostics: Diagnostic[];
  /** The options the preview chose (targets, build args). */
  options: { targets: string[]; build_args: Record<string, string> };
  /** The stage under the editor's cursor. */
  currentStage: number | null;
}

/** Host → webview: the editor's cursor moved into another stage. */
export interface CursorMessage {
  type: "cursor";
  currentStage: number | null;
}

/** What the webview keeps with `setState` and VS Code hands back to the serializer after a reload. */
export interface PreviewState {
  uri: string;
  fileName: string;
  options: { targets: string[]; build_args: Record<string, string> };
}

/** Host → webview: the planner's answer to a SuggestMessage. */
export interface SuggestionMessage {
  type: "suggestion";
  id: number;
  /** The stage name the planner suggests, or null. */
  suggestion: string | null;
}

/** Host → webview: the latest build record of the shown Dockerfile's lens builds. */
export interface RecordMessage {
  type: "record";
  /** The Dockerfile's URI. */
  uri: string;
  /** The record, or null when the file has none (yet). */
  record: BuildRecord | null;
  /** Why the record file could not be read, when it could not. */
  problem: string | null;
}

/** Everything the host sends. */
export type HostMessage = PlanMessage | CursorMessage | SuggestionMessage | RecordMessage;

/** Webview → host: the script has loaded and wants the current plan. */
export interface ReadyMessage {
  type: "ready";
}

/** Webview → host: a stage node was clicked; show its FROM line. */
export interface RevealMessage {
  type: "reveal";
  stageIndex: number;
  /** 1-based line of the stage's FROM. */
  line: number;
}

/** Webview → host: a diagnostic was clicked; move the cursor there. */
export interface GotoMessage {
  type: "goto";
  /** 1-based line. */
  line: number;
  /** 1-based UTF-16 column. */
  column: number;
}

/** Webview → host: the user changed the targets or build args. */
export interface OptionsMessage {
  type: "options";
  targets: string[];
  build_args: Record<string, string>;
}

/** Webview → host: the find box knows no stage by this name; what would the planner suggest? */
export interface SuggestMessage {
  type: "suggest";
  id: number;
  value: string;
  /** The plan's stage names. */
  names: string[];
}

/** Webview → host: save an export of the graph (SVG or PNG) where the user chooses. */
export interface ExportMessage {
  type: "export";
  /** Suggested file name (`stages.svg`, `stages.png`). */
  name: string;
  mime: string;
  /** The file's bytes, base64. */
  base64: string;
}

/** Everything the webview sends. */
export type WebviewMessage = ReadyMessage | RevealMessage | GotoMessage | OptionsMessage | SuggestMessage | ExportMessage;

/** Narrows an unknown value received from the webview to a message, or null when it is not one. */
export function parseWebviewMessage(value: unknown): WebviewMessage | null {
  if (typeof value !== "object" || value === null) return null;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case "ready":
      return { type: "ready" };
    case "reveal":
      return typeof message.stageIndex === "number" && typeof message.line === "number"
        ? { type: "reveal", stageIndex: message.stageIndex, line: message.line }
        : null;
    case "goto":
      return typeof message.line === "number" && typeof message.column === "number"
        ? { type: "goto", line: message.line, column: message.column }
        : null;
    case "suggest":
      return typeof message.id === "number" && typeof message.value === "string" && Array.isArray(message.names)
        ? { type: "suggest", id: message.id, value: message.value, names: message.names.filter((item): item is string => typeof item === "string") }
        : null;
    case "export":
      return typeof message.name === "string" && /^[\w.-]+\.(svg|png)$/.test(message.name) && typeof message.mime === "string" && typeof message.base64 === "string"
        ? { type: "export", name: message.name, mime: message.mime, base64: message.base64 }
        : null;
    case "options": {
      const targets = Array.isArray(message.targets) ? message.targets.filter((item): item is string => typeof item === "string") : [];
      const args = typeof message.build_args === "object" && message.build_args !== null ? (message.build_args as Record<string, unknown>) : {};
      const buildArgs: Record<string, string> = {};
      for (const [key, item] of Object.entries(args)) if (typeof item === "string") buildArgs[key] = item;
      return { type: "options", targets, build_args: buildArgs };
    }
    default:
      return null;
  }
}

/** Narrows a saved webview state to a PreviewState, or null when it is not one (an older or foreign state). */
export function parsePreviewState(value: unknown): PreviewState | null {
  if (typeof value !== "object" || value === null) return null;
  const saved = value as Record<string, unknown>;
  if (typeof saved.uri !== "string" || typeof saved.fileName !== "string") return null;
  const options = parseWebviewMessage({ type: "options", ...(typeof saved.options === "object" ? saved.options : {}) });
  if (options?.type !== "options") return null;
  return { uri: saved.uri, fileName: saved.fileName, options: { targets: options.targets, build_args: options.build_args } };
}
