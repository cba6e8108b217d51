// Per-document planning state shared by the language features and the preview: the options the
// preview chose, and the latest plans, recomputed only when the text or the options change.
//
// Input: document texts keyed by URI, a PlannerApi, the platform setting and the `.dockerignore`
// text that applies to each document (read by dockerignore.ts). Output: Planned snapshots (the
// outcome for the chosen options, the stage structure of the text, the last good plan) and the
// check diagnostics of the Problems panel.
// Invariant: no `vscode` import; each planner call is made once per text and options, never per
// request (one plan takes tens of milliseconds on a 1,000-line file). Positions always come from
// the current text: the outline, not an older plan, answers the language features.
import type { Diagnostic, Options, Outcome, Outline, Plan, PlannerApi } from "./planner";

/** Targets and build args chosen in the preview for one document. */
export interface ChosenOptions {
  targets: string[];
  build_args: Record<string, string>;
}

/** What is known about one version of a document. */
export interface Planned {
  text: string;
  /** The plan for the chosen options (what the preview draws). */
  outcome: Outcome;
  /**
   * Every stage of this text, for the default target with the chosen build args (outline,
   * definitions, lenses): the planner's outline, so a file with errors still has the stages that
   * could be read.
   */
  structure: Outline;
  /** The outline for the chosen options when they have no plan (what the preview draws then). */
  outline: Outline | null;
  /** The most recent plan without errors, drawn while the outline has no stage (mid-edit). */
  lastGoodPlan: Plan | null;
  options: ChosenOptions;
  /** The platform setting it was planned for ("" = the default). */
  platform: string;
  /** The `.dockerignore` text it was planned with (undefined = none). */
  dockerignore: string | undefined;
}

/** Plans documents on demand and caches the result per text and options. */
export class PlanState {
  private readonly chosen = new Map<string, ChosenOptions>();
  private readonly planned = new Map<string, Planned>();
  private readonly checked = new Map<string, { text: string; dockerignore: string | undefined; platform: string; diagnostics: Diagnostic[] }>();

  constructor(
    private readonly planner: PlannerApi,
    private readonly platform: () => string,
    private readonly dockerignore: (uri: string) => string | undefined = () => undefined,
  ) {}

  /** The options chosen for `uri` (none chosen: the last stage, no build args). */
  optionsFor(uri: string): ChosenOptions {
    return this.chosen.get(uri) ?? { targets: [], build_args: {} };
  }

  /** Records new options for `uri`; the next `get` re-plans. */
  setOptions(uri: string, options: ChosenOptions): void {
    this.chosen.set(uri, { targets: [...options.targets], build_args: { ...options.build_args } });
  }

  /** The planner options for `uri`, with the platform setting. */
  plannerOptions(uri: string, targets?: string[]): Options {
    const chosen = this.optionsFor(uri);
    const options: Options = { targets: targets ?? chosen.targets, build_args: chosen.build_args };
    const platform = this.platform().trim();
    if (platform !== "") options.platform = platform;
    const dockerignore = this.dockerignore(uri);
    if (dockerignore !== undefined) options.dockerignore = dockerignore;
    return options;
  }

  /** The plans of `text` for `uri`, computed when the text, options or platform changed. */
  get(uri: string, text: string): Planned {
    const known = this.planned.get(uri);
    const options = this.plannerOptions(uri);
    const chosen = this.optionsFor(uri);
    if (
      known &&
      known.text === text &&
      JSON.stringify(known.options) === JSON.stringify(chosen) &&
      known.platform === (options.platform ?? "") &&
      known.dockerignore === options.dockerignore
    ) {
      return known;
    }
    const outcome = this.planner.plan(text, options);
    const chosenTargets = options.targets && options.targets.length > 0;
    // The structure is always the planner's own outline for the default target: besides the
    // stages it carries what each stage needs as a target (the lenses' counts), which a plan has not.
    const structure = this.planner.outline(text, { ...options, targets: [] });
    const planned: Planned = {
      text,
      outcome,
      structure,
      outline: outcome.plan ? null : chosenTargets ? this.planner.outline(text, options) : structure,
      lastGoodPlan: outcome.plan ?? known?.lastGoodPlan ?? null,
      options: chosen,
      platform: options.platform ?? "",
      dockerignore: options.dockerignore ?? undefined,
    };
    this.planned.set(uri, planned);
    return planned;
  }

  /** The stages of the current text that the outline, definitions and lenses use (also with errors). */
  structure(uri: string, text: string): Outline {
    return this.get(uri, text).structure;
  }

  /** The planner's "did you mean" for a stage name that names no stage, or null. */
  suggestStage(value: string, names: string[]): string | null {
    return this.planner.suggestStage(value, names) ?? null;
  }

  /** `planner.check` of `text` (every stage, no target: the Problems panel) with the platform
   * setting and the `.dockerignore`, computed once per text, platform and `.dockerignore`. */
  checkDiagnostics(uri: string, text: string): Diagnostic[] {
    const dockerignore = this.dockerignore(uri);
    const platform = this.platform().trim();
    const known = this.checked.get(uri);
    if (known && known.text === text && known.dockerignore === dockerignore && known.platform === platform) return known.diagnostics;
    const options: Options = {};
    if (platform !== "") options.platform = platform;
    if (dockerignore !== undefined) options.dockerignore = dockerignore;
    const diagnostics = this.planner.checkWith(text, options);
    this.checked.set(uri, { text, dockerignore, platform, diagnostics });
    return diagnostics;
  }

  /** Forgets a closed document. */
  forget(uri: string): void {
    this.planned.delete(uri);
    this.checked.delete(uri);
    this.chosen.delete(uri);
  }
}
