// The CopyIgnoredFile check in the editor: the desktop bundle (dist/extension.js, real nodejs
// WASM planner) reads the `.dockerignore` BuildKit would apply to an open Dockerfile through
// `vscode.workspace.fs` and passes it to the planner, so the Problems panel shows the warning;
// `<Dockerfile>.dockerignore` wins over the folder's `.dockerignore`.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { before, describe, it } from "node:test";

import { extensionDir, installVscodeStub, tempFolder } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const DOCKERFILE = "FROM scratch\nCOPY secret.txt notes.md /\n";

let vscode;
let recorded;

before(() => {
  vscode = installVscodeStub();
  recorded = vscode.__test.recorded;
  const extension = require(join(extensionDir, "dist", "extension.js"));
  extension.activate(vscode.__test.context(extensionDir));
});

/** The CopyIgnoredFile messages the Problems panel shows for `document`, once the read is done. */
async function ignoredFiles(document) {
  const collection = recorded.diagnosticCollections[0];
  for (let attempt = 0; attempt < 100; attempt++) {
    const found = (collection.get(document.uri) ?? []).filter((diagnostic) => String(diagnostic.code?.value ?? diagnostic.code).includes("CopyIgnoredFile"));
    if (found.length > 0) return found.map((diagnostic) => diagnostic.message);
    await sleep(20);
  }
  return [];
}

describe(".dockerignore", () => {
  it("warns about a COPY of a file the folder's .dockerignore excludes", async () => {
    const folder = tempFolder({ Dockerfile: DOCKERFILE, ".dockerignore": "secret.txt\n" });
    const document = vscode.__test.openDocument(join(folder, "Dockerfile"), DOCKERFILE);
    assert.deepEqual(await ignoredFiles(document), ['Attempting to Copy file "secret.txt" that is excluded by .dockerignore']);
  });

  it("prefers <Dockerfile>.dockerignore beside the Dockerfile", async () => {
    const folder = tempFolder({ "app.Dockerfile": DOCKERFILE, ".dockerignore": "secret.txt\n", "app.Dockerfile.dockerignore": "*.md\n" });
    const document = vscode.__test.openDocument(join(folder, "app.Dockerfile"), DOCKERFILE);
    assert.deepEqual(await ignoredFiles(document), ['Attempting to Copy file "notes.md" that is excluded by .dockerignore']);
  });

  it("shows nothing without a .dockerignore", async () => {
    const folder = tempFolder({ Dockerfile: DOCKERFILE });
    writeFileSync(join(folder, "unrelated.txt"), "secret.txt\n");
    const document = vscode.__test.openDocument(join(folder, "Dockerfile"), DOCKERFILE);
    await sleep(200);
    assert.deepEqual(await ignoredFiles(document).then((found) => found), []);
  });
});
