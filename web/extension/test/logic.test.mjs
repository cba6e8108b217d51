// The extension's logic against the real nodejs WASM planner: diagnostics conversion, the outline,
// Go to Definition, code lenses, the build command, the plan cache and the webview page's CSP.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import { fixtureDockerfiles, loadPlanner, loadSource, SAMPLE } from "./helpers.mjs";

let planner;
let analysis;
let stateModule;
let html;
let messages;
before(async () => {
  planner = loadPlanner();
  analysis = await loadSource("analysis.ts");
  stateModule = await loadSource("state.ts");
  html = await loadSource("html.ts");
  messages = await loadSource("messages.ts");
});

const lines = SAMPLE.split("\n");
const position = (line1, needle, offset = 0) => ({ line: line1 - 1, character: lines[line1 - 1].indexOf(needle) + offset });

describe("diagnostics", () => {
  it("converts 1-based UTF-16 planner positions to 0-based editor ranges", () => {
    const text = "FROM alpine AS Builder\nRUN echo héllo ✓\nFROM scratch\nCOPY --from=builder /a /b\n";
    const diagnostics = planner.check(text);
    const casing = diagnostics.find((diagnostic) => diagnostic.code === "StageNameCasing");
    assert.ok(casing, `expected a StageNameCasing warning, got ${JSON.stringify(diagnostics)}`);
    const [converted] = analysis.toEditorDiagnostics([casing]);
    assert.equal(converted.severity, "warning");
    assert.equal(converted.code, "StageNameCasing");
    assert.match(converted.url, /^https:\/\/docs\.docker\.com\//);
    assert.deepEqual(converted.range.start, { line: 0, character: casing.column_utf16 - 1 });
    assert.equal(text.split("\n")[0].slice(converted.range.start.character, converted.range.end.character), "Builder");
  });

  it("puts option errors (line 0) at the top of the file", () => {
    const outcome = planner.plan(SAMPLE, { targets: ["nope"] });
    assert.equal(outcome.plan, null);
    const unknown = analysis.toEditorDiagnostics(outcome.diagnostics).find((diagnostic) => diagnostic.code === "UnknownTarget");
    assert.ok(unknown);
    assert.deepEqual(unknown.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
  });

  it("reports a parse error with its line", () => {
    const diagnostics = analysis.toEditorDiagnostics(planner.check("FROM alpine\nCOPY --from=missing\n"));
    assert.ok(diagnostics.some((diagnostic) => diagnostic.severity === "error" && diagnostic.range.start.line === 1), JSON.stringify(diagnostics));
  });
});

describe("outline", () => {
  it("has one symbol per stage with the name selected after AS", () => {
    const plan = planner.plan(SAMPLE, {}).plan;
    const symbols = analysis.stageSymbols(plan, lines);
    assert.deepEqual(symbols.map((symbol) => symbol.name), ["tools", "build", "test", "docs", "prod"]);
    const build = symbols[1];
    assert.equal(build.detail, "FROM golang:${GO_VERSION}");
    assert.deepEqual(build.range.start, { line: 4, character: 0 });
    assert.equal(build.range.end.line, 7, "the build stage ends with its continued RUN line");
    assert.equal(lines[4].slice(build.selectionRange.start.character, build.selectionRange.end.character), "build");
    assert.equal(symbols[2].detail, "FROM build (skipped)", "the default target prod does not need test");
  });

  it("names unnamed stages by index and selects FROM", () => {
    const text = "FROM alpine\nRUN true\nFROM scratch\n";
    const symbols = analysis.stageSymbols(planner.plan(text, {}).plan, text.split("\n"));
    assert.deepEqual(symbols.map((symbol) => symbol.name), ["stage 0", "stage 1"]);
    assert.deepEqual(symbols[1].selectionRange, { start: { line: 2, character: 0 }, end: { line: 2, character: 4 } });
  });
});

describe("definitions", () => {
  const plan = () => planner.plan(SAMPLE, {}).plan;
  it("goes from COPY --from=name to the stage name", () => {
    const found = analysis.definitionAt(plan(), lines, position(14, "build", 2));
    assert.equal(found.stageIndex, 1);
    assert.deepEqual(found.target.start, { line: 4, character: lines[4].indexOf("build") });
    assert.equal(lines[13].slice(found.origin.start.character, found.origin.end.character), "build");
  });
  it("goes from FROM name to the stage", () => {
    assert.equal(analysis.definitionAt(plan(), lines, position(9, "build")).stageIndex, 1);
  });
  it("goes from a mount's from= on a continuation line to the stage", () => {
    const found = analysis.definitionAt(plan(), lines, position(8, "tools", 1));
    assert.equal(found?.stageIndex, 0);
    assert.equal(found.origin.start.line, 7);
  });
  it("resolves --from=<index> to the stage with that index", () => {
    const text = "FROM alpine AS a\nFROM busybox AS b\nFROM scratch\nCOPY --from=1 /x /x\nCOPY --from=0 /y /y\n";
    const indexPlan = planner.plan(text, {}).plan;
    const textLines = text.split("\n");
    assert.equal(analysis.definitionAt(indexPlan, textLines, { line: 3, character: 12 }).stageIndex, 1);
    assert.equal(analysis.definitionAt(indexPlan, textLines, { line: 4, character: 12 }).stageIndex, 0);
  });
  it("finds nothing on an external image or plain text", () => {
    assert.equal(analysis.definitionAt(plan(), lines, position(3, "alpine")), null);
    assert.equal(analysis.definitionAt(plan(), lines, position(10, "test")), null);
  });
});

describe("code lenses", () => {
  it("counts the stages each named target builds", () => {
    const lenses = analysis.stageLenses(planner.outline(SAMPLE, {}));
    const titles = Object.fromEntries(lenses.map((lens) => [lens.stageName, lens.buildTitle]));
    assert.deepEqual(titles, {
      tools: "Build this stage (1 stage)",
      build: "Build this stage (2 stages)",
      test: "Build this stage (3 stages)",
      docs: "Build this stage (2 stages)",
      prod: "Build this stage (3 stages)",
    });
    assert.deepEqual(lenses[1].range.start, { line: 4, character: 0 });
  });

  it("counts the same stages as planning each target, on every fixture Dockerfile", () => {
    let compared = 0;
    let targetDependent = 0;
    for (const file of fixtureDockerfiles()) {
      const text = readFileSync(file, "utf8");
      if (analysis.graphDependsOnTarget(text)) targetDependent++;
      const plan = planner.plan(text, {}).plan;
      if (!plan) continue;
      const planTarget = (name) => planner.plan(text, { targets: [name] }).plan;
      const lenses = analysis.stageLenses(planner.outline(text, {}), analysis.graphDependsOnTarget(text) ? planTarget : null);
      for (const name of new Set(plan.stages.flatMap((stage) => (stage.name ? [stage.name] : [])))) {
        const targeted = planner.plan(text, { targets: [name] }).plan;
        if (!targeted) continue; // an error only a build of that target reports: no lens count to compare
        const needed = targeted.stages.filter((candidate) => candidate.needed).map((candidate) => candidate.index);
        const lens = lenses.filter((candidate) => candidate.stageName === name);
        assert.equal(lens.length, 1, `${file}: one lens for target ${name}`);
        assert.deepEqual(targeted.targets, [lens[0].stageIndex], `${file}: the lens sits on the stage --target ${name} builds`);
        assert.equal(lens[0].nStages, needed.length, `${file}: target ${name}`);
        compared++;
      }
    }
    assert.ok(compared >= 50, `compared ${compared} targets`);
    assert.ok(targetDependent > 0, "some fixture uses TARGETSTAGE");
  });

  it("builds a pasteable runner command with the preview's build args", () => {
    assert.equal(
      analysis.buildCommand("runner", "Dockerfile.prod", "build", { build_args: { GO_VERSION: "1.23", MSG: "a b" } }),
      "runner build . -f Dockerfile.prod --target build --build-arg GO_VERSION=1.23 --build-arg 'MSG=a b'",
    );
  });
});

describe("plan state", () => {
  it("checks once per text", () => {
    let calls = 0;
    const counting = { plan: planner.plan, checkWith: (...args) => (calls++, planner.checkWith(...args)), version: planner.version };
    const state = new stateModule.PlanState(counting, () => "");
    assert.deepEqual(state.checkDiagnostics("file:///D", SAMPLE), []);
    state.checkDiagnostics("file:///D", SAMPLE);
    assert.equal(calls, 1);
    assert.ok(state.checkDiagnostics("file:///D", "FROM\n").some((diagnostic) => diagnostic.severity === "error"));
    assert.equal(calls, 2);
  });

  it("plans once per text and options, and reads the stage structure of a text with errors", () => {
    const calls = { plan: 0, outline: 0 };
    const counting = {
      plan: (...args) => (calls.plan++, planner.plan(...args)),
      outline: (...args) => (calls.outline++, planner.outline(...args)),
      checkWith: planner.checkWith,
      version: planner.version,
    };
    const state = new stateModule.PlanState(counting, () => "");
    const first = state.get("file:///Dockerfile", SAMPLE);
    assert.equal(state.get("file:///Dockerfile", SAMPLE), first);
    assert.deepEqual(calls, { plan: 1, outline: 1 }, "one plan and one outline per text and options");
    assert.deepEqual(first.structure, planner.outline(SAMPLE, {}), "the structure is the planner's own outline");
    state.setOptions("file:///Dockerfile", { targets: ["test"], build_args: {} });
    const withTarget = state.get("file:///Dockerfile", SAMPLE);
    assert.deepEqual(withTarget.outcome.plan.targets, [2]);
    assert.deepEqual(withTarget.structure.targets, [4], "the structure keeps the default target");
    assert.equal(withTarget.outline, null, "no outline is needed while there is a plan");

    const broken = SAMPLE.replace("RUN go test ./...", "RUNN go test ./...");
    const bad = state.get("file:///Dockerfile", broken);
    assert.equal(bad.outcome.plan, null);
    assert.ok(bad.outcome.diagnostics.some((diagnostic) => diagnostic.severity === "error"));
    assert.equal(bad.structure.complete, false);
    assert.deepEqual(bad.structure.stages.map((stage) => stage.name), ["tools", "build", "test", "docs", "prod"], "every stage is still read");
    assert.deepEqual(bad.outline.targets, [2], "the preview's outline is for the chosen target");
    assert.ok(bad.lastGoodPlan, "the last good plan survives an error");
    assert.equal(state.structure("file:///Dockerfile", broken), bad.structure);
  });

  it("passes the platform setting to the planner", () => {
    const state = new stateModule.PlanState(planner, () => "linux/arm64");
    assert.equal(state.get("file:///D", SAMPLE).outcome.plan.platform, "linux/arm64");
  });
});

describe("webview page and messages", () => {
  it("allows scripts only with the nonce and never eval", () => {
    const nonce = html.makeNonce();
    assert.match(nonce, /^[A-Za-z0-9]{32}$/);
    assert.notEqual(html.makeNonce(), nonce, "a fresh nonce each time");
    const page = html.previewHtml({ cspSource: "https://x.vscode-cdn.net", nonce, scriptUri: "https://x/webview.js", styleUri: "https://x/p.css" });
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)[1];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
    assert.match(csp, new RegExp(`style-src https://x\\.vscode-cdn\\.net 'nonce-${nonce}'(;|$)`));
    assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline/);
    const scripts = [...page.matchAll(/<script([^>]*)>/g)].map((match) => match[1]);
    assert.equal(scripts.length, 1);
    assert.match(scripts[0], new RegExp(`nonce="${nonce}"`));
    assert.doesNotMatch(page, /\son[a-z]+=/i, "no inline event handlers");
  });

  it("accepts only well-formed webview messages", () => {
    assert.deepEqual(messages.parseWebviewMessage({ type: "reveal", stageIndex: 2, line: 9 }), { type: "reveal", stageIndex: 2, line: 9 });
    assert.equal(messages.parseWebviewMessage({ type: "reveal", stageIndex: "2" }), null);
    assert.equal(messages.parseWebviewMessage("ready"), null);
    assert.deepEqual(messages.parseWebviewMessage({ type: "options", targets: ["a", 3], build_args: { K: "v", N: 1 } }), {
      type: "options",
      targets: ["a"],
      build_args: { K: "v" },
    });
  });
});
