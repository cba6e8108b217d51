// The build report page the runner writes (`runner build … --report build.html`): the record
// embedded in the page drawn on the stage graph, the critical path, the slowest steps with why
// they ran, the leak report and the stages.
//
// Input: the record JSON in `<script id="stageplan-record" type="application/json">`.
// Output: the page, built into document.body.
// Invariant: no network and no storage (the page opens from file://); the graph is the
// playground's graph module and the marks come from the shared record overlay; the page follows
// the system's light or dark theme.
import { renderStageGraph } from "../graph/index";
import { formatBytes, formatDelta, formatMs } from "../insight/format";
import { criticalSteps, ownTime, recordOverlay, slowestSteps, stageDuration, stageWork } from "../insight/overlay";
import type { StepRow } from "../insight/overlay";
import { parseRecord } from "../insight/record";
import type { BuildRecord, StageRecord } from "../types/record-types";
import REPORT_CSS from "./report.css?inline";

/** How many steps the slowest-steps table lists. */
const SLOWEST = 15;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

function section(title: string, testid: string, ...children: (Node | string)[]): HTMLElement {
  return el("section", { class: "card", "data-testid": testid }, el("h2", {}, title), ...children);
}

function statusChip(status: string): HTMLElement {
  return el("span", { class: `chip chip-${status}` }, status);
}

function header(record: BuildRecord): HTMLElement {
  const target = record.plan.stages[record.plan.targets[record.plan.targets.length - 1] ?? 0];
  const ran = record.stages.flatMap((stage) => stage.steps).filter((step) => step.status === "ran").length;
  const keyed = record.stages.flatMap((stage) => stage.steps).filter((step) => step.status !== "config").length;
  const last = record.stages.find((stage) => stage.index === target?.index);
  const facts = [
    `${formatMs(record.total_ms)}`,
    last?.size !== null && last?.size !== undefined ? `image ${formatBytes(last.size)}, ${last.layers ?? 0} layers` : "",
    `${ran} of ${keyed} steps ran`,
    record.no_cache ? "--no-cache" : "",
  ].filter(Boolean);
  return el(
    "header",
    { class: "top" },
    el("h1", {}, "build report ", el("span", { class: "target" }, target?.display_name ?? "?"), record.plan.dockerfile ? el("span", { class: "file" }, ` · ${record.plan.dockerfile}`) : ""),
    el("div", { class: "facts", "data-testid": "report-status" }, record.ok ? statusChip("built") : statusChip("failed"), ...facts.map((fact) => el("span", { class: "fact" }, fact))),
    record.error ? el("pre", { class: "error", "data-testid": "report-error" }, record.error) : "",
    el("div", { class: "meta" }, `started ${record.started} · runner ${record.runner}${record.image ? ` · ${record.image.slice(0, 19)}` : ""}`),
  );
}

function legend(): HTMLElement {
  const heat = el("span", { class: "heat" }, ...[0, 1, 2, 3, 4, 5].map((step) => el("span", { class: `heat-${step}` })));
  return el(
    "div",
    { class: "legend" },
    el("span", {}, "fast ", heat, " slow"),
    el("span", { class: "badge badge-cached" }, "all cached"),
    el("span", { class: "badge badge-ran" }, "ran"),
    el("span", { class: "badge badge-failed" }, "failed"),
    el("span", {}, el("span", { class: "ring" }), " critical path"),
  );
}

function stepCells(row: StepRow): HTMLElement[] {
  const { stage, step } = row;
  const times = step.times;
  const size = step.size_added !== undefined && step.size_added !== null ? formatDelta(step.size_added) : "";
  return [
    el("td", {}, stage.name),
    el("td", { class: "num" }, `#${step.step}`),
    el("td", { class: "code", title: step.text }, step.text),
    el("td", {}, statusChip(step.status)),
    el("td", { class: "why" }, step.miss_text ?? (step.status === "cached" ? "" : "")),
    el("td", { class: "num" }, times.wait_ms ? formatMs(times.wait_ms) : ""),
    el("td", { class: "num" }, times.transfer_ms ? formatMs(times.transfer_ms) : ""),
    el("td", { class: "num" }, times.execute_ms ? formatMs(times.execute_ms) : ""),
    el("td", { class: "num" }, times.commit_ms ? formatMs(times.commit_ms) : ""),
    el("td", { class: "num strong" }, formatMs(times.total_ms)),
    el("td", { class: "num" }, size),
  ];
}

function stepsTable(rows: StepRow[], testid: string): HTMLElement {
  const head = el(
    "tr",
    {},
    ...["stage", "step", "instruction", "status", "why it ran", "wait", "transfer", "run", "commit", "total", "size"].map((name) => el("th", {}, name)),
  );
  const body = rows.map((row) => el("tr", { class: row.critical ? "critical" : "", "data-testid": `${testid}-row` }, ...stepCells(row)));
  return el("div", { class: "scroll" }, el("table", { "data-testid": testid }, el("thead", {}, head), el("tbody", {}, ...body)));
}

function criticalPath(record: BuildRecord): HTMLElement {
  const rows = criticalSteps(record);
  if (rows.length === 0) return section("Critical path", "report-critical-path", el("p", {}, "no step on the critical path ran (everything came from the cache)"));
  const items = rows.map((row) =>
    el(
      "li",
      { "data-testid": "report-critical-step" },
      el("span", { class: "stage" }, row.stage.name),
      ` #${row.step.step} `,
      el("code", {}, row.step.text),
      el("span", { class: "time" }, ` ${formatMs(ownTime(row.step))} `),
      row.step.times.wait_ms > 0 ? el("span", { class: "hint" }, `after waiting ${formatMs(row.step.times.wait_ms)} `) : "",
      statusChip(row.step.status),
      row.step.miss_text ? el("span", { class: "why" }, ` ${row.step.miss_text}`) : "",
    ),
  );
  return section("Critical path", "report-critical-path", el("p", { class: "hint" }, `the chain of steps that decided the build's ${formatMs(record.total_ms)}`), el("ol", { class: "path" }, ...items));
}

function leaks(record: BuildRecord): HTMLElement {
  const warnings = record.leaks.map((leak) =>
    el("li", { class: "warning", "data-testid": "report-leak" }, el("strong", {}, leak.kind === "context_files" ? "sources ship" : "toolchain ships"), ` line ${leak.line}: ${leak.message}`),
  );
  const clean = record.ok && record.leaks.length === 0 ? [el("p", { class: "clean", "data-testid": "report-clean" }, "clean: no build-context file and no builder base in the target image")] : [];
  const dirs =
    record.biggest_dirs.length === 0
      ? []
      : [
          el("h3", {}, `biggest directories the image adds over its base${record.added_bytes !== undefined && record.added_bytes !== null ? ` (${formatBytes(record.added_bytes)} in all)` : ""}`),
          el(
            "table",
            { class: "dirs", "data-testid": "report-dirs" },
            el("tbody", {}, ...record.biggest_dirs.map((dir) => el("tr", {}, el("td", { class: "num" }, formatBytes(dir.bytes)), el("td", { class: "code" }, dir.path), el("td", { class: "num" }, `${dir.files} files`)))),
          ),
        ];
  return section("What ships", "report-leaks", ...(warnings.length ? [el("ul", {}, ...warnings)] : []), ...clean, ...dirs);
}

function stagesTable(record: BuildRecord): HTMLElement {
  const head = el("tr", {}, ...["stage", "start", "end", "worked", "image", "layers", "steps"].map((name) => el("th", {}, name)));
  const rows = record.stages.map((stage) => {
    const ran = stage.steps.filter((step) => step.status === "ran").length;
    return el(
      "tr",
      {},
      el("td", {}, stage.name, stage.target ? el("span", { class: "tag" }, "target") : ""),
      el("td", { class: "num" }, formatMs(stage.start_ms)),
      el("td", { class: "num" }, stage.end_ms === null || stage.end_ms === undefined ? "—" : formatMs(stage.end_ms)),
      el("td", { class: "num strong", title: `from start to end ${formatMs(stageDuration(stage))}` }, formatMs(stageWork(stage))),
      el("td", { class: "num" }, stage.size !== null && stage.size !== undefined ? formatBytes(stage.size) : ""),
      el("td", { class: "num" }, String(stage.layers ?? "")),
      el("td", {}, ran ? `${ran} ran` : "all cached", stage.change ? el("span", { class: "why" }, ` · changed: ${stageChange(stage)}`) : ""),
    );
  });
  return section("Stages", "report-stages", el("div", { class: "scroll" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
}

function downloadLink(text: string): HTMLElement {
  const link = el("a", { download: "build-record.json", "data-testid": "report-download" }, "download the record (JSON)");
  link.addEventListener("click", () => {
    link.setAttribute("href", URL.createObjectURL(new Blob([text], { type: "application/json" })));
  });
  return link;
}

function show(record: BuildRecord, text: string): void {
  const graphHost = el("div", { class: "graph", "data-testid": "report-graph" });
  const body = el(
    "main",
    {},
    header(record),
    section("Stage graph", "report-graph-card", legend(), graphHost),
    criticalPath(record),
    section("Slowest steps", "report-slowest", stepsTable(slowestSteps(record, SLOWEST), "report-slowest")),
    leaks(record),
    stagesTable(record),
    el("footer", {}, "The whole build record is inside this file; ", downloadLink(text), "."),
  );
  document.body.append(body);
  const { overlay } = recordOverlay(record);
  renderStageGraph(graphHost, record.plan, { title: "stage graph of the build", overlay, view: { focus: true }, fileBaseName: "build-graph" });
}

function main(): void {
  const style = document.createElement("style");
  style.textContent = REPORT_CSS;
  document.head.append(style);
  const source = document.getElementById("stageplan-record");
  const text = source?.textContent ?? "";
  try {
    show(parseRecord(text), text);
  } catch (err) {
    document.body.append(el("main", {}, el("p", { class: "error", "data-testid": "report-error" }, err instanceof Error ? err.message : String(err))));
  }
}

main();

/** What changed in a stage, in words: the first step's reason that names a cause (a step that ran
 * only because it is committed with a later one says nothing about the stage). */
function stageChange(stage: StageRecord): string {
  const step = stage.steps.find((s) => s.miss_text && s.miss?.kind !== "committed_with_run");
  return step?.miss_text ?? stage.change?.kind ?? "";
}
