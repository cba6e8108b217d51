// The playground's build records: a record file (`runner build … --record FILE`) chosen with the
// file picker or dropped on the graph is drawn over the graph of the Dockerfile in the editor,
// and a line above the graph says what it shows.
//
// Input: a record file (picker, drop), the plan the graph shows after each re-plan.
// Output: the overlay handed to the graph (`onOverlay`), the summary line, error messages.
// Invariant: the record is matched to the current plan by the planner's stage display names on
// every re-plan, so it stays on the right boxes while the file is edited; nothing is stored.
import { formatMs } from "./insight/format";
import { criticalSteps, recordOverlay } from "./insight/overlay";
import { parseRecord } from "./insight/record";
import type { GraphOverlay } from "./graph/index";
import type { Plan } from "./types/planner-types";
import type { BuildRecord } from "./types/record-types";

export interface RecordControls {
  /** The button that opens the file picker. */
  open: HTMLButtonElement;
  /** The hidden file input. */
  input: HTMLInputElement;
  /** Where files may be dropped. */
  dropZone: HTMLElement;
  /** The summary bar (hidden without a record) and its text and clear button. */
  bar: HTMLElement;
  summary: HTMLElement;
  clear: HTMLButtonElement;
}

/** Holds the record shown on the playground's graph. */
export class RecordOverlayControl {
  private record: BuildRecord | null = null;
  private name = "";
  private plan: Plan | null = null;

  constructor(
    private readonly controls: RecordControls,
    private readonly onOverlay: (overlay: GraphOverlay | null) => void,
    private readonly say: (message: string) => void,
  ) {
    controls.open.addEventListener("click", () => controls.input.click());
    controls.input.addEventListener("change", () => {
      const file = controls.input.files?.[0];
      if (file) void this.load(file);
      controls.input.value = "";
    });
    controls.clear.addEventListener("click", () => this.show(null, ""));
    controls.dropZone.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      controls.dropZone.classList.add("dropping");
    });
    controls.dropZone.addEventListener("dragleave", () => controls.dropZone.classList.remove("dropping"));
    controls.dropZone.addEventListener("drop", (event) => {
      const file = event.dataTransfer?.files[0];
      controls.dropZone.classList.remove("dropping");
      if (!file) return;
      event.preventDefault();
      void this.load(file);
    });
  }

  /** Reads, checks and shows a record file. */
  async load(file: File): Promise<void> {
    try {
      this.show(parseRecord(await file.text()), file.name);
    } catch (err) {
      this.say(`${file.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The graph now shows `plan`: the record is matched to it again. */
  planChanged(plan: Plan | null): void {
    this.plan = plan;
    this.refresh();
  }

  private show(record: BuildRecord | null, name: string): void {
    this.record = record;
    this.name = name;
    this.refresh();
  }

  private refresh(): void {
    const { bar, summary } = this.controls;
    if (!this.record || !this.plan) {
      bar.hidden = true;
      this.onOverlay(null);
      return;
    }
    const record = this.record;
    const { overlay, matched, total } = recordOverlay(record, this.plan);
    this.onOverlay(overlay);
    bar.hidden = false;
    const steps = record.stages.flatMap((stage) => stage.steps).filter((step) => step.status !== "config");
    const ran = steps.filter((step) => step.status === "ran").length;
    const path = criticalSteps(record)
      .filter((row) => row.step.status === "ran")
      .map((row) => `${row.stage.name} #${row.step.step}`);
    const parts = [
      `${this.name}: ${record.ok ? "built" : "failed"} in ${formatMs(record.total_ms)}`,
      `${ran} of ${steps.length} steps ran`,
      path.length ? `critical path ${path.join(" → ")}` : "nothing on the critical path ran",
      matched === total ? `${matched} stages matched` : `${matched} of ${total} stages of the record are in this Dockerfile`,
    ];
    if (record.leaks.length) parts.push(`${record.leaks.length} leak warning${record.leaks.length === 1 ? "" : "s"}`);
    summary.textContent = parts.join(" · ");
    summary.title = [...record.leaks.map((leak) => `line ${leak.line}: ${leak.message}`)].join("\n");
  }
}
