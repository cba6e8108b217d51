// Per-document planning state shared by the language features and the preview: the options the
// preview chose, and the latest plans, recomputed only when the text or the options change.
//
// Input: document texts keyed by URI, a PlannerApi, the platform setting and the `.dockerignore`
// text that applies to each document (read by dockerignore.ts). Output: Planned snapshots (the
// outcome for the chosen options, the default-target plan, the last good plan) and the check
// diagnostics of the Problems panel.
// Invariant: no `vscode` import; each planner call is made once per text and options, never per
// request (one plan takes tens of milliseconds on a 1,000-line file).
import type { Diagnostic, Options, Outcome, Plan, PlannerApi } from "./planner";

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
  /** Every stage, planned for the default target with the chosen build args (outline, definitions, lenses). */
  stagesPlan: Plan | null;
  /** The most recent plan without errors, kept while the user is mid-edit. */
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
    const stagesPlan = options.targets && options.targets.length > 0 ? (this.planner.plan(text, { ...options, targets: [] }).plan ?? null) : (outcome.plan ?? null);
    const planned: Planned = {
      text,
      outcome,
      stagesPlan,
      lastGoodPlan: outcome.plan ?? stagesPlan ?? known?.lastGoodPlan ?? null,
      options: chosen,
      platform: options.platform ?? "",
      dockerignore: options.dockerignore ?? undefined,
    };
    this.planned.set(uri, planned);
    return planned;
  }

  /** The plan the outline and definitions use: every stage of the current text, or the last good one. */
  stagesPlan(uri: string, text: string): Plan | null {
    const planned = this.get(uri, text);
    return planned.stagesPlan ?? planned.lastGoodPlan;
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
    const diagnostics = this.planner.check(text, options);
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
