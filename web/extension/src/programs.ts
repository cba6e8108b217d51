// Finds the program the "Build this stage" lens runs: the `stageplan.runnerPath` setting resolved to
// an executable file, or a message saying what is wrong and how to fix it.
//
// Input: the setting's value, the folders to resolve it against, and the extension host's PATH.
// Output: a ProgramLookup (the absolute path found, or a problem sentence naming the setting).
// Invariant: Node only (the desktop and remote extension hosts, where the terminal runs too); it
// reads file metadata and never runs the program.
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";

/** The outcome of looking the runner program up. */
export type ProgramLookup = { found: string } | { problem: string };

/** Where a relative setting is resolved: the Dockerfile's workspace folder, else its own folder. */
export interface LookupFolders {
  workspaceFolder: string | null;
  documentFolder: string;
}

/** A looks-up-one-program function (injected into the extension, so the browser entry has none). */
export type FindProgram = (setting: string, folders: LookupFolders) => Promise<ProgramLookup>;

/** Why `path` cannot be run, or null when it is an executable file. */
async function unusable(path: string): Promise<string | null> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return "does not exist";
  }
  if (!info.isFile()) return "is not a file";
  if (process.platform === "win32") return null;
  try {
    await access(path, constants.X_OK);
    return null;
  } catch {
    return "is not executable (chmod +x it)";
  }
}

/** The file names a bare program name may have (PATHEXT on Windows). */
function candidateNames(name: string): string[] {
  if (process.platform !== "win32") return [name];
  const extensions = (process.env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM").split(";").filter(Boolean);
  return [name, ...extensions.map((extension) => name + extension.toLowerCase())];
}

/**
 * Resolves the `stageplan.runnerPath` setting. A bare name (no slash) is looked up on PATH; a path
 * may use `${workspaceFolder}` and `~/`, and a relative one is resolved against the Dockerfile's
 * workspace folder (or, outside a workspace, the Dockerfile's folder).
 */
export const findProgram: FindProgram = async (setting, folders) => {
  const value = setting.trim() || "runner";
  const base = folders.workspaceFolder ?? folders.documentFolder;
  const howToFix = 'Build it with `cargo build --release -p runner` and set "stageplan.runnerPath" to its path (for example ${workspaceFolder}/target/release/runner).';
  if (!/[\\/]/.test(value) && !value.includes("${workspaceFolder}")) {
    const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
    for (const dir of dirs) {
      for (const name of candidateNames(value)) {
        const path = join(dir, name);
        if ((await unusable(path)) === null) return { found: path };
      }
    }
    return { problem: `the runner program "${value}" (the "stageplan.runnerPath" setting) is not on PATH. ${howToFix}` };
  }
  let path = value.replaceAll("${workspaceFolder}", base);
  if (path === "~" || path.startsWith("~/")) path = join(homedir(), path.slice(1));
  path = isAbsolute(path) ? path : resolve(base, path);
  const problem = await unusable(path);
  if (problem) return { problem: `the runner program "${path}" (the "stageplan.runnerPath" setting) ${problem}. ${howToFix}` };
  return { found: path };
};
