// The build records of the "Build stage" lens: where the lens has `runner build` write its
// record (`--record FILE`, one file per Dockerfile in the extension's global storage) and the
// latest record of each Dockerfile, read when the preview shows it and whenever the file changes.
//
// Input: the extension's global storage folder, document URIs. Output: record file URIs, parsed
// BuildRecords (or the reason one cannot be read), a change event when a record file is written.
// Invariant: records are read with the web's own reader (../../src/insight/record), never
// re-interpreted here; nothing is written but the records folder itself (the runner writes the
// files); without a storage folder (a host that has none) there are no records, and no error.
import * as vscode from "vscode";

import { parseRecord } from "../../src/insight/record";
import type { BuildRecord } from "../../src/types/record-types";

/** A Dockerfile's latest record, or why it could not be read. */
export type LatestRecord = { record: BuildRecord } | { problem: string };

/** A short, stable file name for the record of the Dockerfile at `documentUri` (FNV-1a, 64 bits). */
export function recordFileName(documentUri: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(documentUri)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `${hash.toString(16).padStart(16, "0")}.record.json`;
}

/** The lens builds' records. */
export class LensRecords implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly watcher: vscode.FileSystemWatcher | null;
  private readonly folder: vscode.Uri | null;
  /** Fires when a record file is written or removed. */
  readonly onDidChange = this.changed.event;

  constructor(storage: vscode.Uri | undefined) {
    this.folder = storage ? vscode.Uri.joinPath(storage, "records") : null;
    this.watcher = this.folder ? vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(this.folder, "*.record.json")) : null;
    for (const event of this.watcher ? [this.watcher.onDidCreate, this.watcher.onDidChange, this.watcher.onDidDelete] : []) {
      event(() => this.changed.fire());
    }
  }

  /** Where a lens build of the Dockerfile at `documentUri` writes its record; null without storage. */
  recordUri(documentUri: string): vscode.Uri | null {
    return this.folder ? vscode.Uri.joinPath(this.folder, recordFileName(documentUri)) : null;
  }

  /** Makes the records folder (before a build writes into it). */
  async prepare(): Promise<void> {
    if (this.folder) await vscode.workspace.fs.createDirectory(this.folder);
  }

  /** The latest record of the Dockerfile at `documentUri`; null when it has none. */
  async latest(documentUri: string): Promise<LatestRecord | null> {
    const uri = this.recordUri(documentUri);
    if (!uri) return null;
    let bytes: Uint8Array;
    try {
      bytes = await vscode.workspace.fs.readFile(uri);
    } catch {
      return null;
    }
    try {
      return { record: parseRecord(new TextDecoder().decode(bytes)) };
    } catch (err) {
      return { problem: err instanceof Error ? err.message : String(err) };
    }
  }

  dispose(): void {
    this.watcher?.dispose();
    this.changed.dispose();
  }
}
