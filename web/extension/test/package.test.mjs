// `vsce package` as a smoke test: the .vsix builds and carries the manifest, both entries, the
// webview bundle, the stylesheet and both .wasm files, and nothing else (no sources, no node_modules).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { after, describe, it } from "node:test";

import { extensionDir, webDir } from "./helpers.mjs";

/** The entries of a zip file, read from its central directory: name → { method, offset, size }. */
function zipEntries(bytes) {
  let end = bytes.length - 22;
  while (end >= 0 && bytes.readUInt32LE(end) !== 0x06054b50) end--;
  assert.ok(end >= 0, "not a zip file (no end of central directory)");
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50, "broken central directory");
    const method = bytes.readUInt16LE(at + 10);
    const compressed = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const offset = bytes.readUInt32LE(at + 42);
    entries.set(bytes.toString("utf8", at + 46, at + 46 + nameLength), { method, compressed, offset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The bytes of one entry. */
function readEntry(bytes, entry) {
  const start = entry.offset + 30 + bytes.readUInt16LE(entry.offset + 26) + bytes.readUInt16LE(entry.offset + 28);
  const data = bytes.subarray(start, start + entry.compressed);
  return entry.method === 8 ? inflateRawSync(data) : data;
}

const outDir = mkdtempSync(join(tmpdir(), "stageplan-vsix-"));
after(() => rmSync(outDir, { recursive: true, force: true }));

describe("vsce package", () => {
  it("produces a .vsix with the bundles and the WASM", () => {
    const vsix = join(outDir, "preview.vsix");
    execFileSync(process.execPath, [join(extensionDir, "scripts", "package.mjs"), "--out", vsix], { stdio: ["ignore", "ignore", "pipe"] });
    const bytes = readFileSync(vsix);
    const entries = zipEntries(bytes);
    const names = [...entries.keys()].sort();
    assert.deepEqual(names, [
      "[Content_Types].xml",
      "extension.vsixmanifest",
      "extension/dist/browser.js",
      "extension/dist/extension.js",
      "extension/dist/planner_bg.wasm",
      "extension/dist/web/planner_bg.wasm",
      "extension/dist/webview.js",
      "extension/media/preview.css",
      "extension/package.json",
      "extension/readme.md",
    ]);
    const wasm = readEntry(bytes, entries.get("extension/dist/planner_bg.wasm"));
    assert.deepEqual(wasm, readFileSync(join(webDir, "pkg", "node", "planner_bg.wasm")), "the packaged .wasm is the nodejs package's");
    const manifest = JSON.parse(readEntry(bytes, entries.get("extension/package.json")).toString("utf8"));
    assert.equal(manifest.main, "./dist/extension.js");
    assert.equal(manifest.browser, "./dist/browser.js");
    assert.equal(manifest.scripts?.postinstall, undefined, "nothing runs at install time");
    assert.equal(manifest.dependencies, undefined, "everything is bundled");
    const vsixManifest = readEntry(bytes, entries.get("extension.vsixmanifest")).toString("utf8");
    assert.match(vsixManifest, /Microsoft\.VisualStudio\.Code\.Engine" Value="\^1\.90\.0"/);
    assert.match(vsixManifest, /Microsoft\.VisualStudio\.Code\.ExtensionKind" Value="workspace,web"/);
  });
});
