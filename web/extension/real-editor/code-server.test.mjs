// The extension in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) with the packaged .vsix,
// driven in headless Debian Chromium the way a user works: activation on a Dockerfile, the
// Problems panel, the Stage Preview's graph, a node click revealing its FROM line, a target
// switch, the graph's find with the planner's did-you-mean and its SVG export through VS Code's
// save dialog, Go to Definition, the outline, a file that has an error when it opens, the build lens
// with stageplan.runnerPath (missing, then present), and the four built-in themes (Dark, Light,
// Dark and Light High Contrast) by screenshot and by the contrast of every node's and graph
// control's text.
//
// Input: .code-server/ (scripts/setup.sh), web/pkg (the WASM packages), /usr/bin/chromium.
// Output: test results; tests/artifacts/code-server-<theme>.png (the workbench) and
// code-server-<theme>-graph.png (the preview's graph with its controls); with UPDATE_THEMES=1, the theme
// variables VS Code gives the webview rewritten into test/fixtures/vscode-themes.json.
// Invariant: steps run in order on one workbench; each waits on what the editor shows (rows,
// status bar, webview DOM), never on a fixed delay.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { belowAA, controlTextContrasts, nodeTextContrasts, WCAG_AA_TEXT } from "../test/contrast.mjs";
import { extensionDir, SAMPLE } from "../test/helpers.mjs";
import {
  artifactsDir,
  eventually,
  extensionHostLog,
  focusEditor,
  goToLine,
  openFile,
  packageVsix,
  pickTheme,
  previewFrame,
  readWhen,
  runCommand,
  startCodeServer,
  stopCodeServer,
  THEMES,
  waitForCursor,
} from "./code-server.mjs";

const STEP = { timeout: 180_000 };

/** A step of the scenario: on failure, a screenshot of the workbench is kept next to the others. */
function step(name, body) {
  it(name, STEP, async (t) => {
    try {
      await body(t);
    } catch (err) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
      await page?.screenshot({ path: join(artifactsDir, `code-server-failed-${slug}.png`) }).catch(() => {});
      await page?.keyboard.press("Escape").catch(() => {});
      throw err;
    }
  });
}
const themesFixture = join(extensionDir, "test", "fixtures", "vscode-themes.json");
const WARN = ["FROM alpine:3.20 AS Builder", "RUN true", "FROM scratch", "COPY --from=builder /etc/os-release /os-release", ""].join("\n");
const BROKEN = ["FROM alpine:3.20 AS base", "RUNN apk add git", "FROM base AS build", "RUN make", "FROM scratch AS prod", "COPY --from=build /app /app", ""].join("\n");
const sampleLines = SAMPLE.split("\n");

let scratch;
let workspace;
let session;
let page;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "stageplan-real-editor-"));
  workspace = join(scratch, "workspace");
  mkdirSync(join(workspace, "bin"), { recursive: true });
  writeFileSync(join(workspace, "Dockerfile"), SAMPLE);
  writeFileSync(join(workspace, "warn.Dockerfile"), WARN);
  writeFileSync(join(workspace, "broken.Dockerfile"), BROKEN);
  const vsix = packageVsix(scratch);
  session = await startCodeServer({
    vsix,
    workspace,
    settings: {
      "workbench.colorTheme": "Default Dark Modern",
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "workbench.enableExperiments": false,
      "workbench.editor.enablePreview": false,
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "extensions.ignoreRecommendations": true,
      "update.mode": "none",
      "git.enabled": false,
      // bin/runner does not exist yet: the build lens's first click must say so.
      "stageplan.runnerPath": "${workspaceFolder}/bin/runner",
    },
  });
  page = session.page;
  mkdirSync(artifactsDir, { recursive: true });
});

after(async () => {
  if (session) await stopCodeServer(session);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The texts of the code lenses the editor shows. */
const lensTexts = () => page.locator(".codelens-decoration a").allTextContents();

/** Waits until one reading of the lenses satisfies `accept`; returns it. */
const lensesWhen = (accept) => readWhen(lensTexts, accept);

describe("the extension in code-server", () => {
  step("activates when a Dockerfile opens and shows its code lenses and the preview button", async () => {
    await openFile(page, "Dockerfile");
    const expected = ["Build this stage (1 stage)", "Build this stage (2 stages)", "Build this stage (3 stages)", "Copy plan JSON"];
    await lensesWhen((lenses) => expected.every((title) => lenses.includes(title)));
    assert.match(extensionHostLog(session), /ExtensionService#_doActivateExtension stageplan\.stageplan-preview, startup: false, activationEvent: 'onLanguage:dockerfile'/);
    await page.locator('.editor-actions [aria-label="Open Stage Preview to the Side"]').waitFor();
  });

  step("lists check findings in the Problems panel with the rule and its source", async () => {
    await openFile(page, "warn.Dockerfile");
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    const rows = page.locator(".markers-panel .monaco-list-row");
    const texts = await readWhen(() => rows.allTextContents(), (found) => found.some((text) => text.includes("StageNameCasing")));
    const finding = texts.find((text) => text.includes("StageNameCasing"));
    assert.match(finding, /Stage name 'Builder' should be lowercase/);
    assert.match(finding, /stageplan/);
    assert.match(finding, /\[Ln 1, Col 21\]/);
    assert.ok(texts.some((text) => text.includes("warn.Dockerfile")), "grouped under the file");
    await runCommand(page, "View: Hide Panel");
  });

  step("draws the stage graph in the preview beside the editor", async () => {
    await focusEditor(page, "Dockerfile");
    await page.locator('.editor-actions [aria-label="Open Stage Preview to the Side"]').click();
    const frame = await previewFrame(page);
    await eventually(async () => (await frame.locator("[data-stage-index]").count()) === 5, async () => `${await frame.locator("[data-stage-index]").count()} stage nodes`);
    const needed = await frame.locator("[data-stage-index]").evaluateAll((nodes) => nodes.map((node) => `${node.getAttribute("data-stage-name")}:${node.getAttribute("data-needed")}`));
    assert.deepEqual(needed, ["tools:true", "build:true", "test:false", "docs:false", "prod:true"]);
    assert.equal(await frame.locator("[data-testid='summary']").textContent(), "target prod: 3 of 5 stages in 3 waves, 2 skipped");
    assert.equal(await page.locator(".tabs-container .tab[aria-label^='Stages: Dockerfile']").count(), 1);
  });

  step("puts the cursor on a stage's FROM line when its node is clicked", async () => {
    const frame = await previewFrame(page);
    await frame.locator("[data-stage-name='docs']").click();
    await waitForCursor(page, "Ln 11, Col 1", 30_000, "Dockerfile");
    await frame.locator("[data-stage-name='tools']").click();
    await waitForCursor(page, "Ln 3, Col 1", 30_000, "Dockerfile");
    await eventually(async () => (await frame.locator(".sp-current").getAttribute("data-stage-name")) === "tools", async () => "the cursor's stage is marked");
  });

  step("re-plans for a target chosen in the preview", async () => {
    const frame = await previewFrame(page);
    await frame.locator("[data-testid='target-select']").selectOption(["build"]);
    const summary = frame.locator("[data-testid='summary']");
    await eventually(async () => (await summary.textContent()) === "target build: 2 of 5 stages in 2 waves, 3 skipped", async () => `summary: ${await summary.textContent()}`);
    assert.equal(await frame.locator("[data-stage-name='prod']").getAttribute("data-needed"), "false");
    assert.match(await frame.locator("[data-stage-name='build']").getAttribute("class"), /sp-target/);
  });

  step("finds a misspelled stage with the planner's did-you-mean and saves the graph as SVG through the save dialog", async () => {
    const frame = await previewFrame(page);
    const find = frame.locator("[data-testid='graph-find']");
    await find.fill("biuld");
    await find.press("Enter");
    // The webview asks the extension host, which answers with the planner's suggestion.
    const status = frame.locator("[data-testid='graph-find-status']");
    await eventually(async () => (await status.textContent()) === 'no stage "biuld"; did you mean build?', async () => `find status: ${await status.textContent()}`);
    await frame.locator("[data-testid='graph-find-suggestion']").click();
    await eventually(async () => (await frame.locator("[data-stage-name='build'].sp-found").count()) === 1, async () => "build is marked as found");
    await find.press("Escape");
    await eventually(async () => (await frame.locator(".sp-found").count()) === 0, async () => "the find mark is cleared");
    await frame.locator("[data-testid='graph-fit']").click();

    // A webview cannot download: the host asks where to save, proposing stages.svg beside the Dockerfile.
    await frame.locator("[data-testid='export-svg']").click();
    const path = page.locator(".quick-input-widget input");
    await path.waitFor({ timeout: 30_000 });
    const saved = join(workspace, "stages.svg");
    await eventually(async () => (await path.inputValue()) === saved, async () => `the save dialog proposes ${await path.inputValue()}`);
    await path.press("Enter");
    await eventually(() => existsSync(saved), async () => `${saved} was written`);
    await page.locator(".notifications-toasts .notification-toast", { hasText: `Saved the stage graph to ${saved}` }).waitFor({ timeout: 30_000 });
    const svg = readFileSync(saved, "utf8");
    assert.match(svg, /^<\?xml/);
    assert.deepEqual([...svg.matchAll(/data-stage-name="([^"]*)"/g)].map((match) => match[1]), ["tools", "build", "test", "docs", "prod"]);
  });

  step("goes to a stage's definition from COPY --from", async () => {
    await focusEditor(page, "Dockerfile");
    await goToLine(page, sampleLines.indexOf("COPY --from=build /app /app") + 1, "COPY --from=bu".length);
    await page.keyboard.press("F12");
    const target = sampleLines.findIndex((text) => text.endsWith("AS build"));
    await waitForCursor(page, `Ln ${target + 1}, Col ${sampleLines[target].lastIndexOf("build") + 1}`);
  });

  step("outlines the stages, marking the ones the default target skips", async () => {
    await page.locator(".pane-header", { hasText: "Outline" }).click();
    const symbols = page.locator(".monaco-list-row[aria-label$='(class)']");
    const expected = ["toolsFROM alpine:3.20", "buildFROM golang:${GO_VERSION}", "testFROM build (skipped)", "docsFROM alpine:3.20 (skipped)", "prodFROM scratch"];
    await readWhen(() => symbols.allTextContents(), (labels) => JSON.stringify(labels) === JSON.stringify(expected));
  });

  step("gives a Dockerfile with an error from the start its outline, lenses, definitions and graph", async () => {
    await openFile(page, "broken.Dockerfile");
    const builds = ["Build this stage (1 stage)", "Build this stage (2 stages)", "Build this stage (3 stages)"];
    await lensesWhen((lenses) => JSON.stringify(lenses.filter((text) => text.startsWith("Build"))) === JSON.stringify(builds));
    const outline = page.locator(".monaco-list-row[aria-label$='(class)']");
    const symbols = ["baseFROM alpine:3.20", "buildFROM base", "prodFROM scratch"];
    await readWhen(() => outline.allTextContents(), (labels) => JSON.stringify(labels) === JSON.stringify(symbols));

    const frame = await previewFrame(page);
    const summary = frame.locator("[data-testid='summary']");
    await eventually(async () => /^no plan: 1 error \(showing the stages that could be read\)$/.test(await summary.textContent()), async () => `summary: ${await summary.textContent()}`);
    assert.deepEqual(await frame.locator("[data-stage-index]").evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-stage-name"))), ["base", "build", "prod"]);
    assert.match(await frame.locator("[data-testid='diagnostics'] li.error").first().textContent(), /RUNN/);

    await focusEditor(page, "broken.Dockerfile");
    await goToLine(page, 6, "COPY --from=bu".length);
    await page.keyboard.press("F12");
    await waitForCursor(page, "Ln 3, Col 14");
  });

  step("says how to set stageplan.runnerPath when the runner is missing, then builds in a terminal once it is there", async () => {
    await focusEditor(page, "Dockerfile");
    await page.locator(".codelens-decoration a", { hasText: "Build this stage (1 stage)" }).click();
    const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "Cannot build stage" });
    await toast.waitFor({ timeout: 30_000 });
    assert.match(await toast.textContent(), new RegExp(`the runner program "${workspace}/bin/runner" \\(the "stageplan\\.runnerPath" setting\\) does not exist`));
    await toast.locator(".monaco-button", { hasText: "Open Setting" }).click();
    await page.locator(".settings-editor .setting-item-contents", { hasText: "Runner Path" }).first().waitFor({ timeout: 30_000 });

    // The runner appears: a program that records its arguments and working directory.
    const calls = join(workspace, "runner-calls.txt");
    writeFileSync(join(workspace, "bin", "runner"), `#!/bin/sh\nprintf '%s\\n' "$PWD $*" >> '${calls}'\n`);
    chmodSync(join(workspace, "bin", "runner"), 0o755);
    await focusEditor(page, "Dockerfile");
    await page.locator(".codelens-decoration a", { hasText: "Build this stage (1 stage)" }).click();
    await eventually(() => existsSync(calls), async () => "the runner was started in the terminal", 60_000);
    // The lens has the runner write its build record into the extension's storage, for the
    // preview's overlay.
    const escaped = workspace.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(
      readFileSync(calls, "utf8"),
      new RegExp(`^${escaped} build \\. -f Dockerfile --target tools --record /\\S+/globalStorage/stageplan\\.stageplan-preview/records/[0-9a-f]+\\.record\\.json\\n$`),
    );
  });

  for (const theme of THEMES) {
    step(`keeps node text readable in ${theme.label} (WCAG ${WCAG_AA_TEXT}:1 against the node fill)`, async (t) => {
      await focusEditor(page, "Dockerfile");
      // The cursor in stage tools, so a node is marked as the cursor's.
      await goToLine(page, 3, 1);
      await pickTheme(page, theme.label);
      const frame = await previewFrame(page);
      await eventually(async () => (await frame.locator("body").getAttribute("class")).split(/\s+/).includes(theme.bodyClass), async () => `body class: ${await frame.locator("body").getAttribute("class")}`);
      if (theme.bodyClass === "vscode-high-contrast") assert.ok(!(await frame.locator("body").getAttribute("class")).includes("high-contrast-light"));
      // The graph as the user left it: target build, cursor in tools, no stage selected (a click on
      // the drawing's background clears the lineage view the node clicks above left, which fades
      // the other stages); images as badges on their stages.
      await frame.locator("[data-testid='graph-canvas']").click({ position: { x: 4, y: 4 } });
      await eventually(async () => (await frame.locator("svg.sp-graph.sp-has-selection").count()) === 0, async () => "the selection is cleared");
      const images = frame.locator("[data-testid='graph-images']");
      if ((await images.getAttribute("aria-pressed")) === "true") await images.click();
      await eventually(async () => (await frame.locator(".sp-stage .sp-badge text").count()) > 0, async () => "an image badge is drawn");
      const withBadges = await nodeTextContrasts(frame);
      // The Images toggle draws images as boxes: every kind of node is there.
      await images.click();
      for (const kind of ["sp-target", "sp-current", "sp-needed", "sp-skipped", "sp-image"]) {
        await eventually(async () => (await frame.locator(`.sp-node.${kind}`).count()) > 0, async () => `a ${kind} node is drawn`);
      }
      await page.screenshot({ path: join(artifactsDir, `code-server-${theme.slug}.png`) });
      await frame.locator("[data-testid='graph'] .sp-frame").screenshot({ path: join(artifactsDir, `code-server-${theme.slug}-graph.png`) });
      const contrasts = [...withBadges, ...(await nodeTextContrasts(frame))];
      assert.ok(contrasts.length >= 16 + 3, "every node's and badge's texts were measured");
      const lowest = contrasts.reduce((low, entry) => (entry.ratio < low.ratio ? entry : low));
      t.diagnostic(`${theme.label}: lowest node text contrast ${lowest.ratio.toFixed(2)}:1 (${lowest.node}, "${lowest.text}")`);
      assert.deepEqual(belowAA(contrasts), [], `every node and badge text reaches ${WCAG_AA_TEXT}:1 in ${theme.label}`);
      // The graph's controls: toolbar buttons, the find box and its placeholder, the tooltip.
      const controls = await controlTextContrasts(frame);
      assert.ok(controls.length >= 10, "every control's text was measured");
      const lowestControl = controls.reduce((low, entry) => (entry.ratio < low.ratio ? entry : low));
      t.diagnostic(`${theme.label}: lowest control text contrast ${lowestControl.ratio.toFixed(2)}:1 (${lowestControl.node})`);
      assert.deepEqual(belowAA(controls), [], `every control's text reaches ${WCAG_AA_TEXT}:1 in ${theme.label}`);
      await images.click();
      await recordThemeVariables(frame, theme);
    });
  }
});

/**
 * Compares the theme variables the preview's webview got with test/fixtures/vscode-themes.json
 * (which the Chromium webview test replays), or rewrites the fixture with UPDATE_THEMES=1.
 */
async function recordThemeVariables(frame, theme) {
  const css = readFileSync(join(extensionDir, "media", "preview.css"), "utf8");
  const names = [...new Set([...css.matchAll(/var\((--vscode-[\w-]+)/g)].map((match) => match[1]))].sort();
  const variables = await frame.evaluate((wanted) => {
    const style = document.documentElement.style;
    return Object.fromEntries(wanted.map((name) => [name, style.getPropertyValue(name).trim() || null]));
  }, names);
  const bodyClass = (await frame.locator("body").getAttribute("class")).split(/\s+/).filter((name) => name.startsWith("vscode-")).sort().join(" ");
  const fixture = existsSync(themesFixture) ? JSON.parse(readFileSync(themesFixture, "utf8")) : { source: "", themes: {} };
  const captured = { bodyClass, variables };
  if (process.env.UPDATE_THEMES === "1") {
    fixture.source = "the Stage Preview webview in code-server 4.100.3 (VS Code 1.100.3), recorded by web/extension/real-editor/code-server.test.mjs with UPDATE_THEMES=1";
    fixture.themes[theme.label] = captured;
    mkdirSync(join(extensionDir, "test", "fixtures"), { recursive: true });
    writeFileSync(themesFixture, JSON.stringify(fixture, null, 2) + "\n");
    return;
  }
  assert.deepEqual(captured, fixture.themes[theme.label], `VS Code's ${theme.label} variables differ from test/fixtures/vscode-themes.json; rerun with UPDATE_THEMES=1`);
}
