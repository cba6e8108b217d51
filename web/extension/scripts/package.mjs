// Packages the VS Code extension as a .vsix with @vscode/vsce.
//
// Input: web/extension (manifest, media/) and the bundles of scripts/build.mjs; builds the WASM
// packages first (web/scripts/build.mjs --wasm-only) when web/pkg is missing.
// Output: web/extension/stageplan-preview-<version>.vsix, or the path given with --out.
// Invariant: the .vsix carries the bundles and both .wasm files and needs nothing at install time
// (no dependencies, no postinstall); nothing is downloaded.
//
// Usage: node scripts/package.mjs [--out FILE.vsix]
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

import { buildExtension, extensionDir } from "./build.mjs";

const webDir = resolve(extensionDir, "..");

async function main() {
  const manifest = JSON.parse(readFileSync(join(extensionDir, "package.json"), "utf8"));
  const outArg = process.argv.indexOf("--out");
  const out = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(extensionDir, `${manifest.name}-${manifest.version}.vsix`);
  if (!existsSync(join(webDir, "pkg", "node", "planner_bg.wasm")) || !existsSync(join(webDir, "pkg", "web", "planner_bg.wasm"))) {
    console.error("web/pkg is missing: building the WASM packages first");
    execFileSync(process.execPath, [join(webDir, "scripts", "build.mjs"), "--wasm-only"], { cwd: webDir, stdio: "inherit" });
  }
  await buildExtension();
  const vsce = join(extensionDir, "node_modules", ".bin", "vsce");
  if (!existsSync(vsce)) throw new Error("@vscode/vsce is not installed; run `npm --prefix web/extension ci` (or scripts/setup.sh)");
  // --no-dependencies: everything is bundled into dist/; --skip-license and --allow-missing-repository:
  // the license is in package.json and the repository is not published, so vsce must not stop to ask.
  execFileSync(vsce, ["package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--out", out], {
    cwd: extensionDir,
    stdio: ["ignore", "inherit", "inherit"],
  });
  console.error(`vsix: ${out} (${(statSync(out).size / 1024).toFixed(1)} KiB)`);
}

main().catch((err) => {
  console.error(`packaging failed: ${err.message}`);
  process.exit(1);
});
