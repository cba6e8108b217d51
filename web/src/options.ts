// Turns the playground's form fields into planner options and the matching command lines.
//
// Input: the build-args text (KEY=VALUE lines), the chosen targets, the platform field, the
// .dockerignore text.
// Output: planner Options, the problems found in the build-args text, and the `planner`/`runner`
// command lines that reproduce the plan outside the browser.
// Invariant: pure; shell words are quoted so the command lines can be pasted as they are.
import type { Options } from "./types/planner-types";

/** The parsed build-args text. */
export interface BuildArgs {
  values: Record<string, string>;
  /** One message per bad line, naming the line. */
  errors: string[];
}

/** Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped. */
export function parseBuildArgs(text: string): BuildArgs {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  text.split("\n").forEach((raw, idx) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) {
      errors.push(`build args line ${idx + 1}: expected KEY=VALUE, got "${line}"`);
      return;
    }
    values[line.slice(0, eq).trim()] = raw.slice(raw.indexOf("=") + 1);
  });
  return { values, errors };
}

/** The planner options for the form's values (an empty .dockerignore is left out). */
export function toOptions(targets: string[], buildArgs: Record<string, string>, platform: string, dockerignore = ""): Options {
  const options: Options = { targets: [...targets], build_args: { ...buildArgs } };
  if (platform.trim() !== "") options.platform = platform.trim();
  if (dockerignore.trim() !== "") options.dockerignore = dockerignore;
  return options;
}

/** A word quoted for a POSIX shell when it needs quoting. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The planner and runner commands that make and perform the same plan. */
export function commandLines(options: Options): string {
  const words = ["planner", "plan", "Dockerfile"];
  for (const target of options.targets ?? []) words.push("--target", target);
  for (const [key, value] of Object.entries(options.build_args ?? {})) words.push("--build-arg", `${key}=${value}`);
  if (options.platform) words.push("--platform", options.platform);
  return `${words.map(shellQuote).join(" ")} > plan.json && runner plan.json --context .`;
}
