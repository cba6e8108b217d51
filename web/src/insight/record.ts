// Reading a build record (the runner's `--record FILE`, record JSON v1) in the browser.
//
// Input: the text of a record file. Output: the BuildRecord, or an error that says what is wrong
// and what to do.
// Invariant: a record of another version is refused with both versions named, never half-read.
import type { BuildRecord } from "../types/record-types";

/** The record version these pages read. */
export const RECORD_VERSION = 1;

/** Parses and checks a build record; throws an Error whose message names the problem and the fix. */
export function parseRecord(text: string): BuildRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`not a build record: the file is not JSON (${err instanceof Error ? err.message : String(err)}); pick the file \`runner build --record FILE\` wrote`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("not a build record: expected a JSON object; pick the file `runner build --record FILE` wrote");
  }
  const record = value as Partial<BuildRecord>;
  if (typeof record.version !== "number") {
    throw new Error("not a build record: it has no \"version\"; pick the file `runner build --record FILE` wrote (a plan JSON is not a record)");
  }
  if (record.version !== RECORD_VERSION) {
    throw new Error(`this build record is version ${record.version}; this page reads version ${RECORD_VERSION}: open it with a matching stageplan`);
  }
  if (!record.plan || !Array.isArray(record.plan.stages) || !Array.isArray(record.stages) || !Array.isArray(record.critical_path)) {
    throw new Error("not a build record: \"plan\", \"stages\" or \"critical_path\" is missing; pick the file `runner build --record FILE` wrote");
  }
  return record as BuildRecord;
}
