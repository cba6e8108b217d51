// A real VS Code for the extension's tests: code-server 4.100.3 (VS Code 1.100.3) from
// .code-server/ (scripts/lib.sh's setup_code_server), the packaged .vsix installed into a fresh
// profile, and the workbench driven through Playwright in Debian's Chromium the way a user does
// (explorer clicks, the command palette, keys, the status bar).
//
// Input: the repository's .code-server/ and web/extension (packaged here with vsce), a workspace
// folder to open. Output: a started server and page, and helpers that act on the workbench.
// Invariant: everything lives in one temporary folder (profile, extensions, XDG dirs, browser
// profile) and is removed on stop; the server runs in its own process group, killed on stop;
// nothing is downloaded (the extension gallery is switched off, the browser has no background
// networking).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

import { extensionDir, rootDir } from "../test/helpers.mjs";

/** The code-server version setup_code_server installs (VS Code 1.100.3). */
export const CODE_SERVER_VERSION = "4.100.3";

/** The code-server program of the repository's .code-server/ install. */
export const codeServerBin = join(rootDir, ".code-server", "node_modules", ".bin", "code-server");

/** The four built-in themes checked, by their label in the color theme picker, with the body class VS Code gives webviews. */
export const THEMES = [
  { label: "Dark Modern", bodyClass: "vscode-dark", slug: "dark" },
  { label: "Light Modern", bodyClass: "vscode-light", slug: "light" },
  { label: "Dark High Contrast", bodyClass: "vscode-high-contrast", slug: "dark-hc" },
  { label: "Light High Contrast", bodyClass: "vscode-high-contrast-light", slug: "light-hc" },
];

/** Fails with what to run when code-server is not installed at the expected version. */
export function requireCodeServer() {
  const manifest = join(rootDir, ".code-server", "node_modules", "code-server", "package.json");
  if (!existsSync(codeServerBin) || !existsSync(manifest)) {
    throw new Error(`code-server is not installed in .code-server/; run scripts/setup.sh (or: . scripts/lib.sh && setup_code_server)`);
  }
  const version = JSON.parse(readFileSync(manifest, "utf8")).version;
  if (version !== CODE_SERVER_VERSION) throw new Error(`.code-server/ holds code-server ${version}, not ${CODE_SERVER_VERSION}; run scripts/setup.sh`);
}

/** Packages the extension (scripts/package.mjs) into `dir`; returns the .vsix path. */
export function packageVsix(dir) {
  const out = join(dir, "stageplan-preview.vsix");
  execFileSync(process.execPath, [join(extensionDir, "scripts", "package.mjs"), "--out", out], { cwd: extensionDir, stdio: ["ignore", "ignore", "inherit"] });
  return out;
}

/**
 * Installs `vsix` into a fresh profile, starts code-server on a free loopback port with `workspace`
 * open, and opens the workbench in headless Chromium. `settings` become the user settings.
 */
export async function startCodeServer({ vsix, workspace, settings }) {
  requireCodeServer();
  const root = mkdtempSync(join(tmpdir(), "stageplan-code-server-"));
  const dirs = { data: join(root, "data"), extensions: join(root, "extensions"), xdg: join(root, "xdg"), browser: join(root, "browser") };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  mkdirSync(join(dirs.data, "User"), { recursive: true });
  writeFileSync(join(dirs.data, "User", "settings.json"), JSON.stringify(settings, null, 2));
  const env = {
    ...process.env,
    // No extension gallery: nothing to download, and the theme picker lists only installed themes.
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: "" }),
    XDG_CONFIG_HOME: join(dirs.xdg, "config"),
    XDG_DATA_HOME: join(dirs.xdg, "data"),
    XDG_CACHE_HOME: join(dirs.xdg, "cache"),
  };
  const common = ["--user-data-dir", dirs.data, "--extensions-dir", dirs.extensions];
  execFileSync(codeServerBin, [...common, "--install-extension", vsix], { env, stdio: ["ignore", "ignore", "inherit"] });

  const server = spawn(
    codeServerBin,
    [...common, "--auth", "none", "--bind-addr", "127.0.0.1:0", "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", workspace],
    { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  server.stdout.on("data", (chunk) => (log += chunk));
  server.stderr.on("data", (chunk) => (log += chunk));
  const session = { root, dirs, server, page: null, context: null, origin: null, workspace, log: () => log };
  try {
    session.origin = await waitForListening(server, () => log);
    session.context = await chromium.launchPersistentContext(dirs.browser, {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run"],
      viewport: { width: 1400, height: 900 },
    });
    session.page = session.context.pages()[0] ?? (await session.context.newPage());
    await session.page.goto(`${session.origin}/?folder=${encodeURIComponent(workspace)}`);
    await session.page.locator(".monaco-workbench .explorer-folders-view .monaco-list-row").first().waitFor({ timeout: 120_000 });
  } catch (err) {
    await stopCodeServer(session);
    throw new Error(`${err.message}\ncode-server's output:\n${log}`);
  }
  return session;
}

/** Resolves with the server's origin once it prints the address it listens on. */
async function waitForListening(server, log) {
  for (let waited = 0; waited < 120_000; waited += 100) {
    const found = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log());
    if (found) return found[1];
    if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}`);
    await sleep(100);
  }
  throw new Error("code-server did not start listening within 120 s");
}

/** Closes the browser, kills the server's process group and removes the temporary folder. */
export async function stopCodeServer(session) {
  await session.context?.close().catch(() => {});
  if (session.server.exitCode === null) {
    try {
      process.kill(-session.server.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
    for (let waited = 0; waited < 5000 && session.server.exitCode === null; waited += 100) await sleep(100);
    if (session.server.exitCode === null) {
      try {
        process.kill(-session.server.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  rmSync(session.root, { recursive: true, force: true });
}

/** The extension host's log lines (every extension host started in this session). */
export function extensionHostLog(session) {
  const logs = join(session.dirs.data, "logs");
  if (!existsSync(logs)) return "";
  const lines = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === "remoteexthost.log") lines.push(readFileSync(path, "utf8"));
    }
  };
  walk(logs);
  return lines.join("\n");
}

/**
 * Opens `name` (a file at the top of the workspace) by clicking it in the explorer; waits for its
 * editor. A click that lands while the side bar is still laying out (a pane just expanded above it)
 * opens nothing, so the row is clicked again every 5 s, for up to 30 s; the error then lists the
 * tabs the workbench shows.
 */
export async function openFile(page, name) {
  const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
  const tab = page.locator(`.tabs-container .tab.active[data-resource-name="${name}"]`);
  const started = Date.now();
  for (;;) {
    await row.click();
    try {
      await tab.waitFor({ timeout: 5_000 });
      break;
    } catch (err) {
      if (Date.now() - started >= 30_000) {
        const tabs = await page.locator(".tabs-container .tab").evaluateAll((nodes) => nodes.map((node) => `${node.getAttribute("aria-label")}${node.classList.contains("active") ? " (active)" : ""}`));
        throw new Error(`clicking "${name}" in the explorer opened no editor for it within 30 s (tabs: ${tabs.join(" | ") || "none"}): ${err.message}`);
      }
    }
  }
  await page.locator(".editor-group-container.active .monaco-editor .view-lines").first().waitFor();
}

/** Focuses the text editor of `name` by clicking its tab, so keys go to the editor and not a webview. */
export async function focusEditor(page, name) {
  await page.locator(`.tabs-container .tab[data-resource-name="${name}"]`).first().click();
  await page.locator(`.monaco-editor.focused[data-uri$="/${name}"]`).waitFor({ timeout: 30_000 });
}

/** Moves the cursor of the focused editor with Go to Line (Ctrl+G), to 1-based `line` and `column`. */
export async function goToLine(page, line, column) {
  await page.keyboard.press("Control+G");
  await page.locator(".quick-input-widget input").fill(`:${line}:${column}`);
  await page.keyboard.press("Enter");
  await waitForCursor(page, `Ln ${line}, Col ${column}`);
}

/** Runs a command by its title from the command palette (the palette is closed again when it has no such command). */
export async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row").filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) });
  try {
    await row.first().click({ timeout: 30_000 });
  } catch (err) {
    const offered = await page.locator(".quick-input-list .monaco-list-row .label-name").allTextContents();
    await page.keyboard.press("Escape");
    throw new Error(`the command palette has no "${title}" (it offers: ${offered.join(" | ")}): ${err.message}`);
  }
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Switches the color theme through "Preferences: Color Theme", moving the picker's focus to `label`. */
export async function pickTheme(page, label) {
  await runCommand(page, "Preferences: Color Theme");
  const focused = page.locator(".quick-input-list .monaco-list-row.focused");
  await focused.waitFor();
  const labels = await page.locator(".quick-input-list .monaco-list-row").evaluateAll((rows) => rows.map((row) => row.getAttribute("aria-label") ?? ""));
  const nameOf = (ariaLabel) => ariaLabel.split(",")[0].trim();
  const wanted = labels.findIndex((ariaLabel) => nameOf(ariaLabel) === label);
  if (wanted < 0) throw new Error(`the theme picker has no "${label}": ${labels.map(nameOf).join(", ")}`);
  for (let steps = 0; steps < labels.length * 2; steps++) {
    const current = nameOf((await focused.getAttribute("aria-label")) ?? "");
    if (current === label) break;
    const currentIndex = labels.findIndex((ariaLabel) => nameOf(ariaLabel) === current);
    await page.keyboard.press(currentIndex < wanted ? "ArrowDown" : "ArrowUp");
  }
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

/**
 * The status bar's cursor position ("Ln 3, Col 1"); "" while no text editor is active (the status
 * bar then has no such item).
 */
export async function cursorPosition(page) {
  const item = page.locator("#status\\.editor\\.selection");
  if ((await item.count()) === 0) return "";
  return (await item.textContent({ timeout: 1_000 }).catch(() => ""))?.trim() ?? "";
}

/**
 * Waits until the status bar shows `expected` as the cursor position. With `editor` (a file
 * name): when a click in the preview moved the cursor but VS Code left the focus in the webview
 * (its focus tracker polls, so under load it can report the webview's focus after the extension
 * focused the editor), that file's tab is clicked, which focuses its editor without moving the
 * cursor, and the position is read there.
 */
export async function waitForCursor(page, expected, timeout = 30_000, editor = null) {
  const started = Date.now();
  let seen = "";
  let missingSince = null;
  while (Date.now() - started < timeout) {
    seen = await cursorPosition(page);
    if (seen === expected) return;
    if (seen === "" && editor) {
      missingSince ??= Date.now();
      if (Date.now() - missingSince > 2_000) {
        await focusEditor(page, editor);
        missingSince = null;
      }
    } else {
      missingSince = null;
    }
    await sleep(100);
  }
  throw new Error(`the cursor is at "${seen || "(no text editor active)"}", not "${expected}"`);
}

/** The preview's frame (the page inside VS Code's webview iframe), once its script has drawn. */
export async function previewFrame(page, timeout = 60_000) {
  const started = Date.now();
  while (Date.now() - started < timeout) {
    for (const frame of page.frames()) {
      if (await frame.$("body[data-ready='true'] [data-testid='graph']").catch(() => null)) return frame;
    }
    await sleep(200);
  }
  throw new Error("the Stage Preview webview did not draw within 60 s");
}

/** Waits for `predicate()` to hold (polling), failing with `describe()` when it does not. */
export async function eventually(predicate, describe, timeout = 30_000) {
  const started = Date.now();
  while (Date.now() - started < timeout) {
    if (await predicate()) return;
    await sleep(150);
  }
  throw new Error(`timed out: ${await describe()}`);
}

/**
 * Reads `read()` until one reading satisfies `accept` and returns it: the workbench redraws lists
 * and lenses as a whole, so what is checked is one consistent reading.
 */
export async function readWhen(read, accept, timeout = 30_000) {
  let seen;
  await eventually(async () => accept((seen = await read())), async () => `last reading: ${JSON.stringify(seen)}`, timeout);
  return seen;
}

/** Where the real-editor test keeps its screenshots. */
export const artifactsDir = resolve(rootDir, "tests", "artifacts");
