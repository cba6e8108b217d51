// The browser entry (dist/browser.js, for vscode.dev) against the `vscode` stand-in: it needs no
// Node module, reads the web-target .wasm through `vscode.workspace.fs`, and then offers the same
// features as the desktop entry.
//
// Not covered here: running inside VS Code for the Web's worker extension host (none can be
// installed on this machine); Node runs the bundle instead, which has the WebAssembly API it uses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { extensionDir, installVscodeStub, SAMPLE, tempFolder } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const bundlePath = join(extensionDir, "dist", "browser.js");

let vscode;
let document;
let readFiles;
let context;

before(async () => {
  vscode = installVscodeStub();
  readFiles = [];
  const readFile = vscode.workspace.fs.readFile;
  vscode.workspace.fs.readFile = async (uri) => {
    readFiles.push(uri.path);
    return readFile(uri);
  };
  const folder = tempFolder({ Dockerfile: SAMPLE });
  document = vscode.__test.openDocument(join(folder, "Dockerfile"), SAMPLE);
  context = vscode.__test.context(extensionDir);
  await require(bundlePath).activate(context);
});

describe("browser entry", () => {
  it("requires no Node module, only vscode", () => {
    const requires = [...readFileSync(bundlePath, "utf8").matchAll(/require\(["']([^"']+)["']\)/g)].map((match) => match[1]);
    assert.deepEqual([...new Set(requires)], ["vscode"]);
  });

  it("loads the web-target .wasm through workspace.fs", () => {
    assert.equal(readFiles[0], join(extensionDir, "dist", "web", "planner_bg.wasm"));
    // Everything else read is a .dockerignore the open Dockerfile may have (dockerignore.ts).
    assert.ok(readFiles.slice(1).every((path) => path.endsWith(".dockerignore")), JSON.stringify(readFiles));
  });

  it("plans with it: diagnostics, outline and the preview", async () => {
    const recorded = vscode.__test.recorded;
    assert.deepEqual(recorded.diagnosticCollections[0].get(document.uri), []);
    const symbols = await recorded.providers.find((entry) => entry.kind === "documentSymbol").provider.provideDocumentSymbols(document);
    assert.deepEqual(symbols.map((symbol) => symbol.name), ["tools", "build", "test", "docs", "prod"]);
    await vscode.commands.executeCommand("stageplan.openPreviewToSide");
    const panel = recorded.panels.at(-1);
    panel.receive({ type: "ready" });
    const message = panel.posted.at(-1);
    assert.equal(message.type, "plan");
    assert.deepEqual(message.plan.waves, [[0], [1], [4]]);
    for (const subscription of context.subscriptions) subscription.dispose();
  });
});
