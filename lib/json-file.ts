// A whole JSON file on disk (stores, credentials): reading one back, with the caller deciding what
// a file that does not parse means (an error, or content set aside).
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** A missing file is no content (undefined); any other read error is thrown. */
function missingAsUndefined(err: any): undefined {
  if (err?.code === "ENOENT") return undefined;
  throw err;
}

/** The file's text parsed, or what `onCorrupt` makes of text that is not JSON. */
function parsed<T, C>(text: string, onCorrupt: (err: Error) => C): T | C {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    return onCorrupt(err as Error);
  }
}

/**
 * The parsed content of `file`, or undefined when it does not exist. Text that is not JSON goes to
 * `onCorrupt`, whose answer is returned (or which throws: never silently an empty state unless the
 * caller says so).
 */
export async function readJsonFile<T>(file: string, onCorrupt: (err: Error) => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return missingAsUndefined(err);
  }
  return parsed<T, T | undefined | Promise<T | undefined>>(text, onCorrupt);
}

/** readJsonFile(), read synchronously: for small files read on a hot path where a trip through libuv's file threads costs more than the read. */
export function readJsonFileSync<T>(file: string, onCorrupt: (err: Error) => T | undefined): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return missingAsUndefined(err);
  }
  return parsed<T, T | undefined>(text, onCorrupt);
}
