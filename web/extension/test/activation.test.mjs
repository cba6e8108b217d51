// Activation of the desktop bundle (dist/extension.js, with the real nodejs WASM planner inside)
// against the `vscode` stand-in: what it registers, what the preview panel is sent, and what the
// code lenses, commands and webview messages do.
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { before, describe, it } from "node:test";

import { extensionDir, installVscodeStub, rootDir, SAMPLE, tempFolder } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const manifest = JSON.parse(readFileSync(join(extensionDir, "package.json"), "utf8"));

let vscode;
let recorded;
let document;
let folder;
let context;
let storage;
const lines = SAMPLE.split("\n");

before(() => {
  vscode = installVscodeStub();
  recorded = vscode.__test.recorded;
  folder = tempFolder({ Dockerfile: SAMPLE, "notes.txt": "not a Dockerfile\n" });
  document = vscode.__test.openDocument(join(folder, "Dockerfile"), SAMPLE);
  vscode.__test.openDocument(join(folder, "notes.txt"), "FROM x\n", { languageId: "plaintext", background: true });
  const extension = require(join(extensionDir, "dist", "extension.js"));
  storage = tempFolder({});
  context = vscode.__test.context(extensionDir, storage);
  extension.activate(context);
});

const provider = (kind) => {
  const found = recorded.providers.find((candidate) => candidate.kind === kind);
  assert.ok(found, `no ${kind} provider registered`);
  return found;
};
/** The commands a terminal was sent, without the `--record FILE` the build lens adds. */
const withoutRecord = (sent) => sent.map((command) => command.split(" --record ")[0]);
const lastPlan = (panel) => [...panel.posted].reverse().find((message) => message.type === "plan");

describe("activation", () => {
  it("registers exactly the commands the manifest declares", () => {
    const declared = manifest.contributes.commands.map((command) => command.command).sort();
    assert.deepEqual([...recorded.commands.keys()].sort(), declared);
    assert.ok(context.subscriptions.length >= 10, "every registration is disposed with the extension");
  });

  it("declares the preview on the editor title and context menus of Dockerfiles", () => {
    for (const menu of ["editor/title", "editor/context"]) {
      const item = manifest.contributes.menus[menu].find((entry) => entry.command === "stageplan.openPreviewToSide");
      assert.ok(item, `${menu} has the preview command`);
      assert.match(item.when, /editorLangId == dockerfile/);
      const pattern = new RegExp(/resourceFilename =~ \/(.+)\/$/.exec(item.when)[1]);
      for (const name of ["Dockerfile", "api.Dockerfile", "Dockerfile.prod"]) assert.ok(pattern.test(name), `${menu} matches ${name}`);
      for (const name of ["Dockerfile.", "notes.txt", "xDockerfile"]) assert.ok(!pattern.test(name), `${menu} does not match ${name}`);
    }
    assert.equal(manifest.contributes.commands.find((command) => command.command === "stageplan.openPreviewToSide").title, "Open Stage Preview to the Side");
    assert.equal(manifest.engines.vscode, `^${manifest.devDependencies["@types/vscode"]}`, "@types/vscode is pinned to engines.vscode");
    assert.ok(manifest.main && manifest.browser, "desktop and browser entries");
  });

  it("registers symbols, definitions and code lenses for Dockerfiles", () => {
    for (const kind of ["documentSymbol", "definition", "codeLens"]) {
      const { selector } = provider(kind);
      assert.deepEqual(selector[0], { language: "dockerfile" });
      assert.deepEqual(selector.slice(1).map((filter) => filter.pattern), ["**/Dockerfile", "**/*.Dockerfile", "**/Dockerfile.*"]);
    }
  });

  it("puts check diagnostics of open Dockerfiles into one collection, and none for other files", () => {
    assert.equal(recorded.diagnosticCollections.length, 1);
    const collection = recorded.diagnosticCollections[0];
    assert.deepEqual(collection.get(document.uri), [], "the sample has no findings");
    assert.equal(collection.get(vscode.Uri.file(join(folder, "notes.txt"))), undefined);
    const other = vscode.__test.openDocument(join(folder, "api.Dockerfile"), "FROM alpine AS Builder\nFROM scratch\nCOPY --from=builder /a /b\n", { languageId: "plaintext" });
    const [warning] = collection.get(other.uri);
    assert.equal(warning.code.value, "StageNameCasing");
    assert.match(warning.code.target.toString(), /^https:\/\/docs\.docker\.com/);
    assert.equal(warning.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(warning.source, "stageplan");
    assert.deepEqual([warning.range.start.line, warning.range.start.character, warning.range.end.character], [0, 15, 22]);
    vscode.__test.activate(document);
  });

  it("drops a closed document's diagnostics, also when an edit was pending", async () => {
    const collection = recorded.diagnosticCollections[0];
    const doomed = vscode.__test.openDocument(join(folder, "old.Dockerfile"), "FROM alpine AS A\n", { languageId: "plaintext", background: true });
    assert.equal(collection.get(doomed.uri).length, 1);
    vscode.__test.editDocument(doomed, "FROM alpine AS B\n");
    vscode.__test.closeDocument(doomed);
    await sleep(300);
    assert.equal(collection.get(doomed.uri), undefined);
  });

  it("outlines the stages", async () => {
    const symbols = await provider("documentSymbol").provider.provideDocumentSymbols(document);
    assert.deepEqual(symbols.map((symbol) => symbol.name), ["tools", "build", "test", "docs", "prod"]);
    assert.ok(symbols.every((symbol) => symbol instanceof vscode.DocumentSymbol && symbol.kind === vscode.SymbolKind.Class));
  });

  it("goes to the stage from COPY --from", async () => {
    const line = 13;
    const [link] = await provider("definition").provider.provideDefinition(document, new vscode.Position(line, lines[line].indexOf("build") + 1));
    assert.equal(link.targetUri, document.uri);
    assert.equal(link.targetRange.start.line, 4);
    assert.equal(lines[4].slice(link.targetRange.start.character, link.targetRange.end.character), "build");
    assert.equal(await provider("definition").provider.provideDefinition(document, new vscode.Position(0, 2)), null);
  });

  it("shows a build lens and a copy lens above each named stage", async () => {
    const lenses = await provider("codeLens").provider.provideCodeLenses(document);
    assert.equal(lenses.length, 10);
    const test = lenses.filter((lens) => lens.range.start.line === 8);
    assert.deepEqual(test.map((lens) => lens.command.title), ["Build this stage (3 stages)", "Copy plan JSON"]);
    assert.deepEqual(test.map((lens) => lens.command.command), ["stageplan.buildStage", "stageplan.copyPlanJson"]);
    assert.equal(test[0].command.arguments[1], "test");
  });

  it("runs runner build for the lens's stage in a terminal in the Dockerfile's folder", async () => {
    // A program file to find: the lens only checks that it exists and is executable, never runs it.
    const binDir = join(folder, "bin");
    mkdirSync(binDir, { recursive: true });
    writeFileSync(join(binDir, "runner"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(binDir, "runner"), 0o755);
    recorded.configuration["stageplan.runnerPath"] = join(binDir, "runner");
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "test");
    const terminal = recorded.terminals.at(-1);
    assert.equal(terminal.cwd.fsPath, folder);
    assert.ok(terminal.shown);
    assert.equal(terminal.sent.length, 1);
    const [command, record] = terminal.sent[0].split(" --record ");
    assert.equal(command, `${binDir}/runner build . -f Dockerfile --target test`);
    // The build writes its record where the preview reads this file's latest one.
    assert.match(record, new RegExp(`^${storage}/records/[0-9a-f]{16}\\.record\\.json$`));
    assert.ok(existsSync(join(storage, "records")), "the records folder exists before the build writes into it");
  });

  it("finds a bare runnerPath on PATH and resolves ${workspaceFolder}", async () => {
    const binDir = join(folder, "bin");
    const savedPath = process.env.PATH;
    try {
      process.env.PATH = [join(folder, "empty"), binDir, savedPath].join(delimiter);
      recorded.configuration["stageplan.runnerPath"] = "runner";
      await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "docs");
      assert.deepEqual(withoutRecord(recorded.terminals.at(-1).sent), [`${binDir}/runner build . -f Dockerfile --target docs`]);
    } finally {
      process.env.PATH = savedPath;
    }
    recorded.workspaceFolders = [folder];
    recorded.configuration["stageplan.runnerPath"] = "${workspaceFolder}/bin/runner";
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "docs");
    assert.deepEqual(withoutRecord(recorded.terminals.at(-1).sent), [`${binDir}/runner build . -f Dockerfile --target docs`]);
    recorded.configuration["stageplan.runnerPath"] = "bin/runner";
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "docs");
    assert.deepEqual(withoutRecord(recorded.terminals.at(-1).sent), [`${binDir}/runner build . -f Dockerfile --target docs`], "relative to the workspace folder");
    recorded.workspaceFolders = [];
  });

  it("says how to set stageplan.runnerPath when the runner is missing, and opens the setting", async () => {
    const terminalsBefore = recorded.terminals.length;
    recorded.configuration["stageplan.runnerPath"] = "stageplan-no-such-runner";
    recorded.errorMessageChoice = "Open Setting";
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "test");
    assert.equal(recorded.terminals.length, terminalsBefore, "no terminal for a program that is not there");
    assert.match(recorded.errorMessages.at(-1), /^Cannot build stage "test": the runner program "stageplan-no-such-runner" \(the "stageplan\.runnerPath" setting\) is not on PATH\. Build it with `cargo build --release -p runner`/);
    assert.deepEqual(recorded.builtinCommands.at(-1), ["workbench.action.openSettings", "stageplan.runnerPath"]);

    const notExecutable = join(folder, "bin", "runner.txt");
    writeFileSync(notExecutable, "not a program\n");
    chmodSync(notExecutable, 0o644);
    for (const [setting, problem] of [
      [notExecutable, "is not executable (chmod +x it)"],
      [join(folder, "bin"), "is not a file"],
      [join(folder, "nowhere", "runner"), "does not exist"],
    ]) {
      recorded.configuration["stageplan.runnerPath"] = setting;
      await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "test");
      assert.equal(recorded.errorMessages.at(-1), `Cannot build stage "test": the runner program "${setting}" (the "stageplan.runnerPath" setting) ${problem}. Build it with \`cargo build --release -p runner\` and set "stageplan.runnerPath" to its path (for example \${workspaceFolder}/target/release/runner).`);
    }
    assert.equal(recorded.terminals.length, terminalsBefore);
    assert.equal(recorded.builtinCommands.length, 1, "the setting opens only when asked");
    recorded.configuration["stageplan.runnerPath"] = join(folder, "bin", "runner");
  });

  it("copies the plan JSON of the lens's target", async () => {
    await vscode.commands.executeCommand("stageplan.copyPlanJson", document.uri, "docs");
    const plan = JSON.parse(recorded.clipboard);
    assert.equal(plan.version, 1);
    assert.deepEqual(plan.targets, [3]);
    assert.deepEqual(plan.stages.filter((stage) => stage.needed).map((stage) => stage.name), ["tools", "docs"]);
    assert.match(recorded.infoMessages.at(-1), /2 of 5 stages/);
  });
});

describe("preview", () => {
  let panel;
  it("opens beside the editor with scripts, local resources only and a nonce CSP", async () => {
    await vscode.commands.executeCommand("stageplan.openPreviewToSide");
    assert.equal(recorded.panels.length, 1);
    panel = recorded.panels[0];
    assert.equal(panel.showOptions.viewColumn, vscode.ViewColumn.Beside);
    assert.equal(panel.showOptions.preserveFocus, true);
    assert.equal(panel.options.enableScripts, true);
    assert.deepEqual(panel.options.localResourceRoots.map((uri) => uri.path.slice(extensionDir.length)), ["/dist", "/media"]);
    const csp = /content="([^"]+)"/.exec(panel.webview.html)[1];
    const nonce = /script-src 'nonce-([A-Za-z0-9]+)'/.exec(csp)[1];
    assert.match(panel.webview.html, new RegExp(`<script nonce="${nonce}" src="https://file\\+\\.vscode-resource\\.vscode-cdn\\.net${extensionDir}/dist/webview\\.js">`));
    assert.doesNotMatch(csp, /unsafe-eval/);
    assert.equal(panel.title, "Stages: Dockerfile");
    assert.equal(panel.posted.length, 0, "nothing is sent before the script says it is ready");
  });

  it("sends the plan when the webview is ready", () => {
    panel.receive({ type: "ready" });
    const message = lastPlan(panel);
    assert.equal(message.fileName, "Dockerfile");
    assert.equal(message.uri, document.uri.toString());
    assert.equal(message.plan.stages.length, 5);
    assert.deepEqual(message.plan.targets, [4]);
    assert.deepEqual(message.options, { targets: [], build_args: {} });
    assert.equal(message.currentStage, null, "the cursor is on line 1, above the first stage");
  });

  it("re-plans as the user types", async () => {
    const before = panel.posted.length;
    vscode.__test.editDocument(document, SAMPLE + "FROM prod AS final\n");
    vscode.__test.editDocument(document, SAMPLE + "FROM prod AS final2\n");
    await sleep(200);
    const sent = panel.posted.slice(before).filter((message) => message.type === "plan");
    assert.equal(sent.length, 1, "a burst of edits is planned once");
    assert.deepEqual(sent[0].plan.stages.map((stage) => stage.name).at(-1), "final2");
  });

  it("draws the stages that could be read while the file has errors, and the last good plan when none could", async () => {
    vscode.__test.editDocument(document, SAMPLE + "RUNN make\n");
    await sleep(200);
    let message = lastPlan(panel);
    assert.equal(message.plan, null);
    assert.equal(message.fallback.source, "outline");
    assert.deepEqual(message.fallback.plan.stages.map((stage) => stage.name), ["tools", "build", "test", "docs", "prod"]);
    assert.deepEqual(message.fallback.plan.targets, [4]);
    assert.deepEqual(message.fallback.plan.images, ["alpine:3.20", "golang:1.22"], "the images the needed stages use");
    assert.ok(message.diagnostics.some((diagnostic) => diagnostic.severity === "error"));
    vscode.__test.editDocument(document, "FROM\n");
    await sleep(200);
    message = lastPlan(panel);
    assert.equal(message.fallback.source, "last-good");
    assert.equal(message.fallback.plan.stages.length, 6, "the last plan without errors (the edit before added a stage)");
    vscode.__test.editDocument(document, SAMPLE);
    await sleep(200);
    assert.equal(lastPlan(panel).plan.stages.length, 5);
    assert.equal(lastPlan(panel).fallback, null);
  });

  it("sends the latest build record of the file's lens builds when the runner writes it", async () => {
    const lastRecord = () => [...panel.posted].reverse().find((message) => message.type === "record");
    await sleep(20);
    assert.deepEqual(lastRecord(), { type: "record", uri: document.uri.toString(), record: null, problem: null }, "no record before a lens build");
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "test");
    const recordPath = recorded.terminals.at(-1).sent[0].split(" --record ")[1];
    // What `runner build --record` writes at the end of the build.
    copyFileSync(join(rootDir, "tests", "fixtures", "records", "seed-app-go-changed.record.json"), recordPath);
    vscode.__test.fileChanged(recordPath, "create");
    await sleep(20);
    assert.equal(lastRecord().uri, document.uri.toString());
    assert.equal(lastRecord().record.version, 1);
    assert.deepEqual(lastRecord().record.critical_path.at(-2), { stage: 1, step: 2 });
    writeFileSync(recordPath, "{ not json");
    vscode.__test.fileChanged(recordPath);
    await sleep(20);
    assert.equal(lastRecord().record, null);
    assert.match(lastRecord().problem, /^not a build record: the file is not JSON/);
    rmSync(recordPath);
    vscode.__test.fileChanged(recordPath, "delete");
    await sleep(20);
    assert.deepEqual(lastRecord(), { type: "record", uri: document.uri.toString(), record: null, problem: null });
  });

  it("highlights the stage under the cursor", () => {
    vscode.__test.moveCursor(document, 9);
    assert.deepEqual(panel.posted.at(-1), { type: "cursor", currentStage: 2 });
  });

  it("reveals the FROM line of a clicked node", async () => {
    panel.receive({ type: "reveal", stageIndex: 1, line: 5 });
    await sleep(10);
    const editor = vscode.window.activeTextEditor;
    assert.equal(editor.document, document);
    assert.deepEqual([editor.selection.active.line, editor.selection.active.character], [4, 0]);
    assert.equal(editor.revealed.at(-1).revealType, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    assert.deepEqual(panel.posted.at(-1), { type: "cursor", currentStage: 1 }, "the moved cursor highlights the stage");
  });

  it("re-plans for the targets and build args chosen in the preview, and refreshes the lenses", async () => {
    let lensEvents = 0;
    provider("codeLens").provider.onDidChangeCodeLenses(() => lensEvents++);
    panel.receive({ type: "options", targets: ["docs"], build_args: { GO_VERSION: "1.23" } });
    const message = lastPlan(panel);
    assert.deepEqual(message.plan.targets, [3]);
    assert.deepEqual(message.options, { targets: ["docs"], build_args: { GO_VERSION: "1.23" } });
    assert.deepEqual(message.plan.build_args, { GO_VERSION: "1.23" });
    assert.equal(lensEvents, 1);
    await vscode.commands.executeCommand("stageplan.buildStage", document.uri, "build");
    assert.equal(recorded.terminals.at(-1).sent[0].split(" --record ")[0], `${join(folder, "bin", "runner")} build . -f Dockerfile --target build --build-arg GO_VERSION=1.23`);
  });

  it("reports an unknown target chosen in the preview", () => {
    panel.receive({ type: "options", targets: ["gone"], build_args: {} });
    const message = lastPlan(panel);
    assert.equal(message.plan, null);
    assert.equal(message.diagnostics.find((diagnostic) => diagnostic.code === "UnknownTarget")?.line, 0);
    panel.receive({ type: "options", targets: [], build_args: {} });
  });

  it("follows the active Dockerfile and ignores other files", () => {
    const other = vscode.__test.openDocument(join(folder, "Dockerfile.dev"), "FROM node:22 AS dev\nRUN npm ci\n", { languageId: "plaintext" });
    let message = lastPlan(panel);
    assert.equal(message.fileName, "Dockerfile.dev");
    assert.deepEqual(message.plan.stages.map((stage) => stage.name), ["dev"]);
    assert.equal(panel.title, "Stages: Dockerfile.dev");
    vscode.__test.openDocument(join(folder, "README.md"), "# hi\n", { languageId: "markdown" });
    assert.equal(lastPlan(panel).fileName, "Dockerfile.dev");
    vscode.__test.activate(document);
    message = lastPlan(panel);
    assert.equal(message.fileName, "Dockerfile");
    assert.ok(other);
  });

  it("gives a Dockerfile that has an error when it opens its outline, definitions, lenses and graph", async () => {
    // An unknown instruction in the first stage: no plan, but every stage can be read.
    const text = ["FROM alpine:3.20 AS base", "RUNN apk add git", "FROM base AS build", "RUN make", "FROM scratch AS prod", "COPY --from=build /app /app", ""].join("\n");
    const broken = vscode.__test.openDocument(join(folder, "broken.Dockerfile"), text, { languageId: "plaintext" });
    const message = lastPlan(panel);
    assert.equal(message.fileName, "broken.Dockerfile");
    assert.equal(message.plan, null);
    assert.ok(message.diagnostics.some((diagnostic) => diagnostic.severity === "error" && diagnostic.line === 2));
    assert.equal(message.fallback.source, "outline", "there was never a good plan: the outline is drawn");
    assert.deepEqual(message.fallback.plan.stages.map((stage) => [stage.name, stage.needed]), [["base", true], ["build", true], ["prod", true]]);

    const symbols = await provider("documentSymbol").provider.provideDocumentSymbols(broken);
    assert.deepEqual(symbols.map((symbol) => [symbol.name, symbol.selectionRange.start.line]), [["base", 0], ["build", 2], ["prod", 4]]);
    const [link] = await provider("definition").provider.provideDefinition(broken, new vscode.Position(5, "COPY --from=bu".length));
    assert.equal(link.targetRange.start.line, 2);
    const lenses = await provider("codeLens").provider.provideCodeLenses(broken);
    assert.deepEqual(
      lenses.filter((lens) => lens.command.command === "stageplan.buildStage").map((lens) => lens.command.title),
      ["Build this stage (1 stage)", "Build this stage (2 stages)", "Build this stage (3 stages)"],
    );
    vscode.__test.closeDocument(broken);
    vscode.__test.activate(document);
  });

  it("moves the cursor to a clicked diagnostic", async () => {
    panel.receive({ type: "goto", line: 3, column: 6 });
    await sleep(10);
    const { active } = vscode.window.activeTextEditor.selection;
    assert.deepEqual([active.line, active.character], [2, 5]);
  });

  it("answers the find box with the planner's did-you-mean", async () => {
    panel.receive({ type: "suggest", id: 7, value: "biuld", names: ["tools", "build", "test"] });
    await sleep(10);
    assert.deepEqual(panel.posted.at(-1), { type: "suggestion", id: 7, suggestion: "build" });
    panel.receive({ type: "suggest", id: 8, value: "nothing-like-it", names: ["tools", "build"] });
    await sleep(10);
    assert.deepEqual(panel.posted.at(-1), { type: "suggestion", id: 8, suggestion: null });
  });

  it("saves an exported graph where the user chooses, next to the Dockerfile by default", async () => {
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>';
    recorded.saveAnswer = vscode.Uri.file(join(folder, "graph.svg"));
    panel.receive({ type: "export", name: "stages.svg", mime: "image/svg+xml", base64: Buffer.from(svg).toString("base64") });
    await sleep(20);
    assert.equal(recorded.saveDialogs.at(-1).defaultUri.path, vscode.Uri.file(join(folder, "stages.svg")).path);
    assert.deepEqual(recorded.written.at(-1), { path: vscode.Uri.file(join(folder, "graph.svg")).path, bytes: Buffer.from(svg) });
    // Cancelled: nothing is written; a name that is not an export is refused outright.
    recorded.saveAnswer = undefined;
    const writes = recorded.written.length;
    panel.receive({ type: "export", name: "stages.png", mime: "image/png", base64: "iVBORw0KGgo=" });
    panel.receive({ type: "export", name: "../../etc/passwd", mime: "text/plain", base64: "eA==" });
    await sleep(20);
    assert.equal(recorded.written.length, writes);
    assert.equal(recorded.saveDialogs.at(-1).defaultUri.path.endsWith("/stages.png"), true);
  });

  it("ignores malformed webview messages", () => {
    const before = panel.posted.length;
    panel.receive({ type: "reveal", stageIndex: "1" });
    panel.receive(null);
    assert.equal(panel.posted.length, before);
  });

  it("reveals the one panel instead of opening a second", async () => {
    await vscode.commands.executeCommand("stageplan.openPreviewToSide");
    assert.equal(recorded.panels.length, 1);
    assert.equal(panel.revealed.length, 1);
  });

  it("tells the user to open a Dockerfile when the active file is something else", async () => {
    vscode.__test.openDocument(join(folder, "notes2.txt"), "hello\n", { languageId: "plaintext" });
    await vscode.commands.executeCommand("stageplan.openPreviewToSide");
    assert.match(recorded.infoMessages.at(-1), /Open a Dockerfile/);
  });

  it("is restored after a reload with the same file and options", async () => {
    const serializer = recorded.serializers.get("stageplan.preview");
    assert.ok(serializer, "a serializer for the preview's view type");
    assert.ok(manifest.activationEvents.includes("onWebviewPanel:stageplan.preview"));
    const saved = { uri: document.uri.toString(), fileName: "Dockerfile", options: { targets: ["docs"], build_args: { A: "1" } } };
    // While a preview is open, a restored one is closed instead of competing with it.
    const extra = vscode.__test.restoredPanel("stageplan.preview", "old");
    await serializer.deserializeWebviewPanel(extra, saved);
    assert.ok(extra.disposed);
    panel.dispose();
    const restored = vscode.__test.restoredPanel("stageplan.preview", "Stages: Dockerfile");
    await serializer.deserializeWebviewPanel(restored, saved);
    assert.equal(restored.disposed, false);
    assert.equal(restored.webview.options.enableScripts, true);
    assert.match(restored.webview.html, /script-src 'nonce-/);
    restored.receive({ type: "ready" });
    const message = lastPlan(restored);
    assert.equal(message.uri, document.uri.toString());
    assert.deepEqual(message.options, saved.options);
    assert.deepEqual(message.plan.targets, [3]);
    const gone = vscode.__test.restoredPanel("stageplan.preview", "gone");
    await serializer.deserializeWebviewPanel(gone, { ...saved, uri: "file:///nowhere/Dockerfile" });
    assert.ok(gone.disposed, "a preview of a file that is gone is closed");
    const foreign = vscode.__test.restoredPanel("stageplan.preview", "foreign");
    await serializer.deserializeWebviewPanel(foreign, { something: "else" });
    assert.ok(foreign.disposed);
    panel = restored;
  });

  it("disposes everything with the extension", () => {
    for (const subscription of context.subscriptions) subscription.dispose();
    assert.equal(recorded.commands.size, 0);
    assert.equal(recorded.serializers.size, 0);
    assert.ok(panel.disposed);
  });
});
