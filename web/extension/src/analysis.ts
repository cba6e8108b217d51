// The language features computed from plans: diagnostics, the outline of stages, references from
// `FROM name` / `COPY --from=name` / `RUN --mount=from=name` to stages, and the per-stage code lenses.
//
// Input: the Dockerfile text, its stages (a plan's, or the planner's outline when the file has
// errors) and the chosen options. Output: plain data with 0-based lines and UTF-16 columns (VS
// Code's positions), converted to vscode types by the glue.
// Invariant: pure (no `vscode` import, no I/O), so it is tested against the real WASM planner.
import { shellQuote } from "../../src/options";
import type { Diagnostic, Options, Outline, Plan, Stage } from "./planner";

/** The stages of a file, as a plan or the planner's outline has them (the language features need no more). */
export type StageStructure = Pick<Plan, "stages">;

/** A position: 0-based line, 0-based UTF-16 column. */
export interface Position {
  line: number;
  character: number;
}

/** A range of the document. */
export interface Range {
  start: Position;
  end: Position;
}

/** A planner diagnostic in editor coordinates. */
export interface EditorDiagnostic {
  range: Range;
  severity: Diagnostic["severity"];
  message: string;
  code: string;
  url: string | null;
}

/** Converts planner diagnostics (1-based, UTF-16 columns) to editor ranges; line 0 (options) maps to the top. */
export function toEditorDiagnostics(diagnostics: Diagnostic[]): EditorDiagnostic[] {
  return diagnostics.map((diagnostic) => {
    const range: Range =
      diagnostic.line === 0
        ? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }
        : {
            start: { line: diagnostic.line - 1, character: Math.max(diagnostic.column_utf16 - 1, 0) },
            end: { line: Math.max(diagnostic.end_line - 1, 0), character: Math.max(diagnostic.end_column_utf16 - 1, 0) },
          };
    return { range, severity: diagnostic.severity, message: diagnostic.message, code: diagnostic.code, url: diagnostic.url ?? null };
  });
}

/** The lines of a document, without their line breaks. */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** The range of a stage's name after `AS` on its FROM line, or of the FROM keyword when unnamed. */
export function stageNameRange(stage: Stage, lines: string[]): Range {
  const lineIdx = stage.location.line - 1;
  const text = lines[lineIdx] ?? "";
  const named = /\s[Aa][Ss]\s+(\S+)\s*$/.exec(text);
  if (named && stage.name) {
    const start = named.index + named[0].length - named[0].trimStart().length + named[0].trimStart().indexOf(named[1]);
    return { start: { line: lineIdx, character: start }, end: { line: lineIdx, character: start + named[1].length } };
  }
  const keyword = /\S+/.exec(text);
  const start = keyword ? keyword.index : 0;
  return { start: { line: lineIdx, character: start }, end: { line: lineIdx, character: start + (keyword ? keyword[0].length : 0) } };
}

/** A stage of the outline. */
export interface StageSymbol {
  stageIndex: number;
  /** The stage name, or `stage N`. */
  name: string;
  /** `FROM <base as written>`, plus `skipped` when the default target does not need it. */
  detail: string;
  /** From the FROM line to the end of the stage's last instruction. */
  range: Range;
  /** The name after AS (or the FROM keyword). */
  selectionRange: Range;
}

/** The outline: one symbol per stage, in file order. */
export function stageSymbols(plan: StageStructure, lines: string[]): StageSymbol[] {
  return plan.stages.map((stage) => {
    const lastLine = Math.max(stage.location.end_line, ...stage.instructions.map((instruction) => instruction.end_line)) - 1;
    return {
      stageIndex: stage.index,
      name: stage.name ?? `stage ${stage.index}`,
      detail: `FROM ${stage.base_text}${stage.needed ? "" : " (skipped)"}`,
      range: {
        start: { line: stage.location.line - 1, character: 0 },
        end: { line: lastLine, character: (lines[lastLine] ?? "").length },
      },
      selectionRange: stageNameRange(stage, lines),
    };
  });
}

/** A word of the document that names a stage. */
export interface StageReference {
  range: Range;
  /** The stage it names. */
  stageIndex: number;
  /** Where it appears: the base of a FROM, a COPY --from, or a RUN --mount from=. */
  kind: "from" | "copy" | "mount";
}

/** Removes one pair of surrounding quotes. */
function unquote(word: string): string {
  return /^(["']).*\1$/.test(word) ? word.slice(1, -1) : word;
}

/** The stage a `--from`/`from=`/FROM word names, looking only at stages before `stage` (BuildKit's rule). */
function resolveWord(word: string, stage: Stage, plan: StageStructure, kind: StageReference["kind"], instructionLine: number): number | null {
  const value = unquote(word);
  if (value.includes("$")) {
    // Expanded by the planner: trust the edge it recorded for this instruction when it is unambiguous.
    const found = new Set(
      stage.edges
        .filter((edge) => edge.kind === kind && edge.line === instructionLine && edge.source.kind === "stage")
        .map((edge) => (edge.source.kind === "stage" ? edge.source.stage : -1)),
    );
    return found.size === 1 ? [...found][0] : null;
  }
  if (kind !== "from" && /^\d+$/.test(value)) {
    const index = Number(value);
    return index < stage.index ? index : null;
  }
  const lower = value.toLowerCase();
  const match = plan.stages.find((other) => other.index < stage.index && other.name === lower);
  return match ? match.index : null;
}

const COPY_FROM = /--from=("[^"]*"|'[^']*'|\S+)/gi;
const MOUNT = /--mount=(\S+)/gi;
const MOUNT_FROM = /(^|,)from=("[^"]*"|'[^']*'|[^,\s]+)/gi;

/** Every word that names a stage: FROM bases, COPY --from values and mount from= values. */
export function stageReferences(plan: StageStructure, lines: string[]): StageReference[] {
  const refs: StageReference[] = [];
  const push = (lineIdx: number, start: number, word: string, stageIndex: number | null, kind: StageReference["kind"]) => {
    if (stageIndex === null) return;
    refs.push({ range: { start: { line: lineIdx, character: start }, end: { line: lineIdx, character: start + word.length } }, stageIndex, kind });
  };
  for (const stage of plan.stages) {
    const fromLine = stage.location.line - 1;
    const base = /^(\s*\S+\s+(?:--\S+\s+)*)(\S+)/.exec(lines[fromLine] ?? "");
    if (base && stage.base.kind === "stage") push(fromLine, base[1].length, base[2], stage.base.stage, "from");
    for (const instruction of stage.instructions) {
      const copies = instruction.kind === "copy" || instruction.kind === "onbuild";
      const runs = instruction.kind === "run" || instruction.kind === "onbuild";
      if (!copies && !runs) continue;
      for (let lineIdx = instruction.line - 1; lineIdx < instruction.end_line; lineIdx++) {
        const text = lines[lineIdx] ?? "";
        if (copies) {
          for (const match of text.matchAll(COPY_FROM)) {
            const start = (match.index ?? 0) + "--from=".length;
            push(lineIdx, start, match[1], resolveWord(match[1], stage, plan, "copy", instruction.line), "copy");
          }
        }
        if (runs) {
          for (const mount of text.matchAll(MOUNT)) {
            const mountStart = (mount.index ?? 0) + "--mount=".length;
            for (const from of mount[1].matchAll(MOUNT_FROM)) {
              const start = mountStart + (from.index ?? 0) + from[1].length + "from=".length;
              push(lineIdx, start, from[2], resolveWord(from[2], stage, plan, "mount", instruction.line), "mount");
            }
          }
        }
      }
    }
  }
  return refs;
}

/** Whether `position` lies within `range` (ends included, as a cursor right after a word still counts). */
export function contains(range: Range, position: Position): boolean {
  const after = (a: Position, b: Position) => a.line > b.line || (a.line === b.line && a.character >= b.character);
  return after(position, range.start) && after(range.end, position);
}

/** The stage referenced at `position`, with the range of the name to go to; null when none. */
export function definitionAt(plan: StageStructure, lines: string[], position: Position): { stageIndex: number; target: Range; origin: Range } | null {
  const ref = stageReferences(plan, lines).find((candidate) => contains(candidate.range, position));
  if (!ref) return null;
  const stage = plan.stages[ref.stageIndex];
  return stage ? { stageIndex: ref.stageIndex, target: stageNameRange(stage, lines), origin: ref.range } : null;
}

/** A code lens pair above a named stage. */
export interface StageLens {
  stageIndex: number;
  stageName: string;
  /** The FROM line. */
  range: Range;
  /** How many stages `--target <name>` builds. */
  nStages: number;
  /** "Build this stage (N stages)". */
  buildTitle: string;
}

/** The stage `--target name` builds: the last one with that name (case-insensitive), or null. */
export function targetStage(plan: StageStructure, name: string): number | null {
  const lower = name.toLowerCase();
  const found = plan.stages.filter((stage) => stage.name === lower).at(-1);
  return found ? found.index : null;
}

/**
 * Whether the stage graph itself changes with the target: the predefined ARG TARGETSTAGE holds the
 * target's name, so `FROM base-${TARGETSTAGE}` depends on a different stage for each target.
 */
export function graphDependsOnTarget(text: string): boolean {
  return /\bTARGETSTAGE\b/.test(text);
}

/**
 * One lens per `FROM … AS name` stage, with how many stages building it as the target needs: the
 * outline's `stage_needs` (the planner's closure over its own edges), so one outline answers every
 * lens. When the graph depends on the target (see graphDependsOnTarget), pass `planTarget` and each
 * target is planned.
 */
export function stageLenses(plan: Pick<Outline, "stages" | "stage_needs">, planTarget: ((name: string) => StageStructure | null) | null = null): StageLens[] {
  return plan.stages.flatMap((stage) => {
    // `--target name` builds the last stage of that name (BuildKit's rule): no lens on the others.
    if (!stage.name || targetStage(plan, stage.name) !== stage.index) return [];
    let nStages = plan.stage_needs[stage.index]?.length ?? 1;
    if (planTarget) {
      const targeted = planTarget(stage.name);
      if (!targeted) return [];
      nStages = targeted.stages.filter((candidate) => candidate.needed).length;
    }
    const line = stage.location.line - 1;
    return [
      {
        stageIndex: stage.index,
        stageName: stage.name,
        range: { start: { line, character: 0 }, end: { line, character: 0 } },
        nStages,
        buildTitle: `Build this stage (${nStages} ${nStages === 1 ? "stage" : "stages"})`,
      },
    ];
  });
}

/** The stage whose lines hold 0-based `line` (the last stage whose FROM is at or above it). */
export function stageAtEditorLine(plan: StageStructure, line: number): number | null {
  let found: number | null = null;
  for (const stage of plan.stages) {
    if (stage.location.line - 1 <= line) found = stage.index;
    else break;
  }
  return found;
}

/** The command the "Build this stage" lens types into a terminal opened in the Dockerfile's folder;
 * with `recordPath`, the runner writes its build record there (the preview draws it). */
export function buildCommand(runnerPath: string, fileName: string, target: string, options: Options, recordPath?: string): string {
  const words = [runnerPath, "build", ".", "-f", fileName, "--target", target];
  for (const [key, value] of Object.entries(options.build_args ?? {})) words.push("--build-arg", `${key}=${value}`);
  if (recordPath) words.push("--record", recordPath);
  // `runner build` has no --platform: it builds for the engine's platform.
  return words.map(shellQuote).join(" ");
}

/**
 * What the preview draws for a file whose options have no plan: the outline's stages, targets and
 * waves in a plan's shape (the graph draws plans), with the options it was read for. `images`, the
 * external images the needed stages use, is read off the needed stages' edges, as the planner
 * fills it for a plan.
 */
export function outlineAsPlan(outline: Outline, options: Options): Plan {
  const images = new Set<string>();
  for (const stage of outline.stages) {
    if (!stage.needed) continue;
    for (const edge of stage.edges) if (edge.source.kind === "image") images.add(edge.source.image);
  }
  return {
    version: 1,
    platform: options.platform ?? "linux/amd64",
    build_args: { ...(options.build_args ?? {}) },
    targets: outline.targets,
    stages: outline.stages,
    waves: outline.waves,
    images: [...images].sort(),
    diagnostics: outline.diagnostics,
  };
}
