// The `.dockerignore` BuildKit would apply to a Dockerfile, for the CopyIgnoredFile check:
// `<Dockerfile>.dockerignore` beside it, else `.dockerignore` in its folder (the build context
// the preview assumes, as the `planner` CLI does by default).
//
// Input: Dockerfile URIs; the files through `vscode.workspace.fs` (so vscode.dev works too).
// Output: the text per Dockerfile (undefined while unknown or when there is none); a callback when
// a text was read or changed, so diagnostics and the preview can refresh.
// Invariant: files are read asynchronously and only once per Dockerfile until one of its two
// candidate files changes; a read error counts as "no file".
import * as vscode from "vscode";

/** Reads and remembers the `.dockerignore` of each Dockerfile. */
export class DockerignoreFiles {
  /** Dockerfile URI -> its `.dockerignore` text (null: there is none). */
  private readonly texts = new Map<string, string | null>();
  private readonly pending = new Set<string>();

  constructor(private readonly onRead: (dockerfileUri: string) => void) {}

  /** The two files that may apply to a Dockerfile, in BuildKit's order. */
  static candidates(dockerfileUri: string): vscode.Uri[] {
    const file = vscode.Uri.parse(dockerfileUri);
    return [file.with({ path: `${file.path}.dockerignore` }), vscode.Uri.joinPath(file, "..", ".dockerignore")];
  }

  /** The text for a Dockerfile; undefined when there is none or it is still being read (then
   * `onRead` is called once it is known). */
  textFor(dockerfileUri: string): string | undefined {
    const known = this.texts.get(dockerfileUri);
    if (known === undefined) {
      void this.read(dockerfileUri);
      return undefined;
    }
    return known ?? undefined;
  }

  /** Reads the file of `dockerfileUri` now (the first candidate that exists). */
  async read(dockerfileUri: string): Promise<void> {
    if (this.pending.has(dockerfileUri)) return;
    this.pending.add(dockerfileUri);
    let text: string | null = null;
    for (const candidate of DockerignoreFiles.candidates(dockerfileUri)) {
      try {
        text = new TextDecoder().decode(await vscode.workspace.fs.readFile(candidate));
        break;
      } catch {
        // Missing or unreadable: try the next candidate.
      }
    }
    this.pending.delete(dockerfileUri);
    const changed = this.texts.get(dockerfileUri) !== text;
    this.texts.set(dockerfileUri, text);
    if (changed) this.onRead(dockerfileUri);
  }

  /** A `.dockerignore` file was created, saved or deleted: re-read the Dockerfiles it applies to. */
  fileChanged(ignoreUri: vscode.Uri): void {
    const changed = ignoreUri.toString();
    for (const dockerfileUri of this.texts.keys()) {
      if (DockerignoreFiles.candidates(dockerfileUri).some((candidate) => candidate.toString() === changed)) {
        void this.read(dockerfileUri);
      }
    }
  }

  /** Forgets a closed Dockerfile. */
  forget(dockerfileUri: string): void {
    this.texts.delete(dockerfileUri);
  }
}
