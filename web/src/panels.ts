// The playground's side panels: the target <select>, the diagnostics list and the plan JSON.
//
// Input: the latest plan outcome and the chosen targets. Output: DOM updates of those panels.
// Invariant: rendering is idempotent and keeps the panels' size (no layout jumps): lists are
// replaced in place inside fixed-height, scrolling containers.
import type { Diagnostic, Plan } from "./types/planner-types";

/** Fills the target select with the named stages; chosen names missing from the file stay, marked. */
export function renderTargets(select: HTMLSelectElement, plan: Plan | null, chosen: string[]): void {
  const names = plan ? plan.stages.flatMap((stage) => (stage.name ? [stage.name] : [])) : [];
  const chosenLower = new Set(chosen.map((name) => name.toLowerCase()));
  const missing = chosen.filter((name) => !names.includes(name.toLowerCase()));
  const wanted = [...names.map((name) => ({ value: name, missing: false })), ...missing.map((name) => ({ value: name, missing: true }))];
  const current = [...select.options].map((option) => `${option.value}|${option.dataset.missing ?? ""}`).join("\n");
  const next = wanted.map((item) => `${item.value}|${item.missing ? "1" : ""}`).join("\n");
  if (current !== next) {
    select.replaceChildren(
      ...wanted.map((item) => {
        const option = document.createElement("option");
        option.value = item.value;
        option.textContent = item.missing ? `${item.value} (not in the file)` : item.value;
        if (item.missing) option.dataset.missing = "1";
        return option;
      }),
    );
  }
  for (const option of select.options) option.selected = chosenLower.has(option.value.toLowerCase());
  select.disabled = wanted.length === 0;
}

function severityIcon(diagnostic: Diagnostic): string {
  return diagnostic.severity === "error" ? "✖" : diagnostic.severity === "warning" ? "▲" : "ℹ";
}

/** Lists the diagnostics; each item with a line moves the editor there when clicked. */
export function renderDiagnostics(list: HTMLElement, diagnostics: Diagnostic[], extra: string[], onLine: (line: number, column: number) => void): void {
  const items: HTMLElement[] = [];
  for (const message of extra) {
    const item = document.createElement("li");
    item.className = "diag error";
    item.dataset.severity = "error";
    item.innerHTML = `<span class="icon">✖</span><span class="message"></span>`;
    item.querySelector(".message")!.textContent = message;
    items.push(item);
  }
  for (const diagnostic of diagnostics) {
    const item = document.createElement("li");
    item.className = `diag ${diagnostic.severity}`;
    item.dataset.severity = diagnostic.severity;
    item.dataset.code = diagnostic.code;
    item.dataset.line = String(diagnostic.line);
    const icon = document.createElement("span");
    icon.className = "icon";
    icon.textContent = severityIcon(diagnostic);
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = diagnostic.line > 0 ? `line ${diagnostic.line}` : "options";
    const message = document.createElement("span");
    message.className = "message";
    message.textContent = diagnostic.message;
    const code = document.createElement(diagnostic.url ? "a" : "span");
    code.className = "code";
    code.textContent = diagnostic.code;
    if (code instanceof HTMLAnchorElement && diagnostic.url) {
      code.href = diagnostic.url;
      code.target = "_blank";
      code.rel = "noopener";
    }
    item.append(icon, where, message, code);
    if (diagnostic.line > 0) {
      item.tabIndex = 0;
      item.addEventListener("click", (event) => {
        if (!(event.target instanceof HTMLAnchorElement)) onLine(diagnostic.line, diagnostic.column_utf16);
      });
      item.addEventListener("keydown", (event) => {
        if (event.key === "Enter") onLine(diagnostic.line, diagnostic.column_utf16);
      });
    }
    items.push(item);
  }
  if (items.length === 0) {
    const item = document.createElement("li");
    item.className = "diag none";
    item.textContent = "No problems found.";
    items.push(item);
  }
  list.replaceChildren(...items);
}

/** Shows the plan JSON text (`JSON.stringify(plan, null, 2)`, made off the main thread), or why there is none. */
export function renderPlanJson(pre: HTMLElement, planText: string | null, errorCount: number): string {
  const text = planText ?? `// no plan: the Dockerfile has ${errorCount} error${errorCount === 1 ? "" : "s"} (see Diagnostics)`;
  if (pre.textContent !== text) pre.textContent = text;
  return text;
}
